//! The notification outbox. Rows are written in the same transaction as the
//! incident change (see [`crate::signals::engine`]); here they are claimed —
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances never grab the same
//! row — sent, and marked delivered, retried with exponential backoff
//! (honouring `Retry-After`), or given up on when the target rejects them
//! for good (4xx other than 408/429) or attempts run out. A resolve is held
//! back until its trigger was delivered.

use std::time::Duration;

use sqlx::Row;

use super::{build, Action, Notice, NotifierConfig};
use crate::{
    signals::{store::load_incident, SignalsConfig},
    store::{on_pool, Db, StoreError},
};

/// Rows claimed per round.
const CLAIM: i64 = 10;

/// How long a claim protects a row being sent.
const CLAIM_MS: i64 = 60_000;

const DUE: &str = "o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= $1 AND o.claimed_until <= $1 \
    AND NOT (o.action = 'resolve' AND EXISTS (SELECT 1 FROM notify_outbox t WHERE t.incident_id = o.incident_id \
    AND t.notifier_id = o.notifier_id AND t.action = 'trigger' AND t.delivered_at IS NULL AND t.failed_at IS NULL))";

/// A claimed row.
#[derive(Debug)]
struct Claimed {
    id: i64,
    incident_id: i64,
    notifier_id: i64,
    action: String,
    attempts: i64,
}

/// What became of one attempt.
#[derive(Debug, PartialEq)]
enum Outcome {
    Delivered,
    Retry(Option<Duration>, String),
    Reject(String),
}

async fn claim(db: &Db, now: i64) -> Result<Vec<Claimed>, StoreError> {
    let sql = match db {
        Db::Postgres(_) => format!(
            "UPDATE notify_outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT o.id FROM notify_outbox o WHERE {DUE} ORDER BY o.id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, incident_id, notifier_id, action, attempts"
        ),
        // SQLite has one writer at a time: the UPDATE itself is the lock.
        Db::Sqlite(_) => format!(
            "UPDATE notify_outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT o.id FROM notify_outbox o WHERE {DUE} ORDER BY o.id LIMIT $3) \
             RETURNING id, incident_id, notifier_id, action, attempts"
        ),
    };
    let mut rows = on_pool!(db, pool => sqlx::query(&sql).bind(now).bind(now + CLAIM_MS).bind(CLAIM)
        .fetch_all(pool).await?.iter().map(|r| Ok(Claimed {
            id: r.try_get("id")?,
            incident_id: r.try_get("incident_id")?,
            notifier_id: r.try_get("notifier_id")?,
            action: r.try_get("action")?,
            attempts: r.try_get("attempts")?,
        })).collect::<Result<Vec<_>, sqlx::Error>>()?);
    rows.sort_by_key(|c| c.id);
    Ok(rows)
}

/// Deliver every due outbox row. Returns how many were delivered.
pub async fn deliver_due(
    db: &Db,
    cfg: &SignalsConfig,
    http: &reqwest::Client,
    now: i64,
) -> Result<usize, StoreError> {
    deliver_due_until(db, cfg, http, now, &|| false).await
}

/// [`deliver_due`] for a shutting-down instance: `stopping` is asked before
/// each attempt, and once it says yes the rows claimed but not yet attempted
/// are released (claim and attempt count undone), so the next instance —
/// or this one after a restart — sends them at once instead of waiting for
/// the claim to expire. The attempt in flight finishes first (bounded by
/// `request_timeout`), so a notification is never cut off half-sent.
pub async fn deliver_due_until(
    db: &Db,
    cfg: &SignalsConfig,
    http: &reqwest::Client,
    now: i64,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<usize, StoreError> {
    let mut delivered = 0;
    loop {
        if stopping() {
            return Ok(delivered);
        }
        let batch = claim(db, now).await?;
        if batch.is_empty() {
            return Ok(delivered);
        }
        for (k, c) in batch.iter().enumerate() {
            if stopping() {
                for left in &batch[k..] {
                    on_pool!(db, pool => { sqlx::query("UPDATE notify_outbox SET claimed_until = 0, attempts = attempts - 1 \
                                                        WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL")
                        .bind(left.id).execute(pool).await?; });
                }
                return Ok(delivered);
            }
            let outcome = attempt(db, cfg, http, c).await?;
            let now = crate::now_ms();
            match &outcome {
                Outcome::Delivered => {
                    delivered += 1;
                    on_pool!(db, pool => { sqlx::query("UPDATE notify_outbox SET delivered_at = $2, last_error = NULL WHERE id = $1")
                        .bind(c.id).bind(now).execute(pool).await?; });
                }
                Outcome::Retry(after, error) if (c.attempts as u32) < cfg.max_attempts => {
                    let wait = retry_wait(cfg, c.attempts as u32, *after);
                    tracing::warn!(outbox = c.id, attempts = c.attempts, %error, "notification not accepted; will retry");
                    on_pool!(db, pool => { sqlx::query("UPDATE notify_outbox SET next_attempt_at = $2, claimed_until = 0, last_error = $3 WHERE id = $1")
                        .bind(c.id).bind(now + wait.as_millis() as i64).bind(error).execute(pool).await?; });
                }
                Outcome::Retry(_, error) | Outcome::Reject(error) => {
                    tracing::error!(outbox = c.id, attempts = c.attempts, %error, "notification given up");
                    on_pool!(db, pool => { sqlx::query("UPDATE notify_outbox SET failed_at = $2, last_error = $3 WHERE id = $1")
                        .bind(c.id).bind(now).bind(error).execute(pool).await?; });
                }
            }
        }
    }
}

/// Delay before attempt `attempts + 1`: the exponential [`backoff`], or the
/// target's `Retry-After` when that is longer (it is a minimum: retrying
/// sooner would only be throttled again). `Retry-After` is honoured beyond
/// `max_backoff`, up to a day.
pub fn retry_wait(cfg: &SignalsConfig, attempts: u32, retry_after: Option<Duration>) -> Duration {
    const DAY: Duration = Duration::from_secs(24 * 3600);
    backoff(cfg, attempts).max(retry_after.unwrap_or_default().min(DAY))
}

/// Delay before attempt `attempts + 1`: `min_backoff · 2^(attempts−1)`.
pub fn backoff(cfg: &SignalsConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    cfg.min_backoff
        .saturating_mul(1 << exp)
        .min(cfg.max_backoff)
}

async fn attempt(
    db: &Db,
    cfg: &SignalsConfig,
    http: &reqwest::Client,
    c: &Claimed,
) -> Result<Outcome, StoreError> {
    let Some(action) = Action::parse(&c.action) else {
        return Ok(Outcome::Reject(format!("unknown action {}", c.action)));
    };
    let row = on_pool!(db, pool => sqlx::query("SELECT n.kind, n.config, s.site_key, n.site_id FROM notifiers n JOIN sites s ON s.id = n.site_id WHERE n.id = $1")
        .bind(c.notifier_id).fetch_optional(pool).await?
        .map(|r| -> Result<(String, String, i64), sqlx::Error> { Ok((r.try_get("config")?, r.try_get("site_key")?, r.try_get("site_id")?)) })
        .transpose()?);
    let Some((config, site_key, site_id)) = row else {
        return Ok(Outcome::Reject("notifier removed".into()));
    };
    let notifier: NotifierConfig = match serde_json::from_str(&config) {
        Ok(n) => n,
        Err(e) => return Ok(Outcome::Reject(format!("bad notifier config: {e}"))),
    };
    // A row that can't be decoded is given up on, not allowed to block the
    // rest of the outbox.
    let incident = match load_incident(db, site_id, c.incident_id).await {
        Ok(Some(i)) => i,
        Ok(None) => return Ok(Outcome::Reject("incident removed".into())),
        Err(StoreError::Corrupt(e)) => {
            return Ok(Outcome::Reject(format!("undecodable incident: {e}")))
        }
        Err(e) => return Err(e),
    };
    let notice = Notice {
        site_key: &site_key,
        incident: &incident,
        action,
        view_url: cfg.public_url.as_ref().map(|u| {
            format!(
                "{}/v1/admin/sites/{site_key}/incidents/view",
                u.trim_end_matches('/')
            )
        }),
        now: crate::now_ms(),
    };
    let d = build(cfg, &notifier, &notice);
    let mut req = http
        .post(&d.url)
        .header("content-type", "application/json")
        .body(d.body);
    for (k, v) in &d.headers {
        req = req.header(k, v);
    }
    Ok(match req.send().await {
        Ok(res) => classify(res.status().as_u16(), retry_after(&res)),
        // Without the URL: for Slack it is the credential.
        Err(e) => Outcome::Retry(None, e.without_url().to_string()),
    })
}

fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    res.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry(retry_after, format!("HTTP {status}")),
        _ => Outcome::Reject(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        assert_eq!(classify(202, None), Outcome::Delivered);
        assert!(
            matches!(classify(429, Some(Duration::from_secs(3))), Outcome::Retry(Some(d), _) if d.as_secs() == 3)
        );
        assert!(matches!(classify(503, None), Outcome::Retry(None, _)));
        assert!(matches!(classify(400, None), Outcome::Reject(_)));
        assert!(matches!(classify(404, None), Outcome::Reject(_)));
    }

    #[test]
    fn retry_after_is_a_minimum_in_seconds_or_as_a_date() {
        let cfg = SignalsConfig::default();
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        // Longer than our backoff: wait as asked, even past max_backoff.
        assert_eq!(
            retry_wait(&cfg, 1, Some(Duration::from_secs(7200))),
            Duration::from_secs(7200)
        );
        // Shorter (or zero): never below our own backoff, so a target saying
        // `Retry-After: 0` is not hammered.
        assert_eq!(
            retry_wait(&cfg, 3, Some(Duration::ZERO)),
            Duration::from_secs(8)
        );
        assert_eq!(
            retry_wait(&cfg, 1, Some(Duration::from_secs(10 * 24 * 3600))),
            Duration::from_secs(24 * 3600)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = SignalsConfig::default();
        assert_eq!(backoff(&cfg, 1), Duration::from_secs(2));
        assert_eq!(backoff(&cfg, 2), Duration::from_secs(4));
        assert_eq!(backoff(&cfg, 5), Duration::from_secs(32));
        assert_eq!(backoff(&cfg, 40), Duration::from_secs(3600));
    }
}

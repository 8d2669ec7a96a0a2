//! The signals engine: on the one instance holding the leader lease, roll up
//! every closed bucket of every site, run its detectors, open/update/resolve
//! incidents and queue notifications — all of one bucket in one transaction,
//! so a crash or a takeover neither loses nor repeats a bucket, an incident
//! or an outbox row. Then deliver the outbox (see [`crate::notify`]).
//!
//! A bucket is claimed by moving the site's `next_bucket` cursor with a
//! compare-and-set: even two instances that both believe they lead can't
//! process the same bucket twice.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use sqlx::Row;
use steadycart_protocol::Event;
use tokio::{sync::watch, task::JoinHandle};

use super::{
    config::SignalsConfig,
    detectors::SiteDetectors,
    incident::{summary, IncidentDetails, SurveyBrief, Totals, WindowBucket},
    rollup::{roll_bucket, BucketRollup},
    session::SessionState,
};
use crate::{
    detect::{attribution::EndpointWindow, Transition},
    store::{on_pool, Db, StoreError},
};

/// Name of the lease row the engine holds.
pub const LEASE: &str = "signals";

/// Most buckets one site rolls up per tick (catching up after downtime).
const MAX_BUCKETS_PER_TICK: usize = 120;

/// Try to take or renew the lease `name` for `holder` until `now + ttl`.
/// True when `holder` holds it.
pub async fn acquire_lease(
    db: &Db,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
        WHERE leases.holder = excluded.holder OR leases.expires_at < $4";
    let n = on_pool!(db, pool => sqlx::query(SQL).bind(name).bind(holder).bind(now + ttl_ms).bind(now)
        .execute(pool).await?.rows_affected());
    Ok(n == 1)
}

/// Give the lease up (clean shutdown), so another instance takes over at once.
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> Result<(), StoreError> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name).bind(holder).execute(pool).await?;
    });
    Ok(())
}

/// Roll up every closed bucket of every site (up to a per-tick cap).
/// Returns how many buckets were processed.
pub async fn roll_all(db: &Db, cfg: &SignalsConfig, now: i64) -> Result<usize, StoreError> {
    let sites: Vec<(i64, String)> = on_pool!(db, pool => sqlx::query("SELECT id, site_key FROM sites ORDER BY id")
        .fetch_all(pool).await?.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("site_key")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?);
    let mut done = 0;
    for (id, _) in sites {
        for _ in 0..MAX_BUCKETS_PER_TICK {
            if !process_bucket(db, cfg, id, now).await? {
                break;
            }
            done += 1;
        }
    }
    Ok(done)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Roll up the next closed bucket of `site_id`, if there is one. True when
/// a bucket was processed.
pub async fn process_bucket(
    db: &Db,
    cfg: &SignalsConfig,
    site_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let bms = cfg.bucket_ms();
    let settle = cfg.settle.as_millis() as i64;
    let timing = cfg.timing();
    let ids_sql = match db {
        Db::Sqlite(_) => "SELECT session_id, state FROM signal_sessions WHERE site_id = $1 \
                          AND (session_id IN (SELECT value FROM json_each($2)) OR due_at < $3)",
        Db::Postgres(_) => "SELECT session_id, state FROM signal_sessions WHERE site_id = $1 \
                            AND (session_id IN (SELECT jsonb_array_elements_text($2::jsonb)) OR due_at < $3)",
    };
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let progress = sqlx::query("SELECT next_bucket, detectors FROM signal_progress WHERE site_id = $1")
            .bind(site_id).fetch_optional(&mut *tx).await?;
        let Some(progress) = progress else {
            // A new site starts at the current bucket: history before the
            // engine first saw it is not replayed.
            sqlx::query("INSERT INTO signal_progress (site_id, next_bucket, detectors) VALUES ($1, $2, $3) ON CONFLICT (site_id) DO NOTHING")
                .bind(site_id).bind(now.div_euclid(bms) * bms).bind(json(&SiteDetectors::default()))
                .execute(&mut *tx).await?;
            tx.commit().await?;
            return Ok(false);
        };
        let start: i64 = progress.try_get("next_bucket")?;
        let end = start + bms;
        if end + settle > now {
            return Ok(false);
        }
        let mut det: SiteDetectors = serde_json::from_str(&progress.try_get::<String, _>("detectors")?).map_err(corrupt)?;

        let rows = sqlx::query("SELECT received_at, body FROM events WHERE site_id = $1 AND received_at >= $2 AND received_at < $3 ORDER BY received_at, seq")
            .bind(site_id).bind(start).bind(end).fetch_all(&mut *tx).await?;
        let mut events: Vec<(i64, Event)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let body: String = r.try_get("body")?;
            match serde_json::from_str::<Event>(&body) {
                Ok(e) => events.push((r.try_get("received_at")?, e)),
                Err(e) => tracing::warn!(site_id, error = %e, "skipping undecodable event"),
            }
        }
        let mut ids: Vec<&str> = events.iter().map(|(_, e)| e.session.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut sessions: HashMap<String, SessionState> = HashMap::new();
        for r in sqlx::query(ids_sql).bind(site_id).bind(json(&ids)).bind(end).fetch_all(&mut *tx).await? {
            let state: String = r.try_get("state")?;
            sessions.insert(r.try_get("session_id")?, serde_json::from_str(&state).map_err(corrupt)?);
        }

        let (rollup, touched) = roll_bucket(&mut sessions, &events, start, end, &timing);
        // The site's own tuning over the collector-wide defaults.
        let overrides: Option<String> = sqlx::query("SELECT overrides FROM site_detector WHERE site_id = $1")
            .bind(site_id).fetch_optional(&mut *tx).await?
            .map(|r| r.try_get("overrides")).transpose()?;
        let params = crate::store::detector::parse(site_id, overrides)?.apply(&cfg.detector);
        let steps = det.observe(&params, &rollup);

        for id in &touched {
            let s = &sessions[id];
            sqlx::query("INSERT INTO signal_sessions (site_id, session_id, last_seen, due_at, state) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (site_id, session_id) DO UPDATE SET last_seen = excluded.last_seen, due_at = excluded.due_at, state = excluded.state")
                .bind(site_id).bind(id).bind(s.last_seen).bind(s.due_at(&timing)).bind(json(s))
                .execute(&mut *tx).await?;
        }
        write_rollup(&rollup, site_id, bms).bind_all(&mut tx).await?;

        for s in &steps {
            let firing = det.series[&s.series].firing;
            let open_id: Option<i64> = sqlx::query("SELECT id FROM incidents WHERE site_id = $1 AND series = $2 AND status = 'open'")
                .bind(site_id).bind(&s.series).fetch_optional(&mut *tx).await?
                .map(|r| r.try_get("id")).transpose()?;
            let since = match (s.step.transition, firing) {
                (Some(Transition::Open { since, .. }), _) => since,
                (_, Some(f)) => f.since,
                (Some(Transition::Resolve { .. }), None) => match open_id {
                    Some(id) => sqlx::query("SELECT since FROM incidents WHERE id = $1").bind(id)
                        .fetch_one(&mut *tx).await?.try_get("since")?,
                    None => continue,
                },
                (None, None) => continue,
            };
            // Evidence over the incident's buckets so far (this one included).
            let mut window = Vec::new();
            for r in sqlx::query("SELECT abandonments, abandon_after_trouble, completions, calls, errors, stalls, causes, samples \
                                  FROM signal_buckets WHERE site_id = $1 AND bucket_start >= $2 AND bucket_start < $3 ORDER BY bucket_start")
                .bind(site_id).bind(since).bind(end).fetch_all(&mut *tx).await? {
                window.push(WindowBucket {
                    totals: Totals {
                        abandonments: r.try_get::<i64, _>("abandonments")? as u64,
                        abandon_after_trouble: r.try_get::<i64, _>("abandon_after_trouble")? as u64,
                        completions: r.try_get::<i64, _>("completions")? as u64,
                        calls: r.try_get::<i64, _>("calls")? as u64,
                        errors: r.try_get::<i64, _>("errors")? as u64,
                        stalls: r.try_get::<i64, _>("stalls")? as u64,
                    },
                    causes: serde_json::from_str(&r.try_get::<String, _>("causes")?).map_err(corrupt)?,
                    samples: serde_json::from_str(&r.try_get::<String, _>("samples")?).map_err(corrupt)?,
                });
            }
            let mut endpoints: BTreeMap<String, EndpointWindow> = BTreeMap::new();
            for r in sqlx::query("SELECT key, calls, errors, stalls, statuses FROM signal_dims \
                                  WHERE site_id = $1 AND dim = 'endpoint' AND bucket_start >= $2 AND bucket_start < $3")
                .bind(site_id).bind(since).bind(end).fetch_all(&mut *tx).await? {
                let w = endpoints.entry(r.try_get("key")?).or_default();
                w.calls += r.try_get::<i64, _>("calls")? as u64;
                w.errors += r.try_get::<i64, _>("errors")? as u64;
                w.stalls += r.try_get::<i64, _>("stalls")? as u64;
                let st: BTreeMap<String, u64> = serde_json::from_str(&r.try_get::<String, _>("statuses")?).map_err(corrupt)?;
                for (k, v) in st {
                    *w.statuses.entry(k).or_default() += v;
                }
            }
            let mut details = IncidentDetails::build(&window, &endpoints, |e| det.endpoint_rate(e));
            // Exit-survey answers given during the incident (emails never).
            let mut choices: BTreeMap<String, u64> = BTreeMap::new();
            for r in sqlx::query("SELECT session_id, received_at, choice, free_text, rating, last_status FROM survey_answers \
                                  WHERE site_id = $1 AND received_at >= $2 AND received_at < $3 ORDER BY received_at DESC, id DESC")
                .bind(site_id).bind(since).bind(end).fetch_all(&mut *tx).await? {
                let choice: Option<String> = r.try_get("choice")?;
                details.survey.answered += 1;
                if let Some(c) = &choice {
                    *choices.entry(c.clone()).or_default() += 1;
                }
                if details.survey.latest.len() < 10 {
                    details.survey.latest.push(SurveyBrief {
                        session: r.try_get("session_id")?,
                        at: r.try_get("received_at")?,
                        choice,
                        free_text: r.try_get("free_text")?,
                        rating: r.try_get::<Option<i64>, _>("rating")?,
                        last_status: r.try_get::<Option<i64>, _>("last_status")?,
                    });
                }
            }
            let mut choices: Vec<(String, u64)> = choices.into_iter().collect();
            choices.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            details.survey.choices = choices;
            match (s.step.transition, open_id) {
                (Some(Transition::Open { since, baseline, observed, ratio }), None) => {
                    let text = summary(&s.series, ratio, since, &details);
                    let id: i64 = sqlx::query("INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, baseline, observed, peak_ratio, summary, details) \
                                               VALUES ($1, $2, 'open', $3, $4, $4, $5, $6, $7, $8, $9) RETURNING id")
                        .bind(site_id).bind(&s.series).bind(since).bind(end).bind(baseline).bind(observed).bind(ratio)
                        .bind(&text).bind(json(&details)).fetch_one(&mut *tx).await?.try_get("id")?;
                    tracing::warn!(site_id, incident = id, series = %s.series, "incident opened: {text}");
                    enqueue(&mut tx, site_id, id, "trigger", end).await?;
                }
                (Some(Transition::Resolve { ended, peak_ratio }), Some(id)) => {
                    sqlx::query("UPDATE incidents SET status = 'resolved', ended = $2, resolved_at = $3, updated_at = $3, peak_ratio = $4, details = $5 WHERE id = $1")
                        .bind(id).bind(ended).bind(end).bind(peak_ratio).bind(json(&details)).execute(&mut *tx).await?;
                    tracing::info!(site_id, incident = id, series = %s.series, "incident resolved");
                    enqueue(&mut tx, site_id, id, "resolve", end).await?;
                }
                (None, Some(id)) => {
                    let peak = firing.map_or(0.0, |f| f.peak_ratio);
                    let text = summary(&s.series, peak, since, &details);
                    sqlx::query("UPDATE incidents SET updated_at = $2, observed = $3, peak_ratio = $4, summary = $5, details = $6 WHERE id = $1")
                        .bind(id).bind(end).bind(s.step.observed).bind(peak).bind(&text).bind(json(&details))
                        .execute(&mut *tx).await?;
                }
                _ => {}
            }
        }

        // Claim the bucket: only the instance that moves the cursor commits.
        let moved = sqlx::query("UPDATE signal_progress SET next_bucket = $3, detectors = $4 WHERE site_id = $1 AND next_bucket = $2")
            .bind(site_id).bind(start).bind(end).bind(json(&det)).execute(&mut *tx).await?.rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        // Sessions that can no longer change a count.
        sqlx::query("DELETE FROM signal_sessions WHERE site_id = $1 AND due_at IS NULL AND last_seen < $2")
            .bind(site_id).bind(end - timing.inactivity_ms).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Queue `action` of incident `incident_id` for every notifier of the site.
async fn enqueue<'c, DB: sqlx::Database>(
    tx: &mut sqlx::Transaction<'c, DB>,
    site_id: i64,
    incident_id: i64,
    action: &str,
    now: i64,
) -> Result<(), StoreError>
where
    for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>("INSERT INTO notify_outbox (site_id, incident_id, notifier_id, action, created_at, next_attempt_at) \
                 SELECT site_id, $2, id, $3, $4, $4 FROM notifiers WHERE site_id = $1 \
                 ON CONFLICT (incident_id, notifier_id, action) DO NOTHING")
        .bind(site_id).bind(incident_id).bind(action).bind(now)
        .execute(&mut **tx).await?;
    Ok(())
}

/// The rows of one rollup, written inside the bucket's transaction.
struct RollupRows<'a> {
    r: &'a BucketRollup,
    site_id: i64,
    bucket_ms: i64,
}

fn write_rollup(r: &BucketRollup, site_id: i64, bucket_ms: i64) -> RollupRows<'_> {
    RollupRows {
        r,
        site_id,
        bucket_ms,
    }
}

impl RollupRows<'_> {
    async fn bind_all<'c, DB: sqlx::Database>(
        self,
        tx: &mut sqlx::Transaction<'c, DB>,
    ) -> Result<(), StoreError>
    where
        for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
        for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let r = self.r;
        sqlx::query::<DB>("INSERT INTO signal_buckets (site_id, bucket_start, bucket_ms, sessions, checkout_starts, completions, abandonments, \
                     abandon_after_trouble, calls, errors, stalls, causes, samples) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
            .bind(self.site_id).bind(r.bucket_start).bind(self.bucket_ms)
            .bind(r.sessions as i64).bind(r.checkout_starts as i64).bind(r.completions as i64).bind(r.abandonments as i64)
            .bind(r.abandon_after_trouble as i64).bind(r.calls as i64).bind(r.errors as i64).bind(r.stalls as i64)
            .bind(json(&r.causes)).bind(json(&r.samples))
            .execute(&mut **tx).await?;
        for (dim, map) in [("endpoint", &r.endpoints), ("sku", &r.skus)] {
            for (key, d) in map {
                sqlx::query::<DB>("INSERT INTO signal_dims (site_id, dim, key, bucket_start, calls, errors, stalls, p50_ms, p95_ms, statuses) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(self.site_id).bind(dim).bind(key.as_str()).bind(r.bucket_start)
                    .bind(d.calls as i64).bind(d.errors as i64).bind(d.stalls as i64)
                    .bind(d.p50_ms.map(i64::from)).bind(d.p95_ms.map(i64::from)).bind(json(&d.statuses))
                    .execute(&mut **tx).await?;
            }
        }
        Ok(())
    }
}

/// Delete raw events older than the retention (rollups stay). The hourly
/// sweep of [`crate::retention`] does this and more on every instance.
pub async fn prune_events(db: &Db, cfg: &SignalsConfig, now: i64) -> Result<u64, StoreError> {
    let cutoff = now - cfg.event_retention.as_millis() as i64;
    Ok(
        on_pool!(db, pool => sqlx::query("DELETE FROM events WHERE received_at < $1")
        .bind(cutoff).execute(pool).await?.rows_affected()),
    )
}

/// The running engine. Dropping it stops the task; [`Engine::stop`] also
/// waits for it and hands the lease over.
#[must_use = "the engine stops when dropped"]
#[derive(Debug)]
pub struct Engine {
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
    /// How long [`Engine::stop`] waits: a send in flight may take up to the
    /// request timeout.
    grace: Duration,
}

impl Engine {
    /// Start the engine loop as instance `holder`.
    pub fn spawn(db: Db, cfg: SignalsConfig, holder: String) -> Engine {
        let (stop, mut stopped) = watch::channel(false);
        let grace = cfg.request_timeout + Duration::from_secs(5);
        let handle = tokio::spawn(async move {
            let ttl = cfg.lease_ttl.as_millis() as i64;
            let http = crate::notify::client(&cfg);
            let mut leading = false;
            loop {
                let now = crate::now_ms();
                match acquire_lease(&db, LEASE, &holder, now, ttl).await {
                    Ok(true) => {
                        if !leading {
                            tracing::info!(%holder, "signals leader");
                        }
                        leading = true;
                        if let Err(e) = roll_all(&db, &cfg, now).await {
                            tracing::error!(error = %e, "signal rollup failed");
                        }
                        // On shutdown: the send in flight finishes, the rest
                        // of the claimed rows are handed back at once.
                        let stopping = || *stopped.borrow();
                        if let Err(e) = crate::notify::outbox::deliver_due_until(
                            &db,
                            &cfg,
                            &http,
                            crate::now_ms(),
                            &stopping,
                        )
                        .await
                        {
                            tracing::error!(error = %e, "notification delivery failed");
                        }
                    }
                    Ok(false) => leading = false,
                    Err(e) => {
                        leading = false;
                        tracing::warn!(error = %e, "leader lease check failed");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(cfg.tick) => {}
                    _ = stopped.changed() => break,
                }
            }
            if leading {
                let _ = release_lease(&db, LEASE, &holder).await;
            }
        });
        Engine {
            stop,
            handle: Some(handle),
            grace,
        }
    }

    /// Stop the loop, release the lease and wait (at most the request
    /// timeout and 5 s: the notification being sent finishes, claimed rows
    /// not yet sent are handed back).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(self.grace, h).await;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

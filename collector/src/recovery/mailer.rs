//! The recovery mailer: claims due rows of `recovery_outbox` (written by
//! the event writer with the survey answer, see
//! [`crate::store::recovery`]) — `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
//! several collector instances never claim the same row — renders the
//! site's template and sends it over SMTP with lettre, or writes it as an
//! `.eml` file when no SMTP server is configured.
//!
//! A row is due `delay` after the answer. Before sending, the mailer
//! re-checks what may have changed: the session completed checkout, the
//! address unsubscribed, the contact got an email within `period`, or
//! (with `wait_for_resolution`) the site still has an open incident. An
//! email queued by `Steadycart.identify` (consent given before anything
//! went wrong) waits for trouble in its session and goes out `delay` after
//! it; a session that ended without trouble cancels it. The email is in the
//! shopper's language (recorded per session at ingest from
//! `Accept-Language`) when the site has emails in it, else the site's.
//! What a failed send does depends on whose fault it is (see
//! [`super::smtp::classify`]):
//! - temporary (unreachable server, 4xx, no answer in time): retried with
//!   exponential backoff up to `max_attempts`, then `failed`;
//! - the shop's SMTP configuration (refused credentials, TLS, no STARTTLS,
//!   the sender refused by policy): the email is *held* — it stays
//!   `queued` with its error stored as `smtp_config: …`, is retried with
//!   the backoff (capped at `max_backoff`) however many attempts it took,
//!   and is tried at once when a mailer starts (after the operator fixed
//!   the settings); only after `config_fault_hold` since it was queued is
//!   it `failed`. While the fault lasts the mailer pauses (one failed
//!   login per backoff step, not one per email), logs an error, and the
//!   held emails are counted in `GET /metrics` and `/readyz`;
//! - the recipient's address refused (550/551/553, `X.1.x`): `failed`, and
//!   the contact `bounced` (suppressed from later emails), never retried;
//! - any other permanent refusal: `failed`, the contact untouched.
//!
//! Error text is stored and logged with addresses scrubbed.
//!
//! On shutdown the email being sent finishes (bounded by `smtp_timeout`)
//! and the rows claimed but not yet attempted are handed back (claim and
//! attempt undone), so another instance or the next start sends them at
//! once instead of after the claim expires.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicI64, AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use lettre::{
    message::{
        header::{HeaderName, HeaderValue},
        Mailbox, MultiPart,
    },
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::Row;
use steadycart_protocol::cart::CartItem;
use tokio::{sync::watch, task::JoinHandle};

use super::{
    config::RecoveryConfig,
    headers::{list_unsubscribe, message_id, LIST_UNSUBSCRIBE_POST},
    settings::SiteSettings,
    smtp::{Failure, CONFIG_FAULT},
    template::{CartLine, EmailContext, Locale},
    token::{Claims, Purpose, TokenSigner},
};
use crate::store::{on_pool, Db, StoreError};

/// Rows claimed per round.
const CLAIM: i64 = 10;

/// A session with no event for this long is over (the snippet starts a new
/// one after 30 minutes without activity).
const SESSION_IDLE_MS: i64 = 30 * 60_000;

/// How often an identify email whose session has had no trouble yet looks
/// again (at most; never more often than the mailer ticks).
const TROUBLE_RECHECK: Duration = Duration::from_secs(300);

/// Why the mailer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The SMTP settings are not usable (URL, CA file).
    #[error(transparent)]
    Smtp(#[from] super::smtp::TransportError),
    /// The database failed (loading the signing secret).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where emails go.
#[derive(Clone)]
enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// The directory `.eml` files are written to.
pub fn mail_dir(cfg: &RecoveryConfig, data_dir: &std::path::Path) -> PathBuf {
    cfg.mail_dir
        .as_ref()
        .map_or_else(|| data_dir.join("recovery-mail"), PathBuf::from)
}

/// The `.eml` file of outbox row `outbox_id` of `site_id`.
pub fn eml_path(dir: &std::path::Path, site_id: i64, outbox_id: i64) -> PathBuf {
    dir.join(format!("recovery-{site_id}-{outbox_id}.eml"))
}

/// The signer of recovery and unsubscribe links: the configured secret, or
/// the database's.
pub async fn signer(db: &Db, cfg: &RecoveryConfig) -> Result<TokenSigner, StoreError> {
    Ok(match &cfg.token_secret {
        Some(s) if !s.is_empty() => TokenSigner::new(s.as_bytes().to_vec()),
        _ => TokenSigner::new(db.recovery_secret(crate::now_ms()).await?),
    })
}

/// Replace every word containing `@` (addresses, as SMTP replies echo
/// them) so error text can be stored and logged.
pub fn scrub(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains('@') { "[address]" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(500)
        .collect()
}

/// `HH:MM UTC` of a ms timestamp.
pub fn clock_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// What became of one row.
#[derive(Debug, PartialEq)]
enum Outcome {
    Sent(String),
    /// Temporary: retried up to `max_attempts`.
    Retry(String),
    /// The shop's SMTP configuration: held until fixed.
    Held(String),
    /// The recipient's address refused: the contact bounced.
    Bounce(String),
    /// Refused for good, not the address's fault.
    Reject(String),
    Cancel(&'static str),
    Postpone(Duration, &'static str),
}

#[derive(Debug)]
struct Claimed {
    id: i64,
    site_id: i64,
    contact_id: i64,
    session_id: String,
    attempts: i64,
    /// When the row was queued (ms).
    created_at: i64,
    /// `survey` or `identify` (see migration 0011).
    source: String,
}

/// Sends due recovery emails.
#[derive(Clone)]
pub struct Mailer {
    db: Db,
    cfg: RecoveryConfig,
    delivery: Delivery,
    signer: TokenSigner,
    public_url: String,
    /// No attempt before this time (ms): set by an SMTP configuration
    /// fault, so a wrong password costs one refused login per backoff step
    /// instead of one per queued email. Shared by clones.
    paused_until: Arc<AtomicI64>,
    /// Configuration faults in a row (the pause's backoff step).
    fault_streak: Arc<AtomicU32>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("cfg", &self.cfg)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer on `db`; unsubscribe links start with `public_url`. Emails
    /// held by an SMTP configuration fault become due at once: the
    /// settings may have been fixed since.
    pub async fn new(
        db: Db,
        cfg: RecoveryConfig,
        data_dir: &std::path::Path,
        public_url: String,
    ) -> Result<Mailer, MailerError> {
        let delivery = match &cfg.smtp_url {
            Some(url) if !url.is_empty() => Delivery::Smtp(super::smtp::transport(&cfg, url)?),
            _ => Delivery::Files(mail_dir(&cfg, data_dir)),
        };
        let signer = signer(&db, &cfg).await?;
        let held = db.recovery_retry_held().await?;
        if held > 0 {
            tracing::info!(
                held,
                "recovery emails held by an SMTP configuration fault are tried again now"
            );
        }
        Ok(Mailer {
            db,
            cfg,
            delivery,
            signer,
            public_url: public_url.trim_end_matches('/').to_string(),
            paused_until: Arc::default(),
            fault_streak: Arc::default(),
        })
    }

    async fn claim(&self, now: i64) -> Result<Vec<Claimed>, StoreError> {
        const DUE: &str = "o.status = 'queued' AND o.next_attempt_at <= $1 AND o.created_at <= $4 AND o.claimed_until <= $1";
        let lock = match self.db {
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            // SQLite has one writer at a time: the UPDATE itself is the lock.
            Db::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE recovery_outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT o.id FROM recovery_outbox o WHERE {DUE} ORDER BY o.id LIMIT $3{lock}) \
             RETURNING id, site_id, contact_id, session_id, attempts, created_at, source"
        );
        let hold = (self.cfg.smtp_timeout * 2).as_millis() as i64 + 30_000;
        let due_before = now - self.cfg.delay.as_millis() as i64;
        let mut rows = on_pool!(&self.db, pool => sqlx::query(&sql).bind(now).bind(now + hold).bind(CLAIM).bind(due_before)
            .fetch_all(pool).await?.iter().map(|r| Ok(Claimed {
                id: r.try_get("id")?,
                site_id: r.try_get("site_id")?,
                contact_id: r.try_get("contact_id")?,
                session_id: r.try_get("session_id")?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
                source: r.try_get("source")?,
            })).collect::<Result<Vec<_>, sqlx::Error>>()?);
        rows.sort_by_key(|c| c.id);
        Ok(rows)
    }

    /// Send every due email. Returns how many were sent.
    pub async fn deliver_due(&self, now: i64) -> Result<usize, StoreError> {
        self.deliver_due_until(now, &|| false).await
    }

    /// [`Mailer::deliver_due`] for a shutting-down instance: `stopping` is
    /// asked before each attempt, and once it says yes the rows claimed but
    /// not yet attempted are released (claim and attempt count undone).
    /// The attempt in flight finishes first, so an email is never cut off
    /// half-sent, nor left claimed for the claim's 90 s.
    pub async fn deliver_due_until(
        &self,
        now: i64,
        stopping: &(dyn Fn() -> bool + Sync),
    ) -> Result<usize, StoreError> {
        let mut sent = 0;
        loop {
            if stopping() || now < self.paused_until.load(Ordering::Relaxed) {
                return Ok(sent);
            }
            let batch = self.claim(now).await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            for (k, c) in batch.iter().enumerate() {
                if stopping() {
                    self.release(&batch[k..]).await?;
                    return Ok(sent);
                }
                let outcome = self.attempt(c, now).await?;
                let fault = matches!(outcome, Outcome::Held(_));
                match outcome {
                    Outcome::Sent(_) => {
                        sent += 1;
                        self.fault_streak.store(0, Ordering::Relaxed);
                    }
                    Outcome::Held(_) => self.pause(now),
                    _ => {}
                }
                self.record(c, outcome, now).await?;
                if fault {
                    // Every other email would fail the same way.
                    self.release(&batch[k + 1..]).await?;
                    return Ok(sent);
                }
            }
        }
    }

    /// Pause after an SMTP configuration fault: the next attempt (of any
    /// email) after the backoff of the faults in a row.
    fn pause(&self, at: i64) {
        let streak = self.fault_streak.fetch_add(1, Ordering::Relaxed) + 1;
        let until = crate::now_ms().max(at) + self.cfg.backoff(streak).as_millis() as i64;
        self.paused_until.store(until, Ordering::Relaxed);
    }

    /// Hand claimed rows back untried: due again at once for any instance.
    async fn release(&self, rows: &[Claimed]) -> Result<(), StoreError> {
        for c in rows {
            on_pool!(&self.db, pool => { sqlx::query("UPDATE recovery_outbox SET claimed_until = 0, attempts = attempts - 1 \
                                                      WHERE id = $1 AND status = 'queued'")
                .bind(c.id).execute(pool).await?; });
        }
        if !rows.is_empty() {
            tracing::info!(released = rows.len(), "recovery emails handed back");
        }
        Ok(())
    }

    /// Store what became of `c`. A retry or postponement is due after the
    /// caller's clock `at` (never before the real clock), so one
    /// [`Mailer::deliver_due`] round never claims the same row twice.
    async fn record(&self, c: &Claimed, outcome: Outcome, at: i64) -> Result<(), StoreError> {
        let now = crate::now_ms();
        let later = |d: Duration| now.max(at) + d.as_millis() as i64;
        let db = &self.db;
        let held = matches!(outcome, Outcome::Held(_));
        match outcome {
            Outcome::Sent(mid) => {
                tracing::info!(outbox = c.id, site_id = c.site_id, "recovery email sent");
                on_pool!(db, pool => {
                    let mut tx = pool.begin().await?;
                    sqlx::query("UPDATE recovery_outbox SET status = 'sent', done_at = $2, message_id = $3, last_error = NULL WHERE id = $1")
                        .bind(c.id).bind(now).bind(&mid).execute(&mut *tx).await?;
                    sqlx::query("UPDATE recovery_contacts SET last_emailed_at = $2, updated_at = $2, \
                                 status = CASE WHEN status = 'recovered' THEN status ELSE 'emailed' END WHERE id = $1")
                        .bind(c.contact_id).bind(now).execute(&mut *tx).await?;
                    tx.commit().await?;
                });
            }
            Outcome::Retry(error) if (c.attempts as u32) < self.cfg.max_attempts => {
                let wait = self.cfg.backoff(c.attempts as u32);
                tracing::warn!(outbox = c.id, attempts = c.attempts, error = %error, "recovery email not sent; will retry");
                on_pool!(db, pool => { sqlx::query("UPDATE recovery_outbox SET next_attempt_at = $2, claimed_until = 0, last_error = $3 WHERE id = $1")
                    .bind(c.id).bind(later(wait)).bind(&error).execute(pool).await?; });
            }
            Outcome::Held(error)
                if now.max(at) - c.created_at < self.cfg.config_fault_hold.as_millis() as i64 =>
            {
                let wait = self.cfg.backoff(c.attempts as u32);
                tracing::error!(outbox = c.id, site_id = c.site_id, attempts = c.attempts, retry_in_s = wait.as_secs(), error = %error,
                    "recovery email held by an SMTP configuration fault, not the shopper's address: fix the SMTP settings; will retry, and at once on restart");
                on_pool!(db, pool => { sqlx::query("UPDATE recovery_outbox SET next_attempt_at = $2, claimed_until = 0, last_error = $3 WHERE id = $1")
                    .bind(c.id).bind(later(wait)).bind(format!("{CONFIG_FAULT}: {error}")).execute(pool).await?; });
            }
            Outcome::Bounce(error) => {
                tracing::warn!(outbox = c.id, error = %error, "recovery email given up: the address was refused (bounced), no more emails to it");
                on_pool!(db, pool => {
                    let mut tx = pool.begin().await?;
                    sqlx::query("UPDATE recovery_outbox SET status = 'failed', done_at = $2, last_error = $3 WHERE id = $1")
                        .bind(c.id).bind(now).bind(&error).execute(&mut *tx).await?;
                    sqlx::query("UPDATE recovery_contacts SET status = 'bounced', updated_at = $2 WHERE id = $1 AND status = 'pending'")
                        .bind(c.contact_id).bind(now).execute(&mut *tx).await?;
                    tx.commit().await?;
                });
            }
            Outcome::Retry(error) | Outcome::Reject(error) | Outcome::Held(error) => {
                // Not the address's fault: the contact stays as it is.
                let error = if held {
                    format!("{CONFIG_FAULT}: held longer than config_fault_hold: {error}")
                } else {
                    error
                };
                tracing::error!(outbox = c.id, attempts = c.attempts, error = %error, "recovery email given up");
                on_pool!(db, pool => { sqlx::query("UPDATE recovery_outbox SET status = 'failed', done_at = $2, last_error = $3 WHERE id = $1")
                    .bind(c.id).bind(now).bind(&error).execute(pool).await?; });
            }
            Outcome::Cancel(why) => {
                tracing::info!(outbox = c.id, why, "recovery email cancelled");
                on_pool!(db, pool => { sqlx::query("UPDATE recovery_outbox SET status = 'cancelled', done_at = $2, last_error = $3 WHERE id = $1")
                    .bind(c.id).bind(now).bind(why).execute(pool).await?; });
            }
            Outcome::Postpone(after, why) => {
                // Not a failed attempt: give the attempt back.
                on_pool!(db, pool => { sqlx::query("UPDATE recovery_outbox SET next_attempt_at = $2, claimed_until = 0, attempts = attempts - 1, last_error = $3 WHERE id = $1")
                    .bind(c.id).bind(later(after)).bind(why).execute(pool).await?; });
            }
        }
        Ok(())
    }

    /// When the session of an identify email first ran into trouble:
    /// `Ok(t)`, or `Err(still_open)` when it has not (yet).
    async fn session_trouble(&self, c: &Claimed, at: i64) -> Result<Result<i64, bool>, StoreError> {
        let [t1, t2, t3, t4] = crate::store::recovery::TROUBLE_LIKE;
        let (first_trouble, last_seen): (Option<i64>, Option<i64>) = on_pool!(&self.db, pool => sqlx::query_as(
            "SELECT MIN(CASE WHEN kind = 'call' AND (body LIKE $3 OR body LIKE $4 OR body LIKE $5 OR body LIKE $6) \
             THEN received_at END), MAX(received_at) FROM events WHERE site_id = $1 AND session_id = $2")
            .bind(c.site_id).bind(&c.session_id).bind(t1).bind(t2).bind(t3).bind(t4)
            .fetch_one(pool).await?);
        Ok(match first_trouble {
            Some(t) => Ok(t),
            None => Err(last_seen.is_some_and(|l| at - l < SESSION_IDLE_MS)),
        })
    }

    /// Try to send claimed row `c`; `at` is the caller's clock.
    async fn attempt(&self, c: &Claimed, at: i64) -> Result<Outcome, StoreError> {
        let now = crate::now_ms();
        let db = &self.db;
        let contact = on_pool!(db, pool => sqlx::query("SELECT c.email, c.trouble_at, c.last_emailed_at, s.name AS site_name, \
                 (SELECT settings FROM recovery_settings r WHERE r.site_id = c.site_id) AS settings \
                 FROM recovery_contacts c JOIN sites s ON s.id = c.site_id WHERE c.id = $1")
            .bind(c.contact_id).fetch_optional(pool).await?
            .map(|r| -> Result<(String, i64, Option<i64>, Option<String>), sqlx::Error> {
                Ok((r.try_get("email")?, r.try_get("trouble_at")?, r.try_get("last_emailed_at")?, r.try_get("settings")?))
            }).transpose()?);
        let Some((email, trouble_at, last_emailed_at, settings)) = contact else {
            return Ok(Outcome::Cancel("contact removed"));
        };
        let Some(settings) = settings.and_then(|s| serde_json::from_str::<SiteSettings>(&s).ok())
        else {
            return Ok(Outcome::Postpone(
                self.cfg.max_backoff,
                "site has no recovery settings",
            ));
        };
        if !settings.enabled {
            return Ok(Outcome::Cancel("recovery emails disabled for the site"));
        }
        let completed = on_pool!(db, pool => sqlx::query("SELECT 1 AS x FROM events WHERE site_id = $1 AND session_id = $2 AND kind = 'checkout_completed' LIMIT 1")
            .bind(c.site_id).bind(&c.session_id).fetch_optional(pool).await?.is_some());
        if completed {
            return Ok(Outcome::Cancel("checkout completed"));
        }
        if db.recovery_is_suppressed(c.site_id, &email).await? {
            return Ok(Outcome::Cancel("unsubscribed"));
        }
        // An identify gave consent up front: email only a session that ran
        // into trouble, `delay` after the trouble.
        let mut trouble_at = trouble_at;
        if c.source == "identify" {
            match self.session_trouble(c, at).await? {
                Ok(t) => {
                    let due = t + self.cfg.delay.as_millis() as i64;
                    if due > at {
                        return Ok(Outcome::Postpone(
                            Duration::from_millis((due - at) as u64),
                            "waiting for the delay after the trouble",
                        ));
                    }
                    trouble_at = t;
                }
                Err(true) => {
                    return Ok(Outcome::Postpone(
                        TROUBLE_RECHECK.min(self.cfg.delay).max(self.cfg.tick),
                        "no trouble in the session yet",
                    ))
                }
                Err(false) => return Ok(Outcome::Cancel("no trouble in the session")),
            }
        }
        if last_emailed_at.is_some_and(|t| now - t < self.cfg.period.as_millis() as i64) {
            return Ok(Outcome::Cancel("already emailed within the period"));
        }
        if self.cfg.wait_for_resolution {
            let open = on_pool!(db, pool => sqlx::query("SELECT 1 AS x FROM incidents WHERE site_id = $1 AND status = 'open' LIMIT 1")
                .bind(c.site_id).fetch_optional(pool).await?.is_some());
            if open {
                return Ok(Outcome::Postpone(
                    self.cfg.tick.max(Duration::from_millis(200)) * 5,
                    "waiting for the incident to resolve",
                ));
            }
        }
        let cart = on_pool!(db, pool => sqlx::query("SELECT items, currency FROM session_carts WHERE site_id = $1 AND session_id = $2")
            .bind(c.site_id).bind(&c.session_id).fetch_optional(pool).await?
            .map(|r| -> Result<(String, Option<String>), sqlx::Error> { Ok((r.try_get("items")?, r.try_get("currency")?)) })
            .transpose()?);
        let (items, currency) = match cart {
            Some((items, currency)) => (
                serde_json::from_str::<Vec<CartItem>>(&items).unwrap_or_default(),
                currency,
            ),
            None => (Vec::new(), None),
        };
        let recover = self.signer.sign(&Claims {
            purpose: Purpose::Recover,
            site_id: c.site_id,
            contact_id: c.contact_id,
            expires_ms: Some(now + self.cfg.link_ttl.as_millis() as i64),
        });
        let unsubscribe = self.signer.sign(&Claims {
            purpose: Purpose::Unsubscribe,
            site_id: c.site_id,
            contact_id: c.contact_id,
            expires_ms: None,
        });
        let unsubscribe_url = format!("{}/v1/unsubscribe/{unsubscribe}", self.public_url);
        let ctx = EmailContext {
            shop_name: settings.shop_name.clone(),
            trouble_time: clock_utc(trouble_at),
            cart: items
                .iter()
                .map(|i| CartLine {
                    name: i
                        .name
                        .clone()
                        .or_else(|| i.sku.clone())
                        .unwrap_or_else(|| "item".into()),
                    quantity: i.qty,
                    unit_price_minor: i.unit_price_minor,
                })
                .collect(),
            currency,
            recovery_url: settings.recovery_link(&recover),
            unsubscribe_url: unsubscribe_url.clone(),
            postal_address: settings.postal_address.clone(),
        };
        // The shopper's language when it was recorded and we have emails
        // in it; the site's otherwise.
        let shopper = on_pool!(db, pool => sqlx::query("SELECT locale FROM session_locales WHERE site_id = $1 AND session_id = $2")
            .bind(c.site_id).bind(&c.session_id).fetch_optional(pool).await?
            .map(|r| r.try_get::<String, _>("locale")).transpose()?);
        let locale = shopper
            .as_deref()
            .and_then(Locale::supported)
            .unwrap_or_else(|| settings.locale());
        let mail = settings.template_for(locale).render(&ctx, locale);
        let mid = message_id(c.site_id, c.id, &settings.from);
        let message = match build_message(&settings, &email, &mail, &mid, &unsubscribe_url) {
            Ok(m) => m,
            Err(BuildError::Recipient(e)) => return Ok(Outcome::Bounce(scrub(&e))),
            Err(BuildError::Sender(e)) => {
                return Ok(Outcome::Held(format!(
                    "the site's recovery settings: {}",
                    scrub(&e)
                )))
            }
            Err(BuildError::Message(e)) => return Ok(Outcome::Reject(scrub(&e))),
        };
        Ok(match &self.delivery {
            // The whole conversation is bounded: a server that stops
            // answering mid-way must not hold the mailer.
            Delivery::Smtp(smtp) => {
                match tokio::time::timeout(self.cfg.smtp_timeout, smtp.send(message)).await {
                    Ok(Ok(_)) => Outcome::Sent(mid),
                    Ok(Err(e)) => match super::smtp::classify(&e) {
                        Failure::Temporary(why) => Outcome::Retry(why),
                        Failure::Config(why) => Outcome::Held(why),
                        Failure::Bounce(why) => Outcome::Bounce(why),
                        Failure::Rejected(why) => Outcome::Reject(why),
                    },
                    Err(_) => Outcome::Retry("SMTP: no answer within the timeout".into()),
                }
            }
            Delivery::Files(dir) => match write_eml(dir, c.site_id, c.id, &message).await {
                Ok(()) => Outcome::Sent(mid),
                Err(e) => Outcome::Retry(format!("writing .eml: {}", e.kind())),
            },
        })
    }
}

/// Why a message could not be built, by whose fault.
#[derive(Debug)]
enum BuildError {
    /// The shopper's address.
    Recipient(String),
    /// The site's sender or reply-to.
    Sender(String),
    /// Anything else.
    Message(String),
}

fn build_message(
    settings: &SiteSettings,
    to: &str,
    mail: &super::template::RenderedEmail,
    mid: &str,
    unsubscribe_url: &str,
) -> Result<Message, BuildError> {
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|_| BuildError::Sender("invalid sender".into()))?;
    let to: Mailbox = to
        .parse()
        .map_err(|_| BuildError::Recipient("invalid recipient address".into()))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mid.to_string()));
    if let Some(r) = &settings.reply_to {
        b = b.reply_to(
            r.parse()
                .map_err(|_| BuildError::Sender("invalid reply-to".into()))?,
        );
    }
    let mut message = b
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| BuildError::Message(e.to_string()))?;
    let list = list_unsubscribe(unsubscribe_url).map_err(|e| BuildError::Message(e.to_string()))?;
    let headers = message.headers_mut();
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe"),
        list,
    ));
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
        LIST_UNSUBSCRIBE_POST.into(),
    ));
    Ok(message)
}

async fn write_eml(
    dir: &std::path::Path,
    site_id: i64,
    id: i64,
    message: &Message,
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let path = eml_path(dir, site_id, id);
    let tmp = path.with_extension("eml.tmp");
    tokio::fs::write(&tmp, message.formatted()).await?;
    tokio::fs::rename(&tmp, &path).await
}

/// The running mailer loop. Dropping it stops the task; [`MailerTask::stop`]
/// also waits for it.
#[must_use = "the mailer stops when dropped"]
#[derive(Debug)]
pub struct MailerTask {
    stop: watch::Sender<bool>,
    /// How long [`MailerTask::stop`] waits for the loop.
    grace: Duration,
    handle: Option<JoinHandle<()>>,
}

impl MailerTask {
    /// Run `mailer` every `tick` until stopped; prune old contacts hourly.
    pub fn spawn(mailer: Mailer) -> MailerTask {
        let (stop, mut stopped) = watch::channel(false);
        let grace = mailer.cfg.smtp_timeout + Duration::from_secs(5);
        let handle = tokio::spawn(async move {
            let mut last_prune = 0i64;
            loop {
                let now = crate::now_ms();
                let stopping = || *stopped.borrow();
                if let Err(e) = mailer.deliver_due_until(now, &stopping).await {
                    tracing::error!(error = %e, "recovery mail delivery failed");
                }
                if now - last_prune > 3_600_000 {
                    last_prune = now;
                    match mailer
                        .db
                        .recovery_prune(now, mailer.cfg.retention.as_millis() as i64)
                        .await
                    {
                        Ok(n) if n > 0 => {
                            tracing::info!(deleted = n, "pruned old recovery contacts")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "recovery contact pruning failed"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(mailer.cfg.tick) => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        MailerTask {
            stop,
            grace,
            handle: Some(handle),
        }
    }

    /// Stop the loop and wait for it: the email being sent finishes (at
    /// most `smtp_timeout`, plus 5 s to record it and hand back the rest).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            if tokio::time::timeout(self.grace, h).await.is_err() {
                tracing::warn!("recovery mailer still sending at shutdown; its claimed emails wait for the claim to expire");
            }
        }
    }
}

impl Drop for MailerTask {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_addresses() {
        assert_eq!(
            scrub("SMTP: permanent error (550): <ann@example.com> rejected: ann@example.com"),
            "SMTP: permanent error (550): [address] rejected: [address]"
        );
    }

    #[test]
    fn clock_is_utc_hours_and_minutes() {
        assert_eq!(clock_utc(0), "00:00 UTC");
        assert_eq!(clock_utc((14 * 3600 + 5 * 60) * 1000 + 999), "14:05 UTC");
        assert_eq!(clock_utc(86_400_000 + 60_000), "00:01 UTC");
    }
}

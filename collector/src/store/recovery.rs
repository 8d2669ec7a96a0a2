//! Cart recovery data (migration 0006): session cart snapshots, recovery
//! contacts, the suppression list, per-site settings, the link-signing
//! secret, the marketing export and erasure by email.
//!
//! Contacts, carts and outbox rows are written by the event writer in the
//! same transaction as the events that cause them ([`recovery_effects!`]):
//! - `cart_snapshot` replaces the session's row in `session_carts`;
//! - `survey_answered` with a consented email upserts the site's contact
//!   for that address (unless it unsubscribed) and queues one recovery
//!   email per (contact, session) — unless the session already completed;
//! - `identify` (`Steadycart.identify(email, consent)`) upserts the contact
//!   the same way, refreshing its consent, and queues an email for the
//!   session that the mailer sends only if the session ran into trouble;
//! - `checkout_completed` marks the contacts of that session, or of any
//!   address given in that session, `recovered` and cancels their queued
//!   emails.
//!
//! Addresses are matched lower-cased (the survey accepts ASCII only).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use steadycart_protocol::cart::CartItem;

use super::{on_pool, Db, StoreError};

/// `LIKE` pattern of the stored error of an email held by an SMTP
/// configuration fault (see [`crate::recovery::smtp::CONFIG_FAULT`]).
const HELD_LIKE: &str = "smtp_config:%";
use crate::recovery::{
    export_csv::ExportRow,
    template::{format_money, Locale},
};

/// The identity of an address: trimmed, ASCII lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// What the suppression list keeps of an address: SHA-256 hex of its
/// normalised form.
pub fn email_hash(email: &str) -> String {
    hex::encode(Sha256::digest(normalise_email(email).as_bytes()))
}

/// `LIKE` patterns of a troubled call in a stored event body.
pub(crate) const TROUBLE_LIKE: [&str; 4] = [
    "%\"outcome\":\"http_error\"%",
    "%\"outcome\":\"network_error\"%",
    "%\"outcome\":\"stall\"%",
    "%\"outcome\":\"app_error\"%",
];

/// Inside the writer's transaction `$tx`: `None` when the normalised address
/// `$norm` is on the site's suppression list (nothing may be stored or sent
/// for it), otherwise `Some(completed)` — whether the session of event row
/// `$row` already completed a checkout (its contact is then `recovered` and
/// no email is queued).
macro_rules! contact_standing {
    ($tx:expr, $row:expr, $norm:expr) => {{
        let row: &$crate::store::events::EventRow = $row;
        let norm: &str = $norm;
        let suppressed = sqlx::query(
            "SELECT 1 AS x FROM recovery_suppressions WHERE site_id = $1 AND email_hash = $2",
        )
        .bind(row.site_id)
        .bind($crate::store::recovery::email_hash(norm))
        .fetch_optional(&mut *$tx)
        .await?
        .is_some();
        if suppressed {
            None
        } else {
            Some(
                sqlx::query(
                    "SELECT 1 AS x FROM events WHERE site_id = $1 AND session_id = $2 \
                     AND kind = 'checkout_completed' LIMIT 1",
                )
                .bind(row.site_id)
                .bind(&row.session_id)
                .fetch_optional(&mut *$tx)
                .await?
                .is_some(),
            )
        }
    }};
}
pub(crate) use contact_standing;

/// Apply the recovery side effects of one newly inserted event row `$row`
/// inside the writer's open transaction `$tx` (either backend).
macro_rules! recovery_effects {
    ($tx:expr, $row:expr) => {{
        let row: &$crate::store::events::EventRow = $row;
        match row.kind {
            "cart_snapshot" => {
                if let Ok(steadycart_protocol::Event {
                    body: steadycart_protocol::EventBody::CartSnapshot(cart),
                    ..
                }) = serde_json::from_str::<steadycart_protocol::Event>(&row.body)
                {
                    let items = serde_json::to_string(&cart.items).unwrap_or_else(|_| "[]".into());
                    sqlx::query(
                        "INSERT INTO session_carts (site_id, session_id, items, currency, value_minor, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (site_id, session_id) DO UPDATE SET \
                         items = excluded.items, currency = excluded.currency, value_minor = excluded.value_minor, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(row.site_id)
                    .bind(&row.session_id)
                    .bind(items)
                    .bind(&cart.currency)
                    .bind(cart.total_minor())
                    .bind(row.received_at)
                    .execute(&mut *$tx)
                    .await?;
                }
            }
            "survey_answered" => {
                if let Some(a) = $crate::store::survey::AnswerRow::from_event_row(row) {
                    if let (Some(email), Some(consent_text), Some(consent_version)) =
                        (&a.email, &a.consent_text, &a.consent_version)
                    {
                        let norm = $crate::store::recovery::normalise_email(email);
                        if let Some(completed) = $crate::store::recovery::contact_standing!($tx, row, &norm) {
                            let [t1, t2, t3, t4] = $crate::store::recovery::TROUBLE_LIKE;
                            let trouble_at: Option<i64> = sqlx::Row::try_get(
                                &sqlx::query(
                                    "SELECT MIN(received_at) AS t FROM events WHERE site_id = $1 AND session_id = $2 \
                                     AND kind = 'call' AND (body LIKE $3 OR body LIKE $4 OR body LIKE $5 OR body LIKE $6)",
                                )
                                .bind(row.site_id)
                                .bind(&row.session_id)
                                .bind(t1)
                                .bind(t2)
                                .bind(t3)
                                .bind(t4)
                                .fetch_one(&mut *$tx)
                                .await?,
                                "t",
                            )?;
                            let status = if completed { "recovered" } else { "pending" };
                            let contact_id: i64 = sqlx::Row::try_get(
                                &sqlx::query(
                                    "INSERT INTO recovery_contacts (site_id, email, email_norm, session_id, answer_event_id, \
                                     consent_text, consent_version, consented_at, choice, free_text, trouble_roles, \
                                     trouble_endpoints, last_status, trouble_at, first_seen, updated_at, status) \
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $8, $8, $15) \
                                     ON CONFLICT (site_id, email_norm) DO UPDATE SET email = excluded.email, \
                                     session_id = excluded.session_id, answer_event_id = excluded.answer_event_id, \
                                     consent_text = excluded.consent_text, consent_version = excluded.consent_version, \
                                     consented_at = excluded.consented_at, choice = excluded.choice, \
                                     free_text = excluded.free_text, trouble_roles = excluded.trouble_roles, \
                                     trouble_endpoints = excluded.trouble_endpoints, last_status = excluded.last_status, \
                                     trouble_at = excluded.trouble_at, updated_at = excluded.updated_at, \
                                     status = excluded.status RETURNING id",
                                )
                                .bind(row.site_id)
                                .bind(email)
                                .bind(&norm)
                                .bind(&row.session_id)
                                .bind(&row.event_id)
                                .bind(consent_text)
                                .bind(consent_version)
                                .bind(row.received_at)
                                .bind(&a.choice)
                                .bind(&a.text)
                                .bind(&a.trouble_roles)
                                .bind(&a.trouble_endpoints)
                                .bind(a.last_status)
                                .bind(trouble_at.unwrap_or(row.received_at))
                                .bind(status)
                                .fetch_one(&mut *$tx)
                                .await?,
                                "id",
                            )?;
                            if !completed {
                                // An identify may have queued this session's email
                                // already: the answer makes it an abandonment, due
                                // `delay` after the answer.
                                sqlx::query(
                                    "INSERT INTO recovery_outbox (site_id, contact_id, session_id, created_at, next_attempt_at) \
                                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (contact_id, session_id) DO UPDATE SET \
                                     source = 'survey', created_at = excluded.created_at, next_attempt_at = excluded.next_attempt_at \
                                     WHERE recovery_outbox.status = 'queued' AND recovery_outbox.source = 'identify'",
                                )
                                .bind(row.site_id)
                                .bind(contact_id)
                                .bind(&row.session_id)
                                .bind(row.received_at)
                                .execute(&mut *$tx)
                                .await?;
                            }
                        }
                    }
                }
            }
            "identify" => {
                if let Ok(steadycart_protocol::Event {
                    body: steadycart_protocol::EventBody::Identify { email, consent },
                    ..
                }) = serde_json::from_str::<steadycart_protocol::Event>(&row.body)
                {
                    let norm = $crate::store::recovery::normalise_email(&email);
                    if let Some(completed) = $crate::store::recovery::contact_standing!($tx, row, &norm) {
                        let status = if completed { "recovered" } else { "pending" };
                        // The consent is refreshed; a new session replaces the
                        // context of the old one (what its survey answer and
                        // trouble said), the same session keeps it.
                        let contact_id: i64 = sqlx::Row::try_get(
                            &sqlx::query(
                                "INSERT INTO recovery_contacts (site_id, email, email_norm, session_id, answer_event_id, \
                                 consent_text, consent_version, consented_at, trouble_at, first_seen, updated_at, status) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $8, $9) \
                                 ON CONFLICT (site_id, email_norm) DO UPDATE SET email = excluded.email, \
                                 consent_text = excluded.consent_text, consent_version = excluded.consent_version, \
                                 consented_at = excluded.consented_at, updated_at = excluded.updated_at, \
                                 choice = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.choice END, \
                                 free_text = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.free_text END, \
                                 trouble_roles = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.trouble_roles ELSE '' END, \
                                 trouble_endpoints = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.trouble_endpoints ELSE '[]' END, \
                                 last_status = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.last_status END, \
                                 trouble_at = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.trouble_at ELSE excluded.trouble_at END, \
                                 answer_event_id = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.answer_event_id ELSE excluded.answer_event_id END, \
                                 status = CASE WHEN recovery_contacts.session_id = excluded.session_id THEN recovery_contacts.status ELSE excluded.status END, \
                                 session_id = excluded.session_id \
                                 RETURNING id",
                            )
                            .bind(row.site_id)
                            .bind(&email)
                            .bind(&norm)
                            .bind(&row.session_id)
                            .bind(&row.event_id)
                            .bind(&consent.text)
                            .bind(&consent.version)
                            .bind(row.received_at)
                            .bind(status)
                            .fetch_one(&mut *$tx)
                            .await?,
                            "id",
                        )?;
                        if !completed {
                            // Sent only if the session runs into trouble (the
                            // mailer checks when it is due).
                            sqlx::query(
                                "INSERT INTO recovery_outbox (site_id, contact_id, session_id, created_at, next_attempt_at, source) \
                                 VALUES ($1, $2, $3, $4, $4, 'identify') ON CONFLICT (contact_id, session_id) DO NOTHING",
                            )
                            .bind(row.site_id)
                            .bind(contact_id)
                            .bind(&row.session_id)
                            .bind(row.received_at)
                            .execute(&mut *$tx)
                            .await?;
                        }
                    }
                }
            }
            "checkout_completed" => {
                // The session's own contacts, and any address given in it.
                const WHO: &str = "site_id = $1 AND (session_id = $2 OR email_norm IN \
                    (SELECT lower(email) FROM survey_answers WHERE site_id = $1 AND session_id = $2 AND email IS NOT NULL))";
                sqlx::query(&format!(
                    "UPDATE recovery_outbox SET status = 'cancelled', done_at = $3, last_error = 'checkout completed' \
                     WHERE status = 'queued' AND contact_id IN (SELECT id FROM recovery_contacts WHERE {WHO})"
                ))
                .bind(row.site_id)
                .bind(&row.session_id)
                .bind(row.received_at)
                .execute(&mut *$tx)
                .await?;
                sqlx::query(&format!(
                    "UPDATE recovery_contacts SET status = 'recovered', updated_at = $3 WHERE {WHO}"
                ))
                .bind(row.site_id)
                .bind(&row.session_id)
                .bind(row.received_at)
                .execute(&mut *$tx)
                .await?;
            }
            _ => {}
        }
    }};
}
pub(crate) use recovery_effects;

/// The cart part of an exported contact.
#[derive(Debug, Clone, Serialize)]
pub struct ExportCart {
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Value in minor units, when every price was known.
    pub value_minor: Option<i64>,
    /// The lines.
    pub items: Vec<CartItem>,
}

/// Why the shopper left.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReason {
    /// Survey option id.
    pub choice: Option<String>,
    /// Free text, verbatim (untrusted).
    pub text: Option<String>,
    /// `"METHOD /path"` of the failing calls.
    pub endpoints: Vec<String>,
    /// Last troubled HTTP status.
    pub last_status: Option<i64>,
}

/// One contact as the marketing export returns it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportContact {
    /// Row id (the paging cursor).
    pub id: i64,
    /// The address.
    pub email: String,
    /// First seen, ms.
    pub first_seen: i64,
    /// Last changed, ms (what `since` filters on).
    pub updated_at: i64,
    /// Consent text exactly as shown.
    pub consent_text: String,
    /// Its version.
    pub consent_version: String,
    /// When consent was given, ms.
    pub consented_at: i64,
    /// The latest session's cart, when the snippet saw one.
    pub cart: Option<ExportCart>,
    /// Why they left.
    pub reason: ExportReason,
    /// `pending`, `emailed`, `recovered` or `bounced`.
    pub status: String,
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `2 × Name; 1 × Other` (SKU when there is no name).
pub fn items_line(items: &[CartItem]) -> String {
    items
        .iter()
        .map(|i| {
            let name = i.name.as_deref().or(i.sku.as_deref()).unwrap_or("item");
            format!("{} × {name}", i.qty)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ExportContact {
    /// The CSV row (cells are neutralised by the CSV writer).
    pub fn csv_row(&self) -> ExportRow {
        let cart = self.cart.as_ref();
        let mut reason: Vec<String> = Vec::new();
        if let Some(c) = &self.reason.choice {
            reason.push(c.clone());
        }
        if let Some(t) = &self.reason.text {
            reason.push(t.clone());
        }
        if let Some(e) = self.reason.endpoints.first() {
            match self.reason.last_status {
                Some(s) => reason.push(format!("{e} {s}")),
                None => reason.push(e.clone()),
            }
        }
        ExportRow {
            email: self.email.clone(),
            first_seen: rfc3339(self.first_seen),
            consent: "Subscribed".into(),
            consent_at: rfc3339(self.consented_at),
            consent_version: self.consent_version.clone(),
            cart_value: cart
                .and_then(|c| c.value_minor)
                .map(|v| format_money(v, Locale::En))
                .unwrap_or_default(),
            currency: cart.and_then(|c| c.currency.clone()).unwrap_or_default(),
            items: cart.map(|c| items_line(&c.items)).unwrap_or_default(),
            reason: reason.join("; "),
            status: self.status.clone(),
        }
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Erased {
    /// Contacts deleted.
    pub contacts: u64,
    /// Survey answers whose email (and consent) was cleared.
    pub answers: u64,
    /// Stored `survey_answered` and `identify` events whose email was removed.
    pub events: u64,
    /// Recovery emails deleted (queued or sent).
    pub mails: u64,
    /// Ids of the deleted outbox rows (their `.eml` files go too).
    #[serde(skip)]
    pub outbox_ids: Vec<i64>,
}

fn strip_email(body: &str) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(body).ok()?;
    let answer = v.get_mut("answer")?.as_object_mut()?;
    answer.remove("email")?;
    serde_json::to_string(&v).ok()
}

/// An `identify` event body with its email blanked, if it is `norm`'s.
fn blank_identify_email(body: &str, norm: &str) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(body).ok()?;
    let email = v.get_mut("email")?;
    if normalise_email(email.as_str()?) != norm {
        return None;
    }
    *email = serde_json::Value::String(String::new());
    serde_json::to_string(&v).ok()
}

impl Db {
    /// Up to `limit` exportable contacts of a site with id above `after`
    /// and changed at or after `since` (ms), oldest first.
    pub async fn recovery_export_page(
        &self,
        site_id: i64,
        after: i64,
        since: i64,
        limit: i64,
    ) -> Result<(Vec<ExportContact>, Option<i64>), StoreError> {
        const SQL: &str = "SELECT c.*, k.items AS cart_items, k.currency AS cart_currency, k.value_minor AS cart_value \
            FROM recovery_contacts c LEFT JOIN session_carts k ON k.site_id = c.site_id AND k.session_id = c.session_id \
            WHERE c.site_id = $1 AND c.id > $2 AND c.updated_at >= $3 ORDER BY c.id LIMIT $4";
        let contacts = on_pool!(self, pool => {
            sqlx::query(SQL).bind(site_id).bind(after).bind(since).bind(limit)
                .fetch_all(pool).await?.iter()
                .map(|r| -> Result<ExportContact, sqlx::Error> {
                    let items: Option<String> = r.try_get("cart_items")?;
                    let endpoints: String = r.try_get("trouble_endpoints")?;
                    Ok(ExportContact {
                        id: r.try_get("id")?,
                        email: r.try_get("email")?,
                        first_seen: r.try_get("first_seen")?,
                        updated_at: r.try_get("updated_at")?,
                        consent_text: r.try_get("consent_text")?,
                        consent_version: r.try_get("consent_version")?,
                        consented_at: r.try_get("consented_at")?,
                        cart: match items {
                            Some(items) => Some(ExportCart {
                                currency: r.try_get("cart_currency")?,
                                value_minor: r.try_get("cart_value")?,
                                items: serde_json::from_str(&items).unwrap_or_default(),
                            }),
                            None => None,
                        },
                        reason: ExportReason {
                            choice: r.try_get("choice")?,
                            text: r.try_get("free_text")?,
                            endpoints: serde_json::from_str(&endpoints).unwrap_or_default(),
                            last_status: r.try_get("last_status")?,
                        },
                        status: r.try_get("status")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        let next = if contacts.len() as i64 == limit {
            contacts.last().map(|c| c.id)
        } else {
            None
        };
        Ok((contacts, next))
    }

    /// Erase every trace of `email` on a site: its contact and queued or
    /// sent recovery emails, the email (and consent) on its survey answers
    /// and inside the stored `survey_answered` and `identify` events. An unsubscribe stays
    /// in force (the suppression list holds only a hash).
    pub async fn recovery_erase(&self, site_id: i64, email: &str) -> Result<Erased, StoreError> {
        let norm = normalise_email(email);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut out = Erased::default();
            for r in sqlx::query("SELECT o.id FROM recovery_outbox o JOIN recovery_contacts c ON c.id = o.contact_id \
                                  WHERE c.site_id = $1 AND c.email_norm = $2")
                .bind(site_id).bind(&norm).fetch_all(&mut *tx).await? {
                out.outbox_ids.push(r.try_get("id")?);
            }
            out.mails = out.outbox_ids.len() as u64;
            out.contacts = sqlx::query("DELETE FROM recovery_contacts WHERE site_id = $1 AND email_norm = $2")
                .bind(site_id).bind(&norm).execute(&mut *tx).await?.rows_affected();
            let event_ids: Vec<String> = sqlx::query("SELECT event_id FROM survey_answers WHERE site_id = $1 AND lower(email) = $2")
                .bind(site_id).bind(&norm).fetch_all(&mut *tx).await?
                .iter().map(|r| r.try_get("event_id")).collect::<Result<_, _>>()?;
            out.answers = sqlx::query("UPDATE survey_answers SET email = NULL, consent_text = NULL, consent_version = NULL \
                                       WHERE site_id = $1 AND lower(email) = $2")
                .bind(site_id).bind(&norm).execute(&mut *tx).await?.rows_affected();
            for id in &event_ids {
                let row = sqlx::query("SELECT seq, body FROM events WHERE site_id = $1 AND event_id = $2")
                    .bind(site_id).bind(id).fetch_optional(&mut *tx).await?;
                if let Some(row) = row {
                    let seq: i64 = row.try_get("seq")?;
                    let body: String = row.try_get("body")?;
                    if let Some(clean) = strip_email(&body) {
                        sqlx::query("UPDATE events SET body = $2 WHERE seq = $1")
                            .bind(seq).bind(clean).execute(&mut *tx).await?;
                        out.events += 1;
                    }
                }
            }
            // `identify` events carry the address too; it is blanked (the
            // event stays readable, the field is required).
            let candidates = sqlx::query("SELECT seq, body FROM events WHERE site_id = $1 AND kind = 'identify' AND lower(body) LIKE $2")
                .bind(site_id).bind(format!("%{norm}%")).fetch_all(&mut *tx).await?;
            for row in candidates {
                let seq: i64 = row.try_get("seq")?;
                let body: String = row.try_get("body")?;
                if let Some(clean) = blank_identify_email(&body, &norm) {
                    sqlx::query("UPDATE events SET body = $2 WHERE seq = $1")
                        .bind(seq).bind(clean).execute(&mut *tx).await?;
                    out.events += 1;
                }
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// Unsubscribe contact `contact_id` of `site_id` for good: its address
    /// goes on the suppression list (as a hash) and the contact with its
    /// queued emails is deleted. True when there was a contact.
    pub async fn recovery_unsubscribe(
        &self,
        site_id: i64,
        contact_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let email: Option<String> = sqlx::query("SELECT email FROM recovery_contacts WHERE site_id = $1 AND id = $2")
                .bind(site_id).bind(contact_id).fetch_optional(&mut *tx).await?
                .map(|r| r.try_get("email")).transpose()?;
            let Some(email) = email else {
                return Ok(false);
            };
            sqlx::query("INSERT INTO recovery_suppressions (site_id, email_hash, reason, created_at) \
                         VALUES ($1, $2, 'unsubscribed', $3) ON CONFLICT (site_id, email_hash) DO NOTHING")
                .bind(site_id).bind(email_hash(&email)).bind(now).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM recovery_contacts WHERE site_id = $1 AND id = $2")
                .bind(site_id).bind(contact_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Whether `email` unsubscribed from site `site_id`.
    pub async fn recovery_is_suppressed(
        &self,
        site_id: i64,
        email: &str,
    ) -> Result<bool, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query("SELECT 1 AS x FROM recovery_suppressions WHERE site_id = $1 AND email_hash = $2")
            .bind(site_id).bind(email_hash(email)).fetch_optional(pool).await?.is_some()),
        )
    }

    /// The site's recovery settings JSON, if set.
    pub async fn recovery_settings(&self, site_id: i64) -> Result<Option<String>, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query("SELECT settings FROM recovery_settings WHERE site_id = $1")
            .bind(site_id).fetch_optional(pool).await?
            .map(|r| r.try_get::<String, _>("settings")).transpose()?),
        )
    }

    /// Store the site's recovery settings JSON.
    pub async fn put_recovery_settings(
        &self,
        site_id: i64,
        settings: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO recovery_settings (site_id, settings, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (site_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at")
                .bind(site_id).bind(settings).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// The link-signing secret shared by every instance on this database,
    /// created on first use.
    pub async fn recovery_secret(&self, now: i64) -> Result<Vec<u8>, StoreError> {
        let fresh = crate::keys::new_admin_token();
        let secret: String = on_pool!(self, pool => {
            sqlx::query("INSERT INTO recovery_secrets (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(&fresh).bind(now).execute(pool).await?;
            sqlx::query("SELECT secret FROM recovery_secrets WHERE id = 1").fetch_one(pool).await?.try_get("secret")?
        });
        Ok(secret.into_bytes())
    }

    /// Record the shopper's language for a session (from the ingest
    /// request that carried its survey answer or identify).
    pub async fn record_session_locale(
        &self,
        site_id: i64,
        session_id: &str,
        locale: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO session_locales (site_id, session_id, locale, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (site_id, session_id) DO UPDATE SET locale = excluded.locale, updated_at = excluded.updated_at")
                .bind(site_id).bind(session_id).bind(locale).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// Make every email held by an SMTP configuration fault (see
    /// [`crate::recovery::smtp::Failure::Config`]) due at once: a mailer
    /// starting with new settings tries them now instead of after their
    /// backoff. Returns how many.
    pub async fn recovery_retry_held(&self) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "UPDATE recovery_outbox SET next_attempt_at = 0 WHERE status = 'queued' AND last_error LIKE $1")
            .bind(HELD_LIKE).execute(pool).await?.rows_affected()))
    }

    /// `(queued, held)`: emails waiting to be sent, and those of them whose
    /// last attempt failed on the shop's SMTP configuration.
    pub async fn recovery_queue_counts(&self) -> Result<(i64, i64), StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, i64)>(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN last_error LIKE $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM recovery_outbox WHERE status = 'queued'")
            .bind(HELD_LIKE).fetch_one(pool).await?))
    }

    /// Delete contacts not changed for `older_than_ms` (with their emails)
    /// and cart snapshots of the same age. Returns contacts deleted.
    pub async fn recovery_prune(&self, now: i64, older_than_ms: i64) -> Result<u64, StoreError> {
        let cutoff = now - older_than_ms;
        Ok(on_pool!(self, pool => {
            let n = sqlx::query("DELETE FROM recovery_contacts WHERE updated_at < $1")
                .bind(cutoff).execute(pool).await?.rows_affected();
            sqlx::query("DELETE FROM session_carts WHERE updated_at < $1")
                .bind(cutoff).execute(pool).await?;
            sqlx::query("DELETE FROM session_locales WHERE updated_at < $1")
                .bind(cutoff).execute(pool).await?;
            n
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_match_case_insensitively_and_hash_stably() {
        assert_eq!(normalise_email(" Ann@Example.COM "), "ann@example.com");
        assert_eq!(email_hash("Ann@Example.com"), email_hash("ann@example.com"));
        assert_ne!(email_hash("ann@example.com"), email_hash("bob@example.com"));
        assert!(!email_hash("ann@example.com").contains("ann"));
    }

    #[test]
    fn erasure_strips_the_email_from_an_event_body() {
        let body = r#"{"id":"x","type":"survey_answered","answer":{"choice":"broken","email":"ann@example.com","consent":{"text":"t","version":"v"}}}"#;
        let clean = strip_email(body).unwrap();
        assert!(!clean.contains("ann@example.com"));
        assert!(clean.contains("broken"));
        assert_eq!(strip_email(r#"{"answer":{"choice":"x"}}"#), None);
    }

    #[test]
    fn erasure_blanks_the_email_of_an_identify_event() {
        let body = r#"{"id":"x","type":"identify","email":"Ann@Example.com","consent":{"text":"t","version":"v"}}"#;
        let clean = blank_identify_email(body, "ann@example.com").unwrap();
        assert!(!clean.to_lowercase().contains("ann@"), "{clean}");
        assert!(clean.contains(r#""email":"""#), "{clean}");
        assert_eq!(blank_identify_email(body, "bob@example.com"), None);
    }

    #[test]
    fn csv_row_summarises_cart_and_reason() {
        let c = ExportContact {
            id: 1,
            email: "ann@example.com".into(),
            first_seen: 1_764_338_700_000,
            updated_at: 0,
            consent_text: "Email me".into(),
            consent_version: "v1".into(),
            consented_at: 1_764_338_760_000,
            cart: Some(ExportCart {
                currency: Some("USD".into()),
                value_minor: Some(31700),
                items: vec![
                    CartItem {
                        sku: Some("A".into()),
                        name: Some("Lamp".into()),
                        qty: 2,
                        unit_price_minor: Some(12900),
                    },
                    CartItem {
                        sku: Some("B".into()),
                        name: None,
                        qty: 1,
                        unit_price_minor: Some(5900),
                    },
                ],
            }),
            reason: ExportReason {
                choice: Some("broken".into()),
                text: None,
                endpoints: vec!["POST /api/checkout".into()],
                last_status: Some(503),
            },
            status: "pending".into(),
        };
        let row = c.csv_row();
        assert_eq!(row.first_seen, "2025-11-28T14:05:00Z");
        assert_eq!(row.cart_value, "317.00");
        assert_eq!(row.items, "2 × Lamp; 1 × B");
        assert_eq!(row.reason, "broken; POST /api/checkout 503");
    }
}

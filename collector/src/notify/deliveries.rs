//! The outbox seen from outside: each delivery's state — pending (waiting
//! for its next attempt), delivered, or dead (given up: rejected for good or
//! out of attempts; a dead letter) — for the admin API and `/metrics`, so
//! nothing is dropped silently.

use serde::Serialize;
use sqlx::Row;

use crate::store::{on_pool, Db, StoreError};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet accepted; will be retried.
    Pending,
    /// Accepted by the target (2xx).
    Delivered,
    /// Given up on: the target rejected it for good, or attempts ran out.
    Dead,
}

impl DeliveryState {
    /// Every state, in display order.
    pub const ALL: [DeliveryState; 3] = [Self::Pending, Self::Delivered, Self::Dead];

    /// The state's name (`"dead"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// Parse a name from [`DeliveryState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// SQL condition on `notify_outbox` selecting this state.
    fn condition(self) -> &'static str {
        match self {
            Self::Pending => "delivered_at IS NULL AND failed_at IS NULL",
            Self::Delivered => "delivered_at IS NOT NULL",
            Self::Dead => "delivered_at IS NULL AND failed_at IS NOT NULL",
        }
    }
}

/// One outbox row as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryInfo {
    /// Outbox id.
    pub id: i64,
    /// The incident notified about.
    pub incident_id: i64,
    /// The notifier it goes to.
    pub notifier_id: i64,
    /// `trigger` or `resolve`.
    pub action: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// Next attempt (ms) while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// When it was delivered or given up on (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// The last failure (`HTTP 503`, a timeout…), never a URL or secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Deliveries of a site, newest first, optionally of one state.
pub async fn list(
    db: &Db,
    site_id: i64,
    state: Option<DeliveryState>,
    limit: i64,
) -> Result<Vec<DeliveryInfo>, StoreError> {
    let filter = state
        .map(|s| format!(" AND {}", s.condition()))
        .unwrap_or_default();
    let sql = format!(
        "SELECT id, incident_id, notifier_id, action, attempts, next_attempt_at, delivered_at, failed_at, last_error \
         FROM notify_outbox WHERE site_id = $1{filter} ORDER BY id DESC LIMIT $2"
    );
    on_pool!(db, pool => Ok(sqlx::query(&sql).bind(site_id).bind(limit).fetch_all(pool).await?.iter()
        .map(|r| -> Result<DeliveryInfo, sqlx::Error> {
            let delivered: Option<i64> = r.try_get("delivered_at")?;
            let failed: Option<i64> = r.try_get("failed_at")?;
            let state = match (delivered, failed) {
                (Some(_), _) => DeliveryState::Delivered,
                (None, Some(_)) => DeliveryState::Dead,
                (None, None) => DeliveryState::Pending,
            };
            Ok(DeliveryInfo {
                id: r.try_get("id")?,
                incident_id: r.try_get("incident_id")?,
                notifier_id: r.try_get("notifier_id")?,
                action: r.try_get("action")?,
                state,
                attempts: r.try_get("attempts")?,
                next_attempt_at: (state == DeliveryState::Pending).then(|| r.try_get("next_attempt_at")).transpose()?,
                finished_at: delivered.or(failed),
                last_error: r.try_get("last_error")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?))
}

/// How many deliveries of a site are in each state ([`DeliveryState::ALL`] order).
pub async fn counts(db: &Db, site_id: i64) -> Result<[(DeliveryState, i64); 3], StoreError> {
    let mut out = DeliveryState::ALL.map(|s| (s, 0));
    for (state, n) in out.iter_mut() {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM notify_outbox WHERE site_id = $1 AND {}",
            state.condition()
        );
        *n = on_pool!(db, pool => sqlx::query(&sql).bind(site_id).fetch_one(pool).await?.try_get::<i64, _>("n")?);
    }
    Ok(out)
}

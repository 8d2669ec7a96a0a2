//! Reads and small writes around signals: incidents, notifiers, time series
//! for the read API and the view, and the current values for the gauges.
//! The rollup's own writes live with the engine, inside its transactions.

use serde::Serialize;
use sqlx::Row;

use super::{detectors::SiteDetectors, incident::IncidentDetails};
use crate::{
    notify::NotifierConfig,
    store::{on_pool, Db, StoreError},
};

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Id, unique per collector database.
    pub id: i64,
    /// `abandonment`, `errors` or `stalls`.
    pub series: String,
    /// `open` or `resolved`.
    pub status: String,
    /// Onset: start of the first breaching bucket, ms.
    pub since: i64,
    /// When it was opened (end of the bucket that opened it), ms.
    pub opened_at: i64,
    /// Last update, ms.
    pub updated_at: i64,
    /// Start of the first healthy bucket, ms.
    pub ended: Option<i64>,
    /// When it was resolved, ms.
    pub resolved_at: Option<i64>,
    /// The baseline it was measured against.
    pub baseline: f64,
    /// The latest observed value.
    pub observed: f64,
    /// Largest observed/baseline ratio.
    pub peak_ratio: f64,
    /// One line for humans.
    pub summary: String,
    /// The evidence.
    pub details: IncidentDetails,
}

const INCIDENT_COLS: &str = "id, series, status, since, opened_at, updated_at, ended, resolved_at, baseline, observed, peak_ratio, summary, details";

fn incident_from<R: Row>(r: &R) -> Result<Incident, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let details: String = r.try_get("details")?;
    Ok(Incident {
        id: r.try_get("id")?,
        series: r.try_get("series")?,
        status: r.try_get("status")?,
        since: r.try_get("since")?,
        opened_at: r.try_get("opened_at")?,
        updated_at: r.try_get("updated_at")?,
        ended: r.try_get("ended")?,
        resolved_at: r.try_get("resolved_at")?,
        baseline: r.try_get("baseline")?,
        observed: r.try_get("observed")?,
        peak_ratio: r.try_get("peak_ratio")?,
        summary: r.try_get("summary")?,
        details: serde_json::from_str(&details).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

/// Incident `id` of site `site_id`.
pub async fn load_incident(db: &Db, site_id: i64, id: i64) -> Result<Option<Incident>, StoreError> {
    let sql = format!("SELECT {INCIDENT_COLS} FROM incidents WHERE site_id = $1 AND id = $2");
    on_pool!(db, pool => sqlx::query(&sql).bind(site_id).bind(id).fetch_optional(pool).await?
        .map(|r| incident_from(&r)).transpose())
}

/// A site's incidents overlapping `[from, to)`, newest first (at most `limit`),
/// optionally only those with `status`.
pub async fn list_incidents(
    db: &Db,
    site_id: i64,
    status: Option<&str>,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<Incident>, StoreError> {
    let sql = format!(
        "SELECT {INCIDENT_COLS} FROM incidents WHERE site_id = $1 AND ($2 = '' OR status = $2) \
         AND since < $4 AND (resolved_at IS NULL OR resolved_at >= $3) ORDER BY since DESC, id DESC LIMIT $5"
    );
    on_pool!(db, pool => sqlx::query(&sql).bind(site_id).bind(status.unwrap_or("")).bind(from).bind(to).bind(limit)
        .fetch_all(pool).await?.iter().map(incident_from).collect())
}

/// Counters that series are made from, in `signal_buckets` column order.
pub const COUNTERS: [&str; 8] = [
    "sessions",
    "checkout_starts",
    "completions",
    "abandonments",
    "abandon_after_trouble",
    "calls",
    "errors",
    "stalls",
];

/// Rates derived from the counters: (name, numerator, denominator terms).
pub const RATES: [(&str, &str, &[&str]); 3] = [
    (
        "abandonment_rate",
        "abandonments",
        &["abandonments", "completions"],
    ),
    ("error_rate", "errors", &["calls"]),
    ("stall_rate", "stalls", &["calls"]),
];

/// Whether `name` is a series the read API serves.
pub fn is_series(name: &str) -> bool {
    COUNTERS.contains(&name) || RATES.iter().any(|r| r.0 == name)
}

/// One slot of summed counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slot {
    /// Slot start, ms.
    pub t: i64,
    /// Sums in [`COUNTERS`] order.
    pub sums: [i64; 8],
    /// Whether any bucket fell in the slot.
    pub seen: bool,
}

impl Slot {
    /// The value of series `name` in this slot (`None`: no data, or a rate
    /// without a denominator).
    pub fn value(&self, name: &str) -> Option<f64> {
        if !self.seen {
            return None;
        }
        let get = |c: &str| COUNTERS.iter().position(|x| *x == c).map(|i| self.sums[i]);
        if let Some(v) = get(name) {
            return Some(v as f64);
        }
        let (_, num, den) = RATES.iter().find(|r| r.0 == name)?;
        let d: i64 = den.iter().filter_map(|c| get(c)).sum();
        (d > 0).then(|| get(num).unwrap_or(0) as f64 / d as f64)
    }
}

/// Counters of `site_id` summed into `step`-long slots over `[from, to)`;
/// every slot is present (empty ones with `seen: false`).
pub async fn slots(
    db: &Db,
    site_id: i64,
    from: i64,
    to: i64,
    step: i64,
) -> Result<Vec<Slot>, StoreError> {
    let sums: Vec<String> = COUNTERS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect();
    let sql = format!(
        "SELECT (bucket_start - $2) / $4 AS slot, {} FROM signal_buckets WHERE site_id = $1 AND bucket_start >= $2 AND bucket_start < $3 GROUP BY slot ORDER BY slot",
        sums.join(", ")
    );
    let n = ((to - from + step - 1) / step).max(0) as usize;
    let mut out: Vec<Slot> = (0..n)
        .map(|i| Slot {
            t: from + i as i64 * step,
            ..Default::default()
        })
        .collect();
    on_pool!(db, pool => {
        for r in sqlx::query(&sql).bind(site_id).bind(from).bind(to).bind(step).fetch_all(pool).await? {
            let i: i64 = r.try_get("slot")?;
            if let Some(slot) = out.get_mut(i as usize) {
                slot.seen = true;
                for (k, c) in COUNTERS.iter().enumerate() {
                    slot.sums[k] = r.try_get::<Option<i64>, _>(*c)?.unwrap_or(0);
                }
            }
        }
    });
    Ok(out)
}

/// The detectors' state of a site (for baselines in gauges and the view).
pub async fn detectors(db: &Db, site_id: i64) -> Result<Option<(i64, SiteDetectors)>, StoreError> {
    let row = on_pool!(db, pool => sqlx::query("SELECT next_bucket, detectors FROM signal_progress WHERE site_id = $1")
        .bind(site_id).fetch_optional(pool).await?
        .map(|r| -> Result<(i64, String), sqlx::Error> { Ok((r.try_get("next_bucket")?, r.try_get("detectors")?)) })
        .transpose()?);
    row.map(|(next, json)| {
        serde_json::from_str(&json)
            .map(|d| (next, d))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .transpose()
}

/// A stored notifier, secrets redacted.
#[derive(Debug, Clone, Serialize)]
pub struct NotifierInfo {
    /// Id.
    pub id: i64,
    /// Kind and configuration with secrets replaced.
    pub config: serde_json::Value,
    /// Created, ms.
    pub created_at: i64,
}

/// Add a notifier to a site; returns its id.
pub async fn add_notifier(
    db: &Db,
    site_id: i64,
    n: &NotifierConfig,
    now: i64,
) -> Result<i64, StoreError> {
    let config = serde_json::to_string(n).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    on_pool!(db, pool => Ok(sqlx::query("INSERT INTO notifiers (site_id, kind, config, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(site_id).bind(n.kind()).bind(config).bind(now).fetch_one(pool).await?.try_get("id")?))
}

/// A site's notifiers, secrets redacted.
pub async fn list_notifiers(db: &Db, site_id: i64) -> Result<Vec<NotifierInfo>, StoreError> {
    let rows = on_pool!(db, pool => sqlx::query("SELECT id, config, created_at FROM notifiers WHERE site_id = $1 ORDER BY id")
        .bind(site_id).fetch_all(pool).await?.iter()
        .map(|r| -> Result<(i64, String, i64), sqlx::Error> { Ok((r.try_get("id")?, r.try_get("config")?, r.try_get("created_at")?)) })
        .collect::<Result<Vec<_>, _>>()?);
    rows.into_iter()
        .map(|(id, config, created_at)| {
            let n: NotifierConfig =
                serde_json::from_str(&config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(NotifierInfo {
                id,
                config: n.redacted(),
                created_at,
            })
        })
        .collect()
}

/// Remove a notifier (and its pending deliveries). True if it existed.
pub async fn remove_notifier(db: &Db, site_id: i64, id: i64) -> Result<bool, StoreError> {
    on_pool!(db, pool => Ok(sqlx::query("DELETE FROM notifiers WHERE site_id = $1 AND id = $2")
        .bind(site_id).bind(id).execute(pool).await?.rows_affected() == 1))
}

/// Outbox rows of an incident: (notifier id, action, attempts, delivered).
pub async fn outbox_of(
    db: &Db,
    incident_id: i64,
) -> Result<Vec<(i64, String, i64, bool)>, StoreError> {
    on_pool!(db, pool => Ok(sqlx::query("SELECT notifier_id, action, attempts, delivered_at FROM notify_outbox WHERE incident_id = $1 ORDER BY id")
        .bind(incident_id).fetch_all(pool).await?.iter()
        .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get("notifier_id")?, r.try_get("action")?, r.try_get("attempts")?, r.try_get::<Option<i64>, _>("delivered_at")?.is_some())) })
        .collect::<Result<Vec<_>, _>>()?))
}

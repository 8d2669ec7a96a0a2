//! Drop reports from snippets: events lost on the client before delivery
//! (queue or storage budget overflow), counted once per reporting batch.

use serde::Serialize;
use sqlx::Row;

use super::{on_pool, Db, StoreError};

/// A site's client-side drop totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropTotals {
    /// Events snippets report they dropped, in all. `12`.
    pub dropped_total: i64,
    /// Batches that carried a drop report. `2`.
    pub reports: i64,
    /// Server time of the latest report, ms; `null` if none.
    pub last_reported_at: Option<i64>,
}

impl Db {
    /// Store a drop report carried by the batch whose first event is
    /// `batch_key`; a resent batch is ignored. Returns whether it was new.
    pub async fn record_client_drops(
        &self,
        site_id: i64,
        batch_key: &str,
        dropped: u32,
        received_at: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO client_drops (site_id, batch_key, dropped, received_at) \
                           VALUES ($1, $2, $3, $4) ON CONFLICT (site_id, batch_key) DO NOTHING";
        on_pool!(self, pool => {
            Ok(sqlx::query(SQL)
                .bind(site_id)
                .bind(batch_key)
                .bind(i64::from(dropped))
                .bind(received_at)
                .execute(pool)
                .await?
                .rows_affected()
                == 1)
        })
    }

    /// The site's drop totals.
    pub async fn client_drop_totals(&self, site_id: i64) -> Result<DropTotals, StoreError> {
        const SQL: &str =
            "SELECT CAST(COALESCE(SUM(dropped), 0) AS BIGINT) AS total, COUNT(*) AS reports, \
                           MAX(received_at) AS last_at FROM client_drops WHERE site_id = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(site_id).fetch_one(pool).await?;
            Ok(DropTotals {
                dropped_total: row.try_get::<i64, _>("total")?,
                reports: row.try_get::<i64, _>("reports")?,
                last_reported_at: row.try_get::<Option<i64>, _>("last_at")?,
            })
        })
    }
}

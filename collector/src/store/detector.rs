//! Per-site detector overrides: one JSON row per site (migration 0010).

use sqlx::Row;

use super::{on_pool, Db, StoreError};
use crate::detect::overrides::DetectorOverrides;

impl Db {
    /// The site's detector overrides (empty when none were set).
    pub async fn detector_overrides(&self, site_id: i64) -> Result<DetectorOverrides, StoreError> {
        let doc: Option<String> = on_pool!(self, pool => {
            sqlx::query("SELECT overrides FROM site_detector WHERE site_id = $1")
                .bind(site_id)
                .fetch_optional(pool)
                .await?
                .map(|r| r.try_get("overrides"))
                .transpose()?
        });
        parse(site_id, doc)
    }

    /// Replace the site's detector overrides (empty removes the row).
    pub async fn put_detector_overrides(
        &self,
        site_id: i64,
        overrides: &DetectorOverrides,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let doc =
            serde_json::to_string(overrides).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_pool!(self, pool => {
            if overrides.is_empty() {
                sqlx::query("DELETE FROM site_detector WHERE site_id = $1")
                    .bind(site_id)
                    .execute(pool)
                    .await?;
            } else {
                sqlx::query(
                    "INSERT INTO site_detector (site_id, overrides, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (site_id) DO UPDATE SET overrides = excluded.overrides, updated_at = excluded.updated_at",
                )
                .bind(site_id)
                .bind(&doc)
                .bind(now_ms)
                .execute(pool)
                .await?;
            }
        });
        Ok(())
    }
}

/// Decode a stored overrides document.
pub fn parse(site_id: i64, doc: Option<String>) -> Result<DetectorOverrides, StoreError> {
    match doc {
        None => Ok(DetectorOverrides::default()),
        Some(d) => serde_json::from_str(&d)
            .map_err(|e| StoreError::Corrupt(format!("site_detector {site_id}: {e}"))),
    }
}

//! Remote site configuration rows: one JSON document per site with a
//! version that increases on every change.

use sqlx::Row;
use steadycart_protocol::remote::SiteConfig;

use super::{on_pool, Db, StoreError};

impl Db {
    /// The site's stored configuration (default if none was ever set), with
    /// `version` filled in.
    pub async fn site_config(&self, site_id: i64) -> Result<SiteConfig, StoreError> {
        let row: Option<(i64, String)> = on_pool!(self, pool => {
            sqlx::query("SELECT version, doc FROM site_config WHERE site_id = $1")
                .bind(site_id)
                .fetch_optional(pool)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get("version")?, r.try_get("doc")?)))
                .transpose()?
        });
        let Some((version, doc)) = row else {
            return Ok(SiteConfig::default());
        };
        let mut config: SiteConfig = serde_json::from_str(&doc)
            .map_err(|e| StoreError::Corrupt(format!("site_config {site_id}: {e}")))?;
        config.version = version;
        Ok(config)
    }

    /// Replace the site's configuration; returns the new version.
    pub async fn put_site_config(
        &self,
        site_id: i64,
        config: &SiteConfig,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let doc = serde_json::to_string(&SiteConfig {
            version: 0,
            ..config.clone()
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_pool!(self, pool => {
            let version: i64 = sqlx::query(
                "INSERT INTO site_config (site_id, version, doc, updated_at) VALUES ($1, 1, $2, $3) \
                 ON CONFLICT (site_id) DO UPDATE SET version = site_config.version + 1, doc = excluded.doc, updated_at = excluded.updated_at \
                 RETURNING version",
            )
            .bind(site_id)
            .bind(&doc)
            .bind(now_ms)
            .fetch_one(pool)
            .await?
            .try_get("version")?;
            Ok(version)
        })
    }
}

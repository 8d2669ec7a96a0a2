//! Sites: a public site key for the script tag, the origins allowed to send
//! events, and the hash of the site's admin token.

use sqlx::Row;

use super::{on_pool, Db, StoreError};

/// A registered site as the collector needs it on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Internal id.
    pub id: i64,
    /// Public key (script tag `data-site`).
    pub site_key: String,
    /// Display name.
    pub name: String,
    /// SHA-256 hex of the admin token; empty once the token is revoked.
    pub admin_token_hash: String,
    /// SHA-256 hex of the token it replaced, while a rotation's overlap
    /// window lasts; empty otherwise.
    pub admin_token_prev_hash: String,
    /// End of the overlap window (ms since the epoch); 0 = none.
    pub admin_token_prev_until: i64,
    /// Allowed origins, ASCII-serialised (`https://shop.example`).
    pub origins: Vec<String>,
}

impl Site {
    /// Whether events from `origin` are allowed.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }

    /// Whether `token` opens this site at `now` (ms): the current token, or
    /// the previous one until its overlap window ends. Both hashes are
    /// always compared (constant time each), so timing tells nothing about
    /// which one matched.
    pub fn token_opens(&self, token: &str, now: i64) -> bool {
        let current = crate::keys::token_matches(token, &self.admin_token_hash);
        let previous = crate::keys::token_matches(token, &self.admin_token_prev_hash);
        current | (previous & (now < self.admin_token_prev_until))
    }
}

impl Db {
    /// Store a new site with its allowed origins; returns its id.
    pub async fn insert_site(
        &self,
        site_key: &str,
        name: &str,
        admin_token_hash: &str,
        origins: &[String],
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query(
                "INSERT INTO sites (site_key, name, admin_token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(site_key)
            .bind(name)
            .bind(admin_token_hash)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            for origin in origins {
                sqlx::query("INSERT INTO site_origins (site_id, origin) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(origin)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Replace the site's admin token hash (rotation): the old token stops
    /// working at once. Also lifts a revocation. Returns whether the site exists.
    pub async fn rotate_admin_token(
        &self,
        site_key: &str,
        new_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.rotate_admin_token_with_overlap(site_key, new_hash, now_ms, now_ms)
            .await
    }

    /// Rotate, keeping the old token valid until `old_valid_until` (ms; no
    /// overlap when it is not after `now_ms`). A token replaced earlier
    /// stops working now either way: only one previous token is kept.
    pub async fn rotate_admin_token_with_overlap(
        &self,
        site_key: &str,
        new_hash: &str,
        now_ms: i64,
        old_valid_until: i64,
    ) -> Result<bool, StoreError> {
        let until = old_valid_until.max(now_ms);
        on_pool!(self, pool => {
            // Right-hand sides read the row as it was: the previous hash is
            // the token being replaced.
            let done = sqlx::query(
                "UPDATE sites SET admin_token_prev_hash = CASE WHEN $4 > $3 THEN admin_token_hash ELSE '' END, \
                 admin_token_prev_until = CASE WHEN $4 > $3 THEN $4 ELSE 0 END, \
                 admin_token_hash = $2, admin_token_rotated_at = $3, admin_token_revoked_at = NULL WHERE site_key = $1",
            )
            .bind(site_key)
            .bind(new_hash)
            .bind(now_ms)
            .bind(until)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Revoke the site's admin token (and a previous one still in its
    /// overlap window): no token opens the site until
    /// [`Db::rotate_admin_token`]. Returns whether the site exists.
    pub async fn revoke_admin_token(
        &self,
        site_key: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => {
            let done = sqlx::query(
                "UPDATE sites SET admin_token_hash = '', admin_token_prev_hash = '', admin_token_prev_until = 0, \
                 admin_token_revoked_at = $2 WHERE site_key = $1",
            )
            .bind(site_key)
            .bind(now_ms)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The site with this public key, if any.
    pub async fn site_by_key(&self, site_key: &str) -> Result<Option<Site>, StoreError> {
        on_pool!(self, pool => {
            let Some(row) = sqlx::query("SELECT id, site_key, name, admin_token_hash, admin_token_prev_hash, admin_token_prev_until FROM sites WHERE site_key = $1")
                .bind(site_key)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let id: i64 = row.try_get("id")?;
            let origins = sqlx::query("SELECT origin FROM site_origins WHERE site_id = $1 ORDER BY origin")
                .bind(id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("origin"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Site {
                id,
                site_key: row.try_get("site_key")?,
                name: row.try_get("name")?,
                admin_token_hash: row.try_get("admin_token_hash")?,
                admin_token_prev_hash: row.try_get("admin_token_prev_hash")?,
                admin_token_prev_until: row.try_get("admin_token_prev_until")?,
                origins,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{hash_token, new_admin_token};

    #[test]
    fn the_previous_token_opens_only_within_its_window() {
        let (old, new) = (new_admin_token(), new_admin_token());
        let site = Site {
            id: 1,
            site_key: "pk_test".into(),
            name: "t".into(),
            admin_token_hash: hash_token(&new),
            admin_token_prev_hash: hash_token(&old),
            admin_token_prev_until: 1_000,
            origins: Vec::new(),
        };
        assert!(site.token_opens(&new, 999) && site.token_opens(&new, 5_000));
        assert!(site.token_opens(&old, 999));
        assert!(!site.token_opens(&old, 1_000), "the window has ended");
        assert!(!site.token_opens("sct_wrong", 0));
        let revoked = Site {
            admin_token_hash: String::new(),
            admin_token_prev_hash: String::new(),
            ..site
        };
        for t in [old.as_str(), new.as_str(), "", " "] {
            assert!(!revoked.token_opens(t, 0));
        }
    }
}

//! A fresh PostgreSQL database for each drill, created on the server that
//! `DATABASE_URL` names and dropped when the drill ends, so a drill never
//! shares tables — or migration history — with the tests or another drill
//! using the same server (the collector's tests do the same with
//! `sc_test_*`). Databases of drills that crashed more than an hour ago are
//! dropped on the way.

use anyhow::Context;
use sqlx::Connection;

/// A database made for one drill.
pub struct FreshDb {
    /// Its URL, for the collector.
    pub url: String,
    admin: String,
    name: String,
}

/// `url` with its database name replaced by `name` (query kept).
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url.split_once("://").context("not a postgres:// URL")?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    Ok(match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    })
}

/// Create `sc_drill_<unix secs>_<random>` on the server of `admin_url`.
pub async fn create(admin_url: &str) -> anyhow::Result<FreshDb> {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")?;
    let now = steadycart_collector::now_ms() / 1000;
    let stale: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'sc_drill_%'")
            .fetch_all(&mut conn)
            .await?;
    for (name,) in stale {
        let secs: i64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if secs + 3600 < now {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
    // `pk_` and 24 lower-case hex digits: the digits are a valid identifier part.
    let suffix = &steadycart_collector::keys::new_site_key()[3..15];
    let name = format!("sc_drill_{now}_{suffix}");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating database {name}"))?;
    conn.close().await?;
    Ok(FreshDb {
        url: with_database(admin_url, &name)?,
        admin: admin_url.to_string(),
        name,
    })
}

impl FreshDb {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drop it (the collector must have stopped).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://root@127.0.0.1:5432/test", "sc_drill_1_a").unwrap(),
            "postgres://root@127.0.0.1:5432/sc_drill_1_a"
        );
        assert_eq!(
            with_database("postgres://127.0.0.1:5432", "d").unwrap(),
            "postgres://127.0.0.1:5432/d"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/test?sslmode=disable", "d").unwrap(),
            "postgresql://u:p@h/d?sslmode=disable"
        );
        assert!(with_database("test", "d").is_err());
    }
}

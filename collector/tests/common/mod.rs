//! Test support: a fresh database per test on each backend, a registered
//! site, and request helpers for `app(state).oneshot(...)`.
#![allow(dead_code)]

use axum::{
    body::Body,
    http::{Request, Response},
    Router,
};
use http_body_util::BodyExt;
use sqlx::Connection;
use steadycart_collector::{config::Config, http::app, keys, store::Db, AppState};
use tower::ServiceExt;

pub mod logs;
pub mod process;
pub mod recovery;
pub mod smtp;
#[allow(unused_imports)]
pub use process::{free_port, Collector};
#[allow(unused_imports)]
pub use smtp::{Inbox, Mode, Received};

/// PostgreSQL server used for tests (a database is created per test).
pub fn pg_admin_url() -> String {
    std::env::var("STEADYCART_TEST_PG")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// A fresh database; call [`TestDb::cleanup`] at the end of the test.
pub struct TestDb {
    pub db: Db,
    /// The database's URL, for a collector started as a child process.
    pub url: String,
    _dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        TestDb {
            db,
            url,
            _dir: dir,
            pg_name: None,
        }
    }

    pub async fn postgres() -> TestDb {
        let admin = pg_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (see .ci/run)");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // Drop databases left by crashed runs more than an hour ago.
        let stale: Vec<(String,)> =
            sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'sc_test_%'")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        for (name,) in stale {
            let secs: u64 = name
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
        let name = format!("sc_test_{now}_{}", rand_suffix());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        TestDb {
            db,
            url,
            _dir: tempfile::tempdir().unwrap(),
            pg_name: Some(name),
        }
    }

    pub async fn cleanup(self) {
        self.db.close().await;
        if let Some(name) = self.pg_name {
            let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

fn rand_suffix() -> String {
    keys::new_site_key()[3..15].to_string()
}

/// Run the same async test body against SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let t = common::TestDb::sqlite().await;
                ($body)(t.db.clone()).await;
                t.cleanup().await;
            }
            #[tokio::test]
            async fn postgres() {
                let t = common::TestDb::postgres().await;
                ($body)(t.db.clone()).await;
                t.cleanup().await;
            }
        }
    };
}

/// A registered site with its secret.
pub struct TestSite {
    pub key: String,
    pub token: String,
    pub id: i64,
}

pub const ORIGIN: &str = "https://shop.example";

pub async fn add_site(db: &Db, origin: &str) -> TestSite {
    let key = keys::new_site_key();
    let token = keys::new_admin_token();
    let id = db
        .insert_site(
            &key,
            "Test shop",
            &keys::hash_token(&token),
            &[origin.to_string()],
            0,
        )
        .await
        .unwrap();
    TestSite { key, token, id }
}

/// The app over `db` with default config. Keep the returned writer task
/// alive for the duration of the test.
pub fn test_app(
    db: Db,
) -> (
    Router,
    AppState,
    steadycart_collector::ingest::writer::WriterTask,
) {
    let (state, writer) = AppState::start(db, Config::default());
    (app(state.clone()), state, writer)
}

pub async fn send(app: &Router, req: Request<Body>) -> (u16, Response<Body>) {
    let res = app.clone().oneshot(req).await.unwrap();
    (res.status().as_u16(), res)
}

pub async fn json_body(res: Response<Body>) -> serde_json::Value {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

pub fn now_ms() -> i64 {
    steadycart_collector::now_ms()
}

/// A valid batch of `n` events with ids derived from `seed`.
pub fn batch_json(seed: u32, n: u32) -> String {
    let now = now_ms();
    let events: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{seed:08x}{i:08x}0000000000000000","ts":{now},"session":"s_test_session_01","page":"/checkout",
                "type":"call","role":"checkout","outcome":"http_error","method":"POST","url":"https://shop.example/api/checkout","status":503,"duration_ms":42}}"#
            )
        })
        .collect();
    format!(
        r#"{{"v":1,"sdk":"test","sent_at":{now},"events":[{}]}}"#,
        events.join(",")
    )
}

pub fn ingest_req(
    key: &str,
    origin: Option<&str>,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut b = Request::post(format!("/v1/ingest?key={key}")).header("content-type", content_type);
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.body(body.into()).unwrap()
}

pub fn admin_req(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

/// Hold the events table of the database at `url` (SQLite: its write
/// lock; PostgreSQL: an exclusive table lock) from another session, so the
/// writer cannot commit, until `release` is sent. Returns once it is held.
pub async fn block_writer(url: &str) -> tokio::sync::oneshot::Sender<()> {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (locked_tx, locked) = tokio::sync::oneshot::channel::<()>();
    let url = url.to_string();
    tokio::spawn(async move {
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            let _ = locked_tx.send(());
            let _ = released.await;
            sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut c).await.unwrap();
            sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            let _ = locked_tx.send(());
            let _ = released.await;
            sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
        }
    });
    locked.await.unwrap();
    release
}

/// Events of [`batch_json`]`(seed, …)` stored for `site_id` (their ids start
/// with the seed).
pub async fn stored_batch(db: &Db, site_id: i64, seed: u32) -> i64 {
    let sql = "SELECT COUNT(*) FROM events WHERE site_id = $1 AND event_id LIKE $2";
    let prefix = format!("{seed:08x}%");
    let n: (i64,) = match db {
        Db::Sqlite(p) => {
            sqlx::query_as(sql)
                .bind(site_id)
                .bind(prefix)
                .fetch_one(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_as(sql)
                .bind(site_id)
                .bind(prefix)
                .fetch_one(p)
                .await
        }
    }
    .unwrap();
    n.0
}

//! The database going away under a running collector (PostgreSQL: the test's
//! database stops accepting connections and its sessions are terminated):
//! ingest answers 503 with `Retry-After` (never 500, never a 2xx for events
//! it could not store), `/readyz` fails, and both recover by themselves once
//! the database is back; every event acknowledged before, during and after
//! the outage is stored.

mod common;

use std::time::{Duration, Instant};

use axum::{body::Body, http::Request};
use common::*;
use sqlx::Connection;

async fn admin_sql(sql: &str) {
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn database_outage_answers_503_and_recovers() {
    let t = TestDb::postgres().await;
    let name = t.url.rsplit('/').next().unwrap().to_string();
    let site = add_site(&t.db, ORIGIN).await;
    let (app, _state, _writer) = test_app(t.db.clone());
    let ingest = |seed| ingest_req(&site.key, None, "application/json", batch_json(seed, 3));
    let ready = || Request::get("/readyz").body(Body::empty()).unwrap();

    let (status, _) = send(&app, ingest(1)).await;
    assert_eq!(status, 200);

    // Outage.
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let started = Instant::now();
    let (status, res) = send(&app, ingest(2)).await;
    assert_eq!(status, 503, "ingest during the outage");
    let after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after), "retry-after {after}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "503 took {:?}",
        started.elapsed()
    );
    let (status, _) = send(&app, ready()).await;
    assert_eq!(status, 503, "readiness during the outage");

    // Back: the same collector recovers without a restart.
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let back = Instant::now();
    loop {
        let (status, _) = send(&app, ingest(2)).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no recovery in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = send(&app, ready()).await;
    assert_eq!(status, 200, "readiness after the outage");
    let (status, _) = send(&app, ingest(3)).await;
    assert_eq!(status, 200);
    assert_eq!(t.db.count_events(site.id).await.unwrap(), 9);
    eprintln!(
        "outage: 503 in {:?}, recovered {:?} after the database returned",
        Duration::ZERO.max(started.elapsed()),
        back.elapsed()
    );
    t.cleanup().await;
}

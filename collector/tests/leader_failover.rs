//! Two collector processes on one PostgreSQL database: only the lease holder
//! runs detection and notification; when it is killed (SIGKILL) in the middle
//! of an incident, the other takes over, and the PagerDuty receiver gets
//! exactly one trigger and one resolve.
//!
//! Robust under load: every event is written before the collectors start
//! (the warm-up buckets lie in the past and are caught up at once; the
//! spike's buckets are rolled up as real time reaches them, so a slow insert
//! can't miss a bucket), buckets are a second long, and every wait is for a
//! condition in the database with a generous timeout — the leader is killed
//! once the trigger is recorded as delivered, and the test ends once the
//! resolve is, so no sleep decides the outcome.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::Collector;
use sqlx::Connection;
use steadycart_collector::{
    detect::traffic::{Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    notify::NotifierConfig,
    signals::{engine, store, SignalsConfig},
    store::{events::EventRow, Db},
};

const BUCKET_MS: i64 = 1000;

/// Bucket of the spike's onset, its first healthy bucket, and the last bucket.
const ONSET: u64 = 14;
const END: u64 = 26;
const TOTAL: u64 = 34;

/// PagerDuty stand-in: records every event body, answers 202.
async fn pagerduty() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use axum::{routing::post, Json, Router};
    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/v2/enqueue",
        post(move |Json(v): Json<serde_json::Value>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(v);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn collector(db_url: &str, pd: &str) -> Collector {
    Collector::spawn([
        "--database-url",
        db_url,
        "--pagerduty-url",
        pd,
        "--signals-bucket-ms",
        &BUCKET_MS.to_string(),
        "--signals-settle-ms",
        "300",
        "--signals-exit-grace-ms",
        "200",
        "--signals-lease-ms",
        "1500",
        "--signals-tick-ms",
        "100",
    ])
}

/// Poll `check` every 50 ms until it gives a value; panic naming `what`
/// after `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < timeout, "no {what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Outbox rows of `action` marked delivered.
async fn delivered(db: &Db, action: &str) -> i64 {
    let Db::Postgres(pool) = db else {
        unreachable!()
    };
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM notify_outbox WHERE action = $1 AND delivered_at IS NOT NULL",
    )
    .bind(action)
    .fetch_one(pool)
    .await
    .unwrap();
    n
}

async fn leader_pid(db: &Db) -> Option<u32> {
    let Db::Postgres(pool) = db else {
        unreachable!()
    };
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = 'signals'")
            .fetch_optional(pool)
            .await
            .unwrap();
    row.filter(|(_, exp)| *exp > common::now_ms())
        .and_then(|(h, _)| h.split('-').next().and_then(|p| p.parse().ok()))
}

#[tokio::test]
async fn killing_the_leader_mid_incident_sends_one_trigger_and_one_resolve() {
    let admin = common::pg_admin_url();
    let name = format!(
        "sc_test_{}_failover{}",
        common::now_ms() / 1000,
        std::process::id()
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();

    let (pd, seen) = pagerduty().await;
    let site = common::add_site(&db, common::ORIGIN).await;
    let key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12";
    store::add_notifier(
        &db,
        site.id,
        &NotifierConfig::Pagerduty {
            routing_key: key.into(),
            severity: None,
        },
        0,
    )
    .await
    .unwrap();

    // Every event up front: the warm-up before now, the spike a few
    // seconds ahead, so that a leader is in place when it begins.
    let spike_at = (common::now_ms() / BUCKET_MS + 5) * BUCKET_MS;
    let start = spike_at - ONSET as i64 * BUCKET_MS;
    let mut g = TrafficGenerator::new(TrafficProfile {
        seed: 21,
        start_ms: start,
        bucket_ms: BUCKET_MS,
        abandon_rate: 0.12,
        error_rate: 0.0,
        spikes: vec![Spike {
            from: ONSET,
            to: END,
            kind: SpikeKind::Abandonment { factor: 4.0 },
        }],
        ..TrafficProfile::default()
    });
    for _ in 0..TOTAL {
        let (_, _, events) = g.next_bucket();
        let rows: Vec<EventRow> = events
            .iter()
            .map(|(at, e)| EventRow {
                site_id: site.id,
                event_id: e.id.clone(),
                session_id: e.session.clone(),
                kind: e.body.kind(),
                client_ts: e.ts,
                received_at: *at,
                body: serde_json::to_string(e).unwrap(),
            })
            .collect();
        db.insert_events(&rows).await.unwrap();
    }
    // The site's rollup starts at the first warm-up bucket.
    let cfg = SignalsConfig {
        bucket: Duration::from_millis(BUCKET_MS as u64),
        ..SignalsConfig::default()
    };
    assert!(!engine::process_bucket(&db, &cfg, site.id, start)
        .await
        .unwrap());

    let mut a = collector(&url, &pd);
    let mut b = collector(&url, &pd);
    let leader = wait_for("a leader", Duration::from_secs(30), || leader_pid(&db)).await;
    assert!(
        leader == a.id() || leader == b.id(),
        "leader {leader} is one of ours"
    );

    // Mid-incident: once the trigger is recorded as delivered, kill whoever
    // leads then, outright.
    wait_for("the trigger delivered", Duration::from_secs(60), || async {
        (delivered(&db, "trigger").await > 0).then_some(())
    })
    .await;
    let leader = leader_pid(&db).await.expect("a leader");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "killed mid-incident, before any resolve"
    );
    let (victim, survivor) = if a.id() == leader {
        (&mut a, b.id())
    } else {
        (&mut b, a.id())
    };
    victim.kill9();

    // The survivor takes the lease over, catches up and resolves.
    wait_for("the resolve delivered", Duration::from_secs(90), || async {
        (delivered(&db, "resolve").await > 0).then_some(())
    })
    .await;
    assert_eq!(leader_pid(&db).await, Some(survivor), "the survivor leads");
    // Both rows are done, so nothing more can be sent: count now.
    let events = seen.lock().unwrap().clone();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "resolve"], "{events:#?}");
    assert_eq!(events[0]["dedup_key"], events[1]["dedup_key"]);
    assert_eq!(events[1]["routing_key"], key);
    let incidents = store::list_incidents(&db, site.id, None, 0, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].status, "resolved");

    drop(a);
    drop(b);
    db.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

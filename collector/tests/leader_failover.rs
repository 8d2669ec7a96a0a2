//! Two collector processes on one PostgreSQL database: only the lease holder
//! runs detection and notification; when it is killed (SIGKILL) in the middle
//! of an incident, the other takes over, and the PagerDuty receiver gets
//! exactly one trigger and one resolve.

mod common;

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::Connection;
use steadycart_collector::{
    detect::traffic::{Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    notify::NotifierConfig,
    signals::store,
    store::{events::EventRow, Db},
};

const BUCKET_MS: i64 = 700;

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn collector(db_url: &str, pd: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--database-url", db_url, "--pagerduty-url", pd])
        .args([
            "--signals-bucket-ms",
            &BUCKET_MS.to_string(),
            "--signals-settle-ms",
            "250",
        ])
        .args([
            "--signals-exit-grace-ms",
            "200",
            "--signals-lease-ms",
            "1500",
            "--signals-tick-ms",
            "100",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("collector binary")
}

/// Kills the child on drop, so a failing test leaves no process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

    let mut a = Guard(collector(&url, &pd));
    let mut b = Guard(collector(&url, &pd));
    // One of them takes the lease.
    let mut leader = None;
    for _ in 0..100 {
        leader = leader_pid(&db).await;
        if leader.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leader = leader.expect("a leader within 10 s");
    assert!(
        leader == a.0.id() || leader == b.0.id(),
        "leader {leader} is one of ours"
    );

    // Real-time traffic: bucket i's events are written as it closes.
    let now = common::now_ms();
    let start = (now / BUCKET_MS + 2) * BUCKET_MS;
    let (onset, end, total) = (14, 26, 34);
    let mut g = TrafficGenerator::new(TrafficProfile {
        seed: 21,
        start_ms: start,
        bucket_ms: BUCKET_MS,
        abandon_rate: 0.12,
        error_rate: 0.0,
        spikes: vec![Spike {
            from: onset,
            to: end,
            kind: SpikeKind::Abandonment { factor: 4.0 },
        }],
        ..TrafficProfile::default()
    });
    let mut killed = None;
    for _ in 0..total {
        let (i, bstart, events) = g.next_bucket();
        let wait = bstart + BUCKET_MS - common::now_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
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
        // Mid-incident: once the trigger is out, kill the leader outright.
        if killed.is_none() && !seen.lock().unwrap().is_empty() {
            let victim = if a.0.id() == leader { &mut a } else { &mut b };
            victim.0.kill().unwrap();
            victim.0.wait().unwrap();
            killed = Some(i);
        }
    }
    let killed = killed.expect("the incident triggered during the spike");
    assert!(
        killed < end,
        "killed at bucket {killed}, before the spike ended"
    );

    // The survivor takes the lease over, catches up and resolves.
    let survivor = if a.0.id() == leader {
        b.0.id()
    } else {
        a.0.id()
    };
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(leader_pid(&db).await, Some(survivor), "the survivor leads");
    // Let any duplicate surface before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
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

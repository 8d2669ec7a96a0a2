//! Fairness under a flood (issue 11): a separate process (`loadgen`) floods
//! one site from one address over loopback while a well-behaved shop's
//! snippet traffic, from another address to another site, goes on. Every one
//! of the well-behaved requests is accepted, the flood gets 429s, nothing the
//! flood was told was accepted is missing, and the collector stays up. On
//! SQLite and PostgreSQL. Assertions are on counts, not on timings.

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use common::*;
use steadycart_collector::config::Config;
use tokio::net::TcpListener;

async fn flood_while_a_shop_reports(t: common::TestDb) {
    let db = t.db.clone();
    let flooded = add_site(&db, ORIGIN).await;
    let shop = add_site(&db, "https://calm-shop.example").await;
    let mut config = Config {
        database_url: Some(t.url.clone()),
        ..Config::default()
    };
    config.signals.enabled = false;
    // A low per-address rate, so the flood is one on a slow shared machine
    // too; the shop stays below it from its own address.
    config.ingest.ip_rate_per_sec = 5;
    config.ingest.ip_burst = 10;
    let (ip_rate, ip_burst) = (config.ingest.ip_rate_per_sec, config.ingest.ip_burst);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(steadycart_collector::serve(listener, config, async {
        let _ = stopped.await;
    }));

    // The flood: another process, as fast as answers come, from 127.0.0.66.
    let mut flood = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--url", &base, "--key", &flooded.key, "--origin", ORIGIN])
        .args([
            "--concurrency",
            "16",
            "--batch",
            "20",
            "--duration-ms",
            "120000",
        ])
        .args([
            "--local-addr",
            "127.0.0.66",
            "--seed",
            "66",
            "--until-stdin-closes",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("loadgen runs");
    // Wait until the flood is under way (its first batches are stored).
    for _ in 0..600 {
        if db.count_events(flooded.id).await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        db.count_events(flooded.id).await.unwrap() > 0,
        "flood never started"
    );

    // The well-behaved shop: 20 batches of 5 events, 4 a second, from 127.0.0.2.
    let http = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    for seed in 0..20 {
        ticker.tick().await;
        let res = http
            .post(format!("{base}/v1/ingest?key={}", shop.key))
            .header("origin", "https://calm-shop.example")
            .header("content-type", "text/plain")
            .body(batch_json(1000 + seed, 5))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }

    // End the flood and read its report.
    drop(flood.stdin.take());
    let out = tokio::task::spawn_blocking(move || flood.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent = report["sent"].as_u64().unwrap();
    let ok = report["ok"].as_u64().unwrap();
    let limited = report["status"]["429"].as_u64().unwrap_or(0);
    let elapsed = report["elapsed_s"].as_f64().unwrap();
    eprintln!("flood: {report}");

    // The shop lost nothing: every batch accepted, every event stored.
    assert!(statuses.iter().all(|s| *s == 200), "shop saw {statuses:?}");
    assert_eq!(db.count_events(shop.id).await.unwrap(), 100);
    // It was a flood: many times the shop's traffic, mostly refused.
    assert!(sent >= 5 * 20, "flood sent only {sent}");
    assert!(limited > ok, "flood: {limited} refused vs {ok} accepted");
    // The flooding address got no more than its bucket allows.
    let allowed = f64::from(ip_burst) + f64::from(ip_rate) * (elapsed + 1.0);
    assert!((ok as f64) <= allowed, "flood accepted {ok} > {allowed}");
    // What the flood was told was accepted is stored, exactly.
    assert_eq!(
        db.count_events(flooded.id).await.unwrap() as u64,
        report["events_accepted"].as_u64().unwrap()
    );
    // And the collector is still up.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    flood_while_a_shop_reports(common::TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    flood_while_a_shop_reports(common::TestDb::postgres().await).await;
}

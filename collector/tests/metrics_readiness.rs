//! `GET /metrics` counts what ingest did (accepted events by site and kind,
//! refusals by reason, latency by route, queue depth, database up) without
//! leaking secrets, and `/readyz` fails while the writer cannot keep up and
//! recovers by itself; on SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use axum::{body::Body, http::Request, Router};
use common::*;
use steadycart_collector::{config::Config, http::app, store::Db, AppState};
use tower::ServiceExt;

fn app_with(
    db: Db,
    tweak: impl FnOnce(&mut Config),
) -> (Router, steadycart_collector::ingest::writer::WriterTask) {
    let mut config = Config::default();
    tweak(&mut config);
    let (state, writer) = AppState::start(db, config);
    (app(state), writer)
}

async fn scrape(app: &Router, token: Option<&str>) -> (u16, String) {
    let mut req = Request::get("/metrics");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (status, res) = send(app, req.body(Body::empty()).unwrap()).await;
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    if status == 200 {
        assert!(ct.unwrap().starts_with("application/openmetrics-text"));
    }
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

both_backends!(metrics_count_what_ingest_did, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _writer) = app_with(db.clone(), |_| {});
    let post = |key: &str, origin: &str, body: String| {
        ingest_req(key, Some(origin), "application/json", body)
    };
    assert_eq!(
        send(&app, post(&site.key, ORIGIN, batch_json(1, 3)))
            .await
            .0,
        200
    );
    assert_eq!(
        send(&app, post(&site.key, ORIGIN, batch_json(2, 2)))
            .await
            .0,
        200
    );
    let unknown = "sk_0000000000000000000000000000";
    assert_eq!(
        send(&app, post(unknown, ORIGIN, batch_json(3, 1))).await.0,
        401
    );
    assert_eq!(
        send(
            &app,
            post(&site.key, "https://evil.example", batch_json(4, 1))
        )
        .await
        .0,
        403
    );
    assert_eq!(send(&app, post(&site.key, ORIGIN, "{".into())).await.0, 400);

    let (status, text) = scrape(&app, None).await;
    assert_eq!(status, 200);
    let key = &site.key;
    for line in [
        format!(r#"steadycart_ingest_events_accepted_total{{site="{key}",kind="call"}} 5"#),
        r#"steadycart_ingest_rejected_total{reason="unknown_key"} 1"#.to_string(),
        r#"steadycart_ingest_rejected_total{reason="origin"} 1"#.to_string(),
        r#"steadycart_ingest_rejected_total{reason="invalid"} 1"#.to_string(),
        r#"steadycart_http_request_duration_seconds_count{method="POST",route="/v1/ingest",status="200"} 2"#.to_string(),
        r#"steadycart_http_request_duration_seconds_count{method="POST",route="/v1/ingest",status="401"} 1"#.to_string(),
        "steadycart_ingest_queue_depth 0".to_string(),
        "steadycart_ingest_queue_capacity 1024".to_string(),
        "steadycart_database_up 1".to_string(),
        "steadycart_writer_commit_events_count 2".to_string(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
    // Only templates as routes, never secrets.
    assert!(!text.contains(&site.token), "{text}");
    assert!(text.contains("steadycart_writer_commit_duration_seconds_bucket"));

    // With a token configured, scrapes need it.
    let (app, _writer2) = app_with(db.clone(), |c| {
        c.metrics_token = Some("scrape-s3cret".into())
    });
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("wrong")).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-s3cret")).await.0, 200);
});

async fn readiness_follows_the_writer(t: TestDb) {
    let site = add_site(&t.db, ORIGIN).await;
    let (app, _writer) = app_with(t.db.clone(), |c| {
        c.ingest.queue_capacity = 4;
        // Every answer here is about the queue, not the wait bound
        // (`ingest_queue_wait.rs`): a batch answered 503 by the bound may
        // still be stored, which the count at the end would not allow.
        c.ingest.max_queue_wait = Duration::from_secs(120);
    });
    let ready = |app: Router| async move {
        app.oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready(app.clone()).await, 200);

    let release = block_writer(&t.url).await;
    // One at a time: the writer takes what is queued when it starts a
    // commit, so sent all at once they could all be taken into the commit
    // that blocks, leaving the queue short of full. Spaced out, the first
    // blocks the writer and the next four fill the queue.
    let mut clients = Vec::new();
    for seed in 0..10 {
        let (app, key) = (app.clone(), site.key.clone());
        clients.push(tokio::spawn(async move {
            send(
                &app,
                ingest_req(&key, None, "application/json", batch_json(100 + seed, 3)),
            )
            .await
            .0
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let mut saw_not_ready = false;
    while started.elapsed() < Duration::from_secs(4) {
        if ready(app.clone()).await == 503 {
            saw_not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = release.send(());
    assert!(
        saw_not_ready,
        "readyz stayed 200 while the writer was stuck"
    );

    let mut accepted = 0;
    for c in clients {
        match c.await.unwrap() {
            200 => accepted += 1,
            503 => {}
            other => panic!("unexpected {other}"),
        }
    }
    let back = Instant::now();
    while ready(app.clone()).await != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "readyz never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        t.db.count_events(site.id).await.unwrap(),
        3 * accepted,
        "every acknowledged event stored, nothing else"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn readiness_follows_the_writer_sqlite() {
    readiness_follows_the_writer(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn readiness_follows_the_writer_postgres() {
    readiness_follows_the_writer(TestDb::postgres().await).await;
}

/// A writer that cannot keep up (held by a lock) fills the bounded queue;
/// batches beyond it are answered at once with 503 and the configured
/// `[ingest] busy_retry_after`, never left to wait, and once the writer is
/// free the queued batches are stored, the refused ones not.
async fn a_full_queue_answers_503_with_the_configured_retry_after(t: TestDb) {
    let site = add_site(&t.db, ORIGIN).await;
    let (app, _writer) = app_with(t.db.clone(), |c| {
        c.ingest.queue_capacity = 2;
        c.ingest.busy_retry_after = Duration::from_secs(7);
    });
    let release = block_writer(&t.url).await;
    let clients: Vec<_> = (0..8)
        .map(|seed| {
            let (app, key) = (app.clone(), site.key.clone());
            tokio::spawn(async move {
                let (status, res) = send(
                    &app,
                    ingest_req(&key, None, "application/json", batch_json(200 + seed, 2)),
                )
                .await;
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                (status, retry_after)
            })
        })
        .collect();
    // The stuck group holds at most what was queued when the writer took
    // it (the first batch and at most one more), the queue two more: at
    // least four are answered while the writer is still held. (Released
    // well before SQLite's 5 s busy timeout would fail the held group.)
    let started = Instant::now();
    let mut refused = 0;
    while refused < 4 && started.elapsed() < Duration::from_secs(3) {
        refused = clients.iter().filter(|c| c.is_finished()).count();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused >= 4,
        "only {refused} of 8 answered while the writer was held"
    );
    let _ = release.send(());
    let mut accepted = 0;
    for c in clients {
        match c.await.unwrap() {
            (200, _) => accepted += 1,
            (503, retry_after) => assert_eq!(retry_after.as_deref(), Some("7")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!((1..=4).contains(&accepted), "{accepted} accepted");
    assert_eq!(
        t.db.count_events(site.id).await.unwrap(),
        2 * accepted,
        "every acknowledged event stored, nothing else"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn a_full_queue_answers_503_with_the_configured_retry_after_sqlite() {
    a_full_queue_answers_503_with_the_configured_retry_after(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn a_full_queue_answers_503_with_the_configured_retry_after_postgres() {
    a_full_queue_answers_503_with_the_configured_retry_after(TestDb::postgres().await).await;
}

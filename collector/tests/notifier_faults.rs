//! Notification targets misbehaving, with real local HTTP receivers, on
//! SQLite and PostgreSQL: a receiver that hangs past the request timeout, one
//! answering 429 with `Retry-After`, one answering 503 then 500, one always
//! down (500) and one rejecting for good (404). The outbox retries with
//! growing backoff and never before `Retry-After`, delivers each accepted
//! notification once (a retry after a timeout carries the same `dedup_key`,
//! so receivers can drop the copy), and turns what it gives up on into dead
//! letters shown by the admin API and the site's metrics.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::Path,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
    Router,
};
use common::*;
use steadycart_collector::{
    notify::{outbox, NotifierConfig},
    signals::{store, SignalsConfig},
    store::Db,
};

/// Every hit per receiver path: (arrival, dedup_key).
type Hits = Arc<Mutex<HashMap<String, Vec<(Instant, String)>>>>;

/// Receivers under `/{name}` behaving as the module doc says.
async fn receivers() -> (String, Hits) {
    let hits: Hits = Default::default();
    let h = hits.clone();
    let app = Router::new().route(
        "/{name}",
        post(move |Path(name): Path<String>, body: String| {
            let h = h.clone();
            async move {
                let key = serde_json::from_str::<serde_json::Value>(&body).unwrap()["dedup_key"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let n = {
                    let mut h = h.lock().unwrap();
                    let list = h.entry(name.clone()).or_default();
                    list.push((Instant::now(), key));
                    list.len()
                };
                let mut headers = HeaderMap::new();
                let status = match (name.as_str(), n) {
                    ("hang", 1) => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        StatusCode::OK
                    }
                    ("throttle", 1) => {
                        headers.insert("retry-after", "2".parse().unwrap());
                        StatusCode::TOO_MANY_REQUESTS
                    }
                    ("flaky", 1) => StatusCode::SERVICE_UNAVAILABLE,
                    ("flaky", 2) => StatusCode::INTERNAL_SERVER_ERROR,
                    ("down", _) => StatusCode::INTERNAL_SERVER_ERROR,
                    ("gone", _) => StatusCode::NOT_FOUND,
                    _ => StatusCode::OK,
                };
                (status, headers, "").into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

const NAMES: [&str; 5] = ["hang", "throttle", "flaky", "down", "gone"];

async fn exec(db: &Db, sql: &str, a: i64, b: i64) -> Option<i64> {
    match db {
        Db::Sqlite(p) => {
            sqlx::query_scalar(sql)
                .bind(a)
                .bind(b)
                .fetch_optional(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar(sql)
                .bind(a)
                .bind(b)
                .fetch_optional(p)
                .await
        }
    }
    .unwrap()
}

both_backends!(webhook_faults_retry_then_dead_letter, |db: Db| async move {
    let (base, hits) = receivers().await;
    let site = add_site(&db, ORIGIN).await;
    let mut notifier = HashMap::new();
    for name in NAMES {
        let hook = NotifierConfig::Webhook {
            url: format!("{base}/{name}"),
            secret: "0123456789abcdef".into(),
        };
        let id = store::add_notifier(&db, site.id, &hook, 0).await.unwrap();
        notifier.insert(id, name);
    }
    let incident = exec(
        &db,
        "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, baseline, observed, peak_ratio, summary, details) \
         VALUES ($1, 'abandonment', 'open', $2, $2, $2, 0.2, 0.6, 3.0, 'test', '{}') RETURNING id",
        site.id,
        0,
    )
    .await
    .unwrap();
    exec(
        &db,
        "INSERT INTO notify_outbox (site_id, incident_id, notifier_id, action, created_at, next_attempt_at) \
         SELECT site_id, $2, id, 'trigger', 0, 0 FROM notifiers WHERE site_id = $1",
        site.id,
        incident,
    )
    .await;

    let cfg = SignalsConfig {
        request_timeout: Duration::from_millis(300),
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        max_attempts: 3,
        ..SignalsConfig::default()
    };
    let http = steadycart_collector::notify::client(&cfg);
    let mut delivered = 0;
    let started = Instant::now();
    loop {
        delivered += outbox::deliver_due(&db, &cfg, &http, now_ms())
            .await
            .unwrap();
        let pending = steadycart_collector::notify::deliveries::counts(&db, site.id)
            .await
            .unwrap()[0]
            .1;
        if pending == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deliveries still pending after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered, 3, "hang, throttle and flaky end up delivered");
    // Nothing is sent again, however late the deliverer runs.
    assert_eq!(
        outbox::deliver_due(&db, &cfg, &http, now_ms() + 86_400_000)
            .await
            .unwrap(),
        0
    );

    let hits = hits.lock().unwrap().clone();
    let count = |n: &str| hits.get(n).map_or(0, Vec::len);
    assert_eq!(count("hang"), 2, "timed out once, then delivered");
    assert_eq!(count("throttle"), 2, "throttled once, then delivered");
    assert_eq!(count("flaky"), 3, "503, 500, then delivered");
    assert_eq!(count("down"), 3, "max_attempts, then given up");
    assert_eq!(count("gone"), 1, "404 is not retried");
    for (name, list) in &hits {
        assert!(
            list.iter().all(|(_, k)| *k == list[0].1),
            "{name}: every attempt carries the same dedup_key"
        );
    }
    let gap = |n: &str, i: usize| hits[n][i].0 - hits[n][i - 1].0;
    assert!(
        gap("throttle", 1) >= Duration::from_secs(2),
        "Retry-After: 2 honoured: {:?}",
        gap("throttle", 1)
    );
    assert!(
        gap("flaky", 1) >= Duration::from_millis(100),
        "backoff 1: {:?}",
        gap("flaky", 1)
    );
    assert!(
        gap("flaky", 2) >= Duration::from_millis(200),
        "backoff 2 doubles: {:?}",
        gap("flaky", 2)
    );

    // Dead letters are visible in the admin API…
    let (app, _state, _writer) = test_app(db.clone());
    let path = format!("/v1/admin/sites/{}/notifications?state=dead", site.key);
    let (status, res) = send(&app, admin_req(&path, Some(&site.token))).await;
    let body = json_body(res).await;
    assert_eq!(status, 200, "{body}");
    let dead = body["notifications"].as_array().unwrap();
    let mut seen: Vec<(&str, i64, &str)> = dead
        .iter()
        .map(|d| {
            assert_eq!(d["state"], "dead");
            assert_eq!(d["incident_id"], incident);
            (
                notifier[&d["notifier_id"].as_i64().unwrap()],
                d["attempts"].as_i64().unwrap(),
                d["last_error"].as_str().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(seen, vec![("down", 3, "HTTP 500"), ("gone", 1, "HTTP 404")]);
    assert_eq!(body["counts"]["dead"], 2, "{body}");
    assert_eq!(body["counts"]["delivered"], 3, "{body}");
    assert_eq!(body["counts"]["pending"], 0, "{body}");
    assert!(!body.to_string().contains(&base), "no receiver URL: {body}");
    let (status, _) = send(
        &app,
        admin_req(
            &format!("/v1/admin/sites/{}/notifications?state=lost", site.key),
            Some(&site.token),
        ),
    )
    .await;
    assert_eq!(status, 400);

    // …and in the site's metrics.
    let (_, res) = send(
        &app,
        admin_req(
            &format!("/v1/admin/sites/{}/metrics", site.key),
            Some(&site.token),
        ),
    )
    .await;
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let metrics = String::from_utf8_lossy(&bytes);
    let line = format!(
        "steadycart_notifications{{site=\"{}\",state=\"dead\"}} 2",
        site.key
    );
    assert!(metrics.contains(&line), "{line} in:\n{metrics}");
});

//! Hostile shopper strings through the whole chain, on SQLite and
//! PostgreSQL: a storefront whose payment API fails, seen through call URLs
//! and exit-survey answers full of HTML, script, Slack markup (`<!channel>`,
//! `<http://…|…>`, `*bold*`), CSV formulas and SQL. The spike's events go
//! through the real ingest endpoint (then are dated back into their bucket,
//! as if they had arrived then); the signals engine opens an incident naming
//! the hostile endpoint; the incident view, the Slack message and the
//! webhook payload are then checked: shown as text everywhere, never as
//! markup, links, pings or SQL — and stored verbatim.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{routing::post, Router};
use common::*;
use http_body_util::BodyExt;
use steadycart_collector::{
    detect::traffic::{Endpoint, Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    notify::{outbox, NotifierConfig},
    signals::{engine, store, SignalsConfig},
    store::{events::EventRow, Db},
};
use steadycart_protocol::EventBody;

const BUCKET_MS: i64 = 2_000;

/// The payment endpoint's URL as a hostile page reports it (no digits, so
/// the endpoint key keeps every segment; no `?`/`#`, which are stripped).
const HOSTILE_URL: &str = "https://shop.example/api/payment/<img src=x onerror=alert(document.domain)>/\
<script>alert(document.cookie)</script>/<!channel>/<http:||evil.example|click here>/*bold* _it_ ~s~/\
';DROP TABLE events;--/=HYPERLINK(\"http:||evil.example\",\"x\")/@here";

/// A hostile free-text survey answer.
const HOSTILE_TEXT: &str =
    "</li><script>alert('survey')</script> <!here> <https://evil.example|pay here> \
*urgent* =cmd|' /C calc'!A0 '); DELETE FROM survey_answers; --";

/// Fragments that would be live markup if any output passed them through.
const LIVE: [&str; 7] = [
    "<img",
    "<script",
    "</script",
    "<!channel>",
    "<!here>",
    "<http:||evil",
    "<https://evil",
];

type Bodies = Arc<Mutex<Vec<(String, String)>>>;

async fn receiver() -> (String, Bodies) {
    let seen: Bodies = Default::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/{name}",
        post(
            move |axum::extract::Path(name): axum::extract::Path<String>, body: String| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push((name, body));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn exec(db: &Db, sql: &str, site: i64, since: i64) {
    match db {
        Db::Sqlite(p) => sqlx::query(sql)
            .bind(site)
            .bind(since)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql)
            .bind(site)
            .bind(since)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

both_backends!(
    hostile_strings_are_inert_along_the_chain,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (base, seen) = receiver().await;
        for n in [
            NotifierConfig::Slack {
                webhook_url: format!("{base}/slack"),
            },
            NotifierConfig::Webhook {
                url: format!("{base}/hook"),
                secret: "0123456789abcdef".into(),
            },
        ] {
            store::add_notifier(&db, site.id, &n, 0).await.unwrap();
        }
        let (app, _state, _writer) = test_app(db.clone());
        let cfg = SignalsConfig {
            bucket: Duration::from_millis(BUCKET_MS as u64),
            settle: Duration::from_millis(200),
            exit_grace: Duration::from_millis(BUCKET_MS as u64 / 3),
            min_backoff: Duration::from_millis(50),
            ..SignalsConfig::default()
        };
        let start = (now_ms() / BUCKET_MS - 60) * BUCKET_MS;
        let mut g = TrafficGenerator::new(TrafficProfile {
            seed: 7,
            start_ms: start,
            bucket_ms: BUCKET_MS,
            error_rate: 0.0,
            spikes: vec![Spike {
                from: 35,
                to: 45,
                kind: SpikeKind::EndpointErrors {
                    endpoint: Endpoint::Payment,
                    rate: 0.5,
                    status: 503,
                },
            }],
            ..TrafficProfile::default()
        });
        assert!(!engine::process_bucket(&db, &cfg, site.id, start)
            .await
            .unwrap());
        let mut answers = 0u32;
        for _ in 0..55 {
            let (i, bstart, mut events) = g.next_bucket();
            for (_, e) in events.iter_mut() {
                if let EventBody::Call(call) = &mut e.body {
                    if call.url.ends_with("/api/payment") {
                        call.url = HOSTILE_URL.to_string();
                    }
                }
            }
            if !(35..45).contains(&i) {
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
            } else {
                // The spike goes through the real ingest path, with a hostile
                // survey answer from one of the shoppers who left.
                let mut json: Vec<serde_json::Value> = events
                    .iter()
                    .map(|(_, e)| serde_json::to_value(e).unwrap())
                    .collect();
                if let Some((_, exit)) = events.iter().find(|(_, e)| e.body == EventBody::PageExit)
                {
                    answers += 1;
                    json.push(serde_json::json!({
                    "id": format!("{:032x}", 0xfeed00 + i), "ts": exit.ts, "session": exit.session,
                    "page": "/checkout", "type": "survey_answered", "trigger": "pointer_top",
                    "answer": {"choice": "payment_failed", "text": HOSTILE_TEXT, "rating": 1},
                    "trouble": {"roles": ["payment"], "endpoints": ["POST /api/payment"], "last_outcome": "http_error", "last_status": 503}
                }));
                }
                let arrived = now_ms();
                for chunk in json.chunks(200) {
                    let body = serde_json::json!({"v": 1, "sdk": "test", "sent_at": now_ms(), "events": chunk});
                    let (status, res) = send(
                        &app,
                        ingest_req(
                            &site.key,
                            Some(ORIGIN),
                            "application/json",
                            body.to_string(),
                        ),
                    )
                    .await;
                    assert_eq!(status, 200, "{}", json_body(res).await);
                }
                // Dated back to when they would have arrived.
                exec(&db, "UPDATE events SET received_at = client_ts WHERE site_id = $1 AND received_at >= $2", site.id, arrived).await;
                exec(&db, "UPDATE survey_answers SET received_at = answered_at WHERE site_id = $1 AND received_at >= $2", site.id, arrived).await;
            }
            let clock = bstart + BUCKET_MS + cfg.settle.as_millis() as i64;
            engine::process_bucket(&db, &cfg, site.id, clock)
                .await
                .unwrap();
        }
        assert!(answers > 0);

        let incidents = store::list_incidents(&db, site.id, None, 0, i64::MAX, 10)
            .await
            .unwrap();
        let inc = incidents
            .iter()
            .find(|i| i.series == "errors")
            .unwrap_or_else(|| panic!("an error incident: {incidents:#?}"));
        let hostile_endpoint = format!("POST {}", &HOSTILE_URL["https://shop.example".len()..]);
        // Stored and reported verbatim: data, not code.
        assert_eq!(
            inc.details.culprits[0].endpoint, hostile_endpoint,
            "{inc:#?}"
        );
        assert!(
            db.count_events(site.id).await.unwrap() > 1000,
            "the SQL stayed data"
        );

        // The incident view shows the strings as text.
        let (status, res) = send(
            &app,
            admin_req(
                &format!("/v1/admin/sites/{}/incidents/view?hours=1", site.key),
                Some(&site.token),
            ),
        )
        .await;
        assert_eq!(status, 200);
        let html = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        assert!(
            html.contains("&lt;img src=x onerror=alert(document.domain)&gt;"),
            "the endpoint is shown, escaped"
        );
        assert!(
            html.contains("&lt;/li&gt;&lt;script&gt;alert(&#39;survey&#39;)"),
            "the answer is shown, escaped"
        );
        for live in LIVE {
            assert!(!html.contains(live), "incident view carries live {live:?}");
        }

        // Slack and the webhook receive the incident.
        let http = steadycart_collector::notify::client(&cfg);
        for _ in 0..20 {
            outbox::deliver_due(&db, &cfg, &http, now_ms())
                .await
                .unwrap();
            if seen.lock().unwrap().len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        let seen = seen.lock().unwrap().clone();
        let slack: Vec<&String> = seen
            .iter()
            .filter(|(n, _)| n == "slack")
            .map(|(_, b)| b)
            .collect();
        assert!(!slack.is_empty(), "Slack was notified");
        for body in &slack {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            let mut texts = vec![v["text"].as_str().unwrap().to_string()];
            for b in v["blocks"].as_array().unwrap() {
                texts.push(b["text"]["text"].as_str().unwrap_or("").to_string());
                for e in b["elements"].as_array().into_iter().flatten() {
                    texts.push(e["text"].as_str().unwrap_or("").to_string());
                }
            }
            let all = texts.join("\n");
            for live in LIVE {
                assert!(
                    !all.contains(live),
                    "Slack message carries live {live:?}: {all}"
                );
            }
            assert!(all.contains("&lt;!channel&gt;"), "{all}");
            // No formatting in the headline…
            assert!(
                !texts[0].contains("*bold*") && !texts[0].contains("_it_"),
                "{all}"
            );
            // …and in the culprit list the endpoint sits in an intact code span.
            if let Some(span) = all.split('`').nth(1) {
                assert!(
                    span.contains("*bold*"),
                    "markup stays inside the code span: {all}"
                );
            }
        }
        let hook: Vec<serde_json::Value> = seen
            .iter()
            .filter(|(n, _)| n == "hook")
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect();
        assert!(!hook.is_empty(), "the webhook was notified");
        assert_eq!(
            hook[0]["incident"]["details"]["culprits"][0]["endpoint"], hostile_endpoint,
            "webhook receivers get the exact string, as JSON data"
        );
    }
);

//! Hostile shopper strings through the whole chain, on SQLite and
//! PostgreSQL: a storefront whose payment API fails, seen through call URLs,
//! cart snapshots (product names, SKUs) and exit-survey answers (free text,
//! choices, email addresses whose local part is a CSV formula with Slack
//! markup) full of HTML, script, Slack markup (`<!channel>`,
//! `<http://…|…>`, `*bold*`), CSV formulas and SQL. The spike's events go
//! through the real ingest endpoint (then are dated back into their bucket,
//! as if they had arrived then); the signals engine opens an incident naming
//! the hostile endpoint; then every place that shows them is checked: the
//! incident view (HTML-escaped), the Slack message (markup neutralised), the
//! webhook and PagerDuty payloads (the exact strings as JSON data), the
//! recovery email (HTML part escaped) and the marketing CSV export (formula
//! cells neutralised) — shown as text everywhere, never as markup, links,
//! pings, formulas or SQL — and stored verbatim.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Body, http::Request, routing::post, Router};
use common::*;
use http_body_util::BodyExt;
use mailparse::MailHeaderMap;
use steadycart_collector::{
    detect::traffic::{Endpoint, Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    notify::{outbox, NotifierConfig},
    recovery::{mailer::Mailer, RecoveryConfig},
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

/// A valid address (as the collector checks them) whose local part is a
/// spreadsheet formula with Slack markup and HTML-special characters.
const HOSTILE_EMAIL: &str = "=cmd|'/C_calc'!A0+*ping*&~x~@shop-mail.example";

/// A second consenting shopper: address and survey choice start like formulas.
const FORMULA_EMAIL: &str = "-1-800+help@shop-mail.example";
const FORMULA_CHOICE: &str = "-1-1";

/// A product name and a SKU (shown when a line has no name) as a hostile
/// storefront page reports them in a cart snapshot.
const HOSTILE_NAME: &str = "<img src=x onerror=alert('cart')> =SUM(A1:A9) *deal* <!channel>";
const HOSTILE_SKU: &str = "<script>alert('sku')</script>";

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
    let pd = s.clone();
    let app = Router::new()
        .route(
            "/pd/v2/enqueue",
            post(move |body: String| {
                let s = pd.clone();
                async move {
                    s.lock().unwrap().push(("pagerduty".into(), body));
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        )
        .route(
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
            NotifierConfig::Pagerduty {
                routing_key: "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12".into(),
                severity: None,
            },
        ] {
            store::add_notifier(&db, site.id, &n, 0).await.unwrap();
        }
        let (app, _state, _writer) = test_app(db.clone());
        // Recovery emails for consenting shoppers (the shop's own settings
        // are trusted; what shoppers and storefront pages send is not).
        let req = Request::put(format!("/v1/admin/sites/{}/recovery/settings", site.key))
            .header("authorization", format!("Bearer {}", site.token))
            .body(Body::from(
                serde_json::json!({"shop_name": "Voltline", "from": "Voltline <shop@shop.example>",
                       "recovery_url": "https://shop.example/cart?recover={token}",
                       "postal_address": "1 Main St, Springfield"})
                .to_string(),
            ))
            .unwrap();
        let (status, res) = send(&app, req).await;
        assert_eq!(status, 200, "{}", json_body(res).await);
        let cfg = SignalsConfig {
            pagerduty_url: format!("{base}/pd"),
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
                    let mut answer = serde_json::json!({"choice": "payment_failed", "text": HOSTILE_TEXT, "rating": 1});
                    // The first two shoppers leave an address with consent;
                    // the first had a cart with hostile names in it.
                    let consent =
                        serde_json::json!({"text": "Email me once it works", "version": "v1"});
                    // Their own sessions, which never completed a checkout
                    // (a completed one gets no recovery email).
                    let mut session = exit.session.clone();
                    if answers <= 2 {
                        session = format!("s_consenting_shopper_{answers}");
                    }
                    if answers == 1 {
                        answer["email"] = HOSTILE_EMAIL.into();
                        answer["consent"] = consent;
                        json.push(serde_json::json!({
                            "id": format!("{:032x}", 0xca7700 + i), "ts": exit.ts - 1, "session": session,
                            "page": "/cart", "type": "cart_snapshot", "currency": "EUR", "items": [
                                {"sku": "VL-HP-01", "name": HOSTILE_NAME, "qty": 2, "unit_price_minor": 1999},
                                {"sku": HOSTILE_SKU, "qty": 1, "unit_price_minor": 500}]
                        }));
                    } else if answers == 2 {
                        answer["email"] = FORMULA_EMAIL.into();
                        answer["consent"] = consent;
                        answer["choice"] = FORMULA_CHOICE.into();
                    }
                    json.push(serde_json::json!({
                    "id": format!("{:032x}", 0xfeed00 + i), "ts": exit.ts, "session": session,
                    "page": "/checkout", "type": "survey_answered", "trigger": "pointer_top",
                    "answer": answer,
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
        assert!(answers > 2, "three or more shoppers answered");

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
            html.contains("&lt;/li&gt;&lt;script&gt;alert(&#x27;survey&#x27;)"),
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
            if seen.lock().unwrap().len() >= 3 {
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

        // PagerDuty: the exact strings as JSON data (quotes, angle brackets
        // and all), in the fields its UI shows as text.
        let pd: Vec<serde_json::Value> = seen
            .iter()
            .filter(|(n, _)| n == "pagerduty")
            .map(|(_, b)| serde_json::from_str(b).expect("PagerDuty gets valid JSON"))
            .collect();
        let trigger = pd
            .iter()
            .find(|v| v["event_action"] == "trigger")
            .unwrap_or_else(|| panic!("a PagerDuty trigger: {pd:#?}"));
        assert_eq!(trigger["payload"]["component"], hostile_endpoint);
        assert_eq!(
            trigger["payload"]["custom_details"]["culprits"][0]["endpoint"],
            hostile_endpoint
        );
        let summary = trigger["payload"]["summary"].as_str().unwrap();
        assert!(
            summary.contains("=HYPERLINK(\"http:||evil.example\",\"x\")"),
            "{summary}"
        );

        // The recovery email: shopper and storefront strings escaped in the
        // HTML part, verbatim in the text part, the address only in `To`.
        let mail_dir = tempfile::tempdir().unwrap();
        let recovery = RecoveryConfig {
            smtp_url: None,
            ..RecoveryConfig::default()
        };
        let mailer = Mailer::new(
            db.clone(),
            recovery,
            mail_dir.path(),
            "http://collector.test".into(),
        )
        .await
        .unwrap();
        let sent = mailer.deliver_due(now_ms() + 7_200_000).await.unwrap();
        let outbox: Vec<(String, Option<String>)> = match &db {
            Db::Sqlite(p) => {
                sqlx::query_as("SELECT status, last_error FROM recovery_outbox")
                    .fetch_all(p)
                    .await
            }
            Db::Postgres(p) => {
                sqlx::query_as("SELECT status, last_error FROM recovery_outbox")
                    .fetch_all(p)
                    .await
            }
        }
        .unwrap();
        assert_eq!(sent, 2, "one email per consenting shopper: {outbox:?}");
        let mut emails = Vec::new();
        for entry in std::fs::read_dir(mail_dir.path().join("recovery-mail")).unwrap() {
            emails.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
        let hostile_mail = emails
            .iter()
            .map(|raw| mailparse::parse_mail(raw).unwrap())
            .find(|m| {
                m.get_headers()
                    .get_first_value("To")
                    .is_some_and(|to| to.contains(HOSTILE_EMAIL))
            })
            .expect("an email to the hostile address");
        let part = |t: &str| {
            hostile_mail
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype == t)
                .unwrap_or_else(|| panic!("no {t} part"))
                .get_body()
                .unwrap()
        };
        let (plain, html) = (part("text/plain"), part("text/html"));
        assert!(
            html.contains("&lt;img src=x onerror=alert(&#x27;cart&#x27;)&gt; =SUM(A1:A9) *deal* &lt;!channel&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(&#x27;sku&#x27;)&lt;/script&gt;"),
            "{html}"
        );
        for live in LIVE {
            assert!(
                !html.contains(live),
                "email HTML carries live {live:?}: {html}"
            );
        }
        assert!(!html.contains("shop-mail.example"), "{html}");
        assert!(plain.contains(HOSTILE_NAME), "{plain}");

        // The CSV export: no cell starts like a formula; values intact
        // behind the neutralising quote.
        let (status, res) = send(
            &app,
            admin_req(
                &format!("/v1/admin/sites/{}/recovery/contacts.csv", site.key),
                Some(&site.token),
            ),
        )
        .await;
        assert_eq!(status, 200);
        let csv_text =
            String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
                .unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "{csv_text}");
        for row in &rows {
            for cell in row.iter() {
                assert!(
                    !matches!(
                        cell.as_bytes().first(),
                        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\0')
                    ),
                    "formula cell {cell:?} in {csv_text}"
                );
            }
        }
        let row = |email: &str| {
            rows.iter()
                .find(|r| r[0] == format!("'{email}"))
                .unwrap_or_else(|| panic!("a row for {email}: {csv_text}"))
        };
        let first = row(HOSTILE_EMAIL);
        assert_eq!(
            &first[7],
            format!("2 × {HOSTILE_NAME}; 1 × {HOSTILE_SKU}").as_str()
        );
        assert!(first[8].contains(HOSTILE_TEXT), "{:?}", &first[8]);
        let second = row(FORMULA_EMAIL);
        assert!(
            second[8].starts_with(&format!("'{FORMULA_CHOICE}; ")),
            "{:?}",
            &second[8]
        );
    }
);

//! Recovery contacts through the real ingest route, on SQLite and
//! PostgreSQL: consented answers become contacts with the session's cart
//! and trouble, answers without consent never do, a completed checkout
//! (same session or same address) cancels the email, unsubscribed
//! addresses stay suppressed, the marketing export (JSON and CSV) pages and
//! neutralises hostile cells, and erasure removes every trace.

mod common;

use axum::{body::Body, http::Request};
use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use steadycart_collector::store::Db;

pub const CONSENT: &str = "Yes — email me when checkout works again.";

fn event(id: &str, session: &str, body: Value) -> Value {
    let mut e = json!({"id": format!("{id:0>32}"), "ts": now_ms(), "session": session, "page": "/checkout"});
    e.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    e
}

fn cart(id: &str, session: &str, name: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "cart_snapshot", "currency": "USD", "items": [
            {"sku": "VL-HP-01", "name": name, "qty": 2, "unit_price_minor": 12900},
            {"sku": "VL-CB-02", "qty": 1, "unit_price_minor": 5900}]}),
    )
}

fn failed_checkout(id: &str, session: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "call", "role": "checkout", "outcome": "http_error", "method": "POST",
               "url": "https://shop.example/api/checkout", "status": 503, "duration_ms": 40}),
    )
}

fn answered(id: &str, session: &str, email: Option<&str>, text: &str) -> Value {
    let mut answer = json!({"choice": "broken", "text": text});
    if let Some(e) = email {
        answer["email"] = json!(e);
        answer["consent"] = json!({"text": CONSENT, "version": "2026-11"});
    }
    event(
        id,
        session,
        json!({"type": "survey_answered", "trigger": "pointer_top", "answer": answer,
               "trouble": {"roles": ["checkout"], "endpoints": ["POST /api/checkout"],
                           "last_outcome": "http_error", "last_status": 503}}),
    )
}

fn completed(id: &str, session: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "checkout_completed", "order_id": "A-1"}),
    )
}

async fn ingest(app: &axum::Router, key: &str, events: Vec<Value>) {
    let batch = json!({"v": 1, "sdk": "test", "sent_at": now_ms(), "events": events});
    let (status, res) = send(
        app,
        ingest_req(key, Some(ORIGIN), "application/json", batch.to_string()),
    )
    .await;
    assert_eq!(status, 200, "{}", json_body(res).await);
}

async fn export(app: &axum::Router, site: &TestSite, query: &str) -> Value {
    let (status, res) = send(
        app,
        admin_req(
            &format!("/v1/admin/sites/{}/recovery/contacts{query}", site.key),
            Some(&site.token),
        ),
    )
    .await;
    assert_eq!(status, 200);
    json_body(res).await
}

async fn outbox(db: &Db, site_id: i64) -> Vec<(String, String)> {
    let sql = "SELECT session_id, status FROM recovery_outbox WHERE site_id = $1 ORDER BY id";
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).bind(site_id).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).bind(site_id).fetch_all(p).await,
    }
    .unwrap()
}

/// How many rows of `table` mention `needle` anywhere (any text column).
async fn mentions(db: &Db, table: &str, cols: &[&str], needle: &str) -> i64 {
    let cond = cols
        .iter()
        .map(|c| format!("lower(COALESCE({c}, '')) LIKE $1"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE {cond}");
    let pat = format!("%{}%", needle.to_lowercase());
    let n: (i64,) = match db {
        Db::Sqlite(p) => sqlx::query_as(&sql).bind(pat).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_as(&sql).bind(pat).fetch_one(p).await,
    }
    .unwrap();
    n.0
}

both_backends!(
    consented_answer_becomes_a_contact_with_cart_and_trouble,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        let s = "s_recovery_session_1";
        ingest(
            &app,
            &site.key,
            vec![
                cart("a1", s, "Aurora Headphones"),
                failed_checkout("a2", s),
                answered("a3", s, Some("Ann@Example.com"), "pay button broke"),
            ],
        )
        .await;
        // The same batch again (a resend) changes nothing.
        ingest(
            &app,
            &site.key,
            vec![answered(
                "a3",
                s,
                Some("Ann@Example.com"),
                "pay button broke",
            )],
        )
        .await;
        let page = export(&app, &site, "").await;
        let contacts = page["contacts"].as_array().unwrap();
        assert_eq!(contacts.len(), 1, "{page}");
        let c = &contacts[0];
        assert_eq!(c["email"], "Ann@Example.com");
        assert_eq!(c["consent_text"], CONSENT);
        assert_eq!(c["consent_version"], "2026-11");
        assert_eq!(c["status"], "pending");
        assert_eq!(c["cart"]["value_minor"], 31700);
        assert_eq!(c["cart"]["currency"], "USD");
        assert_eq!(c["cart"]["items"][0]["name"], "Aurora Headphones");
        assert_eq!(c["reason"]["choice"], "broken");
        assert_eq!(c["reason"]["endpoints"][0], "POST /api/checkout");
        assert_eq!(c["reason"]["last_status"], 503);
        assert_eq!(
            outbox(&db, site.id).await,
            vec![(s.to_string(), "queued".to_string())]
        );

        // The same address in a later session is the same contact, with a
        // second email queued for the new abandonment.
        let s2 = "s_recovery_session_2";
        ingest(
            &app,
            &site.key,
            vec![answered("b1", s2, Some("ann@example.com"), "again")],
        )
        .await;
        let page = export(&app, &site, "").await;
        assert_eq!(page["contacts"].as_array().unwrap().len(), 1);
        assert_eq!(page["contacts"][0]["email"], "ann@example.com");
        assert_eq!(outbox(&db, site.id).await.len(), 2);
    }
);

both_backends!(
    an_answer_without_consent_is_never_a_contact,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        let s = "s_recovery_no_consent";
        ingest(
            &app,
            &site.key,
            vec![
                cart("c1", s, "Lamp"),
                failed_checkout("c2", s),
                answered("c3", s, None, "no thanks"),
            ],
        )
        .await;
        // An email without consent is refused outright.
        let mut sneaky = answered("c4", s, Some("bob@example.com"), "x");
        sneaky["answer"].as_object_mut().unwrap().remove("consent");
        let batch = json!({"v": 1, "sdk": "test", "sent_at": now_ms(), "events": [sneaky]});
        let (status, _) = send(
            &app,
            ingest_req(
                &site.key,
                Some(ORIGIN),
                "application/json",
                batch.to_string(),
            ),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(export(&app, &site, "").await["contacts"], json!([]));
        assert!(outbox(&db, site.id).await.is_empty());
        assert_eq!(
            mentions(&db, "recovery_contacts", &["email"], "bob@").await,
            0
        );
    }
);

both_backends!(
    a_completed_checkout_cancels_the_email_and_recovers_the_contact,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        // Same session completes after answering.
        ingest(
            &app,
            &site.key,
            vec![
                failed_checkout("d1", "s_complete_same_1"),
                answered("d2", "s_complete_same_1", Some("cara@example.com"), ""),
            ],
        )
        .await;
        ingest(&app, &site.key, vec![completed("d3", "s_complete_same_1")]).await;
        // Same address completes in another session (it answered there too).
        ingest(
            &app,
            &site.key,
            vec![answered(
                "e1",
                "s_complete_addr_1",
                Some("dan@example.com"),
                "",
            )],
        )
        .await;
        ingest(
            &app,
            &site.key,
            vec![
                answered("e2", "s_complete_addr_2", Some("DAN@example.com"), ""),
                completed("e3", "s_complete_addr_2"),
            ],
        )
        .await;
        // A session that already completed never queues an email.
        ingest(
            &app,
            &site.key,
            vec![
                completed("f1", "s_complete_first"),
                answered("f2", "s_complete_first", Some("eve@example.com"), ""),
            ],
        )
        .await;
        // An unrelated session stays queued.
        ingest(
            &app,
            &site.key,
            vec![answered(
                "g1",
                "s_unrelated_1_session",
                Some("fay@example.com"),
                "",
            )],
        )
        .await;

        let page = export(&app, &site, "").await;
        let status: Vec<(String, String)> = page["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["email"].as_str().unwrap().to_lowercase(),
                    c["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            status,
            vec![
                ("cara@example.com".into(), "recovered".into()),
                ("dan@example.com".into(), "recovered".into()),
                ("eve@example.com".into(), "recovered".into()),
                ("fay@example.com".into(), "pending".into()),
            ]
        );
        let rows = outbox(&db, site.id).await;
        let queued: Vec<&str> = rows
            .iter()
            .filter(|(_, st)| st == "queued")
            .map(|(s, _)| s.as_str())
            .collect();
        assert_eq!(queued, vec!["s_unrelated_1_session"], "{rows:?}");
    }
);

both_backends!(
    an_unsubscribed_address_never_comes_back,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let other = add_site(&db, "https://other-shop.example").await;
        let (app, _state, _writer) = test_app(db.clone());
        ingest(
            &app,
            &site.key,
            vec![answered(
                "h1",
                "s_unsub_1_session",
                Some("gus@example.com"),
                "",
            )],
        )
        .await;
        let id = export(&app, &site, "").await["contacts"][0]["id"]
            .as_i64()
            .unwrap();
        assert!(db
            .recovery_unsubscribe(site.id, id, now_ms())
            .await
            .unwrap());
        assert_eq!(export(&app, &site, "").await["contacts"], json!([]));
        assert!(outbox(&db, site.id).await.is_empty());
        // A later consented answer from the same address (any case) stays out.
        ingest(
            &app,
            &site.key,
            vec![answered(
                "h2",
                "s_unsub_2_session",
                Some("Gus@Example.com"),
                "",
            )],
        )
        .await;
        assert_eq!(export(&app, &site, "").await["contacts"], json!([]));
        assert!(outbox(&db, site.id).await.is_empty());
        // The suppression list keeps no readable address.
        assert_eq!(
            mentions(
                &db,
                "recovery_suppressions",
                &["email_hash", "reason"],
                "gus"
            )
            .await,
            0
        );
        // Suppression is per site.
        let batch = json!({"v": 1, "sdk": "test", "sent_at": now_ms(),
            "events": [answered("h3", "s_unsub_3_session", Some("gus@example.com"), "")]});
        let (status, _) = send(
            &app,
            ingest_req(
                &other.key,
                Some("https://other-shop.example"),
                "application/json",
                batch.to_string(),
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            export(&app, &other, "").await["contacts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

async fn csv_page(app: &axum::Router, site: &TestSite, query: &str) -> (String, Option<String>) {
    let (status, res) = send(
        app,
        admin_req(
            &format!("/v1/admin/sites/{}/recovery/contacts.csv{query}", site.key),
            Some(&site.token),
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let next = res
        .headers()
        .get("x-next-cursor")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(bytes.to_vec()).unwrap(), next)
}

both_backends!(
    csv_export_neutralises_hostile_cells_and_pages,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        // Hostile values everywhere a shopper or storefront can put them;
        // the address itself is valid and starts with a formula lead.
        let hostile_name = "=HYPERLINK(\"http://evil.example\",\"x\"), \"quoted\"";
        let hostile_text = "@SUM(A1:A9)\r\n=1+1";
        ingest(
            &app,
            &site.key,
            vec![
                cart("i1", "s_csv_1_sessionx", hostile_name),
                answered(
                    "i2",
                    "s_csv_1_sessionx",
                    Some("=cmd@example.com"),
                    hostile_text,
                ),
                answered("i3", "s_csv_2_sessionx", Some("+plus@example.com"), "-2+3"),
                answered("i4", "s_csv_3_sessionx", Some("plain@example.com"), "fine"),
            ],
        )
        .await;
        let (text, next) = csv_page(&app, &site, "").await;
        assert_eq!(next, None);
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header[0], "Email");
        assert_eq!(header[2], "Email Marketing Consent");
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        for row in &rows {
            for cell in row.iter() {
                assert!(
                    !matches!(
                        cell.as_bytes().first(),
                        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                    ),
                    "formula cell {cell:?} in {text}"
                );
            }
        }
        // Values round-trip: neutralised with a leading ' and otherwise intact.
        assert_eq!(&rows[0][0], "'=cmd@example.com");
        assert_eq!(&rows[0][2], "Subscribed");
        assert_eq!(&rows[0][5], "317.00");
        assert_eq!(&rows[0][6], "USD");
        assert_eq!(
            &rows[0][7],
            format!("2 × {hostile_name}; 1 × VL-CB-02").as_str()
        );
        assert!(
            rows[0][8].starts_with("broken; @SUM(A1:A9)"),
            "{:?}",
            &rows[0][8]
        );
        assert_eq!(&rows[1][0], "'+plus@example.com");
        assert_eq!(&rows[2][0], "plain@example.com");
        assert_eq!(&rows[2][9], "pending");

        // Pages of two: the cursor walks all three, each page with a header.
        let (first, next) = csv_page(&app, &site, "?limit=2").await;
        assert_eq!(first.lines().filter(|l| l.starts_with("Email,")).count(), 1);
        let next = next.expect("a full page has a next cursor");
        let (second, after) = csv_page(&app, &site, &format!("?limit=2&after={next}")).await;
        assert_eq!(after, None);
        assert!(second.contains("plain@example.com") && !second.contains("cmd@"));
        // `since` keeps only contacts changed since then.
        let future = now_ms() + 60_000;
        let (none, _) = csv_page(&app, &site, &format!("?since={future}")).await;
        assert_eq!(none.lines().count(), 1, "{none}");
    }
);

both_backends!(
    erasure_removes_every_trace_of_the_address,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        let email = "Hal.Erase@example.com";
        ingest(
            &app,
            &site.key,
            vec![
                cart("j1", "s_erase_1_session", "Lamp"),
                answered("j2", "s_erase_1_session", Some(email), "text stays"),
                answered("j3", "s_erase_2_session", Some("hal.erase@EXAMPLE.com"), ""),
                answered("j4", "s_keep_1_session", Some("keep@example.com"), ""),
            ],
        )
        .await;
        assert!(mentions(&db, "events", &["body"], "hal.erase@").await > 0);
        let path = format!("/v1/admin/sites/{}/recovery/erase", site.key);
        let req = Request::post(&path)
            .header("authorization", format!("Bearer {}", site.token))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"email": "HAL.ERASE@example.com"}).to_string(),
            ))
            .unwrap();
        let (status, res) = send(&app, req).await;
        assert_eq!(status, 200);
        let report = json_body(res).await;
        assert_eq!(report["contacts"], 1, "{report}");
        assert_eq!(report["answers"], 2, "{report}");
        assert_eq!(report["events"], 2, "{report}");
        assert_eq!(report["mails"], 2, "{report}");
        for (table, cols) in [
            ("events", &["body"][..]),
            ("survey_answers", &["email", "consent_text"][..]),
            ("recovery_contacts", &["email", "email_norm"][..]),
            ("recovery_outbox", &["last_error", "message_id"][..]),
        ] {
            assert_eq!(
                mentions(&db, table, cols, "hal.erase@").await,
                0,
                "{table} still mentions the address"
            );
        }
        // The answers themselves (and everything else) stay.
        assert_eq!(
            mentions(&db, "survey_answers", &["free_text"], "text stays").await,
            1
        );
        let left = export(&app, &site, "").await;
        assert_eq!(left["contacts"].as_array().unwrap().len(), 1);
        assert_eq!(left["contacts"][0]["email"], "keep@example.com");
        assert_eq!(outbox(&db, site.id).await.len(), 1);
        // No email in the request: 400 naming the field.
        let req = Request::post(&path)
            .header("authorization", format!("Bearer {}", site.token))
            .body(Body::from("{}"))
            .unwrap();
        let (status, res) = send(&app, req).await;
        assert_eq!(status, 400);
        assert_eq!(json_body(res).await["field"], "email");
    }
);

fn identify(id: &str, session: &str, email: &str, version: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "identify", "email": email,
               "consent": {"text": "Email me about my order", "version": version}}),
    )
}

both_backends!(
    identify_with_consent_makes_or_refreshes_a_contact,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        // A survey answer first, then the app identifies the same address in
        // a later session with a newer consent text: one contact, refreshed.
        ingest(
            &app,
            &site.key,
            vec![
                failed_checkout("k1", "s_ident_first_01"),
                answered("k2", "s_ident_first_01", Some("kim@example.com"), "x"),
            ],
        )
        .await;
        ingest(
            &app,
            &site.key,
            vec![
                cart("k3", "s_ident_second_1", "Lamp"),
                identify("k4", "s_ident_second_1", "KIM@example.com", "app-4"),
            ],
        )
        .await;
        let page = export(&app, &site, "").await;
        let contacts = page["contacts"].as_array().unwrap();
        assert_eq!(contacts.len(), 1, "{page}");
        let c = &contacts[0];
        assert_eq!(c["email"], "KIM@example.com");
        assert_eq!(c["consent_text"], "Email me about my order");
        assert_eq!(c["consent_version"], "app-4");
        assert_eq!(c["status"], "pending");
        // The new session's cart; the old session's answer is not its reason.
        assert_eq!(c["cart"]["items"][0]["name"], "Lamp", "{c}");
        assert_eq!(c["reason"]["choice"], Value::Null, "{c}");
        assert_eq!(outbox(&db, site.id).await.len(), 2);

        // Identify without consent is refused: no contact, nothing stored.
        let batch = json!({"v": 1, "sdk": "test", "sent_at": now_ms(), "events": [
            event("k5", "s_ident_noconsent", json!({"type": "identify", "email": "lou@example.com"}))]});
        let (status, _) = send(
            &app,
            ingest_req(
                &site.key,
                Some(ORIGIN),
                "application/json",
                batch.to_string(),
            ),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            mentions(&db, "recovery_contacts", &["email"], "lou@").await,
            0
        );
        assert_eq!(mentions(&db, "events", &["body"], "lou@").await, 0);

        // An unsubscribed address stays out, identify or not.
        let id = c["id"].as_i64().unwrap();
        assert!(db
            .recovery_unsubscribe(site.id, id, now_ms())
            .await
            .unwrap());
        ingest(
            &app,
            &site.key,
            vec![identify(
                "k6",
                "s_ident_third_01",
                "kim@example.com",
                "app-4",
            )],
        )
        .await;
        assert_eq!(export(&app, &site, "").await["contacts"], json!([]));

        // Erasure also blanks the address inside stored identify events.
        ingest(
            &app,
            &site.key,
            vec![identify(
                "k7",
                "s_ident_erase_01",
                "max@example.com",
                "app-4",
            )],
        )
        .await;
        assert!(mentions(&db, "events", &["body"], "max@example.com").await > 0);
        let req = Request::post(format!("/v1/admin/sites/{}/recovery/erase", site.key))
            .header("authorization", format!("Bearer {}", site.token))
            .body(Body::from(r#"{"email":"Max@example.com"}"#))
            .unwrap();
        let (status, res) = send(&app, req).await;
        assert_eq!(status, 200);
        assert_eq!(json_body(res).await["contacts"], 1);
        for (table, cols) in [
            ("events", &["body"][..]),
            ("recovery_contacts", &["email", "email_norm"][..]),
        ] {
            assert_eq!(mentions(&db, table, cols, "max@").await, 0, "{table}");
        }
        // The events stay readable through the admin API.
        let (status, _) = send(
            &app,
            admin_req(
                &format!("/v1/admin/sites/{}/events", site.key),
                Some(&site.token),
            ),
        )
        .await;
        assert_eq!(status, 200);
    }
);

/// A consented answer without a choice, so `text` leads the Reason cell.
fn answered_text_only(id: &str, session: &str, email: &str, text: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "survey_answered", "trigger": "pointer_top",
               "answer": {"text": text, "email": email,
                          "consent": {"text": CONSENT, "version": "2026-11"}}}),
    )
}

both_backends!(
    csv_cells_led_by_tab_cr_minus_and_html_round_trip_neutralised,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        let html_name = "<img src=x onerror=alert(1)> \"Lamp\", 2";
        let texts = [
            "\t=cmd|' /C calc'!A0",
            "\r=HYPERLINK(\"http://evil.example\")",
            "-2+3",
            "+1",
            "@SUM(A1)",
            "=1+1",
            "<b>bold</b>, \"quoted\"\r\nnext line",
        ];
        let mut events = vec![cart("m0", "s_csv_lead_00_sess", html_name)];
        for (i, text) in texts.iter().enumerate() {
            events.push(answered_text_only(
                &format!("m{}", i + 1),
                &format!("s_csv_lead_{i:02}_sess"),
                &format!("lead{i}@example.com"),
                text,
            ));
        }
        ingest(&app, &site.key, events).await;
        let (text, _) = csv_page(&app, &site, "").await;
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), texts.len(), "{text}");
        for (row, original) in rows.iter().zip(texts) {
            let reason = &row[8];
            // A formula lead gets a leading ', everything else is verbatim.
            let expected = match original.as_bytes()[0] {
                b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' => format!("'{original}"),
                _ => original.to_string(),
            };
            assert_eq!(reason, expected, "{text}");
            for cell in row.iter() {
                assert!(
                    !matches!(
                        cell.as_bytes().first(),
                        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                    ),
                    "formula cell {cell:?}"
                );
            }
        }
        // The HTML, quotes and comma of a product name survive as text (names
        // may not contain control characters: the ingest refuses them).
        assert_eq!(
            &rows[0][7],
            format!("2 × {html_name}; 1 × VL-CB-02").as_str()
        );
    }
);

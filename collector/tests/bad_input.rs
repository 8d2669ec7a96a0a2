//! Issue 5's bad-input list, each case through the real router on SQLite and
//! PostgreSQL: the documented status every time, the offending field named,
//! nothing from a refused batch stored, nothing accepted before lost, and
//! the collector still serving afterwards. (Floods from one IP → 429 are in
//! `rate_limits.rs` and `flood_fairness.rs`; unknown keys, wrong origins and
//! duplicates in `ingest_api.rs`.)

mod common;

use axum::body::Body;
use common::*;
use futures_util::stream;
use steadycart_collector::store::Db;

async fn status_and_field(app: &axum::Router, key: &str, body: Body) -> (u16, serde_json::Value) {
    let (status, res) = send(app, ingest_req(key, Some(ORIGIN), "application/json", body)).await;
    let json = json_body(res).await;
    (status, json.get("field").cloned().unwrap_or_default())
}

both_backends!(every_bad_input_gets_its_status, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    // Something accepted before the onslaught.
    let (status, _) = send(
        &app,
        ingest_req(
            &site.key,
            Some(ORIGIN),
            "application/json",
            batch_json(1, 4),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let good = batch_json(2, 1);
    let cases: Vec<(&str, Body, u16, &str)> = vec![
        (
            "malformed JSON",
            Body::from("{\"v\":1,\"events\":[{"),
            400,
            "events",
        ),
        ("not JSON at all", Body::from("<html>"), 400, "body"),
        (
            "wrong type",
            Body::from(good.replace("\"ts\":", "\"ts\":\"x\",\"_\":")),
            400,
            "events[0].ts",
        ),
        (
            "missing events",
            Body::from(r#"{"v":1,"sent_at":1}"#),
            400,
            "events",
        ),
        (
            "missing id",
            Body::from(good.replace("\"id\":", "\"not_id\":")),
            400,
            "events[0].id",
        ),
        (
            "version as text",
            Body::from(good.replace("\"v\":1", "\"v\":\"1\"")),
            400,
            "v",
        ),
        (
            "unknown version",
            Body::from(good.replace("\"v\":1", "\"v\":3")),
            400,
            "v",
        ),
        (
            "invalid UTF-8",
            Body::from(b"{\"v\":1,\"sdk\":\"\xff\xfe\xfd\"}".to_vec()),
            400,
            "body",
        ),
        (
            "deeply nested JSON",
            Body::from(good.replace(
                "\"page\":",
                &format!(
                    "\"x\":{}{},\"page\":",
                    "[".repeat(200_000),
                    "]".repeat(200_000)
                ),
            )),
            413,
            "",
        ),
        (
            "nested below the body limit",
            Body::from(good.replace(
                "\"page\":",
                &format!(
                    "\"x\":{}{},\"page\":",
                    "[".repeat(60_000),
                    "]".repeat(60_000)
                ),
            )),
            400,
            "events[0].x",
        ),
        (
            "100 KB page",
            Body::from(good.replace("\"/checkout\"", &format!("\"/{}\"", "a".repeat(100_000)))),
            400,
            "events[0].page",
        ),
        (
            "10 MB body, no length, streamed",
            Body::from_stream(stream::iter(
                (0..160).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])),
            )),
            413,
            "",
        ),
    ];
    for (name, body, expected, field) in cases {
        let (status, got) = status_and_field(&app, &site.key, body).await;
        assert_eq!(status, expected, "{name}");
        if !field.is_empty() {
            assert!(
                got.as_str().is_some_and(|f| f.starts_with(field)),
                "{name}: field {got} instead of {field}"
            );
        }
    }
    // A 100 KB string in a field this version does not know is ignored
    // (forward compatibility): the event is stored, the string is not.
    let long_unknown = good.replace(
        "\"page\":",
        &format!("\"future\":\"{}\",\"page\":", "z".repeat(100_000)),
    );
    let (status, _) = status_and_field(&app, &site.key, Body::from(long_unknown)).await;
    assert_eq!(status, 200);
    let (_, res) = send(
        &app,
        admin_req(
            &format!("/v1/admin/sites/{}/events?limit=1000", site.key),
            Some(&site.token),
        ),
    )
    .await;
    let page = json_body(res).await;
    assert!(!page.to_string().contains("zzzzzzzzzz"));
    // Nothing refused was stored; what was accepted is all there.
    assert_eq!(db.count_events(site.id).await.unwrap(), 5);
    // And the collector still takes good batches.
    let (status, _) = status_and_field(&app, &site.key, Body::from(batch_json(3, 2))).await;
    assert_eq!(status, 200);
    assert_eq!(db.count_events(site.id).await.unwrap(), 7);
});

both_backends!(
    hostile_strings_are_stored_verbatim_everywhere,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = test_app(db.clone());
        let cases = [
            "<script>alert(document.cookie)</script>",
            "=HYPERLINK(\\\"http://evil.example\\\",\\\"x\\\")",
            "+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3",
            "'; DROP TABLE events; --",
            "<@U12345> <!channel> *bold* <http://evil|click>",
            "\\u0000\\u202e\\ud83d\\ude00",
        ];
        for (i, hostile) in cases.iter().enumerate() {
            let body = batch_json(50 + i as u32, 1)
                .replace(
                    "\"url\":\"https://shop.example/api/checkout\"",
                    &format!("\"url\":\"{hostile}\"",),
                )
                .replace("\"page\":\"/checkout\"", &format!("\"page\":\"{hostile}\""));
            let (status, _) = status_and_field(&app, &site.key, Body::from(body)).await;
            assert_eq!(status, 200, "{hostile}");
        }
        let (_, res) = send(
            &app,
            admin_req(
                &format!("/v1/admin/sites/{}/events", site.key),
                Some(&site.token),
            ),
        )
        .await;
        let page = json_body(res).await;
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), cases.len());
        for (e, hostile) in events.iter().zip(cases) {
            let expected: String = serde_json::from_str(&format!("\"{hostile}\"")).unwrap();
            assert_eq!(e["event"]["page"], expected);
            assert_eq!(e["event"]["url"], expected);
        }
    }
);

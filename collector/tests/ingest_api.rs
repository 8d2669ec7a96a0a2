//! Ingest and admin read through `app(state).oneshot(...)`, on SQLite and
//! PostgreSQL.

mod common;

use common::*;
use steadycart_collector::store::Db;

both_backends!(ingest_then_admin_read, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let (status, res) = send(
        &app,
        ingest_req(
            &site.key,
            Some(ORIGIN),
            "text/plain;charset=UTF-8",
            batch_json(1, 3),
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    let body = json_body(res).await;
    assert_eq!(body["accepted"], 3);

    let (status, res) = send(
        &app,
        admin_req(
            &format!("/v1/admin/sites/{}/events", site.key),
            Some(&site.token),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let page = json_body(res).await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["event"]["type"], "call");
    assert_eq!(events[0]["event"]["status"], 503);
    assert!(events[0]["received_at"].as_i64().unwrap() > 0);
});

both_backends!(resent_batches_are_stored_once, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    for _ in 0..3 {
        let (status, _) = send(
            &app,
            ingest_req(
                &site.key,
                Some(ORIGIN),
                "application/json",
                batch_json(7, 5),
            ),
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(db.count_events(site.id).await.unwrap(), 5);
});

both_backends!(admin_pages_with_cursor, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    send(
        &app,
        ingest_req(
            &site.key,
            Some(ORIGIN),
            "application/json",
            batch_json(2, 5),
        ),
    )
    .await;
    let base = format!("/v1/admin/sites/{}/events?limit=2", site.key);
    let mut seen = 0;
    let mut path = base.clone();
    loop {
        let (status, res) = send(&app, admin_req(&path, Some(&site.token))).await;
        assert_eq!(status, 200);
        let page = json_body(res).await;
        seen += page["events"].as_array().unwrap().len();
        match page["next"].as_i64() {
            Some(next) => path = format!("{base}&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, 5);
});

both_backends!(credentials_and_origins_are_enforced, |db: Db| async move {
    let a = add_site(&db, ORIGIN).await;
    let b = add_site(&db, "https://other.example").await;
    let (app, _state, _writer) = test_app(db.clone());

    let (status, res) = send(
        &app,
        ingest_req(
            "pk_000000000000000000000000",
            Some(ORIGIN),
            "application/json",
            batch_json(1, 1),
        ),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(json_body(res).await["error"], "unknown site key");

    let req = axum::http::Request::post("/v1/ingest")
        .body(axum::body::Body::from(batch_json(1, 1)))
        .unwrap();
    assert_eq!(send(&app, req).await.0, 401);

    let (status, res) = send(
        &app,
        ingest_req(
            &a.key,
            Some("https://evil.example"),
            "application/json",
            batch_json(1, 1),
        ),
    )
    .await;
    assert_eq!(status, 403);
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Referer stands in for a missing Origin.
    let req = axum::http::Request::post(format!("/v1/ingest?key={}", a.key))
        .header("referer", "https://evil.example/cart?x=1")
        .body(axum::body::Body::from(batch_json(1, 1)))
        .unwrap();
    assert_eq!(send(&app, req).await.0, 403);

    let events_a = format!("/v1/admin/sites/{}/events", a.key);
    assert_eq!(send(&app, admin_req(&events_a, None)).await.0, 401);
    assert_eq!(
        send(&app, admin_req(&events_a, Some(&b.token))).await.0,
        401,
        "site B's token must not read site A"
    );
    assert_eq!(
        send(&app, admin_req(&events_a, Some("sct_guess"))).await.0,
        401
    );
    assert_eq!(
        send(&app, admin_req(&events_a, Some(&a.token))).await.0,
        200
    );
    assert_eq!(
        db.count_events(a.id).await.unwrap(),
        0,
        "nothing rejected was stored"
    );
});

both_backends!(bad_input_gets_a_clear_status, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let post = |ct: &str, body: Vec<u8>| ingest_req(&site.key, Some(ORIGIN), ct, body);

    let (status, res) = send(
        &app,
        post("application/json", b"{\"v\":1,\"events\":[".to_vec()),
    )
    .await;
    assert_eq!(status, 400);
    let body = json_body(res).await;
    assert_eq!(body["field"], "events");
    assert!(body["error"].as_str().unwrap().contains("EOF"), "{body}");

    let (status, res) = send(&app, post("application/json", b"not json".to_vec())).await;
    assert_eq!(status, 400);
    assert_eq!(json_body(res).await["field"], "body");

    let wrong = batch_json(3, 1).replace("\"duration_ms\":42", "\"duration_ms\":\"slow\"");
    let (status, res) = send(&app, post("application/json", wrong.into_bytes())).await;
    assert_eq!(status, 400);
    assert_eq!(json_body(res).await["field"], "events[0].duration_ms");

    let huge = vec![b' '; 10 * 1024 * 1024];
    let (status, res) = send(&app, post("application/json", huge)).await;
    assert_eq!(status, 413);
    assert!(json_body(res).await["error"]
        .as_str()
        .unwrap()
        .contains("larger than"));

    let (status, _) = send(
        &app,
        post(
            "application/x-www-form-urlencoded",
            batch_json(3, 1).into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, 415);

    let (status, res) = send(
        &app,
        post(
            "application/json",
            batch_json(3, 1).replace("\"v\":1", "\"v\":99").into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, 400);
    let body = json_body(res).await;
    assert_eq!(body["field"], "v");

    // After all that, a good batch still goes through.
    let (status, _) = send(
        &app,
        post("application/json", batch_json(4, 2).into_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(db.count_events(site.id).await.unwrap(), 2);
});

both_backends!(hostile_strings_are_stored_verbatim, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let hostile =
        r#"<img src=x onerror=alert(1)>=HYPERLINK(\"http://evil\")'; DROP TABLE events;--"#;
    let body =
        batch_json(5, 1).replace("\"page\":\"/checkout\"", &format!("\"page\":\"{hostile}\""));
    let (status, _) = send(
        &app,
        ingest_req(&site.key, Some(ORIGIN), "application/json", body),
    )
    .await;
    assert_eq!(status, 200);
    let (_, res) = send(
        &app,
        admin_req(
            &format!("/v1/admin/sites/{}/events", site.key),
            Some(&site.token),
        ),
    )
    .await;
    let page = json_body(res).await;
    assert_eq!(
        page["events"][0]["event"]["page"],
        r#"<img src=x onerror=alert(1)>=HYPERLINK("http://evil")'; DROP TABLE events;--"#
    );
});

both_backends!(preflight_answers_per_site, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let preflight = |origin: &str| {
        axum::http::Request::options(format!("/v1/ingest?key={}", site.key))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, res) = send(&app, preflight(ORIGIN)).await;
    assert_eq!(status, 204);
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(res.headers()["access-control-allow-methods"], "POST");
    let (status, _) = send(&app, preflight("https://evil.example")).await;
    assert_eq!(status, 403);
});

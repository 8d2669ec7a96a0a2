//! Exit-survey answers through the real ingest route into `survey_answers`
//! on SQLite and PostgreSQL, read back through the admin route: consent is
//! stored verbatim, an email never without consent, hostile text stays inert
//! or is refused, and nothing else of a refused batch is stored.

mod common;

use common::*;
use serde_json::{json, Value};
use steadycart_collector::store::Db;

const CONSENT: &str = "Yes — email me when checkout works again. I can unsubscribe any time.";

fn event(id: u32, body: Value) -> Value {
    let mut e = json!({
        "id": format!("{id:032x}"),
        "ts": now_ms(),
        "session": "s_survey_session_01",
        "page": "/checkout",
    });
    e.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    e
}

fn answered(id: u32, answer: Value) -> Value {
    event(
        id,
        json!({"type": "survey_answered", "trigger": "pointer_top", "answer": answer,
               "trouble": {"roles": ["checkout"], "endpoints": ["POST /api/checkout"],
                           "last_outcome": "http_error", "last_status": 503}}),
    )
}

async fn ingest(app: &axum::Router, key: &str, events: Vec<Value>) -> (u16, Value) {
    let batch = json!({"v": 1, "sdk": "test", "sent_at": now_ms(), "events": events});
    let (status, res) = send(
        app,
        ingest_req(key, Some(ORIGIN), "application/json", batch.to_string()),
    )
    .await;
    (status, json_body(res).await)
}

async fn answers(app: &axum::Router, site: &TestSite, query: &str) -> Value {
    let (status, res) = send(
        app,
        admin_req(
            &format!("/v1/admin/sites/{}/survey/answers{query}", site.key),
            Some(&site.token),
        ),
    )
    .await;
    assert_eq!(status, 200);
    json_body(res).await
}

both_backends!(consented_answer_is_stored_verbatim, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let hostile = "<script>alert(1)</script> =HYPERLINK(\"http://x\") 'OR 1=1;--";
    let (status, body) = ingest(
        &app,
        &site.key,
        vec![
            event(1, json!({"type": "survey_shown", "trigger": "pointer_top",
                            "trouble": {"roles": ["checkout"], "endpoints": ["POST /api/checkout"]}})),
            answered(
                2,
                json!({"choice": "broken", "text": hostile, "rating": 2,
                       "email": "ann@example.com",
                       "consent": {"text": CONSENT, "version": "2026-11"}}),
            ),
            answered(3, json!({"choice": "price"})),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Resending the same answer stores it once.
    let (status, body) = ingest(
        &app,
        &site.key,
        vec![answered(3, json!({"choice": "price"}))],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let all = answers(&app, &site, "").await;
    let list = all["answers"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{all}");
    let a = &list[0];
    assert_eq!(a["email"], "ann@example.com");
    assert_eq!(a["consent_text"], CONSENT);
    assert_eq!(a["consent_version"], "2026-11");
    assert_eq!(a["text"], hostile, "free text is kept as inert text");
    assert_eq!(a["choice"], "broken");
    assert_eq!(a["rating"], 2);
    assert_eq!(a["trigger"], "pointer_top");
    assert_eq!(a["session_id"], "s_survey_session_01");
    assert_eq!(a["page"], "/checkout");
    assert_eq!(a["trouble"]["roles"], json!(["checkout"]));
    assert_eq!(a["trouble"]["endpoints"], json!(["POST /api/checkout"]));
    assert_eq!(a["trouble"]["last_outcome"], "http_error");
    assert_eq!(a["trouble"]["last_status"], 503);
    assert_eq!(list[1]["email"], Value::Null);
    assert_eq!(list[1]["consent_text"], Value::Null);

    let with_email = answers(&app, &site, "?with_email=true").await;
    assert_eq!(with_email["answers"].as_array().unwrap().len(), 1);
    let page = answers(&app, &site, "?limit=1").await;
    assert_eq!(page["answers"].as_array().unwrap().len(), 1);
    let next = page["next"].as_i64().expect("a full page has a cursor");
    let rest = answers(&app, &site, &format!("?after={next}")).await;
    assert_eq!(rest["answers"][0]["choice"], "price");
    assert_eq!(rest["next"], Value::Null);

    // Another site's token opens nothing here.
    let other = add_site(&db, "https://other.example").await;
    let (status, _) = send(
        &app,
        admin_req(
            &format!("/v1/admin/sites/{}/survey/answers", site.key),
            Some(&other.token),
        ),
    )
    .await;
    assert_eq!(status, 401);
});

both_backends!(bad_answers_are_refused_whole, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let consent = json!({"text": CONSENT, "version": "v1"});
    let long_email = format!("{}@example.com", "a".repeat(300));
    let cases = [
        (
            json!({"email": "ann@example.com"}),
            "events[1].answer.email",
        ),
        (
            json!({"email": "<script>alert(1)</script>@x.com", "consent": consent}),
            "events[1].answer.email",
        ),
        (
            json!({"email": long_email, "consent": consent}),
            "events[1].answer.email",
        ),
        (json!({"text": "x".repeat(1001)}), "events[1].answer.text"),
        (json!({"rating": 9}), "events[1].answer.rating"),
        (
            json!({"email": "ann@example.com", "consent": {"text": "", "version": "v1"}}),
            "events[1].answer.consent.text",
        ),
        (
            json!({"choice": "<img src=x onerror=alert(1)>"}),
            "events[1].answer.choice",
        ),
    ];
    for (answer, field) in cases {
        let (status, body) = ingest(
            &app,
            &site.key,
            vec![
                event(10, json!({"type": "page_exit"})),
                answered(11, answer.clone()),
            ],
        )
        .await;
        assert_eq!(status, 400, "{answer} → {body}");
        assert_eq!(body["field"], field, "{answer} → {body}");
    }
    let (status, body) = ingest(
        &app,
        &site.key,
        vec![event(
            12,
            json!({"type": "survey_dismissed", "reason": "<b>x</b>"}),
        )],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "events[0].reason");
    assert_eq!(db.count_events(site.id).await.unwrap(), 0, "nothing stored");
    assert_eq!(answers(&app, &site, "").await["answers"], json!([]));
});

both_backends!(
    database_refuses_email_without_consent,
    |db: Db| async move {
        // The CHECK constraint is the last lock: even a direct insert fails.
        let site = add_site(&db, ORIGIN).await;
        let sql = "INSERT INTO survey_answers (site_id, event_id, session_id, answered_at, received_at, exit_trigger, email) \
               VALUES ($1, 'e1', 's1', 0, 0, 'idle', 'ann@example.com')";
        let result = match &db {
            Db::Sqlite(p) => sqlx::query(sql).bind(site.id).execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(sql).bind(site.id).execute(p).await.map(|_| ()),
        };
        assert!(
            result.is_err(),
            "an email without consent must not be stored"
        );
    }
);

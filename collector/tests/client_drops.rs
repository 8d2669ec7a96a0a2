//! Drop reports from snippets: stored once per reporting batch (a resent
//! batch does not count again) and read back through the admin API, on
//! SQLite and PostgreSQL.

mod common;

use common::*;
use steadycart_collector::store::Db;

fn with_dropped(batch: String, dropped: u32) -> String {
    batch.replacen(
        "\"sent_at\"",
        &format!("\"dropped\":{dropped},\"sent_at\""),
        1,
    )
}

both_backends!(drop_reports_count_once_per_batch, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());
    let url = format!("/v1/admin/sites/{}/drops", site.key);
    let (status, res) = send(&app, admin_req(&url, Some(&site.token))).await;
    assert_eq!(status, 200);
    let body = json_body(res).await;
    assert_eq!(body["dropped_total"], 0);
    assert_eq!(body["last_reported_at"], serde_json::Value::Null);

    // The same batch three times (a lost response, a beacon and the next
    // page's resend), then another batch with its own report.
    for (seed, dropped) in [(1, 7), (1, 7), (1, 7), (2, 5), (3, 0)] {
        let (status, _) = send(
            &app,
            ingest_req(
                &site.key,
                Some(ORIGIN),
                "text/plain",
                with_dropped(batch_json(seed, 2), dropped),
            ),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, res) = send(&app, admin_req(&url, Some(&site.token))).await;
    assert_eq!(status, 200);
    let body = json_body(res).await;
    assert_eq!(body["dropped_total"], 12);
    assert_eq!(body["reports"], 2);
    assert!(body["last_reported_at"].as_i64().unwrap() > 0);

    let (status, _) = send(&app, admin_req(&url, Some("wrong-token"))).await;
    assert_eq!(status, 401);
});

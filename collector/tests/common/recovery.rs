//! A shop's side of cart recovery, for tests: sessions that fail at
//! checkout and leave a consented address, the site's recovery settings,
//! sent to the app in the test process or to a collector process over
//! HTTP; and the recovery outbox as stored.

use axum::{body::Body, http::Request, Router};
use serde_json::{json, Value};
use steadycart_collector::store::Db;

use super::{ingest_req, json_body, now_ms, send, Collector, TestSite, ORIGIN};

/// One event of `session` with a 32-hex-digit id made of `seed` and `n`.
pub fn event(seed: u32, n: u32, session: &str, body: Value) -> Value {
    let mut e = json!({"id": format!("{seed:08x}{n:024x}"), "ts": now_ms(), "session": session, "page": "/checkout"});
    e.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    e
}

/// Session `s_recovery_{seed:08x}`: a cart, a failed checkout, a survey
/// answer leaving `email` with consent.
pub fn abandonment(seed: u32, email: &str) -> Vec<Value> {
    let session = format!("s_recovery_{seed:08x}");
    vec![
        event(
            seed,
            1,
            &session,
            json!({"type": "cart_snapshot", "currency": "USD",
                   "items": [{"sku": "VL-HP-01", "name": "Aurora Headphones", "qty": 1, "unit_price_minor": 12900}]}),
        ),
        event(
            seed,
            2,
            &session,
            json!({"type": "call", "role": "checkout", "outcome": "http_error", "method": "POST",
                   "url": "https://shop.example/api/checkout", "status": 503, "duration_ms": 40}),
        ),
        event(
            seed,
            3,
            &session,
            json!({"type": "survey_answered", "trigger": "pointer_top",
                   "answer": {"choice": "broken", "email": email,
                              "consent": {"text": "Email me once it works", "version": "v1"}},
                   "trouble": {"roles": ["checkout"], "endpoints": ["POST /api/checkout"],
                               "last_outcome": "http_error", "last_status": 503}}),
        ),
    ]
}

/// An ingest batch of `events`.
pub fn batch(events: &[Value]) -> String {
    json!({"v": 1, "sdk": "test", "sent_at": now_ms(), "events": events}).to_string()
}

/// The site's recovery settings.
pub fn settings() -> Value {
    json!({"shop_name": "Voltline", "from": "Voltline <shop@shop.example>",
           "recovery_url": "https://shop.example/cart?recover={token}",
           "postal_address": "1 Main St, Springfield"})
}

/// Store [`settings`] through `app`.
pub async fn put_settings(app: &Router, site: &TestSite) {
    let req = Request::put(format!("/v1/admin/sites/{}/recovery/settings", site.key))
        .header("authorization", format!("Bearer {}", site.token))
        .body(Body::from(settings().to_string()))
        .unwrap();
    let (status, res) = send(app, req).await;
    assert_eq!(status, 200, "{}", json_body(res).await);
}

/// Ingest `events` through `app`.
pub async fn ingest(app: &Router, key: &str, events: &[Value]) {
    let req = ingest_req(key, Some(ORIGIN), "application/json", batch(events));
    let (status, res) = send(app, req).await;
    assert_eq!(status, 200, "{}", json_body(res).await);
}

/// [`put_settings`] and [`ingest`] against a collector at `base`.
pub async fn seed_over_http(base: &str, site: &TestSite, events: &[Value]) {
    let http = reqwest::Client::new();
    let res = http
        .put(format!(
            "{base}/v1/admin/sites/{}/recovery/settings",
            site.key
        ))
        .bearer_auth(&site.token)
        .json(&settings())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = http
        .post(format!("{base}/v1/ingest?key={}", site.key))
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .body(batch(events))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// One `recovery_outbox` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboxRow {
    /// `queued`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts counted.
    pub attempts: i64,
    /// Claimed until (ms), 0 when unclaimed.
    pub claimed_until: i64,
    /// The last failure, addresses scrubbed.
    pub last_error: Option<String>,
}

/// Every outbox row, oldest first.
pub async fn outbox(db: &Db) -> Vec<OutboxRow> {
    let sql = "SELECT status, attempts, claimed_until, last_error FROM recovery_outbox ORDER BY id";
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap()
}

/// The status of every recovery contact, oldest first.
pub async fn contact_statuses(db: &Db) -> Vec<String> {
    let sql = "SELECT status FROM recovery_contacts ORDER BY id";
    let rows: Vec<(String,)> = match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

/// A collector process (signals off) sending recovery emails to `smtp`:
/// unsubscribe links start with `public`, emails fall due `delay_ms` after
/// the answer and the mailer polls every `tick_ms`.
pub fn mailing_collector(
    db_url: &str,
    smtp: &str,
    public: &str,
    data: &std::path::Path,
    delay_ms: u64,
    tick_ms: u64,
) -> Collector {
    Collector::spawn([
        "--database-url",
        db_url,
        "--signals-disabled",
        "--data-dir",
        &data.display().to_string(),
        "--smtp-url",
        smtp,
        "--recovery-public-url",
        public,
        "--recovery-delay-ms",
        &delay_ms.to_string(),
        "--recovery-tick-ms",
        &tick_ms.to_string(),
    ])
}

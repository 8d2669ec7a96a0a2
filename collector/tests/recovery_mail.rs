//! Recovery emails delivered to a real SMTP server (mailin-embedded, an
//! SMTP protocol implementation running in the test process) on SQLite and
//! PostgreSQL: headers (List-Unsubscribe, List-Unsubscribe-Post,
//! Message-ID), text and HTML parts, a recovery link that verifies; the
//! delay and a completed checkout; SMTP down then back (sent once); a
//! permanent rejection recorded and not retried; racing instances sending
//! each email once; `.eml` files without SMTP and their erasure; one-click
//! unsubscribe; logs that never contain an address; wait-for-resolution;
//! identified shoppers emailed only after trouble; the shopper's language;
//! at most one email per contact per period.
//!
//! Time is an input: the tests call `Mailer::deliver_due(now)` with the
//! clock they need instead of sleeping.

mod common;

use std::time::Duration;

use axum::{body::Body, http::Request};
use common::*;
use http_body_util::BodyExt;
use mailparse::MailHeaderMap;
use serde_json::{json, Value};
use steadycart_collector::{
    config::Config,
    http::app,
    recovery::{
        mailer::{self, Mailer},
        token::Purpose,
        RecoveryConfig,
    },
    store::Db,
    AppState,
};

// ---------------------------------------------------------------- helpers

const PUBLIC: &str = "http://collector.test";

fn event(id: &str, session: &str, body: Value) -> Value {
    let mut e = json!({"id": format!("{id:0>32}"), "ts": now_ms(), "session": session, "page": "/checkout"});
    e.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    e
}

/// A session that filled a cart, failed at checkout and left its address.
fn abandoned(prefix: &str, session: &str, email: &str) -> Vec<Value> {
    vec![
        event(
            &format!("{prefix}1"),
            session,
            json!({"type": "cart_snapshot", "currency": "USD", "items": [
                {"sku": "VL-HP-01", "name": "Aurora <b>Headphones</b>", "qty": 2, "unit_price_minor": 12900},
                {"sku": "VL-CB-02", "name": "Cable", "qty": 1, "unit_price_minor": 5900}]}),
        ),
        event(
            &format!("{prefix}2"),
            session,
            json!({"type": "call", "role": "checkout", "outcome": "http_error", "method": "POST",
                   "url": "https://shop.example/api/checkout", "status": 503, "duration_ms": 40}),
        ),
        event(
            &format!("{prefix}3"),
            session,
            json!({"type": "survey_answered", "trigger": "pointer_top",
                   "answer": {"choice": "broken", "email": email,
                              "consent": {"text": "Email me once it works", "version": "v1"}},
                   "trouble": {"roles": ["checkout"], "endpoints": ["POST /api/checkout"],
                               "last_outcome": "http_error", "last_status": 503}}),
        ),
    ]
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

fn recovery_config(smtp_url: Option<String>) -> RecoveryConfig {
    RecoveryConfig {
        smtp_url,
        delay: Duration::ZERO,
        min_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
        smtp_timeout: Duration::from_secs(5),
        public_url: Some(PUBLIC.into()),
        ..RecoveryConfig::default()
    }
}

/// The app with `recovery` in its config.
fn app_with(
    db: &Db,
    recovery: RecoveryConfig,
    data_dir: &std::path::Path,
) -> (
    axum::Router,
    AppState,
    steadycart_collector::ingest::writer::WriterTask,
) {
    let config = Config {
        recovery,
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    let (state, writer) = AppState::start(db.clone(), config);
    (app(state.clone()), state, writer)
}

async fn put_settings(app: &axum::Router, site: &TestSite) {
    let req = Request::put(format!("/v1/admin/sites/{}/recovery/settings", site.key))
        .header("authorization", format!("Bearer {}", site.token))
        .body(Body::from(
            json!({"shop_name": "Voltline & Co", "from": "Voltline <shop@shop.example>",
                   "recovery_url": "https://shop.example/cart?recover={token}",
                   "postal_address": "1 Main St, Springfield"})
            .to_string(),
        ))
        .unwrap();
    let (status, res) = send(app, req).await;
    assert_eq!(status, 200, "{}", json_body(res).await);
}

async fn mailer_for(db: &Db, cfg: &RecoveryConfig, dir: &std::path::Path) -> Mailer {
    Mailer::new(db.clone(), cfg.clone(), dir, PUBLIC.into())
        .await
        .unwrap()
}

/// (status, attempts, last_error) of every outbox row, oldest first.
async fn outbox(db: &Db) -> Vec<(String, i64, Option<String>)> {
    let sql = "SELECT status, attempts, last_error FROM recovery_outbox ORDER BY id";
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap()
}

async fn contact_status(app: &axum::Router, site: &TestSite) -> Vec<String> {
    let (_, res) = send(
        app,
        admin_req(
            &format!("/v1/admin/sites/{}/recovery/contacts", site.key),
            Some(&site.token),
        ),
    )
    .await;
    json_body(res).await["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap().to_string())
        .collect()
}

async fn text(res: axum::http::Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

// ---------------------------------------------------------------- tests

both_backends!(
    the_email_has_rfc8058_headers_both_parts_and_a_link_that_verifies,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = recovery_config(Some(url));
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("a", "s_mail_session_1", "ann@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 1);
        // Nothing is sent twice.
        assert_eq!(mailer.deliver_due(now_ms() + 3_600_000).await.unwrap(), 0);
        let mails = inbox.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec!["ann@example.com"]);
        assert_eq!(mails[0].from, "shop@shop.example");
        let parsed = mailparse::parse_mail(&mails[0].data).unwrap();
        let h = parsed.get_headers();
        let list = h.get_first_value("List-Unsubscribe").unwrap();
        assert!(
            list.starts_with(&format!("<{PUBLIC}/v1/unsubscribe/u.{}.", site.id)),
            "{list}"
        );
        assert_eq!(
            h.get_first_value("List-Unsubscribe-Post").unwrap(),
            "List-Unsubscribe=One-Click"
        );
        let mid = h.get_first_value("Message-ID").unwrap();
        assert!(
            mid.starts_with(&format!("<recovery.{}.", site.id)) && mid.ends_with("@shop.example>"),
            "{mid}"
        );
        assert!(h
            .get_first_value("Subject")
            .unwrap()
            .contains("Voltline & Co"));
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
        let part = |t: &str| {
            parsed
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype == t)
                .unwrap_or_else(|| panic!("no {t} part"))
                .get_body()
                .unwrap()
        };
        let (plain, html) = (part("text/plain"), part("text/html"));
        assert!(
            plain.contains("2 × Aurora <b>Headphones</b> — 258.00 USD"),
            "{plain}"
        );
        assert!(plain.contains("Total: 317.00 USD"), "{plain}");
        assert!(
            html.contains("Aurora &lt;b&gt;Headphones&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>Headphones"), "{html}");
        let unsubscribe_url = list.trim_matches(|c| c == '<' || c == '>').to_string();
        assert!(
            plain.contains(&unsubscribe_url),
            "visible unsubscribe link: {plain}"
        );
        assert!(
            html.contains(&format!("href=\"{unsubscribe_url}\"")),
            "{html}"
        );

        // The recovery link carries a signed token that verifies.
        let start = plain.find("https://shop.example/cart?recover=").unwrap();
        let token: String = plain[start + "https://shop.example/cart?recover=".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let signer = mailer::signer(&db, &cfg).await.unwrap();
        let claims = signer.verify(&token, Purpose::Recover, now_ms()).unwrap();
        assert_eq!(claims.site_id, site.id);
        assert!(claims.expires_ms.unwrap() > now_ms() + 6 * 24 * 3_600_000);
        assert!(signer
            .verify(&token, Purpose::Unsubscribe, now_ms())
            .is_err());
        let (status, res) = send(&app, admin_req(&format!("/v1/recover/{token}"), None)).await;
        assert_eq!(status, 200);
        let cart = json_body(res).await;
        assert_eq!(cart["currency"], "USD");
        assert_eq!(cart["items"][0]["qty"], 2);
        let forged = token.replacen(".", ".9", 1);
        let (status, _) = send(&app, admin_req(&format!("/v1/recover/{forged}"), None)).await;
        assert_eq!(status, 404);

        assert_eq!(outbox(&db).await[0].0, "sent");
        assert_eq!(contact_status(&app, &site).await, vec!["emailed"]);

        // Opening the unsubscribe link (GET) changes nothing; the one-click
        // POST suppresses the address for good.
        let path = unsubscribe_url.strip_prefix(PUBLIC).unwrap().to_string();
        let (status, res) = send(&app, admin_req(&path, None)).await;
        assert_eq!(status, 200);
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        assert!(text(res).await.contains("<form method=\"post\">"));
        assert_eq!(contact_status(&app, &site).await.len(), 1);
        let one_click = || {
            Request::post(&path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("List-Unsubscribe=One-Click"))
                .unwrap()
        };
        let (status, _) = send(&app, one_click()).await;
        assert_eq!(status, 200);
        let (status, _) = send(&app, one_click()).await;
        assert_eq!(status, 200, "repeating it is harmless");
        assert!(contact_status(&app, &site).await.is_empty());
        assert!(db
            .recovery_is_suppressed(site.id, "ANN@example.com")
            .await
            .unwrap());
        // A new abandonment by the same address: no contact, no email.
        ingest(
            &app,
            &site.key,
            abandoned("b", "s_mail_session_2", "ann@example.com"),
        )
        .await;
        assert_eq!(
            mailer
                .deliver_due(now_ms() + 10 * 86_400_000)
                .await
                .unwrap(),
            0
        );
        assert_eq!(inbox.mails().len(), 1);
        let (status, _) = send(&app, admin_req("/v1/unsubscribe/u.1.2.0.00", None)).await;
        assert_eq!(status, 400);
    }
);

both_backends!(
    the_delay_holds_the_email_and_a_completed_checkout_cancels_it,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = RecoveryConfig {
            delay: Duration::from_secs(3600),
            ..recovery_config(Some(url))
        };
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("c", "s_delay_done_1_session", "bea@example.com"),
        )
        .await;
        ingest(
            &app,
            &site.key,
            abandoned("d", "s_delay_left_1_session", "cy@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(
            mailer.deliver_due(now_ms()).await.unwrap(),
            0,
            "not due yet"
        );
        // Bea completes checkout before the delay is over.
        ingest(
            &app,
            &site.key,
            vec![event(
                "c9",
                "s_delay_done_1_session",
                json!({"type": "checkout_completed"}),
            )],
        )
        .await;
        assert_eq!(mailer.deliver_due(now_ms() + 3_700_000).await.unwrap(), 1);
        let mails = inbox.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec!["cy@example.com"]);
        let states: Vec<String> = outbox(&db).await.into_iter().map(|r| r.0).collect();
        assert_eq!(states, vec!["cancelled", "sent"]);
    }
);

both_backends!(
    smtp_down_then_back_sends_exactly_once,
    |db: Db| async move {
        // A port with nothing listening: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let cfg = recovery_config(Some(format!("smtp://127.0.0.1:{port}")));
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("e", "s_down_1_session", "dee@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        let t0 = now_ms();
        assert_eq!(mailer.deliver_due(t0).await.unwrap(), 0);
        let rows = outbox(&db).await;
        assert_eq!((rows[0].0.as_str(), rows[0].1), ("queued", 1), "{rows:?}");
        assert!(rows[0].2.as_deref().unwrap().contains("SMTP"), "{rows:?}");
        // Backoff: not retried before it is due.
        assert_eq!(mailer.deliver_due(t0 + 10).await.unwrap(), 0);
        assert_eq!(outbox(&db).await[0].1, 1);
        // The server comes back on the same port.
        let inbox = Inbox::new();
        inbox.serve(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
        assert_eq!(mailer.deliver_due(now_ms() + 5_000).await.unwrap(), 1);
        assert_eq!(mailer.deliver_due(now_ms() + 3_600_000).await.unwrap(), 0);
        assert_eq!(inbox.mails().len(), 1);
        let rows = outbox(&db).await;
        assert_eq!((rows[0].0.as_str(), rows[0].1), ("sent", 2), "{rows:?}");
    }
);

both_backends!(
    a_permanent_rejection_is_recorded_and_never_retried,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        *inbox.mode.lock().unwrap() = Mode::RejectRecipient;
        let dir = tempfile::tempdir().unwrap();
        let cfg = recovery_config(Some(url));
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("f", "s_bounce_1_session", "gone@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 0);
        for later in [60_000, 3_600_000, 86_400_000] {
            assert_eq!(mailer.deliver_due(now_ms() + later).await.unwrap(), 0);
        }
        assert_eq!(*inbox.rcpts.lock().unwrap(), 1, "tried once");
        let rows = outbox(&db).await;
        assert_eq!(rows[0].0, "failed");
        let error = rows[0].2.clone().unwrap();
        assert!(error.contains("550"), "{error}");
        assert!(!error.contains("gone@"), "{error}");
        assert_eq!(contact_status(&app, &site).await, vec!["bounced"]);
    }
);

both_backends!(
    a_temporary_failure_is_retried_with_backoff_then_given_up,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        *inbox.mode.lock().unwrap() = Mode::TempFail;
        let dir = tempfile::tempdir().unwrap();
        let cfg = RecoveryConfig {
            max_attempts: 3,
            ..recovery_config(Some(url))
        };
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("g", "s_temp_1_session", "hal@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        let t0 = now_ms();
        mailer.deliver_due(t0).await.unwrap();
        assert_eq!(outbox(&db).await[0].0, "queued");
        // 1 s, then 2 s of backoff.
        mailer.deliver_due(t0 + 500).await.unwrap();
        assert_eq!(outbox(&db).await[0].1, 1, "not before the backoff");
        mailer.deliver_due(now_ms() + 1_500).await.unwrap();
        assert_eq!(outbox(&db).await[0].1, 2);
        mailer.deliver_due(now_ms() + 10_000).await.unwrap();
        let rows = outbox(&db).await;
        assert_eq!((rows[0].0.as_str(), rows[0].1), ("failed", 3), "{rows:?}");
        assert!(rows[0].2.as_deref().unwrap().contains("451"), "{rows:?}");
        mailer.deliver_due(now_ms() + 86_400_000).await.unwrap();
        assert_eq!(outbox(&db).await[0].1, 3, "given up for good");
        assert!(inbox.mails().is_empty());
        assert_eq!(
            contact_status(&app, &site).await,
            vec!["pending"],
            "a server that never took it is no bounce of the address"
        );
    }
);

both_backends!(racing_instances_send_each_email_once, |db: Db| async move {
    let (inbox, url) = Inbox::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = recovery_config(Some(url));
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
    put_settings(&app, &site).await;
    for i in 0..24 {
        ingest(
            &app,
            &site.key,
            abandoned(
                &format!("r{i:02}"),
                &format!("s_race_session_{i:04}"),
                &format!("p{i}@example.com"),
            ),
        )
        .await;
    }
    // Two instances: separate pools on the same database, each its own
    // mailer, racing.
    let url = database_url(&db).await;
    let other = Db::connect(&url).await.unwrap();
    let (a, b) = (
        mailer_for(&db, &cfg, dir.path()).await,
        mailer_for(&other, &cfg, dir.path()).await,
    );
    let now = now_ms();
    let (x, y) = tokio::join!(a.deliver_due(now), b.deliver_due(now));
    assert_eq!(x.unwrap() + y.unwrap(), 24);
    let mails = inbox.mails();
    assert_eq!(mails.len(), 24);
    let mut ids: Vec<String> = mails
        .iter()
        .map(|m| {
            mailparse::parse_mail(&m.data)
                .unwrap()
                .get_headers()
                .get_first_value("Message-ID")
                .unwrap()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24);
    other.close().await;
});

/// The URL of `db` (the test database), for a second pool.
async fn database_url(db: &Db) -> String {
    match db {
        Db::Sqlite(p) => {
            let file: (String,) =
                sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(p)
                    .await
                    .unwrap();
            format!("sqlite://{}", file.0)
        }
        Db::Postgres(p) => {
            let name: (String,) = sqlx::query_as("SELECT current_database()")
                .fetch_one(p)
                .await
                .unwrap();
            let base = pg_admin_url();
            format!("{}/{}", base.rsplit_once('/').unwrap().0, name.0)
        }
    }
}

both_backends!(
    without_smtp_emails_are_eml_files_that_erasure_removes,
    |db: Db| async move {
        let dir = tempfile::tempdir().unwrap();
        let cfg = recovery_config(None);
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("h", "s_eml_1_sessionx", "ivy@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 1);
        let mail_dir = dir.path().join("recovery-mail");
        let files: Vec<_> = std::fs::read_dir(&mail_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let raw = std::fs::read(&files[0]).unwrap();
        let parsed = mailparse::parse_mail(&raw).unwrap();
        assert_eq!(
            parsed.get_headers().get_first_value("To").unwrap(),
            "ivy@example.com"
        );
        assert!(parsed
            .get_headers()
            .get_first_value("List-Unsubscribe")
            .is_some());
        let req = Request::post(format!("/v1/admin/sites/{}/recovery/erase", site.key))
            .header("authorization", format!("Bearer {}", site.token))
            .body(Body::from(r#"{"email":"IVY@example.com"}"#))
            .unwrap();
        let (status, _) = send(&app, req).await;
        assert_eq!(status, 200);
        assert_eq!(std::fs::read_dir(&mail_dir).unwrap().count(), 0);
        assert!(outbox(&db).await.is_empty());
    }
);

both_backends!(addresses_never_appear_in_logs, |db: Db| async move {
    let logs = common::logs::LogCapture::start();

    let (inbox, url) = Inbox::start();
    *inbox.mode.lock().unwrap() = Mode::RejectRecipient;
    let dir = tempfile::tempdir().unwrap();
    let cfg = recovery_config(Some(url));
    let site = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
    put_settings(&app, &site).await;
    ingest(
        &app,
        &site.key,
        abandoned("k", "s_logs_1_session", "secret.shopper@example.com"),
    )
    .await;
    let mailer = mailer_for(&db, &cfg, dir.path()).await;
    // A bounce (the SMTP reply echoes the address), then a success. A
    // loaded machine may turn the first attempt into a timeout: later
    // rounds retry until the 550 is recorded.
    for later in [0, 120_000, 240_000] {
        mailer.deliver_due(now_ms() + later).await.unwrap();
    }
    assert_eq!(outbox(&db).await[0].0, "failed");
    *inbox.mode.lock().unwrap() = Mode::Accept;
    ingest(
        &app,
        &site.key,
        abandoned("l", "s_logs_2_session", "other.shopper@example.com"),
    )
    .await;
    mailer.deliver_due(now_ms()).await.unwrap();
    assert_eq!(inbox.mails().len(), 1);
    let req = Request::post(format!("/v1/admin/sites/{}/recovery/erase", site.key))
        .header("authorization", format!("Bearer {}", site.token))
        .body(Body::from(r#"{"email":"other.shopper@example.com"}"#))
        .unwrap();
    assert_eq!(send(&app, req).await.0, 200);

    let text = logs.text();
    assert!(
        text.contains("recovery email sent"),
        "logs were captured: {text}"
    );
    assert!(text.contains("given up"), "{text}");
    assert!(text.contains("recovery contact erased"), "{text}");
    for needle in ["secret.shopper", "other.shopper", "@example.com"] {
        assert!(!text.contains(needle), "{needle} in logs:\n{text}");
    }
});

async fn exec(db: &Db, sql: &str, site_id: i64) {
    match db {
        Db::Sqlite(p) => sqlx::query(sql).bind(site_id).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql).bind(site_id).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

both_backends!(
    waiting_for_resolution_holds_the_email_while_the_site_has_an_open_incident,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = RecoveryConfig {
            wait_for_resolution: true,
            ..recovery_config(Some(url))
        };
        let site = add_site(&db, ORIGIN).await;
        let other = add_site(&db, "https://other-shop.example").await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("w", "s_wait_resolve_1", "wes@example.com"),
        )
        .await;
        let open = "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, \
                    baseline, observed, peak_ratio, summary, details) \
                    VALUES ($1, 'errors', 'open', 0, 0, 0, 0.01, 0.5, 50.0, 'checkout failing', '{}')";
        // Another site's incident does not hold this site's email …
        exec(&db, open, other.id).await;
        // … its own does.
        exec(&db, open, site.id).await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        let t0 = now_ms();
        assert_eq!(mailer.deliver_due(t0).await.unwrap(), 0);
        assert_eq!(mailer.deliver_due(t0 + 600_000).await.unwrap(), 0);
        let rows = outbox(&db).await;
        assert_eq!(rows[0].0, "queued", "{rows:?}");
        assert_eq!(rows[0].1, 0, "waiting is not a failed attempt: {rows:?}");
        assert!(
            rows[0].2.as_deref().unwrap().contains("incident"),
            "{rows:?}"
        );
        assert!(inbox.mails().is_empty());
        // The incident resolves: the email goes out once.
        exec(
            &db,
            "UPDATE incidents SET status = 'resolved', resolved_at = 1 WHERE site_id = $1",
            site.id,
        )
        .await;
        assert_eq!(mailer.deliver_due(now_ms() + 700_000).await.unwrap(), 1);
        assert_eq!(mailer.deliver_due(now_ms() + 1_400_000).await.unwrap(), 0);
        assert_eq!(inbox.mails().len(), 1);
        assert_eq!(outbox(&db).await[0].0, "sent");
    }
);

both_backends!(
    without_waiting_an_open_incident_does_not_hold_the_email,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = recovery_config(Some(url));
        assert!(!cfg.wait_for_resolution, "the default sends regardless");
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("x", "s_no_wait_1_sess", "xia@example.com"),
        )
        .await;
        exec(
            &db,
            "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, \
             baseline, observed, peak_ratio, summary, details) \
             VALUES ($1, 'errors', 'open', 0, 0, 0, 0.01, 0.5, 50.0, 'checkout failing', '{}')",
            site.id,
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 1);
        assert_eq!(inbox.mails().len(), 1);
    }
);

fn identify(id: &str, session: &str, email: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "identify", "email": email,
               "consent": {"text": "Email me about my order", "version": "app-3"}}),
    )
}

fn failed_call(id: &str, session: &str) -> Value {
    event(
        id,
        session,
        json!({"type": "call", "role": "payment", "outcome": "network_error", "method": "POST",
               "url": "https://shop.example/api/payment", "duration_ms": 40}),
    )
}

both_backends!(
    an_identified_shopper_is_emailed_only_after_trouble_in_the_session,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = RecoveryConfig {
            delay: Duration::from_secs(60),
            ..recovery_config(Some(url))
        };
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        // Ann's app identifies her (with consent) before anything goes wrong;
        // so does Bo's, whose session then ends without trouble; Cy's
        // payment fails but Cy completes later.
        ingest(
            &app,
            &site.key,
            vec![
                identify("i1", "s_identify_ann_1", "Ann@example.com"),
                identify("i2", "s_identify_bo_11", "bo@example.com"),
                identify("i3", "s_identify_cy_11", "cy@example.com"),
            ],
        )
        .await;
        assert_eq!(contact_status(&app, &site).await.len(), 3);
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        // Later (a real gap, so "delay after the trouble" differs from
        // "delay after the identify"), Ann's and Cy's payments fail; Cy
        // completes checkout.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        ingest(
            &app,
            &site.key,
            vec![
                failed_call("i4", "s_identify_ann_1"),
                failed_call("i5", "s_identify_cy_11"),
                event(
                    "i6",
                    "s_identify_cy_11",
                    json!({"type": "checkout_completed"}),
                ),
            ],
        )
        .await;
        let t1 = now_ms();
        // Due after the identify, but not yet `delay` after Ann's trouble;
        // Bo's session is still open and has had no trouble.
        assert_eq!(mailer.deliver_due(t1 + 59_000).await.unwrap(), 0);
        let rows = outbox(&db).await;
        let states: Vec<(&str, i64, Option<&str>)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1, r.2.as_deref()))
            .collect();
        assert_eq!(
            states,
            vec![
                ("queued", 0, Some("waiting for the delay after the trouble")),
                ("queued", 0, Some("no trouble in the session yet")),
                ("cancelled", 0, Some("checkout completed")),
            ]
        );
        // Then once; Bo's session has ended without trouble by then.
        assert_eq!(
            mailer.deliver_due(t1 + 31 * 60_000 + 62_000).await.unwrap(),
            1
        );
        assert_eq!(
            mailer.deliver_due(t1 + 40 * 60_000).await.unwrap(),
            0,
            "nothing more"
        );
        let mails = inbox.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec!["Ann@example.com"]);
        let rows = outbox(&db).await;
        let states: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.2.as_deref()))
            .collect();
        assert_eq!(
            states,
            vec![
                ("sent", None),
                ("cancelled", Some("no trouble in the session")),
                ("cancelled", Some("checkout completed")),
            ]
        );
    }
);

both_backends!(
    a_survey_answer_after_an_identify_is_due_after_the_answer,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = RecoveryConfig {
            delay: Duration::from_secs(600),
            ..recovery_config(Some(url))
        };
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            vec![identify("j1", "s_identify_dee_1", "dee@example.com")],
        )
        .await;
        let mut later = abandoned("j", "s_identify_dee_1", "dee@example.com");
        later.remove(0);
        ingest(&app, &site.key, later).await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms() + 601_000).await.unwrap(), 1);
        assert_eq!(outbox(&db).await.len(), 1, "one email for the session");
        assert_eq!(inbox.mails().len(), 1);
        // The contact keeps what the survey said.
        let (_, res) = send(
            &app,
            admin_req(
                &format!("/v1/admin/sites/{}/recovery/contacts", site.key),
                Some(&site.token),
            ),
        )
        .await;
        let page = json_body(res).await;
        assert_eq!(page["contacts"][0]["reason"]["choice"], "broken", "{page}");
        assert_eq!(
            page["contacts"][0]["consent_text"],
            "Email me once it works"
        );
    }
);

both_backends!(
    the_email_follows_the_shoppers_language_when_the_site_has_it,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = recovery_config(Some(url));
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await; // the site's language: English
        for (prefix, session, email, accept) in [
            (
                "la",
                "s_lang_german_01",
                "de@example.com",
                Some("de-AT,de;q=0.9,en;q=0.5"),
            ),
            (
                "lb",
                "s_lang_french_01",
                "fr@example.com",
                Some("fr-FR,fr;q=0.9"),
            ),
            ("lc", "s_lang_absent_01", "xx@example.com", None),
        ] {
            let batch = json!({"v": 1, "sdk": "test", "sent_at": now_ms(),
                               "events": abandoned(prefix, session, email)});
            let mut req = ingest_req(&site.key, Some(ORIGIN), "text/plain", batch.to_string());
            if let Some(a) = accept {
                req.headers_mut()
                    .insert("accept-language", a.parse().unwrap());
            }
            let (status, res) = send(&app, req).await;
            assert_eq!(status, 200, "{}", json_body(res).await);
        }
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 3);
        let mut by_recipient = std::collections::BTreeMap::new();
        for m in inbox.mails() {
            let parsed = mailparse::parse_mail(&m.data).unwrap();
            let subject = parsed.get_headers().get_first_value("Subject").unwrap();
            let plain = parsed
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype == "text/plain")
                .unwrap()
                .get_body()
                .unwrap();
            by_recipient.insert(m.to[0].clone(), (subject, plain));
        }
        let (subject, plain) = &by_recipient["de@example.com"];
        assert!(
            subject.starts_with("Ihr Warenkorb bei Voltline"),
            "{subject}"
        );
        assert!(plain.contains("Summe: 317,00 USD"), "{plain}");
        // No French emails: the site's language. No header: the same.
        for who in ["fr@example.com", "xx@example.com"] {
            let (subject, plain) = &by_recipient[who];
            assert!(subject.starts_with("Your cart at Voltline"), "{subject}");
            assert!(plain.contains("Total: 317.00 USD"), "{plain}");
        }
    }
);

both_backends!(
    at_most_one_email_per_contact_within_the_period,
    |db: Db| async move {
        let (inbox, url) = Inbox::start();
        let dir = tempfile::tempdir().unwrap();
        let cfg = RecoveryConfig {
            period: Duration::from_secs(24 * 3600),
            ..recovery_config(Some(url))
        };
        let site = add_site(&db, ORIGIN).await;
        let (app, _state, _writer) = app_with(&db, cfg.clone(), dir.path());
        put_settings(&app, &site).await;
        ingest(
            &app,
            &site.key,
            abandoned("pa", "s_period_first_1", "pat@example.com"),
        )
        .await;
        let mailer = mailer_for(&db, &cfg, dir.path()).await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 1);
        // The same address abandons another session within the period.
        ingest(
            &app,
            &site.key,
            abandoned("pb", "s_period_again_1", "PAT@example.com"),
        )
        .await;
        assert_eq!(mailer.deliver_due(now_ms()).await.unwrap(), 0);
        let rows = outbox(&db).await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[1].0.as_str(), rows[1].2.as_deref()),
            ("cancelled", Some("already emailed within the period"))
        );
        assert_eq!(inbox.mails().len(), 1);
    }
);

//! SIGTERM drains the notification outbox, on SQLite and PostgreSQL: the
//! real binary, leading the signals engine, is sending an incident's five
//! notifications to a slow webhook receiver (1.5 s an answer) when it gets
//! SIGTERM. It exits 0 within the bound (request timeout + 5 s); the
//! notification in flight is completed — received once and recorded as
//! delivered, never cut off half-sent — and the four not yet sent are
//! handed back at once (claim and attempt undone), so a collector started
//! afterwards sends them within seconds instead of after the 60 s claim;
//! every notification arrives exactly once. (That accepted events are
//! flushed by the same SIGTERM is `kill9_durability.rs::sigterm_drains_and_exits_*`.)
//!
//! The recovery mailer the same way: five emails fall due together and the
//! SMTP server takes 1.5 s to accept each; SIGTERM while the first is being
//! sent. The process exits 0 within the bound; that email is accepted once
//! and recorded as sent; the four claimed with it are handed back (claim
//! and attempt undone) instead of staying claimed for 90 s; a collector
//! started afterwards sends them at once, and every shopper gets exactly
//! one email.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{recovery::*, *};
use sqlx::Row;
use steadycart_collector::{notify::NotifierConfig, signals::store, store::Db};

const NOTIFIERS: usize = 5;

fn start(db_url: &str) -> Collector {
    Collector::spawn([
        "--database-url",
        db_url,
        "--signals-tick-ms",
        "100",
        "--recovery-disabled",
    ])
}

/// A webhook receiver answering 200 after 1.5 s; counts requests begun and
/// records `(path, dedup_key)` of each one answered in full.
#[derive(Clone, Default)]
struct SlowReceiver {
    begun: Arc<Mutex<usize>>,
    answered: Arc<Mutex<Vec<(String, String)>>>,
}

impl SlowReceiver {
    async fn start(&self) -> String {
        use axum::{extract::Path, routing::post, Router};
        let me = self.clone();
        let app = Router::new().route(
            "/hook/{n}",
            post(move |Path(n): Path<String>, body: String| {
                let me = me.clone();
                async move {
                    *me.begun.lock().unwrap() += 1;
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let key = v["dedup_key"].as_str().unwrap_or("").to_string();
                    me.answered.lock().unwrap().push((n, key));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    fn begun(&self) -> usize {
        *self.begun.lock().unwrap()
    }

    fn answered(&self) -> Vec<(String, String)> {
        self.answered.lock().unwrap().clone()
    }
}

/// `(delivered, pending and unclaimed with no attempt counted, other)` rows.
async fn outbox_states(db: &Db) -> (usize, usize, usize) {
    let sql = "SELECT delivered_at, claimed_until, attempts FROM notify_outbox";
    let rows: Vec<(Option<i64>, i64, i64)> = match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap();
    let delivered = rows.iter().filter(|r| r.0.is_some()).count();
    let handed_back = rows
        .iter()
        .filter(|r| r.0.is_none() && r.1 == 0 && r.2 == 0)
        .count();
    (delivered, handed_back, rows.len() - delivered - handed_back)
}

async fn exec(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query(sql)
            .fetch_one(p)
            .await
            .map(|r| r.get::<i64, _>("id")),
        Db::Postgres(p) => sqlx::query(sql)
            .fetch_one(p)
            .await
            .map(|r| r.get::<i64, _>("id")),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn drains(t: &TestDb) {
    let db = &t.db;
    let site = add_site(db, ORIGIN).await;
    let receiver = SlowReceiver::default();
    let base = receiver.start().await;
    let now = now_ms();
    // An open incident with one trigger due for each of five webhooks.
    let incident = exec(
        db,
        &format!(
            "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, baseline, observed, \
             peak_ratio, summary, details) VALUES ({}, 'errors', 'open', {now}, {now}, {now}, 0.01, 0.5, 50.0, \
             'storefront API errors', '{{}}') RETURNING id",
            site.id
        ),
    )
    .await;
    for n in 0..NOTIFIERS {
        let notifier = store::add_notifier(
            db,
            site.id,
            &NotifierConfig::Webhook {
                url: format!("{base}/hook/{n}"),
                secret: "0123456789abcdef".into(),
            },
            now,
        )
        .await
        .unwrap();
        exec(
            db,
            &format!(
                "INSERT INTO notify_outbox (site_id, incident_id, notifier_id, action, created_at, next_attempt_at) \
                 VALUES ({}, {incident}, {notifier}, 'trigger', {now}, {now}) RETURNING id",
                site.id
            ),
        )
        .await;
    }

    let mut first = start(&t.url);
    let started = Instant::now();
    while receiver.begun() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no notification was sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One notification is in flight: SIGTERM now.
    let bound = Duration::from_secs(10 + 5); // request timeout + 5 s
    let (took, status) = first.terminate(bound).await;
    assert!(status.success(), "SIGTERM: exit {status}");
    assert_eq!(
        receiver.answered().len(),
        1,
        "the send in flight was completed, no other begun"
    );
    assert_eq!(receiver.begun(), 1);
    assert_eq!(
        outbox_states(db).await,
        (1, NOTIFIERS - 1, 0),
        "one delivered, the rest handed back unclaimed"
    );

    // The next collector sends the rest at once (well before the 60 s a
    // claim would have held them).
    let mut second = start(&t.url);
    let restarted = Instant::now();
    while outbox_states(db).await.0 < NOTIFIERS {
        assert!(
            restarted.elapsed() < Duration::from_secs(40),
            "not all delivered after the restart: {:?}",
            outbox_states(db).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (second_took, status) = second.terminate(bound).await;
    assert!(status.success(), "SIGTERM: exit {status}");
    let mut answered = receiver.answered();
    answered.sort();
    let paths: Vec<String> = answered.iter().map(|(n, _)| n.clone()).collect();
    let expected: Vec<String> = (0..NOTIFIERS).map(|n| n.to_string()).collect();
    assert_eq!(paths, expected, "each notification exactly once");
    assert!(answered.iter().all(|(_, k)| !k.is_empty()));
    eprintln!(
        "SIGTERM mid-send: exited in {took:?} (one send completed, {} handed back); \
         restart delivered the rest in {:?}; idle SIGTERM {second_took:?}",
        NOTIFIERS - 1,
        restarted.elapsed()
    );
}

#[tokio::test]
async fn sigterm_finishes_the_send_in_flight_and_hands_back_the_rest_sqlite() {
    let t = TestDb::sqlite().await;
    drains(&t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn sigterm_finishes_the_send_in_flight_and_hands_back_the_rest_postgres() {
    let t = TestDb::postgres().await;
    drains(&t).await;
    t.cleanup().await;
}

// ---------------------------------------------------------- recovery mailer

const EMAILS: u32 = 5;

/// A collector sending recovery emails to `smtp`, due 1 s after the answer.
fn mailing(db_url: &str, smtp: &str, data: &std::path::Path) -> Collector {
    mailing_collector(db_url, smtp, "http://collector.test", data, 1000, 50)
}

/// `(sent, queued and unclaimed with no attempt counted, other)` rows.
async fn mail_states(db: &Db) -> (usize, usize, usize) {
    let rows = outbox(db).await;
    let sent = rows.iter().filter(|r| r.status == "sent").count();
    let handed_back = rows
        .iter()
        .filter(|r| r.status == "queued" && r.claimed_until == 0 && r.attempts == 0)
        .count();
    (sent, handed_back, rows.len() - sent - handed_back)
}

async fn mailer_drains(t: &TestDb) {
    let site = add_site(&t.db, ORIGIN).await;
    let (inbox, smtp) = Inbox::start();
    *inbox.data_delay.lock().unwrap() = Duration::from_millis(1500);
    let data = tempfile::tempdir().unwrap();
    let mut first = mailing(&t.url, &smtp, data.path()).ready().await;
    // Every abandonment in one batch: their emails fall due together and
    // are claimed in one round.
    let events: Vec<serde_json::Value> = (1..=EMAILS)
        .flat_map(|i| abandonment(i, &format!("shopper{i}@example.com")))
        .collect();
    seed_over_http(&first.url, &site, &events).await;
    let started = Instant::now();
    while *inbox.data_begun.lock().unwrap() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no email was sent: {:?}",
            outbox(&t.db).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One email is in flight: SIGTERM now.
    let bound = Duration::from_secs(10);
    let (took, status) = first.terminate(bound).await;
    assert!(status.success(), "SIGTERM: exit {status}");
    // Normally exactly one was begun; a test thread starved for longer
    // than one email (1.5 s) lets the mailer begin the next before the
    // signal, which must be completed just the same.
    let begun = *inbox.data_begun.lock().unwrap() as usize;
    assert!(
        (1..EMAILS as usize).contains(&begun),
        "SIGTERM did not land mid-batch: {begun} begun"
    );
    assert_eq!(
        inbox.mails().len(),
        begun,
        "the email in flight was completed"
    );
    assert_eq!(
        mail_states(&t.db).await,
        (begun, EMAILS as usize - begun, 0),
        "sent what was begun, the rest handed back unclaimed: {:?}",
        outbox(&t.db).await
    );

    // The next collector sends the rest at once (a claim would have held
    // them for 90 s).
    let mut second = mailing(&t.url, &smtp, data.path());
    let restarted = Instant::now();
    while mail_states(&t.db).await.0 < EMAILS as usize {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "not all sent after the restart: {:?}",
            outbox(&t.db).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (second_took, status) = second.terminate(bound).await;
    assert!(status.success(), "SIGTERM: exit {status}");
    let mut to: Vec<String> = inbox.mails().iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let expected: Vec<String> = (1..=EMAILS)
        .map(|i| format!("shopper{i}@example.com"))
        .collect();
    assert_eq!(to, expected, "each shopper exactly one email");
    eprintln!(
        "SIGTERM mid-batch: exited in {took:?} ({begun} email completed, {} handed back); \
         restart sent the rest in {:?}; idle SIGTERM {second_took:?}",
        EMAILS as usize - begun,
        restarted.elapsed()
    );
}

#[tokio::test]
async fn sigterm_mid_batch_completes_the_email_in_flight_and_hands_back_the_rest_sqlite() {
    let t = TestDb::sqlite().await;
    mailer_drains(&t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn sigterm_mid_batch_completes_the_email_in_flight_and_hands_back_the_rest_postgres() {
    let t = TestDb::postgres().await;
    mailer_drains(&t).await;
    t.cleanup().await;
}

//! Two collector processes (the real binary) on one PostgreSQL database,
//! both running the recovery mailer against one real SMTP server
//! (mailin-embedded in the test process): every contact gets exactly one
//! email, although both instances poll the outbox every few milliseconds
//! while the emails fall due at the same moment.
//!
//! Each instance signs unsubscribe links with its own public URL, so the
//! emails tell which instance sent them: the test also checks that both
//! took part (otherwise it would prove nothing about the race).

mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use common::{recovery::*, *};
use mailparse::MailHeaderMap;
use serde_json::Value;
use steadycart_collector::store::Db;

/// Contacts (and so emails) in the race.
const CONTACTS: usize = 40;

/// A collector process whose unsubscribe links start with `public`. Emails
/// fall due together, a while after the last answer is in; both mailers
/// poll every 10 ms.
async fn collector(db_url: &str, smtp: &str, public: &str, data: &std::path::Path) -> Collector {
    mailing_collector(db_url, smtp, public, data, 1500, 10)
        .ready()
        .await
}

/// SIGTERM, then a clean exit (an email being sent finishes).
async fn stop(mut c: Collector) {
    let (_, status) = c.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "collector exit: {status}");
}

async fn outbox_states(db: &Db) -> BTreeMap<String, i64> {
    let Db::Postgres(pool) = db else {
        unreachable!("this test runs on PostgreSQL")
    };
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM recovery_outbox GROUP BY status")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collector_processes_on_postgres_send_each_email_once() {
    let t = TestDb::postgres().await;
    let site = add_site(&t.db, ORIGIN).await;
    let (inbox, smtp) = Inbox::start();
    let data = tempfile::tempdir().unwrap();
    let a = collector(&t.url, &smtp, "http://instance-a.test", data.path()).await;
    let b = collector(&t.url, &smtp, "http://instance-b.test", data.path()).await;

    // Every abandonment in one batch (settings and batch through instance
    // b; a reads them from the database): their emails are due at the same
    // ms.
    let events: Vec<Value> = (0..CONTACTS as u32)
        .flat_map(|i| abandonment(i, &format!("shopper{i}@example.com")))
        .collect();
    seed_over_http(&b.url, &site, &events).await;

    // Wait until no email is left queued, then stop both instances (each
    // finishes what it is sending) before counting.
    let start = Instant::now();
    loop {
        let states = outbox_states(&t.db).await;
        let queued = states.get("queued").copied().unwrap_or(0);
        if queued == 0 && states.values().sum::<i64>() == CONTACTS as i64 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "emails still queued after 60 s: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop(a).await;
    stop(b).await;

    assert_eq!(
        outbox_states(&t.db).await,
        BTreeMap::from([("sent".to_string(), CONTACTS as i64)])
    );
    let mails = inbox.mails();
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_instance: BTreeMap<&str, usize> = BTreeMap::new();
    for Received { to, data, .. } in &mails {
        assert_eq!(to.len(), 1, "{to:?}");
        *per_recipient.entry(to[0].clone()).or_default() += 1;
        let parsed = mailparse::parse_mail(data).unwrap();
        let list = parsed
            .get_headers()
            .get_first_value("List-Unsubscribe")
            .unwrap();
        let instance = if list.starts_with("<http://instance-a.test/") {
            "a"
        } else if list.starts_with("<http://instance-b.test/") {
            "b"
        } else {
            panic!("unexpected List-Unsubscribe {list}")
        };
        *per_instance.entry(instance).or_default() += 1;
    }
    let twice: Vec<_> = per_recipient.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(per_recipient.len(), CONTACTS, "{per_recipient:?}");
    assert_eq!(mails.len(), CONTACTS);
    assert!(
        per_instance.len() == 2,
        "both instances must have sent (else there was no race): {per_instance:?}"
    );
    eprintln!("emails per instance: {per_instance:?}");
    t.cleanup().await;
}

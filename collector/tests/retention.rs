//! Retention on SQLite and PostgreSQL: the sweep deletes exactly what
//! SECURITY.md ("Retention") promises — raw events and exit-survey answers
//! after 30 days, delivered and dead-lettered notifications 30 days after
//! they were done, rollups, resolved incidents (with their outbox rows) and
//! drop reports after 400 days, `.eml` files whose email is gone — and
//! keeps what it promises to keep (newer rows, open incidents, notifications
//! still being retried, other files). A running collector sweeps on its own.

mod common;

use std::time::Duration;

use common::*;
use sqlx::Row;
use steadycart_collector::{
    config::Config,
    notify::NotifierConfig,
    retention::{sweep, RetentionPolicy, Swept},
    signals::store,
    store::{events::EventRow, Db},
};

const DAY: i64 = 24 * 3_600_000;

async fn exec(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The `id` an `INSERT … RETURNING id` gave.
async fn insert_id(db: &Db, sql: &str) -> i64 {
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

async fn count(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query(sql)
            .fetch_one(p)
            .await
            .map(|r| r.get::<i64, _>(0)),
        Db::Postgres(p) => sqlx::query(sql)
            .fetch_one(p)
            .await
            .map(|r| r.get::<i64, _>(0)),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn add_events(db: &Db, site: i64, times: &[(&str, i64)]) {
    let rows: Vec<EventRow> = times
        .iter()
        .map(|(id, at)| EventRow {
            site_id: site,
            event_id: format!("{id:0>32}"),
            session_id: "s_retention_session".into(),
            kind: "page_exit",
            client_ts: *at,
            received_at: *at,
            body: format!(
                r#"{{"id":"{id:0>32}","ts":{at},"session":"s_retention_session","type":"page_exit"}}"#
            ),
        })
        .collect();
    db.insert_events(&rows).await.unwrap();
}

async fn add_answer(db: &Db, site: i64, id: &str, at: i64, email: &str) {
    exec(
        db,
        &format!(
            "INSERT INTO survey_answers (site_id, event_id, session_id, answered_at, received_at, exit_trigger, \
             free_text, email, consent_text, consent_version) \
             VALUES ({site}, '{id}', 's_retention_session', {at}, {at}, 'pointer_top', 'it broke', '{email}', 'Email me', 'v1')"
        ),
    )
    .await;
}

async fn add_incident(db: &Db, site: i64, status: &str, since: i64, resolved: Option<i64>) -> i64 {
    let resolved = resolved.map_or("NULL".to_string(), |r| r.to_string());
    insert_id(
        db,
        &format!(
            "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, ended, resolved_at, \
             baseline, observed, peak_ratio, summary, details) \
             VALUES ({site}, 'errors', '{status}', {since}, {since}, {since}, {resolved}, {resolved}, \
             0.01, 0.5, 50.0, 'errors', '{{}}') RETURNING id"
        ),
    )
    .await
}

/// An outbox row; `done` is `("delivered_at" | "failed_at", at)` or none (pending).
async fn add_note(
    db: &Db,
    site: i64,
    incident: i64,
    notifier: i64,
    action: &str,
    done: Option<(&str, i64)>,
) {
    let (delivered, failed) = match done {
        Some(("delivered_at", at)) => (at.to_string(), "NULL".to_string()),
        Some((_, at)) => ("NULL".to_string(), at.to_string()),
        None => ("NULL".to_string(), "NULL".to_string()),
    };
    exec(
        db,
        &format!(
            "INSERT INTO notify_outbox (site_id, incident_id, notifier_id, action, created_at, next_attempt_at, delivered_at, failed_at) \
             VALUES ({site}, {incident}, {notifier}, '{action}', 0, 0, {delivered}, {failed})"
        ),
    )
    .await;
}

async fn add_rollup(db: &Db, site: i64, at: i64) {
    exec(
        db,
        &format!(
            "INSERT INTO signal_buckets (site_id, bucket_start, bucket_ms, sessions, checkout_starts, completions, \
             abandonments, abandon_after_trouble, calls, errors, stalls, causes, samples) \
             VALUES ({site}, {at}, 60000, 1, 1, 1, 0, 0, 1, 0, 0, '{{}}', '[]')"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO signal_dims (site_id, dim, key, bucket_start, calls, errors, stalls, statuses) \
             VALUES ({site}, 'endpoint', 'POST /api/checkout', {at}, 1, 0, 0, '{{}}')"
        ),
    )
    .await;
}

both_backends!(
    the_sweep_deletes_what_it_promises_and_keeps_the_rest,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let s = site.id;
        let now = 1_000 * DAY;
        let data = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        let policy = RetentionPolicy::from_config(&config);
        // The defaults SECURITY.md states.
        assert_eq!(policy.events, Duration::from_secs(30 * 86_400));
        assert_eq!(policy.survey_answers, Duration::from_secs(30 * 86_400));
        assert_eq!(policy.notifications, Duration::from_secs(30 * 86_400));
        assert_eq!(policy.rollups, Duration::from_secs(400 * 86_400));

        add_events(
            &db,
            s,
            &[
                ("e1", now - 31 * DAY),
                ("e2", now - 29 * DAY),
                ("e3", now - 1),
            ],
        )
        .await;
        add_answer(&db, s, "a1", now - 31 * DAY, "old@example.com").await;
        add_answer(&db, s, "a2", now - 29 * DAY, "new@example.com").await;

        let hook = store::add_notifier(
            &db,
            s,
            &NotifierConfig::Webhook {
                url: "http://127.0.0.1:9/hook".into(),
                secret: "0123456789abcdef".into(),
            },
            0,
        )
        .await
        .unwrap();
        // Resolved 401 days ago: goes, with a row still pending (cascade).
        let ancient =
            add_incident(&db, s, "resolved", now - 402 * DAY, Some(now - 401 * DAY)).await;
        add_note(&db, s, ancient, hook, "trigger", None).await;
        // Resolved 40 days ago: stays; its trigger delivered 40 days ago
        // goes, its resolve delivered yesterday stays.
        let recent = add_incident(&db, s, "resolved", now - 41 * DAY, Some(now - 40 * DAY)).await;
        add_note(
            &db,
            s,
            recent,
            hook,
            "trigger",
            Some(("delivered_at", now - 40 * DAY)),
        )
        .await;
        add_note(
            &db,
            s,
            recent,
            hook,
            "resolve",
            Some(("delivered_at", now - DAY)),
        )
        .await;
        // Open for 500 days: stays; a dead letter of 31 days ago goes, a
        // notification still being retried stays.
        let open = add_incident(&db, s, "open", now - 500 * DAY, None).await;
        add_note(
            &db,
            s,
            open,
            hook,
            "trigger",
            Some(("failed_at", now - 31 * DAY)),
        )
        .await;
        add_note(&db, s, open, hook, "resolve", None).await;

        add_rollup(&db, s, now - 401 * DAY).await;
        add_rollup(&db, s, now - 399 * DAY).await;
        for (key, at) in [("d1", now - 401 * DAY), ("d2", now - DAY)] {
            exec(
                &db,
                &format!("INSERT INTO client_drops (site_id, batch_key, dropped, received_at) VALUES ({s}, '{key}', 3, {at})"),
            )
            .await;
        }

        // A recovery email still on record, its .eml file, an .eml file
        // whose email is gone, and an unrelated file.
        let contact = insert_id(
            &db,
            &format!(
                "INSERT INTO recovery_contacts (site_id, email, email_norm, session_id, answer_event_id, consent_text, \
                 consent_version, consented_at, trouble_at, first_seen, updated_at, status) \
                 VALUES ({s}, 'kept@example.com', 'kept@example.com', 's_retention_session', 'a2', 'Email me', 'v1', \
                 {now}, {now}, {now}, {now}, 'emailed') RETURNING id"
            ),
        )
        .await;
        let mail = insert_id(
            &db,
            &format!(
                "INSERT INTO recovery_outbox (site_id, contact_id, session_id, created_at, status, next_attempt_at) \
                 VALUES ({s}, {contact}, 's_retention_session', {now}, 'sent', {now}) RETURNING id"
            ),
        )
        .await;
        let dir = policy.mail_dir.clone().unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let live = dir.join(format!("recovery-{s}-{mail}.eml"));
        let orphan = dir.join(format!("recovery-{s}-{}.eml", mail + 1000));
        let other = dir.join("README.txt");
        for f in [&live, &orphan, &other] {
            std::fs::write(f, "x").unwrap();
        }

        let swept = sweep(&db, &policy, now).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                events: 1,
                survey_answers: 1,
                notifications: 2,
                rollups: 2,
                incidents: 1,
                drop_reports: 1,
                eml_files: 1,
            }
        );
        assert_eq!(db.count_events(s).await.unwrap(), 2);
        let emails = count(
            &db,
            "SELECT COUNT(*) FROM survey_answers WHERE email = 'old@example.com' OR free_text IS NULL",
        )
        .await;
        assert_eq!(emails, 0, "the old answer and its address are gone");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM survey_answers").await, 1);
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) FROM incidents WHERE id IN ({recent}, {open})")
            )
            .await,
            2
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM incidents").await, 2);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM notify_outbox").await,
            2,
            "the recent resolve and the pending resolve stay"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM notify_outbox WHERE delivered_at IS NULL AND failed_at IS NULL").await,
            1
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM signal_buckets").await, 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM signal_dims").await, 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM client_drops").await, 1);
        assert!(live.exists() && other.exists() && !orphan.exists());

        // A second sweep finds nothing more.
        assert_eq!(sweep(&db, &policy, now).await.unwrap(), Swept::default());
        // Shorter settings delete more: everything older than an hour.
        let short = RetentionPolicy {
            events: Duration::from_secs(3600),
            survey_answers: Duration::from_secs(3600),
            notifications: Duration::from_secs(3600),
            rollups: Duration::from_secs(3600),
            mail_dir: None,
        };
        let swept = sweep(&db, &short, now).await.unwrap();
        assert_eq!((swept.events, swept.survey_answers), (1, 1));
        assert_eq!(count(&db, "SELECT COUNT(*) FROM survey_answers").await, 0);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM signal_buckets").await, 0);
        assert!(live.exists(), "no mail dir given: files untouched");
    }
);

both_backends!(a_running_collector_sweeps_on_its_own, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let now = now_ms();
    add_events(&db, site.id, &[("f1", now - 31 * DAY), ("f2", now)]).await;
    let url = match &db {
        Db::Sqlite(p) => {
            let (file,): (String,) =
                sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(p)
                    .await
                    .unwrap();
            format!("sqlite://{file}")
        }
        Db::Postgres(p) => {
            let (name,): (String,) = sqlx::query_as("SELECT current_database()")
                .fetch_one(p)
                .await
                .unwrap();
            format!("{}/{name}", pg_admin_url().rsplit_once('/').unwrap().0)
        }
    };
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        database_url: Some(url),
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.signals.enabled = false;
    config.recovery.enabled = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(steadycart_collector::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let started = std::time::Instant::now();
    while db.count_events(site.id).await.unwrap() != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the old event is still there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
});

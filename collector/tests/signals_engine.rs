//! The signals engine on real databases: generated traffic goes in as event
//! rows, the engine rolls up closed buckets, detects a 3× abandonment spike,
//! opens and resolves one incident with its evidence, and queues one trigger
//! and one resolve per notifier — on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use steadycart_collector::{
    detect::traffic::{Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    notify::NotifierConfig,
    signals::{engine, store, SignalsConfig},
    store::{events::EventRow, Db},
};

const BUCKET_MS: i64 = 2_000;

fn config() -> SignalsConfig {
    SignalsConfig {
        bucket: Duration::from_millis(BUCKET_MS as u64),
        settle: Duration::from_millis(200),
        exit_grace: Duration::from_millis(BUCKET_MS as u64 / 3),
        ..SignalsConfig::default()
    }
}

/// Insert `buckets` buckets of generated traffic and roll them up with the
/// engine's clock at each bucket's end; returns the generator's start.
async fn replay(db: &Db, site_id: i64, profile: TrafficProfile, buckets: u64, cfg: &SignalsConfig) {
    let mut g = TrafficGenerator::new(profile.clone());
    // The engine starts at the bucket containing its first look.
    assert!(!engine::process_bucket(db, cfg, site_id, profile.start_ms)
        .await
        .unwrap());
    for _ in 0..buckets {
        let (_, start, events) = g.next_bucket();
        let rows: Vec<EventRow> = events
            .iter()
            .map(|(at, e)| EventRow {
                site_id,
                event_id: e.id.clone(),
                session_id: e.session.clone(),
                kind: e.body.kind(),
                client_ts: e.ts,
                received_at: *at,
                body: serde_json::to_string(e).unwrap(),
            })
            .collect();
        db.insert_events(&rows).await.unwrap();
        let now = start + BUCKET_MS + cfg.settle.as_millis() as i64;
        assert!(
            engine::process_bucket(db, cfg, site_id, now).await.unwrap(),
            "bucket at {start} processed"
        );
        // Nothing more is due until the next bucket closes.
        assert!(!engine::process_bucket(db, cfg, site_id, now).await.unwrap());
    }
}

both_backends!(spike_opens_and_resolves_one_incident, |db: Db| async move {
    let site = common::add_site(&db, common::ORIGIN).await;
    let hook = NotifierConfig::Webhook {
        url: "http://127.0.0.1:9/hook".into(),
        secret: "0123456789abcdef".into(),
    };
    let notifier = store::add_notifier(&db, site.id, &hook, 0).await.unwrap();
    let cfg = config();
    let profile = TrafficProfile {
        seed: 5,
        start_ms: 1_764_288_000_000,
        bucket_ms: BUCKET_MS,
        abandon_rate: 0.15,
        error_rate: 0.0,
        spikes: vec![Spike {
            from: 30,
            to: 40,
            kind: SpikeKind::Abandonment { factor: 3.0 },
        }],
        ..TrafficProfile::default()
    };
    let start = profile.start_ms;
    replay(&db, site.id, profile, 50, &cfg).await;

    let incidents = store::list_incidents(&db, site.id, None, 0, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let i = &incidents[0];
    assert_eq!(
        (i.series.as_str(), i.status.as_str()),
        ("abandonment", "resolved")
    );
    let onset = start + 30 * BUCKET_MS;
    // Opened by the end of bucket `onset + 2` (see the accuracy tests).
    assert!(
        i.opened_at <= onset + 3 * BUCKET_MS,
        "opened {} buckets after onset",
        (i.opened_at - onset) / BUCKET_MS
    );
    assert!(i.peak_ratio > 2.0, "{i:?}");
    assert!(i.details.totals.abandonments > 20, "{:?}", i.details.totals);
    assert!(!i.details.samples.is_empty());
    assert!(
        i.summary.starts_with("checkout abandonment "),
        "{}",
        i.summary
    );

    let outbox = store::outbox_of(&db, i.id).await.unwrap();
    let actions: Vec<(i64, &str)> = outbox.iter().map(|o| (o.0, o.1.as_str())).collect();
    assert_eq!(actions, vec![(notifier, "trigger"), (notifier, "resolve")]);

    // Rollups: the series read sees the spike.
    let slots = store::slots(&db, site.id, start, start + 50 * BUCKET_MS, 10 * BUCKET_MS)
        .await
        .unwrap();
    assert_eq!(slots.len(), 5);
    let rate = |k: usize| slots[k].value("abandonment_rate").unwrap();
    assert!(
        rate(3) > 2.0 * rate(1),
        "spike slot {} vs normal {}",
        rate(3),
        rate(1)
    );
    assert!(slots.iter().all(|s| s.value("sessions").unwrap() > 300.0));
});

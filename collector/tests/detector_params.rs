//! Per-site detector parameters: set and read through the admin API
//! (validated, unknown fields refused, `{}` back to the defaults), stored in
//! the database, and used by the signals engine — two sites with the same
//! traffic and a payment outage: the one on defaults opens an incident, the
//! one whose overrides keep it warming up does not; lowering the minimum
//! sample per site lets thin traffic be judged. SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use axum::{body::Body, http::Request};
use steadycart_collector::{
    detect::traffic::{Endpoint, Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    signals::{engine, store, SignalsConfig},
    store::{events::EventRow, Db},
};

const BUCKET_MS: i64 = 2_000;

fn put(site: &common::TestSite, body: &str) -> Request<Body> {
    Request::put(format!("/v1/admin/sites/{}/detector", site.key))
        .header("authorization", format!("Bearer {}", site.token))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Replay the same generated traffic into every site, bucket by bucket.
async fn replay(
    db: &Db,
    sites: &[i64],
    profile: TrafficProfile,
    buckets: u64,
    cfg: &SignalsConfig,
) {
    let mut g = TrafficGenerator::new(profile.clone());
    for &site in sites {
        assert!(!engine::process_bucket(db, cfg, site, profile.start_ms)
            .await
            .unwrap());
    }
    for _ in 0..buckets {
        let (_, start, events) = g.next_bucket();
        for &site_id in sites {
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
            assert!(engine::process_bucket(db, cfg, site_id, now).await.unwrap());
        }
    }
}

both_backends!(
    per_site_parameters_through_the_api_and_the_engine,
    |db: Db| async move {
        let defaults = common::add_site(&db, common::ORIGIN).await;
        let warming = common::add_site(&db, "https://warming.example").await;
        let thin_default = common::add_site(&db, "https://thin.example").await;
        let thin_tuned = common::add_site(&db, "https://thin-tuned.example").await;
        let (app, _state, _writer) = common::test_app(db.clone());

        // Read: defaults, no overrides.
        let (status, res) = common::send(
            &app,
            common::admin_req(
                &format!("/v1/admin/sites/{}/detector", defaults.key),
                Some(&defaults.token),
            ),
        )
        .await;
        assert_eq!(status, 200);
        let doc = common::json_body(res).await;
        assert_eq!(doc["overrides"], serde_json::json!({}), "{doc}");
        assert_eq!(doc["effective"], doc["defaults"], "{doc}");
        assert_eq!(doc["defaults"]["min_trials"], 20, "{doc}");

        // Refused: out of range, unknown field, not JSON — each names its field,
        // and nothing is stored.
        for (body, field) in [
            (r#"{"alpha":0.5}"#, "alpha"),
            (r#"{"min_trials":0}"#, "min_trials"),
            (r#"{"open_after":11}"#, "open_after"),
            (r#"{"mystery":1}"#, "mystery"),
            (r#"{"min_trials":"many"}"#, "body"),
            ("not json", "body"),
        ] {
            let (status, res) = common::send(&app, put(&warming, body)).await;
            let json = common::json_body(res).await;
            assert_eq!(
                (status, json["field"].as_str()),
                (400, Some(field)),
                "{body}: {json}"
            );
        }
        assert!(db.detector_overrides(warming.id).await.unwrap().is_empty());

        // Set: the answer shows the merge; the store has exactly the overrides.
        let (status, res) = common::send(&app, put(&warming, r#"{"warmup_buckets":10000}"#)).await;
        let doc = common::json_body(res).await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(
            doc["overrides"],
            serde_json::json!({"warmup_buckets": 10000})
        );
        assert_eq!(doc["effective"]["warmup_buckets"], 10000);
        assert_eq!(doc["effective"]["alpha"], doc["defaults"]["alpha"]);
        let (status, _) =
            common::send(&app, put(&thin_tuned, r#"{"min_trials":4,"min_events":3}"#)).await;
        assert_eq!(status, 200);
        // `{}` goes back to the defaults; setting again works.
        let (status, res) = common::send(&app, put(&thin_default, r#"{"min_trials":4}"#)).await;
        assert_eq!(status, 200, "{}", common::json_body(res).await);
        let (status, res) = common::send(&app, put(&thin_default, "{}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            common::json_body(res).await["overrides"],
            serde_json::json!({})
        );
        assert!(db
            .detector_overrides(thin_default.id)
            .await
            .unwrap()
            .is_empty());

        let cfg = SignalsConfig {
            bucket: Duration::from_millis(BUCKET_MS as u64),
            settle: Duration::from_millis(200),
            exit_grace: Duration::from_millis(BUCKET_MS as u64 / 3),
            ..SignalsConfig::default()
        };
        let outage = |sessions: f64, seed: u64| TrafficProfile {
            seed,
            start_ms: 1_764_288_000_000,
            bucket_ms: BUCKET_MS,
            sessions_per_bucket: sessions,
            error_rate: 0.0,
            spikes: vec![Spike {
                from: 16,
                to: 24,
                kind: SpikeKind::EndpointErrors {
                    endpoint: Endpoint::Payment,
                    rate: 1.0,
                    status: 503,
                },
            }],
            ..TrafficProfile::default()
        };
        let opened = |site: i64| {
            let db = db.clone();
            async move {
                store::list_incidents(&db, site, None, 0, i64::MAX, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|i| i.series == "errors")
                    .count()
            }
        };

        // Busy traffic: the default site pages, the warming one cannot.
        replay(&db, &[defaults.id, warming.id], outage(50.0, 7), 30, &cfg).await;
        assert_eq!(opened(defaults.id).await, 1, "defaults detect the outage");
        assert_eq!(
            opened(warming.id).await,
            0,
            "the site's warm-up override is used"
        );

        // Thin traffic (2.5 sessions a bucket, ~9 calls): too few calls for the
        // default minimum sample, enough for the site that lowered it.
        replay(
            &db,
            &[thin_default.id, thin_tuned.id],
            outage(2.5, 9),
            30,
            &cfg,
        )
        .await;
        assert_eq!(
            opened(thin_default.id).await,
            0,
            "thin traffic is not judged by default"
        );
        assert_eq!(
            opened(thin_tuned.id).await,
            1,
            "the lowered minimum sample judges it"
        );
    }
);

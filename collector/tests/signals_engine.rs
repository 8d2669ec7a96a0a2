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
/// engine's clock at each bucket's end. During the first spike, one
/// abandoning shopper a bucket answers the exit survey.
async fn replay(db: &Db, site_id: i64, profile: TrafficProfile, buckets: u64, cfg: &SignalsConfig) {
    let spike = profile.spikes.first().map(|s| s.from..s.to);
    let mut g = TrafficGenerator::new(profile.clone());
    // The engine starts at the bucket containing its first look.
    assert!(!engine::process_bucket(db, cfg, site_id, profile.start_ms)
        .await
        .unwrap());
    for _ in 0..buckets {
        let (i, start, mut events) = g.next_bucket();
        if spike.as_ref().is_some_and(|s| s.contains(&i)) {
            if let Some((at, exit)) = events
                .iter()
                .find(|(_, e)| e.body == steadycart_protocol::EventBody::PageExit)
                .cloned()
            {
                let answer: steadycart_protocol::Event = serde_json::from_value(serde_json::json!({
                    "id": format!("{:032x}", 0xabc000 + i), "ts": exit.ts, "session": exit.session,
                    "type": "survey_answered", "trigger": "pointer_top",
                    "answer": {"choice": "payment_failed", "text": "card kept failing", "rating": 1},
                    "trouble": {"roles": ["payment"], "endpoints": ["POST /api/payment"], "last_outcome": "http_error", "last_status": 503}
                })).unwrap();
                events.push((at, answer));
            }
        }
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

/// What a local receiver saw: (path with query, headers, body).
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, axum::http::HeaderMap, String)>>>;

/// A local HTTP receiver standing in for PagerDuty, Opsgenie, Slack and a
/// webhook endpoint. Slack answers 500 to its first request, to exercise
/// retries.
async fn receiver() -> (String, Seen) {
    use axum::{extract::Request, http::StatusCode, routing::any, Router};
    let seen: Seen = Default::default();
    let s = seen.clone();
    let app = Router::new().fallback(any(move |req: Request| {
        let s = s.clone();
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let headers = req.headers().clone();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            let mut seen = s.lock().unwrap();
            let first_slack = path == "/slack" && !seen.iter().any(|(p, _, _)| p == "/slack");
            seen.push((
                path.clone(),
                headers,
                String::from_utf8(body.to_vec()).unwrap(),
            ));
            if first_slack {
                StatusCode::INTERNAL_SERVER_ERROR
            } else if path.starts_with("/v2/") {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            }
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

both_backends!(notifications_reach_every_target_once, |db: Db| async move {
    use axum::{body::Body, http::Request};
    let (base, seen) = receiver().await;
    let site = common::add_site(&db, common::ORIGIN).await;
    let (app, _state, _writer) = common::test_app(db.clone());
    let secret = "whsec-0123456789abcdef";
    for body in [
        serde_json::json!({"kind": "pagerduty", "routing_key": "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"}),
        serde_json::json!({"kind": "opsgenie", "api_key": "genie-key-1", "priority": "P1"}),
        serde_json::json!({"kind": "slack", "webhook_url": format!("{base}/slack")}),
        serde_json::json!({"kind": "webhook", "url": format!("{base}/hook"), "secret": secret}),
    ] {
        let req = Request::post(format!("/v1/admin/sites/{}/notifiers", site.key))
            .header("authorization", format!("Bearer {}", site.token))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, res) = common::send(&app, req).await;
        let json = common::json_body(res).await;
        assert_eq!(status, 201, "{json}");
        assert!(
            !json.to_string().contains("R0UT1NG") && !json.to_string().contains(secret),
            "{json}"
        );
    }
    // A bad notifier names its field; without the token nothing is listed.
    let req = Request::post(format!("/v1/admin/sites/{}/notifiers", site.key))
        .header("authorization", format!("Bearer {}", site.token))
        .body(Body::from(
            r#"{"kind":"webhook","url":"https://x.example/h","secret":"short"}"#,
        ))
        .unwrap();
    let (status, res) = common::send(&app, req).await;
    assert_eq!(
        (status, common::json_body(res).await["field"].clone()),
        (400, serde_json::json!("secret"))
    );
    let (status, _) = common::send(
        &app,
        common::admin_req(&format!("/v1/admin/sites/{}/notifiers", site.key), None),
    )
    .await;
    assert_eq!(status, 401);

    let cfg = SignalsConfig {
        pagerduty_url: base.clone(),
        opsgenie_url: base.clone(),
        min_backoff: Duration::from_millis(50),
        ..config()
    };
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
    replay(&db, site.id, profile, 50, &cfg).await;
    let http = steadycart_collector::notify::client(&cfg);
    let mut delivered = 0;
    for _ in 0..50 {
        delivered +=
            steadycart_collector::notify::outbox::deliver_due(&db, &cfg, &http, common::now_ms())
                .await
                .unwrap();
        if delivered == 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(delivered, 8, "4 targets × trigger + resolve");
    // Nothing is sent twice.
    assert_eq!(
        steadycart_collector::notify::outbox::deliver_due(
            &db,
            &cfg,
            &http,
            common::now_ms() + 3_600_000
        )
        .await
        .unwrap(),
        0
    );

    let seen = seen.lock().unwrap().clone();
    let of = |p: &str| -> Vec<serde_json::Value> {
        seen.iter()
            .filter(|(path, _, _)| path.starts_with(p))
            .map(|(_, _, b)| serde_json::from_str(b).unwrap())
            .collect()
    };
    // PagerDuty: one trigger then one resolve with the same dedup_key.
    let pd = of("/v2/enqueue");
    assert_eq!(pd.len(), 2, "{pd:?}");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);
    assert_eq!(pd[0]["routing_key"], "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12");
    assert!(pd[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("checkout abandonment"));
    assert_eq!(pd[0]["payload"]["severity"], "critical");
    assert_eq!(
        pd[0]["payload"]["source"],
        format!("steadycart/{}", site.key)
    );
    assert!(pd[0]["payload"]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // Opsgenie: create, then close by alias.
    let create: Vec<_> = seen.iter().filter(|(p, _, _)| p == "/v2/alerts").collect();
    assert_eq!(create.len(), 1);
    assert_eq!(create[0].1["authorization"], "GenieKey genie-key-1");
    let alert: serde_json::Value = serde_json::from_str(&create[0].2).unwrap();
    assert_eq!(alert["alias"], pd[0]["dedup_key"]);
    assert_eq!(alert["priority"], "P1");
    assert!(alert["message"].as_str().unwrap().chars().count() <= 130);
    let close: Vec<_> = seen
        .iter()
        .filter(|(p, _, _)| p.ends_with("/close?identifierType=alias"))
        .collect();
    assert_eq!(close.len(), 1);
    assert_eq!(
        close[0].0,
        format!(
            "/v2/alerts/{}/close?identifierType=alias",
            alert["alias"].as_str().unwrap()
        )
    );
    // Slack: retried after its 500, then one trigger and one resolve.
    let slack = of("/slack");
    assert_eq!(
        slack.len(),
        3,
        "first attempt refused, then trigger and resolve"
    );
    assert_eq!(slack[0], slack[1], "the retry sends the same message");
    assert!(slack[1]["text"].as_str().unwrap().contains("Incident #"));
    assert!(slack[2]["text"].as_str().unwrap().contains("Resolved #"));
    // Webhook: HMAC-SHA256 over "timestamp.body" with the site's secret.
    let hooks: Vec<_> = seen.iter().filter(|(p, _, _)| p == "/hook").collect();
    assert_eq!(hooks.len(), 2);
    for (_, headers, body) in &hooks {
        let ts: i64 = headers["x-steadycart-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((common::now_ms() / 1000 - ts).abs() < 60);
        let expected = steadycart_collector::notify::webhook::sign(secret, ts, body);
        assert_eq!(
            headers["x-steadycart-signature"].to_str().unwrap(),
            expected
        );
        assert_ne!(
            steadycart_collector::notify::webhook::sign("another-secret-xx", ts, body),
            expected
        );
    }
    let events: Vec<String> = hooks
        .iter()
        .map(|(_, _, b)| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(events, ["incident.triggered", "incident.resolved"]);

    // The read API serves the incident and the series.
    let (status, res) = common::send(
        &app,
        common::admin_req(
            &format!("/v1/admin/sites/{}/incidents?status=resolved", site.key),
            Some(&site.token),
        ),
    )
    .await;
    let list = common::json_body(res).await;
    assert_eq!(status, 200, "{list}");
    let id = list["incidents"][0]["id"].as_i64().unwrap();
    let (status, res) = common::send(
        &app,
        common::admin_req(
            &format!("/v1/admin/sites/{}/incidents/{id}", site.key),
            Some(&site.token),
        ),
    )
    .await;
    let detail = common::json_body(res).await;
    assert_eq!(status, 200);
    assert_eq!(detail["notifications"].as_array().unwrap().len(), 8);
    let start = 1_764_288_000_000i64;
    let (status, res) = common::send(&app, common::admin_req(
        &format!("/v1/admin/sites/{}/signals?from={start}&to={}&step={}&series=abandonment_rate,sessions", site.key, start + 50 * BUCKET_MS, 10 * BUCKET_MS),
        Some(&site.token))).await;
    let series = common::json_body(res).await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["t"].as_array().unwrap().len(), 5);
    let rate = series["series"]["abandonment_rate"].as_array().unwrap();
    assert!(
        rate[3].as_f64().unwrap() > 2.0 * rate[1].as_f64().unwrap(),
        "{series}"
    );
    let (status, _) = common::send(
        &app,
        common::admin_req(
            &format!("/v1/admin/sites/{}/signals?series=nope", site.key),
            Some(&site.token),
        ),
    )
    .await;
    assert_eq!(status, 400);
    let (status, res) = common::send(
        &app,
        common::admin_req(
            &format!("/v1/admin/sites/{}/metrics", site.key),
            Some(&site.token),
        ),
    )
    .await;
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!(
            "steadycart_abandonment_rate{{site=\"{}\"}} ",
            site.key
        )),
        "{text}"
    );
    assert!(text.contains("steadycart_incident_open{"), "{text}");
});

both_backends!(raw_events_expire_after_the_retention, |db: Db| async move {
    let site = common::add_site(&db, common::ORIGIN).await;
    let day = 24 * 3_600_000i64;
    let now = 100 * day;
    let rows: Vec<EventRow> = [now - 31 * day, now - 29 * day, now - 1]
        .iter()
        .enumerate()
        .map(|(i, at)| EventRow {
            site_id: site.id,
            event_id: format!("{i:032x}"),
            session_id: "s_retention_01".into(),
            kind: "page_exit",
            client_ts: *at,
            received_at: *at,
            body: format!(
                r#"{{"id":"{i:032x}","ts":{at},"session":"s_retention_01","type":"page_exit"}}"#
            ),
        })
        .collect();
    db.insert_events(&rows).await.unwrap();
    let cfg = SignalsConfig::default(); // 30 days
    assert_eq!(engine::prune_events(&db, &cfg, now).await.unwrap(), 1);
    assert_eq!(db.count_events(site.id).await.unwrap(), 2);
    let short = SignalsConfig {
        event_retention: Duration::from_secs(3600),
        ..SignalsConfig::default()
    };
    assert_eq!(engine::prune_events(&db, &short, now).await.unwrap(), 1);
    assert_eq!(db.count_events(site.id).await.unwrap(), 1);
});

// Two deliverers racing over the same outbox (as two instances would
// during a lease hand-over): every row is sent exactly once. On PostgreSQL
// the claim is `FOR UPDATE SKIP LOCKED`.
both_backends!(racing_deliverers_send_each_row_once, |db: Db| async move {
    use axum::{routing::post, Router};
    let hits: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let h = hits.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let h = h.clone();
            async move {
                // Slow receiver: claims overlap in time.
                tokio::time::sleep(Duration::from_millis(50)).await;
                h.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let site = common::add_site(&db, common::ORIGIN).await;
    for _ in 0..3 {
        let hook = NotifierConfig::Webhook {
            url: format!("{base}/hook"),
            secret: "0123456789abcdef".into(),
        };
        store::add_notifier(&db, site.id, &hook, 0).await.unwrap();
    }
    // Ten incidents, opened straight in the table with their outbox rows.
    let (insert_incident, insert_outbox) = (
        "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, baseline, observed, peak_ratio, summary, details) \
         VALUES ($1, 'abandonment', 'open', $2, $2, $2, 0.2, 0.6, 3.0, 'test', '{}') RETURNING id",
        "INSERT INTO notify_outbox (site_id, incident_id, notifier_id, action, created_at, next_attempt_at) \
         SELECT site_id, $2, id, 'trigger', 0, 0 FROM notifiers WHERE site_id = $1",
    );
    for k in 0..10i64 {
        let id: i64 = match &db {
            Db::Sqlite(p) => sqlx::query_scalar(insert_incident)
                .bind(site.id)
                .bind(k)
                .fetch_one(p)
                .await
                .unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(insert_incident)
                .bind(site.id)
                .bind(k)
                .fetch_one(p)
                .await
                .unwrap(),
        };
        match &db {
            Db::Sqlite(p) => {
                sqlx::query(insert_outbox)
                    .bind(site.id)
                    .bind(id)
                    .execute(p)
                    .await
                    .unwrap();
            }
            Db::Postgres(p) => {
                sqlx::query(insert_outbox)
                    .bind(site.id)
                    .bind(id)
                    .execute(p)
                    .await
                    .unwrap();
            }
        }
    }
    let cfg = config();
    let http = steadycart_collector::notify::client(&cfg);
    let now = common::now_ms();
    let (a, b) = tokio::join!(
        steadycart_collector::notify::outbox::deliver_due(&db, &cfg, &http, now),
        steadycart_collector::notify::outbox::deliver_due(&db, &cfg, &http, now),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a + b,
        30,
        "each of the 30 rows delivered by exactly one deliverer ({a} + {b})"
    );
    assert_eq!(hits.lock().unwrap().len(), 30);
    assert_eq!(
        steadycart_collector::notify::outbox::deliver_due(&db, &cfg, &http, now + 3_600_000)
            .await
            .unwrap(),
        0
    );
});

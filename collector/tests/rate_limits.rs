//! Per-client-IP and per-site token buckets on `POST /v1/ingest`, on SQLite
//! and PostgreSQL: floods get 429 with `Retry-After` every time, other
//! clients and sites are unaffected, unauthenticated floods spend no site's
//! budget, and nothing accepted is lost.

mod common;

use std::net::SocketAddr;

use axum::{body::Body, extract::ConnectInfo, http::Request, Router};
use common::*;
use steadycart_collector::{config::Config, http::app, store::Db, AppState};

fn limited_app(
    db: Db,
    tweak: impl FnOnce(&mut Config),
) -> (Router, steadycart_collector::ingest::writer::WriterTask) {
    let mut config = Config::default();
    tweak(&mut config);
    let (state, writer) = AppState::start(db, config);
    (app(state), writer)
}

/// `req` as if it arrived over a socket from `ip`.
fn from(ip: &str, mut req: Request<Body>) -> Request<Body> {
    let peer: SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

fn post(key: &str, seed: u32) -> Request<Body> {
    ingest_req(key, Some(ORIGIN), "application/json", batch_json(seed, 2))
}

both_backends!(one_ip_is_cut_short_others_are_not, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _writer) = limited_app(db.clone(), |c| {
        c.ingest.ip_rate_per_sec = 1;
        c.ingest.ip_burst = 5;
    });
    let mut ok = 0;
    let mut limited = 0;
    let started = std::time::Instant::now();
    for seed in 0..40 {
        let (status, res) = send(&app, from("203.0.113.7", post(&site.key, seed))).await;
        match status {
            200 => ok += 1,
            429 => {
                limited += 1;
                let after: u64 = res.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=2).contains(&after), "Retry-After {after}");
                assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
                let body = json_body(res).await;
                assert_eq!(body["error"], "too many requests");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // The burst, plus at most what refilled while the loop ran.
    let refilled = started.elapsed().as_secs() as i32 + 1;
    assert!(ok >= 5 && ok <= 5 + refilled, "ok {ok}");
    assert_eq!(ok + limited, 40);
    // Another client is served at once.
    let (status, _) = send(&app, from("203.0.113.8", post(&site.key, 100))).await;
    assert_eq!(status, 200);
    // Nothing refused was stored, nothing accepted was lost.
    assert_eq!(db.count_events(site.id).await.unwrap(), 2 * (ok as i64 + 1));
});

both_backends!(
    unauthenticated_floods_spend_only_their_own_budget,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let (app, _writer) = limited_app(db.clone(), |c| {
            c.ingest.ip_rate_per_sec = 1;
            c.ingest.ip_burst = 3;
            c.ingest.site_rate_per_sec = 1;
            c.ingest.site_burst = 3;
        });
        // Unknown keys from one address: 401 until its bucket is empty, then 429.
        let mut statuses = Vec::new();
        for seed in 0..6 {
            let (status, _) = send(
                &app,
                from(
                    "198.51.100.1",
                    post("sk_unknownunknownunknownunknown", seed),
                ),
            )
            .await;
            statuses.push(status);
        }
        assert_eq!(statuses[..3], [401, 401, 401]);
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
        assert!(statuses.contains(&429), "{statuses:?}");
        // A wrong origin from many addresses spends nothing of the site's budget.
        for i in 0..10 {
            let req = ingest_req(
                &site.key,
                Some("https://evil.example"),
                "application/json",
                batch_json(i, 1),
            );
            let (status, _) = send(&app, from(&format!("198.51.100.{}", 10 + i), req)).await;
            assert_eq!(status, 403);
        }
        // The site's whole burst is still there for real shoppers.
        for i in 0..3 {
            let (status, _) = send(
                &app,
                from(&format!("192.0.2.{}", 1 + i), post(&site.key, 50 + i)),
            )
            .await;
            assert_eq!(status, 200, "request {i}");
        }
        assert_eq!(db.count_events(site.id).await.unwrap(), 6);
    }
);

both_backends!(
    one_site_flood_leaves_other_sites_alone,
    |db: Db| async move {
        let a = add_site(&db, ORIGIN).await;
        let b = add_site(&db, ORIGIN).await;
        let (app, _writer) = limited_app(db.clone(), |c| {
            c.ingest.site_rate_per_sec = 1;
            c.ingest.site_burst = 4;
        });
        let mut ok_a = 0;
        let started = std::time::Instant::now();
        for i in 0..30u32 {
            // Many addresses, so only the site bucket can stop them.
            let ip = format!("10.1.{}.{}", i / 200, 1 + i % 200);
            let (status, res) = send(&app, from(&ip, post(&a.key, i))).await;
            match status {
                200 => ok_a += 1,
                429 => assert!(res.headers().contains_key("retry-after")),
                other => panic!("unexpected {other}"),
            }
        }
        let refilled = started.elapsed().as_secs() as i32 + 1;
        assert!(ok_a >= 4 && ok_a <= 4 + refilled, "site A accepted {ok_a}");
        for i in 0..4 {
            let (status, _) = send(&app, from("10.2.0.1", post(&b.key, 100 + i))).await;
            assert_eq!(status, 200, "site B request {i}");
        }
        assert_eq!(db.count_events(a.id).await.unwrap(), 2 * ok_a as i64);
        assert_eq!(db.count_events(b.id).await.unwrap(), 8);
    }
);

both_backends!(
    forwarded_for_counts_only_behind_a_trusted_proxy,
    |db: Db| async move {
        let site = add_site(&db, ORIGIN).await;
        let forwarded = |ip: &str, fwd: &str, seed: u32| {
            let mut req = from(ip, post(&site.key, seed));
            req.headers_mut()
                .insert("x-forwarded-for", fwd.parse().unwrap());
            req
        };
        // Untrusted peer: the header is ignored, so rotating it changes nothing.
        let (app, _writer) = limited_app(db.clone(), |c| {
            c.ingest.ip_rate_per_sec = 1;
            c.ingest.ip_burst = 2;
        });
        let mut statuses = Vec::new();
        for i in 0..10u32 {
            let (s, _) = send(&app, forwarded("203.0.113.9", &format!("192.0.2.{i}"), i)).await;
            statuses.push(s);
        }
        assert_eq!(statuses[..2], [200, 200]);
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert!(refused >= 5, "{statuses:?}");
        // Behind a trusted proxy each forwarded client has its own bucket.
        let (app, _writer2) = limited_app(db.clone(), |c| {
            c.ingest.ip_rate_per_sec = 1;
            c.ingest.ip_burst = 2;
            c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        });
        for i in 0..6u32 {
            let (s, _) = send(&app, forwarded("10.0.0.2", &format!("192.0.2.{i}"), 10 + i)).await;
            assert_eq!(s, 200, "client {i}");
        }
        let mut statuses = Vec::new();
        for i in 0..6u32 {
            statuses.push(
                send(&app, forwarded("10.0.0.2", "192.0.2.0", 20 + i))
                    .await
                    .0,
            );
        }
        assert!(
            statuses.iter().filter(|s| **s == 429).count() >= 3,
            "192.0.2.0 has spent its burst: {statuses:?}"
        );
    }
);

both_backends!(preflight_floods_are_limited_too, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let (app, _writer) = limited_app(db.clone(), |c| {
        c.ingest.ip_rate_per_sec = 1;
        c.ingest.ip_burst = 2;
    });
    let preflight = || {
        from(
            "203.0.113.50",
            Request::options(format!("/v1/ingest?key={}", site.key))
                .header("origin", ORIGIN)
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap(),
        )
    };
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(send(&app, preflight()).await.0);
    }
    assert_eq!(statuses[..2], [204, 204]);
    assert!(
        statuses.iter().all(|s| *s == 204 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 4,
        "{statuses:?}"
    );
});

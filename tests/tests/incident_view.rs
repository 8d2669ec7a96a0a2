//! The incident view in headless Chromium: a site with an hour and a half of
//! generated storefront traffic, including a payment API outage that the
//! engine turned into incidents, is opened in the browser. The page asks for
//! the admin token, then draws the abandonment and error rates with the
//! incident bands and lists the incidents naming the failing endpoint — with
//! no script on the page and strict security headers. A screenshot is saved
//! under `artifacts/incident-view.png`.

use std::time::Duration;

use steadycart_collector::{
    config::Config,
    detect::traffic::{Endpoint, Spike, SpikeKind, TrafficGenerator, TrafficProfile},
    keys,
    signals::{engine, SignalsConfig},
    store::{events::EventRow, Db},
};
use steadycart_tests::{thirtyfour::By, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_view_draws_the_spike_and_names_the_endpoint() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let signals = SignalsConfig {
        enabled: false, // the test drives the engine with its own clock
        ..SignalsConfig::default()
    };
    let config = Config {
        data_dir: data.path().to_path_buf(),
        signals: signals.clone(),
        ..Config::default()
    };
    let db = Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    let site_key = keys::new_site_key();
    let token = keys::new_admin_token();
    let site_id = db
        .insert_site(
            &site_key,
            "Voltline <Electronics>",
            &keys::hash_token(&token),
            &["https://shop.example".into()],
            0,
        )
        .await?;

    // 90 one-minute buckets ending now; the payment API fails 45% of calls
    // for 12 minutes in the middle.
    let bucket = signals.bucket_ms();
    let now = steadycart_collector::now_ms();
    let start = (now / bucket - 90) * bucket;
    let mut g = TrafficGenerator::new(TrafficProfile {
        seed: 42,
        start_ms: start,
        bucket_ms: bucket,
        sessions_per_bucket: 40.0,
        spikes: vec![Spike {
            from: 55,
            to: 67,
            kind: SpikeKind::EndpointErrors {
                endpoint: Endpoint::Payment,
                rate: 0.45,
                status: 503,
            },
        }],
        ..TrafficProfile::default()
    });
    assert!(!engine::process_bucket(&db, &signals, site_id, start).await?);
    for _ in 0..89 {
        let (_, bstart, events) = g.next_bucket();
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
        db.insert_events(&rows).await?;
        assert!(engine::process_bucket(&db, &signals, site_id, bstart + bucket + 5_000).await?);
    }
    db.close().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(steadycart_collector::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let view = format!("{url}/v1/admin/sites/{site_key}/incidents/view?hours=2");

    // Without a token: a login form, with the security headers.
    let res = reqwest::get(&view).await?;
    assert_eq!(res.status().as_u16(), 401);
    let csp = res.headers()["content-security-policy"]
        .to_str()?
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(
        !res.text().await?.contains("Checkout health"),
        "nothing shown before sign-in"
    );

    let browser = Browser::start().await?;
    let d = &browser.driver;
    d.goto(&view).await?;
    d.find(By::Id("token"))
        .await?
        .send_keys("sct_wrong")
        .await?;
    d.find(By::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    browser
        .wait_for("rejection", Duration::from_secs(5), "return document.querySelector('.error') && document.querySelector('.error').textContent")
        .await?;
    d.find(By::Id("token")).await?.send_keys(&token).await?;
    d.find(By::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    browser
        .wait_for(
            "chart",
            Duration::from_secs(10),
            "return document.querySelectorAll('svg rect.band').length",
        )
        .await?;

    let facts = browser
        .eval(
            "return {
              scripts: document.scripts.length,
              title: document.querySelector('h1').textContent,
              bands: [...document.querySelectorAll('svg rect.band')].map(r => +r.getAttribute('width')),
              ab: document.querySelector('path[data-series=abandonment_rate]').getAttribute('d').split('L').length,
              er: document.querySelector('path[data-series=error_rate]').getAttribute('d').split('L').length,
              incidents: [...document.querySelectorAll('article.incident')].map(a => ({
                 summary: a.querySelector('h3').textContent,
                 top: (a.querySelector('ol.culprits code') || {}).textContent })),
              svgWidth: document.querySelector('svg').getBoundingClientRect().width,
            }",
        )
        .await?;
    assert_eq!(facts["scripts"], 0, "{facts}");
    assert_eq!(
        facts["title"], "Checkout health — Voltline <Electronics>",
        "escaped, shown as text"
    );
    assert!(
        facts["ab"].as_u64().unwrap() > 60 && facts["er"].as_u64().unwrap() > 60,
        "{facts}"
    );
    assert!(facts["svgWidth"].as_f64().unwrap() > 600.0, "{facts}");
    let here = d.current_url().await?;
    assert!(
        here.as_str().ends_with("incidents/view?hours=2"),
        "the range survives sign-in: {here}"
    );
    let incidents = facts["incidents"].as_array().unwrap();
    let errors = incidents
        .iter()
        .find(|i| {
            i["summary"]
                .as_str()
                .unwrap()
                .starts_with("storefront API errors")
        })
        .unwrap_or_else(|| panic!("an error incident: {facts}"));
    assert_eq!(errors["top"], "POST /api/payment", "{facts}");
    assert!(
        facts["bands"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.as_f64().unwrap() > 20.0),
        "{facts}"
    );
    let shot = browser.screenshot("incident-view").await?;
    assert!(std::fs::metadata(&shot)?.len() > 10_000);

    browser.quit().await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    Ok(())
}

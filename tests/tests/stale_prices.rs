//! Stale-if-error for prices, in headless Chromium on the demo store (whose
//! tag opts its price rule in: `data-price="GET /api/price/* stale"`), with a
//! 10 s TTL and an 800 ms price stall threshold:
//!
//! - the price API fails (503): the page's price fetch resolves with the
//!   last good response, marked `x-steadycart-stale: 1`, and the
//!   price-delayed message shows; a reloaded page still shows its prices;
//! - the price API stalls: the kept copy stands in after the threshold, the
//!   late live result is recorded (a `slow` call) and never delivered twice
//!   (the page's callback runs once);
//! - never for POST (nor checkout): the page gets the live answer;
//! - past the TTL the page gets the live failure, unmarked.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use steadycart_tests::{Browser, Stack, StackOptions};

/// Run `call` (a JS expression giving a fetch promise) in the page; returns
/// what the page saw: status, marker header, content type, body, ms taken,
/// and how many times the page's own callback ran.
async fn probe(browser: &Browser, call: &str) -> anyhow::Result<Value> {
    browser
        .eval(&format!(
            "window.__probe = null; window.__settled = 0; const t0 = performance.now(); \
             ({call}).then(async (r) => {{ window.__settled += 1; window.__probe = {{status: r.status, \
               stale: r.headers.get('x-steadycart-stale'), type: r.headers.get('content-type'), \
               body: await r.text(), ms: performance.now() - t0}}; }}, \
               (e) => {{ window.__settled += 1; window.__probe = {{error: String(e)}}; }});"
        ))
        .await?;
    browser
        .wait_for(
            "the page's fetch",
            Duration::from_secs(10),
            "return window.__probe",
        )
        .await
}

const PRICE_NOTICE: &str = "const h = document.querySelector('steadycart-messages'); \
    const n = h && h.shadowRoot && h.shadowRoot.querySelector('.notice[data-role=price] span'); \
    return n ? n.textContent : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_prices_when_the_price_api_fails_or_stalls() -> anyhow::Result<()> {
    let stack = Stack::start_with_options(
        StackOptions {
            snippet_attrs: r#" data-stall-ms-price="800" data-stale-ttl-s="10""#.into(),
            ..StackOptions::default()
        },
        |_| {},
    )
    .await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    browser.open(&stack.store_url).await?;
    let skus = browser
        .eval("return [...document.querySelectorAll('[data-live-price]')].map(e => e.dataset.livePrice)")
        .await?;
    let skus: Vec<String> = serde_json::from_value(skus)?;
    anyhow::ensure!(skus.len() >= 2, "the demo store lists products: {skus:?}");
    let (sku1, sku2) = (&skus[0], &skus[1]);

    // --- Good responses are kept (every price on the page, re-fetched now).
    let primed = Instant::now();
    let fresh = probe(
        &browser,
        &format!(
            "Promise.all({}.map(s => fetch('/api/price/' + s))).then(rs => rs[0])",
            json!(skus)
        ),
    )
    .await?;
    assert_eq!(fresh["status"], 200);
    assert_eq!(fresh["stale"], Value::Null, "live answers are not marked");
    browser
        .wait_for(
            "every price kept in sessionStorage",
            Duration::from_secs(5),
            &format!(
                "const s = sessionStorage.getItem('steadycart.stale') || ''; \
                 return {}.every(k => s.includes('/api/price/' + k));",
                json!(skus)
            ),
        )
        .await?;

    // --- The price API fails: the kept copy, marked, and the message.
    stack
        .set_fault("price", json!({"mode": "error", "status": 503}))
        .await?;
    let live = reqwest::get(format!("{}/api/price/{sku1}", stack.store_url)).await?;
    assert_eq!(live.status(), 503, "the fault is in force");
    let stale = probe(&browser, &format!("fetch('/api/price/{sku1}')")).await?;
    assert_eq!(stale["status"], 200, "{stale}");
    assert_eq!(stale["stale"], "1", "marked stale: {stale}");
    assert_eq!(stale["type"], "application/json");
    let body: Value = serde_json::from_str(stale["body"].as_str().unwrap_or_default())?;
    assert_eq!(body["sku"], sku1.as_str(), "the last good response: {body}");
    let text = browser
        .wait_for(
            "price-delayed message",
            Duration::from_secs(5),
            PRICE_NOTICE,
        )
        .await?;
    assert_eq!(text, "Price verification delayed — please hold");
    browser.screenshot("stale-1-price-503-served-stale").await?;

    // --- Never for POST, nor for checkout: the live answer, unmarked.
    let post = probe(
        &browser,
        &format!("fetch('/api/price/{sku1}', {{method: 'POST'}})"),
    )
    .await?;
    assert_ne!(post["status"], 200, "{post}");
    assert_eq!(post["stale"], Value::Null, "no stale copy for POST: {post}");
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    let checkout = probe(
        &browser,
        "fetch('/api/checkout', {method: 'POST', headers: {'content-type': 'application/json'}, \
           body: JSON.stringify({items: [{sku: 'hdp-200', qty: 1}]})})",
    )
    .await?;
    assert_eq!(checkout["status"], 503, "{checkout}");
    assert_eq!(checkout["stale"], Value::Null);
    stack.set_fault("checkout", json!({"mode": "none"})).await?;

    // --- The price API stalls: the copy after the threshold; the late live
    // result is recorded, not delivered again.
    stack
        .set_fault("price", json!({"mode": "delay", "ms": 3000}))
        .await?;
    let stalled = probe(&browser, &format!("fetch('/api/price/{sku2}')")).await?;
    assert_eq!(stalled["stale"], "1", "{stalled}");
    assert_eq!(stalled["status"], 200);
    let ms = stalled["ms"].as_f64().unwrap_or(f64::MAX);
    assert!(
        ms < 3000.0,
        "the copy stands in before the live answer arrives ({ms} ms)"
    );

    // --- A reloaded page (the copies are in sessionStorage) shows prices.
    stack
        .set_fault("price", json!({"mode": "error", "status": 503}))
        .await?;
    d.refresh().await?;
    browser
        .wait_for(
            "snippet installed after reload",
            Duration::from_secs(10),
            "return !!window.__steadycart",
        )
        .await?;
    // The page's first price calls may run before the snippet is in; the
    // shopper refreshes the prices (the store's own button).
    browser
        .eval("document.getElementById('refresh-prices').click(); return true;")
        .await?;
    browser
        .wait_for(
            "prices on the reloaded page, from kept copies",
            Duration::from_secs(10),
            "const els = [...document.querySelectorAll('[data-live-price]')]; \
             return els.length > 0 && els.every(e => e.textContent.startsWith('$'));",
        )
        .await?;
    browser
        .wait_for(
            "price-delayed message after reload",
            Duration::from_secs(5),
            PRICE_NOTICE,
        )
        .await?;
    browser
        .screenshot("stale-2-reloaded-page-stale-prices")
        .await?;

    // The stalled call was recorded as a stall (its late result was cut
    // short by the reload; see the next test for the late result).
    let url2 = format!("{}/api/price/{sku2}", stack.store_url);
    stack
        .wait_for_event("the stall", Duration::from_secs(10), |e| {
            e["type"] == "call" && e["url"] == url2.as_str() && e["outcome"] == "stall"
        })
        .await?;

    // --- Past the TTL the page gets the live failure, unmarked.
    let ttl = Duration::from_millis(10_500);
    if let Some(rest) = ttl.checked_sub(primed.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let expired = probe(&browser, &format!("fetch('/api/price/{sku1}')")).await?;
    assert_eq!(expired["status"], 503, "expired copy not served: {expired}");
    assert_eq!(expired["stale"], Value::Null);
    assert_eq!(browser.eval("return window.__settled").await?, 1);

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

/// The page's callback runs once even when the late live answer arrives
/// after the stale copy was delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_live_answer_is_not_delivered_twice() -> anyhow::Result<()> {
    let stack = Stack::start_with_options(
        StackOptions {
            snippet_attrs: r#" data-stall-ms-price="500""#.into(),
            ..StackOptions::default()
        },
        |_| {},
    )
    .await?;
    let browser = Browser::start().await?;
    browser.open(&stack.store_url).await?;
    let sku = browser
        .eval("return document.querySelector('[data-live-price]').dataset.livePrice")
        .await?;
    let sku = sku.as_str().unwrap_or_default().to_string();
    probe(&browser, &format!("fetch('/api/price/{sku}')")).await?;
    browser
        .wait_for(
            "the price kept",
            Duration::from_secs(10),
            &format!("return (sessionStorage.getItem('steadycart.stale') || '').includes('/api/price/{sku}')"),
        )
        .await?;
    stack
        .set_fault("price", json!({"mode": "delay", "ms": 1500}))
        .await?;
    let r = probe(&browser, &format!("fetch('/api/price/{sku}')")).await?;
    assert_eq!(r["stale"], "1", "{r}");
    // Wait until the live answer has come in (it is recorded), then count.
    let url = format!("{}/api/price/{sku}", stack.store_url);
    stack
        .wait_for_event("the late live result", Duration::from_secs(15), |e| {
            e["type"] == "call" && e["url"] == url.as_str() && e["outcome"] == "slow"
        })
        .await?;
    assert_eq!(browser.eval("return window.__settled").await?, 1);
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

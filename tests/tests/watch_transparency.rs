//! The snippet never changes what a page sees: pages built on native
//! fetch/XHR, axios (XHR adapter), jQuery.ajax and ky (fetch) run the same
//! scripted scenario without and with Steadycart in headless Chromium. Their
//! traces (results, thrown errors, abort reasons, readyState and progress
//! sequences, Response identity) must be identical, and with the snippet
//! every watched call must be reported once, classified correctly.

use std::time::Duration;

use steadycart_tests::{lab::Lab, Browser};

/// Run `page` and return its trace.
async fn trace(browser: &Browser, url: &str) -> anyhow::Result<serde_json::Value> {
    browser.driver.goto(url).await?;
    browser
        .wait_for(
            "scenario",
            Duration::from_secs(30),
            "return window.__result",
        )
        .await
}

/// Expected `(last path segment, outcome)` of every call event, sorted.
fn expected(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

fn calls(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events.iter().filter(|e| e["type"] == "call").collect()
}

fn seen(events: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut v: Vec<_> = calls(events)
        .iter()
        .map(|e| {
            let url = e["url"].as_str().unwrap_or_default();
            let tail = url.rsplit('/').next().unwrap_or_default();
            (
                tail.to_string(),
                e["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn check_page(
    lab: &Lab,
    browser: &Browser,
    page: &str,
    want: &[(&str, &str)],
) -> anyhow::Result<Vec<serde_json::Value>> {
    let without = trace(browser, &lab.page(page, false)).await?;
    assert!(without.get("fatal").is_none(), "{page}: {without}");
    lab.clear_events();
    let with = trace(browser, &lab.page(page, true)).await?;
    assert_eq!(
        without, with,
        "{page}: the page saw something different with the snippet"
    );
    assert_eq!(with["errors"], serde_json::json!([]), "{page}: page errors");
    let warns = browser.eval("return window.__warns").await?;
    assert_eq!(warns, serde_json::json!([]), "{page}: console warnings");
    // Leaving the page flushes the snippet's queue (pagehide beacon).
    browser.driver.goto("about:blank").await?;
    let want = expected(want);
    let events = lab
        .wait_events(page, Duration::from_secs(10), |ev| {
            calls(ev).len() >= want.len()
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(events);
    let events = lab.events();
    assert_eq!(seen(&events), want, "{page}: classified calls");
    for e in calls(&events) {
        let url = e["url"].as_str().unwrap_or_default();
        assert!(
            url.starts_with(&lab.url) && !url.contains(['?', '#']),
            "{page}: URL reported without query or fragment: {url}"
        );
    }
    Ok(events)
}

const FETCH_LIKE: &[(&str, &str)] = &[
    ("ok-1", "ok"),
    ("fail", "http_error"),
    ("reset", "network_error"),
    ("slow", "stall"),
    ("slow", "slow"),
    ("hang", "aborted"),
    ("apperr", "app_error"),
    ("cart", "ok"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_pages_see_the_same_with_and_without_the_snippet() -> anyhow::Result<()> {
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;

    let mut native = FETCH_LIKE.to_vec();
    native.extend([
        ("ok-2", "ok"),
        ("ok-3", "ok"),
        ("hang", "aborted"),
        ("cart", "ok"),
        ("ok-4", "ok"),
        ("ok-5", "ok"),
        ("ok-6", "ok"),
        ("ok-7", "ok"),
        ("fail", "http_error"),
        ("reset", "network_error"),
        ("slow", "stall"),
        ("slow", "slow"),
        ("hang", "aborted"),
        ("hang", "network_error"), // XHR timeout
        ("apperr", "app_error"),
        ("cart", "ok"),
        ("ok-8", "ok"),  // sync XHR
        ("ok-13", "ok"), // aborted by the page once done
        ("ok-14", "ok"), // re-opened by the page once done
    ]);
    let events = check_page(&lab, &browser, "native", &native).await?;
    let sku_of = |tail: &str| {
        calls(&events)
            .iter()
            .find(|e| e["url"].as_str().unwrap_or("").ends_with(tail))
            .map(|e| e["sku"].clone())
    };
    assert_eq!(sku_of("/ok-1"), Some("ok-1".into()), "SKU from the path");
    let cart_post = calls(&events)
        .into_iter()
        .find(|e| e["url"].as_str().unwrap_or("").ends_with("/api/cart") && e["method"] == "POST")
        .cloned();
    assert_eq!(
        cart_post.map(|e| e["sku"].clone()),
        Some("vx-9".into()),
        "SKU from the JSON request body"
    );
    assert!(events.iter().any(|e| e["type"] == "cart_activity"));

    let mut axios = FETCH_LIKE.to_vec();
    axios.push(("hang", "network_error")); // axios timeout = XHR timeout
    check_page(&lab, &browser, "axios", &axios).await?;

    let mut jquery = FETCH_LIKE.to_vec();
    jquery.extend([("ok-2", "ok"), ("ok-3", "ok"), ("hang", "aborted")]); // jQuery times out by aborting
    check_page(&lab, &browser, "jquery", &jquery).await?;

    let mut ky = FETCH_LIKE.to_vec();
    ky.extend([("ok-2", "ok"), ("hang", "aborted")]); // ky times out by aborting
    check_page(&lab, &browser, "ky", &ky).await?;

    browser.quit().await;
    lab.stop().await;
    Ok(())
}

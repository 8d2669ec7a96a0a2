//! Calls a page makes before the snippet's wasm has loaded are watched too:
//! the loader is a classic script that installs the wrappers as it runs and
//! queues what those calls do until the wasm takes over. In headless
//! Chromium, an ordinary inline classic script right after the (plain,
//! synchronous) tag fires a failing checkout (fetch, 503) and a price call
//! that hangs (XHR); the collector receives the checkout's `http_error` and
//! the price call's `stall` (emitted while it was pending) and then `slow`.
//! (With the old `type="module"` loader that inline script ran before the
//! loader and neither call was reported.)

use std::time::Duration;

use steadycart_tests::{lab::Lab, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_before_the_wasm_loaded_are_reported() -> anyhow::Result<()> {
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;
    browser
        .driver
        .goto(&format!("{}/page/early", lab.url))
        .await?;
    let early = browser
        .wait_for(
            "both calls ended",
            Duration::from_secs(30),
            "const e = window.__early; return e && e.checkout && e.hang ? e : null",
        )
        .await?;
    assert_eq!(
        early["loaderRan"], true,
        "the classic tag ran before the inline script after it"
    );
    assert_eq!(
        early["wasmRan"], false,
        "the calls began before the wasm ran"
    );
    assert_eq!(early["checkout"], 503);
    assert_eq!(early["hang"], 200);

    let outcome = |e: &serde_json::Value, role: &str, outcome: &str| {
        e["type"] == "call" && e["role"] == role && e["outcome"] == outcome
    };
    let events = lab
        .wait_events("early calls", Duration::from_secs(15), |ev| {
            ev.iter().any(|e| outcome(e, "checkout", "http_error"))
                && ev.iter().any(|e| outcome(e, "price", "stall"))
                && ev.iter().any(|e| outcome(e, "price", "slow"))
        })
        .await?;
    let calls: Vec<_> = events.iter().filter(|e| e["type"] == "call").collect();
    assert_eq!(calls.len(), 3, "each reported once: {calls:#?}");
    let checkout = calls
        .iter()
        .find(|e| e["role"] == "checkout")
        .expect("checkout");
    assert_eq!(checkout["status"], 503);
    assert_eq!(checkout["method"], "POST");
    assert!(checkout["url"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/api/price/fail"));
    // The stall was reported while the call was pending (timed from the
    // call's own start, 300 ms), the end with the call's whole duration.
    let stall = calls
        .iter()
        .find(|e| e["outcome"] == "stall")
        .expect("stall");
    let stall_ms = stall["duration_ms"].as_u64().unwrap_or(u64::MAX);
    assert!((300..2500).contains(&stall_ms), "stall after {stall_ms} ms");
    let slow = calls.iter().find(|e| e["outcome"] == "slow").expect("slow");
    let slow_ms = slow["duration_ms"].as_u64().unwrap_or(0);
    assert!(slow_ms >= 3000, "slow after {slow_ms} ms");

    browser.quit().await;
    lab.stop().await;
    Ok(())
}

/// Early calls answered before the wasm ran get the body treatment live
/// calls get: the loader reads a small JSON body (from a clone for fetch)
/// and hands it over with the call's end when the queue is replayed, so a
/// cart response becomes a `cart_snapshot` and a 200 with the configured
/// error field an `app_error` (fetch and XHR alike). The answers must have
/// come before the wasm ran for this to test the replay: a load where the
/// wasm won the race is tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_calls_answered_before_the_wasm_are_inspected() -> anyhow::Result<()> {
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;
    let mut early = serde_json::Value::Null;
    let mut tries = 0;
    while tries < 5 {
        tries += 1;
        lab.clear_events();
        browser
            .driver
            .goto(&format!("{}/page/early-body", lab.url))
            .await?;
        early = browser
            .wait_for(
                "the early calls ended",
                Duration::from_secs(30),
                "const e = window.__earlyBody; return e && e.cart && e.fetch && e.xhr ? e : null",
            )
            .await?;
        if early["cartBeforeWasm"] == true
            && early["fetchBeforeWasm"] == true
            && early["xhrBeforeWasm"] == true
        {
            break;
        }
    }
    assert_eq!(
        early["wasmRan"], false,
        "the calls began before the wasm ran"
    );
    for k in ["cartBeforeWasm", "fetchBeforeWasm", "xhrBeforeWasm"] {
        assert_eq!(early[k], true, "{k}: answered before the wasm ran: {early}");
    }
    // The page read its own bodies as usual.
    assert_eq!(early["cart"], 1);
    assert_eq!(early["fetch"], "out of stock");
    assert_eq!(early["xhr"], "out of stock");

    let app_error = |e: &serde_json::Value| {
        e["type"] == "call" && e["role"] == "price" && e["outcome"] == "app_error"
    };
    let events = lab
        .wait_events("early bodies", Duration::from_secs(15), |ev| {
            ev.iter().any(|e| e["type"] == "cart_snapshot")
                && ev.iter().filter(|e| app_error(e)).count() >= 2
        })
        .await?;
    if tries == 1 {
        // (A retried load may also deliver the earlier page's events.)
        let n = events.iter().filter(|e| app_error(e)).count();
        assert_eq!(n, 2, "each reported once: {events:#?}");
    }
    let snap = events
        .iter()
        .find(|e| e["type"] == "cart_snapshot")
        .expect("snapshot");
    assert_eq!(snap["currency"], "EUR");
    assert_eq!(
        snap["items"],
        serde_json::json!([{"sku": "SKU-EARLY-1", "name": "Desk lamp", "qty": 2, "unit_price_minor": 1999}])
    );
    let cart_call = events
        .iter()
        .find(|e| e["type"] == "call" && e["role"] == "cart")
        .expect("cart call");
    assert_eq!(cart_call["outcome"], "ok");
    for e in events.iter().filter(|e| app_error(e)) {
        assert_eq!(e["status"], 200);
        assert!(e["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/api/price/apperr"));
    }

    browser.quit().await;
    lab.stop().await;
    Ok(())
}

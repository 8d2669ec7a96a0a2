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

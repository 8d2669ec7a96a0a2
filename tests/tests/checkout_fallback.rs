//! The foundation slice, end to end in headless Chromium: the demo store
//! embeds the real, optimised snippet with its script tag; checkout is made
//! to fail; the shopper sees the fallback message; the event lands in the
//! collector's SQLite database and is read back through the admin API.

use std::time::Duration;

use steadycart_tests::{thirtyfour::By, Browser, Stack};

const NOTICE: &str = "const h = document.querySelector('steadycart-messages'); \
    const n = h && h.shadowRoot && h.shadowRoot.querySelector('.notice[data-role=checkout]'); \
    return n ? n.textContent : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_checkout_shows_fallback_and_lands_in_sqlite() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;

    browser.open_cart_with_item(&stack.store_url).await?;

    stack.fail("checkout", 503).await?;
    d.find(By::Id("checkout")).await?.click().await?;

    let text = browser
        .wait_for("checkout fallback message", Duration::from_secs(5), NOTICE)
        .await?;
    assert!(
        text.as_str()
            .unwrap_or_default()
            .contains("trouble reaching checkout"),
        "unexpected message: {text}"
    );
    // Visible to the shopper, not merely in the DOM.
    let host = d.find(By::Css("steadycart-messages")).await?;
    let notice = host
        .get_shadow_root()
        .await?
        .find(By::Css(".notice[data-role=checkout]"))
        .await?;
    assert!(
        notice.is_displayed().await?,
        "fallback message must be visible"
    );
    assert_eq!(notice.attr("role").await?.as_deref(), Some("alert"));
    // The page's own error handling still ran, untouched.
    let status = d.find(By::Id("status")).await?.text().await?;
    assert!(
        status.contains("Checkout failed (503)"),
        "page's own handler: {status}"
    );
    browser.screenshot("foundation-checkout-fallback").await?;

    let call = stack
        .wait_for_event("checkout http_error", Duration::from_secs(10), |e| {
            e["type"] == "call" && e["role"] == "checkout" && e["outcome"] == "http_error"
        })
        .await?;
    assert_eq!(call["status"], 503);
    assert_eq!(call["method"], "POST");
    assert_eq!(call["url"], format!("{}/api/checkout", stack.store_url));
    stack
        .wait_for_event("fallback_shown", Duration::from_secs(10), |e| {
            e["type"] == "fallback_shown" && e["role"] == "checkout" && e["reason"] == "http_error"
        })
        .await?;
    // The collector's own traffic is never watched.
    let events = stack.events().await?;
    assert!(
        events
            .iter()
            .all(|e| !e["url"].as_str().unwrap_or("").contains("/v1/ingest")),
        "snippet must not watch its own requests"
    );

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_checkout_shows_nothing_and_completes() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;

    browser.open_cart_with_item(&stack.store_url).await?;
    d.find(By::Id("checkout")).await?.click().await?;
    browser
        .wait_for(
            "confirmation page",
            Duration::from_secs(10),
            "return location.pathname.startsWith('/order/')",
        )
        .await?;
    stack
        .wait_for_event("checkout_completed", Duration::from_secs(10), |e| {
            e["type"] == "checkout_completed"
        })
        .await?;
    // The confirmation page has run its snippet (it would count a second
    // completion on load); leaving it flushes whatever it recorded.
    browser
        .wait_for(
            "snippet on the confirmation page",
            Duration::from_secs(10),
            "return !!window.__steadycart",
        )
        .await?;
    d.goto("about:blank").await?;
    stack
        .wait_for_event(
            "page_exit of the confirmation page",
            Duration::from_secs(10),
            |e| {
                e["type"] == "page_exit"
                    && e["page"].as_str().is_some_and(|p| p.starts_with("/order/"))
            },
        )
        .await?;
    let events = stack.events().await?;
    // Order call, then payment call, then confirmation page: one attempt,
    // counted once per session (as stored in the collector's database).
    let per_session = |kind: &str| {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for e in events.iter().filter(|e| e["type"] == kind) {
            *counts
                .entry(e["session"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
        counts.into_values().collect::<Vec<_>>()
    };
    assert_eq!(
        per_session("checkout_completed"),
        vec![1],
        "checkout_completed exactly once per attempt: {events:#?}"
    );
    assert_eq!(
        per_session("checkout_started"),
        vec![1],
        "the payment call belongs to the order's attempt: {events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| e["type"] == "call" && e["role"] == "payment" && e["outcome"] == "ok"));
    assert!(
        events.iter().all(|e| e["type"] != "fallback_shown"),
        "no fallback for a healthy checkout: {events:?}"
    );
    assert!(events
        .iter()
        .any(|e| e["type"] == "call" && e["role"] == "checkout" && e["outcome"] == "ok"));
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

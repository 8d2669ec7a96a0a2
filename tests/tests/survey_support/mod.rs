//! Helpers shared by the exit-survey browser tests (`exit_survey_rules.rs`,
//! `exit_survey_touch.rs`, `accessibility.rs`): opening the demo store's
//! cart in a fresh or a new session, a failed checkout, exit intents, and
//! the survey's state read through its open shadow root.
//!
//! Exit intents are decided synchronously in the snippet's event handler,
//! so a synthetic `mouseout` followed by a DOM check in the same script
//! tells whether the survey opened — no grace sleeps. The minimum dwell is
//! measured on the page's own clock, so slow machines wait longer instead
//! of failing.

// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use steadycart_tests::{thirtyfour::By, Browser, Stack};

/// Generous: the machine may be busy with other builds.
pub const T: Duration = Duration::from_secs(20);

/// Whether the survey dialog is in the page.
pub const OPEN: &str = "const h = document.querySelector('steadycart-survey'); \
    return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[role=dialog]'));";

/// The pointer leaves through the top edge; returns whether the survey is
/// open right after (the snippet decides inside the event dispatch).
pub const LEAVE_TOP: &str = "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
    {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); \
    return !!document.querySelector('steadycart-survey');";

/// The default minimum dwell (ms) plus slack.
pub const DWELL_MS: u64 = 3300;

/// Open `path` and wait until the snippet runs; returns the page clock
/// (`performance.now()`) at that moment, an upper bound of the snippet's
/// start for the dwell.
pub async fn open_page(stack: &Stack, browser: &Browser, path: &str) -> anyhow::Result<f64> {
    browser
        .driver
        .goto(&format!("{}{path}", stack.store_url))
        .await?;
    let t = browser
        .wait_for(
            "snippet installed",
            T,
            "return window.__steadycart ? performance.now() : null",
        )
        .await?;
    Ok(t.as_f64().unwrap_or(0.0))
}

/// A fresh shopper: storage cleared, one product in the cart, on the cart
/// page. Returns the page clock when the snippet was up.
pub async fn fresh_cart(stack: &Stack, browser: &Browser) -> anyhow::Result<f64> {
    browser.driver.goto(&stack.store_url).await?;
    browser
        .eval("localStorage.clear(); sessionStorage.clear(); return true;")
        .await?;
    cart_page(stack, browser).await
}

/// One product in the cart (the store keeps it in localStorage), then the
/// cart page, keeping whatever storage there is.
pub async fn cart_page(stack: &Stack, browser: &Browser) -> anyhow::Result<f64> {
    let d = &browser.driver;
    d.goto(&stack.store_url).await?;
    d.find(By::Css("[data-add]")).await?.click().await?;
    browser
        .wait_for(
            "item in the cart",
            T,
            "return (JSON.parse(localStorage.getItem('demo-cart') || '[]')).length > 0",
        )
        .await?;
    open_page(stack, browser, "/cart").await
}

/// A new browsing session of the same shopper: a new tab (fresh
/// sessionStorage, shared localStorage), the old one closed.
pub async fn new_session(browser: &Browser) -> anyhow::Result<()> {
    let d = &browser.driver;
    let old = d.window().await?;
    let tab = d.new_tab().await?;
    d.switch_to_window(old).await?;
    d.close_window().await?;
    d.switch_to_window(tab).await?;
    Ok(())
}

/// Click checkout and wait until the page handled the failure.
pub async fn failed_checkout(browser: &Browser) -> anyhow::Result<()> {
    browser
        .driver
        .find(By::Id("checkout"))
        .await?
        .click()
        .await?;
    browser
        .wait_for(
            "checkout failure handled by the page",
            T,
            "return document.getElementById('status').textContent.includes('failed')",
        )
        .await?;
    Ok(())
}

/// Wait until the page clock is past the snippet's start plus the dwell.
pub async fn wait_dwell(browser: &Browser, up_at: f64, dwell_ms: u64) -> anyhow::Result<()> {
    browser
        .wait_for(
            "minimum dwell on the page",
            T,
            &format!("return performance.now() > {}", up_at + dwell_ms as f64),
        )
        .await?;
    Ok(())
}

/// After the dwell, the pointer leaves through the top: whether the survey
/// opened.
pub async fn leave_after_dwell(
    browser: &Browser,
    up_at: f64,
    dwell_ms: u64,
) -> anyhow::Result<bool> {
    wait_dwell(browser, up_at, dwell_ms).await?;
    Ok(browser.eval(LEAVE_TOP).await? == true)
}

/// Dismiss the open survey with its close button; wait until it is gone.
pub async fn close_survey(browser: &Browser) -> anyhow::Result<()> {
    browser
        .eval("document.querySelector('steadycart-survey').shadowRoot.querySelector('.x').click(); return true;")
        .await?;
    browser
        .wait_for(
            "survey closed",
            T,
            "return !document.querySelector('steadycart-survey')",
        )
        .await?;
    Ok(())
}

/// Stored survey answers of the site, through the admin API.
pub async fn answers(stack: &Stack) -> anyhow::Result<Vec<Value>> {
    stack.admin_list("survey/answers", "answers").await
}

/// How many `survey_shown` events the collector stored.
pub async fn shown_count(stack: &Stack) -> anyhow::Result<usize> {
    Ok(stack
        .events()
        .await?
        .iter()
        .filter(|e| e["type"] == "survey_shown")
        .count())
}

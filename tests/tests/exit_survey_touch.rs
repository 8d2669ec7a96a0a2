//! The exit survey on a phone, in headless Chromium with touch and a
//! 390×844 mobile viewport emulated through CDP
//! (`Emulation.setTouchEmulationEnabled`, `setDeviceMetricsOverride`), on
//! the demo store with the real optimised snippet and collector:
//!
//! - after a failed checkout, a fast upward scroll that ends near the top
//!   opens the survey (`scroll_up`); one that ends far from the top does
//!   not; the dialog is a bottom sheet spanning the viewport's width
//!   (screenshot `exit-survey-mobile.png`);
//! - back navigation: the snippet pushes one history guard entry only
//!   after trouble; the first back pops it and opens the survey (`back`),
//!   the next back leaves the page;
//! - when the survey may not show (already shown this session) no guard is
//!   pushed: a single back leaves.

mod survey_support;

use serde_json::json;
use steadycart_tests::{thirtyfour::extensions::cdp::ChromeDevTools, Browser, Stack};
use survey_support::*;

/// Scroll to `from`, then — on the next scroll event — to `to`; resolves
/// with whether the survey is open once the second scroll was handled.
fn scroll_gesture(from: u32, to: u32) -> String {
    format!(
        "return new Promise((res) => {{ \
           const once = (f) => addEventListener('scroll', f, {{once: true}}); \
           once(() => {{ once(() => setTimeout(() => res(!!document.querySelector('steadycart-survey')), 0)); \
                         scrollTo(0, {to}); }}); \
           scrollTo(0, {from}); }});"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_survey_on_touch() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    let cdp = ChromeDevTools::new(d.handle.clone());
    cdp.execute_cdp_with_params(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    )
    .await?;
    cdp.execute_cdp_with_params(
        "Emulation.setTouchEmulationEnabled",
        json!({"enabled": true, "maxTouchPoints": 5}),
    )
    .await?;
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;

    // 1. Fast upward scroll near the top; bottom sheet.
    let up = fresh_cart(&stack, &browser).await?;
    assert_eq!(
        browser
            .eval("return [matchMedia('(pointer: coarse)').matches, innerWidth]")
            .await?,
        json!([true, 390]),
        "touch and a phone viewport emulated"
    );
    failed_checkout(&browser).await?;
    browser
        .eval(
            "const s = document.createElement('div'); s.style.height = '4000px'; \
             document.querySelector('main').appendChild(s); return true;",
        )
        .await?;
    wait_dwell(&browser, up, DWELL_MS).await?;
    assert_eq!(
        browser.eval(&scroll_gesture(3500, 1500)).await?,
        false,
        "fast, but far from the top"
    );
    // A busy machine may stretch the two scroll events apart (the detector
    // wants them within 250 ms): repeat the gesture until it counts.
    let mut opened = false;
    for _ in 0..10 {
        if browser.eval(&scroll_gesture(2500, 0)).await? == true {
            opened = true;
            break;
        }
    }
    assert!(opened, "a fast upward scroll to the top opens the survey");
    let shown = stack
        .wait_for_event("survey_shown", T, |e| e["type"] == "survey_shown")
        .await?;
    assert_eq!(shown["trigger"], "scroll_up");
    let sheet = browser
        .eval(
            "const dlg = document.querySelector('steadycart-survey').shadowRoot.querySelector('[role=dialog]'); \
             const r = dlg.getBoundingClientRect(); \
             return [Math.round(r.left), Math.round(r.width), Math.round(innerHeight - r.bottom), \
                     getComputedStyle(dlg).borderBottomLeftRadius];",
        )
        .await?;
    assert_eq!(
        sheet,
        json!([0, 390, 0, "0px"]),
        "a bottom sheet across the narrow viewport"
    );
    browser.screenshot("exit-survey-mobile").await?;
    close_survey(&browser).await?;

    // 2. Back: one guard entry after trouble; the next back leaves.
    fresh_cart(&stack, &browser).await?;
    let before = browser.eval("return history.length").await?;
    failed_checkout(&browser).await?;
    browser
        .wait_for(
            "history guard pushed after the failed checkout",
            T,
            &format!(
                "return history.length === {before} + 1 && !!(history.state && history.state.steadycart)"
            ),
        )
        .await?;
    d.back().await?;
    browser.wait_for("survey on back", T, OPEN).await?;
    assert_eq!(
        browser.eval("return location.pathname").await?,
        "/cart",
        "the first back stayed on the page"
    );
    stack
        .wait_for_event("survey_shown on back", T, |e| {
            e["type"] == "survey_shown" && e["trigger"] == "back"
        })
        .await?;
    d.back().await?;
    browser
        .wait_for(
            "the next back leaves the cart",
            T,
            "return location.pathname === '/' && !!window.__steadycart",
        )
        .await?;

    // 3. Survey already shown in this session: no guard, one back leaves.
    cart_page(&stack, &browser).await?;
    let before = browser.eval("return history.length").await?;
    // The session's trouble record is rewritten when the snippet handles
    // the next failure: remove it to see that happen.
    browser
        .eval("sessionStorage.removeItem('steadycart.trouble'); return true;")
        .await?;
    failed_checkout(&browser).await?;
    browser
        .wait_for(
            "the snippet handled the failed checkout",
            T,
            "return (sessionStorage.getItem('steadycart.trouble') || '').includes('checkout')",
        )
        .await?;
    assert_eq!(
        browser.eval("return history.length").await?,
        before,
        "no guard when the survey may not show"
    );
    d.back().await?;
    browser
        .wait_for("one back leaves", T, "return location.pathname === '/'")
        .await?;

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

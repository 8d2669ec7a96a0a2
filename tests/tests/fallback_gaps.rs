//! Fallback messages, the parts `fallback_messages.rs` does not cover, in
//! headless Chromium on the demo store:
//!
//! - dark mode and `prefers-reduced-motion` (emulated through CDP
//!   `Emulation.setEmulatedMedia`) change the message's computed style in
//!   its shadow root; screenshots of both themes;
//! - texts per locale from the tag (`data-text-checkout-de`), picked by
//!   `navigator.languages` (emulated through CDP), falling back to the tag's
//!   text for other languages;
//! - the kill switch, set through the admin API, also closes an open exit
//!   survey on the open page.

use std::time::{Duration, Instant};

use serde_json::json;
use steadycart_tests::{
    thirtyfour::{extensions::cdp::ChromeDevTools, By},
    Browser, Stack, StackOptions,
};

/// Start a checkout call from page code (the store's checkout fault decides
/// its fate).
const CHECKOUT: &str =
    "fetch('/api/checkout', {method: 'POST', headers: {'content-type': 'application/json'}, \
      body: JSON.stringify({items: [{sku: 'hdp-200', qty: 1}]})}).catch(() => {}); return true;";

const NOTICE_TEXT: &str = "const h = document.querySelector('steadycart-messages'); \
    const n = h && h.shadowRoot && h.shadowRoot.querySelector('.notice[data-role=checkout] span'); \
    return n ? n.textContent : null;";

/// The checkout notice's computed background colour and animation name.
const NOTICE_STYLE: &str = "const n = document.querySelector('steadycart-messages').shadowRoot \
      .querySelector('.notice[data-role=checkout]'); \
    const s = getComputedStyle(n); return [s.backgroundColor, s.color, s.animationName];";

async fn emulate_media(cdp: &ChromeDevTools, dark: bool, reduce: bool) -> anyhow::Result<()> {
    cdp.execute_cdp_with_params(
        "Emulation.setEmulatedMedia",
        json!({"features": [
            {"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }},
            {"name": "prefers-reduced-motion", "value": if reduce { "reduce" } else { "no-preference" }},
        ]}),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_mode_and_reduced_motion_are_honoured() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    let cdp = ChromeDevTools::new(d.handle.clone());
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    emulate_media(&cdp, true, true).await?;
    browser.open(&format!("{}/cart", stack.store_url)).await?;
    assert_eq!(
        browser
            .eval("return [matchMedia('(prefers-color-scheme: dark)').matches, matchMedia('(prefers-reduced-motion: reduce)').matches]")
            .await?,
        json!([true, true]),
        "media emulated"
    );
    browser.eval(CHECKOUT).await?;
    browser
        .wait_for("checkout message", Duration::from_secs(5), NOTICE_TEXT)
        .await?;
    // Critical (checkout) notice, dark theme: #3b0f0c on #ffd7d2; no motion.
    assert_eq!(
        browser.eval(NOTICE_STYLE).await?,
        json!(["rgb(59, 15, 12)", "rgb(255, 215, 210)", "none"]),
        "dark theme, reduced motion"
    );
    browser.screenshot("fallback-dark-reduced-motion").await?;

    // The same notice follows the shopper's settings when they change.
    emulate_media(&cdp, false, false).await?;
    assert_eq!(
        browser.eval(NOTICE_STYLE).await?,
        json!(["rgb(253, 236, 234)", "rgb(95, 20, 16)", "sc-in"]),
        "light theme, entrance animation allowed"
    );
    browser.screenshot("fallback-light").await?;

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_per_locale_follow_navigator_languages() -> anyhow::Result<()> {
    const DE: &str = "Der Checkout hakt gerade — Ihr Warenkorb ist gespeichert.";
    const FR: &str = "Le paiement est lent — votre panier est enregistré.";
    const OTHER: &str = "Checkout is having a moment — your cart is saved.";
    let stack = Stack::start_with_options(
        StackOptions {
            snippet_attrs: format!(
                r#" data-text-checkout="{OTHER}" data-text-checkout-de="{DE}" data-text-checkout-fr-ca="{FR}""#
            ),
            ..StackOptions::default()
        },
        |_| {},
    )
    .await?;
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    let cdp = ChromeDevTools::new(d.handle.clone());
    let ua = browser.eval("return navigator.userAgent").await?;
    for (languages, first, want) in [
        ("de-CH,de;q=0.9,en;q=0.8", "de-CH", DE),
        ("fr-CA,fr;q=0.9", "fr-CA", FR),
        ("ja,en-US;q=0.5", "ja", OTHER),
    ] {
        cdp.execute_cdp_with_params(
            "Emulation.setUserAgentOverride",
            json!({"userAgent": ua, "acceptLanguage": languages}),
        )
        .await?;
        browser.open(&format!("{}/cart", stack.store_url)).await?;
        assert_eq!(
            browser.eval("return navigator.languages[0]").await?,
            first,
            "navigator.languages emulated"
        );
        browser.eval(CHECKOUT).await?;
        let text = browser
            .wait_for("checkout message", Duration::from_secs(5), NOTICE_TEXT)
            .await?;
        assert_eq!(text, want, "message for {languages}");
    }
    browser.screenshot("fallback-locale-fallback").await?;
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_switch_closes_an_open_survey() -> anyhow::Result<()> {
    const OPEN: &str = "const h = document.querySelector('steadycart-survey'); \
        return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[role=dialog]'));";
    let stack = Stack::start().await?;
    let version = stack.patch_config(json!({"max_age_s": 1})).await?["version"]
        .as_i64()
        .unwrap_or(0);
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    d.goto(&stack.store_url).await?;
    d.find(By::Css("[data-add]")).await?.click().await?;
    d.goto(&format!("{}/cart", stack.store_url)).await?;
    let loaded = Instant::now();
    browser
        .wait_for(
            "snippet installed with the remote config",
            Duration::from_secs(10),
            &format!(
                "const c = localStorage.getItem('steadycart.config.{}'); \
                 return !!window.__steadycart && !!c && JSON.parse(c).version >= {version};",
                stack.site_key
            ),
        )
        .await?;
    d.find(By::Id("checkout")).await?.click().await?;
    browser
        .wait_for(
            "checkout failure handled by the page",
            Duration::from_secs(10),
            "return document.getElementById('status').textContent.includes('503')",
        )
        .await?;
    // Exit intent after the minimum dwell: the pointer leaves at the top.
    if let Some(rest) = Duration::from_millis(3300).checked_sub(loaded.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    browser
        .eval(
            "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
             {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); return true;",
        )
        .await?;
    browser
        .wait_for("survey open", Duration::from_secs(5), OPEN)
        .await?;

    stack.patch_config(json!({"kill": true})).await?;
    browser
        .wait_for(
            "kill switch closed the survey and removed the wrappers",
            Duration::from_secs(6),
            "return !document.querySelector('steadycart-survey') \
               && !document.querySelector('steadycart-messages') \
               && String(window.fetch).includes('[native code]');",
        )
        .await?;
    // Focus went back to the page, not into a removed dialog.
    let focus = browser
        .eval("return document.activeElement ? document.activeElement.tagName : null")
        .await?;
    assert_ne!(focus, "STEADYCART-SURVEY", "focus left the removed survey");
    browser
        .screenshot("fallback-kill-switch-closed-survey")
        .await?;
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

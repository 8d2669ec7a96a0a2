//! Accessibility of what the snippet puts on a page, checked by axe-core
//! (npm `axe-core`, installed by `cargo xtask test`, injected into the page
//! over WebDriver) in headless Chromium on the demo store:
//!
//! - the checkout fallback message (a 503 outage), light and dark theme;
//! - the exit survey open over it, and in its error state (invalid email,
//!   `aria-invalid`).
//!
//! Both live in open shadow roots, which axe walks. The run is limited to
//! our hosts (`steadycart-messages`, `steadycart-survey`): the shop's own
//! markup is not ours to judge. No violation of `serious` or `critical`
//! impact may remain; a check that our nodes were inspected at all (axe's
//! passes inside the shadow roots) keeps the test from passing vacuously.

mod survey_support;

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};
use steadycart_tests::{thirtyfour::extensions::cdp::ChromeDevTools, Browser, Stack};
use survey_support::*;

fn axe_source() -> anyhow::Result<String> {
    let path = std::env::var_os("STEADYCART_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/steadycart/axe/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "axe-core not found at {}: run the tests with `cargo xtask test` (it installs it)",
            path.display()
        )
    })
}

/// Run axe on `hosts` (CSS selectors of our shadow hosts); returns
/// `(violations, nodes that passed inside a shadow root)`.
async fn axe(browser: &Browser, source: &str, hosts: &[&str]) -> anyhow::Result<(Value, u64)> {
    let loaded = browser.eval("return !!window.axe").await?;
    if loaded != true {
        browser
            .eval(&format!("{source}\n;return !!window.axe;"))
            .await?;
    }
    let include = serde_json::to_string(&hosts.iter().map(|h| vec![*h]).collect::<Vec<_>>())?;
    let result = browser
        .eval(&format!(
            "return axe.run({{include: {include}}}, {{resultTypes: ['violations', 'passes']}}).then((r) => ({{ \
               violations: r.violations.map((v) => ({{id: v.id, impact: v.impact, help: v.help, \
                 nodes: v.nodes.map((n) => ({{target: n.target, impact: n.impact, summary: n.failureSummary}}))}})), \
               shadowPasses: r.passes.reduce((k, p) => k + p.nodes.filter((n) => Array.isArray(n.target[0]) || n.target.length > 1).length, 0) }}));"
        ))
        .await?;
    Ok((
        result["violations"].clone(),
        result["shadowPasses"].as_u64().unwrap_or(0),
    ))
}

fn serious(violations: &Value) -> Vec<Value> {
    violations
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .cloned()
        .collect()
}

async fn check(browser: &Browser, source: &str, hosts: &[&str], state: &str) -> anyhow::Result<()> {
    let (violations, passes) = axe(browser, source, hosts).await?;
    eprintln!("axe, {state}: {passes} checks passed on nodes inside our shadow roots");
    if violations.as_array().is_some_and(|v| !v.is_empty()) {
        eprintln!("axe, {state}: {violations:#}");
    }
    let bad = serious(&violations);
    assert!(
        bad.is_empty(),
        "{state}: {}",
        serde_json::to_string_pretty(&bad)?
    );
    assert!(
        passes > 0,
        "{state}: axe inspected nothing inside our shadow roots"
    );
    Ok(())
}

const NOTICE: &str = "const h = document.querySelector('steadycart-messages'); \
    return !!(h && h.shadowRoot && h.shadowRoot.querySelector('.notice[data-role=checkout]'));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_message_and_survey_pass_axe() -> anyhow::Result<()> {
    let source = axe_source()?;
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let cdp = ChromeDevTools::new(browser.driver.handle.clone());
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;

    // The fallback message, light then dark.
    let up = fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    browser
        .wait_for("checkout fallback message", T, NOTICE)
        .await?;
    check(
        &browser,
        &source,
        &["steadycart-messages"],
        "fallback message",
    )
    .await?;
    cdp.execute_cdp_with_params(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .await?;
    check(
        &browser,
        &source,
        &["steadycart-messages"],
        "fallback message, dark",
    )
    .await?;

    // The survey open over it (dark), then light, then its error state.
    assert!(
        leave_after_dwell(&browser, up, DWELL_MS).await?,
        "survey opens"
    );
    check(
        &browser,
        &source,
        &["steadycart-messages", "steadycart-survey"],
        "survey open, dark",
    )
    .await?;
    cdp.execute_cdp_with_params(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "light"}]}),
    )
    .await?;
    check(
        &browser,
        &source,
        &["steadycart-messages", "steadycart-survey"],
        "survey open",
    )
    .await?;
    browser
        .eval(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             r.getElementById('sc-email').value = 'not an email'; \
             r.getElementById('sc-consent').click(); r.querySelector('.send').click(); \
             return r.getElementById('sc-email').getAttribute('aria-invalid');",
        )
        .await?;
    check(
        &browser,
        &source,
        &["steadycart-survey"],
        "survey, invalid email",
    )
    .await?;

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

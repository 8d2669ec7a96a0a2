//! Fallback messages and crisis switches in headless Chromium, against the
//! real collector and demo store (one stack and one browser for the file):
//!
//! - thresholds and texts come from the collector's remote config (admin
//!   API): a stalled checkout shows the message within threshold + 250 ms,
//!   recovery hides it, a 503 shows it (screenshots of each state);
//! - the message never steals focus, is reachable by keyboard and dismissed
//!   with Escape; roles and labels are asserted;
//! - a banner and the kill switch set through the admin API reach an open
//!   page without reload; `<script>` in config texts renders as text;
//! - a strict-CSP page and a hostile-CSS page still show the message.

use std::time::Duration;

use steadycart_tests::{
    thirtyfour::{By, Key},
    Browser, Stack,
};

fn notice(role: &str) -> String {
    format!(
        "const h = document.querySelector('steadycart-messages'); \
         const n = h && h.shadowRoot && h.shadowRoot.querySelector('.notice[data-role={role}] span'); \
         return n ? n.textContent : null;"
    )
}

/// Start a checkout call from page code, timing when its message appears.
const CHECKOUT: &str = "window.__t0 = performance.now(); window.__seen = null; window.__res = null; \
    const find = () => { const h = document.querySelector('steadycart-messages'); \
      return h && h.shadowRoot && h.shadowRoot.querySelector('.notice[data-role=checkout]'); }; \
    const iv = setInterval(() => { if (find()) { window.__seen = performance.now() - window.__t0; clearInterval(iv); } }, 5); \
    fetch('/api/checkout', {method: 'POST', headers: {'content-type': 'application/json'}, \
      body: JSON.stringify({items: [{sku: 'hdp-200', qty: 1}]})}) \
      .then(r => window.__res = r.status, () => window.__res = 'error');";

const HOSTILE_TEXT: &str = "<script>window.__pwned = 1</script> Checkout is slow <b>today</b>";

async fn open(browser: &Browser, stack: &Stack, path: &str, version: i64) -> anyhow::Result<()> {
    browser
        .driver
        .goto(&format!("{}{path}", stack.store_url))
        .await?;
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
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_messages_and_crisis_switches() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;

    let cfg = stack
        .patch_config(serde_json::json!({
            "max_age_s": 1,
            "stall_ms": [{"role": "checkout", "ms": 1000}],
            "texts": [
                {"role": "checkout", "locale": "en", "text": HOSTILE_TEXT},
                {"role": "checkout", "locale": "de", "text": "Der Checkout ist langsam"},
            ],
        }))
        .await?;
    let v = cfg["version"].as_i64().unwrap();

    // --- Stall: shown within threshold + 250 ms, hidden after recovery.
    open(&browser, &stack, "/cart", v).await?;
    stack
        .set_fault("checkout", serde_json::json!({"mode": "delay", "ms": 2000}))
        .await?;
    browser.eval(CHECKOUT).await?;
    let seen = browser
        .wait_for(
            "stall message",
            Duration::from_secs(5),
            "return window.__seen",
        )
        .await?
        .as_f64()
        .unwrap();
    assert!(
        (950.0..=1250.0).contains(&seen),
        "stall message after {seen} ms (threshold 1000 ms)"
    );
    let text = browser.eval(&notice("checkout")).await?;
    assert_eq!(text, HOSTILE_TEXT, "remote text for en, rendered as text");
    let injected = browser
        .eval(
            "const r = document.querySelector('steadycart-messages').shadowRoot; \
             return [!!r.querySelector('script, b'), window.__pwned === 1];",
        )
        .await?;
    assert_eq!(
        injected,
        serde_json::json!([false, false]),
        "no markup parsed"
    );
    browser.screenshot("fallback-1-checkout-stalled").await?;
    browser
        .wait_for(
            "late response",
            Duration::from_secs(5),
            "return window.__res",
        )
        .await?;
    browser
        .wait_for(
            "message hidden after recovery",
            Duration::from_secs(8),
            "const h = document.querySelector('steadycart-messages'); \
             return !h.shadowRoot.querySelector('.notice[data-role=checkout]');",
        )
        .await?;
    browser.screenshot("fallback-2-checkout-recovered").await?;
    stack
        .wait_for_event("fallback_hidden", Duration::from_secs(10), |e| {
            e["type"] == "fallback_hidden" && e["role"] == "checkout" && e["reason"] == "recovered"
        })
        .await?;
    stack
        .wait_for_event("fallback_shown stall", Duration::from_secs(10), |e| {
            e["type"] == "fallback_shown" && e["role"] == "checkout" && e["reason"] == "stall"
        })
        .await?;

    // --- 503: shown; focus stays; keyboard reaches and dismisses it.
    stack.fail("checkout", 503).await?;
    d.find(By::Id("checkout")).await?.focus().await?;
    browser.eval(CHECKOUT).await?;
    browser
        .wait_for("503 message", Duration::from_secs(5), &notice("checkout"))
        .await?;
    browser.screenshot("fallback-3-checkout-503").await?;
    let aria = browser
        .eval(
            "const n = document.querySelector('steadycart-messages').shadowRoot.querySelector('.notice[data-role=checkout]'); \
             const b = n.querySelector('button'); \
             return [n.getAttribute('role'), n.getAttribute('aria-live'), b.getAttribute('aria-label'), b.type, \
                     document.activeElement && document.activeElement.id];",
        )
        .await?;
    assert_eq!(
        aria,
        serde_json::json!([
            "alert",
            "assertive",
            "OK, dismiss this message",
            "button",
            "checkout"
        ]),
        "roles, labels, and focus left where the shopper had it"
    );
    // Keyboard only: Tab from the page's button reaches our OK button.
    d.active_element().await?.send_keys(Key::Tab).await?;
    let focused = browser
        .eval(
            "const h = document.querySelector('steadycart-messages'); \
             return document.activeElement === h && h.shadowRoot.activeElement \
               ? h.shadowRoot.activeElement.getAttribute('aria-label') : null;",
        )
        .await?;
    assert_eq!(focused, "OK, dismiss this message");
    d.active_element().await?.send_keys(Key::Escape).await?;
    browser
        .wait_for(
            "message dismissed by Escape",
            Duration::from_secs(3),
            "const h = document.querySelector('steadycart-messages'); \
             return !h.shadowRoot.querySelector('.notice[data-role=checkout]');",
        )
        .await?;
    stack
        .wait_for_event("fallback_hidden dismissed", Duration::from_secs(10), |e| {
            e["type"] == "fallback_hidden" && e["role"] == "checkout" && e["reason"] == "dismissed"
        })
        .await?;

    // --- Banner through the admin API reaches the open page; text only.
    let banner = "<img src=x onerror=window.__pwned=1> Orders ship Monday";
    stack
        .patch_config(serde_json::json!({"banner": {"text": banner, "severity": "critical"}}))
        .await?;
    let shown = browser
        .wait_for(
            "banner on the open page",
            Duration::from_secs(6),
            &notice("banner"),
        )
        .await?;
    assert_eq!(shown, banner);
    let attrs = browser
        .eval(
            "const r = document.querySelector('steadycart-messages').shadowRoot; \
             const n = r.querySelector('.notice[data-role=banner]'); \
             return [n.getAttribute('role'), !!r.querySelector('img'), window.__pwned === 1];",
        )
        .await?;
    assert_eq!(attrs, serde_json::json!(["alert", false, false]));
    browser.screenshot("fallback-4-banner").await?;
    stack
        .patch_config(serde_json::json!({"banner": null}))
        .await?;
    browser
        .wait_for(
            "banner removed on the open page",
            Duration::from_secs(6),
            "const h = document.querySelector('steadycart-messages'); \
             return !h.shadowRoot.querySelector('.notice[data-role=banner]');",
        )
        .await?;

    // --- Strict CSP page renders the message.
    let csp_page = format!("{}/lab/strict-csp", stack.store_url);
    d.goto(&csp_page).await?;
    browser
        .wait_for(
            "snippet under CSP",
            Duration::from_secs(10),
            "return !!window.__steadycart",
        )
        .await?;
    browser.eval(CHECKOUT).await?;
    browser
        .wait_for(
            "message under strict CSP",
            Duration::from_secs(5),
            &notice("checkout"),
        )
        .await?;
    let host = d.find(By::Css("steadycart-messages")).await?;
    let n = host
        .get_shadow_root()
        .await?
        .find(By::Css(".notice[data-role=checkout]"))
        .await?;
    assert!(n.is_displayed().await?, "visible under strict CSP");
    browser.screenshot("fallback-5-strict-csp").await?;

    // --- Hostile CSS: everything hidden, a max-z-index overlay; ours shows.
    d.goto(&format!("{}/lab/hostile-css", stack.store_url))
        .await?;
    browser
        .wait_for(
            "snippet on hostile page",
            Duration::from_secs(10),
            "return !!window.__steadycart",
        )
        .await?;
    browser.eval(CHECKOUT).await?;
    browser
        .wait_for(
            "message on hostile page",
            Duration::from_secs(5),
            &notice("checkout"),
        )
        .await?;
    let hit = browser
        .eval(
            "const h = document.querySelector('steadycart-messages'); \
             const n = h.shadowRoot.querySelector('.notice[data-role=checkout]'); \
             const r = n.getBoundingClientRect(); \
             const top = h.shadowRoot.elementFromPoint(r.left + 5, r.top + r.height / 2); \
             return [r.width > 100 && r.height > 10, getComputedStyle(h).display, !!top && n.contains(top)];",
        )
        .await?;
    assert_eq!(
        hit,
        serde_json::json!([true, "block", true]),
        "laid out, on top of the overlay"
    );
    browser.screenshot("fallback-6-hostile-css").await?;

    // --- Kill switch reaches the open page: wrappers and UI gone.
    stack.heal("checkout").await?;
    open(&browser, &stack, "/cart", v).await?;
    let wrapped = browser
        .eval("return !String(window.fetch).includes('[native code]')")
        .await?;
    assert_eq!(wrapped, true, "wrapped before the kill switch");
    stack
        .patch_config(serde_json::json!({"kill": true}))
        .await?;
    browser
        .wait_for(
            "kill switch on the open page",
            Duration::from_secs(6),
            "return String(window.fetch).includes('[native code]') \
               && String(XMLHttpRequest.prototype.send).includes('[native code]') \
               && !document.querySelector('steadycart-messages');",
        )
        .await?;
    // The next page stays untouched, too.
    d.refresh().await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let untouched = browser
        .eval("return String(window.fetch).includes('[native code]') && !window.__steadycart")
        .await?;
    assert_eq!(untouched, true, "killed: next page installs nothing");

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

//! The exit survey's site options and other triggers in headless Chromium
//! on the demo store, with the real optimised snippet and collector:
//!
//! - `data-survey="always"`: a healthy shopper heading out gets it; site
//!   options, a rating, a site consent text and version end up in the
//!   database; a site title full of markup renders as text;
//! - a page hidden and shown again opens it on return (`return`), in
//!   German after `<html lang="de">`;
//! - idle after trouble (`data-survey-idle-ms`) opens it (`idle`);
//! - `data-survey="never"`: no survey, not even from `showSurvey()`;
//! - under a strict CSP and under hostile page CSS (`* { display: none
//!   !important }`, a full-screen overlay) the survey still renders with its
//!   own styles and is the topmost thing at its centre;
//! - on the hostile page with no message shown first (`showSurvey()`), the
//!   survey is a modal `<dialog>` in the browser's top layer, visible and
//!   answered by keyboard alone; it waits while the page's own modal dialog
//!   is open; it is above a page popover opened before it, shows itself
//!   again above one opened while it is up (focus kept), and a fallback
//!   message appearing meanwhile stays beneath it until it closes. The top
//!   layer's order is read from the browser over CDP
//!   (`DOM.getTopLayerElements`): hit testing cannot tell, it skips what a
//!   modal makes inert.
//!
//! The page's visibility is switched by overriding `document.visibilityState`
//! and dispatching `visibilitychange` (headless Chromium keeps a lone tab
//! visible).

mod survey_support;

use serde_json::{json, Value};
use steadycart_tests::{
    thirtyfour::{extensions::cdp::ChromeDevTools, Key},
    Browser, Stack, StackOptions,
};
use survey_support::*;

const TITLE: &str = "<script>window.__pwned=1</script><b>Leaving already?</b>";
const CONSENT: &str = "Mail me once it works — nothing else.";

async fn stack_with(attrs: &str) -> anyhow::Result<Stack> {
    Stack::start_with_options(
        StackOptions {
            gate: false,
            snippet_attrs: attrs.into(),
        },
        |_| {},
    )
    .await
}

/// Click inside the open survey's shadow root.
fn click(selector: &str) -> String {
    format!(
        "document.querySelector('steadycart-survey').shadowRoot.querySelector({}).click(); return true;",
        serde_json::to_string(selector).unwrap_or_default()
    )
}

/// The survey's trigger, as the collector stored it, for the latest shown.
async fn last_trigger(stack: &Stack, n: usize) -> anyhow::Result<Value> {
    let start = std::time::Instant::now();
    loop {
        let shown: Vec<Value> = stack
            .events()
            .await?
            .into_iter()
            .filter(|e| e["type"] == "survey_shown")
            .collect();
        if shown.len() >= n {
            return Ok(shown[n - 1]["trigger"].clone());
        }
        anyhow::ensure!(start.elapsed() < T, "no survey_shown #{n}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_survey_site_options_and_triggers() -> anyhow::Result<()> {
    let stack = stack_with(&format!(
        r#" data-survey="always" data-survey-idle-ms="2000" data-survey-options="slow:Too slow|pay:Payment failed" data-survey-rating="on" data-survey-title="{}" data-survey-consent="{CONSENT}" data-survey-consent-version="2026-12""#,
        TITLE.replace('"', "&quot;")
    ))
    .await?;
    let browser = Browser::start().await?;

    // 1. Always: a healthy shopper; site texts; answer with rating.
    let up = fresh_cart(&stack, &browser).await?;
    assert!(
        leave_after_dwell(&browser, up, DWELL_MS).await?,
        "mode always: shown without trouble"
    );
    let form = browser
        .eval(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             return [r.querySelector('h2').textContent, r.querySelectorAll('script, b').length, window.__pwned || null, \
                     [...r.querySelectorAll('input[name=choice]')].map((i) => i.value), \
                     r.querySelectorAll('input[name=rating]').length];",
        )
        .await?;
    assert_eq!(
        form,
        json!([TITLE, 0, null, ["slow", "pay"], 5]),
        "site title as text, site options, a rating"
    );
    browser.eval(&click("input[value=pay]")).await?;
    browser
        .eval(&click("input[name=rating][value='4']"))
        .await?;
    browser
        .eval(
            "const e = document.querySelector('steadycart-survey').shadowRoot.getElementById('sc-email'); \
             e.value = 'kim@example.com'; e.dispatchEvent(new Event('input', {bubbles: true})); return true;",
        )
        .await?;
    browser.eval(&click("#sc-consent")).await?;
    browser.eval(&click(".send")).await?;
    stack
        .wait_for_event("survey_answered", T, |e| e["type"] == "survey_answered")
        .await?;
    let stored = answers(&stack).await?;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let a = &stored[0];
    assert_eq!(
        json!([
            &a["choice"],
            &a["rating"],
            &a["email"],
            &a["consent_text"],
            &a["consent_version"]
        ]),
        json!(["pay", 4, "kim@example.com", CONSENT, "2026-12"])
    );
    assert_eq!(last_trigger(&stack, 1).await?, "pointer_top");

    // 2. Hidden, then visible again: shown on return, in German.
    let up = fresh_cart(&stack, &browser).await?;
    browser
        .eval("document.documentElement.lang = 'de'; return true;")
        .await?;
    wait_dwell(&browser, up, DWELL_MS).await?;
    let opened = browser
        .eval(
            "const set = (s) => { Object.defineProperty(document, 'visibilityState', {value: s, configurable: true}); \
               Object.defineProperty(document, 'hidden', {value: s === 'hidden', configurable: true}); \
               document.dispatchEvent(new Event('visibilitychange')); }; \
             set('hidden'); const whileHidden = !!document.querySelector('steadycart-survey'); \
             set('visible'); return [whileHidden, !!document.querySelector('steadycart-survey')];",
        )
        .await?;
    assert_eq!(opened, json!([false, true]), "not while hidden; on return");
    let de = browser
        .eval(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             return [r.querySelector('legend').textContent, r.querySelector('.x').getAttribute('aria-label')];",
        )
        .await?;
    assert_eq!(de, json!(["Was hat Sie aufgehalten?", "Schließen"]));
    assert_eq!(last_trigger(&stack, 2).await?, "return");
    close_survey(&browser).await?;

    // 3. Idle after trouble (2 s): no exit gesture at all.
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    browser
        .wait_for("survey after 2 s idle following trouble", T, OPEN)
        .await?;
    assert_eq!(last_trigger(&stack, 3).await?, "idle");
    close_survey(&browser).await?;

    // 4. Strict CSP, then hostile CSS (the lab pages embed the plain tag:
    // default mode, after trouble).
    for page in ["/lab/strict-csp", "/lab/hostile-css"] {
        fresh_cart(&stack, &browser).await?;
        let up = open_page(&stack, &browser, page).await?;
        browser
            .eval("document.getElementById('checkout').click(); return true;")
            .await?;
        browser
            .wait_for(
                "checkout failure handled by the page",
                T,
                "return document.getElementById('status').textContent.includes('failed')",
            )
            .await?;
        assert!(
            leave_after_dwell(&browser, up, DWELL_MS).await?,
            "{page}: survey opens"
        );
        let seen = browser
            .eval(
                "const h = document.querySelector('steadycart-survey'); \
                 const dlg = h.shadowRoot.querySelector('[role=dialog]'); \
                 const r = dlg.getBoundingClientRect(); \
                 const top = h.shadowRoot.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); \
                 return [getComputedStyle(dlg).borderTopLeftRadius, r.width > 200 && r.height > 200, \
                         !!top && dlg.contains(top), getComputedStyle(h).display];",
            )
            .await?;
        assert_eq!(
            seen,
            json!(["12px", true, true, "block"]),
            "{page}: styled by its own sheet, visible and on top"
        );
        browser
            .screenshot(&format!("exit-survey-{}", page.trim_start_matches("/lab/")))
            .await?;
        close_survey(&browser).await?;
    }
    browser.quit().await;
    stack.stop().await;

    // 5. Never: not on exit, not on request.
    let stack = stack_with(r#" data-survey="never""#).await?;
    let browser = Browser::start().await?;
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    let up = fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    assert!(
        !leave_after_dwell(&browser, up, DWELL_MS).await?,
        "mode never: no survey"
    );
    assert_eq!(browser.eval("return Steadycart.showSurvey()").await?, false);
    assert_eq!(shown_count(&stack).await?, 0);
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

/// The focused element inside the open survey: its id, class, or
/// `name:value` for a radio.
const ACTIVE: &str = "const h = document.querySelector('steadycart-survey'); \
    const a = h && h.shadowRoot.activeElement; \
    return a ? (a.id || a.className || (a.name + ':' + a.value)) : null;";

/// The open survey as the shopper sees it: a modal `<dialog>`, styled by
/// its own sheet, large enough, its host displayed.
const SEEN: &str = "const h = document.querySelector('steadycart-survey'); \
    const dlg = h.shadowRoot.querySelector('dialog'); const r = dlg.getBoundingClientRect(); \
    return [dlg.matches(':modal'), r.width > 200 && r.height > 200, \
            getComputedStyle(dlg).borderTopLeftRadius, getComputedStyle(h).display];";

/// A full-viewport popover of the page's own (`popover=manual`, shown at
/// once), styled inline above the page's `* { display: none }`.
fn page_popover(id: &str) -> String {
    format!(
        "const p = document.createElement('div'); p.id = '{id}'; p.popover = 'manual'; \
         p.textContent = 'The shop says hello'; \
         for (const [k, v] of [['display', 'block'], ['position', 'fixed'], ['inset', '0'], \
              ['margin', '0'], ['width', 'auto'], ['height', 'auto'], ['background', '#b00']]) \
           p.style.setProperty(k, v, 'important'); \
         document.body.append(p); p.showPopover(); return p.matches(':popover-open');"
    )
}

/// The browser's top layer, bottom to top, as `tag` or `tag#id`
/// (backdrops left out).
async fn top_layer(cdp: &ChromeDevTools) -> anyhow::Result<Vec<String>> {
    cdp.execute_cdp_with_params("DOM.getDocument", json!({"depth": -1, "pierce": true}))
        .await?;
    let ids = cdp.execute_cdp("DOM.getTopLayerElements").await?;
    let mut layer = Vec::new();
    for id in ids["nodeIds"].as_array().cloned().unwrap_or_default() {
        let n = cdp
            .execute_cdp_with_params("DOM.describeNode", json!({"nodeId": id}))
            .await?;
        let attrs: Vec<&str> = n["node"]["attributes"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let tag = n["node"]["localName"].as_str().unwrap_or_default();
        if tag.starts_with("::") {
            continue; // each one's ::backdrop
        }
        match attrs.chunks(2).find(|kv| kv[0] == "id") {
            Some(kv) => layer.push(format!("{tag}#{}", kv.get(1).unwrap_or(&""))),
            None => layer.push(tag.to_string()),
        }
    }
    Ok(layer)
}

/// Wait until the top layer satisfies `pred`; returns it.
async fn wait_top_layer(
    cdp: &ChromeDevTools,
    what: &str,
    pred: impl Fn(&[String]) -> bool,
) -> anyhow::Result<Vec<String>> {
    let start = std::time::Instant::now();
    loop {
        let layer = top_layer(cdp).await?;
        if pred(&layer) {
            return Ok(layer);
        }
        anyhow::ensure!(start.elapsed() < T, "{what}: top layer is {layer:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn keys(
    browser: &Browser,
    k: impl Into<steadycart_tests::thirtyfour::TypingData>,
) -> anyhow::Result<()> {
    browser.driver.action_chain().send_keys(k).perform().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_in_the_top_layer_on_a_hostile_page() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let cdp = ChromeDevTools::new(browser.driver.handle.clone());
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    fresh_cart(&stack, &browser).await?;
    open_page(&stack, &browser, "/lab/hostile-css").await?;
    assert_eq!(
        browser
            .eval("return [getComputedStyle(document.documentElement).display, !!document.querySelector('steadycart-messages')]")
            .await?,
        json!(["none", false]),
        "the page hides everything, and no message has put it back"
    );

    // 1. The page's own modal dialog is open: the survey waits.
    let waited = browser
        .eval(
            "const d = document.createElement('dialog'); d.id = 'shop-dialog'; \
             document.body.append(d); d.showModal(); const shown = Steadycart.showSurvey(); \
             d.close(); d.remove(); return shown;",
        )
        .await?;
    assert_eq!(waited, false, "no survey over the page's modal dialog");
    assert!(
        !browser
            .eval("return !!document.querySelector('steadycart-survey')")
            .await?
            .as_bool()
            .unwrap_or(true),
        "nothing of the survey in the page"
    );

    // 2. A page popover is open; the survey opens above it, no message
    // shown first.
    assert_eq!(browser.eval(&page_popover("shop-before")).await?, true);
    assert_eq!(browser.eval("return Steadycart.showSurvey()").await?, true);
    assert_eq!(
        browser.eval(SEEN).await?,
        json!([true, true, "12px", "block"]),
        "a modal dialog, visible, styled by its own sheet"
    );
    let layer = top_layer(&cdp).await?;
    assert_eq!(
        layer,
        ["div#shop-before", "dialog"],
        "the survey is the topmost thing in the top layer"
    );
    browser.screenshot("exit-survey-top-layer").await?;

    // 3. Keyboard only: focus starts inside, a choice, some text.
    assert_eq!(browser.eval(ACTIVE).await?, "choice:broken");
    keys(&browser, Key::Space).await?;
    keys(&browser, Key::Tab).await?;
    assert_eq!(browser.eval(ACTIVE).await?, "sc-text");
    keys(&browser, "the page went dark").await?;

    // 4. The page opens another popover while the survey is up: the survey
    // shows itself above it again, focus where it was.
    assert_eq!(browser.eval(&page_popover("shop-later")).await?, true);
    wait_top_layer(&cdp, "survey back on top of the later popover", |l| {
        l.len() == 3 && l.iter().any(|e| e == "div#shop-later") && l[2] == "dialog"
    })
    .await?;
    assert_eq!(browser.eval(ACTIVE).await?, "sc-text", "focus kept");
    assert_eq!(browser.eval(SEEN).await?[0], true, "still modal");

    // 5. A checkout fails meanwhile (the page's script clicks): the
    // fallback message appears beneath the survey, not above its backdrop.
    browser
        .eval("document.getElementById('checkout').click(); return true;")
        .await?;
    browser
        .wait_for(
            "checkout message",
            T,
            "const h = document.querySelector('steadycart-messages'); \
             return !!(h && h.shadowRoot.querySelector('.notice[data-role=checkout]'));",
        )
        .await?;
    wait_top_layer(&cdp, "message beneath the survey", |l| {
        l.iter().any(|e| e == "steadycart-messages") && l.last().is_some_and(|e| e == "dialog")
    })
    .await?;
    assert_eq!(browser.eval(ACTIVE).await?, "sc-text", "focus kept");

    // 6. On with the keyboard: email (left empty), consent, send.
    keys(&browser, Key::Tab).await?;
    keys(&browser, Key::Tab).await?;
    keys(&browser, Key::Tab).await?;
    assert_eq!(browser.eval(ACTIVE).await?, "send");
    keys(&browser, Key::Enter).await?;
    let answered = stack
        .wait_for_event("survey_answered", T, |e| e["type"] == "survey_answered")
        .await?;
    assert_eq!(answered["trigger"], "api");
    assert_eq!(answered["answer"]["choice"], "broken");
    assert_eq!(answered["answer"]["text"], "the page went dark");
    browser
        .wait_for(
            "survey closed after its thanks",
            T,
            "return !document.querySelector('steadycart-survey')",
        )
        .await?;
    let layer = top_layer(&cdp).await?;
    assert_eq!(
        layer.last().map(String::as_str),
        Some("steadycart-messages"),
        "the message is on top once the survey is gone: {layer:?}"
    );
    assert_eq!(browser.page_errors().await?, json!([]));
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

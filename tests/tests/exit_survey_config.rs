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
//!   own styles and is the topmost thing at its centre. (On the hostile
//!   page this holds because the checkout message, shown first, puts the
//!   page's hidden `<html>`/`<body>` back; the survey is not in the top
//!   layer itself.)
//!
//! The page's visibility is switched by overriding `document.visibilityState`
//! and dispatching `visibilitychange` (headless Chromium keeps a lone tab
//! visible).

mod survey_support;

use serde_json::{json, Value};
use steadycart_tests::{Browser, Stack, StackOptions};
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

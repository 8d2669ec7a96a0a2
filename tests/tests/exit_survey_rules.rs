//! The exit survey's "when" rules and hostile input, in headless Chromium
//! on the demo store with the real optimised snippet and collector (one
//! Stack and one Browser; the tag sets `data-survey-cooldown-days="1"`).
//! What `exit_survey.rs` does not cover:
//!
//! - an exit the policy refused (healthy session so far) does not use the
//!   page up: after a failed checkout the next exit shows the survey;
//!   exits while selecting text or right after typing in a field are
//!   ignored; a click outside and the close button dismiss it
//!   (`survey_dismissed` with reason and trouble context);
//! - the cross-session cooldown (localStorage): shown in session 1; a new
//!   session (new tab: fresh sessionStorage) within the cooldown gets none
//!   — and does once the cooldown entry is gone, so it was the cooldown;
//!   with the page clock moved 23 h on, still none; 25 h on, shown again.
//!   The clock is moved by a script run before the page's own
//!   (`Page.addScriptToEvaluateOnNewDocument` shifting `Date.now`);
//! - never while a native `<dialog>` is open (shown after it closes), and
//!   never a second one while ours is open;
//! - the remote switch (admin API `survey: false`) reaches an open page and
//!   holds the survey back; switched on again, it shows;
//! - hostile input: `<script>` and over-long emails are refused in the form
//!   (error shown, nothing sent), a long typed email stops at 254
//!   characters, free text of 4,000 characters with markup set through the
//!   DOM is stored capped at 1,000 as inert text, and nothing executes.

mod survey_support;

use serde_json::{json, Value};
use steadycart_tests::{
    thirtyfour::{extensions::cdp::ChromeDevTools, By},
    Browser, Stack, StackOptions,
};
use survey_support::*;

const DAY_MS: f64 = 86_400_000.0;

/// Wait until the open page holds remote config `version` or newer.
async fn config_reached(browser: &Browser, stack: &Stack, version: i64) -> anyhow::Result<()> {
    browser
        .wait_for(
            "remote config on the page",
            T,
            &format!(
                "const c = localStorage.getItem('steadycart.config.{}'); \
                 return !!c && JSON.parse(c).version >= {version};",
                stack.site_key
            ),
        )
        .await?;
    Ok(())
}

/// In the current tab, run `Date.now` `shift_ms` ahead on every page
/// loaded from now on. Returns the script id (to remove it).
async fn shift_clock(cdp: &ChromeDevTools, shift_ms: f64) -> anyhow::Result<String> {
    let r = cdp
        .execute_cdp_with_params(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": format!(
                "(() => {{ const real = Date.now.bind(Date); Date.now = () => real() + {shift_ms}; }})();"
            )}),
        )
        .await?;
    Ok(r["identifier"].as_str().unwrap_or_default().to_string())
}

async fn until_minus_now(browser: &Browser) -> anyhow::Result<f64> {
    let v = browser
        .eval("return Number(localStorage.getItem('steadycart.survey.until')) - Date.now()")
        .await?;
    Ok(v.as_f64().unwrap_or(f64::NAN))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_survey_rules() -> anyhow::Result<()> {
    let stack = Stack::start_with_options(
        StackOptions {
            gate: false,
            snippet_attrs: r#" data-survey-cooldown-days="1""#.into(),
        },
        |_| {},
    )
    .await?;
    let browser = Browser::start().await?;
    let outage = json!({"mode": "error", "status": 503});
    stack.set_fault("checkout", outage.clone()).await?;

    // 1. A refused exit does not use the page up.
    let up = fresh_cart(&stack, &browser).await?;
    assert!(
        !leave_after_dwell(&browser, up, DWELL_MS).await?,
        "a healthy session gets no survey"
    );
    failed_checkout(&browser).await?;
    // Not while the shopper selects text (button held), nor right after
    // typing in a form field (autofill dropdowns fire such exits).
    let ignored = browser
        .eval(
            "const leave = (extra) => { document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
               Object.assign({bubbles: true, clientX: 300, clientY: -2, relatedTarget: null}, extra))); \
               return !!document.querySelector('steadycart-survey'); }; \
             const selecting = leave({buttons: 1}); \
             const i = document.createElement('input'); i.id = 'coupon'; document.querySelector('main').appendChild(i); \
             i.focus(); i.dispatchEvent(new KeyboardEvent('keydown', {key: 'a', bubbles: true})); \
             const typing = leave({}); i.blur(); \
             return [selecting, typing];",
        )
        .await?;
    assert_eq!(ignored, json!([false, false]), "selecting, autofill");
    assert!(
        browser.eval(LEAVE_TOP).await? == true,
        "the exit after the failed checkout shows the survey"
    );
    let first = stack
        .wait_for_event("survey_shown", T, |e| e["type"] == "survey_shown")
        .await?;
    assert_eq!(first["trigger"], "pointer_top");
    // A real click on the backdrop (outside the dialog, at the viewport's
    // corner) dismisses it.
    browser
        .driver
        .action_chain()
        .move_to(5, 5)
        .click()
        .perform()
        .await?;
    browser
        .wait_for(
            "closed by a click outside",
            T,
            "return !document.querySelector('steadycart-survey')",
        )
        .await?;
    let dismissed = stack
        .wait_for_event("survey_dismissed", T, |e| e["type"] == "survey_dismissed")
        .await?;
    assert_eq!(dismissed["reason"], "backdrop");
    assert_eq!(dismissed["trouble"]["roles"], json!(["checkout"]));

    // 2. Cooldown across sessions: one day, from the tag.
    let left = until_minus_now(&browser).await?;
    assert!(
        (DAY_MS - 120_000.0..=DAY_MS).contains(&left),
        "cooldown ends a day after showing, {left} ms left"
    );
    new_session(&browser).await?;
    let up = cart_page(&stack, &browser).await?;
    assert_eq!(
        browser
            .eval("return sessionStorage.getItem('steadycart.survey')")
            .await?,
        Value::Null,
        "a new session: the once-per-session mark is gone"
    );
    failed_checkout(&browser).await?;
    assert!(
        !leave_after_dwell(&browser, up, DWELL_MS).await?,
        "new session within the cooldown: no survey"
    );
    // Control: without the cooldown entry the same exit shows it.
    browser
        .eval("localStorage.removeItem('steadycart.survey.until'); return true;")
        .await?;
    assert!(
        browser.eval(LEAVE_TOP).await? == true,
        "no cooldown entry, new session, trouble: shown"
    );
    let second = stack
        .wait_for_event("second survey_shown", T, |e| {
            e["type"] == "survey_shown" && e["session"] != first["session"]
        })
        .await?;
    assert_ne!(second["session"], first["session"], "a new session");
    close_survey(&browser).await?;

    // 23 h later (page clock): still inside the one-day cooldown.
    new_session(&browser).await?;
    let cdp = ChromeDevTools::new(browser.driver.handle.clone());
    let script = shift_clock(&cdp, 23.0 * 3_600_000.0).await?;
    let up = cart_page(&stack, &browser).await?;
    let shift = browser
        .eval("return Date.now() - new Date().getTime()")
        .await?;
    assert!(
        shift.as_f64().unwrap_or(0.0) > 22.0 * 3_600_000.0,
        "page clock moved: {shift}"
    );
    failed_checkout(&browser).await?;
    assert!(
        !leave_after_dwell(&browser, up, DWELL_MS).await?,
        "23 h after: still cooling down"
    );
    cdp.execute_cdp_with_params(
        "Page.removeScriptToEvaluateOnNewDocument",
        json!({ "identifier": script }),
    )
    .await?;

    // 25 h later: shown again.
    new_session(&browser).await?;
    let cdp = ChromeDevTools::new(browser.driver.handle.clone());
    let script = shift_clock(&cdp, 25.0 * 3_600_000.0).await?;
    let up = cart_page(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    assert!(
        leave_after_dwell(&browser, up, DWELL_MS).await?,
        "25 h after a one-day cooldown: shown again"
    );
    close_survey(&browser).await?;
    cdp.execute_cdp_with_params(
        "Page.removeScriptToEvaluateOnNewDocument",
        json!({ "identifier": script }),
    )
    .await?;
    new_session(&browser).await?;

    // 3. Never while a native dialog is open; never two of ours.
    let up = fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    browser
        .eval(
            "const d = document.createElement('dialog'); d.id = 'shop-dialog'; \
             d.textContent = 'Shipping to Mars?'; document.body.appendChild(d); d.showModal(); return true;",
        )
        .await?;
    assert!(
        !leave_after_dwell(&browser, up, DWELL_MS).await?,
        "no survey over the shop's open dialog"
    );
    browser
        .eval("document.getElementById('shop-dialog').close(); return true;")
        .await?;
    assert!(
        browser.eval(LEAVE_TOP).await? == true,
        "dialog closed: the next exit shows it"
    );
    assert_eq!(
        browser.eval("return Steadycart.showSurvey()").await?,
        false,
        "not over our own open survey"
    );
    browser.eval(LEAVE_TOP).await?;
    assert_eq!(
        browser
            .eval("return document.querySelectorAll('steadycart-survey').length")
            .await?,
        1
    );
    close_survey(&browser).await?;
    stack
        .wait_for_event("dismissed by the close button", T, |e| {
            e["type"] == "survey_dismissed" && e["reason"] == "close"
        })
        .await?;

    // 4. The remote switch reaches the open page.
    let v = stack
        .patch_config(json!({"max_age_s": 1, "survey": false}))
        .await?["version"]
        .as_i64()
        .unwrap_or(0);
    let up = fresh_cart(&stack, &browser).await?;
    config_reached(&browser, &stack, v).await?;
    failed_checkout(&browser).await?;
    assert!(
        !leave_after_dwell(&browser, up, DWELL_MS).await?,
        "switched off remotely"
    );
    assert_eq!(browser.eval("return Steadycart.showSurvey()").await?, false);
    let v = stack.patch_config(json!({"survey": true})).await?["version"]
        .as_i64()
        .unwrap_or(0);
    config_reached(&browser, &stack, v).await?;
    browser
        .wait_for("switched on again, shown on exit", T, LEAVE_TOP)
        .await?;

    // 5. Hostile input (same open survey).
    let root = browser
        .driver
        .find(By::Css("steadycart-survey"))
        .await?
        .get_shadow_root()
        .await?;
    root.find(By::Css("input[value=other]"))
        .await?
        .click()
        .await?;
    let email = root.find(By::Id("sc-email")).await?;
    email
        .send_keys("<script>window.__pwned=1</script>@example.com")
        .await?;
    root.find(By::Id("sc-consent")).await?.click().await?;
    root.find(By::Css(".send")).await?.click().await?;
    let refused = browser
        .eval(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             return [r.getElementById('sc-err').textContent, r.getElementById('sc-email').getAttribute('aria-invalid'), \
                     r.activeElement && r.activeElement.id, !!r.querySelector('form')];",
        )
        .await?;
    assert_eq!(
        refused,
        json!([
            "Please enter a valid email address.",
            "true",
            "sc-email",
            true
        ]),
        "a script tag is no email: refused in the form, focus on the field"
    );
    // Typed far past the limit: the field stops at 254 characters.
    email.clear().await?;
    email.send_keys("a".repeat(300)).await?;
    assert_eq!(
        browser
            .eval("return document.querySelector('steadycart-survey').shadowRoot.getElementById('sc-email').value.length")
            .await?,
        254
    );
    // Set through the DOM (no maxlength): 312 characters, refused.
    browser
        .eval(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             const e = r.getElementById('sc-email'); \
             e.value = 'a'.repeat(64) + '@' + ('b'.repeat(60) + '.').repeat(4) + 'com'; \
             e.dispatchEvent(new Event('input', {bubbles: true})); \
             r.getElementById('sc-err').textContent = ''; \
             r.querySelector('.send').click(); \
             return r.getElementById('sc-err').textContent;",
        )
        .await?;
    browser
        .wait_for(
            "over-long email refused",
            T,
            "return document.querySelector('steadycart-survey').shadowRoot.getElementById('sc-err').textContent.length > 0",
        )
        .await?;
    // Free text with markup, 4,000 characters, set through the DOM.
    let text_prefix = "<script>window.__pwned=2</script><img src=x onerror=\"window.__pwned=3\">";
    browser
        .eval(&format!(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             const t = r.getElementById('sc-text'); t.value = {} + 'ü'.repeat(4000); \
             t.dispatchEvent(new Event('input', {{bubbles: true}})); \
             const e = r.getElementById('sc-email'); e.value = 'eve@example.com'; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); \
             r.querySelector('.send').click(); return true;",
            serde_json::to_string(text_prefix)?
        ))
        .await?;
    let answered = stack
        .wait_for_event("survey_answered", T, |e| e["type"] == "survey_answered")
        .await?;
    assert_eq!(answered["answer"]["email"], "eve@example.com");
    let events = serde_json::to_string(&stack.events().await?)?;
    assert!(
        !events.contains("__pwned=1</script>@"),
        "the refused email was never sent"
    );
    let stored = answers(&stack).await?;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let text = stored[0]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with(text_prefix), "stored verbatim: {text:.80}");
    assert_eq!(text.chars().count(), 1000, "capped at 1,000 characters");
    assert_eq!(stored[0]["email"], "eve@example.com");
    assert_eq!(stored[0]["choice"], "other");
    let inert = browser
        .eval(
            "const h = document.querySelector('steadycart-survey'); \
             return [window.__pwned || null, h ? h.shadowRoot.querySelectorAll('script, img').length : 0];",
        )
        .await?;
    assert_eq!(inert, json!([null, 0]), "nothing executed or rendered");

    assert_eq!(browser.page_errors().await?, json!([]));
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

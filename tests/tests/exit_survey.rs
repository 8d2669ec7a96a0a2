//! The exit survey end to end in headless Chromium on the demo store, with
//! the real optimised snippet and collector (one Stack and one Browser for
//! all cases, storage cleared between them):
//! - failed checkout, then the pointer leaves through the top → the survey
//!   opens as a labelled modal with focus inside, without layout shift;
//! - it is completed with the keyboard only (Tab trap both ways), with
//!   consent: the answer lands in the database with the consent text and
//!   version verbatim, hostile free text stored inert, focus returned;
//! - no second survey in the same session;
//! - Escape dismisses (`survey_dismissed`);
//! - without consent a typed email is never sent nor stored;
//! - a healthy session gets no survey; neither does a completed checkout.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use steadycart_tests::{
    thirtyfour::{By, Key},
    Browser, Stack,
};

const OPEN: &str = "const h = document.querySelector('steadycart-survey'); \
    return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[role=dialog]'));";
const LEAVE_TOP: &str = "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
    {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); return true;";
const ACTIVE: &str = "const h = document.querySelector('steadycart-survey'); \
    const a = h && h.shadowRoot.activeElement; \
    return a ? (a.id || a.className || (a.name + ':' + a.value)) : null;";
/// Default minimum dwell before an exit counts, plus slack.
const DWELL: Duration = Duration::from_millis(3300);
const CONSENT_EN: &str =
    "Yes, you may email me once the problem is fixed. I can withdraw this any time.";

async fn fresh_cart(stack: &Stack, browser: &Browser) -> anyhow::Result<Instant> {
    let d = &browser.driver;
    d.goto(&stack.store_url).await?;
    browser
        .eval("localStorage.clear(); sessionStorage.clear(); return true;")
        .await?;
    d.goto(&stack.store_url).await?;
    d.find(By::Css("[data-add]")).await?.click().await?;
    d.goto(&format!("{}/cart", stack.store_url)).await?;
    let loaded = Instant::now();
    browser.installed().await?;
    Ok(loaded)
}

async fn failed_checkout(browser: &Browser) -> anyhow::Result<()> {
    browser
        .driver
        .find(By::Id("checkout"))
        .await?
        .click()
        .await?;
    browser
        .wait_for(
            "checkout failure handled by the page",
            Duration::from_secs(10),
            "return document.getElementById('status').textContent.includes('503')",
        )
        .await?;
    Ok(())
}

async fn leave_after_dwell(browser: &Browser, loaded: Instant) -> anyhow::Result<()> {
    if let Some(rest) = DWELL.checked_sub(loaded.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    browser.eval(LEAVE_TOP).await?;
    Ok(())
}

async fn assert_no_survey(browser: &Browser, why: &str) -> anyhow::Result<()> {
    // The decision is synchronous in the mouseout handler; a short grace
    // covers rendering.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(browser.eval(OPEN).await?, false, "{why}");
    Ok(())
}

async fn keys(
    browser: &Browser,
    k: impl Into<steadycart_tests::thirtyfour::TypingData>,
) -> anyhow::Result<()> {
    browser.driver.action_chain().send_keys(k).perform().await?;
    Ok(())
}

async fn answers(stack: &Stack) -> anyhow::Result<Vec<Value>> {
    stack.admin_list("survey/answers", "answers").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_survey_in_the_demo_store() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    let outage = json!({"mode": "error", "status": 503});

    // 1. Failed checkout, pointer out of the top → survey.
    stack.set_fault("checkout", outage.clone()).await?;
    let loaded = fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    let before = browser
        .eval("return [document.documentElement.scrollHeight, document.body.getBoundingClientRect().top, getComputedStyle(document.documentElement).overflow]")
        .await?;
    // Focus is on the page's own button when the shopper heads out.
    browser
        .eval("document.getElementById('checkout').focus(); return true;")
        .await?;
    leave_after_dwell(&browser, loaded).await?;
    browser
        .wait_for(
            "survey after a failed checkout",
            Duration::from_secs(5),
            OPEN,
        )
        .await?;
    let after = browser
        .eval("return [document.documentElement.scrollHeight, document.body.getBoundingClientRect().top, getComputedStyle(document.documentElement).overflow]")
        .await?;
    assert_eq!(before, after, "no layout shift, no scroll lock");
    let a11y = browser
        .eval(
            "const r = document.querySelector('steadycart-survey').shadowRoot; \
             const dlg = r.querySelector('[role=dialog]'); \
             return [dlg.getAttribute('aria-modal'), r.getElementById(dlg.getAttribute('aria-labelledby')).textContent, \
                     r.querySelector('.x').getAttribute('aria-label'), r.querySelectorAll('script').length];",
        )
        .await?;
    assert_eq!(a11y, json!(["true", "Before you go", "Close", 0]));
    let host = d.find(By::Css("steadycart-survey")).await?;
    let dialog = host
        .get_shadow_root()
        .await?
        .find(By::Css("[role=dialog]"))
        .await?;
    assert!(dialog.is_displayed().await?, "the survey is visible");
    browser.screenshot("exit-survey-desktop").await?;
    let shown = stack
        .wait_for_event("survey_shown", Duration::from_secs(10), |e| {
            e["type"] == "survey_shown"
        })
        .await?;
    assert_eq!(shown["trigger"], "pointer_top");
    assert_eq!(shown["trouble"]["roles"], json!(["checkout"]));
    assert_eq!(shown["trouble"]["endpoints"], json!(["POST /api/checkout"]));
    assert_eq!(shown["trouble"]["last_outcome"], "http_error");
    assert_eq!(shown["trouble"]["last_status"], 503);

    // 2. Keyboard only, with consent.
    assert_eq!(
        browser.eval(ACTIVE).await?,
        "choice:broken",
        "focus starts inside"
    );
    let hostile = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
    keys(&browser, Key::Space).await?;
    keys(&browser, Key::Tab).await?;
    assert_eq!(browser.eval(ACTIVE).await?, "sc-text");
    keys(&browser, hostile).await?;
    keys(&browser, Key::Tab).await?;
    keys(&browser, "ann@example.com").await?;
    keys(&browser, Key::Tab).await?;
    assert_eq!(browser.eval(ACTIVE).await?, "sc-consent");
    keys(&browser, Key::Space).await?;
    keys(&browser, Key::Tab).await?;
    assert_eq!(browser.eval(ACTIVE).await?, "send");
    keys(&browser, Key::Tab).await?;
    assert_eq!(
        browser.eval(ACTIVE).await?,
        "x",
        "Tab wraps to the first control"
    );
    d.action_chain()
        .key_down(Key::Shift)
        .send_keys(Key::Tab)
        .key_up(Key::Shift)
        .perform()
        .await?;
    assert_eq!(browser.eval(ACTIVE).await?, "send", "Shift+Tab wraps back");
    keys(&browser, Key::Enter).await?;
    let answered = stack
        .wait_for_event("survey_answered", Duration::from_secs(10), |e| {
            e["type"] == "survey_answered"
        })
        .await?;
    assert_eq!(answered["answer"]["choice"], "broken");
    let stored = answers(&stack).await?;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let a = &stored[0];
    assert_eq!(a["email"], "ann@example.com");
    assert_eq!(a["consent_text"], CONSENT_EN);
    assert_eq!(a["consent_version"], "default-1");
    assert_eq!(a["text"], hostile, "stored as inert text");
    assert_eq!(a["trouble"]["last_status"], 503);
    assert_eq!(
        browser.eval("return window.__xss || null").await?,
        Value::Null
    );
    browser
        .wait_for(
            "dialog closes",
            Duration::from_secs(5),
            "return !document.querySelector('steadycart-survey')",
        )
        .await?;
    assert_eq!(
        browser.eval("return document.activeElement.id").await?,
        "checkout",
        "focus returns to the page's button"
    );
    browser
        .wait_for(
            "dialog closes and focus returns",
            Duration::from_secs(5),
            "return !document.querySelector('steadycart-survey') && document.activeElement.id === 'checkout'",
        )
        .await?;

    // 3. No second survey in this session (cooldown cleared: the session
    // rule alone must hold).
    browser
        .eval("localStorage.removeItem('steadycart.survey.until'); return true;")
        .await?;
    d.refresh().await?;
    let loaded = Instant::now();
    browser.installed().await?;
    failed_checkout(&browser).await?;
    leave_after_dwell(&browser, loaded).await?;
    assert_no_survey(&browser, "once per session").await?;

    // 4. Escape dismisses.
    let loaded = fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    leave_after_dwell(&browser, loaded).await?;
    browser
        .wait_for("survey", Duration::from_secs(5), OPEN)
        .await?;
    keys(&browser, Key::Escape).await?;
    browser
        .wait_for(
            "closed by Escape",
            Duration::from_secs(5),
            "return !document.querySelector('steadycart-survey')",
        )
        .await?;
    stack
        .wait_for_event("survey_dismissed", Duration::from_secs(10), |e| {
            e["type"] == "survey_dismissed" && e["reason"] == "escape"
        })
        .await?;

    // 5. Without consent, a typed email is neither sent nor stored.
    let loaded = fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    leave_after_dwell(&browser, loaded).await?;
    browser
        .wait_for("survey", Duration::from_secs(5), OPEN)
        .await?;
    let root = d
        .find(By::Css("steadycart-survey"))
        .await?
        .get_shadow_root()
        .await?;
    root.find(By::Css("input[value=price]"))
        .await?
        .click()
        .await?;
    root.find(By::Id("sc-email"))
        .await?
        .send_keys("bob@example.com")
        .await?;
    let consent = root.find(By::Id("sc-consent")).await?;
    assert!(
        !consent.is_selected().await?,
        "the consent box starts unticked"
    );
    root.find(By::Css(".send")).await?.click().await?;
    let answered = stack
        .wait_for_event("answer without consent", Duration::from_secs(10), |e| {
            e["type"] == "survey_answered" && e["answer"]["choice"] == "price"
        })
        .await?;
    assert!(answered["answer"].get("email").is_none(), "{answered}");
    assert!(answered["answer"].get("consent").is_none(), "{answered}");
    let stored = answers(&stack).await?;
    let b = stored
        .iter()
        .find(|a| a["choice"] == "price")
        .expect("stored");
    assert_eq!(b["email"], Value::Null);
    assert_eq!(b["consent_text"], Value::Null);
    let events = stack.events().await?;
    assert!(
        !serde_json::to_string(&events)?.contains("bob@example.com"),
        "the unconsented email is nowhere in the collector"
    );

    // 6. A healthy session gets none.
    stack.set_fault("checkout", json!({"mode": "none"})).await?;
    let loaded = fresh_cart(&stack, &browser).await?;
    leave_after_dwell(&browser, loaded).await?;
    assert_no_survey(&browser, "healthy session").await?;

    // 7. Trouble, then a completed checkout: none.
    stack.set_fault("checkout", outage).await?;
    fresh_cart(&stack, &browser).await?;
    failed_checkout(&browser).await?;
    stack.set_fault("checkout", json!({"mode": "none"})).await?;
    d.find(By::Id("checkout")).await?.click().await?;
    browser
        .wait_for(
            "confirmation page",
            Duration::from_secs(10),
            "return location.pathname.startsWith('/order/') && !!window.__steadycart",
        )
        .await?;
    let loaded = Instant::now();
    leave_after_dwell(&browser, loaded).await?;
    assert_no_survey(&browser, "after checkout_completed").await?;

    let events = stack.events().await?;
    let shown = events
        .iter()
        .filter(|e| e["type"] == "survey_shown")
        .count();
    assert_eq!(shown, 3, "surveys shown in cases 1, 4 and 5 only");
    assert_eq!(browser.page_errors().await?, json!([]));

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

//! The JS API (`window.Steadycart` / module exports) and SPA routing in
//! headless Chromium, with the real optimised snippet, collector and demo
//! store (one Stack and one Browser for all cases):
//! - the single-page demo shop (`/spa`, `init(config)`, no tag): a failing
//!   checkout reaches the `trouble` hook, a throwing callback never reaches
//!   the page, `setCart` sends a `cart_snapshot`;
//! - SPA navigation: `pushState` to the confirmation route completes the
//!   checkout, route changes and `popstate` never start a new session, and
//!   events carry the new route;
//! - `init` errors are typed and name the option; `identify` needs consent;
//! - on the tag-embedded shop: `markCheckoutCompleted(orderId)` suppresses
//!   the exit survey; `showSurvey()` opens it (`survey` hook);
//!   `pause()` stops watching; `uninstall()` gives the page its own fetch
//!   and history back;
//! - every batch reports the protocol version and the snippet's version.

use std::time::Duration;

use serde_json::json;
use steadycart_tests::{thirtyfour::By, Browser, Stack};

const T: Duration = Duration::from_secs(10);

/// Record page errors and unhandled rejections, and hook callbacks.
const RECORD: &str = "window.__errors = []; window.__hooks = [];
    addEventListener('error', (e) => __errors.push(String(e.message)));
    addEventListener('unhandledrejection', (e) => __errors.push('rejection: ' + e.reason));
    for (const k of ['trouble', 'recovered', 'survey']) Steadycart.on(k, (d) => __hooks.push([k, d]));
    Steadycart.on('trouble', () => { throw new Error('a buggy shop callback'); });
    return true;";

async fn api_ready(browser: &Browser) -> anyhow::Result<()> {
    browser
        .wait_for(
            "Steadycart running",
            T,
            "return !!(window.Steadycart && Steadycart.version && Steadycart.version())",
        )
        .await?;
    Ok(())
}

async fn session_starts(stack: &Stack) -> anyhow::Result<usize> {
    Ok(stack
        .events()
        .await?
        .iter()
        .filter(|e| e["type"] == "session_start")
        .count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_api_and_spa_routing() -> anyhow::Result<()> {
    let stack = Stack::start_with_options(
        steadycart_tests::StackOptions {
            gate: true,
            snippet_attrs: String::new(),
        },
        |_| {},
    )
    .await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;

    // 1. The single-page shop: init(config), trouble hook, setCart.
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    d.goto(&format!("{}/spa", stack.store_url)).await?;
    api_ready(&browser).await?;
    browser.eval(RECORD).await?;
    let version = browser.eval("return Steadycart.version()").await?;
    assert_eq!(
        version,
        format!("steadycart-js/{}", env!("CARGO_PKG_VERSION"))
    );
    d.find(By::Css("[data-add='kbd-75']"))
        .await?
        .click()
        .await?;
    let cart = stack
        .wait_for_event("cart_snapshot", T, |e| e["type"] == "cart_snapshot")
        .await?;
    assert_eq!(
        cart["items"],
        json!([{"sku": "kbd-75", "name": "75% Mechanical Keyboard", "qty": 1, "unit_price_minor": 8900}])
    );
    assert_eq!(cart["currency"], "USD");
    let session = cart["session"].clone();
    d.find(By::Css("#cart-link")).await?.click().await?;
    d.find(By::Id("checkout")).await?.click().await?;
    let trouble = browser
        .wait_for(
            "trouble hook",
            T,
            "return __hooks.find((h) => h[0] === 'trouble') || null",
        )
        .await?;
    assert_eq!(
        trouble[1],
        json!({"role": "checkout", "outcome": "http_error", "method": "POST",
               "url": format!("{}/api/checkout", stack.store_url), "status": 503})
    );
    browser
        .wait_for(
            "the shop's own notice from its hook",
            T,
            "return document.getElementById('notice').textContent.includes('checkout')",
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        browser.page_errors().await?,
        json!([]),
        "a throwing callback never reaches the page"
    );
    let failed_call = stack
        .wait_for_event("failed checkout call", T, |e| {
            e["type"] == "call" && e["status"] == 503
        })
        .await?;
    assert_eq!(failed_call["page"], "/spa/cart", "events carry the route");

    // 2. SPA navigation: routes never start a session; pushState to the
    // confirmation route completes the checkout (no order call succeeded).
    let starts = session_starts(&stack).await?;
    browser
        .eval(
            "history.pushState({}, '', '/spa'); history.replaceState({}, '', '/spa/cart'); \
             history.pushState({}, '', '/spa'); history.back(); return true;",
        )
        .await?;
    browser
        .wait_for(
            "popstate back to /spa/cart",
            T,
            "return location.pathname === '/spa/cart'",
        )
        .await?;
    browser
        .eval("history.pushState({n: 1}, '', '/spa/order/A-4242'); return true;")
        .await?;
    let done = stack
        .wait_for_event("checkout_completed by route", T, |e| {
            e["type"] == "checkout_completed"
        })
        .await?;
    assert_eq!(done["page"], "/spa/order/A-4242");
    assert_eq!(done["session"], session, "one session across routes");
    assert_eq!(session_starts(&stack).await?, starts, "no new session");
    assert_eq!(
        browser
            .eval("return history.pushState.name + history.pushState.length")
            .await?,
        "pushState2",
        "the wrapper looks like the native method"
    );

    // 3. Typed errors: init options, identify consent, arguments.
    let errors = browser
        .eval(
            "const out = [];
             const grab = (f) => { try { f(); out.push('no error'); } catch (e) {
                 out.push([e.name, e.code, e.option || null, e instanceof Steadycart.SteadycartError]); } };
             grab(() => Steadycart.identify('ann@example.com'));
             grab(() => Steadycart.identify('ann@example.com', {text: 'Email me'}));
             grab(() => Steadycart.identify('<script>@x', {text: 'Email me', version: 'v1'}));
             grab(() => Steadycart.setCart([{sku: 'x', quantity: 0}]));
             grab(() => Steadycart.on('sneeze', () => 1));
             grab(() => Steadycart.markCheckoutCompleted({}));
             grab(() => Steadycart.identify('ann@example.com', {text: 'Email me when fixed', version: '2026-11'}));
             return out;",
        )
        .await?;
    assert_eq!(
        errors,
        json!([
            ["SteadycartConsentError", "consent", "consent", true],
            ["SteadycartConsentError", "consent", "consent", true],
            ["SteadycartArgumentError", "argument", "email", true],
            [
                "SteadycartArgumentError",
                "argument",
                "items[0].quantity",
                true
            ],
            ["SteadycartArgumentError", "argument", "event", true],
            ["SteadycartArgumentError", "argument", "orderId", true],
            "no error"
        ])
    );
    let who = stack
        .wait_for_event("identify", T, |e| e["type"] == "identify")
        .await?;
    assert_eq!(who["email"], "ann@example.com");
    assert_eq!(
        who["consent"],
        json!({"text": "Email me when fixed", "version": "2026-11"})
    );
    let init_errors = browser
        .eval(
            "return Promise.all([
               Steadycart.init({site: 'pk_abcdef'}).catch((e) => [e.name, e.code, e.message]),
             ]);",
        )
        .await?;
    assert_eq!(
        init_errors[0][0], "SteadycartStateError",
        "init after start: {init_errors}"
    );

    // A page without the tag or init: init errors name the option as given.
    d.goto(&format!("{}/healthz", stack.collector_url)).await?;
    let config_errors = browser
        .driver
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 import('{}/snippet/steadycart.js').then(async () => {{
                   const S = window.Steadycart;
                   const out = [];
                   for (const c of [{{site: 'pk_abcdef', checkout: 'POST /api/checkout', stallMsPrice: 'soon'}},
                                    {{site: 'pk_abcdef', chekout: '/x'}},
                                    {{checkout: '/x'}},
                                    {{site: 'pk_abcdef', checkout: 'GRAB /x'}}]) {{
                     out.push(await S.init(c).then(() => 'started', (e) => [e.name, e.code, e.option || null, e instanceof S.ConfigError]));
                   }}
                   done(out);
                 }}, (e) => done(String(e)));",
                stack.collector_url
            ),
            vec![],
        )
        .await?
        .json()
        .clone();
    assert_eq!(
        config_errors,
        json!([
            ["SteadycartConfigError", "config", "stallMsPrice", true],
            ["SteadycartConfigError", "config", "chekout", true],
            ["SteadycartConfigError", "config", "site", true],
            ["SteadycartConfigError", "config", "checkout", true],
        ])
    );

    // 4. The tag-embedded shop: markCheckoutCompleted suppresses the survey.
    d.goto(&stack.store_url).await?;
    browser
        .eval("localStorage.clear(); sessionStorage.clear(); return true;")
        .await?;
    d.goto(&stack.store_url).await?;
    d.find(By::Css("[data-add]")).await?.click().await?;
    d.goto(&format!("{}/cart", stack.store_url)).await?;
    api_ready(&browser).await?;
    browser.eval(RECORD).await?;
    d.find(By::Id("checkout")).await?.click().await?;
    browser
        .wait_for(
            "checkout failure",
            T,
            "return document.getElementById('status').textContent.includes('503')",
        )
        .await?;
    browser
        .eval("Steadycart.markCheckoutCompleted('A-77'); return true;")
        .await?;
    tokio::time::sleep(Duration::from_millis(3300)).await; // minimum dwell
    browser
        .eval(
            "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
             {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); return true;",
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        browser
            .eval("return !!document.querySelector('steadycart-survey')")
            .await?,
        false,
        "no survey after markCheckoutCompleted"
    );
    let done = stack
        .wait_for_event("checkout_completed with order id", T, |e| {
            e["type"] == "checkout_completed" && e["order_id"] == "A-77"
        })
        .await?;
    assert_eq!(done["page"], "/cart");

    // showSurvey() opens it on request; the survey hook hears it.
    assert_eq!(browser.eval("return Steadycart.showSurvey()").await?, true);
    browser
        .wait_for(
            "survey hook",
            T,
            "return __hooks.find((h) => h[0] === 'survey') || null",
        )
        .await?;
    let shown = stack
        .wait_for_event("survey_shown by api", T, |e| {
            e["type"] == "survey_shown" && e["trigger"] == "api"
        })
        .await?;
    assert_eq!(shown["trouble"]["last_status"], 503);
    assert_eq!(
        browser.eval("return Steadycart.showSurvey()").await?,
        false,
        "not while it is open"
    );

    // pause(): new calls are not watched; resume(): they are again. (The
    // page's own price calls at load are watched too: count from here.)
    let paused_at = browser
        .eval("Steadycart.pause(); fetch('/api/price/kbd-75?paused=1'); return Date.now();")
        .await?
        .as_f64()
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser
        .eval("Steadycart.resume(); fetch('/api/price/kbd-75?resumed=1'); return true;")
        .await?;
    stack
        .wait_for_event("price call after resume", T, |e| {
            e["type"] == "call"
                && e["role"] == "price"
                && e["ts"].as_f64().unwrap_or_default() >= paused_at + 1400.0
        })
        .await?;
    let price_calls: Vec<_> = stack
        .events()
        .await?
        .into_iter()
        .filter(|e| {
            e["type"] == "call"
                && e["role"] == "price"
                && e["url"] == format!("{}/api/price/kbd-75", stack.store_url)
                && e["ts"].as_f64().unwrap_or_default() >= paused_at
        })
        .collect();
    assert_eq!(
        price_calls.len(),
        1,
        "the paused call was not watched: {price_calls:?}"
    );

    // uninstall(): fetch and history are the page's own again.
    let restored = browser
        .eval(
            "Steadycart.uninstall();
             const native = (f) => Function.prototype.toString.call(f).includes('[native code]');
             let threw = null; try { Steadycart.pause(); } catch (e) { threw = e.name; }
             return [native(fetch), native(history.pushState), !document.querySelector('steadycart-survey'), threw];",
        )
        .await?;
    assert_eq!(restored, json!([true, true, true, "SteadycartStateError"]));

    // Every batch names the protocol version and the snippet's version.
    let gate = stack.gate.as_ref().expect("gate");
    let seen = gate.seen();
    assert!(!seen.is_empty());
    for b in &seen {
        assert_eq!(
            b.version,
            (
                u64::from(steadycart_protocol::PROTOCOL_VERSION),
                version.as_str().unwrap_or_default().to_string()
            )
        );
    }
    assert_eq!(browser.page_errors().await?, json!([]));

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

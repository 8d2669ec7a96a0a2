//! The wasm side of the JS API (`window.Steadycart` and the npm package's
//! exports, both in `js/steadycart.js`). The JS layer checks argument
//! types and queues calls made before the snippet runs; these functions
//! apply them to the runtime. Failures come back as short tab-separated
//! strings (`code\toption\tmessage`, `field\tmessage`) that the JS layer
//! turns into typed errors: cheaper in the wasm than error objects.

use steadycart_protocol::{
    cart::{check_cart, CartItem, CartSnapshot},
    survey::{check_identify, Consent},
    EventBody,
};
use wasm_bindgen::prelude::*;

use super::runtime::{self, with_runtime, StartError};

/// `Steadycart.init(config)`: start from the app's options, given as
/// `[name, value, name, value, …]` with names as in the configuration
/// reference (`checkout`, `stall-ms-price`). Throws
/// `"config\tOPTION\tmessage"` or `"state\t\tmessage"`.
#[wasm_bindgen]
pub fn init(pairs: &JsValue, script_url: String, emit: js_sys::Function) -> Result<(), JsValue> {
    let pairs: Vec<String> = texts(pairs);
    let attrs = pairs
        .chunks_exact(2)
        .map(|kv| (["data-", &kv[0]].concat(), kv[1].clone()))
        .collect();
    runtime::start(Ok(attrs), &script_url, Some(emit)).map_err(|e| {
        JsValue::from(match e {
            StartError::Config(e) => {
                ["config\t", e.option().unwrap_or(""), "\t", &e.message()].concat()
            }
            StartError::AlreadyStarted => {
                "state\t\tSteadycart is already running on this page".to_string()
            }
            StartError::Js(e) => ["state\t\t", &super::js_error_text(&e)].concat(),
        })
    })
}

/// The items of an array (or typed array) argument as texts (non-strings
/// as empty texts). A `Vec<String>` parameter would bring wasm-bindgen's
/// own conversion of it into the wasm.
fn texts(list: &JsValue) -> Vec<String> {
    js_sys::Array::from(list)
        .iter()
        .map(|v| v.as_string().unwrap_or_default())
        .collect()
}

/// `Some(text)` as a JS string, `None` as `undefined`.
fn refusal(text: Option<String>) -> JsValue {
    text.map_or(JsValue::UNDEFINED, JsValue::from)
}

/// The snippet's name and version as reported to the collector.
#[wasm_bindgen]
pub fn version() -> String {
    crate::SDK.to_string()
}

/// `markCheckoutStarted()`.
#[wasm_bindgen]
pub fn checkout_started() {
    with_runtime(|rt| {
        if let Some(e) = rt.funnel.start_by_app() {
            rt.funnel_event(e);
        }
    });
}

/// `markCheckoutCompleted(orderId?)`: completes the attempt once; the exit
/// survey no longer shows.
#[wasm_bindgen]
pub fn checkout_completed(order_id: Option<String>) {
    with_runtime(|rt| {
        if let Some(e) = rt.funnel.complete_by_app(order_id) {
            rt.funnel_event(e);
        }
    });
}

/// `setCart(items)`, as parallel lists (empty string / NaN = absent).
/// Returns `"field\tmessage"` when the cart is refused, else `undefined`.
#[wasm_bindgen]
pub fn set_cart(
    skus: &JsValue,
    names: &JsValue,
    quantities: &JsValue,
    prices: &JsValue,
    currency: Option<String>,
) -> JsValue {
    let (skus, names) = (texts(skus), texts(names));
    let prices: Vec<f64> = js_sys::Array::from(prices)
        .iter()
        .map(|p| p.as_f64().unwrap_or(f64::NAN))
        .collect();
    let text = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    let cart = CartSnapshot {
        items: js_sys::Array::from(quantities)
            .iter()
            .enumerate()
            .map(|(i, q)| CartItem {
                sku: skus.get(i).and_then(text),
                name: names.get(i).and_then(text),
                qty: q.as_f64().unwrap_or(0.0) as u32,
                unit_price_minor: prices.get(i).filter(|p| p.is_finite()).map(|p| *p as i64),
            })
            .collect(),
        currency,
    };
    if let Err(e) = check_cart(&cart) {
        return refusal(Some([&e.field, "\t", e.message].concat()));
    }
    with_runtime(|rt| rt.record(EventBody::CartSnapshot(cart)));
    JsValue::UNDEFINED
}

/// `identify(email, {text, version})`. Returns `"field\tmessage"` when
/// refused (bad email, incomplete consent), else `undefined`.
#[wasm_bindgen]
pub fn identify(email: String, consent_text: String, consent_version: String) -> JsValue {
    let consent = Consent {
        text: consent_text,
        version: consent_version,
    };
    if let Err(e) = check_identify(&email, &consent) {
        return refusal(Some([e.field, "\t", e.message].concat()));
    }
    with_runtime(|rt| rt.record(EventBody::Identify { email, consent }));
    JsValue::UNDEFINED
}

/// `showSurvey()`: open the exit survey now. False when it is switched
/// off, paused, or a dialog is already open.
#[wasm_bindgen]
pub fn show_survey() -> bool {
    with_runtime(|rt| rt.show_survey_by_app()).unwrap_or(false)
}

/// `pause()`.
#[wasm_bindgen]
pub fn pause() {
    with_runtime(|rt| rt.pause());
}

/// `resume()`.
#[wasm_bindgen]
pub fn resume() {
    with_runtime(|rt| rt.paused = false);
}

/// `uninstall()`: the page's fetch, XHR and History API are the originals
/// again, messages and survey are gone; queued events stay in this page's
/// record for the next page load to send.
#[wasm_bindgen(js_name = remove)]
pub fn uninstall_api() {
    with_runtime(|rt| rt.close_survey("uninstall"));
    runtime::kill_runtime();
}

//! Page-level helpers: attributes of the script tag, random ids, storage and
//! page-lifetime listeners.

use wasm_bindgen::{prelude::*, JsCast};

/// The tag's attributes as (name, value) pairs.
pub fn attributes(tag: &JsValue) -> Vec<(String, String)> {
    let Some(el) = tag.dyn_ref::<web_sys::Element>() else {
        return Vec::new();
    };
    el.get_attribute_names()
        .iter()
        .filter_map(|n| n.as_string())
        .filter_map(|n| el.get_attribute(&n).map(|v| (n, v)))
        .collect()
}

/// Options from the page's `<script type="application/json"
/// id="steadycart-config">` object, as (key, text) pairs: arrays joined with
/// commas, numbers and booleans as text. `Err` when present but not a JSON
/// object.
pub fn page_config() -> Result<Vec<(String, String)>, ()> {
    let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("steadycart-config"))
    else {
        return Ok(Vec::new());
    };
    let text = el.text_content().unwrap_or_default();
    let value = js_sys::JSON::parse(&text).map_err(|_| ())?;
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err(());
    }
    let entries = js_sys::Object::entries(value.unchecked_ref());
    Ok(entries
        .iter()
        .filter_map(|pair| {
            let pair: js_sys::Array = pair.unchecked_into();
            let key = pair.get(0).as_string()?;
            let v = pair.get(1);
            let text = if js_sys::Array::is_array(&v) {
                v.unchecked_into::<js_sys::Array>().join(",").into()
            } else {
                text_of(&v)?
            };
            Some((key, text))
        })
        .collect())
}

/// The text of `field` in a JSON body value: `body` is a string (parsed
/// with the browser's `JSON.parse`) or an already parsed object. `None`
/// when absent, `null`, `false` or the body is not JSON.
pub fn json_field(body: &JsValue, field: &str) -> Option<String> {
    let value = match body.as_string() {
        Some(text) => js_sys::JSON::parse(&text).ok()?,
        None => body.clone(),
    };
    if !value.is_object() {
        return None;
    }
    let v = js_sys::Reflect::get(&value, &JsValue::from_str(field)).ok()?;
    if v.is_undefined() || v.is_null() || v == JsValue::FALSE {
        return None;
    }
    text_of(&v).or_else(|| Some(String::new()))
}

/// A JSON scalar as text: strings as they are, whole numbers in decimal,
/// booleans as `true`/`false`; anything else `None`.
fn text_of(v: &JsValue) -> Option<String> {
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(n) = v.as_f64() {
        return (n.fract() == 0.0 && n.abs() < 1e15).then(|| crate::event_json::int_text(n as i64));
    }
    v.as_bool()
        .map(|b| if b { "true" } else { "false" }.to_string())
}

/// `len` random bytes as lower-case hex, from `crypto.getRandomValues`.
pub fn random_hex(len: usize) -> String {
    let mut buf = vec![0u8; len];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut buf).is_ok());
    if !filled {
        // No Web Crypto (very old or odd embedders): ids must still differ.
        for b in &mut buf {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(len * 2);
    for b in buf {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// sessionStorage, if the page may use it (it throws in some privacy modes).
pub fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// Listen to `event` on `target` for the page's whole life. The closure is
/// deliberately leaked (`forget`): it must live as long as the page does.
pub fn listen_forever(
    target: &web_sys::EventTarget,
    event: &str,
    f: impl FnMut(web_sys::Event) + 'static,
) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    if target
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .is_ok()
    {
        closure.forget();
    }
}

/// Milliseconds since the epoch.
pub fn now() -> f64 {
    js_sys::Date::now()
}

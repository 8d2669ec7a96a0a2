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

/// `len` random bytes as lower-case hex, from `crypto.getRandomValues`.
pub fn random_hex(len: usize) -> String {
    let mut buf = vec![0u8; len];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut buf);
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

//! The thin browser shell (wasm32 only): reads the script tag, installs the
//! fetch/XHR hooks (`js/shim.js`), and feeds the pure modules with what the
//! page does. Nothing here decides anything the pure modules could.
//!
//! # Layout
//! - [`runtime`]: the snippet's state and what happens on each hook call.
//! - [`ui`]: the fallback messages in a Shadow DOM root.
//! - [`survey`]: exit-intent listeners and the exit survey dialog.
//! - [`remote`]: remote config: localStorage cache, background fetch, polling.
//! - [`transport`]: delivery to the collector (original fetch, beacon).
//! - [`store`]: this page's localStorage record and adoption of orphans.
//! - [`page`]: page-level listeners and browser helpers.
//! - [`cart`]: cart snapshots read from the cart rule's JSON responses.

mod cart;
mod page;
mod remote;
mod runtime;
mod store;
mod survey;
mod transport;
mod ui;

use wasm_bindgen::prelude::*;

/// The shell's one conversion of JavaScript exceptions into text, for the
/// single console warning the snippet allows itself.
pub(crate) fn js_error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return err.message().into();
    }
    e.as_string().unwrap_or_else(|| "unknown error".into())
}

pub(crate) fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("[steadycart] {message}")));
}

/// Entry point, called by the loader with the `<script>` tag and the
/// loader's own URL. Never throws: problems end in one console warning and
/// an untouched page.
#[wasm_bindgen]
pub fn start(tag: JsValue, script_url: String) {
    if let Err(e) = runtime::start(tag, &script_url) {
        warn(&format!("not started: {}", js_error_text(&e)));
    }
}

//! The thin browser shell (wasm32 only): reads the script tag, hands its
//! hooks to the fetch/XHR wrappers (`js/shim.js`), and feeds the pure modules with what the
//! page does. Nothing here decides anything the pure modules could.
//!
//! # Layout
//! - [`runtime`]: the snippet's state and what happens on each hook call.
//! - [`api`]: what `window.Steadycart` / the npm package's functions call.
//! - [`ui`]: the fallback messages in a Shadow DOM root.
//! - [`survey`]: exit-intent listeners and the exit survey dialog.
//! - [`remote`]: remote config: localStorage cache, background fetch, polling.
//! - [`transport`]: delivery to the collector (original fetch, beacon).
//! - [`store`]: this page's localStorage record and adoption of orphans.
//! - [`page`]: page-level listeners and browser helpers.
//! - [`cart`]: cart snapshots read from the cart rule's JSON responses.

mod api;
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
    web_sys::console::warn_1(&JsValue::from_str(&["[steadycart] ", message].concat()));
}

/// Entry point, called by the loader with the `<script>` tag, the
/// loader's own URL and the JS API's event dispatcher. Never throws:
/// problems end in one console warning and an untouched page. True when
/// the snippet runs (the JS API then forwards calls to it).
#[wasm_bindgen]
pub fn start(tag: JsValue, script_url: String, emit: Option<js_sys::Function>) -> bool {
    let attrs = page::page_config()
        .map_err(|()| crate::config::ConfigError::BadPageConfig)
        .map(|page| crate::config::merge(&page, &page::attributes(&tag)));
    match runtime::start(attrs, &script_url, emit) {
        Ok(()) => return true,
        Err(runtime::StartError::AlreadyStarted) => {}
        Err(runtime::StartError::Config(e)) => warn(
            &[
                "configuration error: ",
                &e.message(),
                "; Steadycart stays out of the way.",
            ]
            .concat(),
        ),
        Err(runtime::StartError::Js(e)) => warn(&["not started: ", &js_error_text(&e)].concat()),
    }
    false
}

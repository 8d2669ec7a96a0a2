//! The Steadycart snippet, compiled to WebAssembly and loaded by one script
//! tag. It watches the page's cart, checkout, payment and price calls (fetch
//! and XMLHttpRequest) without changing them, shows a calm fallback message
//! when they fail or stall, and reports what happened to the collector.
//!
//! Pure logic lives in modules with no browser types, unit-tested natively
//! with `cargo test`; [`shell`] (wasm32 only) wires it to the page.
//!
//! # Layout
//! - [`config`]: configuration from the script tag's `data-*` attributes.
//! - [`rules`]: endpoint rules: which calls have which role.
//! - [`classify`]: the outcome of a watched call.
//! - [`session`]: session ids and inactivity timeout.
//! - [`sku`]: SKU extraction from paths and JSON request bodies.
//! - [`tiny_regex`]: the small matcher behind `re:` endpoint rules.
//! - [`funnel`]: funnel events (cart activity, checkout started/completed).
//! - [`fallback`]: which fallback message is visible, without flapping.
//! - [`remote`]: the collector's remote config (texts per locale, banner, kill switch).
//! - [`outbox`]: batching of events for delivery.
//! - [`event_json`]: events as JSON text, written without a serializer.
//! - [`exit_intent`]: exit-intent detection (pointer, scroll, back, return, idle).
//! - [`survey_policy`]: when the exit survey may show; the trouble context.
//! - [`survey_form`]: survey options, localized texts, answer building.
//! - [`delivery`]: delivery settings, sampling and the per-session cap.
//! - [`persist`]: the localStorage record of undelivered events.
//! - [`stale`]: stale-if-error for opted-in price calls (kept copies, TTL, budget).
//! - `shell` (wasm32 only): the thin web-sys layer: hooks, UI, transport.
//! - `js/steadycart.js`: the loader and JS API, and the fetch/XHR wrappers
//!   themselves (installed at script start, before the wasm loads; guarded so
//!   an internal error can never reach the page); `js/shim.js`: the wasm's
//!   handle on them (attach, uninstall, stale-if-error).
#![deny(missing_docs)]

pub mod classify;
pub mod config;
pub mod delivery;
pub mod event_json;
pub mod exit_intent;
pub mod fallback;
pub mod funnel;
pub mod outbox;
pub mod persist;
pub mod remote;
pub mod rules;
pub mod session;
pub mod sku;
pub mod stale;
pub mod survey_form;
pub mod survey_policy;
pub mod tiny_regex;

#[cfg(target_arch = "wasm32")]
mod shell;

/// Talc instead of std's default dlmalloc: a coalescing allocator made
/// for wasm (a long-lived page frees and reuses memory), 1.9 KB gzip
/// smaller in the snippet with realloc-in-place off (realloc then moves;
/// the snippet's buffers are small).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The snippet's name and version as reported to the collector.
pub const SDK: &str = concat!("steadycart-js/", env!("CARGO_PKG_VERSION"));

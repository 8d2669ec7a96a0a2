//! Hostile-host pages for the fallback messages (issue 6): the store's cart
//! page under a strict Content-Security-Policy (no inline scripts or styles;
//! scripts only from the store and the collector, plus
//! `'wasm-unsafe-eval'`), and under CSS that tries to hide or cover
//! everything (`* { display: none !important }`, a full-screen overlay at the
//! largest `z-index`, our hosts targeted by name). The snippet's messages
//! and its exit survey must still show on both.
//!
//! - `GET /lab/strict-csp`
//! - `GET /lab/hostile-css` (+ `/assets/hostile.css`)

use axum::{
    extract::State,
    http::header,
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};

use crate::{pages::embed_tag, StoreState};

const HOSTILE_CSS: &str = "* { display: none !important; }
.overlay { display: block !important; position: fixed; inset: 0; z-index: 2147483647; background: #222; }
steadycart-messages, steadycart-survey { display: none !important; visibility: hidden !important; opacity: 0 !important; }";

/// Routes of this module.
pub fn router() -> Router<StoreState> {
    Router::new()
        .route("/lab/strict-csp", get(strict_csp))
        .route("/lab/hostile-css", get(hostile_css))
        .route(
            "/assets/hostile.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], HOSTILE_CSS) }),
        )
}

fn page(state: &StoreState, extra_head: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lab · Voltline Electronics</title>
<link rel="stylesheet" href="/assets/store.css">{extra_head}
{tag}
<script type="module" src="/assets/store.js"></script>
</head><body><main><h1>Cart</h1><ul id="cart-lines"></ul><p id="cart-total"></p>
<button id="checkout" type="button">Checkout</button><p id="status" role="status"></p></main>{body}</body></html>"#,
        tag = embed_tag(&state.config.collector_url, &state.config.site_key),
    )
}

async fn strict_csp(State(s): State<StoreState>) -> Response {
    let c = s.config.collector_url.trim_end_matches('/');
    let csp = format!(
        "default-src 'self'; script-src 'self' {c} 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' {c}; img-src 'self'; base-uri 'none'; object-src 'none'"
    );
    (
        [(header::CONTENT_SECURITY_POLICY, csp)],
        Html(page(&s, "", "")),
    )
        .into_response()
}

async fn hostile_css(State(s): State<StoreState>) -> Html<String> {
    Html(page(
        &s,
        r#"<link rel="stylesheet" href="/assets/hostile.css">"#,
        r#"<div class="overlay"></div>"#,
    ))
}

//! The demo store as a single-page app (`/spa`, `/spa/cart`,
//! `/spa/order/{id}`: one HTML shell, client-side routing with the History
//! API). It embeds Steadycart the way an app without the script tag does —
//! `init(config)` from the module, a `trouble` hook for its own notice —
//! in the handful of lines the SPA guide shows (`docs/guides/react.md`).

use axum::{extract::State, http::header, response::Html, routing::get, Router};

use crate::StoreState;

/// A JSON string literal safe inside `<script>` (no `</script>` way out).
fn js_string(s: &str) -> String {
    serde_json::Value::from(s)
        .to_string()
        .replace('<', "\\u003c")
}

/// Routes of this module.
pub fn router() -> Router<StoreState> {
    Router::new()
        .route("/spa", get(shell))
        .route("/spa/{*rest}", get(shell))
        .route(
            "/assets/spa.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../assets/spa.js"),
                )
            }),
        )
}

async fn shell(State(s): State<StoreState>) -> Html<String> {
    let c = s.config.collector_url.trim_end_matches('/');
    let (src, c, key) = (
        crate::pages::escape(&format!("{c}/snippet/steadycart.js")).into_owned(),
        js_string(c),
        js_string(&s.config.site_key),
    );
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Voltline Electronics (single-page)</title>
<link rel="stylesheet" href="/assets/store.css">
<script src="{src}"></script>
<script>
{{
  const {{ init, on }} = window.Steadycart;
  init({{ site: {key}, collector: {c}, checkout: "POST /api/checkout", payment: "POST /api/payment",
         cart: "/api/cart", price: "GET /api/price/*", confirmation: "/spa/order/" }});
  on("trouble", (t) => (document.getElementById("notice").textContent = `Our ${{t.role}} service is slow right now.`));
  on("recovered", () => (document.getElementById("notice").textContent = ""));
}}
</script>
<script type="module" src="/assets/spa.js"></script>
</head><body>
<header><a href="/spa" data-route>⚡ Voltline</a> <a href="/spa/cart" data-route id="cart-link">Cart</a></header>
<p id="notice" role="status"></p>
<main id="view"></main>
<p id="status" role="status"></p>
</body></html>"#
    ))
}

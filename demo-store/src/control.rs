//! Fault control, protected by the control token (header `x-control-token`)
//! so shoppers can't reach it when the demo is exposed:
//!
//! - `GET /control/faults` → `{"now_ms", "faults": {endpoint: [rule…]}}`.
//! - `PUT /control/faults/{endpoint}` with a rule or a list of rules (see
//!   [`crate::faults`]) → 204; `{"mode":"none"}` clears the endpoint.
//! - `DELETE /control/faults` → clears every endpoint.
//! - `GET /control` → a small page (no data, no snippet) that asks for the
//!   token and drives the API above from `/control/control.js`.
//!
//! A rule: `{"mode":"error","status":503,"rate":0.5,"start_in_ms":10000,
//! "for_ms":60000}` (or absolute `from_ms`/`until_ms`); modes `error`,
//! `delay` (`ms`), `hang`, `reset`, `malformed_json`, `version_mismatch`.

use axum::{
    extract::{rejection::JsonRejection, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{
    faults::{Endpoint, RulesSpec},
    StoreState,
};

/// Routes of this module.
pub fn router() -> Router<StoreState> {
    Router::new()
        .route("/control", get(page))
        .route("/control/control.js", get(script))
        .route("/control/faults", get(list).delete(clear))
        .route("/control/faults/{endpoint}", axum::routing::put(set))
}

fn authorized(state: &StoreState, headers: &HeaderMap) -> bool {
    let given = headers
        .get("x-control-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let want = state.config.control_token.as_bytes();
    !want.is_empty() && given.ct_eq(want).into()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "control token required" })),
    )
        .into_response()
}

async fn list(State(s): State<StoreState>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let now = crate::now_ms();
    Json(json!({ "now_ms": now, "faults": s.faults.all(now) })).into_response()
}

async fn clear(State(s): State<StoreState>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    for e in Endpoint::ALL {
        s.faults.set_rules(e, Vec::new());
    }
    tracing::info!("faults cleared");
    StatusCode::NO_CONTENT.into_response()
}

async fn set(
    State(s): State<StoreState>,
    Path(endpoint): Path<Endpoint>,
    headers: HeaderMap,
    body: Result<Json<RulesSpec>, JsonRejection>,
) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let bad = |field: &str, message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": message, "field": field })),
        )
            .into_response()
    };
    let spec = match body {
        Ok(Json(spec)) => spec,
        Err(e) => return bad("mode", e.body_text()),
    };
    match spec.resolve(crate::now_ms()) {
        Ok(rules) => {
            tracing::info!(?endpoint, ?rules, "faults set");
            s.faults.set_rules(endpoint, rules);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(e.field, e.message.to_string()),
    }
}

fn private(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-robots-tag"), "noindex"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    private("text/html; charset=utf-8", CONTROL_HTML)
}

async fn script() -> Response {
    private(
        "text/javascript; charset=utf-8",
        include_str!("../assets/control.js"),
    )
}

const CONTROL_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fault control · Voltline demo</title>
<link rel="stylesheet" href="/assets/store.css">
<script type="module" src="/control/control.js"></script></head>
<body><header><span>⚡ Voltline · fault control</span></header><main>
<form id="auth" class="card"><label>Control token <input id="token" type="password" autocomplete="off" required></label>
<button type="submit">Unlock</button></form>
<form id="fault" class="card" hidden>
<label>Endpoint <select id="endpoint"><option>checkout</option><option>payment</option><option>cart</option><option>price</option></select></label>
<label>Mode <select id="mode"><option value="error">error</option><option value="delay">delay</option><option value="hang">hang</option>
<option value="reset">connection reset</option><option value="malformed_json">malformed JSON</option><option value="version_mismatch">version mismatch (400)</option><option value="none">none (clear)</option></select></label>
<label>Status <input id="status" type="number" value="503" min="400" max="599"></label>
<label>Latency ms <input id="ms" type="number" value="4000" min="0" max="120000"></label>
<label>Rate <input id="rate" type="number" value="1" min="0" max="1" step="0.05"></label>
<label>Start in s <input id="start" type="number" value="0" min="0"></label>
<label>For s (0 = until cleared) <input id="for" type="number" value="0" min="0"></label>
<button type="submit">Apply</button> <button type="button" id="clear">Clear all</button></form>
<pre id="state" class="card" hidden></pre><p id="status-line" role="status"></p>
</main></body></html>"#;

//! Per-site detector tuning (admin bearer token):
//!
//! - `GET /v1/admin/sites/{site}/detector` →
//!   `{"defaults": {…}, "overrides": {…}, "effective": {…}}`: the
//!   collector-wide parameters, the site's overrides and what the engine
//!   uses for the site (from the next bucket on).
//! - `PUT …/detector` with the overrides, e.g. `{"min_trials": 8,
//!   "warmup_buckets": 4}` (every field of [`DetectorOverrides`] optional;
//!   `{}` returns to the defaults) → the same document. Unknown fields and
//!   out-of-range values answer 400 naming the field.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
    routing::get,
    Json, Router,
};
use serde_json::{json, Value};

use super::{admin::authorize, error::ApiError};
use crate::{detect::overrides::DetectorOverrides, state::AppState};

/// Largest body accepted.
const MAX_BODY: usize = 8 * 1024;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/admin/sites/{site}/detector",
        get(get_params).put(put_params),
    )
}

fn document(state: &AppState, overrides: &DetectorOverrides) -> Json<Value> {
    let defaults = state.config.signals.detector;
    Json(json!({
        "defaults": defaults,
        "overrides": overrides,
        "effective": overrides.apply(&defaults),
    }))
}

async fn get_params(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let overrides = state.db.detector_overrides(site.id).await?;
    Ok(document(&state, &overrides))
}

async fn put_params(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge(MAX_BODY));
    }
    let overrides: DetectorOverrides = serde_json::from_slice(&body).map_err(|e| {
        // serde names an unknown field in backticks; point at it.
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.starts_with("unknown field"))
            .unwrap_or("body")
            .to_string();
        ApiError::field(field, format!("invalid detector overrides: {text}"))
    })?;
    overrides
        .validate()
        .map_err(|e| ApiError::field(e.field, e.to_string()))?;
    state
        .db
        .put_detector_overrides(site.id, &overrides, crate::now_ms())
        .await?;
    tracing::info!(site = %site_key, ?overrides, "detector overrides set");
    Ok(document(&state, &overrides))
}

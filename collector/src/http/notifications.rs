//! `GET /v1/admin/sites/{site}/notifications?state=dead&limit=100`: the
//! site's notification deliveries (admin bearer token), newest first, with
//! their state — pending, delivered or dead (given up; a dead letter) —,
//! attempts and last error. Dead letters are also counted in the site's
//! `metrics` (`steadycart_notifications{state="dead"}`).

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::json;

use super::{admin::authorize, error::ApiError};
use crate::{
    notify::deliveries::{self, DeliveryState},
    state::AppState,
};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/sites/{site}/notifications", get(list))
}

/// Query of `GET …/notifications`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `pending`, `delivered` or `dead`; default all.
    state: Option<String>,
    /// 1 to 1000; default 100.
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let filter = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::field("state", "must be pending, delivered or dead"))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 1000"));
    }
    let list = deliveries::list(&state.db, site.id, filter, limit).await?;
    let counts = deliveries::counts(&state.db, site.id).await?;
    let counts: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    Ok(Json(json!({ "notifications": list, "counts": counts })))
}

//! Admin API under `/v1/admin/`, authenticated per site with
//! `Authorization: Bearer ADMIN_TOKEN`. A token opens only its own site.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use steadycart_protocol::api::EventPage;

use super::error::ApiError;
use crate::{keys, state::AppState, store::sites::Site};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/sites/{site}/events", get(list_events))
}

/// The token of an `Authorization: Bearer TOKEN` header. The scheme is
/// case-insensitive (RFC 9110 §11.1: `bearer`, `BEARER` work too).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The site `site_key` if the request's bearer token is its admin token (or
/// the one it replaced, during a rotation's overlap window). Unknown site
/// and wrong token answer alike, so keys can't be probed.
pub async fn authorize(
    state: &AppState,
    site_key: &str,
    headers: &HeaderMap,
) -> Result<Site, ApiError> {
    let token = bearer_token(headers).ok_or(ApiError::Unauthorized("missing bearer token"))?;
    const DENIED: ApiError = ApiError::Unauthorized("admin token not valid for this site");
    if !keys::is_plausible_site_key(site_key) {
        return Err(DENIED);
    }
    let site = state.db.site_by_key(site_key).await?.ok_or(DENIED)?;
    if site.token_opens(token.trim(), crate::now_ms()) {
        Ok(site)
    } else {
        Err(DENIED)
    }
}

/// Paging of `GET …/events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Cursor from a previous page's `next`.
    #[serde(default)]
    after: i64,
    /// Page size, 1 to 1000. Default 100.
    limit: Option<i64>,
}

async fn list_events(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Json<EventPage>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 1000"));
    }
    let (events, next) = state.db.events_page(site.id, q.after, limit).await?;
    Ok(Json(EventPage { events, next }))
}

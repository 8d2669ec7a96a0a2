//! `GET /v1/admin/sites/{site}/drops` (bearer admin token): how many events
//! the site's snippets report they dropped before delivery.

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    routing::get,
    Json, Router,
};

use super::{admin::authorize, error::ApiError};
use crate::{state::AppState, store::drops::DropTotals};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/sites/{site}/drops", get(totals))
}

async fn totals(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DropTotals>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    Ok(Json(state.db.client_drop_totals(site.id).await?))
}

//! `GET /v1/admin/sites/{site}/survey/answers?after=&limit=&with_email=` —
//! exit-survey answers with their consent (admin bearer token), oldest
//! first, cursor-paged by `id`. `with_email=true` lists only answers that
//! carry a consented email (what a recovery mailing needs).

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::{admin::authorize, error::ApiError};
use crate::{state::AppState, store::survey::StoredAnswer};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/sites/{site}/survey/answers", get(list_answers))
}

/// Query of `GET …/survey/answers`.
#[derive(Debug, Deserialize)]
pub struct AnswersQuery {
    /// Cursor from a previous page's `next`. Default 0.
    #[serde(default)]
    after: i64,
    /// Page size, 1 to 1000. Default 100.
    limit: Option<i64>,
    /// Only answers with a consented email. Default false.
    #[serde(default)]
    with_email: bool,
}

/// A page of answers.
#[derive(Debug, Serialize)]
pub struct AnswersPage {
    /// The answers.
    pub answers: Vec<StoredAnswer>,
    /// Cursor for the next page, when this one was full.
    pub next: Option<i64>,
}

async fn list_answers(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<AnswersQuery>,
    headers: HeaderMap,
) -> Result<Json<AnswersPage>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 1000"));
    }
    let (answers, next) = state
        .db
        .survey_answers_page(site.id, q.after, limit, q.with_email)
        .await?;
    Ok(Json(AnswersPage { answers, next }))
}

//! Cart recovery admin API (admin bearer token), under
//! `/v1/admin/sites/{site}/recovery/`:
//!
//! - `GET contacts?after=&limit=&since=` — the marketing export as JSON,
//!   oldest first, cursor `next`; `since` (ms) keeps contacts changed since.
//! - `GET contacts.csv?after=&limit=&since=` — the same as CSV (header row
//!   on every page, formula cells neutralised); the next page's cursor is in
//!   `X-Next-Cursor` and a `Link: <…>; rel="next"` header.
//! - `POST erase` with `{"email":"…"}` — erases every trace of the address
//!   (contact, queued and sent emails with their `.eml` files, the email on
//!   survey answers and in the stored events). The email travels in the
//!   body, never in a URL (URLs end up in access logs).
//! - `GET settings`, `PUT settings` — the site's recovery settings
//!   ([`crate::recovery::settings::SiteSettings`]).
//!
//! Unsubscribed contacts are deleted at once, so they never appear.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::{admin::authorize, error::ApiError};
use crate::{
    recovery::{export_csv, mailer, settings::SiteSettings},
    state::AppState,
    store::recovery::{Erased, ExportContact},
};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/sites/{site}/recovery/contacts", get(export_json))
        .route(
            "/v1/admin/sites/{site}/recovery/contacts.csv",
            get(export_csv_page),
        )
        .route("/v1/admin/sites/{site}/recovery/erase", post(erase))
        .route(
            "/v1/admin/sites/{site}/recovery/settings",
            get(get_settings).put(put_settings),
        )
}

/// Query of the export routes.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    /// Cursor from a previous page. Default 0.
    #[serde(default)]
    after: i64,
    /// Page size, 1 to 1000. Default 500.
    limit: Option<i64>,
    /// Only contacts changed at or after this time (ms). Default 0.
    #[serde(default)]
    since: i64,
}

/// A page of the JSON export.
#[derive(Debug, Serialize)]
pub struct ContactsPage {
    /// The contacts.
    pub contacts: Vec<ExportContact>,
    /// Cursor of the next page, when this one was full.
    pub next: Option<i64>,
}

async fn page(
    state: &AppState,
    site_key: &str,
    headers: &HeaderMap,
    q: &ExportQuery,
) -> Result<(Vec<ExportContact>, Option<i64>), ApiError> {
    let site = authorize(state, site_key, headers).await?;
    let limit = q.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 1000"));
    }
    Ok(state
        .db
        .recovery_export_page(site.id, q.after, q.since, limit)
        .await?)
}

async fn export_json(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> Result<Json<ContactsPage>, ApiError> {
    let (contacts, next) = page(&state, &site_key, &headers, &q).await?;
    Ok(Json(ContactsPage { contacts, next }))
}

async fn export_csv_page(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (contacts, next) = page(&state, &site_key, &headers, &q).await?;
    let rows: Vec<_> = contacts.iter().map(ExportContact::csv_row).collect();
    let body = export_csv::write(&rows, true).map_err(|e| ApiError::Internal(e.into()))?;
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"recovery-contacts.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    if let Some(next) = next {
        let h = res.headers_mut();
        h.insert("x-next-cursor", HeaderValue::from(next));
        let link = format!(
            "</v1/admin/sites/{site_key}/recovery/contacts.csv?after={next}&limit={}&since={}>; rel=\"next\"",
            q.limit.unwrap_or(500),
            q.since
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    Ok(res)
}

/// Body of `POST …/recovery/erase`.
#[derive(Debug, Deserialize)]
pub struct EraseRequest {
    /// The address to erase.
    email: String,
}

async fn erase(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Erased>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let req: EraseRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::field("email", "send {\"email\": \"…\"}"))?;
    if req.email.trim().is_empty() || req.email.len() > 254 {
        return Err(ApiError::field("email", "must be 1-254 characters"));
    }
    let erased = state.db.recovery_erase(site.id, &req.email).await?;
    let dir = mailer::mail_dir(&state.config.recovery, &state.config.data_dir);
    for id in &erased.outbox_ids {
        match tokio::fs::remove_file(mailer::eml_path(&dir, site.id, *id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(site_id = site.id, outbox = id, error = %e.kind(), "could not delete an .eml file")
            }
        }
    }
    tracing::info!(
        site_id = site.id,
        contacts = erased.contacts,
        answers = erased.answers,
        "recovery contact erased"
    );
    Ok(Json(erased))
}

async fn get_settings(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    match state.db.recovery_settings(site.id).await? {
        Some(json) => Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response()),
        None => Err(ApiError::NotFound),
    }
}

async fn put_settings(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let settings: SiteSettings = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::field(
            if path == "." { "body".into() } else { path },
            e.into_inner().to_string(),
        )
    })?;
    settings
        .check()
        .map_err(|e| ApiError::field(e.field, e.message))?;
    let json = serde_json::to_string(&settings).map_err(|e| ApiError::Internal(e.into()))?;
    state
        .db
        .put_recovery_settings(site.id, &json, crate::now_ms())
        .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json,
    )
        .into_response())
}

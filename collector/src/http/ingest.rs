//! `POST /v1/ingest?key=SITE_KEY`: event batches from the snippet.
//!
//! Order of checks, cheapest and most discriminating first: the client IP's
//! token bucket (429, before anything touches the database), site key (401,
//! before the body is read so unknown keys cost nothing), origin (403), the
//! site's token bucket (429, spent only by requests that passed key and
//! origin), content type (415), body size on the stream (413), JSON and
//! field validation (400), writer queue (503 + `Retry-After`). The site key is in
//! the query string so `navigator.sendBeacon` (which cannot set headers) works;
//! bodies may be `application/json` or CORS-simple `text/plain`.

use std::{sync::Arc, time::Instant};

use axum::{
    body::{to_bytes, Body},
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::Deserialize;
use steadycart_protocol::api::IngestAccepted;

use super::{client_ip::ClientIp, error::ApiError};
use crate::{
    ingest::{rate_limit::Limited, validate, writer::WriteError},
    keys,
    metrics::EventLabels,
    state::AppState,
    store::sites::Site,
};

/// Routes of this module.
pub fn router(_state: &AppState) -> Router<AppState> {
    Router::new().route("/v1/ingest", post(ingest).options(preflight))
}

/// `?key=` on ingest routes.
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// The request's origin: `Origin`, else the origin of `Referer`.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return Some(origin.to_str().unwrap_or("invalid").to_string());
    }
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let url = url::Url::parse(referer).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The site of `?key=`, from [`crate::ingest::site_cache`] when it was read
/// less than `[ingest] site_cache_ttl` ago, else from the database.
async fn site_for(state: &AppState, query: &KeyQuery) -> Result<Arc<Site>, ApiError> {
    let key = query
        .key
        .as_deref()
        .ok_or(ApiError::Unauthorized("missing site key (?key=)"))?;
    if !keys::is_plausible_site_key(key) {
        return Err(ApiError::Unauthorized("unknown site key"));
    }
    if let Some(site) = state.sites.get(key, Instant::now()) {
        return Ok(site);
    }
    let read_at = Instant::now();
    let site = Arc::new(
        state
            .db
            .site_by_key(key)
            .await?
            .ok_or(ApiError::Unauthorized("unknown site key"))?,
    );
    state.sites.put(site.clone(), read_at);
    Ok(site)
}

/// Check the origin against the site. `Ok(Some(origin))` for an allowed
/// browser origin, `Ok(None)` for a request with no origin at all (not a
/// browser; such senders could forge any origin anyway).
fn check_origin(site: &Site, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
    match request_origin(headers) {
        None => Ok(None),
        Some(origin) if site.allows_origin(&origin) => Ok(HeaderValue::from_str(&origin).ok()),
        Some(_) => Err(ApiError::Forbidden("origin not allowed for this site")),
    }
}

fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

fn content_type_ok(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    matches!(essence, "application/json" | "text/plain")
}

impl From<Limited> for ApiError {
    fn from(l: Limited) -> Self {
        ApiError::TooManyRequests(l.retry_after)
    }
}

/// The `reason` label of a refused ingest request.
fn reason(e: &ApiError) -> &'static str {
    match e {
        ApiError::BadRequest { .. } => "invalid",
        ApiError::Unauthorized(_) => "unknown_key",
        ApiError::Forbidden(_) => "origin",
        ApiError::NotFound => "not_found",
        ApiError::PayloadTooLarge(_) => "too_large",
        ApiError::RequestTimeout => "body_timeout",
        ApiError::UnsupportedMediaType => "content_type",
        ApiError::TooManyRequests(_) => "rate_limited",
        ApiError::Unavailable(_) => "unavailable",
        ApiError::Internal(_) => "internal",
    }
}

fn limited(state: &AppState, l: Limited) -> ApiError {
    state.metrics.reject(l.scope.as_str());
    l.into()
}

async fn ingest(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if let Err(l) = state.limits.check_ip(ip) {
        // Before the site is known: echo the origin so the page can read
        // `Retry-After` (the answer carries nothing but the refusal).
        let origin = request_origin(&headers).and_then(|o| HeaderValue::from_str(&o).ok());
        return Ok(with_cors(limited(&state, l).into_response(), origin));
    }
    let site = site_for(&state, &query).await.inspect_err(|e| {
        state.metrics.reject(reason(e));
    })?;
    let origin = check_origin(&site, &headers).inspect_err(|e| {
        state.metrics.reject(reason(e));
    })?;
    let result = match state.limits.check_site(site.id) {
        Ok(()) => accept(&state, &site, &headers, body)
            .await
            .inspect_err(|e| state.metrics.reject(reason(e))),
        Err(l) => Err(limited(&state, l)),
    };
    // CORS headers on refusals too, so the page can read `Retry-After`.
    Ok(with_cors(result.into_response(), origin))
}

async fn accept(
    state: &AppState,
    site: &Site,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<IngestAccepted>, ApiError> {
    if !content_type_ok(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = state.config.ingest.max_body_bytes;
    // A declared length over the limit is refused at once, without waiting
    // for a body we would not read anyway.
    if headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
    {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    // Enforced on the stream: a lying or absent Content-Length changes nothing.
    let bytes = to_bytes(body, limit).await.map_err(|e| {
        if super::deadline::is_deadline(&e) {
            ApiError::RequestTimeout
        } else {
            ApiError::PayloadTooLarge(limit)
        }
    })?;
    let received_at = crate::now_ms();
    let batch = validate::parse(&bytes).map_err(|e| ApiError::field(e.field, e.message))?;
    let valid = validate::validate(batch, site.id, received_at, &state.config.ingest)
        .map_err(|e| ApiError::field(e.field, e.message))?;
    let accepted = valid.rows.len() as u32;
    let drop_report = valid
        .rows
        .first()
        .filter(|_| valid.dropped_by_client > 0)
        .map(|first| first.event_id.clone());
    // The shopper's language, for a recovery email (sessions that answered
    // the survey or were identified).
    let language = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::recovery::template::preferred_language);
    let mut language_sessions: Vec<String> = match &language {
        Some(_) => valid
            .rows
            .iter()
            .filter(|r| matches!(r.kind, "survey_answered" | "identify"))
            .map(|r| r.session_id.clone())
            .collect(),
        None => Vec::new(),
    };
    language_sessions.sort();
    language_sessions.dedup();
    let mut kinds: Vec<(&'static str, u64)> = Vec::new();
    for row in &valid.rows {
        match kinds.iter_mut().find(|(k, _)| *k == row.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((row.kind, 1)),
        }
    }
    state.ingest.write(valid.rows).await.map_err(|e| match e {
        // `[ingest] busy_retry_after`: how long the snippet waits before
        // sending again while the writer is behind.
        WriteError::QueueFull | WriteError::TimedOut => {
            ApiError::Unavailable(state.config.ingest.busy_retry_after)
        }
        other => other.into(),
    })?;
    for (kind, n) in kinds {
        state
            .metrics
            .events_accepted
            .get_or_create(&EventLabels {
                site: site.site_key.clone(),
                kind,
            })
            .inc_by(n);
    }
    state
        .metrics
        .events_duplicate
        .inc_by(u64::from(valid.duplicates));
    if let Some(language) = &language {
        for session in &language_sessions {
            // Best effort: without it the email is in the site's language.
            if let Err(e) = state
                .db
                .record_session_locale(site.id, session, language, received_at)
                .await
            {
                tracing::warn!(error = %e, "recording a session's language failed");
            }
        }
    }
    if let Some(batch_key) = drop_report {
        // After the events are committed: a failure here answers 5xx, the
        // snippet resends, and the batch key makes the report count once.
        state
            .db
            .record_client_drops(site.id, &batch_key, valid.dropped_by_client, received_at)
            .await?;
    }
    Ok(Json(IngestAccepted {
        accepted,
        duplicates: valid.duplicates,
    }))
}

async fn preflight(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.limits.check_ip(ip).map_err(|l| limited(&state, l))?;
    let site = site_for(&state, &query).await?;
    let origin = check_origin(&site, &headers)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(Method::POST.as_str()),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Ok(with_cors(response, origin))
}

//! `GET /metrics` (Prometheus / OpenMetrics text of [`crate::metrics`]) and
//! the middleware that times every request by route template.
//!
//! When `[server] metrics_token` is set, scrapes must send it as
//! `Authorization: Bearer …` (compared in constant time); otherwise the
//! endpoint is open, like `/healthz` — publish it only on a private network.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(expected) = &state.config.metrics_token {
        let given = super::admin::bearer_token(&headers).unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(ApiError::Unauthorized("missing or wrong metrics token"));
        }
    }
    let m = &state.metrics;
    m.queue_depth.set(state.ingest.depth() as i64);
    m.queue_capacity
        .set(state.config.ingest.queue_capacity as i64);
    m.database_up.set(i64::from(state.db.ping().await.is_ok()));
    if let Ok((queued, held)) = state.db.recovery_queue_counts().await {
        m.recovery_queued.set(queued);
        m.recovery_held.set(held);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        m.encode(),
    )
        .into_response())
}

/// Time each request and record it under its route template (never the raw
/// path: clients choose paths, and labels must stay few).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Both clones are cheap (a standard method is inline, the matched path
    // an `Arc`): the label's one allocation happens in `observe_request`.
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    state.metrics.observe_request(
        &method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

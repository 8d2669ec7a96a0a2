//! `/healthz` (the process answers) and `/readyz` (database reachable and the
//! writer keeping up).

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db_ok = state.db.ping().await.is_ok();
    let depth = state.ingest.depth();
    let keeping_up = depth < state.config.ingest.queue_capacity * 9 / 10;
    let status = if db_ok && keeping_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "database": db_ok, "queue_depth": depth, "keeping_up": keeping_up })),
    )
}

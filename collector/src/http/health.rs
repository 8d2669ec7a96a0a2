//! `/healthz` (the process answers) and `/readyz` (database reachable and the
//! writer keeping up). `/readyz` also reports the recovery emails held by an
//! SMTP configuration fault; they do not make the instance unready (ingest
//! works), but an operator looking here sees the fault.

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
    let held = if db_ok {
        state.db.recovery_queue_counts().await.map_or(0, |(_, h)| h)
    } else {
        0
    };
    let depth = state.ingest.depth();
    let keeping_up = depth < state.config.ingest.queue_capacity * 9 / 10;
    let status = if db_ok && keeping_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            json!({ "database": db_ok, "queue_depth": depth, "keeping_up": keeping_up,
                     "recovery_emails_held": held }),
        ),
    )
}

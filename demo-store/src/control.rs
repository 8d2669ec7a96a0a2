//! Fault control API, protected by the control token (header
//! `x-control-token`) so shoppers can't reach it when the demo is exposed.
//!
//! - `GET /control/faults` → the faults in force.
//! - `PUT /control/faults/{endpoint}` with a [`Fault`] body → set one.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, put},
    Json, Router,
};
use subtle::ConstantTimeEq;

use crate::{
    faults::{Endpoint, Fault},
    StoreState,
};

/// Routes of this module.
pub fn router() -> Router<StoreState> {
    Router::new()
        .route("/control/faults", get(list))
        .route("/control/faults/{endpoint}", put(set))
}

fn authorized(state: &StoreState, headers: &HeaderMap) -> bool {
    let given = headers
        .get("x-control-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let want = state.config.control_token.as_bytes();
    !want.is_empty() && given.ct_eq(want).into()
}

async fn list(State(s): State<StoreState>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(s.faults.all()).into_response()
}

async fn set(
    State(s): State<StoreState>,
    Path(endpoint): Path<Endpoint>,
    headers: HeaderMap,
    Json(fault): Json<Fault>,
) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    tracing::info!(?endpoint, ?fault, "fault set");
    s.faults.set(endpoint, fault);
    StatusCode::NO_CONTENT.into_response()
}

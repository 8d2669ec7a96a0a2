//! The HTTP surface: [`app`] builds the router from one module per resource.
//!
//! # Layout
//! - [`error`]: the one HTTP error type and its JSON body.
//! - [`ingest`]: `POST /v1/ingest` and its CORS preflight.
//! - [`admin`]: bearer-token admin API under `/v1/admin/`.
//! - [`drops`]: client-side drop totals (admin).
//! - [`incidents`]: signals series, incidents, notifiers, Prometheus gauges (admin).
//! - [`notifications`]: notification deliveries and dead letters (admin).
//! - [`incident_view`]: the server-rendered incident page (admin).
//! - [`detector`]: per-site detector tuning (admin).
//! - [`survey`]: exit-survey answers and consent (admin).
//! - [`recovery`]: recovery contacts export, erasure, settings (admin).
//! - [`unsubscribe`]: public unsubscribe and recovery links from emails.
//! - [`remote_config`]: public `GET /v1/config` and the admin crisis switches.
//! - [`snippet`]: the built snippet files under `/snippet/`.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`deadline`]: the total request-body deadline applied to every route.
//! - [`client_ip`]: the client address (socket peer, or `X-Forwarded-For`
//!   from a trusted proxy).
//! - [`metrics`]: `GET /metrics` and the per-route latency middleware.
//! - [`openapi`]: `GET /openapi.json`, describing every route.
//! - [`csrf`]: CSRF checks for HTML forms (the incident view's login).
//! - [`security_headers`]: nosniff everywhere; CSP, frame and referrer policies on HTML.
//! - [`conn`]: the accept loop: header read timeout, head size limits, graceful shutdown.

pub mod admin;
pub mod client_ip;
pub mod conn;
pub mod csrf;
pub mod deadline;
pub mod detector;
pub mod drops;
pub mod error;
pub mod health;
pub mod incident_view;
pub mod incidents;
pub mod ingest;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod recovery;
pub mod remote_config;
pub mod security_headers;
pub mod snippet;
pub mod survey;
pub mod unsubscribe;

use axum::{middleware, Router};

use crate::state::AppState;

/// The collector's router.
pub fn app(state: AppState) -> Router {
    let snippet_dir = state.config.snippet_dir.clone();
    let body_deadline = state.config.body_deadline;
    Router::new()
        .merge(ingest::router(&state))
        .merge(admin::router())
        .merge(survey::router())
        .merge(drops::router())
        .merge(incidents::router())
        .merge(notifications::router())
        .merge(incident_view::router())
        .merge(detector::router())
        .merge(health::router())
        .merge(remote_config::router())
        .merge(recovery::router())
        .merge(unsubscribe::router())
        .merge(snippet::router(&snippet_dir))
        .merge(metrics::router())
        .merge(openapi::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            body_deadline,
            deadline::limit_body,
        ))
        .layer(middleware::from_fn(security_headers::add))
}

//! The Steadycart demo store: a small electronics shop whose pages embed the
//! snippet with one script tag, exactly as a customer would, and whose
//! cart/checkout/payment/price APIs can be made to fail on purpose.
//!
//! # Layout
//! - [`catalog`]: the products and their prices.
//! - [`faults`]: fault rules per endpoint with rates and schedules (pure).
//! - [`api`]: the storefront's JSON APIs, which obey the faults.
//! - [`reset`]: a listener whose connections handlers can reset (RST).
//! - [`control`]: the token-protected fault control API and page.
//! - [`pages`]: server-rendered HTML with the embed tag, and static assets.
//! - [`lab`]: hostile-host pages (strict CSP, hostile CSS) for the messages.
//! - [`spa`]: the store as a single-page app using the JS API (`init`).

pub mod api;
pub mod catalog;
pub mod control;
pub mod faults;
pub mod lab;
pub mod pages;
pub mod reset;
pub mod spa;

use std::{future::Future, sync::Arc};

use axum::Router;
use tokio::net::TcpListener;

/// Demo store configuration.
#[derive(Clone)]
pub struct StoreConfig {
    /// Collector base URL the snippet reports to (`http://127.0.0.1:7070`).
    pub collector_url: String,
    /// Public site key for `data-site`.
    pub site_key: String,
    /// Secret for the fault control API (`x-control-token` header).
    pub control_token: String,
    /// Extra attributes for the embed tag, e.g. ` data-flush-ms="300"`
    /// (tests tune delivery options with it). Empty by default.
    pub snippet_attrs: String,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("collector_url", &self.collector_url)
            .field("site_key", &self.site_key)
            .field("control_token", &"[redacted]")
            .finish()
    }
}

/// Shared state: configuration and the fault board.
#[derive(Debug, Clone)]
pub struct StoreState {
    /// Configuration.
    pub config: Arc<StoreConfig>,
    /// Faults in force.
    pub faults: faults::FaultBoard,
}

/// The store's router.
pub fn app(config: StoreConfig) -> (Router, StoreState) {
    let state = StoreState {
        config: Arc::new(config),
        faults: faults::FaultBoard::default(),
    };
    let router = Router::new()
        .merge(pages::router())
        .merge(lab::router())
        .merge(spa::router())
        .merge(api::router())
        .merge(control::router())
        .with_state(state.clone());
    (router, state)
}

/// Serve the store on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: StoreConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (router, _) = app(config);
    serve_app(listener, router, shutdown).await
}

/// Serve an already built store router (see [`app`]) on `listener` until
/// `shutdown`, with connection resets available to the fault injection.
pub async fn serve_app(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(
        reset::ResettableListener(listener),
        router.into_make_service_with_connect_info::<reset::Conn>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Wall-clock time, ms since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

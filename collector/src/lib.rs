//! The Steadycart collector: an axum service that ingests the snippet's event
//! batches, stores them through sqlx (SQLite by default, PostgreSQL with a
//! `postgres://` database URL), serves the admin API and the built snippet.
//!
//! The binary (`src/main.rs`) is thin: it parses [`config::Config`], sets up
//! tracing and calls [`serve`]. Tests call [`http::app`] with `oneshot`, or
//! [`serve`] on a `127.0.0.1:0` listener with their own shutdown future.
//!
//! # Layout
//! - [`config`]: typed configuration with documented defaults.
//! - [`http`]: the router, one module per resource, and the HTTP error type.
//! - [`store`]: the database (SQLite or PostgreSQL), migrations and queries.
//! - [`ingest`]: batch validation and the single writer task (group commit).
//! - [`keys`]: site keys, admin tokens and their hashes.
//! - [`signals`]: session model, rollups, the signals engine (leader only).
//! - [`detect`]: the pure spike detector and the traffic generator.
//! - [`notify`]: notifiers (PagerDuty, Opsgenie, Slack, webhook) and the outbox.
//! - [`recovery`]: cart recovery: config, per-site settings, templates, tokens, the SMTP mailer, CSV export.
//! - [`retention`]: the hourly sweep deleting what is kept no longer.
//! - [`state`]: the shared application state.
//! - [`metrics`]: process-wide Prometheus metrics (`GET /metrics`).

pub mod config;
pub mod detect;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod recovery;
pub mod retention;
pub mod signals;
pub mod state;
pub mod store;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// Serve the collector on `listener` until `shutdown` completes, then stop
/// accepting, finish in-flight requests and flush every accepted event.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = store::Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    let engine = config.signals.enabled.then(|| {
        let holder = format!("{}-{}", std::process::id(), keys::new_site_key());
        signals::engine::Engine::spawn(db.clone(), config.signals.clone(), holder)
    });
    let mailer = if config.recovery.enabled {
        let public_url = config
            .recovery
            .public_url
            .clone()
            .or_else(|| config.signals.public_url.clone())
            .unwrap_or_else(|| {
                format!(
                    "http://{}",
                    listener.local_addr().map_or(config.listen, |a| a)
                )
            });
        let mailer = recovery::mailer::Mailer::new(
            db.clone(),
            config.recovery.clone(),
            &config.data_dir,
            public_url,
        )
        .await?;
        Some(recovery::mailer::MailerTask::spawn(mailer))
    } else {
        None
    };
    let retention = retention::RetentionTask::spawn(
        db.clone(),
        retention::RetentionPolicy::from_config(&config),
        retention::SWEEP_EVERY,
    );
    let (state, writer) = AppState::start(db, config);
    let app = http::app(state.clone());
    tracing::info!(addr = %listener.local_addr()?, "collector listening");
    http::conn::serve(listener, app, &state.config.conn, shutdown).await?;
    // The router (and with it every queue sender) is gone; the writer drains
    // what was accepted and stops.
    drop(state);
    writer.finish().await;
    // The background workers stop side by side: each finishes the send in
    // flight and leaves the rest of its outbox queued in the database.
    tokio::join!(
        async {
            if let Some(engine) = engine {
                engine.stop().await;
            }
        },
        async {
            if let Some(mailer) = mailer {
                mailer.stop().await;
            }
        },
        retention.stop(std::time::Duration::from_secs(5)),
    );
    tracing::info!("collector stopped");
    Ok(())
}

/// Milliseconds since the Unix epoch, the collector's one clock.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

//! Shared application state: a cheap `Clone` around an `Arc`.

use std::{ops::Deref, sync::Arc};

use crate::{
    config::Config,
    ingest::{
        rate_limit::RateLimits,
        site_cache::SiteCache,
        writer::{self, IngestQueue, WriterTask},
    },
    metrics::Metrics,
    store::Db,
};

/// State shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database pool.
    pub db: Db,
    /// Configuration in force.
    pub config: Config,
    /// Queue to the single event writer.
    pub ingest: IngestQueue,
    /// Per-IP and per-site token buckets of the ingest route.
    pub limits: RateLimits,
    /// Sites by public key for the ingest path, kept `[ingest] site_cache_ttl`.
    pub sites: SiteCache,
    /// Process-wide Prometheus metrics.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Build the state and start its background writer. The writer stops once
    /// every clone of the state is dropped; `WriterTask::finish` waits for it.
    pub fn start(db: Db, config: Config) -> (AppState, WriterTask) {
        let metrics = Arc::new(Metrics::new());
        let (ingest, task) = writer::spawn(
            db.clone(),
            writer::WriterSettings::from_config(&config.ingest),
            metrics.clone(),
        );
        let limits = RateLimits::new(&config.ingest);
        let sites = SiteCache::new(config.ingest.site_cache_ttl);
        (
            AppState(Arc::new(Inner {
                db,
                config,
                ingest,
                limits,
                sites,
                metrics,
            })),
            task,
        )
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

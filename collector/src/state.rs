//! Shared application state: a cheap `Clone` around an `Arc`.

use std::{ops::Deref, sync::Arc};

use crate::{
    config::Config,
    ingest::writer::{self, IngestQueue, WriterTask},
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
}

impl AppState {
    /// Build the state and start its background writer. The writer stops once
    /// every clone of the state is dropped; `WriterTask::finish` waits for it.
    pub fn start(db: Db, config: Config) -> (AppState, WriterTask) {
        let (ingest, task) = writer::spawn(
            db.clone(),
            config.ingest.queue_capacity,
            config.ingest.writer_max_events,
        );
        (AppState(Arc::new(Inner { db, config, ingest })), task)
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

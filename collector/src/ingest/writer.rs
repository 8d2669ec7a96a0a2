//! The single writer: one task owns all event inserts and commits whatever
//! has queued up in one transaction (group commit). SQLite allows one writer
//! at a time anyway; batching many requests per commit is what makes the
//! embedded default fast.
//!
//! Ingest handlers wait for the commit before answering 2xx, so an accepted
//! event is durably stored: nothing acknowledged is lost to `kill -9`.

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use std::{sync::Arc, time::Instant};

use crate::{
    metrics::Metrics,
    store::{events::EventRow, Db},
};

/// Why a submission was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the writer is behind.
    #[error("ingest queue is full")]
    QueueFull,
    /// The writer has stopped (shutdown).
    #[error("writer stopped")]
    Stopped,
    /// The database refused the transaction.
    #[error("database write failed")]
    Database,
}

struct WriteJob {
    rows: Vec<EventRow>,
    done: oneshot::Sender<Result<(), WriteError>>,
}

/// The sending side of the writer's bounded queue. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestQueue {
    tx: mpsc::Sender<WriteJob>,
    capacity: usize,
}

impl std::fmt::Debug for WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriteJob({} rows)", self.rows.len())
    }
}

impl IngestQueue {
    /// Queue rows and wait until they are committed.
    pub async fn write(&self, rows: Vec<EventRow>) -> Result<(), WriteError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .try_send(WriteJob { rows, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => WriteError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => WriteError::Stopped,
            })?;
        wait.await.map_err(|_| WriteError::Stopped)?
    }

    /// Batches waiting for the writer.
    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }
}

/// Owns the writer task. [`WriterTask::finish`] waits for it to drain the
/// queue after every [`IngestQueue`] is dropped.
#[must_use = "the writer stops only when its queue is dropped; call finish() to wait"]
#[derive(Debug)]
pub struct WriterTask {
    handle: JoinHandle<()>,
}

impl WriterTask {
    /// Wait for the writer to commit everything queued and stop.
    pub async fn finish(self) {
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "ingest writer task failed");
        }
    }
}

/// Start the writer on `db` with a queue of `capacity` batches, committing at
/// most `max_events` rows per transaction, recording commits in `metrics`.
pub fn spawn(
    db: Db,
    capacity: usize,
    max_events: usize,
    metrics: Arc<Metrics>,
) -> (IngestQueue, WriterTask) {
    let (tx, mut rx) = mpsc::channel::<WriteJob>(capacity);
    let handle = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut n = first.rows.len();
            let mut jobs = vec![first];
            while n < max_events {
                match rx.try_recv() {
                    Ok(job) => {
                        n += job.rows.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            let mut rows = Vec::with_capacity(n);
            let waiters: Vec<_> = jobs
                .into_iter()
                .map(|job| {
                    rows.extend(job.rows);
                    job.done
                })
                .collect();
            let started = Instant::now();
            let result = db.insert_events(&rows).await.map(|_| ()).map_err(|e| {
                tracing::error!(error = %e, rows = rows.len(), "event commit failed");
                metrics.writer_commit_failures.inc();
                WriteError::Database
            });
            metrics
                .writer_commit_duration
                .observe(started.elapsed().as_secs_f64());
            metrics.writer_commit_events.observe(rows.len() as f64);
            for done in waiters {
                // A waiter that gave up (client went away) is fine to skip.
                let _ = done.send(result);
            }
        }
    });
    (IngestQueue { tx, capacity }, WriterTask { handle })
}

//! The single writer: one task owns all event inserts and commits whatever
//! has queued up in one transaction (group commit). SQLite allows one writer
//! at a time anyway; batching many requests per commit is what makes the
//! embedded default fast.
//!
//! Ingest handlers wait for the commit before answering 2xx, so an accepted
//! event is durably stored: nothing acknowledged is lost to `kill -9`. (On
//! SQLite, `synchronous=NORMAL` in WAL mode: a commit is in the WAL file, in
//! the OS's hands, when it returns; it survives the process being killed but
//! not a power loss or kernel crash before the OS writes it out. PostgreSQL
//! commits are fsynced.)
//!
//! On SQLite the writer keeps its own connection, with automatic WAL
//! checkpoints off: [`super::checkpoint`] runs them beside the commits.
//!
//! The queue bounds memory; `[ingest] max_queue_wait` bounds latency. A
//! handler waits at most that long for its commit and then answers 503 +
//! `Retry-After` ([`WriteError::TimedOut`]). The writer skips the queued
//! batches that were answered so (the client sends them again) instead of
//! committing work nobody acknowledges, so a backlog drains instead of
//! growing. A batch already in a commit when its handler gives up is stored
//! though answered 503; the client sends it again and the duplicate event
//! ids are ignored (`ON CONFLICT DO NOTHING`), so nothing is lost or doubled.
//! A batch whose client went away without an answer is still committed: a
//! closing page's beacon does not wait for its answer, and nobody would
//! send it again.

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use sqlx::{sqlite::SqliteConnectOptions, ConnectOptions, Connection, SqliteConnection};

use super::checkpoint::{self, Checkpointer, WalLocks, WalPolicy};
use crate::{
    config::IngestConfig,
    metrics::Metrics,
    store::{
        events::{insert_events_on, EventRow},
        Db, StoreError,
    },
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
    /// Not committed within `[ingest] max_queue_wait`: the writer is behind.
    #[error("ingest commit did not finish in time")]
    TimedOut,
    /// The database refused this batch's data (a data or constraint error):
    /// sending it again would fail the same way.
    #[error("the database refused the batch's data")]
    Refused,
}

/// A data or constraint error: the rows, not the database, are at fault.
/// PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity
/// constraint); SQLite's TOOBIG, CONSTRAINT and MISMATCH.
fn is_data_error(e: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(db)) = e else {
        return false;
    };
    let code = db.code().unwrap_or_default();
    code.starts_with("22")
        || code.starts_with("23")
        || code
            .parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 18..=20))
}

struct WriteJob {
    rows: Vec<EventRow>,
    done: oneshot::Sender<Result<(), WriteError>>,
    /// Set when the handler answered [`WriteError::TimedOut`]: the writer
    /// skips the batch if it has not started on it.
    abandoned: Arc<AtomicBool>,
}

/// The sending side of the writer's bounded queue. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestQueue {
    tx: mpsc::Sender<WriteJob>,
    capacity: usize,
    max_wait: Duration,
}

impl std::fmt::Debug for WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriteJob({} rows)", self.rows.len())
    }
}

impl IngestQueue {
    /// Queue rows and wait until they are committed, at most the queue's
    /// `max_wait` ([`WriteError::TimedOut`] after that).
    pub async fn write(&self, rows: Vec<EventRow>) -> Result<(), WriteError> {
        let (done, wait) = oneshot::channel();
        let abandoned = Arc::new(AtomicBool::new(false));
        self.tx
            .try_send(WriteJob {
                rows,
                done,
                abandoned: abandoned.clone(),
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => WriteError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => WriteError::Stopped,
            })?;
        match tokio::time::timeout(self.max_wait, wait).await {
            Ok(answer) => answer.map_err(|_| WriteError::Stopped)?,
            Err(_) => {
                abandoned.store(true, Ordering::Relaxed);
                Err(WriteError::TimedOut)
            }
        }
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

/// How the writer queues and commits (`[ingest]` settings).
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Batches the queue holds before [`WriteError::QueueFull`].
    pub capacity: usize,
    /// Most rows committed in one transaction.
    pub max_events: usize,
    /// Longest a handler waits for its commit before [`WriteError::TimedOut`].
    pub max_wait: Duration,
}

impl WriterSettings {
    /// The settings of `[ingest]`.
    pub fn from_config(c: &IngestConfig) -> WriterSettings {
        WriterSettings {
            capacity: c.queue_capacity,
            max_events: c.writer_max_events,
            max_wait: c.max_queue_wait,
        }
    }
}

/// Start the writer on `db` with `settings`, recording commits in `metrics`,
/// with the default [`WalPolicy`].
pub fn spawn(db: Db, settings: WriterSettings, metrics: Arc<Metrics>) -> (IngestQueue, WriterTask) {
    spawn_with_wal(db, settings, metrics, WalPolicy::default())
}

/// [`spawn`] with the checkpoint policy `wal` (SQLite; ignored on PostgreSQL).
pub fn spawn_with_wal(
    db: Db,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
    wal: WalPolicy,
) -> (IngestQueue, WriterTask) {
    let WriterSettings {
        capacity,
        max_events,
        max_wait,
    } = settings;
    let (tx, mut rx) = mpsc::channel::<WriteJob>(capacity);
    let handle = tokio::spawn(async move {
        let mut sink = Sink::open(db, wal).await;
        while let Some(first) = rx.recv().await {
            let mut n = 0;
            let mut jobs = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next.take() {
                if job.abandoned.load(Ordering::Relaxed) {
                    // Answered 503 for the wait bound: the client sends
                    // these rows again.
                    metrics.writer_skipped_batches.inc();
                } else {
                    n += job.rows.len();
                    jobs.push(job);
                }
                if n < max_events {
                    next = rx.try_recv().ok();
                }
            }
            if jobs.is_empty() {
                continue;
            }
            let mut rows = Vec::with_capacity(n);
            let mut lens = Vec::with_capacity(jobs.len());
            let waiters: Vec<_> = jobs
                .into_iter()
                .map(|job| {
                    lens.push(job.rows.len());
                    rows.extend(job.rows);
                    job.done
                })
                .collect();
            let started = Instant::now();
            let failed = |e: &StoreError, rows: usize| {
                tracing::error!(error = %e, rows, "event commit failed");
                metrics.writer_commit_failures.inc();
                if is_data_error(e) {
                    WriteError::Refused
                } else {
                    WriteError::Database
                }
            };
            let results = match sink.insert(&rows).await {
                Ok(_) => vec![Ok(()); lens.len()],
                Err(e) if lens.len() > 1 && is_data_error(&e) => {
                    // One batch's data the database refuses (a rule the
                    // validation missed) must not fail the batches that
                    // share its commit: each is committed alone.
                    tracing::warn!(error = %e, batches = lens.len(), "group commit refused; committing its batches one by one");
                    let mut out = Vec::with_capacity(lens.len());
                    let mut from = 0;
                    for len in &lens {
                        let part = &rows[from..from + len];
                        from += len;
                        out.push(
                            sink.insert(part)
                                .await
                                .map(|_| ())
                                .map_err(|e| failed(&e, part.len())),
                        );
                    }
                    out
                }
                Err(e) => vec![Err(failed(&e, rows.len())); lens.len()],
            };
            metrics
                .writer_commit_duration
                .observe(started.elapsed().as_secs_f64());
            metrics.writer_commit_events.observe(rows.len() as f64);
            for (done, result) in waiters.into_iter().zip(results) {
                // A waiter that gave up (client went away) is fine to skip.
                let _ = done.send(result);
            }
            // After answering: a catch-up checkpoint delays only the batches
            // queued behind it, never the ones just committed.
            sink.after_commit().await;
        }
        sink.close().await;
    });
    (
        IngestQueue {
            tx,
            capacity,
            max_wait,
        },
        WriterTask { handle },
    )
}

/// Where the writer commits.
enum Sink {
    /// SQLite: the writer's own connection (automatic checkpoints off) and
    /// the background checkpointer.
    Sqlite {
        conn: SqliteConnection,
        wal_file: PathBuf,
        policy: WalPolicy,
        locks: WalLocks,
        checkpointer: Checkpointer,
    },
    /// PostgreSQL, or SQLite if the writer's connection could not be opened
    /// (then SQLite's automatic checkpoints stay on): the shared pool.
    Pool(Db),
}

impl Sink {
    async fn open(db: Db, policy: WalPolicy) -> Sink {
        let Db::Sqlite(pool) = &db else {
            return Sink::Pool(db);
        };
        let options: SqliteConnectOptions = (*pool.connect_options())
            .clone()
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", policy.max_wal_bytes.to_string());
        let wal_file = checkpoint::wal_path(options.get_filename());
        match options.connect().await {
            Ok(conn) => {
                let locks = WalLocks::default();
                let checkpointer = Checkpointer::spawn(pool.clone(), policy, locks.clone());
                Sink::Sqlite {
                    conn,
                    wal_file,
                    policy,
                    locks,
                    checkpointer,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "writer connection failed; committing through the pool");
                Sink::Pool(db)
            }
        }
    }

    async fn insert(&mut self, rows: &[EventRow]) -> Result<u64, StoreError> {
        match self {
            Sink::Sqlite { conn, locks, .. } => {
                let _writing = locks.write.lock().await;
                insert_events_on(conn, rows).await
            }
            Sink::Pool(db) => db.insert_events(rows).await,
        }
    }

    /// Let the WAL start over when it is over its cap: copy what the
    /// background checkpoints have not.
    async fn after_commit(&mut self) {
        let Sink::Sqlite {
            conn,
            wal_file,
            policy,
            locks,
            ..
        } = self
        else {
            return;
        };
        if std::fs::metadata(&*wal_file).is_ok_and(|m| m.len() > policy.max_wal_bytes) {
            checkpoint::catch_up(conn, locks).await;
        }
    }

    async fn close(self) {
        if let Sink::Sqlite {
            conn, checkpointer, ..
        } = self
        {
            checkpointer.finish().await;
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %e, "closing the writer connection failed");
            }
        }
    }
}

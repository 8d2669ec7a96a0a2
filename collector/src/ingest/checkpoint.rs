//! WAL checkpoints off the writer's commit path (SQLite only).
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL
//! past 1,000 pages: that commit copies the WAL into the database file and
//! fsyncs both while every request of the group waits for it. The writer's
//! own connection turns it off (`wal_autocheckpoint=0`) and a
//! [`Checkpointer`] task runs `PASSIVE` checkpoints from another connection
//! every [`WalPolicy::interval`] instead, alongside the commits.
//!
//! A passive checkpoint never blocks the writer, but while the writer keeps
//! appending it cannot copy the newest frames, and SQLite starts the WAL file
//! over only when a write transaction begins with every frame copied. So once
//! the WAL holds more than [`WalPolicy::restart_frames`], the checkpointer runs
//! a catch-up checkpoint between two of the writer's commits (holding
//! [`WalLocks::write`]): it copies only the frames written since the bulk
//! copy, and the writer's next commit starts the WAL over. The writer does
//! that itself ([`catch_up`]) when the WAL file grows past
//! [`WalPolicy::max_wal_bytes`] (the checkpointer late, e.g. starved of CPU):
//! the WAL stays bounded either way.
//!
//! Durability is unchanged: a commit is in the WAL before the writer answers
//! (see [`crate::ingest::writer`]); checkpoints only move committed pages into
//! the main file.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use sqlx::SqlitePool;
use tokio::{
    sync::{oneshot, Mutex},
    task::JoinHandle,
};

/// When WAL checkpoints run.
#[derive(Debug, Clone, Copy)]
pub struct WalPolicy {
    /// Time between the background passive checkpoints. Default 100 ms.
    pub interval: Duration,
    /// WAL length (pages) past which the writer is asked to let the WAL
    /// start over. Default 4,096 (16 MiB of 4 KiB pages).
    pub restart_frames: i64,
    /// WAL file size past which the writer checkpoints by itself after a
    /// commit, whatever the background task did. Default 64 MiB. Also the
    /// writer's `journal_size_limit`, so the file shrinks back after a burst.
    pub max_wal_bytes: u64,
}

impl Default for WalPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(100),
            restart_frames: 4096,
            max_wal_bytes: 64 << 20,
        }
    }
}

/// The two locks the writer and the checkpointer share.
#[derive(Debug, Default, Clone)]
pub struct WalLocks {
    /// Held while any checkpoint of ours runs: SQLite refuses (busy) a
    /// checkpoint while another is in progress, so ours take turns.
    pub checkpoint: Arc<Mutex<()>>,
    /// Held by the writer for each transaction; the checkpointer takes it
    /// for the catch-up, so no frame lands between the catch-up and the
    /// writer's next transaction, which then starts the WAL over.
    pub write: Arc<Mutex<()>>,
}

/// The WAL file beside a database file.
pub fn wal_path(db_file: &Path) -> PathBuf {
    let mut name = db_file.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Whether the WAL, `frames` long after a passive checkpoint, should start
/// over: it is past the threshold.
pub fn wants_restart(policy: &WalPolicy, frames: i64) -> bool {
    frames >= policy.restart_frames
}

/// The background checkpoint task; stops when dropped or [`finish`]ed.
///
/// [`finish`]: Checkpointer::finish
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start passive checkpoints on `pool` every `policy.interval`, with a
    /// catch-up under `locks.write` when the WAL is long.
    pub fn spawn(pool: SqlitePool, policy: WalPolicy, locks: WalLocks) -> Checkpointer {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(policy.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let _turn = locks.checkpoint.lock().await;
                match passive(&pool).await {
                    Ok(frames) if wants_restart(&policy, frames) => {
                        // Only the frames written during the bulk copy are
                        // left: a short pause for the writer.
                        let _writer_paused = locks.write.lock().await;
                        if let Err(e) = passive(&pool).await {
                            tracing::warn!(error = %e, "catch-up WAL checkpoint failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "background WAL checkpoint failed"),
                }
            }
        });
        Checkpointer {
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stop and wait for a checkpoint in progress to end.
    pub async fn finish(mut self) {
        self.stop.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}

/// A `PASSIVE` checkpoint; returns the WAL's length in frames.
async fn passive<'c, E: sqlx::SqliteExecutor<'c>>(db: E) -> Result<i64, sqlx::Error> {
    sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(db)
        .await
        .map(|(_busy, frames, _copied)| frames)
}

/// The writer's own catch-up when the WAL file is over its cap after a
/// commit (the background task late): waits for a checkpoint in progress,
/// then copies the rest, so the writer's next commit starts the WAL over.
pub async fn catch_up(conn: &mut sqlx::SqliteConnection, locks: &WalLocks) {
    let _turn = locks.checkpoint.lock().await;
    if let Err(e) = passive(&mut *conn).await {
        tracing::warn!(error = %e, "catch-up WAL checkpoint failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_file_is_beside_the_database() {
        assert_eq!(
            wal_path(Path::new("/data/steadycart.db")),
            PathBuf::from("/data/steadycart.db-wal")
        );
    }

    #[test]
    fn restart_is_asked_past_the_threshold_only() {
        let p = WalPolicy::default();
        assert!(!wants_restart(&p, 0));
        assert!(!wants_restart(&p, p.restart_frames - 1));
        assert!(wants_restart(&p, p.restart_frames));
    }
}

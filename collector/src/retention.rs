//! Retention: the sweep that deletes what the collector promised not to
//! keep (SECURITY.md, "Retention"), and the task that runs it hourly.
//!
//! | data | deleted | setting |
//! |---|---|---|
//! | raw events | received longer ago than | `signals.event_retention` (30 days) |
//! | exit-survey answers (free text, consented emails) | received longer ago than | `signals.survey_retention` (30 days) |
//! | notification outbox rows, dead letters included | delivered or given up longer ago than | `signals.notification_retention` (30 days) |
//! | rollups, resolved incidents (and their outbox rows), snippet drop reports | older than | `signals.rollup_retention` (400 days) |
//! | `.eml` files of recovery emails | once their outbox row is gone (contact pruned, unsubscribed or erased) | — |
//!
//! Elsewhere: the signals engine deletes session-model state once a session
//! can no longer change a count; the recovery mailer deletes contacts (with
//! their emails) and cart snapshots unchanged for `recovery.retention`
//! (180 days); erasure by email is immediate (`POST …/recovery/erase`).
//! Kept for good: open incidents, undelivered notifications still being
//! retried, and unsubscribes (a hash of the address only, so the opt-out
//! holds).
//!
//! Every instance may sweep: each statement is an idempotent `DELETE … WHERE
//! older than`, so two instances sweeping at once only share the work.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use sqlx::Row;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    store::{on_pool, Db, StoreError},
    Config,
};

/// How often [`RetentionTask`] sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// What the sweep keeps, from [`Config`].
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    /// Raw events.
    pub events: Duration,
    /// Exit-survey answers.
    pub survey_answers: Duration,
    /// Delivered and given-up notification outbox rows.
    pub notifications: Duration,
    /// Rollups, resolved incidents and drop reports.
    pub rollups: Duration,
    /// Where this instance writes recovery `.eml` files (none: skip).
    pub mail_dir: Option<PathBuf>,
}

impl RetentionPolicy {
    /// The policy `config` sets.
    pub fn from_config(config: &Config) -> Self {
        let s = &config.signals;
        Self {
            events: s.event_retention,
            survey_answers: s.survey_retention,
            notifications: s.notification_retention,
            rollups: s.rollup_retention,
            mail_dir: Some(crate::recovery::mailer::mail_dir(
                &config.recovery,
                &config.data_dir,
            )),
        }
    }
}

/// What one sweep deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    /// Raw events.
    pub events: u64,
    /// Exit-survey answers.
    pub survey_answers: u64,
    /// Notification outbox rows (not counting those of deleted incidents).
    pub notifications: u64,
    /// Rollup rows (per bucket and per endpoint/SKU).
    pub rollups: u64,
    /// Resolved incidents.
    pub incidents: u64,
    /// Snippet drop reports.
    pub drop_reports: u64,
    /// `.eml` files without an outbox row.
    pub eml_files: u64,
}

impl Swept {
    fn total(&self) -> u64 {
        self.events
            + self.survey_answers
            + self.notifications
            + self.rollups
            + self.incidents
            + self.drop_reports
            + self.eml_files
    }
}

fn cutoff(now: i64, keep: Duration) -> i64 {
    now.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
}

/// Delete everything `policy` no longer keeps at `now` (ms).
pub async fn sweep(db: &Db, policy: &RetentionPolicy, now: i64) -> Result<Swept, StoreError> {
    let events = cutoff(now, policy.events);
    let answers = cutoff(now, policy.survey_answers);
    let notes = cutoff(now, policy.notifications);
    let rollups = cutoff(now, policy.rollups);
    let mut out = Swept::default();
    on_pool!(db, pool => {
        let run = |sql: &'static str, at: i64| sqlx::query(sql).bind(at).execute(pool);
        out.events = run("DELETE FROM events WHERE received_at < $1", events).await?.rows_affected();
        out.survey_answers = run("DELETE FROM survey_answers WHERE received_at < $1", answers).await?.rows_affected();
        out.notifications = run("DELETE FROM notify_outbox WHERE delivered_at < $1 OR failed_at < $1", notes).await?.rows_affected();
        // Their outbox rows go with them (ON DELETE CASCADE).
        out.incidents = run("DELETE FROM incidents WHERE status = 'resolved' AND resolved_at < $1", rollups).await?.rows_affected();
        out.rollups = run("DELETE FROM signal_buckets WHERE bucket_start < $1", rollups).await?.rows_affected()
            + run("DELETE FROM signal_dims WHERE bucket_start < $1", rollups).await?.rows_affected();
        out.drop_reports = run("DELETE FROM client_drops WHERE received_at < $1", rollups).await?.rows_affected();
    });
    if let Some(dir) = &policy.mail_dir {
        out.eml_files = sweep_mail_dir(db, dir).await?;
    }
    Ok(out)
}

/// `(site_id, outbox_id)` of a `recovery-{site}-{outbox}.eml` file name.
fn eml_ids(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix("recovery-")?.strip_suffix(".eml")?;
    let (site, outbox) = rest.split_once('-')?;
    Some((site.parse().ok()?, outbox.parse().ok()?))
}

/// Delete `.eml` files whose recovery outbox row no longer exists.
async fn sweep_mail_dir(db: &Db, dir: &Path) -> Result<u64, StoreError> {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return Ok(0); // no mail written on this instance yet
    };
    let mut deleted = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some((site_id, outbox_id)) = name.to_str().and_then(eml_ids) else {
            continue;
        };
        let exists = on_pool!(db, pool => sqlx::query("SELECT 1 AS x FROM recovery_outbox WHERE id = $1 AND site_id = $2")
            .bind(outbox_id).bind(site_id).fetch_optional(pool).await?
            .map(|r| r.try_get::<i32, _>("x")).transpose()?.is_some());
        if !exists && tokio::fs::remove_file(entry.path()).await.is_ok() {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// The hourly sweep. Dropping it stops the task; [`RetentionTask::stop`]
/// also waits for a sweep in progress.
#[must_use = "the sweep stops when dropped"]
#[derive(Debug)]
pub struct RetentionTask {
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
}

impl RetentionTask {
    /// Sweep now and every `every` until stopped.
    pub fn spawn(db: Db, policy: RetentionPolicy, every: Duration) -> RetentionTask {
        let (stop, mut stopped) = watch::channel(false);
        let handle = tokio::spawn(async move {
            loop {
                match sweep(&db, &policy, crate::now_ms()).await {
                    Ok(s) if s.total() > 0 => tracing::info!(
                        events = s.events,
                        survey_answers = s.survey_answers,
                        notifications = s.notifications,
                        rollups = s.rollups,
                        incidents = s.incidents,
                        drop_reports = s.drop_reports,
                        eml_files = s.eml_files,
                        "retention sweep deleted old data"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "retention sweep failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        RetentionTask {
            stop,
            handle: Some(handle),
        }
    }

    /// Stop the task, waiting at most `grace` for a sweep in progress.
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(grace, h).await;
        }
    }
}

impl Drop for RetentionTask {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eml_names_parse_and_others_are_left_alone() {
        assert_eq!(eml_ids("recovery-3-41.eml"), Some((3, 41)));
        assert_eq!(eml_ids("recovery-3-41.eml.tmp"), None);
        assert_eq!(eml_ids("notes.eml"), None);
        assert_eq!(eml_ids("recovery-x-1.eml"), None);
    }

    #[test]
    fn cutoff_never_overflows() {
        assert_eq!(cutoff(1_000, Duration::from_millis(400)), 600);
        assert!(cutoff(0, Duration::MAX) < 0);
    }
}

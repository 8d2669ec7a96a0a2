//! Typed collector configuration. Every field has a documented default;
//! a TOML file, `STEADYCART_<SECTION>_<KEY>` environment variables and the
//! CLI (`collector serve --help`) set them — see [`file`] for the layering
//! and `collector/collector.example.toml` for every option.

pub mod file;
pub mod net;

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

/// Collector configuration.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:7070`.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database and other local files.
    /// Default `./data`, created if missing.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`. Default: `steadycart.db` in `data_dir`.
    /// May hold a password, so `Debug` redacts it.
    pub database_url: Option<String>,
    /// Directory holding the built snippet (`cargo xtask dist`), served at
    /// `/snippet/`. Default `./dist/snippet`.
    pub snippet_dir: PathBuf,
    /// Ingest limits.
    pub ingest: IngestConfig,
    /// Signals, detection and notifications.
    pub signals: crate::signals::SignalsConfig,
    /// Cart recovery emails (`[recovery]`).
    pub recovery: crate::recovery::RecoveryConfig,
    /// Total time a client has to send a request body, counted from when the
    /// request reached the router; then 408 (slow-loris defence, see
    /// [`crate::http::deadline`]). Default 10 s: a 256 KiB batch over a slow
    /// mobile link fits easily.
    pub body_deadline: Duration,
    /// Log JSON lines instead of human-readable text. Default false.
    pub log_json: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses
    /// or CIDRs). Default none: the socket's peer is the client, and the
    /// header is ignored (anyone can send it).
    pub trusted_proxies: Vec<net::IpNet>,
    /// Bearer token `GET /metrics` requires. Default none: the endpoint is
    /// open (publish it only on a private network). Redacted in `Debug`.
    pub metrics_token: Option<String>,
    /// Header read timeout and request-head size limits per connection
    /// (see [`crate::http::conn`]).
    pub conn: crate::http::conn::ConnLimits,
}

/// Limits of the ingest path (`[ingest]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest request body, bytes. Default 256 KiB.
    pub max_body_bytes: usize,
    /// Batches waiting for the writer before ingest answers 503. Default 1024.
    pub queue_capacity: usize,
    /// Most events the writer commits in one transaction. Default 2000.
    pub writer_max_events: usize,
    /// How far an event's client time may lie before the batch's `sent_at`.
    /// Default 7 days (batches persisted offline are re-sent later).
    #[serde(with = "file::duration")]
    pub max_event_age: Duration,
    /// How far an event's client time may lie after the batch's `sent_at`.
    /// Default 60 s.
    #[serde(with = "file::duration")]
    pub max_event_lead: Duration,
    /// `Retry-After` sent with 503 when the writer is behind. Default 2 s.
    #[serde(with = "file::duration")]
    pub busy_retry_after: Duration,
    /// Longest an ingest request waits for its batch to be committed before
    /// it answers 503 + `Retry-After` (`busy_retry_after`); the writer then
    /// skips the batch if it has not started on it. The queue bounds memory,
    /// this bounds latency: under overload, clients hear "later" instead of
    /// hanging. Default 5 s.
    #[serde(with = "file::duration")]
    pub max_queue_wait: Duration,
    /// Ingest requests one client IP (IPv6: its /64) may send per second,
    /// sustained; beyond that 429 + `Retry-After`. 0 = no limit. Default 50:
    /// one shopper's snippet sends a batch every few seconds, so this leaves
    /// room for many shoppers behind one NAT while a flood is cut short.
    pub ip_rate_per_sec: u32,
    /// Requests one client IP may send in a burst. Default 100.
    pub ip_burst: u32,
    /// Ingest requests one site may receive per second, sustained; beyond
    /// that 429. 0 = no limit. Default 2000 (≈ 10,000 shoppers reporting every
    /// five seconds); keeps one site's flood from starving the others.
    pub site_rate_per_sec: u32,
    /// Requests one site may receive in a burst. Default 4000.
    pub site_burst: u32,
    /// How long ingest reuses a site (key → id and allowed origins) read
    /// from the database before reading it again. Default 2 s: a change to a
    /// site's origins takes effect on ingest within this time; `0s` reads
    /// the database on every request. See [`crate::ingest::site_cache`].
    #[serde(with = "file::duration")]
    pub site_cache_ttl: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: steadycart_protocol::limits::MAX_INGEST_BODY_BYTES,
            queue_capacity: 1024,
            writer_max_events: 2000,
            max_event_age: Duration::from_secs(7 * 24 * 3600),
            max_event_lead: Duration::from_secs(60),
            busy_retry_after: Duration::from_secs(2),
            max_queue_wait: Duration::from_secs(5),
            ip_rate_per_sec: 50,
            ip_burst: 100,
            site_rate_per_sec: 2000,
            site_burst: 4000,
            site_cache_ttl: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Refuse values the collector cannot run with: zero sizes and periods
    /// (a zero-capacity queue cannot be built, a zero bucket or tick divides
    /// by zero or spins, a zero `max_queue_wait` refuses every batch) and
    /// backoff bounds in the wrong order; detector settings outside the
    /// ranges a site's overrides may take. Called by [`file::load`] and
    /// again after command-line flags.
    pub fn validate(&self) -> Result<(), file::ConfigError> {
        let zero = Duration::ZERO;
        let checks: [(bool, &'static str, &'static str); 14] = [
            (
                self.ingest.max_body_bytes == 0,
                "[ingest] max_body_bytes",
                "must be at least 1",
            ),
            (
                self.ingest.queue_capacity == 0,
                "[ingest] queue_capacity",
                "must be at least 1",
            ),
            (
                self.ingest.writer_max_events == 0,
                "[ingest] writer_max_events",
                "must be at least 1",
            ),
            (
                self.ingest.max_queue_wait == zero,
                "[ingest] max_queue_wait",
                "must be more than 0s",
            ),
            (
                self.body_deadline == zero,
                "[server] body_deadline",
                "must be more than 0s",
            ),
            (
                self.conn.header_timeout == zero,
                "[server] header_timeout",
                "must be more than 0s",
            ),
            (
                self.signals.bucket < Duration::from_secs(1),
                "[signals] bucket",
                "must be at least 1s",
            ),
            (
                self.signals.tick == zero,
                "[signals] tick",
                "must be more than 0s",
            ),
            (
                self.signals.lease_ttl <= self.signals.tick,
                "[signals] lease_ttl",
                "must be longer than [signals] tick",
            ),
            (
                self.signals.min_backoff == zero,
                "[signals] min_backoff",
                "must be more than 0s",
            ),
            (
                self.signals.min_backoff > self.signals.max_backoff,
                "[signals] max_backoff",
                "must be at least [signals] min_backoff",
            ),
            (
                self.recovery.tick == zero,
                "[recovery] tick",
                "must be more than 0s",
            ),
            (
                self.recovery.min_backoff == zero,
                "[recovery] min_backoff",
                "must be more than 0s",
            ),
            (
                self.recovery.min_backoff > self.recovery.max_backoff,
                "[recovery] max_backoff",
                "must be at least [recovery] min_backoff",
            ),
        ];
        if let Some((_, option, message)) = checks.into_iter().find(|(bad, _, _)| *bad) {
            return Err(file::ConfigError::Invalid {
                option: option.to_string(),
                message: message.to_string(),
            });
        }
        crate::detect::overrides::DetectorOverrides::all_of(&self.signals.detector)
            .validate()
            .map_err(|e| file::ConfigError::Invalid {
                option: format!("[signals.detector] {}", e.field),
                message: format!("must be {}", e.range),
            })
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            snippet_dir: PathBuf::from("dist/snippet"),
            ingest: IngestConfig::default(),
            signals: crate::signals::SignalsConfig::default(),
            recovery: crate::recovery::RecoveryConfig::default(),
            body_deadline: Duration::from_secs(10),
            log_json: false,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            conn: crate::http::conn::ConnLimits::default(),
        }
    }
}

impl Config {
    /// The database URL in force: the configured one, or the embedded SQLite
    /// file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}/steadycart.db", self.data_dir.display()),
        }
    }
}

/// Hide everything between `://` and `@` (user and password) of a URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[redacted]@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("snippet_dir", &self.snippet_dir)
            .field("ingest", &self.ingest)
            .field("signals", &self.signals)
            .field("body_deadline", &self.body_deadline)
            .field("log_json", &self.log_json)
            .field("trusted_proxies", &self.trusted_proxies)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[redacted]"),
            )
            .field("recovery", &self.recovery)
            .field("conn", &self.conn)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_database_password() {
        let config = Config {
            database_url: Some("postgres://shop:hunter2@db.internal:5432/steadycart".into()),
            metrics_token: Some("metrics-s3cret".into()),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("metrics-s3cret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("shop:"), "{shown}");
        assert!(shown.contains("db.internal:5432/steadycart"), "{shown}");
    }

    #[test]
    fn default_database_is_sqlite_in_data_dir() {
        let config = Config {
            data_dir: "/tmp/x".into(),
            ..Config::default()
        };
        assert_eq!(config.database_url(), "sqlite:///tmp/x/steadycart.db");
    }
}

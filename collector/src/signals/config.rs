//! The `[signals]` settings: bucket size, session timing, detector
//! parameters, leadership, retention and notifier endpoints. Every field has
//! a documented default; tests and drills shrink the bucket to seconds.

use std::{fmt, time::Duration};

use super::session::SessionTiming;
use crate::detect::DetectorParams;

/// Signal, detection and notification settings (`[signals]` in the config
/// file; durations as strings such as `"60s"`).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// Run the engine (rollups, detection, notifications). Default true.
    pub enabled: bool,
    /// Rollup bucket. Default 60 s.
    #[serde(with = "crate::config::file::duration")]
    pub bucket: Duration,
    /// A bucket is rolled up this long after it ends, so in-flight batches
    /// are committed first. Default 5 s.
    #[serde(with = "crate::config::file::duration")]
    pub settle: Duration,
    /// Quiet time after a page exit that makes it final. Default 20 s: the
    /// snippet flushes on exit and the next page reports within seconds, and
    /// an abandonment is counted only once this has passed.
    #[serde(with = "crate::config::file::duration")]
    pub exit_grace: Duration,
    /// Quiet time after which a started checkout is abandoned. Default 30 min.
    #[serde(with = "crate::config::file::duration")]
    pub inactivity: Duration,
    /// Raw events older than this are deleted (rollups stay). Default 30 days.
    /// See [`crate::retention`] for everything that is deleted when.
    #[serde(with = "crate::config::file::duration")]
    pub event_retention: Duration,
    /// Exit-survey answers (free text, consented emails) older than this
    /// are deleted. Default 30 days, like the raw events they came with.
    #[serde(with = "crate::config::file::duration")]
    pub survey_retention: Duration,
    /// Notification outbox rows this long after they were delivered or
    /// given up (dead letters) are deleted. Default 30 days.
    #[serde(with = "crate::config::file::duration")]
    pub notification_retention: Duration,
    /// Rollups (per-bucket and per-endpoint/SKU counts), resolved incidents
    /// (with the survey excerpts they quote) and snippet drop reports older
    /// than this are deleted. Default 400 days (a year of baselines).
    #[serde(with = "crate::config::file::duration")]
    pub rollup_retention: Duration,
    /// Detector tuning.
    pub detector: DetectorParams,
    /// Leader lease length; a dead leader is replaced after it. Default 15 s.
    #[serde(with = "crate::config::file::duration")]
    pub lease_ttl: Duration,
    /// How often the engine looks for work. Default 1 s.
    #[serde(with = "crate::config::file::duration")]
    pub tick: Duration,
    /// Base URL of the PagerDuty Events API v2. Default
    /// `https://events.pagerduty.com`.
    pub pagerduty_url: String,
    /// Base URL of the Opsgenie Alert API. Default `https://api.opsgenie.com`.
    pub opsgenie_url: String,
    /// Link to the incident view put into notifications, e.g.
    /// `https://collector.example`. Default none.
    #[serde(with = "crate::config::file::opt_string")]
    pub public_url: Option<String>,
    /// Most delivery attempts of one notification. Default 20 (≈ 1 day with
    /// the backoff below).
    pub max_attempts: u32,
    /// First retry delay; doubles up to `max_backoff`. Default 2 s.
    #[serde(with = "crate::config::file::duration")]
    pub min_backoff: Duration,
    /// Longest retry delay. Default 1 h.
    #[serde(with = "crate::config::file::duration")]
    pub max_backoff: Duration,
    /// Timeout of one delivery request. Default 10 s.
    #[serde(with = "crate::config::file::duration")]
    pub request_timeout: Duration,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bucket: Duration::from_secs(60),
            settle: Duration::from_secs(5),
            exit_grace: Duration::from_secs(20),
            inactivity: Duration::from_secs(30 * 60),
            event_retention: Duration::from_secs(30 * 24 * 3600),
            survey_retention: Duration::from_secs(30 * 24 * 3600),
            notification_retention: Duration::from_secs(30 * 24 * 3600),
            rollup_retention: Duration::from_secs(400 * 24 * 3600),
            detector: DetectorParams::default(),
            lease_ttl: Duration::from_secs(15),
            tick: Duration::from_secs(1),
            pagerduty_url: "https://events.pagerduty.com".into(),
            opsgenie_url: "https://api.opsgenie.com".into(),
            public_url: None,
            max_attempts: 20,
            min_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl SignalsConfig {
    /// Bucket length, ms.
    pub fn bucket_ms(&self) -> i64 {
        self.bucket.as_millis().max(1) as i64
    }

    /// The session model's timing.
    pub fn timing(&self) -> SessionTiming {
        SessionTiming {
            exit_grace_ms: self.exit_grace.as_millis() as i64,
            inactivity_ms: self.inactivity.as_millis() as i64,
        }
    }
}

impl fmt::Debug for SignalsConfig {
    // Written out so a secret-bearing field added later must be considered
    // here; base URLs may carry credentials and are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalsConfig")
            .field("enabled", &self.enabled)
            .field("bucket", &self.bucket)
            .field("settle", &self.settle)
            .field("exit_grace", &self.exit_grace)
            .field("inactivity", &self.inactivity)
            .field("event_retention", &self.event_retention)
            .field("survey_retention", &self.survey_retention)
            .field("notification_retention", &self.notification_retention)
            .field("rollup_retention", &self.rollup_retention)
            .field("detector", &self.detector)
            .field("lease_ttl", &self.lease_ttl)
            .field("tick", &self.tick)
            .field(
                "pagerduty_url",
                &crate::config::redact_url(&self.pagerduty_url),
            )
            .field(
                "opsgenie_url",
                &crate::config::redact_url(&self.opsgenie_url),
            )
            .field("public_url", &self.public_url)
            .field("max_attempts", &self.max_attempts)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_credentials_in_endpoint_urls() {
        let c = SignalsConfig {
            pagerduty_url: "https://user:pd-s3cret@pd.proxy.internal".into(),
            opsgenie_url: "https://og:og-s3cret@og.proxy.internal".into(),
            ..SignalsConfig::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("pd.proxy.internal"), "{shown}");
    }
}

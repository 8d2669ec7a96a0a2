//! The `[recovery]` settings of a collector: when recovery emails go out,
//! how they are delivered (SMTP, or `.eml` files in the data dir when no
//! SMTP server is configured) and how long contacts are kept. Per-site
//! settings (sender, shop name, link template, templates) live in the
//! database, see [`super::settings`].

use std::{fmt, time::Duration};

/// Recovery email settings (the `[recovery]` table of the config file).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryConfig {
    /// Run the recovery mailer on this instance. Default true. Every
    /// instance may run it: rows are claimed, never sent twice.
    pub enabled: bool,
    /// How long after the survey answer an email goes out (the shopper may
    /// still complete meanwhile, which cancels it). Default 1 h.
    #[serde(with = "crate::config::file::duration")]
    pub delay: Duration,
    /// Hold emails while the site has an open incident, so "it's fixed"
    /// is true when it arrives. Default false.
    pub wait_for_resolution: bool,
    /// At most one email per contact within this period. Default 7 days.
    #[serde(with = "crate::config::file::duration")]
    pub period: Duration,
    /// How long a recovery link stays valid. Default 7 days.
    #[serde(with = "crate::config::file::duration")]
    pub link_ttl: Duration,
    /// SMTP server: `smtp://host:25` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://host:465` (TLS); credentials as
    /// `smtp://user:pass@host`, or with `smtp_username`/`smtp_password`.
    /// Default none: emails are written as `.eml` files to `mail_dir`.
    #[serde(with = "crate::config::file::opt_string")]
    pub smtp_url: Option<String>,
    /// SMTP user (overrides the URL's).
    #[serde(with = "crate::config::file::opt_string")]
    pub smtp_username: Option<String>,
    /// SMTP password (overrides the URL's). Never shown in `Debug`.
    #[serde(with = "crate::config::file::opt_string")]
    pub smtp_password: Option<String>,
    /// PEM file of root certificates trusted for the SMTP server's TLS
    /// certificate besides the built-in ones (a private CA, a self-signed
    /// relay); only with `smtps://` or `?tls=required|opportunistic`. The
    /// certificate and host name are always verified. Default none.
    #[serde(with = "crate::config::file::opt_string")]
    pub smtp_ca_file: Option<String>,
    /// Timeout of one SMTP conversation. Default 30 s.
    #[serde(with = "crate::config::file::duration")]
    pub smtp_timeout: Duration,
    /// Where `.eml` files go without SMTP. Default `<data dir>/recovery-mail`.
    #[serde(with = "crate::config::file::opt_string")]
    pub mail_dir: Option<String>,
    /// Secret that signs recovery and unsubscribe links. Default: a random
    /// secret created in the database on first use (shared by instances).
    #[serde(with = "crate::config::file::opt_string")]
    pub token_secret: Option<String>,
    /// Public base URL of this collector, for unsubscribe links. Default:
    /// `signals.public_url`, else the listen address.
    #[serde(with = "crate::config::file::opt_string")]
    pub public_url: Option<String>,
    /// Most send attempts of one email that fails for a temporary reason
    /// (unreachable server, 4xx); then it is `failed`. Default 10.
    pub max_attempts: u32,
    /// How long an email held by an SMTP configuration fault (refused
    /// credentials, TLS, the sender refused by policy) keeps being retried,
    /// counted from when it was queued; it does not count against
    /// `max_attempts`. Then it is `failed` (`smtp_config: …`), its contact
    /// untouched. Default 3 days: a recovery email later than that does
    /// more harm than good.
    #[serde(with = "crate::config::file::duration")]
    pub config_fault_hold: Duration,
    /// First retry delay, doubling up to `max_backoff`. Default 30 s.
    #[serde(with = "crate::config::file::duration")]
    pub min_backoff: Duration,
    /// Longest retry delay. Default 1 h.
    #[serde(with = "crate::config::file::duration")]
    pub max_backoff: Duration,
    /// How often the mailer looks for due emails. Default 1 s.
    #[serde(with = "crate::config::file::duration")]
    pub tick: Duration,
    /// Contacts unchanged for this long are deleted. Default 180 days.
    #[serde(with = "crate::config::file::duration")]
    pub retention: Duration,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            delay: Duration::from_secs(3600),
            wait_for_resolution: false,
            period: Duration::from_secs(7 * 24 * 3600),
            link_ttl: Duration::from_secs(7 * 24 * 3600),
            smtp_url: None,
            smtp_username: None,
            smtp_password: None,
            smtp_ca_file: None,
            smtp_timeout: Duration::from_secs(30),
            mail_dir: None,
            token_secret: None,
            public_url: None,
            max_attempts: 10,
            config_fault_hold: Duration::from_secs(3 * 24 * 3600),
            min_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            tick: Duration::from_secs(1),
            retention: Duration::from_secs(180 * 24 * 3600),
        }
    }
}

impl RecoveryConfig {
    /// Delay before attempt `attempts + 1`: `min_backoff · 2^(attempts−1)`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        self.min_backoff
            .saturating_mul(1 << exp)
            .min(self.max_backoff)
    }
}

impl fmt::Debug for RecoveryConfig {
    // Written out so a secret-bearing field added later must be considered.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "[redacted]");
        f.debug_struct("RecoveryConfig")
            .field("enabled", &self.enabled)
            .field("delay", &self.delay)
            .field("wait_for_resolution", &self.wait_for_resolution)
            .field("period", &self.period)
            .field("link_ttl", &self.link_ttl)
            .field(
                "smtp_url",
                &self.smtp_url.as_deref().map(crate::config::redact_url),
            )
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &redacted(&self.smtp_password))
            .field("smtp_ca_file", &self.smtp_ca_file)
            .field("smtp_timeout", &self.smtp_timeout)
            .field("mail_dir", &self.mail_dir)
            .field("token_secret", &redacted(&self.token_secret))
            .field("public_url", &self.public_url)
            .field("max_attempts", &self.max_attempts)
            .field("config_fault_hold", &self.config_fault_hold)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("tick", &self.tick)
            .field("retention", &self.retention)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_smtp_credentials_and_the_link_secret() {
        let c = RecoveryConfig {
            smtp_url: Some("smtps://mailer:url-s3cret@smtp.example:465".into()),
            smtp_password: Some("pw-s3cret".into()),
            token_secret: Some("tok-s3cret".into()),
            ..RecoveryConfig::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("smtp.example:465"), "{shown}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = RecoveryConfig::default();
        assert_eq!(c.backoff(1), Duration::from_secs(30));
        assert_eq!(c.backoff(2), Duration::from_secs(60));
        assert_eq!(c.backoff(30), Duration::from_secs(3600));
    }
}

//! Incident notifications: per-site notifiers, one module per target that
//! turns an incident change into the target's documented request, and the
//! persistent outbox that delivers them with retries and backoff until the
//! target accepts.
//!
//! # Layout
//! - [`pagerduty`]: PagerDuty Events API v2 (trigger / resolve, stable `dedup_key`).
//! - [`opsgenie`]: Opsgenie Alert API (create / close by `alias`).
//! - [`slack`]: Slack incoming webhook (`text` + `blocks`, escaped).
//! - [`webhook`]: generic JSON webhook signed with HMAC-SHA256 over `timestamp.body`.
//! - [`deliveries`]: delivery states (pending, delivered, dead letters) for the admin API and metrics.
//! - [`outbox`]: claiming (`FOR UPDATE SKIP LOCKED` on PostgreSQL), sending, retrying.

pub mod deliveries;
pub mod opsgenie;
pub mod outbox;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::signals::{store::Incident, SignalsConfig};

/// Where a site's incidents go, with the target's credentials.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NotifierConfig {
    /// PagerDuty Events API v2.
    Pagerduty {
        /// The integration's 32-character routing key (secret).
        routing_key: String,
        /// `critical` (default), `error`, `warning` or `info`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<String>,
    },
    /// Opsgenie Alert API.
    Opsgenie {
        /// API integration key (secret), sent as `GenieKey`.
        api_key: String,
        /// `P1`–`P5`; default `P2`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<String>,
    },
    /// Slack incoming webhook.
    Slack {
        /// The webhook URL (secret: it is the credential).
        webhook_url: String,
    },
    /// Generic signed webhook.
    Webhook {
        /// Where to POST.
        url: String,
        /// HMAC-SHA256 key (secret).
        secret: String,
    },
}

fn hint(secret: &str) -> String {
    format!("[redacted, {} chars]", secret.chars().count())
}

impl fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl NotifierConfig {
    /// The kind tag (`"pagerduty"`).
    pub fn kind(&self) -> &'static str {
        match self {
            NotifierConfig::Pagerduty { .. } => "pagerduty",
            NotifierConfig::Opsgenie { .. } => "opsgenie",
            NotifierConfig::Slack { .. } => "slack",
            NotifierConfig::Webhook { .. } => "webhook",
        }
    }

    /// The configuration as JSON with every secret replaced.
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = match self {
            NotifierConfig::Pagerduty {
                routing_key,
                severity,
            } => NotifierConfig::Pagerduty {
                routing_key: hint(routing_key),
                severity: severity.clone(),
            },
            NotifierConfig::Opsgenie { api_key, priority } => NotifierConfig::Opsgenie {
                api_key: hint(api_key),
                priority: priority.clone(),
            },
            NotifierConfig::Slack { webhook_url } => NotifierConfig::Slack {
                webhook_url: hint(webhook_url),
            },
            NotifierConfig::Webhook { url, secret } => NotifierConfig::Webhook {
                url: crate::config::redact_url(url),
                secret: hint(secret),
            },
        };
        if let NotifierConfig::Webhook { url, .. } = &mut v {
            // Query strings often carry tokens.
            if let Some(i) = url.find('?') {
                url.truncate(i);
                url.push_str("?[redacted]");
            }
        }
        serde_json::to_value(v).unwrap_or_default()
    }

    /// Check the configuration; the error names the offending field.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        fn http_url(u: &str) -> bool {
            url::Url::parse(u)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        }
        match self {
            NotifierConfig::Pagerduty {
                routing_key,
                severity,
            } => {
                if routing_key.trim().is_empty() || routing_key.len() > 64 {
                    return Err(("routing_key", "must be the integration's routing key"));
                }
                if let Some(s) = severity {
                    if !["critical", "error", "warning", "info"].contains(&s.as_str()) {
                        return Err(("severity", "must be critical, error, warning or info"));
                    }
                }
            }
            NotifierConfig::Opsgenie { api_key, priority } => {
                if api_key.trim().is_empty() {
                    return Err(("api_key", "must not be empty"));
                }
                if let Some(p) = priority {
                    if !["P1", "P2", "P3", "P4", "P5"].contains(&p.as_str()) {
                        return Err(("priority", "must be P1 to P5"));
                    }
                }
            }
            NotifierConfig::Slack { webhook_url } => {
                if !http_url(webhook_url) {
                    return Err(("webhook_url", "must be an http(s) URL"));
                }
            }
            NotifierConfig::Webhook { url, secret } => {
                if !http_url(url) {
                    return Err(("url", "must be an http(s) URL"));
                }
                if secret.len() < 16 {
                    return Err(("secret", "must be at least 16 characters"));
                }
            }
        }
        Ok(())
    }
}

/// Trigger (incident opened) or resolve (incident over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The incident opened.
    Trigger,
    /// The incident resolved.
    Resolve,
}

impl Action {
    /// Parse the outbox column.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "trigger" => Some(Action::Trigger),
            "resolve" => Some(Action::Resolve),
            _ => None,
        }
    }
}

/// What a notification is about.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// The site's public key.
    pub site_key: &'a str,
    /// The incident as stored.
    pub incident: &'a Incident,
    /// Trigger or resolve.
    pub action: Action,
    /// Link to the incident view, when a public URL is configured.
    pub view_url: Option<String>,
    /// Send time, ms (the webhook signs it).
    pub now: i64,
}

impl Notice<'_> {
    /// Stable per incident: PagerDuty's `dedup_key`, Opsgenie's `alias`.
    pub fn dedup_key(&self) -> String {
        format!("steadycart-{}-incident-{}", self.site_key, self.incident.id)
    }
}

/// One HTTP request to send.
#[derive(Clone, PartialEq)]
pub struct Delivery {
    /// Target URL.
    pub url: String,
    /// Extra headers (`Content-Type: application/json` is always sent).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs (Slack) and headers (Opsgenie) hold credentials.
        f.debug_struct("Delivery")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// Build the request `notifier` wants for `notice`.
pub fn build(cfg: &SignalsConfig, notifier: &NotifierConfig, notice: &Notice<'_>) -> Delivery {
    match notifier {
        NotifierConfig::Pagerduty {
            routing_key,
            severity,
        } => pagerduty::build(&cfg.pagerduty_url, routing_key, severity.as_deref(), notice),
        NotifierConfig::Opsgenie { api_key, priority } => {
            opsgenie::build(&cfg.opsgenie_url, api_key, priority.as_deref(), notice)
        }
        NotifierConfig::Slack { webhook_url } => slack::build(webhook_url, notice),
        NotifierConfig::Webhook { url, secret } => webhook::build(url, secret, notice),
    }
}

/// The HTTP client deliveries use.
pub fn client(cfg: &SignalsConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(cfg.request_timeout)
        .user_agent(concat!("steadycart-collector/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// RFC 3339 of a ms timestamp.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Cut `s` to at most `max` characters (on a char boundary).
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_redacted_never_show_secrets() {
        let all = [
            NotifierConfig::Pagerduty {
                routing_key: "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12".into(),
                severity: None,
            },
            NotifierConfig::Opsgenie {
                api_key: "genie-secret-key".into(),
                priority: None,
            },
            NotifierConfig::Slack {
                webhook_url: "https://hooks.slack.example/services/T0/B0/XSECRETX".into(),
            },
            NotifierConfig::Webhook {
                url: "https://ops.example/hook?token=XSECRETX".into(),
                secret: "whsec-0123456789abcdef".into(),
            },
        ];
        for n in all {
            let shown = format!("{n:?} {}", n.redacted());
            for secret in ["R0UT1NGKEY", "genie-secret", "XSECRETX", "whsec-"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }

    #[test]
    fn validation_names_the_field() {
        let n: NotifierConfig = serde_json::from_str(
            r#"{"kind":"webhook","url":"ftp://x","secret":"0123456789abcdef"}"#,
        )
        .unwrap();
        assert_eq!(n.validate().unwrap_err().0, "url");
        let n: NotifierConfig =
            serde_json::from_str(r#"{"kind":"pagerduty","routing_key":"k","severity":"loud"}"#)
                .unwrap();
        assert_eq!(n.validate().unwrap_err().0, "severity");
        assert!(serde_json::from_str::<NotifierConfig>(r#"{"kind":"fax","number":"1"}"#).is_err());
    }
}

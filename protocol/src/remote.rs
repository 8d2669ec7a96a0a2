//! Remote site configuration: what the collector serves at
//! `GET /v1/config?site=KEY` and what the admin API
//! (`/v1/admin/sites/{site}/config`) stores. The snippet applies it over the
//! configuration of its script tag, so an incident team can change what
//! shoppers see without a redeploy.
//!
//! Every field is optional with a documented default; unknown fields are
//! ignored by the snippet (forward compatibility) but refused by the admin
//! API (a typo must not silently do nothing).

use serde::{Deserialize, Serialize};

use crate::Role;

/// Default `max_age_s`: how long a served config may be cached, and how often
/// an open page asks again.
pub const DEFAULT_MAX_AGE_S: u32 = 60;
/// Largest `max_age_s` the admin API accepts.
pub const MAX_MAX_AGE_S: u32 = 300;
/// Longest fallback or banner text, in characters.
pub const MAX_TEXT_CHARS: usize = 300;

/// A site's remote configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteConfig {
    /// Increases with every admin change (set by the collector).
    pub version: i64,
    /// Kill switch: the snippet removes its wrappers and UI and stays away.
    pub kill: bool,
    /// A site-wide banner, shown on every page until it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<Banner>,
    /// Fallback texts per role and locale (override the tag's texts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<LocalText>,
    /// Stall thresholds in ms per role (override the tag's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stall_ms: Vec<RoleMs>,
    /// Whether the post-failure survey may show (read by the survey
    /// feature); `None` leaves it to the page's own setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey: Option<bool>,
    /// Fraction of sessions that report events, 0.0–1.0; `None`: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<f64>,
    /// Most events one page may send; `None`: the snippet's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_cap: Option<u32>,
    /// Where messages appear: `top` (default) or `toast`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Seconds a served copy stays fresh; open pages poll this often.
    /// Default [`DEFAULT_MAX_AGE_S`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_s: Option<u32>,
}

/// A site-wide banner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Banner {
    /// What shoppers read (plain text; never parsed as HTML).
    pub text: String,
    /// `info`, `warning` or `critical` (announced assertively).
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Hidden after this time, ms since the Unix epoch; `None`: until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

fn default_severity() -> String {
    "info".into()
}

/// Severities a banner may have.
pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

/// A fallback text for one role in one locale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalText {
    /// The role whose message this is.
    pub role: Role,
    /// BCP 47 tag (`de`, `de-CH`); empty or absent: every locale.
    #[serde(default)]
    pub locale: String,
    /// The message (plain text).
    pub text: String,
}

/// A stall threshold for one role.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoleMs {
    /// The role.
    pub role: Role,
    /// Milliseconds, 100–120000.
    pub ms: u32,
}

impl SiteConfig {
    /// Seconds a copy stays fresh, clamped to 1..=[`MAX_MAX_AGE_S`].
    pub fn max_age(&self) -> u32 {
        self.max_age_s
            .unwrap_or(DEFAULT_MAX_AGE_S)
            .clamp(1, MAX_MAX_AGE_S)
    }

    /// The banner, if one is set and not expired at `now_ms`.
    pub fn live_banner(&self, now_ms: i64) -> Option<&Banner> {
        self.banner
            .as_ref()
            .filter(|b| b.expires_at.is_none_or(|t| t > now_ms))
    }

    /// Why this config can't be stored, as (field, message); `None` if fine.
    pub fn problem(&self) -> Option<(String, String)> {
        let long = |t: &str| t.chars().count() > MAX_TEXT_CHARS;
        if let Some(b) = &self.banner {
            if b.text.trim().is_empty() || long(&b.text) {
                return Some((
                    "banner.text".into(),
                    format!("must be 1 to {MAX_TEXT_CHARS} characters"),
                ));
            }
            if !SEVERITIES.contains(&b.severity.as_str()) {
                return Some((
                    "banner.severity".into(),
                    "must be info, warning or critical".into(),
                ));
            }
        }
        if self.texts.len() > 64 {
            return Some(("texts".into(), "at most 64 texts".into()));
        }
        for (i, t) in self.texts.iter().enumerate() {
            if t.text.trim().is_empty() || long(&t.text) {
                return Some((
                    format!("texts[{i}].text"),
                    format!("must be 1 to {MAX_TEXT_CHARS} characters"),
                ));
            }
            let ok_locale = t.locale.len() <= 35
                && t.locale
                    .split('-')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
                || t.locale.is_empty();
            if !ok_locale {
                return Some((
                    format!("texts[{i}].locale"),
                    "must be a language tag like de or de-CH".into(),
                ));
            }
        }
        for (i, s) in self.stall_ms.iter().enumerate() {
            if !(100..=120_000).contains(&s.ms) {
                return Some((format!("stall_ms[{i}].ms"), "must be 100 to 120000".into()));
            }
        }
        if self.sample_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
            return Some(("sample_rate".into(), "must be between 0 and 1".into()));
        }
        if self.event_cap == Some(0) {
            return Some(("event_cap".into(), "must be at least 1".into()));
        }
        if self
            .position
            .as_deref()
            .is_some_and(|p| p != "top" && p != "toast")
        {
            return Some(("position".into(), "must be top or toast".into()));
        }
        if self
            .max_age_s
            .is_some_and(|s| !(1..=MAX_MAX_AGE_S).contains(&s))
        {
            return Some(("max_age_s".into(), format!("must be 1 to {MAX_MAX_AGE_S}")));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_round_trip() {
        let c: SiteConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, SiteConfig::default());
        assert_eq!(c.max_age(), 60);
        assert!(c.problem().is_none());
        let json = r#"{"version":3,"kill":true,"banner":{"text":"Sale delayed","expires_at":100},
            "texts":[{"role":"price","locale":"de","text":"Preis wird geprüft"}],
            "stall_ms":[{"role":"checkout","ms":1500}],"survey":false,"max_age_s":2,"future":1}"#;
        let c: SiteConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.banner.as_ref().unwrap().severity, "info");
        assert!(c.live_banner(99).is_some());
        assert!(c.live_banner(100).is_none(), "expired");
        assert_eq!(c.max_age(), 2);
        let back: SiteConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn problems_name_the_field() {
        let mut c = SiteConfig {
            banner: Some(Banner {
                text: "x".into(),
                severity: "panic".into(),
                expires_at: None,
            }),
            ..Default::default()
        };
        assert_eq!(c.problem().unwrap().0, "banner.severity");
        c.banner = None;
        c.texts = vec![LocalText {
            role: Role::Price,
            locale: "de_DE".into(),
            text: "x".into(),
        }];
        assert_eq!(c.problem().unwrap().0, "texts[0].locale");
        c.texts[0].locale = "de-DE".into();
        c.texts[0].text = "y".repeat(301);
        assert_eq!(c.problem().unwrap().0, "texts[0].text");
        c.texts.clear();
        c.stall_ms = vec![RoleMs {
            role: Role::Cart,
            ms: 5,
        }];
        assert_eq!(c.problem().unwrap().0, "stall_ms[0].ms");
        c.stall_ms.clear();
        c.max_age_s = Some(0);
        assert_eq!(c.problem().unwrap().0, "max_age_s");
        c.max_age_s = Some(1);
        c.sample_rate = Some(1.5);
        assert_eq!(c.problem().unwrap().0, "sample_rate");
    }
}

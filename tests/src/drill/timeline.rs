//! The drill's timeline (pure): from what the collector stored, what the
//! alert receivers got and what the SMTP server delivered, the moments that
//! matter — outage start, first fallback shown, first survey answer,
//! incident triggered and resolved (receiver time), first recovery email —
//! with the detection delay and the counts; as text and as JSON with RFC
//! 3339 times.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// Everything the drill observed.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Scenario name.
    pub scenario: String,
    /// Speed factor.
    pub speed: f64,
    /// Concurrent browsers.
    pub shoppers: usize,
    /// Seed of the shoppers' choices.
    pub seed: u64,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The failing endpoint and fault, e.g. `POST /api/checkout → 503`.
    pub fault: String,
    /// Drill start (baseline traffic), ms.
    pub started_ms: i64,
    /// Outage window, ms.
    pub outage_ms: (i64, i64),
    /// Drill end, ms.
    pub ended_ms: i64,
    /// Stored events (`Event` JSON).
    pub events: Vec<Value>,
    /// Stored survey answers (`with_email=true`).
    pub answers: Vec<Value>,
    /// PagerDuty trigger and resolve as the receiver got them, ms.
    pub triggered_ms: Option<i64>,
    /// See `triggered_ms`.
    pub resolved_ms: Option<i64>,
    /// The incident's summary line.
    pub incident: Option<String>,
    /// Abandonments the collector counted over the drill.
    pub abandoned: u64,
    /// When the drill's SMTP server accepted each recovery email, ms.
    pub emails_ms: Vec<i64>,
}

/// The drill's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Scenario name.
    pub scenario: String,
    /// Speed factor.
    pub speed: f64,
    /// Concurrent browsers.
    pub shoppers: usize,
    /// Seed.
    pub seed: u64,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// What broke.
    pub fault: String,
    /// ms since the Unix epoch.
    pub drill_started: i64,
    /// ms.
    pub outage_started: i64,
    /// ms.
    pub outage_ended: i64,
    /// ms.
    pub drill_ended: i64,
    /// ms; first `fallback_shown` from the outage on.
    pub first_fallback_shown: Option<i64>,
    /// ms; first `survey_answered`.
    pub first_survey_answer: Option<i64>,
    /// ms; receiver time of the PagerDuty trigger.
    pub incident_triggered: Option<i64>,
    /// ms; receiver time of the PagerDuty resolve.
    pub incident_resolved: Option<i64>,
    /// ms; first recovery email accepted by the drill's SMTP server.
    pub first_recovery_email: Option<i64>,
    /// The incident's summary line.
    pub incident: Option<String>,
    /// Distinct sessions.
    pub sessions: u64,
    /// Sessions that met an error or stall (or saw a fallback).
    pub sessions_affected: u64,
    /// Abandonments counted by the collector.
    pub abandoned: u64,
    /// Survey answers with an email given with consent.
    pub contacts_captured: u64,
    /// Recovery emails the drill's SMTP server accepted.
    pub emails_sent: u64,
}

fn min_ts<'a>(events: impl Iterator<Item = &'a Value>) -> Option<i64> {
    events.filter_map(|e| e["ts"].as_i64()).min()
}

impl Timeline {
    /// Build the timeline from the facts.
    pub fn from_facts(f: &Facts) -> Timeline {
        let of = |t: &'static str| f.events.iter().filter(move |e| e["type"] == t);
        // Client clocks are this machine's; a second of slack covers a
        // call that failed just as the schedule started.
        let first_fallback_shown = min_ts(
            of("fallback_shown").filter(|e| e["ts"].as_i64() >= Some(f.outage_ms.0 - 1_000)),
        );
        let sessions: BTreeSet<&str> = f
            .events
            .iter()
            .filter_map(|e| e["session"].as_str())
            .collect();
        let affected: BTreeSet<&str> = f
            .events
            .iter()
            .filter(|e| {
                e["type"] == "fallback_shown"
                    || (e["type"] == "call" && e["outcome"].as_str().is_some_and(|o| o != "ok"))
            })
            .filter_map(|e| e["session"].as_str())
            .collect();
        Timeline {
            scenario: f.scenario.clone(),
            speed: f.speed,
            shoppers: f.shoppers,
            seed: f.seed,
            database: f.database.clone(),
            fault: f.fault.clone(),
            drill_started: f.started_ms,
            outage_started: f.outage_ms.0,
            outage_ended: f.outage_ms.1,
            drill_ended: f.ended_ms,
            first_fallback_shown,
            first_survey_answer: min_ts(of("survey_answered")),
            incident_triggered: f.triggered_ms,
            incident_resolved: f.resolved_ms,
            first_recovery_email: f.emails_ms.iter().min().copied(),
            incident: f.incident.clone(),
            sessions: sessions.len() as u64,
            sessions_affected: affected.len() as u64,
            abandoned: f.abandoned,
            contacts_captured: f
                .answers
                .iter()
                .filter(|a| a["email"].as_str().is_some_and(|e| !e.is_empty()))
                .count() as u64,
            emails_sent: f.emails_ms.len() as u64,
        }
    }

    /// Seconds from the outage's start to the incident reaching PagerDuty.
    pub fn detection_delay_s(&self) -> Option<f64> {
        self.incident_triggered
            .map(|t| (t - self.outage_started) as f64 / 1000.0)
    }

    /// Seconds from the outage's end to the resolve reaching PagerDuty.
    pub fn resolution_delay_s(&self) -> Option<f64> {
        self.incident_resolved
            .map(|t| (t - self.outage_ended) as f64 / 1000.0)
    }

    /// The moments in time order: (ms, label).
    pub fn moments(&self) -> Vec<(Option<i64>, &'static str)> {
        let mut m = vec![
            (Some(self.drill_started), "drill started (baseline traffic)"),
            (Some(self.outage_started), "outage started"),
            (self.first_fallback_shown, "first fallback shown"),
            (self.first_survey_answer, "first survey answer"),
            (
                self.incident_triggered,
                "incident triggered (PagerDuty receiver)",
            ),
            (Some(self.outage_ended), "outage ended"),
            (
                self.incident_resolved,
                "incident resolved (PagerDuty receiver)",
            ),
            (self.first_recovery_email, "first recovery email delivered"),
        ];
        m.sort_by_key(|(t, _)| t.unwrap_or(i64::MAX));
        m
    }

    /// The JSON document of `--json`: RFC 3339 times (UTC, milliseconds),
    /// `null` for what did not happen.
    pub fn to_json(&self) -> Value {
        let at = |t: Option<i64>| t.map_or(Value::Null, |t| Value::String(rfc3339(t)));
        let secs = |s: Option<f64>| s.map_or(Value::Null, |s| json!((s * 10.0).round() / 10.0));
        json!({
            "scenario": self.scenario,
            "speed": self.speed,
            "shoppers": self.shoppers,
            "seed": self.seed,
            "database": self.database,
            "fault": self.fault,
            "drill_started_at": at(Some(self.drill_started)),
            "outage_started_at": at(Some(self.outage_started)),
            "outage_ended_at": at(Some(self.outage_ended)),
            "first_fallback_shown_at": at(self.first_fallback_shown),
            "first_survey_answer_at": at(self.first_survey_answer),
            "incident_triggered_at": at(self.incident_triggered),
            "incident_resolved_at": at(self.incident_resolved),
            "first_recovery_email_at": at(self.first_recovery_email),
            "drill_ended_at": at(Some(self.drill_ended)),
            "detection_delay_s": secs(self.detection_delay_s()),
            "resolution_delay_s": secs(self.resolution_delay_s()),
            "incident": self.incident,
            "sessions": self.sessions,
            "sessions_affected": self.sessions_affected,
            "abandoned": self.abandoned,
            "contacts_captured": self.contacts_captured,
            "emails_sent": self.emails_sent,
        })
    }

    /// The timeline as the terminal shows it.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "Crisis drill: {} at speed {} ({} shoppers, seed {}, {})\n  fault: {}\n\n",
            self.scenario, self.speed, self.shoppers, self.seed, self.database, self.fault
        );
        for (t, label) in self.moments() {
            match t {
                Some(t) => out.push_str(&format!(
                    "  {:>8}  {}  {label}\n",
                    offset(t - self.drill_started),
                    clock(t)
                )),
                None => out.push_str(&format!(
                    "  {:>8}  {:>12}  {label}: {}\n",
                    "—",
                    "—",
                    self.missing(label)
                )),
            }
        }
        let d = |s: Option<f64>| s.map_or("—".to_string(), |s| format!("{s:.1} s"));
        out.push_str(&format!(
            "\n  detection delay {} · resolved {} after the outage ended\n",
            d(self.detection_delay_s()),
            d(self.resolution_delay_s())
        ));
        if let Some(i) = &self.incident {
            out.push_str(&format!("  incident: {i}\n"));
        }
        out.push_str(&format!(
            "  sessions {} · affected {} · abandoned {} · contacts captured {} · emails sent {}\n",
            self.sessions,
            self.sessions_affected,
            self.abandoned,
            self.contacts_captured,
            self.emails_sent
        ));
        out
    }

    /// What to say for a moment that did not happen: a recovery email
    /// needs a contact (a survey answer with consent), which some scenarios
    /// never produce (nobody is stopped from buying when prices lag).
    pub fn missing(&self, label: &str) -> &'static str {
        if label.contains("recovery email") && self.contacts_captured == 0 {
            "none (no contacts captured)"
        } else {
            "never"
        }
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-12-02T18:01:02.345Z`.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// `HH:MM:SS.mmm` UTC.
pub fn clock(ms: i64) -> String {
    let day = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day / 3_600_000,
        day / 60_000 % 60,
        day / 1000 % 60,
        day % 1000
    )
}

/// `+M:SS.s` from the drill's start.
pub fn offset(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    let ms = ms.abs();
    format!(
        "{sign}{}:{:04.1}",
        ms / 60_000,
        (ms % 60_000) as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_796_215_200_000; // 2026-12-02T12:40:00Z

    fn facts() -> Facts {
        let ev = |t: &str, s: &str, ts: i64, extra: Value| {
            let mut e = json!({"type": t, "session": s, "ts": ts});
            e.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            e
        };
        Facts {
            scenario: "checkout-outage".into(),
            speed: 2.0,
            shoppers: 3,
            seed: 7,
            database: "sqlite".into(),
            fault: "POST /api/checkout → 503".into(),
            started_ms: T0,
            outage_ms: (T0 + 30_000, T0 + 60_000),
            ended_ms: T0 + 90_000,
            events: vec![
                ev("call", "s1", T0 + 1_000, json!({"outcome": "ok"})),
                ev("call", "s2", T0 + 31_000, json!({"outcome": "http_error"})),
                ev("fallback_shown", "s2", T0 + 31_200, json!({})),
                ev("fallback_shown", "s3", T0 + 40_000, json!({})),
                ev("survey_answered", "s3", T0 + 44_000, json!({})),
                ev("page_exit", "s4", T0 + 50_000, json!({})),
            ],
            answers: vec![json!({"email": "a@example.com"}), json!({"email": null})],
            triggered_ms: Some(T0 + 42_500),
            resolved_ms: Some(T0 + 71_000),
            incident: Some("storefront API errors 9.0× baseline".into()),
            abandoned: 2,
            emails_ms: vec![T0 + 73_000, T0 + 72_500],
        }
    }

    #[test]
    fn timeline_from_facts() {
        let t = Timeline::from_facts(&facts());
        assert_eq!(t.first_fallback_shown, Some(T0 + 31_200));
        assert_eq!(t.first_survey_answer, Some(T0 + 44_000));
        assert_eq!((t.sessions, t.sessions_affected), (4, 2));
        assert_eq!(t.contacts_captured, 1);
        assert_eq!(t.detection_delay_s(), Some(12.5));
        assert_eq!(t.resolution_delay_s(), Some(11.0));
        assert_eq!(t.emails_sent, 2);
        assert_eq!(t.first_recovery_email, Some(T0 + 72_500));
        let order: Vec<&str> = t.moments().iter().map(|m| m.1).collect();
        assert_eq!(order[2], "first fallback shown");
        assert_eq!(order[3], "incident triggered (PagerDuty receiver)");
        assert_eq!(order.last(), Some(&"first recovery email delivered"));
    }

    #[test]
    fn json_names_and_rfc3339_times() {
        let j = Timeline::from_facts(&facts()).to_json();
        assert_eq!(j["outage_started_at"], "2026-12-02T12:40:30Z");
        assert_eq!(j["first_fallback_shown_at"], "2026-12-02T12:40:31.2Z");
        assert_eq!(j["incident_triggered_at"], "2026-12-02T12:40:42.5Z");
        assert_eq!(j["first_recovery_email_at"], "2026-12-02T12:41:12.5Z");
        assert_eq!(j["emails_sent"], 2);
        for k in [
            "outage_started_at",
            "first_fallback_shown_at",
            "first_survey_answer_at",
            "incident_triggered_at",
            "incident_resolved_at",
            "first_recovery_email_at",
            "sessions",
            "sessions_affected",
            "abandoned",
            "contacts_captured",
            "emails_sent",
        ] {
            assert!(j.get(k).is_some(), "{k} missing: {j}");
        }
        assert_eq!(j["detection_delay_s"], 12.5);
        assert_eq!(j["incident_resolved_at"], "2026-12-02T12:41:11Z");
    }

    #[test]
    fn text_shows_every_step_and_what_did_not_happen() {
        let text = Timeline::from_facts(&facts()).render_text();
        assert!(text.contains("detection delay 12.5 s"), "{text}");
        assert!(text.contains("12:40:42.500  incident triggered"), "{text}");
        assert!(
            text.contains("12:41:12.500  first recovery email delivered"),
            "{text}"
        );
        assert!(text.contains("emails sent 2"), "{text}");
        assert_eq!(offset(62_500), "+1:02.5");

        // No contacts, no emails: said why, not "never".
        let mut f = facts();
        f.answers.clear();
        f.emails_ms.clear();
        let text = Timeline::from_facts(&f).render_text();
        assert!(
            text.contains("first recovery email delivered: none (no contacts captured)"),
            "{text}"
        );
        // Contacts but no email: that is a failure, said plainly.
        let mut f = facts();
        f.emails_ms.clear();
        let text = Timeline::from_facts(&f).render_text();
        assert!(
            text.contains("first recovery email delivered: never"),
            "{text}"
        );
    }
}

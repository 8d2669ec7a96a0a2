//! What an incident says: totals over its buckets, the endpoints most
//! responsible, the causes shoppers met before leaving, sample sessions and
//! a one-line summary ("checkout abandonment 4.1× baseline since 14:02 UTC,
//! 83% of affected sessions saw 503 from POST /api/checkout"). Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detect::attribution::{rank_endpoints, Culprit, EndpointWindow};

/// Most culprits and causes listed.
const TOP: usize = 5;
/// Most sample sessions listed.
const MAX_SAMPLES: usize = 10;

/// Counts over the incident's buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Checkouts abandoned.
    pub abandonments: u64,
    /// Of which after trouble.
    pub abandon_after_trouble: u64,
    /// Checkouts completed.
    pub completions: u64,
    /// Watched calls.
    pub calls: u64,
    /// Errors.
    pub errors: u64,
    /// Stalls.
    pub stalls: u64,
}

/// A trouble that shoppers met before abandoning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// `"POST /api/checkout 503"`.
    pub label: String,
    /// Abandoned sessions whose first trouble it was.
    pub sessions: u64,
    /// Share of all abandoned sessions in the window.
    pub share: f64,
}

/// The incident's evidence. Missing fields read as empty, so rows written
/// by older versions still load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IncidentDetails {
    /// Totals over the window.
    pub totals: Totals,
    /// Endpoints by excess trouble, most responsible first.
    pub culprits: Vec<Culprit>,
    /// Causes met before abandoning, commonest first.
    pub causes: Vec<Cause>,
    /// Abandoned session ids.
    pub samples: Vec<String>,
    /// Exit-survey answers received during the incident (newest first; no
    /// emails).
    #[serde(default)]
    pub survey: SurveyDigest,
}

/// Exit-survey answers given during an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SurveyDigest {
    /// Answers received in the window.
    pub answered: u64,
    /// Answers by chosen option, commonest first.
    pub choices: Vec<(String, u64)>,
    /// The latest answers.
    pub latest: Vec<SurveyBrief>,
}

/// One answer, as shown with an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SurveyBrief {
    /// Session that answered.
    pub session: String,
    /// Received at, ms.
    pub at: i64,
    /// Chosen option id.
    pub choice: Option<String>,
    /// Free text, verbatim (escape when displaying).
    pub free_text: Option<String>,
    /// Rating 1–5.
    pub rating: Option<i64>,
    /// The last trouble status the shopper met, if any.
    pub last_status: Option<i64>,
}

/// One bucket row as read back for an incident window.
#[derive(Debug, Clone, Default)]
pub struct WindowBucket {
    /// Counts.
    pub totals: Totals,
    /// Causes in the bucket.
    pub causes: BTreeMap<String, u64>,
    /// Sample sessions in the bucket.
    pub samples: Vec<String>,
}

impl IncidentDetails {
    /// Sum `buckets` and rank `endpoints` against their baselines.
    pub fn build(
        buckets: &[WindowBucket],
        endpoints: &BTreeMap<String, EndpointWindow>,
        baseline_rate: impl Fn(&str) -> f64,
    ) -> Self {
        let mut d = IncidentDetails::default();
        let mut causes: BTreeMap<String, u64> = BTreeMap::new();
        for b in buckets {
            let t = &mut d.totals;
            t.abandonments += b.totals.abandonments;
            t.abandon_after_trouble += b.totals.abandon_after_trouble;
            t.completions += b.totals.completions;
            t.calls += b.totals.calls;
            t.errors += b.totals.errors;
            t.stalls += b.totals.stalls;
            for (k, v) in &b.causes {
                *causes.entry(k.clone()).or_default() += v;
            }
            for s in &b.samples {
                if d.samples.len() < MAX_SAMPLES {
                    d.samples.push(s.clone());
                }
            }
        }
        let abandoned = d.totals.abandonments.max(1) as f64;
        let mut causes: Vec<Cause> = causes
            .into_iter()
            .map(|(label, sessions)| Cause {
                label,
                sessions,
                share: sessions as f64 / abandoned,
            })
            .collect();
        causes.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.label.cmp(&b.label)));
        causes.truncate(TOP);
        d.causes = causes;
        d.culprits = rank_endpoints(endpoints, baseline_rate);
        d.culprits.truncate(TOP);
        d
    }
}

/// Human name of a series.
pub fn series_label(series: &str) -> &str {
    match series {
        "abandonment" => "checkout abandonment",
        "errors" => "storefront API errors",
        "stalls" => "storefront API stalls",
        other => other,
    }
}

/// `HH:MM UTC` of a ms timestamp.
pub fn clock(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02} UTC", minutes / 60, minutes % 60)
}

/// The one-line summary.
pub fn summary(series: &str, ratio: f64, since: i64, d: &IncidentDetails) -> String {
    let mut s = format!(
        "{} {:.1}× baseline since {}",
        series_label(series),
        ratio,
        clock(since)
    );
    if series == "abandonment" {
        if let Some(c) = d.causes.first() {
            if let Some((endpoint, status)) = c.label.rsplit_once(' ') {
                s.push_str(&format!(
                    ", {:.0}% of affected sessions saw {status} from {endpoint}",
                    c.share * 100.0
                ));
            }
        }
    } else if let Some(c) = d.culprits.first() {
        s.push_str(&format!(", led by {}", c.endpoint));
        if let Some(st) = &c.top_status {
            s.push_str(&format!(" ({st})"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_share_status_and_endpoint() {
        let b = WindowBucket {
            totals: Totals {
                abandonments: 12,
                abandon_after_trouble: 10,
                ..Default::default()
            },
            causes: [("POST /api/checkout 503".to_string(), 10)].into(),
            samples: vec!["s_1".into()],
        };
        let d = IncidentDetails::build(&[b], &BTreeMap::new(), |_| 0.0);
        assert_eq!(d.causes[0].sessions, 10);
        let s = summary("abandonment", 4.123, 14 * 3_600_000 + 2 * 60_000, &d);
        assert_eq!(
            s,
            "checkout abandonment 4.1× baseline since 14:02 UTC, 83% of affected sessions saw 503 from POST /api/checkout"
        );
    }
}

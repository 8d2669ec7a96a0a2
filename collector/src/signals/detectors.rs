//! The detectors of one site: one [`SeriesDetector`] per watched series plus
//! each endpoint's normal trouble rate (for attribution). Plain data, stored
//! as JSON after every bucket.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rollup::BucketRollup;
use crate::detect::{DetectorParams, SeriesDetector, SeriesKind};

/// The watched series, by name (as used by the read API and incidents).
pub const SERIES: [&str; 3] = ["abandonment", "errors", "stalls"];

/// Most endpoints whose baselines are kept (the busiest win).
const MAX_ENDPOINTS: usize = 64;

/// `(events, trials)` of series `name` in `r`.
pub fn series_counts(name: &str, r: &BucketRollup) -> Option<(u64, u64)> {
    match name {
        // Of the checkouts that ended in the bucket, how many were abandoned.
        "abandonment" => Some((r.abandonments, r.abandonments + r.completions)),
        "errors" => Some((r.errors, r.calls)),
        "stalls" => Some((r.stalls, r.calls)),
        _ => None,
    }
}

/// One endpoint's learned trouble rate (EWMA numerator and denominator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointBaseline {
    /// EWMA of errors + stalls per bucket.
    pub trouble: f64,
    /// EWMA of calls per bucket.
    pub calls: f64,
}

impl EndpointBaseline {
    /// The endpoint's normal trouble rate.
    pub fn rate(&self) -> f64 {
        if self.calls > 0.0 {
            self.trouble / self.calls
        } else {
            0.0
        }
    }
}

/// Every detector of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteDetectors {
    /// By series name.
    pub series: BTreeMap<String, SeriesDetector>,
    /// By endpoint key.
    pub endpoints: BTreeMap<String, EndpointBaseline>,
}

impl Default for SiteDetectors {
    fn default() -> Self {
        Self {
            series: SERIES
                .iter()
                .map(|s| (s.to_string(), SeriesDetector::new(SeriesKind::Rate)))
                .collect(),
            endpoints: BTreeMap::new(),
        }
    }
}

/// What one bucket did to one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesStep {
    /// Series name.
    pub series: String,
    /// The detector's step.
    pub step: crate::detect::series::Step,
}

impl SiteDetectors {
    /// Feed one closed bucket to every series.
    pub fn observe(&mut self, p: &DetectorParams, r: &BucketRollup) -> Vec<SeriesStep> {
        let mut steps = Vec::new();
        for (name, d) in self.series.iter_mut() {
            let Some((events, trials)) = series_counts(name, r) else {
                continue;
            };
            let step = d.observe(p, r.bucket_start, events, trials);
            steps.push(SeriesStep {
                series: name.clone(),
                step,
            });
        }
        // Endpoint baselines learn only from normal buckets: not while an
        // incident is open, and not from a bucket that breaches (an outage's
        // first buckets, before the incident opens, would otherwise be
        // learned; an endpoint first seen in them would get the outage as its
        // baseline, and no excess to be named a culprit for).
        let breaching = steps.iter().any(|s| {
            matches!(
                s.step.verdict,
                crate::detect::series::Verdict::Breach { .. }
            )
        });
        if !breaching && self.series.values().all(|d| d.firing.is_none()) {
            for (key, e) in &r.endpoints {
                let b = self.endpoints.entry(key.clone()).or_default();
                let (t, c) = ((e.errors + e.stalls) as f64, e.calls as f64);
                if b.calls == 0.0 {
                    *b = EndpointBaseline {
                        trouble: t,
                        calls: c,
                    };
                } else {
                    b.trouble = p.ewma_lambda * t + (1.0 - p.ewma_lambda) * b.trouble;
                    b.calls = p.ewma_lambda * c + (1.0 - p.ewma_lambda) * b.calls;
                }
            }
            if self.endpoints.len() > MAX_ENDPOINTS {
                let mut by_calls: Vec<(String, f64)> = self
                    .endpoints
                    .iter()
                    .map(|(k, b)| (k.clone(), b.calls))
                    .collect();
                by_calls.sort_by(|a, b| b.1.total_cmp(&a.1));
                for (k, _) in by_calls.into_iter().skip(MAX_ENDPOINTS) {
                    self.endpoints.remove(&k);
                }
            }
        }
        steps
    }

    /// An endpoint's normal trouble rate (0 when unknown).
    pub fn endpoint_rate(&self, endpoint: &str) -> f64 {
        self.endpoints
            .get(endpoint)
            .map_or(0.0, EndpointBaseline::rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::rollup::DimRollup;

    fn bucket(i: i64, endpoints: &[(&str, u64, u64)]) -> BucketRollup {
        let mut r = BucketRollup {
            bucket_start: i * 60_000,
            ..Default::default()
        };
        for (name, calls, errors) in endpoints {
            r.calls += calls;
            r.errors += errors;
            let mut e = DimRollup::default();
            e.calls = *calls;
            e.errors = *errors;
            r.endpoints.insert(name.to_string(), e);
        }
        r
    }

    #[test]
    fn an_endpoint_first_seen_in_an_outage_keeps_a_healthy_baseline() {
        let p = DetectorParams {
            warmup_buckets: 3,
            min_trials: 8,
            // The first outage bucket breaches but is too few errors to open
            // on: the incident opens one bucket later.
            min_events: 30,
            open_after: 2,
            ..Default::default()
        };
        let mut d = SiteDetectors::default();
        for i in 0..10 {
            d.observe(&p, &bucket(i, &[("GET /api/cart", 100, 1)]));
        }
        // The outage: a new endpoint fails every call, from its first bucket.
        let mut opened = false;
        for i in 10..14 {
            let steps = d.observe(
                &p,
                &bucket(i, &[("GET /api/cart", 100, 1), ("POST /api/new", 20, 20)]),
            );
            opened |= steps.iter().any(|s| {
                matches!(
                    s.step.transition,
                    Some(crate::detect::Transition::Open { .. })
                )
            });
        }
        assert!(opened, "the outage opens an incident");
        assert_eq!(
            d.endpoint_rate("POST /api/new"),
            0.0,
            "the outage is not its baseline, so its errors are excess"
        );
        assert!((d.endpoint_rate("GET /api/cart") - 0.01).abs() < 1e-9);
    }
}

//! Which endpoints (and statuses) explain an incident: rank endpoints by
//! their *excess* trouble over the incident's buckets, i.e. errors and
//! stalls beyond what each endpoint's own baseline predicts. An endpoint
//! that always fails a little doesn't outrank the one that just broke.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One endpoint's traffic summed over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointWindow {
    /// Calls.
    pub calls: u64,
    /// Errors (HTTP, network, application).
    pub errors: u64,
    /// Stalls.
    pub stalls: u64,
    /// Trouble by label (`"503"`, `"network_error"`, `"stall"`).
    pub statuses: BTreeMap<String, u64>,
}

/// An endpoint named as responsible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Culprit {
    /// `"POST /api/checkout"`.
    pub endpoint: String,
    /// The most frequent trouble label (`"503"`), if any.
    pub top_status: Option<String>,
    /// Calls in the window.
    pub calls: u64,
    /// Errors plus stalls in the window.
    pub trouble: u64,
    /// Trouble beyond the endpoint's baseline.
    pub excess: f64,
}

/// Rank endpoints by excess trouble; endpoints with no excess are left out.
/// `baseline_rate(endpoint)` is the endpoint's normal trouble rate.
pub fn rank_endpoints(
    windows: &BTreeMap<String, EndpointWindow>,
    baseline_rate: impl Fn(&str) -> f64,
) -> Vec<Culprit> {
    let mut out: Vec<Culprit> = windows
        .iter()
        .filter_map(|(endpoint, w)| {
            let trouble = w.errors + w.stalls;
            let excess = trouble as f64 - w.calls as f64 * baseline_rate(endpoint);
            (trouble > 0 && excess > 0.0).then(|| Culprit {
                endpoint: endpoint.clone(),
                top_status: top_label(&w.statuses),
                calls: w.calls,
                trouble,
                excess,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.excess
            .total_cmp(&a.excess)
            .then(a.endpoint.cmp(&b.endpoint))
    });
    out
}

/// The most frequent label (ties: alphabetical, for stable output).
pub fn top_label(counts: &BTreeMap<String, u64>) -> Option<String> {
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(calls: u64, errors: u64, status: &str) -> EndpointWindow {
        EndpointWindow {
            calls,
            errors,
            stalls: 0,
            statuses: [(status.to_string(), errors)].into(),
        }
    }

    #[test]
    fn a_chronically_flaky_endpoint_does_not_outrank_the_broken_one() {
        let windows: BTreeMap<String, EndpointWindow> = [
            ("GET /api/price/*".to_string(), w(1000, 50, "500")),
            ("POST /api/payment".to_string(), w(100, 40, "503")),
            ("POST /api/cart".to_string(), w(300, 0, "")),
        ]
        .into();
        let ranked = rank_endpoints(&windows, |e| if e.starts_with("GET") { 0.05 } else { 0.01 });
        assert_eq!(ranked.len(), 1, "{ranked:?}");
        assert_eq!(ranked[0].endpoint, "POST /api/payment");
        assert_eq!(ranked[0].top_status.as_deref(), Some("503"));
    }
}

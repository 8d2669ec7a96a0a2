//! Per-bucket rollups: fold the events received in one bucket into the
//! session model and count what the detector and the read API need — sessions,
//! checkout starts, completions, abandonments (and those after trouble), and
//! per endpoint and per SKU: calls, errors, stalls, p50/p95 latency.
//!
//! An ending is counted in the bucket where it became certain: a completion
//! when it arrives, an abandonment when its grace (or inactivity) runs out.
//! So a closed bucket never changes again.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use steadycart_protocol::{Event, EventBody, Outcome};

use super::session::{trouble_label, Ending, SessionState, SessionTiming};

/// Most sample session ids kept per bucket.
pub const MAX_SAMPLES: usize = 5;

/// `"POST /api/price/*"`: method plus the URL's path, with segments that
/// hold digits (ids, SKUs) replaced by `*` so endpoints don't explode into
/// one series per product. The host is dropped: rules already chose the calls.
pub fn endpoint_key(method: &str, url: &str) -> String {
    let path = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map_or("/", |j| &url[i + 3 + j..]),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let norm: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.bytes().any(|b| b.is_ascii_digit()) {
                "*"
            } else {
                seg
            }
        })
        .collect();
    let mut p = norm.join("/");
    if p.is_empty() {
        p.push('/');
    }
    format!("{} {}", method.to_ascii_uppercase(), p)
}

/// Calls of one endpoint or SKU in one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DimRollup {
    /// Calls that ended (or stalled).
    pub calls: u64,
    /// HTTP, network and application errors.
    pub errors: u64,
    /// Stalls.
    pub stalls: u64,
    /// Median latency of finished calls, ms.
    pub p50_ms: Option<u32>,
    /// 95th percentile latency of finished calls, ms.
    pub p95_ms: Option<u32>,
    /// Trouble by label (`"503"`, `"stall"`).
    pub statuses: BTreeMap<String, u64>,
    #[serde(skip)]
    latencies: Vec<u32>,
}

impl DimRollup {
    fn add(&mut self, outcome: Outcome, label: Option<String>, duration_ms: u32) {
        self.calls += 1;
        match outcome {
            Outcome::Stall => self.stalls += 1,
            Outcome::HttpError | Outcome::NetworkError | Outcome::AppError => self.errors += 1,
            _ => {}
        }
        if outcome != Outcome::Stall {
            self.latencies.push(duration_ms);
        }
        if let Some(label) = label {
            *self.statuses.entry(label).or_default() += 1;
        }
    }

    fn finish(&mut self) {
        let mut l = std::mem::take(&mut self.latencies);
        if l.is_empty() {
            return;
        }
        l.sort_unstable();
        let pick = |q: f64| l[((l.len() as f64 * q).ceil() as usize).clamp(1, l.len()) - 1];
        self.p50_ms = Some(pick(0.50));
        self.p95_ms = Some(pick(0.95));
    }
}

/// Everything counted in one bucket of one site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketRollup {
    /// Bucket start, ms.
    pub bucket_start: i64,
    /// Sessions first seen.
    pub sessions: u64,
    /// Checkouts started.
    pub checkout_starts: u64,
    /// Checkouts completed.
    pub completions: u64,
    /// Checkouts abandoned.
    pub abandonments: u64,
    /// Abandonments of sessions that met trouble first.
    pub abandon_after_trouble: u64,
    /// Watched calls (all endpoints).
    pub calls: u64,
    /// Errors (all endpoints).
    pub errors: u64,
    /// Stalls (all endpoints).
    pub stalls: u64,
    /// Per endpoint (`"POST /api/checkout"`).
    pub endpoints: BTreeMap<String, DimRollup>,
    /// Per SKU, where the snippet reported one.
    pub skus: BTreeMap<String, DimRollup>,
    /// First trouble of sessions abandoned after trouble:
    /// `"POST /api/checkout 503"` → sessions.
    pub causes: BTreeMap<String, u64>,
    /// A few abandoned session ids, for the incident.
    pub samples: Vec<String>,
}

/// Fold `events` (received in `[start, end)`, in receive order) into
/// `sessions`, settle sessions whose grace ran out before `end`, and count.
/// Returns the rollup and the ids of sessions that changed.
pub fn roll_bucket(
    sessions: &mut HashMap<String, SessionState>,
    events: &[(i64, Event)],
    start: i64,
    end: i64,
    timing: &SessionTiming,
) -> (BucketRollup, Vec<String>) {
    let mut r = BucketRollup {
        bucket_start: start,
        ..Default::default()
    };
    let mut touched: Vec<String> = Vec::new();
    for (at, event) in events {
        let id = &event.session;
        let session = match sessions.get_mut(id) {
            Some(s) => {
                // Abandoned before this event came? Count it where it was due.
                if s.settle(at - 1, timing) {
                    count_abandonment(&mut r, id, s);
                }
                s
            }
            None => {
                r.sessions += 1;
                sessions.entry(id.clone()).or_insert(SessionState::new(*at))
            }
        };
        let applied = session.apply(event, *at);
        if applied.checkout_started {
            r.checkout_starts += 1;
        }
        if applied.ended == Some(Ending::Completed) {
            r.completions += 1;
        }
        if let EventBody::Call(call) = &event.body {
            let label = trouble_label(call);
            let key = endpoint_key(&call.method, &call.url);
            r.calls += 1;
            match call.outcome {
                Outcome::Stall => r.stalls += 1,
                Outcome::HttpError | Outcome::NetworkError | Outcome::AppError => r.errors += 1,
                _ => {}
            }
            r.endpoints
                .entry(key)
                .or_default()
                .add(call.outcome, label.clone(), call.duration_ms);
            if let Some(sku) = &call.sku {
                r.skus
                    .entry(sku.clone())
                    .or_default()
                    .add(call.outcome, label, call.duration_ms);
            }
        }
        touched.push(id.clone());
    }
    for (id, s) in sessions.iter_mut() {
        if s.settle(end - 1, timing) {
            count_abandonment(&mut r, id, s);
            touched.push(id.clone());
        }
    }
    for d in r.endpoints.values_mut().chain(r.skus.values_mut()) {
        d.finish();
    }
    touched.sort();
    touched.dedup();
    (r, touched)
}

fn count_abandonment(r: &mut BucketRollup, id: &str, s: &SessionState) {
    r.abandonments += 1;
    if s.trouble_count > 0 {
        r.abandon_after_trouble += 1;
        if let Some(t) = &s.first_trouble {
            *r.causes
                .entry(format!("{} {}", t.endpoint, t.status))
                .or_default() += 1;
        }
    }
    if r.samples.len() < MAX_SAMPLES {
        r.samples.push(id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadycart_protocol::{CallEvent, Role};

    #[test]
    fn endpoint_keys_group_ids_and_drop_hosts() {
        assert_eq!(
            endpoint_key("post", "https://shop.example/api/checkout"),
            "POST /api/checkout"
        );
        assert_eq!(
            endpoint_key("GET", "https://x.example/api/price/sku-123"),
            "GET /api/price/*"
        );
        assert_eq!(endpoint_key("GET", "/api/cart?x=1"), "GET /api/cart");
        assert_eq!(endpoint_key("GET", "https://x.example"), "GET /");
    }

    fn call(
        session: &str,
        outcome: Outcome,
        status: Option<u16>,
        ms: u32,
        sku: Option<&str>,
    ) -> Event {
        Event {
            id: "0".repeat(32),
            ts: 0,
            session: session.into(),
            page: None,
            body: EventBody::Call(CallEvent {
                role: Role::Price,
                outcome,
                method: "GET".into(),
                url: "https://shop.example/api/price/sku-1".into(),
                status,
                duration_ms: ms,
                sku: sku.map(Into::into),
            }),
        }
    }

    #[test]
    fn counts_calls_percentiles_and_skus() {
        let timing = SessionTiming {
            exit_grace_ms: 10,
            inactivity_ms: 1000,
        };
        let mut events: Vec<(i64, Event)> = (1..=20u32)
            .map(|i| {
                (
                    i as i64,
                    call("s_a", Outcome::Ok, Some(200), i * 10, Some("sku-1")),
                )
            })
            .collect();
        events.push((30, call("s_b", Outcome::HttpError, Some(503), 5, None)));
        events.push((31, call("s_b", Outcome::Stall, None, 3000, None)));
        let mut sessions = HashMap::new();
        let (r, touched) = roll_bucket(&mut sessions, &events, 0, 100, &timing);
        assert_eq!((r.sessions, r.calls, r.errors, r.stalls), (2, 22, 1, 1));
        let e = &r.endpoints["GET /api/price/*"];
        assert_eq!((e.calls, e.errors, e.stalls), (22, 1, 1));
        // 21 finished latencies: 5 and 10..=200.
        assert_eq!(e.p50_ms, Some(100));
        assert_eq!(e.p95_ms, Some(190));
        assert_eq!(e.statuses["503"], 1);
        assert_eq!(r.skus["sku-1"].calls, 20);
        assert_eq!(touched, vec!["s_a".to_string(), "s_b".to_string()]);
    }
}

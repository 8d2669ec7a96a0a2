//! Process-wide Prometheus metrics served at `GET /metrics` (OpenMetrics
//! text): events accepted by site and kind, ingest rejections by reason,
//! request latency by route, writer commits, queue depth, database
//! reachability, and the recovery emails queued and held by an SMTP
//! configuration fault.
//!
//! Per-site signal gauges (abandonment, error and stall rates, baselines,
//! open incidents) stay behind the site's admin token at
//! `GET /v1/admin/sites/{site}/metrics` ([`crate::http::incidents`]); the
//! names here share their `steadycart_` prefix. Labels carry only public
//! identifiers (site keys, route templates, event kinds), never tokens,
//! emails or URLs sent by shoppers.

use std::time::Duration;

use axum::http::Method;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};

/// `{site, kind}` of accepted events.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// The site's public key.
    pub site: String,
    /// The event type (`call`, `page_exit`, …).
    pub kind: &'static str,
}

/// `{reason}` of a rejected ingest request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why (`unknown_key`, `origin`, `invalid`, `rate_limited_ip`, …).
    pub reason: &'static str,
}

/// `{method, route, status}` of an HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method: a standard one's name, else `other` (clients may send
    /// any token as a method; labels must stay few).
    pub method: &'static str,
    /// The matched route template (`/v1/admin/sites/{site}/events`), or
    /// `unmatched`, so paths sent by clients cannot grow the label set.
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// The `method` label: the standard methods by name, any other as `other`.
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD
        .iter()
        .find(|m| *m == method)
        .map_or("other", Method::as_str)
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every process-wide metric.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events accepted (committed, or already stored from an earlier send of
    /// the same batch), by site and kind.
    pub events_accepted: Family<EventLabels, Counter>,
    /// Events skipped as duplicates within a batch.
    pub events_duplicate: Counter,
    /// Refused ingest requests, by reason.
    pub ingest_rejected: Family<ReasonLabels, Counter>,
    /// Request latency, by method, route and status.
    pub request_duration: HistogramFamily<RequestLabels>,
    /// Time to commit one group of batches.
    pub writer_commit_duration: Histogram,
    /// Events per group commit.
    pub writer_commit_events: Histogram,
    /// Failed group commits.
    pub writer_commit_failures: Counter,
    /// Batches the writer skipped because their request had answered 503
    /// for `[ingest] max_queue_wait`.
    pub writer_skipped_batches: Counter,
    /// Batches waiting for the writer (set when scraped).
    pub queue_depth: Gauge,
    /// Capacity of the writer queue.
    pub queue_capacity: Gauge,
    /// 1 when the database answered a ping during the scrape.
    pub database_up: Gauge,
    /// Recovery emails waiting to be sent (set when scraped).
    pub recovery_queued: Gauge,
    /// Of those, the ones held by an SMTP configuration fault (set when
    /// scraped): above 0, the shop's SMTP settings need fixing.
    pub recovery_held: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let events_accepted = Family::<EventLabels, Counter>::default();
        registry.register(
            "steadycart_ingest_events_accepted",
            "Events accepted, by site key and event kind (a batch sent again whole counts again; its events are stored once)",
            events_accepted.clone(),
        );
        let events_duplicate = Counter::default();
        registry.register(
            "steadycart_ingest_events_duplicate",
            "Events skipped because their id repeated within a batch",
            events_duplicate.clone(),
        );
        let ingest_rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "steadycart_ingest_rejected",
            "Ingest requests refused, by reason",
            ingest_rejected.clone(),
        );
        let request_duration: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "steadycart_http_request_duration_seconds",
            "Time from request to response headers, by method, route template and status",
            request_duration.clone(),
        );
        let writer_commit_duration = latency_histogram();
        registry.register(
            "steadycart_writer_commit_duration_seconds",
            "Time to commit one group of batches",
            writer_commit_duration.clone(),
        );
        let writer_commit_events = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        registry.register(
            "steadycart_writer_commit_events",
            "Events per group commit",
            writer_commit_events.clone(),
        );
        let writer_commit_failures = Counter::default();
        registry.register(
            "steadycart_writer_commit_failures",
            "Group commits the database refused",
            writer_commit_failures.clone(),
        );
        let writer_skipped_batches = Counter::default();
        registry.register(
            "steadycart_writer_skipped_batches",
            "Queued batches skipped because their request had answered 503 for [ingest] max_queue_wait; the client sends them again",
            writer_skipped_batches.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "steadycart_ingest_queue_depth",
            "Batches waiting for the writer",
            queue_depth.clone(),
        );
        let queue_capacity = Gauge::default();
        registry.register(
            "steadycart_ingest_queue_capacity",
            "Batches the writer queue holds before ingest answers 503",
            queue_capacity.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "steadycart_database_up",
            "1 when the database answered a ping during this scrape",
            database_up.clone(),
        );
        let recovery_queued = Gauge::default();
        registry.register(
            "steadycart_recovery_emails_queued",
            "Recovery emails waiting to be sent",
            recovery_queued.clone(),
        );
        let recovery_held = Gauge::default();
        registry.register(
            "steadycart_recovery_emails_held",
            "Queued recovery emails held by an SMTP configuration fault (refused credentials, TLS, sender refused): fix the SMTP settings",
            recovery_held.clone(),
        );
        Metrics {
            registry,
            events_accepted,
            events_duplicate,
            ingest_rejected,
            request_duration,
            writer_commit_duration,
            writer_commit_events,
            writer_commit_failures,
            writer_skipped_batches,
            queue_depth,
            queue_capacity,
            database_up,
            recovery_queued,
            recovery_held,
        }
    }

    /// Count a refused ingest request.
    pub fn reject(&self, reason: &'static str) {
        self.ingest_rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Record one request's latency.
    pub fn observe_request(&self, method: &Method, route: &str, status: u16, took: Duration) {
        self.request_duration
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: route.to_string(),
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_histograms_and_gauges() {
        let m = Metrics::new();
        m.events_accepted
            .get_or_create(&EventLabels {
                site: "sk_abc".into(),
                kind: "call",
            })
            .inc_by(3);
        m.reject("rate_limited_ip");
        m.observe_request(&Method::POST, "/v1/ingest", 200, Duration::from_millis(3));
        let made_up = Method::from_bytes(b"BREW").unwrap();
        m.observe_request(&made_up, "unmatched", 404, Duration::from_millis(1));
        m.queue_depth.set(7);
        let text = m.encode();
        assert!(
            text.contains(
                r#"steadycart_ingest_events_accepted_total{site="sk_abc",kind="call"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"steadycart_ingest_rejected_total{reason="rate_limited_ip"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"steadycart_http_request_duration_seconds_count{method="POST",route="/v1/ingest",status="200"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"steadycart_http_request_duration_seconds_count{method="other",route="unmatched",status="404"} 1"#
        ), "{text}");
        assert!(!text.contains("BREW"), "{text}");
        assert!(text.contains("steadycart_ingest_queue_depth 7"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}

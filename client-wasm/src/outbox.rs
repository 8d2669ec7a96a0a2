//! Events waiting for delivery, already encoded as JSON (so byte sizes are
//! exact and persisting or batching never re-encodes): flushed on count, age
//! or size; bounded by a byte budget (oldest dropped first, counted and
//! reported in a later batch); batches built to fit a byte limit; exponential
//! backoff with jitter between failed deliveries.

use crate::event_json::push_int;

/// Bytes a batch adds around its events (envelope with generous room for
/// the numbers and the sdk name).
pub const BATCH_OVERHEAD: usize = 160;

/// Queued events and the flush policy.
#[derive(Debug)]
pub struct Outbox {
    /// Oldest first. A `Vec`, not a `VecDeque`: the queue is short, and
    /// `VecDeque`'s own code cost the wasm about 1 KB.
    queue: Vec<String>,
    bytes: usize,
    oldest_at: Option<f64>,
    dropped: u32,
    /// Flush when this many events wait.
    pub flush_count: usize,
    /// Flush when the oldest waiting event is this old, ms.
    pub flush_age_ms: f64,
    /// Flush when the waiting events reach this many bytes.
    pub flush_bytes: usize,
    /// Most bytes of events kept; beyond it the oldest are dropped and counted.
    pub capacity_bytes: usize,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            queue: Vec::new(),
            bytes: 0,
            oldest_at: None,
            dropped: 0,
            flush_count: 20,
            flush_age_ms: 1000.0,
            flush_bytes: crate::delivery::FLUSH_BYTES,
            capacity_bytes: 64 * 1024,
        }
    }
}

impl Outbox {
    /// An outbox following `settings`.
    pub fn new(settings: &crate::delivery::Delivery) -> Outbox {
        Outbox {
            flush_count: settings.flush_count as usize,
            flush_age_ms: f64::from(settings.flush_ms),
            capacity_bytes: settings.store_bytes as usize,
            ..Outbox::default()
        }
    }

    /// Queue an encoded event at `now`.
    pub fn push(&mut self, event: String, now: f64) {
        self.bytes += event.len();
        self.queue.push(event);
        self.oldest_at.get_or_insert(now);
        self.trim();
    }

    fn trim(&mut self) {
        let mut n = 0;
        while self.bytes > self.capacity_bytes && n < self.queue.len() {
            self.bytes -= self.queue[n].len();
            self.dropped += 1;
            n += 1;
        }
        if n > 0 {
            self.queue = self.queue.split_off(n);
        }
        if self.queue.is_empty() {
            self.oldest_at = None;
        }
    }

    /// Whether a flush is due at `now`.
    pub fn due(&self, now: f64) -> bool {
        self.queue.len() >= self.flush_count
            || self.bytes >= self.flush_bytes
            || self.oldest_at.is_some_and(|t| now - t >= self.flush_age_ms)
    }

    /// Ms until a flush is due, if anything waits.
    pub fn ms_until_due(&self, now: f64) -> Option<f64> {
        if self.due(now) {
            return Some(0.0);
        }
        self.oldest_at
            .map(|t| (t + self.flush_age_ms - now).max(0.0))
    }

    /// Take events from the front for one batch: at most `max_events`, and
    /// as many as fit in a body of `max_body` bytes (at least one).
    pub fn take_batch(&mut self, max_events: usize, max_body: usize) -> Vec<String> {
        let mut size = BATCH_OVERHEAD;
        let mut n = 0;
        for e in self.queue.iter().take(max_events) {
            if n > 0 && size + e.len() + 1 > max_body {
                break;
            }
            size += e.len() + 1;
            n += 1;
        }
        let rest = self.queue.split_off(n);
        let out = std::mem::replace(&mut self.queue, rest);
        self.bytes -= out.iter().map(String::len).sum::<usize>();
        if self.queue.is_empty() {
            self.oldest_at = None;
        }
        out
    }

    /// Put events back at the front, in order (a failed delivery, or events
    /// adopted from an earlier page). Over the budget, the oldest go.
    pub fn requeue(&mut self, events: Vec<String>, now: f64) {
        self.bytes += events.iter().map(String::len).sum::<usize>();
        let later = std::mem::replace(&mut self.queue, events);
        self.queue.extend(later);
        self.oldest_at.get_or_insert(now);
        self.trim();
    }

    /// The queued events, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.queue.iter()
    }

    /// Forget every queued event (another page took them over).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
        self.oldest_at = None;
    }

    /// Take the count of dropped events (to report in the next batch).
    pub fn take_dropped(&mut self) -> u32 {
        std::mem::take(&mut self.dropped)
    }

    /// Add to the dropped count (a batch that was not delivered, or counts
    /// adopted from an earlier page).
    pub fn restore_dropped(&mut self, n: u32) {
        self.dropped = self.dropped.saturating_add(n);
    }

    /// The dropped count not yet reported.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Bytes of the events waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The JSON body of a batch (a `steadycart_protocol::Batch`) around events
/// that are already JSON.
pub fn batch_body(sdk: &str, sent_at: i64, dropped: u32, events: &[String]) -> String {
    let mut body =
        String::with_capacity(BATCH_OVERHEAD + events.iter().map(|e| e.len() + 1).sum::<usize>());
    body.push_str("{\"v\":");
    push_int(&mut body, steadycart_protocol::PROTOCOL_VERSION.into());
    body.push_str(",\"sdk\":\"");
    body.extend(sdk.chars().filter(|c| *c != '"' && *c != '\\'));
    body.push_str("\",\"sent_at\":");
    push_int(&mut body, sent_at);
    body.push_str(",\"dropped\":");
    push_int(&mut body, dropped.into());
    body.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(e);
    }
    body.push_str("]}");
    body
}

/// Split `events` into batches of at most `max_events` events whose bodies
/// fit `max_body` bytes (an event alone always makes a batch).
pub fn split_batches(events: Vec<String>, max_events: usize, max_body: usize) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for e in events {
        let fits = out
            .last()
            .is_some_and(|b| b.len() < max_events && size + e.len() < max_body);
        if !fits {
            out.push(Vec::new());
            size = BATCH_OVERHEAD;
        }
        size += e.len() + 1;
        if let Some(b) = out.last_mut() {
            b.push(e);
        }
    }
    out
}

/// Delay before retry number `attempt` (1-based): 1 s doubling to 60 s, with
/// `jitter` in [0, 1) spreading it over its upper half, never before
/// `retry_after_ms` (from the collector's `Retry-After`).
pub fn backoff_ms(attempt: u32, jitter: f64, retry_after_ms: Option<f64>) -> f64 {
    let base = (1000.0 * 2f64.powi(attempt.saturating_sub(1).min(6) as i32)).min(60_000.0);
    let delay = base * (0.5 + 0.5 * jitter.clamp(0.0, 1.0));
    delay.max(retry_after_ms.unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadycart_protocol::{Batch, Event, EventBody};

    fn ev(n: u32) -> String {
        serde_json::to_string(&Event {
            id: format!("{n:032}"),
            ts: 0,
            session: "s_00000000000000000001".into(),
            page: None,
            body: EventBody::PageExit,
        })
        .unwrap()
    }

    fn id_of(json: &str) -> String {
        serde_json::from_str::<Event>(json).unwrap().id
    }

    #[test]
    fn flushes_on_count_age_and_size() {
        let mut o = Outbox::default();
        assert!(!o.due(0.0));
        o.push(ev(1), 0.0);
        assert!(!o.due(999.0));
        assert_eq!(o.ms_until_due(400.0), Some(600.0));
        assert!(o.due(1000.0));
        for i in 0..19 {
            o.push(ev(i + 2), 1.0);
        }
        assert!(o.due(2.0), "20 events are due");
        let mut big = Outbox::default();
        big.push("x".repeat(crate::delivery::FLUSH_BYTES), 0.0);
        assert!(big.due(0.0), "16 KiB of events are due");
    }

    #[test]
    fn budget_drops_oldest_and_counts() {
        let one = ev(0).len();
        let mut o = Outbox {
            capacity_bytes: one * 3,
            ..Outbox::default()
        };
        for i in 0..5 {
            o.push(ev(i), 0.0);
        }
        assert_eq!(o.len(), 3);
        assert!(o.bytes() <= one * 3);
        assert_eq!(o.take_dropped(), 2);
        assert_eq!(o.take_dropped(), 0);
        assert_eq!(id_of(&o.take_batch(1, 1 << 16)[0]), format!("{:032}", 2));
    }

    #[test]
    fn batches_fit_the_byte_limit_and_keep_order_on_requeue() {
        let mut o = Outbox::default();
        for i in 0..10 {
            o.push(ev(i), 0.0);
        }
        let one = ev(0).len();
        let limit = BATCH_OVERHEAD + 3 * (one + 1);
        let batch = o.take_batch(50, limit);
        assert_eq!(batch.len(), 3);
        let body = batch_body("steadycart-js/0.1.0", 5, 2, &batch);
        assert!(body.len() <= limit, "{} > {limit}", body.len());
        let parsed: Batch = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (parsed.dropped, parsed.sent_at, parsed.events.len()),
            (2, 5, 3)
        );
        assert_eq!(o.take_batch(2, 1 << 16).len(), 2, "count limit");
        o.requeue(batch, 5.0);
        let ids: Vec<String> = o.take_batch(50, 1 << 16).iter().map(|e| id_of(e)).collect();
        assert_eq!(ids.len(), 8);
        assert_eq!(ids[0], format!("{:032}", 0));
        assert_eq!(ids[3], format!("{:032}", 5));
        assert!(o.is_empty() && o.bytes() == 0);
        assert_eq!(o.take_batch(50, 10).len(), 0);
    }

    #[test]
    fn split_respects_count_and_bytes() {
        let events: Vec<String> = (0..10).map(ev).collect();
        let one = ev(0).len();
        let limit = BATCH_OVERHEAD + 4 * (one + 1);
        let batches = split_batches(events.clone(), 3, limit);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        let batches = split_batches(events.clone(), 50, limit);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        for b in &batches {
            assert!(batch_body("steadycart-js/0.1.0", 1_764_333_600_000, 99, b).len() <= limit);
        }
        assert_eq!(batches.concat(), events, "order kept");
        assert!(split_batches(Vec::new(), 3, limit).is_empty());
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        assert_eq!(backoff_ms(1, 1.0, None), 1000.0);
        assert_eq!(backoff_ms(2, 1.0, None), 2000.0);
        assert_eq!(backoff_ms(1, 0.0, None), 500.0);
        assert_eq!(backoff_ms(30, 1.0, None), 60_000.0);
        assert_eq!(backoff_ms(1, 1.0, Some(30_000.0)), 30_000.0);
    }
}

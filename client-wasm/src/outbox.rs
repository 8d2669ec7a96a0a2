//! Events waiting for delivery: flushed on count or age, bounded (oldest
//! dropped first, counted and reported), with exponential backoff between
//! failed deliveries.

use std::collections::VecDeque;

use steadycart_protocol::Event;

/// Queued events and the flush policy.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<Event>,
    oldest_at: Option<f64>,
    dropped: u32,
    /// Flush when this many events wait.
    pub flush_count: usize,
    /// Flush when the oldest waiting event is this old, ms.
    pub flush_age_ms: f64,
    /// Most events kept; beyond it the oldest are dropped and counted.
    pub capacity: usize,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            oldest_at: None,
            dropped: 0,
            flush_count: 20,
            flush_age_ms: 1000.0,
            capacity: 500,
        }
    }
}

impl Outbox {
    /// Queue an event at `now`.
    pub fn push(&mut self, event: Event, now: f64) {
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(event);
        self.oldest_at.get_or_insert(now);
    }

    /// Whether a flush is due at `now`.
    pub fn due(&self, now: f64) -> bool {
        self.queue.len() >= self.flush_count
            || self.oldest_at.is_some_and(|t| now - t >= self.flush_age_ms)
    }

    /// Ms until the age flush, if anything waits.
    pub fn ms_until_due(&self, now: f64) -> Option<f64> {
        self.oldest_at
            .map(|t| (t + self.flush_age_ms - now).max(0.0))
    }

    /// Take up to `max` events from the front.
    pub fn take(&mut self, max: usize) -> Vec<Event> {
        let n = max.min(self.queue.len());
        let out: Vec<Event> = self.queue.drain(..n).collect();
        if self.queue.is_empty() {
            self.oldest_at = None;
        }
        out
    }

    /// Put events that failed to deliver back at the front, in order.
    pub fn requeue(&mut self, events: Vec<Event>, now: f64) {
        for e in events.into_iter().rev() {
            if self.queue.len() >= self.capacity {
                self.dropped += 1;
                continue;
            }
            self.queue.push_front(e);
        }
        self.oldest_at.get_or_insert(now);
    }

    /// Take the count of dropped events (to report in the next batch).
    pub fn take_dropped(&mut self) -> u32 {
        std::mem::take(&mut self.dropped)
    }

    /// Give back a dropped count whose batch was not delivered.
    pub fn restore_dropped(&mut self, n: u32) {
        self.dropped += n;
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
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
    use steadycart_protocol::EventBody;

    fn ev(n: u32) -> Event {
        Event {
            id: format!("{n:032}"),
            ts: 0,
            session: "s_00000000000000000001".into(),
            page: None,
            body: EventBody::PageExit,
        }
    }

    #[test]
    fn flushes_on_count_and_age() {
        let mut o = Outbox::default();
        assert!(!o.due(0.0));
        o.push(ev(1), 0.0);
        assert!(!o.due(999.0));
        assert!(o.due(1000.0));
        for i in 0..19 {
            o.push(ev(i + 2), 1.0);
        }
        assert!(o.due(2.0));
        assert_eq!(o.take(5).len(), 5);
        assert_eq!(o.len(), 15);
    }

    #[test]
    fn bounded_with_drop_count() {
        let mut o = Outbox {
            capacity: 3,
            ..Outbox::default()
        };
        for i in 0..5 {
            o.push(ev(i), 0.0);
        }
        assert_eq!(o.len(), 3);
        assert_eq!(o.take_dropped(), 2);
        assert_eq!(o.take_dropped(), 0);
        let first = o.take(1);
        assert_eq!(first[0].id, format!("{:032}", 2), "oldest dropped first");
    }

    #[test]
    fn requeue_keeps_order() {
        let mut o = Outbox::default();
        for i in 0..3 {
            o.push(ev(i), 0.0);
        }
        let batch = o.take(2);
        o.requeue(batch, 5.0);
        let ids: Vec<String> = o.take(10).into_iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            vec![
                format!("{:032}", 0),
                format!("{:032}", 1),
                format!("{:032}", 2)
            ]
        );
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

//! Delivery to the collector. Batches go over the page's *original* fetch
//! (never our wrapper, so our own requests are never watched), with
//! `keepalive` and a CORS-simple `text/plain` body, from a timer — never
//! inside a page call. When the page is hidden or closing, `sendBeacon`
//! takes the queue in chunks that respect the shared 64 KiB quota. Failed
//! deliveries (network error, 408, 429, 5xx) go back to the outbox and
//! retry with backoff and jitter, honouring `Retry-After`, and at once on
//! `online`. Undelivered events are kept in this page's localStorage record
//! ([`super::store`]) and adopted by the next page load if this one closes.

use gloo_timers::callback::Timeout;
use steadycart_protocol::{limits::TARGET_BATCH_BYTES, Event};
use wasm_bindgen::prelude::*;

use super::{
    page,
    runtime::{with_runtime, Runtime},
    store::{PageStore, Saved},
    warn,
};
use crate::outbox::{backoff_ms, batch_body, split_batches};

#[wasm_bindgen(module = "/js/shim.js")]
extern "C" {
    /// One request of the snippet's own over `fetch` (the page's original):
    /// with `body`, a POST of a batch answered as hook 9, else a GET of the
    /// remote config answered as hook 8, both through `dispatch` with `tag`.
    pub(super) fn send(
        dispatch: &JsValue,
        fetch: &js_sys::Function,
        url: &str,
        body: Option<&str>,
        tag: u32,
    );
}

/// Most events in one fetch.
const MAX_EVENTS_PER_SEND: usize = 50;
/// Beacons share the page's 64 KiB keepalive quota: keep each small.
const MAX_BEACON_BYTES: usize = 16 * 1024;
/// Most bytes of beaconed events remembered for a resend by the next page.
const MAX_SENT_KEPT: usize = 32 * 1024;

/// Delivery state.
pub(super) struct Transport {
    url: String,
    fetch: js_sys::Function,
    timer: Option<Timeout>,
    timer_due: f64,
    /// The batch being fetched: its events and the dropped count it reports.
    in_flight: Option<(Vec<String>, u32)>,
    /// Bumped when our events were handed to another page; a fetch that
    /// started before then no longer owns its events.
    generation: u32,
    attempt: u32,
    blocked_until: f64,
    /// Events handed to `sendBeacon` (its result says only "queued").
    sent: Vec<String>,
    store: Option<PageStore>,
    /// The page closed and handed its record over: nothing more is written
    /// (Chrome fires `visibilitychange` *after* `pagehide` when navigating).
    handed_over: bool,
}

enum Sent {
    Delivered,
    Retry(Option<f64>),
    Refused(u16),
}

impl Transport {
    pub(super) fn new(config: &crate::config::Config, fetch: js_sys::Function) -> Transport {
        Transport {
            url: config.ingest_url(),
            fetch,
            timer: None,
            timer_due: 0.0,
            in_flight: None,
            generation: 0,
            attempt: 0,
            blocked_until: 0.0,
            sent: Vec::new(),
            handed_over: false,
            store: PageStore::open(config.delivery.store_bytes as usize),
        }
    }

    /// Make sure a flush runs within `wait_ms` (or when the backoff allows).
    /// The page's original fetch (bypasses the wrappers).
    pub(super) fn fetch(&self) -> js_sys::Function {
        self.fetch.clone()
    }

    pub(super) fn schedule(&mut self, wait_ms: f64) {
        let now = page::now();
        let due = (now + wait_ms).max(self.blocked_until);
        if self.timer.is_some() && self.timer_due <= due {
            return;
        }
        self.timer_due = due;
        self.timer = Some(Timeout::new((due - now).max(0.0) as u32, || {
            with_runtime(|rt| {
                rt.transport.timer = None;
                flush(rt);
            });
        }));
    }

    /// The browser is back online: retry now.
    pub(super) fn retry_now(&mut self) {
        self.blocked_until = 0.0;
        self.timer = None;
        self.schedule(0.0);
    }
}

/// An event as JSON text, ready to queue.
pub(super) fn encode_event(event: &Event) -> String {
    crate::event_json::encode(event)
}

/// Write this page's record; `closed` hands it to the next page load.
fn save(rt: &mut Runtime, closed: bool) {
    let t = &mut rt.transport;
    let Some(store) = &mut t.store else {
        return;
    };
    if t.handed_over {
        return;
    }
    let empty = Vec::new();
    let (in_flight, in_flight_dropped) = t.in_flight.as_ref().map_or((&empty, 0), |(e, d)| (e, *d));
    let dropped = rt.outbox.dropped().saturating_add(in_flight_dropped);
    let pending = in_flight.iter().chain(rt.outbox.iter());
    if store.save(page::now(), closed, dropped, &t.sent, pending) == Saved::TakenOver {
        // Another page adopted our record (we looked dead, e.g. frozen): the
        // events are its to send now.
        rt.outbox.clear();
        rt.outbox.take_dropped();
        t.sent.clear();
        t.in_flight = None;
        t.generation = t.generation.wrapping_add(1);
    }
}

/// Adopt the records of closed or dead pages and send them soon.
pub(super) fn adopt(rt: &mut Runtime) {
    let now = page::now();
    rt.transport.handed_over = false;
    let Some(store) = &mut rt.transport.store else {
        return;
    };
    let records = store.adopt_orphans(now);
    if records.is_empty() {
        return;
    }
    for r in records {
        rt.outbox.requeue(r.events, now);
        rt.outbox.restore_dropped(r.dropped);
    }
    save(rt, false);
    rt.transport.schedule(0.0);
}

/// Send the next batch if none is in flight.
pub(super) fn flush(rt: &mut Runtime) {
    let t = &mut rt.transport;
    if t.in_flight.is_some() || rt.outbox.is_empty() {
        return;
    }
    let now = page::now();
    if now < t.blocked_until {
        t.schedule(0.0);
        return;
    }
    let events = rt
        .outbox
        .take_batch(MAX_EVENTS_PER_SEND, TARGET_BATCH_BYTES);
    let dropped = rt.outbox.take_dropped();
    let body = batch_body(crate::SDK, now as i64, dropped, &events);
    t.in_flight = Some((events, dropped));
    let generation = t.generation;
    send(
        &super::runtime::dispatcher(),
        &t.fetch,
        &t.url,
        Some(&body),
        generation,
    );
    save(rt, false);
}

/// A batch's POST answered (hook 9): `status` is `None` for a network
/// error, `retry_after` the `Retry-After` header; `generation` tells
/// whether the batch is still ours (see [`Transport::generation`]).
pub(super) fn on_sent(
    rt: &mut Runtime,
    status: Option<u16>,
    retry_after: Option<String>,
    generation: u32,
) {
    if rt.transport.generation != generation {
        return;
    }
    let sent = match status {
        Some(200..=299) => Sent::Delivered,
        None | Some(408 | 429 | 500..=599) => Sent::Retry(
            retry_after
                .and_then(|s| crate::delivery::parse_decimal(s.trim()))
                .map(|secs| secs.min(3600.0) * 1000.0),
        ),
        Some(status) => Sent::Refused(status),
    };
    after_send(rt, sent);
}

fn after_send(rt: &mut Runtime, sent: Sent) {
    let now = page::now();
    let Some((events, dropped)) = rt.transport.in_flight.take() else {
        return;
    };
    match sent {
        Sent::Delivered => rt.transport.attempt = 0,
        Sent::Retry(retry_after) => {
            rt.outbox.requeue(events, now);
            rt.outbox.restore_dropped(dropped);
            let t = &mut rt.transport;
            t.attempt += 1;
            let delay = backoff_ms(t.attempt, js_sys::Math::random(), retry_after);
            t.blocked_until = now + delay;
        }
        Sent::Refused(status) => {
            // Retrying cannot fix a 4xx (bad key, origin, payload): drop it.
            warn(
                &[
                    "collector refused a batch (",
                    &crate::event_json::int_text(status.into()),
                    "); check data-site and allowed origins",
                ]
                .concat(),
            );
        }
    }
    save(rt, false);
    if let Some(wait) = rt.outbox.ms_until_due(now) {
        rt.transport.schedule(wait);
    }
}

/// The page is hidden (`closing == false`) or going away: beacon the queue
/// and write the record; a closing page hands its record to the next load
/// (a lost beacon is resent from it, and the collector drops the duplicate).
pub(super) fn flush_on_exit(rt: &mut Runtime, closing: bool) {
    if rt.transport.handed_over {
        return;
    }
    let events = rt.outbox.take_batch(usize::MAX, usize::MAX);
    let mut dropped = rt.outbox.take_dropped();
    let navigator = web_sys::window().map(|w| w.navigator());
    let mut unsent = Vec::new();
    for chunk in split_batches(events, MAX_EVENTS_PER_SEND, MAX_BEACON_BYTES) {
        let body = batch_body(crate::SDK, page::now() as i64, dropped, &chunk);
        let queued = unsent.is_empty()
            && navigator
                .as_ref()
                .and_then(|n| {
                    n.send_beacon_with_opt_str(&rt.transport.url, Some(&body))
                        .ok()
                })
                .unwrap_or(false);
        if queued {
            dropped = 0;
            rt.transport.sent.extend(chunk);
        } else {
            unsent.extend(chunk);
        }
    }
    let t = &mut rt.transport;
    let mut kept = t.sent.iter().map(String::len).sum::<usize>();
    let mut cut = 0;
    while kept > MAX_SENT_KEPT && cut < t.sent.len() {
        kept -= t.sent[cut].len();
        cut += 1;
    }
    t.sent.drain(..cut);
    rt.outbox.requeue(unsent, page::now());
    rt.outbox.restore_dropped(dropped);
    save(rt, closing);
    if closing && rt.transport.store.is_some() {
        // The record is now the next page's; a back/forward restore adopts it back.
        rt.outbox.clear();
        rt.outbox.take_dropped();
        let t = &mut rt.transport;
        t.sent.clear();
        t.in_flight = None;
        t.generation = t.generation.wrapping_add(1);
        t.handed_over = true;
    }
}

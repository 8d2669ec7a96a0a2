//! Delivery to the collector: batches over the page's *original* fetch
//! (never our wrapper, so our own requests are never watched), `keepalive`,
//! CORS-simple `text/plain` bodies; `sendBeacon` when the page is hidden or
//! closing. Failed deliveries go back to the outbox and retry with backoff,
//! honouring `Retry-After`.

use gloo_timers::callback::Timeout;
use serde::Serialize;
use steadycart_protocol::{limits::TARGET_BATCH_BYTES, Batch, Event, PROTOCOL_VERSION};
use wasm_bindgen::{prelude::*, JsCast};
use wasm_bindgen_futures::JsFuture;

use super::{
    page,
    runtime::{with_runtime, Runtime},
    warn,
};
use crate::outbox::backoff_ms;

/// Most events in one fetch.
const MAX_EVENTS_PER_SEND: usize = 50;
/// Beacons share the page's 64 KiB keepalive quota: keep each small.
const MAX_BEACON_BYTES: usize = 16 * 1024;

/// Delivery state.
pub(super) struct Transport {
    url: String,
    fetch: js_sys::Function,
    timer: Option<Timeout>,
    timer_due: f64,
    in_flight: bool,
    attempt: u32,
    blocked_until: f64,
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
            in_flight: false,
            attempt: 0,
            blocked_until: 0.0,
        }
    }

    /// Make sure a flush runs within `wait_ms` (or when the backoff allows).
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
        self.schedule(0.0);
    }

    /// Send everything now with `sendBeacon` (page hidden or closing).
    /// Returns the events the browser refused to queue.
    pub(super) fn beacon(&mut self, mut events: Vec<Event>, mut dropped: u32) -> Vec<Event> {
        let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
            return events;
        };
        while !events.is_empty() {
            let rest = events.split_off(events.len().min(MAX_EVENTS_PER_SEND));
            let (body, chunk, over) = encode_within(events, dropped, MAX_BEACON_BYTES);
            events = over;
            events.extend(rest);
            let Some(body) = body else {
                return events;
            };
            match navigator.send_beacon_with_opt_str(&self.url, Some(&body)) {
                Ok(true) => dropped = 0,
                _ => {
                    let mut unsent = chunk;
                    unsent.extend(events);
                    return unsent;
                }
            }
        }
        Vec::new()
    }
}

/// Encode as many of `events` as fit in `max_bytes` (halving until they do).
/// Returns the body, the events in it, and the ones that did not fit.
fn encode_within(
    mut events: Vec<Event>,
    dropped: u32,
    max_bytes: usize,
) -> (Option<String>, Vec<Event>, Vec<Event>) {
    let mut over = Vec::new();
    loop {
        let batch = Batch {
            v: PROTOCOL_VERSION,
            sdk: crate::SDK.to_string(),
            sent_at: page::now() as i64,
            dropped,
            events,
        };
        let body = batch
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .ok()
            .and_then(|v| js_sys::JSON::stringify(&v).ok())
            .and_then(|s| s.as_string());
        events = batch.events;
        match body {
            Some(b) if b.len() > max_bytes && events.len() > 1 => {
                let mut tail = events.split_off(events.len() / 2);
                tail.extend(over);
                over = tail;
            }
            body => return (body, events, over),
        }
    }
}

/// Send the next batch if none is in flight.
pub(super) fn flush(rt: &mut Runtime) {
    let t = &mut rt.transport;
    if t.in_flight || rt.outbox.is_empty() {
        return;
    }
    let now = page::now();
    if now < t.blocked_until {
        t.schedule(0.0);
        return;
    }
    let events = rt.outbox.take(MAX_EVENTS_PER_SEND);
    let dropped = rt.outbox.take_dropped();
    let (body, events, over) = encode_within(events, dropped, TARGET_BATCH_BYTES);
    if !over.is_empty() {
        rt.outbox.requeue(over, now);
    }
    let Some(body) = body else {
        return;
    };
    t.in_flight = true;
    let fetch = t.fetch.clone();
    let url = t.url.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let sent = post(&fetch, &url, &body).await.unwrap_or(Sent::Retry(None));
        with_runtime(|rt| after_send(rt, sent, events, dropped));
    });
}

fn after_send(rt: &mut Runtime, sent: Sent, events: Vec<Event>, dropped: u32) {
    let now = page::now();
    rt.transport.in_flight = false;
    match sent {
        Sent::Delivered => {
            rt.transport.attempt = 0;
            if !rt.outbox.is_empty() {
                let wait = if rt.outbox.due(now) {
                    0.0
                } else {
                    rt.outbox.ms_until_due(now).unwrap_or(0.0)
                };
                rt.transport.schedule(wait);
            }
        }
        Sent::Retry(retry_after) => {
            rt.outbox.requeue(events, now);
            rt.outbox.restore_dropped(dropped);
            let t = &mut rt.transport;
            t.attempt += 1;
            let jitter = js_sys::Math::random();
            let delay = backoff_ms(t.attempt, jitter, retry_after);
            t.blocked_until = now + delay;
            t.schedule(delay);
        }
        Sent::Refused(status) => {
            // Retrying cannot fix a 4xx (bad key, origin, payload): drop it.
            warn(&format!(
                "collector refused a batch ({status}); check data-site and allowed origins"
            ));
        }
    }
}

async fn post(fetch: &js_sys::Function, url: &str, body: &str) -> Result<Sent, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    // A string body is sent as text/plain;charset=UTF-8: CORS-simple, no preflight.
    init.set_body(&JsValue::from_str(body));
    // `keepalive` lets the request outlive the page (web-sys exposes it only
    // as an unstable API, so set the plain property).
    js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
    init.set_credentials(web_sys::RequestCredentials::Omit);
    init.set_mode(web_sys::RequestMode::Cors);
    let window: JsValue = web_sys::window().ok_or("no window")?.into();
    let promise: js_sys::Promise = fetch
        .call2(&window, &JsValue::from_str(url), &init)?
        .dyn_into()?;
    let response: web_sys::Response = JsFuture::from(promise).await?.dyn_into()?;
    let status = response.status();
    Ok(match status {
        200..=299 => Sent::Delivered,
        408 | 429 | 500..=599 => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .ok()
                .flatten()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|secs| secs * 1000.0);
            Sent::Retry(retry_after)
        }
        _ => Sent::Refused(status),
    })
}

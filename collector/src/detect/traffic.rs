//! A seeded, replayable storefront traffic generator: shopper sessions as the
//! snippet would report them (price look-ups, cart writes, checkout and
//! payment calls, completions and exits), with Poisson arrivals, an optional
//! day/night cycle, slow random drift of the abandonment and error rates, and
//! injected spikes. The same seed always yields the same events, so a failing
//! accuracy test can be replayed exactly.
//!
//! Times are simulated: a session's script takes ~20 s of a 60 s bucket and
//! is scaled with the bucket, so tests can run on 1-second buckets.

use rand::{rngs::StdRng, Rng, SeedableRng};
use steadycart_protocol::{CallEvent, Event, EventBody, Outcome, Role};

/// A watched endpoint of the simulated store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/price/sku-N`.
    Price,
    /// `POST /api/cart`.
    Cart,
    /// `POST /api/checkout`.
    Checkout,
    /// `POST /api/payment`.
    Payment,
}

impl Endpoint {
    fn call(self, sku: u32) -> (Role, &'static str, String) {
        match self {
            Endpoint::Price => (
                Role::Price,
                "GET",
                format!("https://shop.example/api/price/sku-{sku}"),
            ),
            Endpoint::Cart => (Role::Cart, "POST", "https://shop.example/api/cart".into()),
            Endpoint::Checkout => (
                Role::Checkout,
                "POST",
                "https://shop.example/api/checkout".into(),
            ),
            Endpoint::Payment => (
                Role::Payment,
                "POST",
                "https://shop.example/api/payment".into(),
            ),
        }
    }
}

/// What a spike does while it lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpikeKind {
    /// Shoppers abandon `factor` times as often (no call errors).
    Abandonment {
        /// Multiplier of the abandonment probability.
        factor: f64,
    },
    /// One endpoint fails `rate` of its calls with `status`.
    EndpointErrors {
        /// The failing endpoint.
        endpoint: Endpoint,
        /// Share of its calls that fail.
        rate: f64,
        /// HTTP status of the failures.
        status: u16,
    },
}

/// A spike over buckets `from..to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spike {
    /// First bucket (index) of the spike.
    pub from: u64,
    /// First bucket after it.
    pub to: u64,
    /// What it does.
    pub kind: SpikeKind,
}

/// The traffic to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficProfile {
    /// RNG seed: same seed, same traffic.
    pub seed: u64,
    /// Start of bucket 0, ms.
    pub start_ms: i64,
    /// Bucket length, ms.
    pub bucket_ms: i64,
    /// Mean new sessions per bucket (at the daily peak with `day_buckets`).
    pub sessions_per_bucket: f64,
    /// Buckets per simulated day; `Some` adds a day/night cycle whose night
    /// has ~6% of the peak traffic. Bucket 0 is midnight.
    pub day_buckets: Option<u64>,
    /// Share of sessions that start checkout.
    pub checkout_share: f64,
    /// Normal abandonment probability of a started checkout.
    pub abandon_rate: f64,
    /// Normal error probability of any call.
    pub error_rate: f64,
    /// Add hourly random drift (±15% abandonment, ±50% errors).
    pub drift: bool,
    /// Injected spikes.
    pub spikes: Vec<Spike>,
}

impl Default for TrafficProfile {
    fn default() -> Self {
        Self {
            seed: 1,
            start_ms: 1_764_288_000_000,
            bucket_ms: 60_000,
            sessions_per_bucket: 50.0,
            day_buckets: None,
            checkout_share: 0.7,
            abandon_rate: 0.2,
            error_rate: 0.01,
            drift: false,
            spikes: Vec::new(),
        }
    }
}

/// Events of one bucket, as `(received_at, event)` in receive order.
pub type BucketEvents = Vec<(i64, Event)>;

/// Generates the profile's traffic bucket by bucket.
#[derive(Debug)]
pub struct TrafficGenerator {
    profile: TrafficProfile,
    rng: StdRng,
    next_index: u64,
    pending: Vec<(i64, Event)>,
    abandon_drift: f64,
    error_drift: f64,
    sessions: u64,
}

impl TrafficGenerator {
    /// A generator at bucket 0.
    pub fn new(profile: TrafficProfile) -> Self {
        let rng = StdRng::seed_from_u64(profile.seed);
        Self {
            profile,
            rng,
            next_index: 0,
            pending: Vec::new(),
            abandon_drift: 1.0,
            error_drift: 1.0,
            sessions: 0,
        }
    }

    /// Start of bucket `i`, ms.
    pub fn bucket_start(&self, i: u64) -> i64 {
        self.profile.start_ms + i as i64 * self.profile.bucket_ms
    }

    /// The next bucket: its index, start and the events received in it.
    pub fn next_bucket(&mut self) -> (u64, i64, BucketEvents) {
        let i = self.next_index;
        self.next_index += 1;
        let start = self.bucket_start(i);
        let end = start + self.profile.bucket_ms;
        if self.profile.drift && i.is_multiple_of(60) {
            self.abandon_drift =
                (self.abandon_drift + self.rng.random_range(-0.08..0.08)).clamp(0.85, 1.15);
            self.error_drift =
                (self.error_drift + self.rng.random_range(-0.25..0.25)).clamp(0.5, 1.5);
        }
        let rate = self.rate(i);
        let n = poisson(&mut self.rng, rate);
        for _ in 0..n {
            let at = start + self.rng.random_range(0..self.profile.bucket_ms);
            self.session(i, at);
        }
        self.pending.sort_by_key(|(t, _)| *t);
        let split = self.pending.partition_point(|(t, _)| *t < end);
        let rest = self.pending.split_off(split);
        let now = std::mem::replace(&mut self.pending, rest);
        (i, start, now)
    }

    fn rate(&self, i: u64) -> f64 {
        let peak = self.profile.sessions_per_bucket;
        match self.profile.day_buckets {
            Some(day) => {
                let h = (i % day) as f64 / day as f64;
                peak * (0.06 + 0.94 * (1.0 - (2.0 * std::f64::consts::PI * h).cos()) / 2.0)
            }
            None => peak,
        }
    }

    fn scaled(&self, sim_ms: i64) -> i64 {
        sim_ms * self.profile.bucket_ms / 60_000
    }

    fn session(&mut self, bucket: u64, at: i64) {
        self.sessions += 1;
        let sid = format!("s_gen_{}_{:08}", self.profile.seed, self.sessions);
        let mut abandon_factor = 1.0;
        let mut failing: Option<(Endpoint, f64, u16)> = None;
        for s in &self.profile.spikes {
            if (s.from..s.to).contains(&bucket) {
                match s.kind {
                    SpikeKind::Abandonment { factor } => abandon_factor *= factor,
                    SpikeKind::EndpointErrors {
                        endpoint,
                        rate,
                        status,
                    } => failing = Some((endpoint, rate, status)),
                }
            }
        }
        let sku = self.rng.random_range(1..40u32);
        self.emit(&sid, at, EventBody::SessionStart);
        let mut trouble = self.call(&sid, at + self.scaled(2_000), Endpoint::Price, sku, failing);
        self.emit(&sid, at + self.scaled(5_000), EventBody::CartActivity);
        trouble |= self.call(&sid, at + self.scaled(5_000), Endpoint::Cart, sku, failing);
        if self.rng.random::<f64>() >= self.profile.checkout_share {
            self.emit(&sid, at + self.scaled(15_000), EventBody::PageExit);
            return;
        }
        self.emit(&sid, at + self.scaled(10_000), EventBody::CheckoutStarted);
        trouble |= self.call(
            &sid,
            at + self.scaled(11_000),
            Endpoint::Payment,
            sku,
            failing,
        );
        trouble |= self.call(
            &sid,
            at + self.scaled(12_000),
            Endpoint::Checkout,
            sku,
            failing,
        );
        let p_abandon = if trouble {
            0.85
        } else {
            (self.profile.abandon_rate * self.abandon_drift * abandon_factor).min(0.95)
        };
        if self.rng.random::<f64>() < p_abandon {
            self.emit(&sid, at + self.scaled(18_000), EventBody::PageExit);
        } else {
            self.emit(
                &sid,
                at + self.scaled(18_000),
                EventBody::CheckoutCompleted { order_id: None },
            );
            self.emit(&sid, at + self.scaled(20_000), EventBody::PageExit);
        }
    }

    /// Emit one call; true when it went wrong.
    fn call(
        &mut self,
        sid: &str,
        at: i64,
        ep: Endpoint,
        sku: u32,
        failing: Option<(Endpoint, f64, u16)>,
    ) -> bool {
        let (role, method, url) = ep.call(sku);
        let (p_err, status) = match failing {
            Some((f, rate, status)) if f == ep => (rate, status),
            _ => ((self.profile.error_rate * self.error_drift).min(1.0), 503),
        };
        let failed = self.rng.random::<f64>() < p_err;
        let duration_ms = if failed {
            40
        } else {
            60 + self.rng.random_range(0..200)
        };
        let body = EventBody::Call(CallEvent {
            role,
            outcome: if failed {
                Outcome::HttpError
            } else {
                Outcome::Ok
            },
            method: method.into(),
            url,
            status: Some(if failed { status } else { 200 }),
            duration_ms,
            sku: (ep == Endpoint::Price).then(|| format!("sku-{sku}")),
        });
        self.emit(sid, at, body);
        failed
    }

    fn emit(&mut self, sid: &str, ts: i64, body: EventBody) {
        let id = format!("{:032x}", self.rng.random::<u128>());
        // Delivery delay: batched by the snippet, a few hundred ms late.
        let delay = self.rng.random_range(0..500);
        let received = ts + self.scaled(delay);
        self.pending.push((
            received,
            Event {
                id,
                ts,
                session: sid.to_string(),
                page: None,
                body,
            },
        ));
    }
}

/// A Poisson draw (Knuth for small means, normal approximation above 500).
fn poisson(rng: &mut StdRng, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 500.0 {
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        return (lambda + z * lambda.sqrt()).round().max(0.0) as u64;
    }
    let l = (-lambda).exp();
    let (mut k, mut p) = (0u64, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_traffic() {
        let p = TrafficProfile::default();
        let mut a = TrafficGenerator::new(p.clone());
        let mut b = TrafficGenerator::new(p);
        for _ in 0..3 {
            assert_eq!(a.next_bucket(), b.next_bucket());
        }
        let mut c = TrafficGenerator::new(TrafficProfile {
            seed: 2,
            ..Default::default()
        });
        assert_ne!(a.next_bucket(), c.next_bucket());
    }

    #[test]
    fn events_are_in_their_bucket_in_order() {
        let mut g = TrafficGenerator::new(TrafficProfile {
            bucket_ms: 2_000,
            ..Default::default()
        });
        let mut total = 0;
        for _ in 0..5 {
            let (_, start, events) = g.next_bucket();
            assert!(events.windows(2).all(|w| w[0].0 <= w[1].0));
            assert!(events
                .iter()
                .all(|(t, _)| (start..start + 2_000).contains(t)));
            total += events.len();
        }
        // ~50 sessions × ~7 events a bucket.
        assert!((1000..3000).contains(&total), "{total}");
    }
}

//! The drill's scenarios and its clock (pure): which endpoint breaks how,
//! and how long each phase lasts at a given speed.

use std::{str::FromStr, time::Duration};

use serde_json::{json, Value};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `POST /api/checkout` answers 503 to every call.
    CheckoutOutage,
    /// `GET /api/price/*` answers after 3.5 s (the snippet calls a price
    /// call stalled after 2 s). Shoppers press "Refresh prices" on the
    /// list ([`super::shoppers::CrowdOptions::refresh_prices`]); the store opts its price GETs
    /// in to stale-if-error, but a kept copy lives in the shopper's session
    /// and every synthetic visit is a new session, so the stalled refresh
    /// has no copy to fall back on: the shopper sees the price-delayed
    /// message and waits. Checkout keeps working, so nobody is asked why
    /// they left and no recovery email goes out.
    PriceLag,
    /// `POST /api/payment` never answers while the outage lasts.
    PaymentTimeouts,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 3] = [
        Scenario::CheckoutOutage,
        Scenario::PriceLag,
        Scenario::PaymentTimeouts,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CheckoutOutage => "checkout-outage",
            Scenario::PriceLag => "price-lag",
            Scenario::PaymentTimeouts => "payment-timeouts",
        }
    }

    /// The demo store endpoint that breaks and its fault (without schedule).
    pub fn fault(self) -> (&'static str, Value) {
        match self {
            Scenario::CheckoutOutage => ("checkout", json!({"mode": "error", "status": 503})),
            Scenario::PriceLag => ("price", json!({"mode": "delay", "ms": 3500})),
            Scenario::PaymentTimeouts => ("payment", json!({"mode": "hang"})),
        }
    }

    /// The signals series expected to fire.
    pub fn series(self) -> &'static str {
        match self {
            Scenario::CheckoutOutage => "errors",
            Scenario::PriceLag | Scenario::PaymentTimeouts => "stalls",
        }
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown scenario {s:?}; one of: {}",
                    Scenario::ALL.map(Scenario::name).join(", ")
                )
            })
    }
}

/// Durations of one drill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phases {
    /// Signals bucket.
    pub bucket: Duration,
    /// Healthy traffic before the outage (the detector's warm-up).
    pub baseline: Duration,
    /// The outage.
    pub outage: Duration,
    /// Most time to wait after the outage for the incident to resolve.
    pub recovery_max: Duration,
    /// Quiet time after a page exit that makes an abandonment final.
    pub exit_grace: Duration,
    /// Delay before a closed bucket is rolled up.
    pub settle: Duration,
    /// The collector's recovery email delay (`[recovery] delay`: how long
    /// after the survey answer an email is due; an hour in production, far
    /// longer than an outage). At drill speed it is the outage's length, so
    /// every email is due after the outage ended; the drill also holds
    /// emails while the incident is open (`wait_for_resolution`), so "it's
    /// fixed" is true when one arrives.
    pub recovery_delay: Duration,
    /// Most time to wait after the traffic for due emails to arrive.
    pub email_max: Duration,
}

/// Slowest and fastest speeds: below, a drill takes forever; above, buckets
/// are too short for a handful of browsers to fill.
pub const SPEEDS: std::ops::RangeInclusive<f64> = 0.25..=4.0;

impl Phases {
    /// The phases at `speed` (1 = twenty-second buckets, 80 s of baseline,
    /// 80 s of outage; 2 = half of everything). Buckets are long enough for
    /// a few browsers on a busy two-core machine to fill them.
    pub fn at_speed(speed: f64) -> Phases {
        let speed = speed.clamp(*SPEEDS.start(), *SPEEDS.end());
        let scaled = |secs: f64| Duration::from_secs_f64(secs / speed);
        Phases {
            bucket: scaled(20.0),
            baseline: scaled(80.0),
            outage: scaled(80.0),
            recovery_max: scaled(120.0),
            exit_grace: scaled(3.0),
            settle: scaled(1.5),
            recovery_delay: scaled(80.0),
            email_max: scaled(120.0),
        }
    }

    /// Per-site detector overrides that suit a few browsers' traffic (a
    /// handful of calls a bucket): two buckets of warm-up, judged from 4
    /// calls, opened by one significant bucket with at least 3 bad calls,
    /// tested against a 0.2% floor (a healthy demo store has no errors at
    /// all); resolution still needs two healthy buckets.
    pub fn detector_overrides(&self) -> Value {
        json!({"warmup_buckets": 2, "min_trials": 4, "min_events": 3, "open_after": 1, "rate_floor": 0.002})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        }
        assert!("meteor"
            .parse::<Scenario>()
            .unwrap_err()
            .contains("price-lag"));
    }

    #[test]
    fn speed_scales_every_phase() {
        let one = Phases::at_speed(1.0);
        let two = Phases::at_speed(2.0);
        assert_eq!(one.bucket, Duration::from_secs(20));
        assert_eq!(two.bucket, Duration::from_secs(10));
        assert_eq!(two.outage * 2, one.outage);
        assert_eq!(Phases::at_speed(100.0), Phases::at_speed(4.0));
        // The baseline covers the warm-up with a bucket to spare.
        assert!(one.baseline >= one.bucket * 4);
        // An answer given as the outage starts is due after it ended.
        assert!(two.recovery_delay >= two.outage);
        assert!(two.email_max > two.recovery_delay);
    }
}

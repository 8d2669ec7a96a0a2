//! The pure signal pipeline of one site: events → session model → bucket
//! rollup → detectors → incident transitions, all in memory with time as
//! input. The collector's engine runs the same steps with the sessions and
//! detector state kept in the database; tests and drills run this one.

use std::collections::HashMap;

use super::{
    detectors::{SeriesStep, SiteDetectors},
    rollup::{roll_bucket, BucketRollup},
    session::{SessionState, SessionTiming},
};
use crate::detect::DetectorParams;
use steadycart_protocol::Event;

/// One site's pipeline.
#[derive(Debug)]
pub struct Pipeline {
    /// Session states by id.
    pub sessions: HashMap<String, SessionState>,
    /// The detectors.
    pub detectors: SiteDetectors,
    timing: SessionTiming,
    params: DetectorParams,
    bucket_ms: i64,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new(timing: SessionTiming, params: DetectorParams, bucket_ms: i64) -> Self {
        Self {
            sessions: HashMap::new(),
            detectors: SiteDetectors::default(),
            timing,
            params,
            bucket_ms,
        }
    }

    /// Process the bucket starting at `start` with the events received in it.
    pub fn process(
        &mut self,
        start: i64,
        events: &[(i64, Event)],
    ) -> (BucketRollup, Vec<SeriesStep>) {
        let end = start + self.bucket_ms;
        let (rollup, _) = roll_bucket(&mut self.sessions, events, start, end, &self.timing);
        let steps = self.detectors.observe(&self.params, &rollup);
        // Forget what can no longer change a count.
        let idle = self.timing.inactivity_ms;
        self.sessions
            .retain(|_, s| s.ended.is_none() && end - s.last_seen <= idle);
        (rollup, steps)
    }
}

#[cfg(test)]
mod accuracy {
    //! The accuracy requirements, on generated traffic.
    use std::collections::BTreeMap;

    use super::*;
    use crate::detect::{
        attribution::{rank_endpoints, EndpointWindow},
        traffic::{Endpoint, Spike, SpikeKind, TrafficGenerator, TrafficProfile},
        Transition,
    };

    const BUCKET: i64 = 60_000;

    fn pipeline() -> Pipeline {
        Pipeline::new(
            SessionTiming {
                exit_grace_ms: 20_000,
                inactivity_ms: 30 * 60_000,
            },
            DetectorParams::default(),
            BUCKET,
        )
    }

    /// Run `buckets` buckets; return (bucket index, series, transition).
    fn run(profile: TrafficProfile, buckets: u64) -> Vec<(u64, String, Transition)> {
        let mut g = TrafficGenerator::new(profile);
        let mut p = pipeline();
        let mut out = Vec::new();
        for _ in 0..buckets {
            let (i, start, events) = g.next_bucket();
            let (_, steps) = p.process(start, &events);
            for s in steps {
                if let Some(t) = s.step.transition {
                    out.push((i, s.series, t));
                }
            }
        }
        out
    }

    /// Detector settings for a few shoppers' traffic, as the crisis drill
    /// sets them per site (`tests/src/drill/scenario.rs`): two buckets of
    /// warm-up, judged from 4 calls, opened by one significant bucket with
    /// 3 bad calls, a 0.2% floor.
    fn thin_params() -> DetectorParams {
        DetectorParams {
            warmup_buckets: 2,
            min_trials: 4,
            min_events: 3,
            open_after: 1,
            rate_floor: 0.002,
            ..Default::default()
        }
    }

    /// [`run`] with `params`; also the mean calls per bucket.
    fn run_with(
        profile: TrafficProfile,
        params: DetectorParams,
        buckets: u64,
    ) -> (Vec<(u64, String, Transition)>, f64) {
        let mut g = TrafficGenerator::new(profile);
        let mut p = Pipeline::new(
            SessionTiming {
                exit_grace_ms: 20_000,
                inactivity_ms: 30 * 60_000,
            },
            params,
            BUCKET,
        );
        let (mut out, mut calls) = (Vec::new(), 0);
        for _ in 0..buckets {
            let (i, start, events) = g.next_bucket();
            let (rollup, steps) = p.process(start, &events);
            calls += rollup.calls;
            for s in steps {
                if let Some(t) = s.step.transition {
                    out.push((i, s.series, t));
                }
            }
        }
        (out, calls as f64 / buckets as f64)
    }

    /// The cart API failing `rate` of its calls over buckets `from..to`.
    fn cart_errors(from: u64, to: u64, rate: f64) -> Spike {
        Spike {
            from,
            to,
            kind: SpikeKind::EndpointErrors {
                endpoint: Endpoint::Cart,
                rate,
                status: 503,
            },
        }
    }

    /// Buckets from `onset` to the opening of an `errors` incident, per
    /// seed 1..=20 (`None`: never opened), with `params`.
    fn error_open_delays(spikes: &[Spike], onset: u64, params: DetectorParams) -> Vec<Option<u64>> {
        (1..=20)
            .map(|seed| {
                let profile = TrafficProfile {
                    seed,
                    // 4 new sessions a bucket: ~13 calls on average,
                    // 6–16 in most buckets.
                    sessions_per_bucket: 4.0,
                    error_rate: 0.0,
                    spikes: spikes.to_vec(),
                    ..Default::default()
                };
                let (t, calls) = run_with(profile, params, onset + 18);
                assert!(
                    (8.0..=18.0).contains(&calls),
                    "seed {seed}: {calls} calls a bucket"
                );
                t.iter()
                    .find(|(_, s, t)| s == "errors" && matches!(t, Transition::Open { .. }))
                    .map(|(i, ..)| i - onset)
            })
            .collect()
    }

    /// [`thin_params`] without clipping (the old running mean): a control
    /// showing what the scenarios below catch.
    fn unclipped() -> DetectorParams {
        DetectorParams {
            baseline_clip: 1e12,
            ..thin_params()
        }
    }

    #[test]
    fn a_thin_outage_with_a_half_healthy_first_bucket_opens() {
        // A few shoppers; the cart API fails half its calls in the first
        // outage bucket (the outage began mid-bucket), then all of them for
        // four buckets. The first bucket, too weak to open, must not raise
        // the baseline the full-outage buckets are tested against.
        let onset = 6;
        let spikes = [
            cart_errors(onset, onset + 1, 0.5),
            cart_errors(onset + 1, onset + 5, 1.0),
        ];
        let delays = error_open_delays(&spikes, onset, thin_params());
        eprintln!("open delays {delays:?}");
        assert!(
            delays.iter().all(|d| d.is_some_and(|d| d <= 3)),
            "every replay opens within the outage: {delays:?}"
        );
        let late = delays.iter().filter(|d| d.is_some_and(|d| d > 2)).count();
        assert!(late <= 1, "{delays:?}");
        let control = error_open_delays(&spikes, onset, unclipped());
        eprintln!("without clipping {control:?}");
        assert!(
            control.iter().filter(|d| d.is_none()).count() >= 3,
            "{control:?}"
        );
    }

    #[test]
    fn a_thin_slow_ramp_into_an_outage_opens() {
        // The cart API's failures ramp up over five buckets (10% → 70%),
        // then it fails every call for four: the ramp's buckets, each only
        // a little worse than the last, must not drag the baseline up.
        let onset = 6;
        let mut spikes: Vec<Spike> = [0.1, 0.2, 0.35, 0.5, 0.7]
            .iter()
            .enumerate()
            .map(|(k, r)| cart_errors(onset + k as u64, onset + k as u64 + 1, *r))
            .collect();
        spikes.push(cart_errors(onset + 5, onset + 9, 1.0));
        let delays = error_open_delays(&spikes, onset, thin_params());
        eprintln!("open delays {delays:?}");
        assert!(
            delays.iter().all(|d| d.is_some_and(|d| d <= 8)),
            "every replay opens by the outage's end: {delays:?}"
        );
        let control = error_open_delays(&spikes, onset, unclipped());
        eprintln!("without clipping {control:?}");
        assert!(
            control.iter().filter(|d| d.is_none()).count() >= 10,
            "{control:?}"
        );
    }

    #[test]
    fn a_3x_abandonment_spike_is_caught_within_2_buckets_and_resolved_within_3() {
        // 20 independent replays. At 50 sessions a minute only ~35 checkouts
        // end per bucket, so a replay's *realized* spike can be weaker than
        // 3× for a bucket or two (or stay high after it): the bounds must
        // hold on at least 95% of replays (19 of 20; today seed 7 opens one
        // bucket late and seed 3 resolves one bucket late), every replay
        // opens within 4 buckets and resolves within 5, and none may resolve
        // and re-open inside the spike.
        let (onset, end) = (60, 75);
        let mut late_resolutions = Vec::new();
        let mut flaps = Vec::new();
        let mut late_openings = Vec::new();
        for seed in 1..=20 {
            let profile = TrafficProfile {
                seed,
                sessions_per_bucket: 50.0,
                abandon_rate: 0.15,
                error_rate: 0.0,
                spikes: vec![Spike {
                    from: onset,
                    to: end,
                    kind: SpikeKind::Abandonment { factor: 3.0 },
                }],
                ..Default::default()
            };
            let mut t = run(profile, 100);
            assert!(
                t.iter()
                    .all(|(i, s, _)| s == "abandonment" && (onset..end + 5).contains(i)),
                "seed {seed}: {t:?}"
            );
            if t.len() != 2 {
                // Resolved and re-opened inside the spike: keep the outer pair.
                flaps.push(seed);
                let last = t.pop().unwrap();
                t.truncate(1);
                t.push(last);
            }
            let (opened, series, open) = &t[0];
            let (resolved, _, resolve) = &t[1];
            assert_eq!(series, "abandonment", "seed {seed}: {t:?}");
            assert!(
                matches!(open, Transition::Open { ratio, .. } if *ratio > 2.0),
                "seed {seed}: {open:?}"
            );
            assert!(
                matches!(resolve, Transition::Resolve { .. }),
                "seed {seed}: {resolve:?}"
            );
            // Opened by the end of bucket `onset + 2` (abandonments count once
            // their exit grace has passed, so the onset bucket is only partly
            // spiked).
            assert!(
                *opened >= onset && *opened <= onset + 4,
                "seed {seed}: opened at bucket {opened}"
            );
            if *opened > onset + 2 {
                late_openings.push((seed, *opened));
            }
            assert!(
                *resolved >= end && *resolved <= end + 4,
                "seed {seed}: resolved at bucket {resolved}"
            );
            // Resolved by the end of bucket `end + 2` (the third after it).
            if *resolved > end + 2 {
                late_resolutions.push((seed, *resolved));
            }
        }
        eprintln!("late openings {late_openings:?}, late resolutions {late_resolutions:?}, flaps {flaps:?}");
        assert!(
            late_resolutions.len() <= 1,
            "resolved late: {late_resolutions:?}"
        );
        assert!(late_openings.len() <= 1, "opened late: {late_openings:?}");
        assert!(flaps.is_empty(), "flapped mid-spike: {flaps:?}");
    }

    #[test]
    fn a_noisy_day_with_a_quiet_night_opens_nothing() {
        for seed in [11, 12, 13, 14, 15] {
            let profile = TrafficProfile {
                seed,
                sessions_per_bucket: 50.0,
                day_buckets: Some(1440),
                drift: true,
                ..Default::default()
            };
            let t = run(profile, 1440);
            assert!(t.is_empty(), "seed {seed}: {t:?}");
        }
    }

    #[test]
    fn an_endpoint_error_spike_names_that_endpoint_first() {
        let (onset, end) = (40, 50);
        let profile = TrafficProfile {
            seed: 7,
            spikes: vec![Spike {
                from: onset,
                to: end,
                kind: SpikeKind::EndpointErrors {
                    endpoint: Endpoint::Payment,
                    rate: 0.4,
                    status: 502,
                },
            }],
            ..Default::default()
        };
        let mut g = TrafficGenerator::new(profile);
        let mut p = pipeline();
        let mut window: BTreeMap<String, EndpointWindow> = BTreeMap::new();
        let mut opened = None;
        for _ in 0..60 {
            let (i, start, events) = g.next_bucket();
            let (rollup, steps) = p.process(start, &events);
            for s in &steps {
                if s.series == "errors"
                    && matches!(s.step.transition, Some(Transition::Open { .. }))
                {
                    opened = Some(i);
                }
            }
            if p.detectors.series["errors"].firing.is_some() {
                for (k, e) in &rollup.endpoints {
                    let w = window.entry(k.clone()).or_default();
                    w.calls += e.calls;
                    w.errors += e.errors;
                    for (s, n) in &e.statuses {
                        *w.statuses.entry(s.clone()).or_default() += n;
                    }
                }
            }
        }
        let opened = opened.expect("error spike detected");
        assert!(opened <= onset + 2, "opened at {opened}");
        let ranked = rank_endpoints(&window, |e| p.detectors.endpoint_rate(e));
        assert_eq!(ranked[0].endpoint, "POST /api/payment", "{ranked:?}");
        assert_eq!(ranked[0].top_status.as_deref(), Some("502"));
    }
}

//! One watched series: baseline, significance test, guards and hysteresis.
//!
//! The state is plain data (serde) so the leader can persist it after every
//! bucket and a new leader resumes exactly where the old one stopped.

use serde::{Deserialize, Serialize};

use super::stats::{binomial_sf, poisson_sf};

/// Tuning of the detector. Defaults suit one-minute buckets on a small shop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorParams {
    /// Significance level of the one-sided test over the whole streak of
    /// elevated buckets (pooled) that opens an incident. Default `1e-4`:
    /// together with `min_ratio` and "every pooled bucket above baseline",
    /// simulated noisy days with drift open nothing, while pooling keeps the
    /// power to catch a 3× spike within two buckets at 50 sessions a minute.
    pub alpha: f64,
    /// Smallest observed/baseline ratio that makes a bucket elevated, so a
    /// statistically significant but tiny drift pages no one. Default 1.5.
    pub min_ratio: f64,
    /// Rates: fewest trials (denominator) in a bucket to judge it at all
    /// (thin traffic, e.g. at night, is never judged). Default 20.
    pub min_trials: u64,
    /// Fewest events (numerator, over the streak) that can open an incident.
    /// Default 5.
    pub min_events: u64,
    /// Buckets pooled by the opening test; the newest must be elevated and
    /// together they must be elevated and significant. Default 2.
    pub open_after: u32,
    /// Consecutive healthy (or thin) buckets that resolve it. Default 2.
    pub resolve_after: u32,
    /// EWMA weight of the newest healthy bucket. Default 0.05 (≈ 20-bucket
    /// memory).
    pub ewma_lambda: f64,
    /// Healthy buckets to learn before judging anything. Default 10.
    pub warmup_buckets: u32,
    /// Lowest baseline a rate is tested against (a site that never saw an
    /// error must not page on its first one). Default 0.01.
    pub rate_floor: f64,
    /// Lowest baseline a count is tested against. Default 1.0.
    pub count_floor: f64,
    /// Robust baseline (a winsorised EWMA): once warmed up, one bucket may
    /// move the baseline up by at most this many standard errors of the
    /// baseline itself (σ·√(λ/(2−λ)), σ the bucket's binomial or Poisson
    /// deviation at the baseline). The bucket's count is clipped at
    /// baseline + this·σ/√(λ(2−λ)): about 3.2σ with λ = 0.05, but 1.7σ
    /// while the early running mean still gives a bucket a fifth of the
    /// weight. So a half-failing first outage bucket, or the first buckets
    /// of a slow ramp, elevated but not yet significant in thin traffic,
    /// cannot raise the baseline the next buckets are tested against,
    /// while ordinary noise is learned in full (the baseline is not biased
    /// low, as it would be if elevated buckets were left out). Default 1.
    pub baseline_clip: f64,
}

impl Default for DetectorParams {
    fn default() -> Self {
        Self {
            alpha: 1e-4,
            min_ratio: 1.5,
            min_trials: 20,
            min_events: 5,
            open_after: 2,
            resolve_after: 2,
            ewma_lambda: 0.05,
            warmup_buckets: 10,
            rate_floor: 0.01,
            count_floor: 1.0,
            baseline_clip: 1.0,
        }
    }
}

/// What a series measures, and so which test fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// `events / trials` (abandonments per ended checkout, errors per call):
    /// exact binomial test.
    Rate,
    /// Events per bucket: Poisson test.
    Count,
}

/// The judgement of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Still learning the baseline.
    Warmup,
    /// Too little traffic to judge.
    Thin,
    /// Within expectations.
    Healthy {
        /// Observed / baseline.
        ratio: f64,
    },
    /// At least `min_ratio` × the baseline: extends the streak that the
    /// pooled test judges.
    Breach {
        /// Observed / baseline.
        ratio: f64,
        /// One-sided p-value of this bucket alone.
        p_value: f64,
    },
}

/// An incident state change caused by a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "transition", rename_all = "snake_case")]
pub enum Transition {
    /// `open_after` breaching buckets in a row.
    Open {
        /// Start of the first breaching bucket (the incident's onset).
        since: i64,
        /// Baseline the breach was measured against.
        baseline: f64,
        /// Observed value in the bucket that opened it.
        observed: f64,
        /// Observed / baseline.
        ratio: f64,
    },
    /// `resolve_after` healthy buckets in a row.
    Resolve {
        /// Start of the first healthy bucket (when it ended).
        ended: i64,
        /// Largest ratio seen while open.
        peak_ratio: f64,
    },
}

/// The result of observing one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The bucket's judgement.
    pub verdict: Verdict,
    /// The observed value (rate or count).
    pub observed: f64,
    /// The baseline it was judged against (after floors), if any.
    pub baseline: Option<f64>,
    /// The incident transition this bucket caused.
    pub transition: Option<Transition>,
}

/// An open incident as the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// Onset (first breaching bucket).
    pub since: i64,
    /// Baseline frozen at opening.
    pub baseline: f64,
    /// Largest ratio so far.
    pub peak_ratio: f64,
    /// Events pooled over the bad buckets of the incident (the opening
    /// streak and every bad bucket since).
    #[serde(default)]
    pub bad_events: u64,
    /// Trials pooled likewise (for counts: the number of bad buckets).
    #[serde(default)]
    pub bad_trials: u64,
}

impl Firing {
    /// The incident's level: rate or count per bucket over its bad buckets.
    pub fn level(&self) -> f64 {
        self.bad_events as f64 / self.bad_trials.max(1) as f64
    }
}

/// The observed value above which a bucket is likelier under `level` than
/// under `base` (equal log-likelihood under both).
pub fn split(kind: SeriesKind, base: f64, level: f64) -> f64 {
    if level <= base {
        return base;
    }
    match kind {
        SeriesKind::Rate => {
            let (p0, p1) = (base.clamp(1e-9, 1.0 - 1e-9), level.clamp(1e-9, 1.0 - 1e-9));
            let q = ((1.0 - p0) / (1.0 - p1)).ln();
            q / ((p1 / p0).ln() + q)
        }
        SeriesKind::Count => (level - base) / (level / base.max(1e-9)).ln(),
    }
}

/// The state of one series. Plain data: persist it between buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesDetector {
    /// What the series measures.
    pub kind: SeriesKind,
    /// EWMA of events per bucket.
    ewma_events: f64,
    /// EWMA of trials per bucket (rates only). The baseline rate is the
    /// ratio of the two EWMAs, so busy buckets weigh more than thin ones.
    ewma_trials: f64,
    /// Buckets learned so far (saturates).
    learned: u32,
    /// The last `open_after` judged buckets: `(start, events, trials)`.
    /// Thin or warm-up buckets clear it.
    #[serde(default)]
    recent: Vec<(i64, u64, u64)>,
    /// Consecutive healthy buckets while firing.
    good_streak: u32,
    /// Start of the first bucket of the current good streak.
    good_since: i64,
    /// The open incident, if any.
    pub firing: Option<Firing>,
}

impl SeriesDetector {
    /// A detector that knows nothing yet.
    pub fn new(kind: SeriesKind) -> Self {
        Self {
            kind,
            ewma_events: 0.0,
            ewma_trials: 0.0,
            learned: 0,
            recent: Vec::new(),
            good_streak: 0,
            good_since: 0,
            firing: None,
        }
    }

    /// The learned baseline (rate or count per bucket), before floors.
    pub fn baseline(&self) -> Option<f64> {
        if self.learned == 0 {
            return None;
        }
        match self.kind {
            SeriesKind::Rate if self.ewma_trials > 0.0 => Some(self.ewma_events / self.ewma_trials),
            SeriesKind::Rate => None,
            SeriesKind::Count => Some(self.ewma_events),
        }
    }

    /// `events` as the baseline learns them: once warmed up, clipped so the
    /// bucket moves the baseline (after floors) by at most `baseline_clip`
    /// of its standard error.
    fn clipped(&self, p: &DetectorParams, events: u64, trials: u64) -> f64 {
        let e = events as f64;
        let Some(raw) = self.baseline() else {
            return e;
        };
        if self.learned < p.warmup_buckets {
            return e;
        }
        let l = self.lambda(p);
        // One bucket moves the baseline by λ·(x − b); the baseline's own
        // standard error is σ·√(λ/(2−λ)): cap the move at `baseline_clip`
        // of it.
        let k = p.baseline_clip / (l * (2.0 - l)).sqrt();
        let cap = match self.kind {
            SeriesKind::Rate => {
                let (b, n) = (raw.max(p.rate_floor).min(0.999), trials as f64);
                n * b + k * (n * b * (1.0 - b)).sqrt()
            }
            SeriesKind::Count => {
                let b = raw.max(p.count_floor);
                b + k * b.sqrt()
            }
        };
        e.min(cap)
    }

    /// The weight of the next learned bucket: a plain running mean until
    /// the EWMA's memory is reached, so the first bucket does not dominate
    /// the early baseline.
    fn lambda(&self, p: &DetectorParams) -> f64 {
        p.ewma_lambda.max(1.0 / (self.learned as f64 + 1.0))
    }

    fn learn(&mut self, p: &DetectorParams, events: u64, trials: u64) {
        if self.kind == SeriesKind::Rate && trials == 0 {
            return;
        }
        let (e, t) = (self.clipped(p, events, trials), trials as f64);
        if self.learned == 0 {
            self.ewma_events = e;
            self.ewma_trials = t;
        } else {
            let l = self.lambda(p);
            self.ewma_events = l * e + (1.0 - l) * self.ewma_events;
            self.ewma_trials = l * t + (1.0 - l) * self.ewma_trials;
        }
        self.learned = self.learned.saturating_add(1);
    }

    fn judge(&self, p: &DetectorParams, events: u64, trials: u64) -> (Verdict, f64, Option<f64>) {
        let observed = match self.kind {
            SeriesKind::Rate if trials > 0 => events as f64 / trials as f64,
            SeriesKind::Rate => 0.0,
            SeriesKind::Count => events as f64,
        };
        if self.learned < p.warmup_buckets {
            return (Verdict::Warmup, observed, self.baseline());
        }
        let Some(raw) = self.baseline() else {
            return (Verdict::Warmup, observed, None);
        };
        let (base, p_value) = match self.kind {
            SeriesKind::Rate => {
                if trials < p.min_trials {
                    return (Verdict::Thin, observed, Some(raw));
                }
                let base = raw.max(p.rate_floor).min(0.999);
                (base, binomial_sf(events, trials, base))
            }
            SeriesKind::Count => {
                let base = raw.max(p.count_floor);
                (base, poisson_sf(events, base))
            }
        };
        let ratio = observed / base;
        let verdict = if ratio >= p.min_ratio {
            Verdict::Breach { ratio, p_value }
        } else {
            Verdict::Healthy { ratio }
        };
        (verdict, observed, Some(base))
    }

    /// Pooled `(events, trials, p-value, ratio)` of the recent window
    /// against the baseline.
    fn window_test(&self, p: &DetectorParams) -> (u64, u64, f64, f64) {
        let events: u64 = self.recent.iter().map(|r| r.1).sum();
        let trials: u64 = self.recent.iter().map(|r| r.2).sum();
        let Some(raw) = self.baseline() else {
            return (events, trials, 1.0, 0.0);
        };
        // Every bucket of the window must be above the baseline: one
        // extreme bucket next to a normal one is not a spike.
        let all_above = |base: f64, value: &dyn Fn(&(i64, u64, u64)) -> f64| {
            self.recent.iter().all(|r| value(r) >= base)
        };
        match self.kind {
            SeriesKind::Rate => {
                let base = raw.max(p.rate_floor).min(0.999);
                if !all_above(base, &|r| r.1 as f64 / r.2.max(1) as f64) {
                    return (events, trials, 1.0, 0.0);
                }
                let ratio = events as f64 / trials.max(1) as f64 / base;
                (events, trials, binomial_sf(events, trials, base), ratio)
            }
            SeriesKind::Count => {
                let base = raw.max(p.count_floor);
                if !all_above(base, &|r| r.1 as f64) {
                    return (events, trials, 1.0, 0.0);
                }
                let expected = base * self.recent.len() as f64;
                (
                    events,
                    self.recent.len() as u64,
                    poisson_sf(events, expected),
                    events as f64 / expected,
                )
            }
        }
    }

    /// Judge the bucket starting at `bucket_start` with `events` (and, for
    /// rates, `trials`), update the baseline and the hysteresis, and say
    /// whether an incident opens or resolves.
    pub fn observe(
        &mut self,
        p: &DetectorParams,
        bucket_start: i64,
        events: u64,
        trials: u64,
    ) -> Step {
        let (verdict, observed, baseline) = self.judge(p, events, trials);
        // While open, a bucket is healthy only when it looks more like the
        // baseline than like the incident (likelihood-ratio split between
        // the two levels), so neither one lucky bucket mid-spike nor one
        // unlucky bucket after it decides the resolution.
        let still_bad = match (verdict, self.firing, baseline) {
            (Verdict::Warmup | Verdict::Thin, _, _) => false,
            (_, Some(f), Some(base)) => observed >= split(self.kind, base, f.level()),
            (v, _, _) => matches!(v, Verdict::Breach { .. }),
        };
        let mut transition = None;
        match verdict {
            Verdict::Healthy { .. } | Verdict::Breach { .. } => {
                self.recent.push((bucket_start, events, trials));
                if self.recent.len() > p.open_after.max(1) as usize {
                    self.recent.remove(0);
                }
            }
            Verdict::Warmup | Verdict::Thin => self.recent.clear(),
        }
        if still_bad {
            let ratio = match verdict {
                Verdict::Breach { ratio, .. } => ratio,
                _ => 0.0,
            };
            self.good_streak = 0;
            let (w_events, w_trials, w_p, w_ratio) = self.window_test(p);
            match &mut self.firing {
                Some(f) => {
                    f.peak_ratio = f.peak_ratio.max(ratio);
                    f.bad_events += events;
                    f.bad_trials += match self.kind {
                        SeriesKind::Rate => trials,
                        SeriesKind::Count => 1,
                    };
                }
                // The newest bucket is elevated; open when the last
                // `open_after` buckets together are elevated and significant.
                None if self.recent.len() >= p.open_after as usize
                    && w_events >= p.min_events
                    && w_ratio >= p.min_ratio
                    && w_p < p.alpha =>
                {
                    let base = baseline.unwrap_or(0.0);
                    let since = self.recent.first().map_or(bucket_start, |r| r.0);
                    self.firing = Some(Firing {
                        since,
                        baseline: base,
                        peak_ratio: ratio,
                        bad_events: w_events,
                        bad_trials: w_trials,
                    });
                    transition = Some(Transition::Open {
                        since,
                        baseline: base,
                        observed,
                        ratio,
                    });
                }
                None => {}
            }
        } else {
            if let Some(f) = self.firing {
                if self.good_streak == 0 {
                    self.good_since = bucket_start;
                }
                self.good_streak += 1;
                if self.good_streak >= p.resolve_after {
                    self.firing = None;
                    self.good_streak = 0;
                    transition = Some(Transition::Resolve {
                        ended: self.good_since,
                        peak_ratio: f.peak_ratio,
                    });
                }
            }
        }
        // Learn from every bucket while nothing is open, elevated ones
        // included (leaving those out would bias the baseline low), each
        // clipped at `baseline_clip` σ above the baseline (winsorised), so
        // an outage's first buckets cannot raise it.
        if self.firing.is_none() && !matches!(transition, Some(Transition::Resolve { .. })) {
            self.learn(p, events, trials);
        }
        Step {
            verdict,
            observed,
            baseline,
            transition,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warmed(kind: SeriesKind, p: &DetectorParams, events: u64, trials: u64) -> SeriesDetector {
        let mut d = SeriesDetector::new(kind);
        for i in 0..p.warmup_buckets as i64 {
            assert_eq!(d.observe(p, i, events, trials).transition, None);
        }
        d
    }

    #[test]
    fn one_bad_bucket_pages_no_one() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Rate, &p, 10, 50);
        let s = d.observe(&p, 100, 40, 50);
        assert!(matches!(s.verdict, Verdict::Breach { .. }), "{s:?}");
        assert_eq!(s.transition, None);
        assert_eq!(d.observe(&p, 101, 10, 50).transition, None);
        assert!(d.firing.is_none());
    }

    #[test]
    fn opens_after_n_and_resolves_after_m() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Rate, &p, 10, 50);
        assert_eq!(d.observe(&p, 100, 35, 50).transition, None);
        // The first elevated bucket was learned (running mean of 11
        // buckets, λ = 1/11), clipped at 10 + √8/√(λ(2−λ)) of 50.
        let b = d.baseline().unwrap();
        let l: f64 = 1.0 / 11.0;
        let clipped = 10.0 + 8f64.sqrt() / (l * (2.0 - l)).sqrt();
        assert!(clipped < 35.0);
        assert!(
            (b - (10.0 + (clipped - 10.0) / 11.0) / 50.0).abs() < 1e-9,
            "{b}"
        );
        let open = d.observe(&p, 101, 35, 50).transition.unwrap();
        match open {
            Transition::Open {
                since,
                baseline,
                ratio,
                ..
            } => {
                assert_eq!(since, 100);
                assert!((baseline - b).abs() < 1e-9, "{baseline}");
                assert!((ratio - 0.7 / b).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        // Still bad: no new transition, the baseline did not learn the spike.
        assert_eq!(d.observe(&p, 102, 40, 50).transition, None);
        assert!(
            (d.baseline().unwrap() - b).abs() < 1e-9,
            "frozen while open"
        );
        assert_eq!(d.observe(&p, 103, 10, 50).transition, None);
        let resolve = d.observe(&p, 104, 11, 50).transition.unwrap();
        assert_eq!(
            resolve,
            Transition::Resolve {
                ended: 103,
                peak_ratio: 0.8 / b
            }
        );
    }

    #[test]
    fn the_resolve_split_lies_between_baseline_and_incident() {
        let s = split(SeriesKind::Rate, 0.14, 0.47);
        assert!(s > 0.25 && s < 0.32, "{s}");
        let c = split(SeriesKind::Count, 4.0, 16.0);
        assert!(c > 4.0 && c < 16.0, "{c}");
        assert_eq!(split(SeriesKind::Rate, 0.3, 0.2), 0.3);
    }

    #[test]
    fn thin_buckets_are_never_judged() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Rate, &p, 10, 50);
        for i in 0..50 {
            // Every thin bucket is 100% abandonment: still nothing.
            let s = d.observe(&p, 200 + i, 3, 3);
            assert_eq!(s.verdict, Verdict::Thin);
            assert_eq!(s.transition, None);
        }
    }

    #[test]
    fn a_small_significant_drift_is_not_a_breach() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Rate, &p, 200, 1000);
        // 26% vs 20% on 1000 trials is significant but only 1.3×.
        let s = d.observe(&p, 100, 260, 1000);
        assert!(matches!(s.verdict, Verdict::Healthy { .. }), "{s:?}");
    }

    #[test]
    fn rate_floor_keeps_a_first_error_quiet() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Rate, &p, 0, 100);
        for i in 0..5 {
            assert_eq!(d.observe(&p, 100 + i, 2, 100).transition, None);
        }
        assert_eq!(d.observe(&p, 150, 0, 100).transition, None);
        assert_eq!(d.observe(&p, 200, 20, 100).transition, None);
        assert!(matches!(
            d.observe(&p, 201, 20, 100).transition,
            Some(Transition::Open { .. })
        ));
    }

    #[test]
    fn counts_use_poisson() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Count, &p, 4, 0);
        assert_eq!(d.observe(&p, 100, 7, 0).transition, None);
        assert_eq!(d.observe(&p, 101, 3, 0).transition, None);
        // One extreme bucket next to a normal one pages no one.
        assert_eq!(d.observe(&p, 102, 25, 0).transition, None);
        assert!(matches!(
            d.observe(&p, 103, 25, 0).transition,
            Some(Transition::Open { .. })
        ));
    }

    #[test]
    fn state_survives_serialization() {
        let p = DetectorParams::default();
        let mut d = warmed(SeriesKind::Rate, &p, 10, 50);
        d.observe(&p, 100, 35, 50);
        let mut back: SeriesDetector =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        // The restored copy continues the streak and opens.
        assert!(matches!(
            back.observe(&p, 101, 35, 50).transition,
            Some(Transition::Open { since: 100, .. })
        ));
    }
}

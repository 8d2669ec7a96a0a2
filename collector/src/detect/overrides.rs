//! Per-site detector tuning: a site may override any of the collector-wide
//! [`DetectorParams`]; what it leaves out follows the defaults (and later
//! changes to them). Pure: validation and merging only; stored by
//! `store::detector`, set through `http::detector`.

use serde::{Deserialize, Serialize};

use super::DetectorParams;

/// The fields a site overrides; `None` follows the collector's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorOverrides {
    /// See [`DetectorParams::alpha`]; 0 < alpha ≤ 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// See [`DetectorParams::min_ratio`]; 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    /// See [`DetectorParams::min_trials`]; 1 to 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_trials: Option<u64>,
    /// See [`DetectorParams::min_events`]; 1 to 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_events: Option<u64>,
    /// See [`DetectorParams::open_after`]; 1 to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_after: Option<u32>,
    /// See [`DetectorParams::resolve_after`]; 1 to 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_after: Option<u32>,
    /// See [`DetectorParams::ewma_lambda`]; 0 < λ ≤ 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ewma_lambda: Option<f64>,
    /// See [`DetectorParams::warmup_buckets`]; 0 to 10,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_buckets: Option<u32>,
    /// See [`DetectorParams::rate_floor`]; 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_floor: Option<f64>,
    /// See [`DetectorParams::count_floor`]; 0 to 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_floor: Option<f64>,
    /// See [`DetectorParams::baseline_clip`]; 0.1 to 1,000 (standard
    /// errors of the baseline; 1,000 is as good as off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_clip: Option<f64>,
}

/// An override out of range; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be {range}")]
pub struct InvalidOverride {
    /// The offending field.
    pub field: &'static str,
    /// The allowed range, in words.
    pub range: &'static str,
}

fn check<T: PartialOrd + Copy>(
    value: Option<T>,
    field: &'static str,
    range: &'static str,
    ok: impl Fn(T) -> bool,
) -> Result<(), InvalidOverride> {
    match value {
        Some(v) if !ok(v) => Err(InvalidOverride { field, range }),
        _ => Ok(()),
    }
}

impl DetectorOverrides {
    /// Refuse values that would make the detector page on noise or never.
    pub fn validate(&self) -> Result<(), InvalidOverride> {
        check(self.alpha, "alpha", "in (0, 0.1]", |v| v > 0.0 && v <= 0.1)?;
        check(self.min_ratio, "min_ratio", "in [1, 100]", |v| {
            (1.0..=100.0).contains(&v)
        })?;
        check(self.min_trials, "min_trials", "in [1, 1000000]", |v| {
            (1..=1_000_000).contains(&v)
        })?;
        check(self.min_events, "min_events", "in [1, 1000000]", |v| {
            (1..=1_000_000).contains(&v)
        })?;
        check(self.open_after, "open_after", "in [1, 10]", |v| {
            (1..=10).contains(&v)
        })?;
        check(self.resolve_after, "resolve_after", "in [1, 60]", |v| {
            (1..=60).contains(&v)
        })?;
        check(self.ewma_lambda, "ewma_lambda", "in (0, 1]", |v| {
            v > 0.0 && v <= 1.0
        })?;
        check(
            self.warmup_buckets,
            "warmup_buckets",
            "in [0, 10000]",
            |v| v <= 10_000,
        )?;
        check(self.rate_floor, "rate_floor", "in [0, 1]", |v| {
            (0.0..=1.0).contains(&v)
        })?;
        check(self.count_floor, "count_floor", "in [0, 1000000]", |v| {
            (0.0..=1_000_000.0).contains(&v)
        })?;
        check(self.baseline_clip, "baseline_clip", "in [0.1, 1000]", |v| {
            (0.1..=1_000.0).contains(&v)
        })?;
        Ok(())
    }

    /// Every field set to `params`' value: the collector's own
    /// `[signals.detector]` settings, checked by [`Self::validate`] with the
    /// same ranges as a site's overrides.
    pub fn all_of(params: &DetectorParams) -> DetectorOverrides {
        DetectorOverrides {
            alpha: Some(params.alpha),
            min_ratio: Some(params.min_ratio),
            min_trials: Some(params.min_trials),
            min_events: Some(params.min_events),
            open_after: Some(params.open_after),
            resolve_after: Some(params.resolve_after),
            ewma_lambda: Some(params.ewma_lambda),
            warmup_buckets: Some(params.warmup_buckets),
            rate_floor: Some(params.rate_floor),
            count_floor: Some(params.count_floor),
            baseline_clip: Some(params.baseline_clip),
        }
    }

    /// `base` with these overrides applied.
    pub fn apply(&self, base: &DetectorParams) -> DetectorParams {
        DetectorParams {
            alpha: self.alpha.unwrap_or(base.alpha),
            min_ratio: self.min_ratio.unwrap_or(base.min_ratio),
            min_trials: self.min_trials.unwrap_or(base.min_trials),
            min_events: self.min_events.unwrap_or(base.min_events),
            open_after: self.open_after.unwrap_or(base.open_after),
            resolve_after: self.resolve_after.unwrap_or(base.resolve_after),
            ewma_lambda: self.ewma_lambda.unwrap_or(base.ewma_lambda),
            warmup_buckets: self.warmup_buckets.unwrap_or(base.warmup_buckets),
            rate_floor: self.rate_floor.unwrap_or(base.rate_floor),
            count_floor: self.count_floor.unwrap_or(base.count_floor),
            baseline_clip: self.baseline_clip.unwrap_or(base.baseline_clip),
        }
    }

    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == DetectorOverrides::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_follow_the_defaults() {
        let base = DetectorParams::default();
        assert_eq!(DetectorOverrides::default().apply(&base), base);
        let o: DetectorOverrides =
            serde_json::from_str(r#"{"min_trials":5,"warmup_buckets":3}"#).unwrap();
        let p = o.apply(&base);
        assert_eq!((p.min_trials, p.warmup_buckets), (5, 3));
        assert_eq!(p.alpha, base.alpha);
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"min_trials":5,"warmup_buckets":3}"#
        );
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        for (text, field) in [
            (r#"{"alpha":0}"#, "alpha"),
            (r#"{"alpha":0.5}"#, "alpha"),
            (r#"{"min_ratio":0.9}"#, "min_ratio"),
            (r#"{"min_trials":0}"#, "min_trials"),
            (r#"{"open_after":0}"#, "open_after"),
            (r#"{"resolve_after":61}"#, "resolve_after"),
            (r#"{"ewma_lambda":1.5}"#, "ewma_lambda"),
            (r#"{"rate_floor":2}"#, "rate_floor"),
            (r#"{"baseline_clip":0}"#, "baseline_clip"),
        ] {
            let o: DetectorOverrides = serde_json::from_str(text).unwrap();
            assert_eq!(o.validate().unwrap_err().field, field, "{text}");
        }
        assert!(serde_json::from_str::<DetectorOverrides>(r#"{"alfa":0.01}"#).is_err());
        let ok: DetectorOverrides =
            serde_json::from_str(r#"{"alpha":0.001,"min_trials":8,"open_after":1}"#).unwrap();
        assert!(ok.validate().is_ok());
    }
}

//! The spike detector: pure logic, no I/O, time as an input.
//!
//! Each watched series (abandonment rate, call error rate, stall rate) gets a
//! [`series::SeriesDetector`]: a volume-weighted EWMA baseline, a one-sided
//! significance test that fits the data (exact binomial tail for rates,
//! Poisson tail for counts), minimum-sample guards so thin traffic (a quiet
//! night) is never judged, a minimum magnitude, and hysteresis (open after
//! `open_after` breaching buckets, resolve after `resolve_after` healthy ones).
//! Baselines learn while no incident is open, each bucket winsorised so it
//! moves the baseline by at most `baseline_clip` of the baseline's standard
//! error, so neither a spike nor the first buckets of an outage (or a slow
//! ramp) teach the detector that they are normal, while ordinary noise is
//! learned in full.
//!
//! # Layout
//! - [`stats`]: log-gamma, binomial and Poisson upper-tail probabilities.
//! - [`series`]: parameters, the per-series state machine and its transitions.
//! - [`attribution`]: which endpoints and statuses explain an incident.
//! - [`overrides`]: per-site overrides of the parameters (validation, merge).
//! - [`traffic`]: a seeded, replayable storefront traffic generator used by
//!   the accuracy tests and drills.

pub mod attribution;
pub mod overrides;
pub mod series;
pub mod stats;
pub mod traffic;

pub use series::{DetectorParams, SeriesDetector, SeriesKind, Transition, Verdict};

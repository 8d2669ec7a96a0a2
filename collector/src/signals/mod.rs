//! Abandonment signals: the session model, per-bucket rollups, the detectors
//! of each site and the engine that runs them on the leader.
//!
//! # Layout
//! - [`config`]: the `[signals]` settings (bucket size, timing, detector
//!   parameters, notifier endpoints).
//! - [`session`]: one session's state folded from its events (pure).
//! - [`rollup`]: one bucket's counts, per endpoint and SKU (pure).
//! - [`detectors`]: a site's series detectors and endpoint baselines (pure).
//! - [`pipeline`]: the whole chain in memory, for tests and drills (pure).
//! - [`incident`]: an incident's evidence and summary line (pure).
//! - [`engine`]: the leader's loop: lease, rollups, detection, incidents.
//! - [`store`]: sessions, rollups, detector state and series reads (sqlx).

pub mod config;
pub mod detectors;
pub mod engine;
pub mod incident;
pub mod pipeline;
pub mod rollup;
pub mod session;
pub mod store;

pub use config::SignalsConfig;

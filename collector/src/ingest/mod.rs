//! Ingest: turn a request body into validated event rows, and the single
//! writer task that commits them.
//!
//! Validation is pure (no I/O) so every rule is unit-tested here; the HTTP
//! handler in [`crate::http::ingest`] only wires it to the request.
//!
//! # Layout
//! - [`validate`]: parsing and strict validation, errors naming the field.
//! - [`fast_parse`]: the allocation-light decoding of valid batches.
//! - [`survey`]: the survey events' checks (caps, email, consent).
//! - [`writer`]: the bounded queue and group-commit writer task.
//! - [`checkpoint`]: SQLite WAL checkpoints beside the writer's commits.
//! - [`rate_limit`]: per-client-IP and per-site token buckets (429).
//! - [`site_cache`]: sites by key for a short TTL (no database read per batch).

pub mod checkpoint;
pub mod fast_parse;
pub mod rate_limit;
pub mod site_cache;
pub mod survey;
pub mod validate;
pub mod writer;

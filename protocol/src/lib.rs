//! The Steadycart wire format, shared by the snippet (`client-wasm`) and the
//! `collector`. One serde definition of every event and API payload.
//!
//! Compatibility rules:
//! - every batch carries an explicit protocol version ([`PROTOCOL_VERSION`]);
//!   the collector accepts the versions in [`SUPPORTED_VERSIONS`];
//! - unknown fields are ignored (forward compatibility), unknown event types
//!   deserialize to [`EventBody::Unknown`] so a newer snippet never loses a
//!   whole batch on an older collector.
//!
//! This crate depends on `serde` only (no `serde_json`), so the snippet can use
//! it without paying for a JSON implementation in its wasm.
//!
//! # Layout
//! - [`event`]: events and batches sent by the snippet to `POST /v1/ingest`.
//! - [`role`]: endpoint roles and call outcomes.
//! - [`api`]: collector API payloads (site registration, admin reads, errors).
//! - [`limits`]: size limits both sides agree on.
//! - [`survey`]: exit-survey answers, consent and trouble context, and their checks.
//! - [`remote`]: remote site configuration and crisis switches.
//! - [`cart`]: cart snapshots (items, quantities, prices) for recovery emails.
//! - [`options`]: every snippet configuration option (the configuration reference).
#![deny(missing_docs)]

pub mod api;
pub mod cart;
pub mod event;
pub mod limits;
pub mod options;
pub mod remote;
pub mod role;
pub mod survey;

pub use event::{Batch, CallEvent, Event, EventBody};
pub use role::{Outcome, Role};

/// The protocol version this crate writes.
pub const PROTOCOL_VERSION: u32 = 1;

/// The oldest version a collector built from this crate accepts: the one
/// before [`PROTOCOL_VERSION`], so snippets still cached in shoppers'
/// browsers keep reporting through an upgrade (and a shop may update the
/// collector and the snippet in either order).
pub const OLDEST_SUPPORTED_VERSION: u32 = if PROTOCOL_VERSION > 1 {
    PROTOCOL_VERSION - 1
} else {
    PROTOCOL_VERSION
};

/// Versions a collector built from this crate accepts: the current and the
/// previous one.
pub const SUPPORTED_VERSIONS: &[u32] = if PROTOCOL_VERSION > 1 {
    &[PROTOCOL_VERSION - 1, PROTOCOL_VERSION]
} else {
    &[PROTOCOL_VERSION]
};

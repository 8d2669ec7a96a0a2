//! Size limits shared by the snippet and the collector, so the snippet never
//! builds what the collector would reject.

/// Most events in one batch.
pub const MAX_EVENTS_PER_BATCH: usize = 200;
/// Largest ingest body the collector accepts, in bytes. The snippet keeps its
/// batches far below this (beacon/keepalive bodies share a 64 KiB quota).
pub const MAX_INGEST_BODY_BYTES: usize = 256 * 1024;
/// Target size of one snippet batch in bytes (half the 64 KiB keepalive quota,
/// leaving room for the page's own keepalive requests).
pub const TARGET_BATCH_BYTES: usize = 32 * 1024;
/// Longest URL stored for a call.
pub const MAX_URL_LEN: usize = 2048;
/// Longest short string (method, reason, order id, page path, ...).
pub const MAX_SHORT_LEN: usize = 256;
/// Event ids: 16 to 64 characters of `[0-9A-Za-z_-]`.
pub const MIN_ID_LEN: usize = 16;
/// See [`MIN_ID_LEN`].
pub const MAX_ID_LEN: usize = 64;

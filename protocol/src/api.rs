//! Collector API payloads other than ingest batches.

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// Printed by `collector site add`, returned once: the admin token is stored
/// only as a hash.
///
/// `{"site_key":"pk_3f9a…","admin_token":"sct_8c1e…","name":"Demo","origins":["http://127.0.0.1:8080"]}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCreated {
    /// Public key for the script tag's `data-site`.
    pub site_key: String,
    /// Secret bearer token for the admin API, shown once.
    pub admin_token: String,
    /// Display name.
    pub name: String,
    /// Origins allowed to send events.
    pub origins: Vec<String>,
}

/// Answer to an accepted ingest batch.
///
/// `{"accepted":20,"duplicates":0}`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAccepted {
    /// Events newly stored or queued for storage.
    pub accepted: u32,
    /// Events skipped within the batch because their id repeated in it; ids
    /// already stored earlier are skipped by the database.
    pub duplicates: u32,
}

/// Every API error body.
///
/// `{"error":"invalid value: integer `-1`, expected u32","field":"events[0].duration_ms"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// What is wrong, for a developer.
    pub error: String,
    /// The offending field's path in the request, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// One stored event as the admin API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Server receive time, ms since the Unix epoch.
    pub received_at: i64,
    /// The event as the snippet sent it (unknown fields dropped).
    pub event: Event,
}

/// `GET /v1/admin/sites/{site}/events` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    /// Events, oldest first.
    pub events: Vec<StoredEvent>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

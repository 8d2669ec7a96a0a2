//! Events and batches: what the snippet sends to `POST /v1/ingest`.
//!
//! A batch, as JSON:
//! ```json
//! {"v":1,"sdk":"steadycart-js/0.1.0","sent_at":1764333600000,"dropped":0,
//!  "events":[{"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1764333599000,
//!             "session":"s_5f1c2b9e8d7a6c5b4a39","page":"/checkout",
//!             "type":"call","role":"checkout","outcome":"http_error",
//!             "method":"POST","url":"https://shop.example/api/checkout",
//!             "status":503,"duration_ms":184}]}
//! ```

use serde::{Deserialize, Serialize};

use crate::{
    cart::CartSnapshot,
    role::{Outcome, Role},
    survey::{Answer, Consent, Trouble},
};

/// One delivery from the snippet: up to
/// [`MAX_EVENTS_PER_BATCH`](crate::limits::MAX_EVENTS_PER_BATCH) events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Protocol version the snippet speaks. `1`.
    pub v: u32,
    /// Snippet name and version. `"steadycart-js/0.1.0"`.
    #[serde(default)]
    pub sdk: String,
    /// Client clock when the batch was sent, ms since the Unix epoch.
    /// `1764333600000`. Lets the collector estimate client clock skew.
    pub sent_at: i64,
    /// Events the snippet had to drop (queue or storage budget overflow)
    /// since its last delivered batch. `0`.
    #[serde(default)]
    pub dropped: u32,
    /// The events.
    pub events: Vec<Event>,
}

/// One event. Common fields plus a `type`-tagged [`EventBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (128 random bits as 32 hex chars), the deduplication key.
    /// `"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c"`.
    pub id: String,
    /// Client clock when it happened, ms since the Unix epoch. `1764333599000`.
    pub ts: i64,
    /// Session id (kept in sessionStorage; new after 30 min inactivity).
    /// `"s_5f1c2b9e8d7a6c5b4a39"`.
    pub session: String,
    /// Page path (no query string) where it happened. `"/checkout"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A watched storefront call ended, or is stalling. `{"type":"call",...}`.
    Call(CallEvent),
    /// A fallback message became visible. `{"type":"fallback_shown","role":"checkout","reason":"http_error"}`.
    FallbackShown {
        /// Role whose trouble caused it.
        role: Role,
        /// Outcome that caused it. `"http_error"`.
        reason: Outcome,
    },
    /// A fallback message was hidden. `{"type":"fallback_hidden","role":"checkout","reason":"recovered"}`.
    FallbackHidden {
        /// Role of the message.
        role: Role,
        /// Why: `"recovered"`, `"dismissed"` or `"page_exit"`.
        reason: String,
    },
    /// The session was seen for the first time. `{"type":"session_start"}`.
    SessionStart,
    /// The shopper touched the cart. `{"type":"cart_activity"}`.
    CartActivity,
    /// The shopper started checkout. `{"type":"checkout_started"}`.
    CheckoutStarted,
    /// Checkout completed. `{"type":"checkout_completed","order_id":"A-1001"}`.
    CheckoutCompleted {
        /// Order id, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<String>,
    },
    /// The page was hidden or unloaded. `{"type":"page_exit"}`.
    PageExit,
    /// The exit survey opened. `{"type":"survey_shown","trigger":"pointer_top","trouble":{…}}`.
    SurveyShown {
        /// What showed it: `pointer_top`, `scroll_up`, `back`, `return`, `idle`.
        trigger: String,
        /// The session's trouble so far.
        #[serde(default)]
        trouble: Trouble,
    },
    /// The exit survey closed unanswered. `{"type":"survey_dismissed","reason":"escape"}`.
    SurveyDismissed {
        /// How: `close`, `escape`, `backdrop`, `page_exit`.
        reason: String,
        /// The session's trouble so far.
        #[serde(default)]
        trouble: Trouble,
    },
    /// The exit survey was answered (see [`crate::survey`]).
    SurveyAnswered {
        /// What showed the survey.
        trigger: String,
        /// The answers; an email only with consent.
        answer: Answer,
        /// The session's trouble so far.
        #[serde(default)]
        trouble: Trouble,
    },
    /// The cart's contents (see [`crate::cart`]).
    /// `{"type":"cart_snapshot","currency":"USD","items":[{"sku":"VL-HP-01","qty":1,"unit_price_minor":12900}]}`
    CartSnapshot(CartSnapshot),
    /// The shop's app passed a shopper's email with recorded consent
    /// (`Steadycart.identify`). `{"type":"identify","email":"…","consent":{…}}`.
    Identify {
        /// The email address.
        email: String,
        /// The consent the shopper gave, text and version verbatim.
        consent: Consent,
    },
    /// An event type this version does not know (sent by a newer snippet).
    /// Kept so the rest of the batch is still accepted.
    #[serde(other)]
    Unknown,
}

impl EventBody {
    /// The `type` tag as sent on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Call(_) => "call",
            EventBody::FallbackShown { .. } => "fallback_shown",
            EventBody::FallbackHidden { .. } => "fallback_hidden",
            EventBody::SessionStart => "session_start",
            EventBody::CartActivity => "cart_activity",
            EventBody::CheckoutStarted => "checkout_started",
            EventBody::CheckoutCompleted { .. } => "checkout_completed",
            EventBody::PageExit => "page_exit",
            EventBody::SurveyShown { .. } => "survey_shown",
            EventBody::SurveyDismissed { .. } => "survey_dismissed",
            EventBody::SurveyAnswered { .. } => "survey_answered",
            EventBody::CartSnapshot(_) => "cart_snapshot",
            EventBody::Identify { .. } => "identify",
            EventBody::Unknown => "unknown",
        }
    }
}

/// A watched call's outcome.
///
/// `{"role":"checkout","outcome":"http_error","method":"POST","url":"https://shop.example/api/checkout","status":503,"duration_ms":184}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// The endpoint's role.
    pub role: Role,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP method, upper case. `"POST"`.
    pub method: String,
    /// URL without query string or fragment (they may hold tokens or emails).
    pub url: String,
    /// HTTP status, when a response arrived. `503`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time from the call to its end (or to the stall notice), ms. `184`.
    pub duration_ms: u32,
    /// Product SKU extracted from the call, when configured. `"sku-123"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_call() -> Event {
        Event {
            id: "0192f3c4a1b27e3f9d1c5b8a7e6f5d4c".into(),
            ts: 1_764_333_599_000,
            session: "s_5f1c2b9e8d7a6c5b4a39".into(),
            page: Some("/checkout".into()),
            body: EventBody::Call(CallEvent {
                role: Role::Checkout,
                outcome: Outcome::HttpError,
                method: "POST".into(),
                url: "https://shop.example/api/checkout".into(),
                status: Some(503),
                duration_ms: 184,
                sku: None,
            }),
        }
    }

    #[test]
    fn batch_round_trips_through_json() {
        let batch = Batch {
            v: crate::PROTOCOL_VERSION,
            sdk: "steadycart-js/0.1.0".into(),
            sent_at: 1_764_333_600_000,
            dropped: 2,
            events: vec![
                sample_call(),
                Event {
                    id: "1192f3c4a1b27e3f9d1c5b8a7e6f5d4c".into(),
                    ts: 1,
                    session: "s1234567890".into(),
                    page: None,
                    body: EventBody::CheckoutCompleted {
                        order_id: Some("A-1".into()),
                    },
                },
                Event {
                    id: "2192f3c4a1b27e3f9d1c5b8a7e6f5d4c".into(),
                    ts: 2,
                    session: "s1234567890".into(),
                    page: None,
                    body: EventBody::FallbackShown {
                        role: Role::Price,
                        reason: Outcome::Stall,
                    },
                },
            ],
        };
        let json = serde_json::to_string(&batch).unwrap();
        let back: Batch = serde_json::from_str(&json).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn wire_shape_is_flat_and_tagged() {
        let v = serde_json::to_value(sample_call()).unwrap();
        assert_eq!(v["type"], "call");
        assert_eq!(v["role"], "checkout");
        assert_eq!(v["outcome"], "http_error");
        assert_eq!(v["status"], 503);
        assert!(v.get("sku").is_none(), "absent options are not sent");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = r#"{"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890",
            "type":"checkout_started","from_the_future":{"x":1}}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        assert_eq!(e.body, EventBody::CheckoutStarted);
    }

    #[test]
    fn cart_snapshot_is_flat() {
        let json = r#"{"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890",
            "type":"cart_snapshot","currency":"USD","items":[{"sku":"A-1","name":"Lamp","qty":2,"unit_price_minor":999}]}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        let EventBody::CartSnapshot(c) = &e.body else {
            panic!("{e:?}")
        };
        assert_eq!(c.total_minor(), Some(1998));
        assert_eq!(e.body.kind(), "cart_snapshot");
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["type"], "cart_snapshot");
        assert_eq!(back["items"][0]["unit_price_minor"], 999);
    }

    #[test]
    fn unknown_event_types_do_not_fail_the_batch() {
        let json = r#"{"v":1,"sent_at":5,"events":[
            {"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890","type":"hologram_opened","x":2},
            {"id":"1192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890","type":"page_exit"}]}"#;
        let b: Batch = serde_json::from_str(json).unwrap();
        assert_eq!(b.events[0].body, EventBody::Unknown);
        assert_eq!(b.events[1].body, EventBody::PageExit);
        assert_eq!(b.dropped, 0, "dropped defaults to zero");
    }

    #[test]
    fn identify_wire_shape() {
        let json = r#"{"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890",
            "type":"identify","email":"ann@example.com","consent":{"text":"Email me","version":"v1"}}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        assert_eq!(e.body.kind(), "identify");
        assert_eq!(
            serde_json::from_value::<Event>(serde_json::to_value(&e).unwrap()).unwrap(),
            e
        );
    }

    #[test]
    fn wrong_types_are_rejected() {
        let json = r#"{"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890",
            "type":"call","role":"checkout","outcome":"ok","method":"GET","url":"/x","status":"five","duration_ms":1}"#;
        assert!(serde_json::from_str::<Event>(json).is_err());
        let json = r#"{"id":"0192f3c4a1b27e3f9d1c5b8a7e6f5d4c","ts":1,"session":"s1234567890",
            "type":"call","role":"basket","outcome":"ok","method":"GET","url":"/x","duration_ms":1}"#;
        assert!(serde_json::from_str::<Event>(json).is_err());
    }
}

//! Parse and validate an ingest body into [`EventRow`]s. Every error names the
//! offending field, as a JSON path (`events[3].ts`).

use std::collections::HashSet;

use serde::Deserialize;

use steadycart_protocol::{
    limits::{MAX_EVENTS_PER_BATCH, MAX_ID_LEN, MAX_SHORT_LEN, MAX_URL_LEN, MIN_ID_LEN},
    Batch, EventBody, OLDEST_SUPPORTED_VERSION, PROTOCOL_VERSION,
};

use crate::{config::IngestConfig, store::events::EventRow};

/// A rejected batch: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// JSON path of the offending field (`"events[3].ts"`), or `"body"`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A validated batch, ready for the writer.
#[derive(Debug)]
pub struct ValidBatch {
    /// Rows to insert (in-batch duplicate ids removed).
    pub rows: Vec<EventRow>,
    /// Events skipped because their id repeated within the batch.
    pub duplicates: u32,
    /// Events the snippet reports it dropped before sending.
    pub dropped_by_client: u32,
}

/// Parse `body` as a [`Batch`], naming the failing field on error.
///
/// Valid batches of calls and field-less kinds are decoded by
/// [`super::fast_parse`], other valid batches by the derived impl; only a
/// batch that fails goes through `serde_path_to_error`, to name the field.
pub fn parse(body: &[u8]) -> Result<Batch, FieldError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| FieldError::new("body", format!("body is not valid UTF-8: {e}")))?;
    if let Some(batch) = super::fast_parse::parse(text) {
        return Ok(batch);
    }
    // Other valid batches: the derived impl without path tracking (which
    // allocates for every key it passes), read exactly as the path-tracking
    // read below (trailing bytes are not checked by either).
    if let Ok(batch) = Batch::deserialize(&mut serde_json::Deserializer::from_str(text)) {
        return Ok(batch);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, Batch>(de).map_err(|e| {
        // A batch of another protocol version may have another shape: say
        // so rather than point at whatever field differs.
        if let Some(v) = declared_version(text) {
            if let Err(e) = check_version(v, OLDEST_SUPPORTED_VERSION, PROTOCOL_VERSION) {
                return e;
            }
        }
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        match path.as_str() {
            // `""`: an unknown key named "" (found by the `ingest` fuzz
            // target) would otherwise name no field at all.
            "." | "?" | "" => {
                let field = missing_field(&message).unwrap_or("body").to_string();
                FieldError::new(field, message)
            }
            _ => refine_event_path(text, &path).unwrap_or(FieldError::new(path, message)),
        }
    })
}

/// The `v` of a body that did not parse as a [`Batch`], if it has one.
fn declared_version(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        v: u64,
    }
    serde_json::from_str::<Versioned>(text).ok().map(|b| b.v)
}

/// `missing field `sent_at`` → `sent_at` (a top-level field is missing).
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    Some(&rest[..rest.find('`')?])
}

/// Accept versions `oldest..=current`; refuse others with a message that
/// says which side to update.
pub fn check_version(v: u64, oldest: u32, current: u32) -> Result<(), FieldError> {
    let accepted = if oldest == current {
        format!("{current}")
    } else {
        format!("{oldest} and {current}")
    };
    if v > u64::from(current) {
        Err(FieldError::new(
            "v",
            format!(
                "unsupported protocol version {v}: newer than this collector understands \
                 (it accepts {accepted}); update the collector"
            ),
        ))
    } else if v < u64::from(oldest) {
        Err(FieldError::new(
            "v",
            format!(
                "unsupported protocol version {v}: too old (this collector accepts {accepted}); \
                 update the snippet"
            ),
        ))
    } else {
        Ok(())
    }
}

/// Events are flattened and `type`-tagged, which hides the inner field from
/// serde's path: re-read the failing event alone to name the field.
fn refine_event_path(text: &str, path: &str) -> Option<FieldError> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // read only to find which field fails
    struct Common {
        id: String,
        ts: i64,
        session: String,
        page: Option<String>,
        #[serde(rename = "type")]
        kind: String,
    }
    fn locate<T: serde::de::DeserializeOwned>(
        path: &str,
        event: &serde_json::Value,
    ) -> Option<FieldError> {
        serde_path_to_error::deserialize::<_, T>(event)
            .err()
            .map(|e| {
                let inner = e.path().to_string();
                let message = e.into_inner().to_string();
                // A missing field has the event itself as its path: name the field.
                let inner = match inner.as_str() {
                    "." => missing_field(&message).unwrap_or("?").to_string(),
                    _ => inner,
                };
                FieldError::new(format!("{path}.{inner}"), message)
            })
    }
    let index: usize = path
        .strip_prefix("events[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let event = value.get("events")?.get(index)?;
    locate::<Common>(path, event).or_else(|| match event.get("type")?.as_str()? {
        "call" => locate::<steadycart_protocol::CallEvent>(path, event),
        _ => None,
    })
}

fn check_id(field: &str, id: &str) -> Result<(), FieldError> {
    let ok = (MIN_ID_LEN..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be {MIN_ID_LEN}-{MAX_ID_LEN} characters of [0-9A-Za-z_-]"),
        ))
    }
}

fn check_len(field: impl FnOnce() -> String, value: &str, max: usize) -> Result<(), FieldError> {
    if value.len() > max {
        Err(FieldError::new(field(), format!("longer than {max} bytes")))
    } else {
        Ok(())
    }
}

/// Validate a parsed batch for `site_id`, received at `received_at` (ms).
pub fn validate(
    batch: Batch,
    site_id: i64,
    received_at: i64,
    limits: &IngestConfig,
) -> Result<ValidBatch, FieldError> {
    check_version(
        u64::from(batch.v),
        OLDEST_SUPPORTED_VERSION,
        PROTOCOL_VERSION,
    )?;
    if batch.events.is_empty() {
        return Err(FieldError::new("events", "no events"));
    }
    if batch.events.len() > MAX_EVENTS_PER_BATCH {
        return Err(FieldError::new(
            "events",
            format!("more than {MAX_EVENTS_PER_BATCH} events in one batch"),
        ));
    }
    check_len(|| "sdk".into(), &batch.sdk, MAX_SHORT_LEN)?;
    let oldest = batch.sent_at - limits.max_event_age.as_millis() as i64;
    let newest = batch.sent_at + limits.max_event_lead.as_millis() as i64;

    let mut seen = HashSet::with_capacity(batch.events.len());
    let mut rows = Vec::with_capacity(batch.events.len());
    let mut duplicates = 0;
    for (i, event) in batch.events.into_iter().enumerate() {
        let at = |f: &str| format!("events[{i}].{f}");
        check_id(&at("id"), &event.id)?;
        check_id(&at("session"), &event.session)?;
        if event.ts < oldest || event.ts > newest {
            return Err(FieldError::new(
                at("ts"),
                "outside the allowed window around the batch's sent_at",
            ));
        }
        if let Some(page) = &event.page {
            check_len(|| at("page"), page, MAX_URL_LEN)?;
        }
        match &event.body {
            EventBody::Call(call) => {
                check_len(|| at("method"), &call.method, 16)?;
                check_len(|| at("url"), &call.url, MAX_URL_LEN)?;
                if let Some(sku) = &call.sku {
                    check_len(|| at("sku"), sku, MAX_SHORT_LEN)?;
                }
                if let Some(status) = call.status {
                    if !(100..=599).contains(&status) {
                        return Err(FieldError::new(at("status"), "not an HTTP status"));
                    }
                }
            }
            EventBody::FallbackHidden { reason, .. } => check_len(|| at("reason"), reason, 64)?,
            EventBody::CheckoutCompleted {
                order_id: Some(order),
            } => check_len(|| at("order_id"), order, MAX_SHORT_LEN)?,
            EventBody::CartSnapshot(cart) => steadycart_protocol::cart::check_cart(cart)
                .map_err(|e| FieldError::new(at(&e.field), e.message))?,
            EventBody::Identify { email, consent } => {
                steadycart_protocol::survey::check_identify(email, consent)
                    .map_err(|e| FieldError::new(at(e.field), e.message))?
            }
            _ => super::survey::check(&event.body, &at)?,
        }
        if !seen.insert(event.id.clone()) {
            duplicates += 1;
            continue;
        }
        // Serialising our own type cannot fail; an empty body would be caught
        // by the admin read, never silently accepted.
        let body = serde_json::to_string(&event).unwrap_or_default();
        // These kinds also write their strings to their own columns (survey
        // answers, carts, contacts), which PostgreSQL cannot store with a
        // NUL: refused here rather than by the database. Other events keep
        // any string verbatim (the JSON body escapes it).
        if crate::store::events::has_effects(event.body.kind()) && has_nul(&body) {
            return Err(FieldError::new(
                format!("events[{i}]"),
                "NUL characters (\\u0000) are not allowed in this event",
            ));
        }
        rows.push(EventRow {
            site_id,
            event_id: event.id,
            session_id: event.session,
            kind: event.body.kind(),
            client_ts: event.ts,
            received_at,
            body,
        });
    }
    Ok(ValidBatch {
        rows,
        duplicates,
        dropped_by_client: batch.dropped,
    })
}

/// Whether the serialised event `body` holds a NUL character in any string
/// or key. serde_json writes NUL as the escape `\u0000`; the substring test
/// is the fast path, the parse tells it from an escaped backslash before
/// `u0000` (a shopper typing the six characters `\u0000`).
fn has_nul(body: &str) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(walk),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || walk(v)),
            _ => false,
        }
    }
    body.contains("\\u0000")
        && serde_json::from_str::<serde_json::Value>(body).map_or(true, |v| walk(&v))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_key_named_nothing_still_names_a_field() {
        // Fuzzer input (fuzz/corpus/ingest/empty_key.json).
        let e = parse(br#"{"":sk17":s9":sku0000orpus","se"#).err().unwrap();
        assert!(!e.field.is_empty(), "{e:?}");
        let e = parse(br#"{"":1}"#).err().unwrap();
        assert!(!e.field.is_empty(), "{e:?}");
    }

    use super::*;

    const NOW: i64 = 1_764_333_600_000;

    fn body(events: &str) -> String {
        format!(r#"{{"v":1,"sdk":"t","sent_at":{NOW},"events":[{events}]}}"#)
    }

    fn event(id: &str, extra: &str) -> String {
        format!(r#"{{"id":"{id}","ts":{NOW},"session":"s_0123456789abcdef",{extra}}}"#)
    }

    fn run(text: &str) -> Result<ValidBatch, FieldError> {
        let batch = parse(text.as_bytes())?;
        validate(batch, 1, NOW, &IngestConfig::default())
    }

    const ID1: &str = "0123456789abcdef0123456789abcdef";
    const ID2: &str = "1123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_a_good_batch() {
        let ok = run(&body(&event(
            ID1,
            r#""type":"call","role":"checkout","outcome":"http_error","method":"POST","url":"http://x/api/checkout","status":503,"duration_ms":12"#,
        )))
        .unwrap();
        assert_eq!(ok.rows.len(), 1);
        assert_eq!(ok.rows[0].kind, "call");
    }

    #[test]
    fn malformed_json_names_body() {
        let err = run("{\"v\":1,").unwrap_err();
        assert_eq!(err.field, "body");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = run(&body(&event(
            ID1,
            r#""type":"call","role":"checkout","outcome":"ok","method":"GET","url":"/","duration_ms":"slow""#,
        )))
        .unwrap_err();
        assert_eq!(err.field, "events[0].duration_ms", "{err}");
    }

    #[test]
    fn a_missing_event_field_is_named() {
        let no_id = body(&event(ID1, r#""type":"page_exit""#).replace(r#""id":"#, r#""not_id":"#));
        assert_eq!(run(&no_id).unwrap_err().field, "events[0].id");
        let no_ts = body(&event(ID1, r#""type":"page_exit""#).replace(r#""ts":"#, r#""at":"#));
        assert_eq!(run(&no_ts).unwrap_err().field, "events[0].ts");
    }

    #[test]
    fn missing_field_is_reported() {
        let err = run(r#"{"v":1,"events":[]}"#).unwrap_err();
        assert!(err.message.contains("sent_at"), "{err}");
        assert_eq!(err.field, "sent_at");
    }

    #[test]
    fn unknown_version_is_rejected_clearly() {
        let err = run(&body(&event(ID1, r#""type":"page_exit""#)).replace(r#""v":1"#, r#""v":9"#))
            .unwrap_err();
        assert_eq!(err.field, "v");
        assert!(err.message.contains("unsupported protocol version 9"));
    }

    #[test]
    fn current_and_previous_versions_are_accepted_others_named() {
        // Today's versions.
        let ok = body(&event(ID1, r#""type":"page_exit""#));
        assert!(run(&ok).is_ok());
        for bad in ["0", "2", "4294967295", "99999999999"] {
            let err = run(&ok.replace(r#""v":1"#, &format!(r#""v":{bad}"#))).unwrap_err();
            assert_eq!(err.field, "v", "{bad}: {err}");
            assert!(
                err.message.contains("unsupported protocol version"),
                "{err}"
            );
        }
        // The policy once the protocol moves on to version 3.
        assert!(check_version(3, 2, 3).is_ok());
        assert!(check_version(2, 2, 3).is_ok());
        let old = check_version(1, 2, 3).unwrap_err();
        assert_eq!(old.field, "v");
        assert!(old.message.contains("too old"), "{old}");
        assert!(old.message.contains("update the snippet"), "{old}");
        let new = check_version(4, 2, 3).unwrap_err();
        assert!(new.message.contains("update the collector"), "{new}");
        assert!(new.message.contains("accepts 2 and 3"), "{new}");
    }

    #[test]
    fn a_batch_of_another_shape_is_named_by_its_version() {
        // A future version that renamed `events`: the version is the news.
        let err = run(r#"{"v":7,"sent_at":1,"items":[]}"#).unwrap_err();
        assert_eq!(err.field, "v", "{err}");
        let err = run(r#"{"v":"1","sent_at":1,"events":[]}"#).unwrap_err();
        assert_eq!(err.field, "v", "{err}");
        let err = run(r#"{"sent_at":1,"events":[]}"#).unwrap_err();
        assert_eq!(err.field, "v", "{err}");
    }

    #[test]
    fn bad_ids_and_timestamps_are_rejected() {
        let err = run(&body(&event(
            "x'; DROP TABLE events;--",
            r#""type":"page_exit""#,
        )))
        .unwrap_err();
        assert_eq!(err.field, "events[0].id");
        let far_future = event(ID1, r#""type":"page_exit""#)
            .replace(&NOW.to_string(), &(NOW + 3_600_000).to_string());
        let err = run(&body(&far_future)).unwrap_err();
        assert_eq!(err.field, "events[0].ts");
    }

    #[test]
    fn long_strings_are_rejected() {
        let url = "a".repeat(100_000);
        let err = run(&body(&event(
            ID1,
            &format!(r#""type":"call","role":"price","outcome":"ok","method":"GET","url":"{url}","duration_ms":1"#),
        )))
        .unwrap_err();
        assert_eq!(err.field, "events[0].url");
    }

    #[test]
    fn in_batch_duplicates_are_counted_once() {
        let e = event(ID1, r#""type":"page_exit""#);
        let ok = run(&body(&format!(
            "{e},{e},{}",
            event(ID2, r#""type":"page_exit""#)
        )))
        .unwrap();
        assert_eq!(ok.rows.len(), 2);
        assert_eq!(ok.duplicates, 1);
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let err = parse(b"{\"v\":1,\"sdk\":\"\xff\xfe\"}").unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.contains("UTF-8"));
    }

    #[test]
    fn deep_nesting_is_rejected_without_crashing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = run(&body(&event(
            ID1,
            &format!(r#""type":"page_exit","x":{deep}"#),
        )))
        .unwrap_err();
        assert!(err.message.contains("recursion"), "{err}");
    }

    #[test]
    fn hostile_strings_are_kept_verbatim() {
        let hostile = r#"<script>alert(1)</script>=HYPERLINK(\"x\")"#;
        let ok = run(&body(&event(
            ID1,
            &format!(r#""type":"checkout_completed","order_id":"{hostile}""#),
        )))
        .unwrap();
        assert!(ok.rows[0]
            .body
            .contains("<script>alert(1)</script>=HYPERLINK"));
    }

    #[test]
    fn nul_is_refused_where_it_would_reach_its_own_column() {
        for fields in [
            r#""type":"identify","email":"ann@example.com","consent":{"text":"\u0000x","version":"v1"}"#,
            r#""type":"checkout_completed","order_id":"a\u0000b""#,
        ] {
            let err = run(&body(&event(ID1, fields))).unwrap_err();
            assert_eq!(err.field, "events[0]", "{fields}");
            assert!(err.message.contains("NUL"), "{err}");
        }
        // A call's strings live only in the JSON body: kept verbatim.
        let ok = run(&body(&event(
            ID1,
            r#""type":"call","role":"checkout","outcome":"ok","method":"POST","url":"https://shop.example/\u0000","duration_ms":3"#,
        )))
        .unwrap();
        assert!(ok.rows[0].body.contains(r#"\u0000"#));
        // The six characters `\u0000` typed by a shopper are text, not NUL.
        let ok = run(&body(&event(
            ID1,
            r#""type":"checkout_completed","order_id":"a\\u0000b""#,
        )))
        .unwrap();
        assert!(ok.rows[0].body.contains(r#"a\\u0000b"#));
    }

    #[test]
    fn cart_snapshot_and_identify_are_checked() {
        let ok = run(&body(&event(
            ID1,
            r#""type":"cart_snapshot","currency":"EUR","items":[{"sku":"a","name":"Cable","qty":2,"unit_price_minor":1299}]"#,
        )))
        .unwrap();
        assert_eq!(ok.rows[0].kind, "cart_snapshot");
        let err = run(&body(&event(
            ID1,
            r#""type":"cart_snapshot","items":[{"qty":0}]"#,
        )))
        .unwrap_err();
        assert_eq!(err.field, "events[0].items[0].qty");
        let ok = run(&body(&event(
            ID1,
            r#""type":"identify","email":"ann@example.com","consent":{"text":"Email me","version":"v1"}"#,
        )))
        .unwrap();
        assert_eq!(ok.rows[0].kind, "identify");
        let err = run(&body(&event(
            ID1,
            r#""type":"identify","email":"<script>","consent":{"text":"Email me","version":"v1"}"#,
        )))
        .unwrap_err();
        assert_eq!(err.field, "events[0].email");
        let err = run(&body(&event(
            ID1,
            r#""type":"identify","email":"ann@example.com""#,
        )))
        .unwrap_err();
        assert!(err.message.contains("consent"), "{err}");
    }
}

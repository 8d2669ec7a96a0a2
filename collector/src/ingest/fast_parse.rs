//! The fast path of [`super::validate::parse`]: a well-formed batch decoded
//! without serde's buffering, or `None` so the caller takes the reference
//! path (plain derive through `serde_path_to_error`), which also builds the
//! 400's field name.
//!
//! Why: [`Event`] flattens a `type`-tagged [`EventBody`], so the derived
//! `Deserialize` buffers every event into serde's `Content` tree twice (once
//! for `flatten`, once for the tag), and `serde_path_to_error` records every
//! key it passes — dozens of allocations per event, the largest cost of a
//! valid batch. Here each event is read in one pass into a flat struct
//! (unknown keys skipped, no buffering), which covers the kinds that make up
//! nearly all traffic: calls and the kinds without fields. A batch holding any
//! other kind (cart snapshots, surveys, identify…) takes the reference path.
//!
//! Contract (tested below and by `tests/ingest_properties.rs`): whenever this
//! returns `Some(batch)`, the reference path returns `Ok` with an equal
//! batch. Anything unusual — an error, a duplicate key, an event that is not
//! an object, JSON nested deeper than [`MAX_FAST_DEPTH`] — returns `None`,
//! never a different answer.

use std::{borrow::Cow, fmt, marker::PhantomData};

use serde::{
    de::{value::MapAccessDeserializer, MapAccess, Visitor},
    Deserialize, Deserializer,
};
use steadycart_protocol::{
    role::{Outcome, Role},
    Batch, CallEvent, Event, EventBody,
};

/// Bodies nested deeper than this go to the reference path, which enforces
/// serde_json's recursion limit (128) with the error the bad-input tests
/// expect; skipping unknown values here would not. A real batch nests about 6.
pub const MAX_FAST_DEPTH: usize = 32;

/// [`Batch`], field for field in the same order (so the array form, which
/// derived structs also accept, decodes alike).
#[derive(Deserialize)]
struct FastBatch<'a> {
    v: u32,
    #[serde(default)]
    sdk: String,
    sent_at: i64,
    #[serde(default)]
    dropped: u32,
    #[serde(borrow)]
    events: Vec<ObjectOnly<FastEvent<'a>>>,
}

/// Every field of the common part and of [`CallEvent`]; other keys are
/// skipped. Which call fields are required is checked in [`FastEvent::into_event`].
#[derive(Deserialize)]
struct FastEvent<'a> {
    id: String,
    ts: i64,
    session: String,
    #[serde(default)]
    page: Option<String>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    outcome: Option<Outcome>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    duration_ms: Option<u32>,
    #[serde(default)]
    sku: Option<String>,
}

impl FastEvent<'_> {
    fn into_event(self) -> Option<Event> {
        let body = match &*self.kind {
            "call" => EventBody::Call(CallEvent {
                role: self.role?,
                outcome: self.outcome?,
                method: self.method?,
                url: self.url?,
                status: self.status,
                duration_ms: self.duration_ms?,
                sku: self.sku,
            }),
            // Kinds without fields ignore every other key, as the derived
            // impl does (the call fields were only type-checked, which can
            // only send a batch to the reference path, never change it).
            "session_start" => EventBody::SessionStart,
            "cart_activity" => EventBody::CartActivity,
            "checkout_started" => EventBody::CheckoutStarted,
            "page_exit" => EventBody::PageExit,
            _ => return None,
        };
        Some(Event {
            id: self.id,
            ts: self.ts,
            session: self.session,
            page: self.page,
            body,
        })
    }
}

/// `T` from a JSON object only: derived structs also accept arrays, the
/// flattened [`Event`] does not.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Object(PhantomData)).map(ObjectOnly)
    }
}

/// Decode a batch that is valid JSON of the right shape made only of calls
/// and field-less kinds; `None` for anything else (the caller then takes the
/// reference path).
pub fn parse(text: &str) -> Option<Batch> {
    if nesting_depth_exceeds(text.as_bytes(), MAX_FAST_DEPTH) {
        return None;
    }
    let fast: FastBatch<'_> = serde_json::from_str(text).ok()?;
    let events = fast
        .events
        .into_iter()
        .map(|e| e.0.into_event())
        .collect::<Option<Vec<_>>>()?;
    Some(Batch {
        v: fast.v,
        sdk: fast.sdk,
        sent_at: fast.sent_at,
        dropped: fast.dropped,
        events,
    })
}

/// Whether `json` opens more than `max` arrays/objects at once (brackets
/// inside strings don't count). Meant for text that may not even be JSON:
/// it only has to be right when the text is valid.
fn nesting_depth_exceeds(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_333_600_000;

    fn reference(text: &str) -> Option<Batch> {
        serde_json::from_str::<Batch>(text).ok()
    }

    fn batch(events: &[&str]) -> String {
        let events: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                format!(
                    r#"{{"id":"{i:032x}","ts":{NOW},"session":"s_0123456789abcdef","page":"/p",{e}}}"#
                )
            })
            .collect();
        format!(
            r#"{{"v":1,"sdk":"t","sent_at":{NOW},"dropped":2,"events":[{}]}}"#,
            events.join(",")
        )
    }

    /// The contract: `Some` only where the reference agrees.
    fn agrees(text: &str) {
        if let Some(fast) = parse(text) {
            assert_eq!(Some(fast), reference(text), "{text}");
        }
    }

    #[test]
    fn every_kind_decodes_as_the_derived_impl_does() {
        let kinds = [
            r#""type":"call","role":"checkout","outcome":"http_error","method":"POST","url":"https://x/api/checkout","status":503,"duration_ms":84"#,
            r#""type":"call","role":"price","outcome":"ok","method":"GET","url":"/p","duration_ms":1,"sku":"a","status":null"#,
            r#""type":"session_start""#,
            r#""type":"cart_activity","extra":{"a":[1,2]}"#,
            r#""type":"checkout_started""#,
            r#""type":"page_exit""#,
            r#""type":"checkout_completed","order_id":"A-1""#,
            r#""type":"fallback_shown","role":"checkout","reason":"http_error""#,
            r#""type":"fallback_hidden","role":"checkout","reason":"recovered""#,
            r#""type":"cart_snapshot","currency":"EUR","items":[{"sku":"a","name":"C","qty":2,"unit_price_minor":1299}]"#,
            r#""type":"identify","email":"ann@example.com","consent":{"text":"Email me","version":"v1"}"#,
            r#""type":"from_the_future","whatever":[1]"#,
        ];
        // Calls and field-less kinds take the fast path, alone or together.
        let fast_kinds = &kinds[..6];
        let text = batch(fast_kinds);
        let fast = parse(&text).expect("a valid batch takes the fast path");
        assert_eq!(Some(fast), reference(&text));
        for k in fast_kinds {
            assert!(parse(&batch(&[k])).is_some(), "{k}");
        }
        // Any other kind sends the whole batch to the reference path.
        for k in &kinds[6..] {
            let mixed = batch(&[kinds[0], k]);
            assert!(reference(&mixed).is_some(), "{k}");
            assert!(parse(&mixed).is_none(), "{k}");
        }
        for k in kinds {
            agrees(&batch(&[k]));
        }
    }

    #[test]
    fn anything_unusual_goes_to_the_reference_path() {
        let call = r#""type":"call","role":"checkout","outcome":"ok","method":"GET","url":"/","duration_ms":1"#;
        for bad in [
            // Wrong types, missing fields, duplicates.
            batch(&[&call.replace(r#""duration_ms":1"#, r#""duration_ms":"1""#)]),
            batch(&[&call.replace(r#","duration_ms":1"#, "")]),
            batch(&[&format!(r#"{call},"role":"price""#)]),
            batch(&[r#""type":"page_exit","type":"call""#]),
            batch(&[r#""type":5"#]),
            batch(&[r#""kind":"page_exit""#]),
            // An event that is not an object.
            format!(r#"{{"v":1,"sent_at":{NOW},"events":[["i",1,"s",null,"page_exit"]]}}"#),
            // A required call field missing or null.
            batch(&[&call.replace(r#""method":"GET""#, r#""method":null"#)]),
            // Deep nesting inside an ignored field.
            batch(&[&format!(
                r#""type":"page_exit","x":{}{}"#,
                "[".repeat(200),
                "]".repeat(200)
            )]),
            // Not JSON, trailing bytes, missing top-level fields.
            "{\"v\":1,".to_string(),
            format!("{} x", batch(&[r#""type":"page_exit""#])),
            r#"{"v":1,"events":[]}"#.to_string(),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn escapes_and_nulls_match_the_reference() {
        for e in [
            r#""type":"call","role":"checkout","outcome":"ok","method":"G\"ET","url":"\u003cscript\u003e","duration_ms":1"#,
            r#""type":"page_\u0065xit""#,
        ] {
            let text = batch(&[e]);
            assert!(parse(&text).is_some(), "{e}");
            agrees(&text);
        }
        let null_page =
            batch(&[r#""type":"page_exit""#]).replace(r#""page":"/p""#, r#""page":null"#);
        assert!(parse(&null_page).is_some_and(|b| b.events[0].page.is_none()));
        agrees(&null_page);
    }

    #[test]
    fn the_array_form_decodes_alike() {
        let text = format!(
            r#"[1,"t",{NOW},0,[{{"id":"{:032x}","ts":{NOW},"session":"s_0123456789abcdef","type":"page_exit"}}]]"#,
            7
        );
        assert!(reference(&text).is_some());
        assert_eq!(parse(&text), reference(&text));
    }

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert!(!nesting_depth_exceeds(br#"{"a":"[[[[[[[[[["}"#, 2));
        assert!(!nesting_depth_exceeds(br#"{"a":"\"[[[[[[[["}"#, 2));
        assert!(nesting_depth_exceeds(br#"{"a":[[1]]}"#, 2));
        assert!(!nesting_depth_exceeds(br#"{"a":[1],"b":{"c":2}}"#, 2));
    }
}

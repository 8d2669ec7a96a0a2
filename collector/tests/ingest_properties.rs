//! Property tests of ingest parsing and validation (the part of the collector
//! any visitor's browser can reach): arbitrary bytes and arbitrary JSON never
//! panic and every refusal names a field; generated valid batches are
//! accepted whole; one broken event is refused with its own path.

use proptest::prelude::*;
use serde_json::{json, Value};
use steadycart_collector::{
    config::IngestConfig,
    ingest::{fast_parse, validate},
};
use steadycart_protocol::Batch;

const NOW: i64 = 1_790_000_000_000;

/// Arbitrary JSON, biased towards the batch's own vocabulary so generated
/// values reach past the first type check.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "v",
        "sdk",
        "sent_at",
        "events",
        "dropped",
        "id",
        "ts",
        "session",
        "page",
        "type",
        "role",
        "outcome",
        "method",
        "url",
        "status",
        "duration_ms",
        "sku",
        "x",
    ])
    .prop_map(String::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::from),
        prop::sample::select(vec![
            "call",
            "checkout",
            "http_error",
            "ok",
            "POST",
            "stall"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event(i: usize, status: u16, duration: u32) -> Value {
    json!({
        "id": format!("{i:016x}{:016x}", 0xabcdu64),
        "ts": NOW - 1000,
        "session": "s_prop_session_01",
        "page": "/checkout",
        "type": "call",
        "role": "checkout",
        "outcome": if status >= 500 { "http_error" } else { "ok" },
        "method": "POST",
        "url": "https://shop.example/api/checkout",
        "status": status,
        "duration_ms": duration,
    })
}

fn batch(events: Vec<Value>) -> Value {
    json!({ "v": 1, "sdk": "prop", "sent_at": NOW, "events": events })
}

fn check(body: &[u8]) -> Result<validate::ValidBatch, validate::FieldError> {
    let parsed = validate::parse(body)?;
    validate::validate(parsed, 1, NOW, &IngestConfig::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = check(&body) {
            prop_assert!(!e.field.is_empty());
        }
    }

    #[test]
    fn arbitrary_json_is_refused_with_a_field(value in any_json()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Err(e) = check(&body) {
            prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
        }
    }

    #[test]
    fn generated_valid_batches_are_accepted_whole(
        statuses in prop::collection::vec((200u16..600, 0u32..600_000), 1..50),
    ) {
        let events: Vec<Value> = statuses
            .iter()
            .enumerate()
            .map(|(i, (s, d))| event(i, *s, *d))
            .collect();
        let n = events.len();
        let ok = check(&serde_json::to_vec(&batch(events)).unwrap())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(ok.rows.len(), n);
        prop_assert_eq!(ok.duplicates, 0);
    }

    /// The fast path of `parse` never disagrees with the derived impl: for
    /// valid events with fields replaced, removed or added (any kind, any
    /// value), it answers nothing or exactly what serde's derive answers.
    #[test]
    fn the_fast_path_agrees_with_the_derived_impl(
        n in 1usize..6,
        edits in prop::collection::vec((0usize..6, any_json(), prop::sample::select(vec![
            "id", "ts", "session", "page", "type", "role", "outcome", "method",
            "url", "status", "duration_ms", "sku", "order_id", "reason", "x",
        ]), any::<bool>()), 0..6),
        kinds in prop::collection::vec(prop::sample::select(vec![
            "call", "page_exit", "cart_activity", "checkout_started", "session_start",
            "checkout_completed", "fallback_shown", "identify", "later_kind",
        ]), 6),
    ) {
        let mut events: Vec<Value> = (0..n).map(|i| event(i, 200, 10)).collect();
        for (i, e) in events.iter_mut().enumerate() {
            e["type"] = json!(kinds[i]);
        }
        for (k, value, field, remove) in edits {
            let e = &mut events[k % n];
            if remove {
                e.as_object_mut().unwrap().remove(field);
            } else {
                e[field] = value;
            }
        }
        let text = serde_json::to_string(&batch(events)).unwrap();
        if let Some(fast) = fast_parse::parse(&text) {
            prop_assert_eq!(Some(fast), serde_json::from_str::<Batch>(&text).ok(), "{}", text);
        }
    }

    /// Breaking one field of event `k` is refused naming `events[k]`. (An
    /// unknown `type` is not breakage: it is stored as `unknown` for forward
    /// compatibility.)
    #[test]
    fn one_broken_event_is_named(
        n in 1usize..20,
        k in 0usize..20,
        breakage in prop::sample::select(vec![
            ("ts", json!("yesterday")),
            ("id", json!("short")),
            ("status", json!(-1)),
            ("duration_ms", json!("slow")),
            ("url", json!(format!("https://shop.example/{}", "a".repeat(3000)))),
            ("session", json!(null)),
            ("role", json!("<script>")),
        ]),
    ) {
        let k = k % n;
        let mut events: Vec<Value> = (0..n).map(|i| event(i, 200, 10)).collect();
        events[k][breakage.0] = breakage.1.clone();
        let err = check(&serde_json::to_vec(&batch(events)).unwrap())
            .err()
            .ok_or_else(|| TestCaseError::fail(format!("{} = {} accepted", breakage.0, breakage.1)))?;
        prop_assert!(
            err.field.starts_with(&format!("events[{k}]")),
            "{} broken at {k}, refused at {:?}",
            breakage.0,
            err
        );
    }
}

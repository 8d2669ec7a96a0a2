//! Events as JSON text, written by hand: byte for byte what `serde_json`
//! makes of [`steadycart_protocol::Event`] (the tests hold it to that), but
//! without a serializer, `core::fmt` or float formatting in the wasm — a
//! serde encoder (through `serde-wasm-bindgen` and `JSON.stringify`) cost the
//! snippet several kilobytes gzip. Pure: no browser types.

use steadycart_protocol::{
    cart::CartSnapshot,
    survey::{Answer, Trouble},
    CallEvent, Event, EventBody,
};

/// `event` as compact JSON, fields in the protocol's order.
pub fn encode(event: &Event) -> String {
    let mut o = Obj::new(String::with_capacity(256));
    o.str("id", &event.id);
    o.int("ts", event.ts);
    o.str("session", &event.session);
    if let Some(page) = &event.page {
        o.str("page", page);
    }
    o.str("type", event.body.kind());
    match &event.body {
        EventBody::Call(c) => call(&mut o, c),
        EventBody::FallbackShown { role, reason } => {
            o.str("role", role.as_str());
            o.str("reason", reason.as_str());
        }
        EventBody::FallbackHidden { role, reason } => {
            o.str("role", role.as_str());
            o.str("reason", reason);
        }
        EventBody::CheckoutCompleted { order_id } => {
            if let Some(id) = order_id {
                o.str("order_id", id);
            }
        }
        EventBody::SurveyShown { trigger, trouble } => {
            o.str("trigger", trigger);
            o.key("trouble");
            write_trouble(&mut o.out, trouble);
        }
        EventBody::SurveyDismissed { reason, trouble } => {
            o.str("reason", reason);
            o.key("trouble");
            write_trouble(&mut o.out, trouble);
        }
        EventBody::SurveyAnswered {
            trigger,
            answer,
            trouble,
        } => {
            o.str("trigger", trigger);
            o.key("answer");
            write_answer(&mut o.out, answer);
            o.key("trouble");
            write_trouble(&mut o.out, trouble);
        }
        EventBody::CartSnapshot(c) => cart(&mut o, c),
        EventBody::Identify { email, consent } => {
            o.str("email", email);
            o.key("consent");
            let mut inner = Obj::new(std::mem::take(&mut o.out));
            inner.str("text", &consent.text);
            inner.str("version", &consent.version);
            o.out = inner.end();
        }
        EventBody::SessionStart
        | EventBody::CartActivity
        | EventBody::CheckoutStarted
        | EventBody::PageExit
        | EventBody::Unknown => {}
    }
    o.end()
}

fn call(o: &mut Obj, c: &CallEvent) {
    o.str("role", c.role.as_str());
    o.str("outcome", c.outcome.as_str());
    o.str("method", &c.method);
    o.str("url", &c.url);
    if let Some(s) = c.status {
        o.int("status", s.into());
    }
    o.int("duration_ms", c.duration_ms.into());
    if let Some(sku) = &c.sku {
        o.str("sku", sku);
    }
}

fn cart(o: &mut Obj, c: &CartSnapshot) {
    if let Some(cur) = &c.currency {
        o.str("currency", cur);
    }
    o.key("items");
    o.out.push('[');
    for (i, item) in c.items.iter().enumerate() {
        if i > 0 {
            o.out.push(',');
        }
        let mut it = Obj::new(std::mem::take(&mut o.out));
        if let Some(v) = &item.sku {
            it.str("sku", v);
        }
        if let Some(v) = &item.name {
            it.str("name", v);
        }
        it.int("qty", item.qty.into());
        if let Some(v) = item.unit_price_minor {
            it.int("unit_price_minor", v);
        }
        o.out = it.end();
    }
    o.out.push(']');
}

fn write_trouble(out: &mut String, t: &Trouble) {
    let mut o = Obj::new(std::mem::take(out));
    o.key("roles");
    o.list(t.roles.iter().map(|r| r.as_str()));
    o.key("endpoints");
    o.list(t.endpoints.iter().map(String::as_str));
    if let Some(outcome) = t.last_outcome {
        o.str("last_outcome", outcome.as_str());
    }
    if let Some(s) = t.last_status {
        o.int("last_status", s.into());
    }
    *out = o.end();
}

fn write_answer(out: &mut String, a: &Answer) {
    let mut o = Obj::new(std::mem::take(out));
    if let Some(v) = &a.choice {
        o.str("choice", v);
    }
    if let Some(v) = &a.text {
        o.str("text", v);
    }
    if let Some(v) = a.rating {
        o.int("rating", v.into());
    }
    if let Some(v) = &a.email {
        o.str("email", v);
    }
    if let Some(c) = &a.consent {
        o.key("consent");
        let mut inner = Obj::new(std::mem::take(&mut o.out));
        inner.str("text", &c.text);
        inner.str("version", &c.version);
        o.out = inner.end();
    }
    *out = o.end();
}

/// A JSON object being written.
struct Obj {
    out: String,
    first: bool,
}

impl Obj {
    fn new(mut out: String) -> Obj {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(&mut self.out, key);
        self.out.push(':');
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_str(&mut self.out, value);
    }

    fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        push_int(&mut self.out, value);
    }

    fn list<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        self.out.push('[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_str(&mut self.out, item);
        }
        self.out.push(']');
    }

    fn end(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Append `s` as a JSON string, escaped as `serde_json` (and
/// `JSON.stringify`) escape it.
pub fn push_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `n` in decimal (without `core::fmt`, whose machinery would come into
/// the wasm with the first `format!` or `to_string()` of a number).
pub fn int_text(n: i64) -> String {
    let mut out = String::new();
    push_int(&mut out, n);
    out
}

/// Append `n` in decimal (without `core::fmt`).
pub fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut v = n.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use steadycart_protocol::{
        cart::{CartItem, CartSnapshot},
        survey::{Answer, Consent, Trouble},
        CallEvent, Event, EventBody, Outcome, Role,
    };

    use super::*;

    const OUTCOMES: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::HttpError,
        Outcome::NetworkError,
        Outcome::Stall,
        Outcome::Slow,
        Outcome::Aborted,
        Outcome::AppError,
    ];

    fn event(body: EventBody, page: Option<String>, ts: i64) -> Event {
        Event {
            id: "0192f3c4a1b27e3f9d1c5b8a7e6f5d4c".into(),
            ts,
            session: "s_5f1c2b9e8d7a6c5b4a39".into(),
            page,
            body,
        }
    }

    fn same_as_serde(e: &Event) {
        assert_eq!(encode(e), serde_json::to_string(e).unwrap());
    }

    #[test]
    fn every_event_type_matches_serde() {
        let trouble = Trouble {
            roles: vec![Role::Checkout, Role::Price],
            endpoints: vec!["POST /api/checkout".into()],
            last_outcome: Some(Outcome::HttpError),
            last_status: Some(503),
        };
        let bodies = vec![
            EventBody::Call(CallEvent {
                role: Role::Checkout,
                outcome: Outcome::HttpError,
                method: "POST".into(),
                url: "https://shop.example/api/checkout".into(),
                status: Some(503),
                duration_ms: 184,
                sku: Some("sku-1".into()),
            }),
            EventBody::Call(CallEvent {
                role: Role::Price,
                outcome: Outcome::Stall,
                method: "GET".into(),
                url: "/api/price/1".into(),
                status: None,
                duration_ms: 0,
                sku: None,
            }),
            EventBody::FallbackShown {
                role: Role::Payment,
                reason: Outcome::NetworkError,
            },
            EventBody::FallbackHidden {
                role: Role::Cart,
                reason: "recovered".into(),
            },
            EventBody::SessionStart,
            EventBody::CartActivity,
            EventBody::CheckoutStarted,
            EventBody::CheckoutCompleted { order_id: None },
            EventBody::CheckoutCompleted {
                order_id: Some("A-1001".into()),
            },
            EventBody::PageExit,
            EventBody::SurveyShown {
                trigger: "pointer_top".into(),
                trouble: trouble.clone(),
            },
            EventBody::SurveyDismissed {
                reason: "escape".into(),
                trouble: Trouble::default(),
            },
            EventBody::SurveyAnswered {
                trigger: "back".into(),
                answer: Answer::default(),
                trouble: trouble.clone(),
            },
            EventBody::SurveyAnswered {
                trigger: "idle".into(),
                answer: Answer {
                    choice: Some("broken".into()),
                    text: Some("the \"pay\" button\ndid nothing \\ ü 😀 \u{1}\u{1f}\u{7f}".into()),
                    rating: Some(2),
                    email: Some("ann@example.com".into()),
                    consent: Some(Consent {
                        text: "Yes, email me.".into(),
                        version: "2026-11".into(),
                    }),
                },
                trouble,
            },
            EventBody::CartSnapshot(CartSnapshot::default()),
            EventBody::CartSnapshot(CartSnapshot {
                currency: Some("USD".into()),
                items: vec![
                    CartItem {
                        sku: Some("VL-HP-01".into()),
                        name: Some("Aurora \"Headphones\"".into()),
                        qty: 2,
                        unit_price_minor: Some(12_900),
                    },
                    CartItem {
                        qty: 1,
                        ..CartItem::default()
                    },
                ],
            }),
            EventBody::Identify {
                email: "ann@example.com".into(),
                consent: Consent {
                    text: "Email me \"once\" <b>fixed</b>".into(),
                    version: "2026-11".into(),
                },
            },
            EventBody::Unknown,
        ];
        for body in bodies {
            same_as_serde(&event(
                body.clone(),
                Some("/checkout".into()),
                1_764_333_599_000,
            ));
            same_as_serde(&event(body, None, -5));
        }
    }

    #[test]
    fn integers() {
        for n in [0, 7, 10, 99, 1 << 53, -1, i64::MIN, i64::MAX] {
            let mut s = String::new();
            push_int(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    proptest! {
        #[test]
        fn any_call_matches_serde(
            method in ".{0,8}",
            url in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
            sku in proptest::option::of("[\\x00-\\x7f]{0,10}"),
            status in proptest::option::of(any::<u16>()),
            duration_ms in any::<u32>(),
            ts in any::<i64>(),
            role in 0usize..4,
            outcome in 0usize..7,
            page in proptest::option::of("\\PC{0,20}"),
        ) {
            let body = EventBody::Call(CallEvent {
                role: Role::ALL[role],
                outcome: OUTCOMES[outcome],
                method,
                url,
                status,
                duration_ms,
                sku,
            });
            same_as_serde(&event(body, page, ts));
        }

        #[test]
        fn any_answer_matches_serde(
            text in proptest::option::of("[\\x00-\\x7f]{0,30}|\\PC{0,30}"),
            email in proptest::option::of("[a-z@.]{0,20}"),
            rating in proptest::option::of(any::<u8>()),
            endpoints in proptest::collection::vec("[\\x00-\\x7f]{0,12}", 0..3),
            status in proptest::option::of(any::<u16>()),
        ) {
            let body = EventBody::SurveyAnswered {
                trigger: "return".into(),
                answer: Answer { choice: None, text, rating, email, consent: None },
                trouble: Trouble {
                    roles: vec![Role::Cart],
                    endpoints,
                    last_outcome: None,
                    last_status: status,
                },
            };
            same_as_serde(&event(body, None, 1));
        }
    }
}

//! Every snippet configuration option, described once: name, type,
//! default, example and meaning. The same options come from the script
//! tag (`data-NAME`), the page's `steadycart-config` JSON object (`NAME`)
//! and `Steadycart.init({...})` (`NAME` or its camelCase form).
//!
//! `cargo xtask docs` renders [`OPTIONS`] into `docs/config-reference.md`
//! and the TypeScript `SteadycartConfig` type of the npm package; a test
//! fails when either committed file differs from what this table gives,
//! and the snippet's own tests parse every example and default through
//! its real parser, so docs, types and code cannot drift apart.

/// The type of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// An http(s) URL.
    Url,
    /// Comma-separated endpoint rules `[METHOD ]PATTERN`.
    Rules,
    /// Comma-separated path prefixes starting with `/`.
    Paths,
    /// Comma-separated 4xx statuses.
    Statuses,
    /// A whole number in `min..=max`.
    Integer {
        /// Smallest value.
        min: u32,
        /// Largest value.
        max: u32,
    },
    /// A decimal number in `0..=1`.
    Fraction,
    /// One of the listed words.
    OneOf(&'static [&'static str]),
    /// A short token of `[0-9A-Za-z_.-]`, 1–64 characters.
    Token,
    /// SKU rules: `/path/{sku}` patterns and `body:FIELD`.
    SkuRules,
    /// `id:Label|id:Label` choices.
    Choices,
}

impl Kind {
    /// How the reference names the type.
    pub fn describe(self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Url => "URL".into(),
            Kind::Rules => "endpoint rules".into(),
            Kind::Paths => "path prefixes".into(),
            Kind::Statuses => "HTTP statuses".into(),
            Kind::Integer { min, max } => format!("integer {min}–{max}"),
            Kind::Fraction => "number 0–1".into(),
            Kind::OneOf(words) => words.join(" \\| "),
            Kind::Token => "token".into(),
            Kind::SkuRules => "SKU rules".into(),
            Kind::Choices => "choices".into(),
        }
    }

    /// The TypeScript type of the value in `init({...})`.
    pub fn typescript(self) -> String {
        match self {
            Kind::Rules | Kind::Paths | Kind::Statuses | Kind::SkuRules => {
                "string | string[]".into()
            }
            Kind::Integer { .. } | Kind::Fraction => "number | string".into(),
            Kind::OneOf(words) => words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" | "),
            Kind::Text | Kind::Url | Kind::Token | Kind::Choices => "string".into(),
        }
    }
}

/// What an option is when not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Setting it to this literal value changes nothing (checked by a test).
    Value(&'static str),
    /// Described in words (derived from something else, or localized).
    Described(&'static str),
    /// Off / empty.
    Unset,
    /// Must be given.
    Required,
}

/// A group of options in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Site key, collector.
    Site,
    /// What is watched and how it is judged.
    Watch,
    /// Fallback message texts.
    Messages,
    /// Batching, storage, sampling.
    Delivery,
    /// The exit survey.
    Survey,
}

impl Group {
    /// Every group, in reference order.
    pub const ALL: [Group; 5] = [
        Group::Site,
        Group::Watch,
        Group::Messages,
        Group::Delivery,
        Group::Survey,
    ];

    /// Section title.
    pub fn title(self) -> &'static str {
        match self {
            Group::Site => "Site",
            Group::Watch => "What is watched",
            Group::Messages => "Fallback messages",
            Group::Delivery => "Delivery",
            Group::Survey => "Exit survey",
        }
    }
}

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDoc {
    /// Name without `data-`, kebab case: `stall-ms-price`.
    pub name: &'static str,
    /// Section.
    pub group: Group,
    /// Value type.
    pub kind: Kind,
    /// Default.
    pub default: DefaultValue,
    /// A valid example value.
    pub example: &'static str,
    /// What it does (Markdown, one paragraph).
    pub doc: &'static str,
}

impl OptionDoc {
    /// The camelCase key for `init({...})`: `stallMsPrice`.
    pub fn camel_case(&self) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in self.name.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }
}

const fn opt(
    name: &'static str,
    group: Group,
    kind: Kind,
    default: DefaultValue,
    example: &'static str,
    doc: &'static str,
) -> OptionDoc {
    OptionDoc {
        name,
        group,
        kind,
        default,
        example,
        doc,
    }
}

use DefaultValue::{Described, Required, Unset, Value};
use Group::{Delivery, Messages, Site, Survey, Watch};

const STALL: Kind = Kind::Integer {
    min: 100,
    max: 120_000,
};

/// Every option the snippet understands. Unknown names are refused with
/// the name in the error, so a typo never silently disables watching.
pub const OPTIONS: &[OptionDoc] = &[
    opt("site", Site, Kind::Token, Required, "pk_3f9a2c7d1e", "Public site key from `collector site add` (letters, digits, `_`, `-`; at most 64)."),
    opt("collector", Site, Kind::Url, Described("origin of the script's URL"), "https://collect.shop.example", "Collector base URL the snippet reports to. Required with `init()` unless the app is served by the collector's origin."),
    opt("cart", Watch, Kind::Rules, Unset, "/api/cart", "Cart calls. Endpoint rules are `[METHOD ]PATTERN`: a path prefix (`/api/cart`), a glob (`/api/price/*`; `**` crosses segments), a full URL on another origin, or `re:` and a regular expression on the path. At least one of `cart`, `checkout`, `payment`, `price` is required."),
    opt("checkout", Watch, Kind::Rules, Unset, "POST /api/checkout", "Checkout calls. A checkout or payment call starts a checkout attempt; a successful non-GET checkout call completes it."),
    opt("payment", Watch, Kind::Rules, Unset, "POST /api/payment", "Payment calls."),
    opt("price", Watch, Kind::Rules, Unset, "GET /api/price/*", "Price and availability calls."),
    opt("confirmation", Watch, Kind::Paths, Unset, "/order/", "Path prefixes of the order confirmation page or route. Loading it, or a single-page app moving to it (History API), completes the checkout."),
    opt("error-statuses", Watch, Kind::Statuses, Unset, "409,429", "4xx statuses that count as errors (5xx always do)."),
    opt("stall-ms-cart", Watch, STALL, Value("3000"), "2500", "Milliseconds before a pending cart call counts as stalled."),
    opt("stall-ms-checkout", Watch, STALL, Value("3000"), "4000", "Milliseconds before a pending checkout call counts as stalled."),
    opt("stall-ms-payment", Watch, STALL, Value("5000"), "8000", "Milliseconds before a pending payment call counts as stalled."),
    opt("stall-ms-price", Watch, STALL, Value("2000"), "1500", "Milliseconds before a pending price call counts as stalled."),
    opt("app-error", Watch, Kind::Token, Unset, "error", "Opt-in: top-level field of a small (≤ 16 KiB) JSON 2xx response whose truthy value makes the call an application error."),
    opt("sku", Watch, Kind::SkuRules, Unset, "/api/price/{sku}, body:sku", "Where SKUs are, for per-product error rates: `/path/{sku}` patterns and/or `body:FIELD` of a JSON request body."),
    opt("stale-ttl-s", Watch, Kind::Integer { min: 1, max: 86_400 }, Value("300"), "600", "Seconds a kept response of a price rule flagged ` stale` (`GET /api/price/* stale`) may be served in place of a failing or stalled call."),
    opt("stale-bytes", Watch, Kind::Integer { min: 1024, max: 1_000_000 }, Value("65536"), "32768", "Bytes of kept responses for stale-if-error, in memory and sessionStorage; past it the oldest are dropped."),
    opt("text-cart", Messages, Kind::Text, Value("Your cart is taking longer than usual to update — please hold."), "Your cart is catching up — one moment.", "Fallback message when cart calls fail or stall (at most 300 characters)."),
    opt("text-checkout", Messages, Kind::Text, Value("We're having trouble reaching checkout. Your cart is saved — please try again in a moment."), "Checkout is slow right now — your cart is safe.", "Fallback message for checkout trouble."),
    opt("text-payment", Messages, Kind::Text, Value("Payment confirmation is delayed — please don't pay twice; this page will update."), "Payment is taking a moment — please don't pay twice.", "Fallback message for payment trouble."),
    opt("text-price", Messages, Kind::Text, Value("Price verification delayed — please hold"), "Prices are updating — please hold.", "Fallback message for price trouble."),
    opt("flush-ms", Delivery, Kind::Integer { min: 50, max: 60_000 }, Value("1000"), "2000", "Send queued events when the oldest is this many milliseconds old."),
    opt("flush-count", Delivery, Kind::Integer { min: 1, max: 200 }, Value("20"), "10", "Send queued events when this many wait."),
    opt("store-bytes", Delivery, Kind::Integer { min: 4096, max: 1_048_576 }, Value("65536"), "32768", "Bytes of undelivered events kept per page, in memory and in localStorage; past it the oldest are dropped and counted."),
    opt("sample-rate", Delivery, Kind::Fraction, Value("1"), "0.25", "Share of sessions reported, decided once per session id (a session is all in or all out)."),
    opt("max-events", Delivery, Kind::Integer { min: 0, max: 100_000 }, Value("1000"), "500", "Most events one session reports."),
    opt("survey", Survey, Kind::OneOf(&["trouble", "always", "never"]), Value("trouble"), "always", "When the exit survey may show: only after an error or stall on a watched call, to every leaving shopper, or never."),
    opt("survey-options", Survey, Kind::Choices, Described("four built-in choices (broken, price, later, other)"), "broken:Checkout failed|price:Too expensive", "Choices of \"What stopped you?\" as `id:Label|id:Label` (ids of `[0-9A-Za-z_.-]`, at most 12)."),
    opt("survey-title", Survey, Kind::Text, Described("\"Before you go\", localized"), "Leaving already?", "Dialog title."),
    opt("survey-question", Survey, Kind::Text, Described("\"What stopped you?\", localized"), "What went wrong?", "The choice question."),
    opt("survey-text", Survey, Kind::Text, Described("\"Anything else? (optional)\", localized"), "off", "Free-text label, or `off` to hide the field (answers are capped at 1000 characters)."),
    opt("survey-rating", Survey, Kind::Text, Unset, "on", "Rating (1–5) label, `on` for the localized default; no rating when unset."),
    opt("survey-email", Survey, Kind::Text, Described("\"Email (optional)\", localized"), "Email me when it's fixed", "Email field label, or `off` for no contact capture. An email is sent only with the consent box ticked."),
    opt("survey-consent", Survey, Kind::Text, Described("localized default consent text"), "Yes, email me once the problem is fixed.", "Consent checkbox text, recorded verbatim with the answer."),
    opt("survey-consent-version", Survey, Kind::Token, Value("default-1"), "2026-11", "Version of the consent text, recorded with it."),
    opt("survey-submit", Survey, Kind::Text, Described("\"Send\", localized"), "Send answer", "Submit button text."),
    opt("survey-thanks", Survey, Kind::Text, Described("\"Thank you!\", localized"), "Thanks — we're on it.", "Shown after answering."),
    opt("survey-cooldown-days", Survey, Kind::Integer { min: 0, max: 365 }, Value("7"), "30", "Days before the same shopper may see the survey again (localStorage)."),
    opt("survey-dwell-ms", Survey, Kind::Integer { min: 0, max: 600_000 }, Value("3000"), "5000", "Minimum time on the page before a pointer exit counts."),
    opt("survey-idle-ms", Survey, Kind::Integer { min: 0, max: 3_600_000 }, Value("30000"), "60000", "Idle time after trouble that counts as exit intent."),
    opt("survey-top-margin", Survey, Kind::Integer { min: 0, max: 500 }, Value("20"), "10", "How close to the top edge (px) a pointer exit counts."),
];

/// The option called `name` (without `data-`).
pub fn find(name: &str) -> Option<&'static OptionDoc> {
    OPTIONS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_documented() {
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(
                o.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                o.name
            );
            assert!(!o.doc.is_empty() && !o.example.is_empty(), "{}", o.name);
            assert!(
                OPTIONS[..i].iter().all(|p| p.name != o.name),
                "{} twice",
                o.name
            );
        }
        assert_eq!(find("stall-ms-price").unwrap().camel_case(), "stallMsPrice");
        assert_eq!(find("site").unwrap().camel_case(), "site");
    }
}

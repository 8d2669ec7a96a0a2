//! Snippet configuration from the script tag's `data-*` attributes:
//!
//! | attribute | meaning | default |
//! |---|---|---|
//! | `data-site` | public site key (required) | — |
//! | `data-collector` | collector base URL | origin of the script's URL |
//! | `data-cart`, `data-checkout`, `data-payment`, `data-price` | comma-separated endpoint rules (see [`crate::rules`]) | none |
//! | `data-stall-ms-ROLE` | ms before a pending call counts as stalled | checkout 3000, payment 5000, cart 3000, price 2000 |
//! | `data-error-statuses` | 4xx statuses counted as errors, e.g. `409,429` | none (5xx always) |
//! | `data-confirmation` | comma-separated path prefixes of the order confirmation page | none |
//! | `data-text-ROLE` | fallback message for ROLE | calm defaults below |
//! | `data-text-ROLE-LOCALE` | the message for shoppers preferring LOCALE (`data-text-checkout-de`, `…-de-ch`), picked by `navigator.languages` ([`Config::localize`]) | `data-text-ROLE` |
//! | `data-app-error` | opt-in: top-level field of a small (≤ 16 KiB) JSON 2xx response body whose truthy value makes the call an `app_error`, e.g. `error` | off |
//! | `data-survey`, `data-survey-*` | the exit survey (see [`crate::survey_form`]) | after trouble |
//! | `data-sku` | where SKUs are: `/api/price/{sku}` path patterns and/or `body:FIELD` of a JSON request body (see [`crate::sku`]) | none |
//!
//! The same options may come from a JSON object on the page,
//! `<script type="application/json" id="steadycart-config">{"site": "…",
//! "checkout": ["POST /api/checkout"], "stall-ms-price": 1500}</script>`: keys
//! are the attribute names without `data-`, arrays are joined with commas.
//! Attributes on the tag win over the page object ([`merge`]).
//!
//! Delivery options (`data-flush-ms`, `data-flush-count`, `data-store-bytes`,
//! `data-sample-rate`, `data-max-events`) are documented in [`crate::delivery`];
//! stale-if-error options (`data-stale-ttl-s`, `data-stale-bytes`, and the
//! ` stale` flag on a price rule) in [`crate::stale`].
//!
//! Unknown `data-*` attributes are errors (a typo must not silently disable
//! watching); other attributes (`src`, `type`, `integrity`, `nonce`, …) are the
//! browser's and ignored.

use std::fmt;

use steadycart_protocol::{remote::LocalText, Role};

use crate::{
    delivery::Delivery,
    rules::{self, Rule, RuleError},
    sku::{self, SkuRule},
    stale::StaleSettings,
};

/// Largest response body read (from a clone) to look for an app error.
pub const APP_ERROR_BODY_CAP: u32 = 16 * 1024;

/// A whole number as `str::parse` for unsigned integers reads it (an
/// optional `+`, then ASCII digits only); `None` on overflow. One
/// function for every integer type the snippet reads: each `parse::<T>`
/// would be its own copy in the wasm.
pub fn parse_uint(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// A whole number as `str::parse::<i64>` reads it (an optional sign, then
/// ASCII digits only); `None` on overflow. Through [`parse_uint`]: std's
/// `parse` is its own copy per integer type in the wasm.
pub fn parse_int(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(digits) if !digits.starts_with('+') => 0i64.checked_sub_unsigned(parse_uint(digits)?),
        Some(_) => None,
        None => i64::try_from(parse_uint(s)?).ok(),
    }
}

/// The first `max` characters of `s` (a slice copied, not a char-by-char
/// rebuild).
pub fn cap_chars(s: &str, max: usize) -> String {
    let end = s.char_indices().nth(max).map_or(s.len(), |(i, _)| i);
    s[..end].to_string()
}

/// Index of a role in per-role arrays.
pub fn idx(role: Role) -> usize {
    match role {
        Role::Cart => 0,
        Role::Checkout => 1,
        Role::Payment => 2,
        Role::Price => 3,
    }
}

/// Default fallback texts, per role in [`idx`] order.
pub const DEFAULT_TEXTS: [&str; 4] = [
    "Your cart is taking longer than usual to update — please hold.",
    "We're having trouble reaching checkout. Your cart is saved — please try again in a moment.",
    "Payment confirmation is delayed — please don't pay twice; this page will update.",
    "Price verification delayed — please hold",
];

/// Default stall thresholds in ms, per role in [`idx`] order.
pub const DEFAULT_STALL_MS: [u32; 4] = [3000, 3000, 5000, 2000];

/// The snippet's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Public site key.
    pub site_key: String,
    /// Collector base URL, no trailing slash.
    pub collector: String,
    /// Endpoint rules, first match wins.
    pub rules: Vec<Rule>,
    /// Stall thresholds per role ([`idx`] order).
    pub stall_ms: [u32; 4],
    /// 4xx statuses that count as errors.
    pub error_statuses: Vec<u16>,
    /// Path prefixes of the order confirmation page.
    pub confirmation_paths: Vec<String>,
    /// Fallback texts per role ([`idx`] order).
    pub texts: [String; 4],
    /// Per-locale fallback texts (`data-text-ROLE-LOCALE`).
    pub local_texts: Vec<LocalText>,
    /// JSON field of a 2xx body that signals an application error (opt-in).
    pub app_error_field: Option<String>,
    /// Where SKUs are found.
    pub sku_rules: Vec<SkuRule>,
    /// The exit survey's options.
    pub survey: crate::survey_form::SurveyConfig,
    /// Batching, storage budget, sampling and the per-session cap.
    pub delivery: Delivery,
    /// TTL and byte budget of stale-if-error copies.
    pub stale: StaleSettings,
}

/// Why the configuration was refused. The snippet then installs nothing and
/// logs this once.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// `data-site` is missing.
    MissingSiteKey,
    /// `data-site` is not a plausible key.
    BadSiteKey,
    /// `data-collector` is not an http(s) URL.
    BadCollector,
    /// A rule could not be parsed.
    BadRule(&'static str, RuleError),
    /// A number attribute is not a number in range.
    BadNumber(String),
    /// An unknown `data-*` attribute (probably a typo).
    UnknownAttribute(String),
    /// No endpoint rules at all: nothing would be watched.
    NoRules,
    /// A `data-sku` rule could not be parsed.
    BadSku(String),
    /// The page's `steadycart-config` is not a JSON object.
    BadPageConfig,
    /// A `data-survey*` option is wrong: the option and what is wrong.
    BadSurvey(String, String),
}

impl ConfigError {
    /// The option to blame, without `data-` (`"checkout"`,
    /// `"stall-ms-price"`), when one is; `None` for a missing rule set or a
    /// bad page object.
    pub fn option(&self) -> Option<&str> {
        let name = match self {
            ConfigError::MissingSiteKey | ConfigError::BadSiteKey => "site",
            ConfigError::BadCollector => "collector",
            ConfigError::BadRule(attr, _) => attr,
            ConfigError::BadNumber(attr)
            | ConfigError::UnknownAttribute(attr)
            | ConfigError::BadSurvey(attr, _) => attr,
            ConfigError::BadSku(_) => "sku",
            ConfigError::NoRules | ConfigError::BadPageConfig => return None,
        };
        Some(name.strip_prefix("data-").unwrap_or(name))
    }
}

impl ConfigError {
    /// The message, put together without `core::fmt`: `format!`, `write!`
    /// and even `to_string()` (through a `Formatter`) would bring its
    /// machinery into the wasm.
    pub fn message(&self) -> String {
        let parts: &[&str] = match self {
            ConfigError::MissingSiteKey => &["data-site (the site key) is missing"],
            ConfigError::BadSiteKey => &["data-site is not a valid site key"],
            ConfigError::BadCollector => &["data-collector must be an http(s) URL"],
            ConfigError::BadRule(attr, e) => &[attr, ": bad rule \"", &e.rule, "\": ", e.reason],
            ConfigError::BadNumber(attr) => &[attr, " must be a whole number in range"],
            ConfigError::UnknownAttribute(attr) => &["unknown option ", attr],
            ConfigError::BadSku(rule) => &[
                "data-sku: bad rule \"",
                rule,
                "\" (use /path/{sku} or body:FIELD)",
            ],
            ConfigError::BadSurvey(_, why) => &[why],
            ConfigError::BadPageConfig => &["#steadycart-config must hold a JSON object"],
            ConfigError::NoRules => {
                &["no endpoint rules: add data-checkout, data-cart, data-payment or data-price"]
            }
        };
        parts.concat()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

const ROLE_ATTRS: [(&str, Role); 4] = [
    ("data-cart", Role::Cart),
    ("data-checkout", Role::Checkout),
    ("data-payment", Role::Payment),
    ("data-price", Role::Price),
];

/// Build the configuration from the tag's attributes and the script's URL.
pub fn from_attributes(
    attrs: &[(String, String)],
    script_url: &str,
) -> Result<Config, ConfigError> {
    let mut site_key = None;
    let mut collector = None;
    let mut rules = Vec::new();
    let mut stall_ms = DEFAULT_STALL_MS;
    let mut error_statuses = Vec::new();
    let mut confirmation_paths = Vec::new();
    let mut texts = DEFAULT_TEXTS.map(String::from);
    let mut local_texts = Vec::new();
    let mut app_error_field = None;
    let mut sku_rules = Vec::new();
    let mut survey = crate::survey_form::SurveyConfig::default();
    let mut delivery = Delivery::default();
    let mut stale = StaleSettings::default();

    for (name, value) in attrs {
        let name = name.to_ascii_lowercase();
        let Some(key) = name.strip_prefix("data-") else {
            continue;
        };
        let value = value.trim();
        if let Some((attr, role)) = ROLE_ATTRS.iter().find(|(a, _)| *a == name) {
            rules.extend(
                rules::parse_rules(*role, value).map_err(|e| ConfigError::BadRule(attr, e))?,
            );
            continue;
        }
        if let Some(role) = key.strip_prefix("stall-ms-").and_then(Role::parse) {
            stall_ms[idx(role)] = parse_uint(value)
                .filter(|ms| (100..=120_000).contains(ms))
                .ok_or_else(|| ConfigError::BadNumber(name.clone()))?
                as u32;
            continue;
        }
        if let Some(role) = key.strip_prefix("text-").and_then(Role::parse) {
            if !value.is_empty() {
                texts[idx(role)] = cap_chars(value, 300);
            }
            continue;
        }
        let local = key
            .strip_prefix("text-")
            .and_then(|r| r.split_once('-'))
            .and_then(|(r, locale)| Some((Role::parse(r)?, locale)));
        if let Some((role, locale)) = local {
            if !value.is_empty() && !locale.is_empty() {
                local_texts.push(LocalText {
                    role,
                    locale: locale.to_string(),
                    text: cap_chars(value, 300),
                });
            }
            continue;
        }
        if let Some(suffix) = key.strip_prefix("survey") {
            survey
                .set(suffix, value)
                .map_err(|why| ConfigError::BadSurvey(name.clone(), why))?;
            continue;
        }
        if let Some(ok) = stale.apply(key, value) {
            if !ok {
                return Err(ConfigError::BadNumber(name.clone()));
            }
            continue;
        }
        if let Some(ok) = delivery.apply(key, value) {
            if !ok {
                return Err(ConfigError::BadNumber(name.clone()));
            }
            continue;
        }
        match key {
            "site" => site_key = Some(value.to_string()),
            "collector" => collector = Some(value.trim_end_matches('/').to_string()),
            "app-error" => app_error_field = Some(value.to_string()).filter(|v| !v.is_empty()),
            "sku" => sku_rules = sku::parse_rules(value).map_err(ConfigError::BadSku)?,
            "error-statuses" => {
                error_statuses = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        parse_uint(s)
                            .filter(|c| (400..=499).contains(c))
                            .map(|c| c as u16)
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| ConfigError::BadNumber(name.clone()))?;
            }
            "confirmation" => {
                confirmation_paths = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| s.starts_with('/'))
                    .map(String::from)
                    .collect();
            }
            _ => return Err(ConfigError::UnknownAttribute(name)),
        }
    }

    let site_key = site_key
        .filter(|k| !k.is_empty())
        .ok_or(ConfigError::MissingSiteKey)?;
    if site_key.len() > 64
        || !site_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::BadSiteKey);
    }
    let collector = match collector {
        Some(c) => c,
        None => {
            rules::split_url(script_url)
                .ok_or(ConfigError::BadCollector)?
                .origin
        }
    };
    if rules::split_url(&collector).is_none() {
        return Err(ConfigError::BadCollector);
    }
    if rules.is_empty() {
        return Err(ConfigError::NoRules);
    }
    Ok(Config {
        site_key,
        collector,
        rules,
        stall_ms,
        error_statuses,
        confirmation_paths,
        texts,
        local_texts,
        app_error_field,
        sku_rules,
        survey,
        delivery,
        stale,
    })
}

/// Options from the page's JSON object (keys without `data-`) merged under
/// the tag's attributes: an attribute wins over the same key on the page.
pub fn merge(page: &[(String, String)], attrs: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = page
        .iter()
        .map(|(k, v)| (["data-", &k.to_ascii_lowercase()].concat(), v.clone()))
        .filter(|(k, _)| !attrs.iter().any(|(a, _)| a.eq_ignore_ascii_case(k)))
        .collect();
    out.extend(attrs.iter().cloned());
    out
}

impl Config {
    /// Use the `data-text-ROLE-LOCALE` texts best matching the shopper's
    /// `languages` (`navigator.languages`, most preferred first); roles
    /// without one keep `data-text-ROLE` or the default.
    pub fn localize(&mut self, languages: &[String]) {
        for role in Role::ALL {
            if let Some(t) = crate::remote::pick_local(&self.local_texts, role, languages) {
                self.texts[idx(role)] = t.to_string();
            }
        }
    }

    /// The ingest URL for this site.
    pub fn ingest_url(&self) -> String {
        [&self.collector, "/v1/ingest?key=", &self.site_key].concat()
    }

    /// Whether `url` is one of the collector's own (never watched): its API
    /// and snippet files. Only those paths: a shop may host the collector on
    /// its own origin, and its cart calls must still be watched.
    pub fn is_collector_url(&self, url: &str) -> bool {
        url.strip_prefix(self.collector.as_str())
            .is_some_and(|rest| rest.starts_with("/v1/") || rest.starts_with("/snippet/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const SRC: &str = "https://collect.example/snippet/steadycart.js";

    #[test]
    fn whole_numbers_read_as_str_parse_reads_them() {
        for s in [
            "0",
            "7",
            "+42",
            "0042",
            "",
            "+",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "x",
            "65535",
            "65536",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "9223372036854775809",
            "-",
            "--1",
            "-+1",
        ] {
            assert_eq!(parse_uint(s), s.parse::<u64>().ok(), "{s:?}");
            assert_eq!(parse_int(s), s.parse::<i64>().ok(), "{s:?}");
            let negative = ["-", s].concat();
            assert_eq!(
                parse_int(&negative),
                negative.parse::<i64>().ok(),
                "{negative:?}"
            );
            assert_eq!(
                parse_uint(s).and_then(|v| u16::try_from(v).ok()),
                s.parse::<u16>().ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn capped_texts_keep_whole_characters() {
        assert_eq!(cap_chars("Größe", 3), "Grö");
        assert_eq!(cap_chars("ab", 5), "ab");
        assert_eq!(cap_chars("", 0), "");
        let long = "é".repeat(400);
        assert_eq!(
            cap_chars(&long, 300),
            long.chars().take(300).collect::<String>()
        );
    }

    #[test]
    fn full_configuration() {
        let c = from_attributes(
            &attrs(&[
                ("src", SRC),
                ("type", "module"),
                ("data-site", "pk_abc123"),
                ("data-checkout", "POST /api/checkout"),
                ("data-price", "GET /api/price/*"),
                ("data-stall-ms-price", "1500"),
                ("data-error-statuses", "409, 429"),
                ("data-text-price", "Prices are catching up"),
                ("data-confirmation", "/order/done"),
                ("data-stale-ttl-s", "60"),
            ]),
            SRC,
        )
        .unwrap();
        assert_eq!(c.collector, "https://collect.example");
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.stall_ms[idx(Role::Price)], 1500);
        assert_eq!(c.stall_ms[idx(Role::Checkout)], 3000);
        assert_eq!(c.error_statuses, vec![409, 429]);
        assert_eq!(c.stale.ttl_ms, 60_000);
        assert_eq!(c.texts[idx(Role::Price)], "Prices are catching up");
        assert_eq!(c.texts[idx(Role::Checkout)], DEFAULT_TEXTS[1]);
        assert_eq!(
            c.ingest_url(),
            "https://collect.example/v1/ingest?key=pk_abc123"
        );
        assert!(c.is_collector_url("https://collect.example/v1/ingest?key=x"));
        assert!(!c.is_collector_url("https://collect.example.evil/v1/ingest"));
        assert!(
            !c.is_collector_url("https://collect.example/api/cart"),
            "a collector on the shop's origin still lets its calls be watched"
        );
    }

    #[test]
    fn page_object_merges_under_attributes() {
        let page = attrs(&[
            ("site", "pk_page1"),
            ("checkout", "POST /api/checkout"),
            ("stall-ms-price", "1500"),
            ("sku", "/api/price/{sku}, body:sku"),
            ("app-error", "error"),
        ]);
        let tag = attrs(&[("data-site", "pk_tag1"), ("data-price", "GET /api/price/*")]);
        let c = from_attributes(&merge(&page, &tag), SRC).unwrap();
        assert_eq!(c.site_key, "pk_tag1", "the tag wins");
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.stall_ms[idx(Role::Price)], 1500);
        assert_eq!(c.sku_rules.len(), 2);
        assert_eq!(c.app_error_field.as_deref(), Some("error"));
        let bad = merge(&attrs(&[("chekout", "/x")]), &tag);
        assert_eq!(
            from_attributes(&bad, SRC).unwrap_err().to_string(),
            "unknown option data-chekout"
        );
        let bad = attrs(&[
            ("data-site", "pk_1234"),
            ("data-price", "/p"),
            ("data-sku", "/p/x"),
        ]);
        assert!(from_attributes(&bad, SRC)
            .unwrap_err()
            .to_string()
            .starts_with("data-sku: bad rule"));
    }

    #[test]
    fn texts_per_locale_follow_navigator_languages() {
        let mut c = from_attributes(
            &attrs(&[
                ("data-site", "pk_abc123"),
                ("data-checkout", "POST /api/checkout"),
                ("data-text-checkout", "Checkout is slow"),
                ("data-text-checkout-de", "Der Checkout ist langsam"),
                ("data-text-checkout-fr-CA", "Le paiement est lent"),
                ("data-text-price-de", "Preise verzögert"),
            ]),
            SRC,
        )
        .unwrap();
        assert_eq!(c.local_texts.len(), 3);
        let langs = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut de = c.clone();
        de.localize(&langs(&["de-CH", "en"]));
        assert_eq!(de.texts[idx(Role::Checkout)], "Der Checkout ist langsam");
        assert_eq!(de.texts[idx(Role::Price)], "Preise verzögert");
        assert_eq!(de.texts[idx(Role::Cart)], DEFAULT_TEXTS[0]);
        let mut fr = c.clone();
        fr.localize(&langs(&["fr-ca"]));
        assert_eq!(fr.texts[idx(Role::Checkout)], "Le paiement est lent");
        // No match: the tag's own text, else the default.
        c.localize(&langs(&["ja", "en-US"]));
        assert_eq!(c.texts[idx(Role::Checkout)], "Checkout is slow");
        assert_eq!(c.texts[idx(Role::Price)], DEFAULT_TEXTS[3]);
        let bad = attrs(&[
            ("data-site", "pk_abc123"),
            ("data-checkout", "/x"),
            ("data-text-shipping-de", "x"),
        ]);
        assert_eq!(
            from_attributes(&bad, SRC).unwrap_err(),
            ConfigError::UnknownAttribute("data-text-shipping-de".into())
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = from_attributes(&attrs(&[("data-checkout", "/x")]), SRC).unwrap_err();
        assert_eq!(e, ConfigError::MissingSiteKey);
        let e = from_attributes(
            &attrs(&[("data-site", "pk_1234"), ("data-chekout", "/x")]),
            SRC,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "unknown option data-chekout");
        let e = from_attributes(
            &attrs(&[("data-site", "pk_1234"), ("data-checkout", "GRAB /x")]),
            SRC,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("data-checkout: bad rule"), "{e}");
        let e = from_attributes(
            &attrs(&[
                ("data-site", "pk_1234"),
                ("data-stall-ms-price", "soon"),
                ("data-price", "/p"),
            ]),
            SRC,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "data-stall-ms-price must be a whole number in range"
        );
        let e = from_attributes(&attrs(&[("data-site", "pk_1234")]), SRC).unwrap_err();
        assert_eq!(e, ConfigError::NoRules);
        let e = from_attributes(
            &attrs(&[("data-site", "<script>"), ("data-cart", "/c")]),
            SRC,
        )
        .unwrap_err();
        assert_eq!(e, ConfigError::BadSiteKey);
        let e = from_attributes(
            &attrs(&[
                ("data-site", "pk_1234"),
                ("data-cart", "/c"),
                ("data-collector", "javascript:alert(1)"),
            ]),
            SRC,
        )
        .unwrap_err();
        assert_eq!(e, ConfigError::BadCollector);
    }

    #[test]
    fn errors_name_the_option() {
        let site = ("data-site", "pk_1234");
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (&[("data-cart", "/c")], Some("site")),
            (&[site, ("data-chekout", "/x")], Some("chekout")),
            (&[site, ("data-checkout", "GRAB /x")], Some("checkout")),
            (
                &[site, ("data-cart", "/c"), ("data-stall-ms-cart", "0")],
                Some("stall-ms-cart"),
            ),
            (
                &[site, ("data-cart", "/c"), ("data-survey", "sometimes")],
                Some("survey"),
            ),
            (
                &[
                    site,
                    ("data-cart", "/c"),
                    ("data-survey-cooldown-days", "x"),
                ],
                Some("survey-cooldown-days"),
            ),
            (
                &[site, ("data-cart", "/c"), ("data-sample-rate", "2")],
                Some("sample-rate"),
            ),
            (
                &[site, ("data-cart", "/c"), ("data-collector", "ftp://x")],
                Some("collector"),
            ),
            (&[site], None),
        ];
        for (list, option) in cases {
            let e = from_attributes(&attrs(list), SRC).unwrap_err();
            assert_eq!(e.option(), *option, "{e}");
        }
    }

    /// The configuration reference (`steadycart_protocol::options`) and
    /// this parser agree: every documented example is accepted, every
    /// documented literal default changes nothing, and a name the
    /// reference does not list is refused.
    #[test]
    fn reference_matches_the_parser() {
        use steadycart_protocol::options::{DefaultValue, OPTIONS};
        let base = [("data-site", "pk_1234"), ("data-cart", "/c")];
        // What a configuration does: survey options compared by effect
        // (an explicit default and an unset option differ only in form).
        let effect = |c: Config| {
            use crate::survey_form::Lang;
            let s = &c.survey;
            let survey = (
                s.texts(Lang::En),
                s.texts(Lang::De),
                s.cooldown(),
                s.intent,
                s.mode,
            );
            (
                Config {
                    survey: Default::default(),
                    ..c
                },
                survey,
            )
        };
        let plain = effect(from_attributes(&attrs(&base), SRC).unwrap());
        for o in OPTIONS {
            let name = format!("data-{}", o.name);
            let with = |value: &str| {
                let mut list = attrs(&base);
                list.retain(|(n, _)| *n != name);
                list.push((name.clone(), value.to_string()));
                from_attributes(&list, SRC)
            };
            assert!(
                with(o.example).is_ok(),
                "example of {}: {:?}",
                o.name,
                with(o.example)
            );
            if let DefaultValue::Value(v) = o.default {
                assert_eq!(
                    with(v).map(effect),
                    Ok(plain.clone()),
                    "default of {}",
                    o.name
                );
            }
        }
        for typo in ["chekout", "stall-ms-basket", "survey-colour", "text-banner"] {
            assert!(OPTIONS.iter().all(|o| o.name != typo));
            let e = from_attributes(
                &attrs(&[base[0], base[1], (&format!("data-{typo}"), "1")]),
                SRC,
            )
            .unwrap_err();
            assert_eq!(e.option(), Some(typo));
        }
    }
}

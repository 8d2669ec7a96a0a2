//! Property tests of endpoint rule matching and tag configuration: arbitrary
//! input never panics (a misconfigured or hostile page must not break the
//! snippet), and matching obeys its documented laws for generated rules and
//! URLs.

use proptest::prelude::*;
use steadycart_client::{config, rules};
use steadycart_protocol::Role;

const PAGE: &str = "https://shop.example";

fn segment() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,12}"
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(segment(), 1..6)
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(vec![Role::Cart, Role::Checkout, Role::Payment, Role::Price])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any rule text parses or is refused with the offending rule named.
    #[test]
    fn parse_rules_never_panics(role in role(), text in "\\PC{0,80}") {
        if let Err(e) = rules::parse_rules(role, &text) {
            prop_assert!(text.contains(e.rule.as_str()));
        }
    }

    /// `re:` patterns from page authors: any pattern text against any path
    /// parses or is refused, and matching never panics, even on long paths.
    #[test]
    fn regex_rules_never_panic(
        pattern in "[\\^$.*+?()\\[\\]{}|a-z0-9/-]{0,24}",
        path in "/[a-z0-9/.-]{0,200}",
    ) {
        if let Ok(r) = rules::parse_rules(Role::Price, &format!("GET re:{pattern}")) {
            let _ = rules::role_of(&r, "GET", &format!("{PAGE}{path}"), PAGE);
        }
    }

    /// Any URL and method: splitting, stripping and matching never panic, and
    /// a stripped URL holds no query or fragment.
    #[test]
    fn matching_arbitrary_urls_never_panics(url in "\\PC{0,120}", method in "\\PC{0,8}") {
        let rules = rules::parse_rules(
            Role::Price,
            "GET /api/price/*, /api/cart, POST https://pay.example/**/x",
        )
        .unwrap();
        let _ = rules::role_of(&rules, &method, &url, PAGE);
        let stripped = rules::strip_query(&url);
        prop_assert!(!stripped.contains('?') && !stripped.contains('#'));
        prop_assert_eq!(rules::strip_query(stripped), stripped);
    }

    /// A prefix rule matches every path below it, on the page's origin only,
    /// whatever the query or fragment.
    #[test]
    fn prefix_rules_match_paths_below_them(
        role in role(),
        segs in path(),
        cut in 1usize..6,
        query in "[a-z0-9=&%@.]{0,30}",
        frag in "[a-z0-9]{0,10}",
    ) {
        let cut = cut.min(segs.len());
        let prefix = format!("/{}", segs[..cut].join("/"));
        let full = format!("/{}", segs.join("/"));
        let rules = rules::parse_rules(role, &prefix).unwrap();
        let url = format!("{PAGE}{full}?{query}#{frag}");
        prop_assert_eq!(rules::role_of(&rules, "POST", &url, PAGE), Some(role));
        prop_assert_eq!(rules::role_of(&rules, "POST", &format!("{PAGE}{full}"), PAGE), Some(role));
        // Another origin never matches a same-origin rule.
        let elsewhere = format!("https://evil.example{full}?{query}");
        prop_assert_eq!(rules::role_of(&rules, "POST", &elsewhere, PAGE), None);
        // A sibling whose name merely starts with the prefix does not match.
        let sibling = format!("{PAGE}{prefix}x");
        prop_assert_eq!(rules::role_of(&rules, "POST", &sibling, PAGE), None);
    }

    /// `*` is one segment, `**` any depth; methods must agree.
    #[test]
    fn globs_respect_segments_and_methods(base in segment(), a in segment(), b in segment()) {
        let one = rules::parse_rules(Role::Price, &format!("GET /{base}/*")).unwrap();
        let deep = rules::parse_rules(Role::Price, &format!("GET /{base}/**")).unwrap();
        let shallow = format!("{PAGE}/{base}/{a}");
        let nested = format!("{PAGE}/{base}/{a}/{b}");
        prop_assert_eq!(rules::role_of(&one, "GET", &shallow, PAGE), Some(Role::Price));
        prop_assert_eq!(rules::role_of(&one, "get", &shallow, PAGE), Some(Role::Price));
        prop_assert_eq!(rules::role_of(&one, "GET", &nested, PAGE), None);
        prop_assert_eq!(rules::role_of(&deep, "GET", &nested, PAGE), Some(Role::Price));
        prop_assert_eq!(rules::role_of(&one, "POST", &shallow, PAGE), None);
    }

    /// Any set of tag attributes yields a configuration or one error; never a
    /// panic. Attribute names come from the real vocabulary plus noise.
    #[test]
    fn tag_configuration_never_panics(
        attrs in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "data-site", "data-collector", "data-checkout", "data-cart", "data-payment",
                    "data-price", "data-confirmation", "data-stall-ms-checkout",
                    "data-stall-ms-price", "data-error-statuses", "data-sku", "data-app-error",
                    "data-text-checkout", "data-survey", "data-bogus", "src", "DATA-SITE",
                ])
                .prop_map(String::from),
                "\\PC{0,40}",
            ),
            0..10,
        ),
        script in "\\PC{0,60}",
    ) {
        let _ = config::from_attributes(&attrs, &script);
    }

    /// A well-formed tag always configures, and its rules are the ones given.
    #[test]
    fn well_formed_tags_configure(segs in path(), stall in 100u32..=120_000) {
        let rule = format!("POST /{}", segs.join("/"));
        let attrs: Vec<(String, String)> = vec![
            ("data-site".into(), "pk_0123456789abcdef01234567".into()),
            ("data-collector".into(), "https://collector.example".into()),
            ("data-checkout".into(), rule),
            ("data-stall-ms-checkout".into(), stall.to_string()),
        ];
        let cfg = config::from_attributes(&attrs, "https://collector.example/snippet/steadycart.js")
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(cfg.rules.len(), 1);
        prop_assert_eq!(cfg.stall_ms[config::idx(Role::Checkout)], stall);
        let url = format!("{PAGE}/{}", segs.join("/"));
        prop_assert_eq!(rules::role_of(&cfg.rules, "POST", &url, PAGE), Some(Role::Checkout));
    }
}

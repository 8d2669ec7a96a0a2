//! Endpoint rules: `[METHOD ]PATTERN` strings that give matching calls a
//! [`Role`]. Patterns:
//! - `/api/cart` — same-origin path prefix, segment-aware (`/api/cart/3`
//!   matches, `/api/cartoon` does not);
//! - `/api/price/*` — glob: `*` is any run within one path segment, `**` any
//!   run across segments;
//! - `https://api.shop.example/v1/checkout` — the same, on a listed origin;
//! - `re:^/api/v[0-9]+/price/` — a regular expression on the same-origin
//!   path (see [`crate::tiny_regex`] for the supported syntax).
//!
//! Query strings and fragments are never part of the match (and are stripped
//! before reporting a URL: they may hold tokens or emails).
//!
//! A `price` rule for GET calls may end in ` stale` (`GET /api/price/* stale`)
//! to opt in to stale-if-error (see [`crate::stale`]).

use steadycart_protocol::Role;

use crate::tiny_regex::Regex;

/// A rule that gives matching calls a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Role of matching calls.
    pub role: Role,
    /// Upper-case method, or any method when `None`.
    pub method: Option<String>,
    /// Origin (`https://api.example`) the call must go to; `None` means the
    /// page's own origin.
    pub origin: Option<String>,
    /// Path pattern.
    pub path: PathPattern,
    /// Stale-if-error opted in (`price` GET rules only).
    pub stale: bool,
}

/// How a rule's path is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// Segment-aware prefix.
    Prefix(String),
    /// Glob with `*` and `**`.
    Glob(String),
    /// Regular expression (`re:`), searched in the path.
    Regex(Regex),
}

/// A rule string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The offending rule text.
    pub rule: String,
    /// What is wrong.
    pub reason: &'static str,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Parse a comma-separated list of rules for `role`.
pub fn parse_rules(role: Role, list: &str) -> Result<Vec<Rule>, RuleError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_rule(role, s))
        .collect()
}

fn parse_rule(role: Role, text: &str) -> Result<Rule, RuleError> {
    let err = |reason| RuleError {
        rule: text.to_string(),
        reason,
    };
    let (text, stale) = match text.rsplit_once(char::is_whitespace) {
        Some((rest, flag)) if flag.eq_ignore_ascii_case("stale") => (rest.trim_end(), true),
        _ => (text, false),
    };
    let (method, pattern) = match text.split_once(char::is_whitespace) {
        Some((m, p)) => {
            let m = m.to_ascii_uppercase();
            if !METHODS.contains(&m.as_str()) {
                return Err(err("unknown HTTP method"));
            }
            (Some(m), p.trim())
        }
        None => (None, text),
    };
    if stale && (role != Role::Price || method.as_deref().is_some_and(|m| m != "GET")) {
        return Err(err("stale is only for price rules of GET calls"));
    }
    if let Some(re) = pattern.strip_prefix("re:") {
        return Ok(Rule {
            role,
            method,
            origin: None,
            path: PathPattern::Regex(Regex::parse(re.trim()).map_err(err)?),
            stale,
        });
    }
    let (origin, path) = if let Some(rest) = pattern
        .strip_prefix("https://")
        .map(|r| ("https://", r))
        .or_else(|| pattern.strip_prefix("http://").map(|r| ("http://", r)))
    {
        let (scheme, rest) = rest;
        let slash = rest.find('/').unwrap_or(rest.len());
        if slash == 0 {
            return Err(err("missing host"));
        }
        let path = if slash == rest.len() {
            "/"
        } else {
            &rest[slash..]
        };
        (
            Some([scheme, &rest[..slash]].concat().to_ascii_lowercase()),
            path,
        )
    } else if pattern.starts_with('/') {
        (None, pattern)
    } else {
        return Err(err("pattern must start with / or http(s)://"));
    };
    if path.contains(['?', '#', ' ']) {
        return Err(err("pattern must not contain ?, # or spaces"));
    }
    let path = if path.contains('*') {
        PathPattern::Glob(path.to_string())
    } else {
        PathPattern::Prefix(path.to_string())
    };
    Ok(Rule {
        role,
        method,
        origin,
        path,
        stale,
    })
}

/// An absolute URL split into what rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUrl<'a> {
    /// `scheme://host[:port]`, lower case.
    pub origin: String,
    /// Path, without query or fragment.
    pub path: &'a str,
}

/// Split an absolute `http(s)` URL; `None` for anything else (data:, blob:).
pub fn split_url(url: &str) -> Option<CallUrl<'_>> {
    // Bytes, not `find("://")`: a `&str` pattern brings std's two-way
    // substring searcher into the wasm (1.2 KB raw).
    let scheme_end = url.as_bytes().windows(3).position(|w| w == b"://")?;
    let scheme = &url[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = &url[scheme_end + 3..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let after = &rest[host_end..];
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    let path = &after[..path_end];
    Some(CallUrl {
        origin: url[..scheme_end + 3 + host_end].to_ascii_lowercase(),
        path: if path.is_empty() { "/" } else { path },
    })
}

/// `url` without its query string and fragment.
pub fn strip_query(url: &str) -> &str {
    &url[..url.find(['?', '#']).unwrap_or(url.len())]
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix)
            && (prefix.ends_with('/') || path.as_bytes().get(prefix.len()) == Some(&b'/')))
}

/// `*` matches within one segment, `**` across segments. Dynamic
/// programming over (pattern position, path position), from the pattern's
/// end: O(pattern × path) time. (A backtracking matcher took exponential
/// time on many stars: fuzz/corpus/rules/repeated-double-star.txt.)
fn glob_matches(pattern: &[u8], path: &[u8]) -> bool {
    let n = path.len();
    // ok[j]: the rest of the pattern (after the current token) matches path[j..].
    let mut ok = vec![false; n + 1];
    ok[n] = true;
    let mut i = pattern.len();
    while i > 0 {
        let deep = i >= 2 && pattern[i - 1] == b'*' && pattern[i - 2] == b'*';
        let mut cur = vec![false; n + 1];
        if pattern[i - 1] == b'*' {
            // `*` (or `**`): skip any run (without `/` for a single star).
            cur[n] = ok[n];
            for j in (0..n).rev() {
                cur[j] = ok[j] || ((deep || path[j] != b'/') && cur[j + 1]);
            }
            i -= if deep { 2 } else { 1 };
        } else {
            let c = pattern[i - 1];
            for j in 0..n {
                cur[j] = path[j] == c && ok[j + 1];
            }
            i -= 1;
        }
        ok = cur;
    }
    ok[0]
}

impl Rule {
    /// Whether a call `method url` (URL absolute) matches, the page being on
    /// `page_origin`.
    pub fn matches(&self, method: &str, url: &CallUrl<'_>, page_origin: &str) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        let origin = self.origin.as_deref().unwrap_or(page_origin);
        if !origin.eq_ignore_ascii_case(&url.origin) {
            return false;
        }
        match &self.path {
            PathPattern::Prefix(p) => prefix_matches(p, url.path),
            PathPattern::Glob(g) => glob_matches(g.as_bytes(), url.path.as_bytes()),
            PathPattern::Regex(re) => re.is_match(url.path),
        }
    }
}

impl Rule {
    /// What the absolute URL of every call this rule matches starts with:
    /// the origin and the path up to its first wildcard (just the origin
    /// for a regular expression). The page-side wrappers use it to leave
    /// calls no rule could match out of the wasm altogether.
    pub fn url_prefix(&self, page_origin: &str) -> String {
        let origin = self.origin.as_deref().unwrap_or(page_origin);
        let path = match &self.path {
            PathPattern::Prefix(p) => p.as_str(),
            PathPattern::Glob(g) => &g[..g.find('*').unwrap_or(g.len())],
            PathPattern::Regex(_) => "",
        };
        let mut prefix = String::with_capacity(origin.len() + path.len());
        prefix.push_str(origin);
        prefix.push_str(path);
        prefix
    }
}

/// The role of the first rule matching the call, if any.
pub fn role_of(rules: &[Rule], method: &str, url: &str, page_origin: &str) -> Option<Role> {
    rule_of(rules, method, url, page_origin).map(|r| r.role)
}

/// The first rule matching the call, if any.
pub fn rule_of<'r>(
    rules: &'r [Rule],
    method: &str,
    url: &str,
    page_origin: &str,
) -> Option<&'r Rule> {
    let url = split_url(url)?;
    rules.iter().find(|r| r.matches(method, &url, page_origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_matching_url_starts_with_the_rule_prefix() {
        let page = "https://shop.example";
        let cases = [
            ("POST /api/checkout", "https://shop.example/api/checkout/7"),
            ("/api/cart", "https://shop.example/api/cart?x=1"),
            ("GET /api/price/*", "https://shop.example/api/price/42"),
            (
                "https://prices.example/**/quote",
                "https://prices.example/v1/a/quote",
            ),
            (
                "re:^/api/v[0-9]+/price/",
                "https://shop.example/api/v2/price/1",
            ),
        ];
        for (rule, url) in cases {
            let r = &parse_rules(Role::Price, rule).unwrap()[0];
            let method = if rule.starts_with("POST") {
                "POST"
            } else {
                "GET"
            };
            let call = split_url(url).unwrap();
            assert!(r.matches(method, &call, page), "{rule} {url}");
            assert!(url.starts_with(&r.url_prefix(page)), "{rule} {url}");
        }
        let r = &parse_rules(Role::Price, "GET /api/price/*").unwrap()[0];
        assert_eq!(r.url_prefix(page), "https://shop.example/api/price/");
        let r = &parse_rules(Role::Price, "re:^/x").unwrap()[0];
        assert_eq!(r.url_prefix(page), page);
    }

    const PAGE: &str = "https://shop.example";

    fn rules() -> Vec<Rule> {
        let mut r = parse_rules(Role::Checkout, "POST /api/checkout").unwrap();
        r.extend(parse_rules(Role::Cart, "/api/cart").unwrap());
        r.extend(
            parse_rules(
                Role::Price,
                "GET /api/price/*, https://prices.example/**/quote",
            )
            .unwrap(),
        );
        r
    }

    #[test]
    fn method_and_prefix() {
        let r = rules();
        assert_eq!(
            role_of(&r, "POST", "https://shop.example/api/checkout", PAGE),
            Some(Role::Checkout)
        );
        assert_eq!(
            role_of(&r, "post", "https://shop.example/api/checkout?x=1#y", PAGE),
            Some(Role::Checkout)
        );
        assert_eq!(
            role_of(&r, "GET", "https://shop.example/api/checkout", PAGE),
            None
        );
        assert_eq!(
            role_of(&r, "GET", "https://shop.example/api/cart/items/3", PAGE),
            Some(Role::Cart)
        );
        assert_eq!(
            role_of(&r, "GET", "https://shop.example/api/cartoon", PAGE),
            None
        );
    }

    #[test]
    fn same_origin_only_unless_listed() {
        let r = rules();
        assert_eq!(
            role_of(&r, "POST", "https://evil.example/api/checkout", PAGE),
            None
        );
        assert_eq!(
            role_of(&r, "GET", "https://prices.example/v2/eu/quote", PAGE),
            Some(Role::Price)
        );
        assert_eq!(
            role_of(&r, "GET", "https://prices.example/quote", PAGE),
            None
        );
    }

    #[test]
    fn globs_stay_within_a_segment() {
        let r = rules();
        assert_eq!(
            role_of(&r, "GET", "https://shop.example/api/price/sku-1", PAGE),
            Some(Role::Price)
        );
        assert_eq!(
            role_of(
                &r,
                "GET",
                "https://shop.example/api/price/sku-1/extra",
                PAGE
            ),
            None
        );
        assert!(glob_matches(b"/a/**", b"/a/b/c"));
        // Many stars against a long miss: linear-ish, not exponential (the
        // backtracking matcher took seconds here).
        let stars = "/**/*".repeat(12) + "/x";
        let path = "/a".repeat(200) + "/y";
        assert!(!glob_matches(stars.as_bytes(), path.as_bytes()));
        assert!(glob_matches(b"/*/**/*/x", b"/a/b/c/d/x"));
        assert!(!glob_matches(b"/*/x", b"/a/b/x"));
        assert!(glob_matches(b"/a/*.json", b"/a/x.json"));
        assert!(!glob_matches(b"/a/*.json", b"/a/x.xml"));
    }

    #[test]
    fn regex_rules() {
        let r = parse_rules(Role::Price, r"GET re:^/api/v\d+/price/[a-z0-9-]+$").unwrap();
        assert_eq!(
            role_of(
                &r,
                "GET",
                "https://shop.example/api/v2/price/sku-1?x=1",
                PAGE
            ),
            Some(Role::Price)
        );
        assert_eq!(
            role_of(&r, "GET", "https://shop.example/api/v2/price/sku-1/x", PAGE),
            None
        );
        assert_eq!(
            role_of(&r, "GET", "https://other.example/api/v2/price/sku-1", PAGE),
            None,
            "same origin only"
        );
        let e = parse_rules(Role::Price, "re:^/(a|b)").unwrap_err();
        assert_eq!(e.reason, "regex: groups and {n} are not supported");
    }

    #[test]
    fn bad_rules_are_named() {
        let e = parse_rules(Role::Cart, "FETCH /x").unwrap_err();
        assert_eq!(e.rule, "FETCH /x");
        assert!(parse_rules(Role::Cart, "api/cart").is_err());
        assert!(parse_rules(Role::Cart, "/api/cart?x=1").is_err());
        assert!(parse_rules(Role::Cart, "https:///x").is_err());
    }

    #[test]
    fn stale_flag_only_on_price_get_rules() {
        let r = parse_rules(Role::Price, "GET /api/price/* stale, /api/quote").unwrap();
        assert!(r[0].stale && !r[1].stale);
        let url = "https://shop.example/api/price/sku-1?c=eur";
        assert!(rule_of(&r, "GET", url, PAGE).is_some_and(|r| r.stale));
        assert!(parse_rules(Role::Price, "/api/price/* STALE").unwrap()[0].stale);
        for (role, rule) in [
            (Role::Price, "POST /api/price/* stale"),
            (Role::Checkout, "POST /api/checkout stale"),
            (Role::Payment, "/api/pay stale"),
        ] {
            assert_eq!(
                parse_rules(role, rule).unwrap_err().reason,
                "stale is only for price rules of GET calls"
            );
        }
    }

    #[test]
    fn non_http_urls_never_match() {
        assert_eq!(role_of(&rules(), "GET", "data:text/plain,hi", PAGE), None);
        assert_eq!(split_url("blob:https://shop.example/1"), None);
    }

    #[test]
    fn strips_query_and_fragment() {
        assert_eq!(strip_query("https://a/b?email=x@y#z"), "https://a/b");
        assert_eq!(strip_query("https://a/b#z"), "https://a/b");
    }
}

//! SKU extraction, so error rates can be computed per product: from a URL
//! path segment (`/api/price/{sku}`) or from a field of a JSON request body
//! (`body:sku`; the shell parses the body with the browser's `JSON.parse`
//! and hands the field's text here).

/// Where a call's SKU is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkuRule {
    /// Path pattern: segments are literal, `*` (any one segment) or `{sku}`.
    Path(Vec<String>),
    /// Top-level field of a JSON request body.
    BodyField(String),
}

/// Parse a comma-separated `data-sku` list; the bad rule text on error.
pub fn parse_rules(list: &str) -> Result<Vec<SkuRule>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(field) = s.strip_prefix("body:") {
                let field = field.trim();
                if field.is_empty() {
                    return Err(s.to_string());
                }
                return Ok(SkuRule::BodyField(field.to_string()));
            }
            let segs: Vec<String> = s.split('/').map(String::from).collect();
            let ok = s.starts_with('/') && segs.iter().filter(|g| *g == "{sku}").count() == 1;
            if ok {
                Ok(SkuRule::Path(segs))
            } else {
                Err(s.to_string())
            }
        })
        .collect()
}

/// The SKU in `path` under the first matching path rule.
pub fn from_path(rules: &[SkuRule], path: &str) -> Option<String> {
    rules.iter().find_map(|r| {
        let SkuRule::Path(pattern) = r else {
            return None;
        };
        let segs: Vec<&str> = path.split('/').collect();
        if segs.len() != pattern.len() {
            return None;
        }
        let mut found = None;
        for (p, s) in pattern.iter().zip(&segs) {
            match p.as_str() {
                "{sku}" => found = Some(*s),
                "*" if !s.is_empty() => {}
                lit if lit == *s => {}
                _ => return None,
            }
        }
        found.and_then(clean)
    })
}

/// The body field to read, if a rule asks for one.
pub fn body_field(rules: &[SkuRule]) -> Option<&str> {
    rules.iter().find_map(|r| match r {
        SkuRule::BodyField(f) => Some(f.as_str()),
        SkuRule::Path(_) => None,
    })
}

/// A SKU as reported: 1–64 characters of `[A-Za-z0-9._-]`, else nothing
/// (a field holding an email or free text is never sent).
pub fn clean(s: &str) -> Option<String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_body_rules() {
        let r = parse_rules("/api/price/{sku}, /api/*/items/{sku}, body:sku").unwrap();
        assert_eq!(from_path(&r, "/api/price/vx-100"), Some("vx-100".into()));
        assert_eq!(from_path(&r, "/api/cart/items/vx-7"), Some("vx-7".into()));
        assert_eq!(from_path(&r, "/api/price/vx-100/extra"), None);
        assert_eq!(from_path(&r, "/api/price/a%40b.c"), None, "not a SKU");
        assert_eq!(body_field(&r), Some("sku"));
    }

    #[test]
    fn bad_rules_are_named() {
        assert_eq!(parse_rules("/api/price/x").unwrap_err(), "/api/price/x");
        assert_eq!(parse_rules("body:").unwrap_err(), "body:");
        assert_eq!(parse_rules("api/{sku}").unwrap_err(), "api/{sku}");
    }

    #[test]
    fn only_plain_skus_are_reported() {
        assert_eq!(clean("sku-1.2_b"), Some("sku-1.2_b".into()));
        assert_eq!(clean("me@example.com"), None);
        assert_eq!(clean(""), None);
        assert_eq!(clean(&"x".repeat(65)), None);
    }
}

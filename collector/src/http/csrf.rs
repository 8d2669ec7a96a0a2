//! CSRF protection for the collector's HTML forms (today: the incident
//! view's token login). Three independent checks, all required:
//! - `Sec-Fetch-Site`, when the browser sends it, is `same-origin` or `none`;
//! - `Origin`, when sent, names this host. `null` is left to the other
//!   checks: browsers send it for our own pages, whose
//!   `Referrer-Policy: no-referrer` hides the origin too (cross-site frames
//!   sending `null` are caught by `Sec-Fetch-Site` and the token);
//! - a double-submit token: the form's hidden `csrf` field equals the
//!   `sc_csrf` cookie (`HttpOnly; SameSite=Strict`, set with the form),
//!   compared in constant time.
//!
//! Without CSRF protection another site could post *its own* token to the
//! login form in a victim's browser (login CSRF) and show them a view it
//! controls; `SameSite=Strict` on the cookie alone doesn't prevent that.

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

/// Cookie holding the double-submit token.
pub const COOKIE: &str = "sc_csrf";

/// Why a form post was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    /// `Sec-Fetch-Site` says another site sent it.
    #[error("cross-site request (Sec-Fetch-Site)")]
    CrossSiteFetch,
    /// `Origin` is another origin.
    #[error("foreign origin")]
    ForeignOrigin,
    /// The form's token is missing or doesn't match the cookie.
    #[error("missing or mismatched form token")]
    TokenMismatch,
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn well_formed(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The form token to embed: the browser's current one when it has a
/// well-formed cookie, else a fresh one (then `true`: set the cookie).
pub fn form_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, COOKIE).filter(|t| well_formed(t)) {
        Some(t) => (t.to_string(), false),
        None => (crate::keys::new_admin_token()[4..36].to_string(), true),
    }
}

/// Check a form post's headers and its `csrf` field.
pub fn check(headers: &HeaderMap, form_token: &str) -> Result<(), CsrfError> {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(CsrfError::CrossSiteFetch);
        }
    }
    if let Some(origin) = get(header::ORIGIN).filter(|o| *o != "null") {
        let host = get(header::HOST).unwrap_or("");
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if host.is_empty() || authority != Some(host) {
            return Err(CsrfError::ForeignOrigin);
        }
    }
    let Some(expected) = cookie(headers, COOKIE).filter(|t| well_formed(t)) else {
        return Err(CsrfError::TokenMismatch);
    };
    if bool::from(expected.as_bytes().ct_eq(form_token.as_bytes())) {
        Ok(())
    } else {
        Err(CsrfError::TokenMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_same_origin_posts_with_the_cookie_token_pass() {
        let t = "0123456789abcdef0123456789abcdef";
        let c = format!("other=1; {COOKIE}={t}");
        let ok = headers(&[
            ("host", "c.example:7070"),
            ("origin", "http://c.example:7070"),
            ("sec-fetch-site", "same-origin"),
            ("cookie", &c),
        ]);
        assert_eq!(check(&ok, t), Ok(()));
        // Old clients without Origin / Sec-Fetch-Site still need the token.
        assert_eq!(check(&headers(&[("cookie", &c)]), t), Ok(()));
        assert_eq!(
            check(&ok, "0123456789abcdef0123456789abcdee"),
            Err(CsrfError::TokenMismatch)
        );
        assert_eq!(check(&ok, ""), Err(CsrfError::TokenMismatch));
        assert_eq!(
            check(&headers(&[("host", "c.example:7070")]), t),
            Err(CsrfError::TokenMismatch)
        );
        let evil = headers(&[
            ("host", "c.example:7070"),
            ("origin", "https://evil.example"),
            ("cookie", &c),
        ]);
        assert_eq!(check(&evil, t), Err(CsrfError::ForeignOrigin));
        let null = headers(&[
            ("host", "c.example:7070"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
            ("cookie", &c),
        ]);
        // What browsers send from our no-referrer pages: the token decides.
        assert_eq!(check(&null, t), Ok(()));
        assert_eq!(
            check(&null, "0123456789abcdef0123456789abcdee"),
            Err(CsrfError::TokenMismatch)
        );
        let framed = headers(&[
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
            ("cookie", &c),
        ]);
        assert_eq!(check(&framed, t), Err(CsrfError::CrossSiteFetch));
        let cross = headers(&[("sec-fetch-site", "cross-site"), ("cookie", &c)]);
        assert_eq!(check(&cross, t), Err(CsrfError::CrossSiteFetch));
        let sibling = headers(&[("sec-fetch-site", "same-site"), ("cookie", &c)]);
        assert_eq!(check(&sibling, t), Err(CsrfError::CrossSiteFetch));
    }

    #[test]
    fn form_tokens_are_reused_only_when_well_formed() {
        let (t, fresh) = form_token(&HeaderMap::new());
        assert!(fresh && well_formed(&t));
        let c = format!("{COOKIE}={t}");
        assert_eq!(form_token(&headers(&[("cookie", &c)])), (t, false));
        let junk = format!("{COOKIE}=<script>");
        assert!(form_token(&headers(&[("cookie", &junk)])).1);
    }
}

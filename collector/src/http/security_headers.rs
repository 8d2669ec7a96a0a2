//! Security headers on every response, decided in one place: `nosniff` on
//! all of them, and on every HTML response a CSP that allows nothing by
//! default (no scripts, no framing, no `<base>`, forms only to us),
//! `X-Frame-Options: DENY` for old browsers and `Referrer-Policy:
//! no-referrer`. A handler that needs a different policy (the incident view
//! allows its nonce'd stylesheet) sets its own headers; they are kept.

use axum::{
    extract::Request,
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

/// The CSP for HTML responses that set none of their own.
pub const DEFAULT_HTML_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Whether `headers` describe an HTML document.
fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim_start().to_ascii_lowercase();
            v.starts_with("text/html") || v.starts_with("application/xhtml")
        })
}

/// Add the missing security headers to `headers` (pure, unit-tested).
pub fn apply(headers: &mut HeaderMap) {
    let html = is_html(headers);
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if html {
        set(header::CONTENT_SECURITY_POLICY, DEFAULT_HTML_CSP);
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
    }
}

/// Middleware: [`apply`] to every response.
pub async fn add(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    apply(res.headers_mut());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_every_header_and_own_policies_are_kept() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Text/HTML; charset=utf-8"),
        );
        apply(&mut h);
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], DEFAULT_HTML_CSP);
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let mut own = HeaderMap::new();
        own.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        own.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        apply(&mut own);
        assert_eq!(own[header::CONTENT_SECURITY_POLICY], "default-src 'self'");

        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        apply(&mut json);
        assert_eq!(json[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!json.contains_key(header::CONTENT_SECURITY_POLICY));
    }
}

//! HTML responses and forms: every HTML response (login form, refused form,
//! the view itself) carries CSP with `frame-ancestors 'none'`,
//! `X-Frame-Options: DENY`, `nosniff` and `no-referrer`; other responses
//! carry `nosniff`. The incident view's login form is protected against CSRF:
//! posts without the form's token, with another token, from another origin
//! or flagged cross-site by the browser are refused (403) and sign nobody in;
//! the same-origin post with the token signs in.

mod common;

use axum::{body::Body, http::Request};
use common::*;
use http_body_util::BodyExt;

async fn parts(res: axum::http::Response<Body>) -> (axum::http::HeaderMap, String) {
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn assert_html_headers(h: &axum::http::HeaderMap, what: &str) {
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("script-src"), "{what}: {csp}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
}

/// The `name=value` of the first `Set-Cookie` for `name`.
fn set_cookie(h: &axum::http::HeaderMap, name: &str) -> Option<String> {
    h.get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.to_string())
}

fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

fn login(site: &str, form: &str, cookie: Option<&str>, extra: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::post(format!("/v1/admin/sites/{site}/incidents/view?hours=2"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "collector.example");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(Body::from(form.to_string())).unwrap()
}

#[tokio::test]
async fn html_has_security_headers_and_login_resists_csrf() {
    let t = TestDb::sqlite().await;
    let site = add_site(&t.db, ORIGIN).await;
    let (app, _state, _writer) = test_app(t.db.clone());
    let view = format!("/v1/admin/sites/{}/incidents/view", site.key);

    // The login form: headers, and a CSRF cookie matching the hidden field.
    let (status, res) = send(&app, admin_req(&view, None)).await;
    assert_eq!(status, 401);
    let (h, html) = parts(res).await;
    assert_html_headers(&h, "login form");
    let csrf_cookie = set_cookie(&h, "sc_csrf").expect("csrf cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    let token = hidden_csrf(&html);
    let cookie = format!("sc_csrf={token}");
    assert!(csrf_cookie.starts_with(&cookie), "{csrf_cookie} vs {token}");
    // A browser that already has the cookie keeps its token.
    let mut again = admin_req(&view, None);
    again
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (_, res) = send(&app, again).await;
    let (h2, html2) = parts(res).await;
    assert_eq!(hidden_csrf(&html2), token);
    assert!(set_cookie(&h2, "sc_csrf").is_none());

    let good_form = format!("token={}&csrf={token}", site.token);
    let other = "0123456789abcdef0123456789abcdef";
    let refused: Vec<(&str, Request<Body>)> = vec![
        (
            "no csrf field",
            login(
                &site.key,
                &format!("token={}", site.token),
                Some(&cookie),
                &[],
            ),
        ),
        ("no csrf cookie", login(&site.key, &good_form, None, &[])),
        (
            "mismatched token",
            login(
                &site.key,
                &format!("token={}&csrf={other}", site.token),
                Some(&cookie),
                &[],
            ),
        ),
        (
            "attacker's own pair",
            login(
                &site.key,
                &format!("token={}&csrf={other}", site.token),
                Some(&format!("sc_csrf={token}; sc_csrf={other}")),
                &[],
            ),
        ),
        (
            "foreign origin",
            login(
                &site.key,
                &good_form,
                Some(&cookie),
                &[("origin", "https://evil.example")],
            ),
        ),
        (
            "null origin from a cross-site frame",
            login(
                &site.key,
                &good_form,
                Some(&cookie),
                &[("origin", "null"), ("sec-fetch-site", "cross-site")],
            ),
        ),
        (
            "cross-site fetch",
            login(
                &site.key,
                &good_form,
                Some(&cookie),
                &[("sec-fetch-site", "cross-site")],
            ),
        ),
    ];
    for (what, req) in refused {
        let (status, res) = send(&app, req).await;
        let (h, html) = parts(res).await;
        assert_eq!(status, 403, "{what}: {html}");
        assert_html_headers(&h, what);
        assert!(set_cookie(&h, "sc_admin").is_none(), "{what} signed in");
        assert!(html.contains("name=\"csrf\""), "{what}: a fresh form");
    }

    // The same-origin post with the token signs in — also as browsers send
    // it from our `no-referrer` page (`Origin: null`), and from old browsers
    // that send neither header.
    for origin in ["http://collector.example", "null"] {
        let (status, _) = send(
            &app,
            login(
                &site.key,
                &good_form,
                Some(&cookie),
                &[("origin", origin), ("sec-fetch-site", "same-origin")],
            ),
        )
        .await;
        assert_eq!(status, 303, "origin {origin}");
    }
    let (status, res) = send(&app, login(&site.key, &good_form, Some(&cookie), &[])).await;
    assert_eq!(status, 303);
    let admin_cookie = set_cookie(res.headers(), "sc_admin").expect("signed in");
    assert!(admin_cookie.contains("HttpOnly") && admin_cookie.contains("SameSite=Strict"));

    // The view itself and a wrong-token form answer carry the headers too.
    let (status, res) = send(&app, admin_req(&view, Some(&site.token))).await;
    assert_eq!(status, 200);
    assert_html_headers(&parts(res).await.0, "view");
    let (status, res) = send(
        &app,
        login(
            &site.key,
            &format!("token=sct_wrong&csrf={token}"),
            Some(&cookie),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 401);
    assert_html_headers(&parts(res).await.0, "wrong token");

    // Non-HTML answers (JSON, errors) are nosniff.
    for path in [
        "/healthz".to_string(),
        format!("/v1/admin/sites/{}/events", site.key),
    ] {
        let (_, res) = send(&app, admin_req(&path, None)).await;
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    t.cleanup().await;
}

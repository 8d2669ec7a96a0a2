//! Remote config and crisis switches through `app(state).oneshot(...)`, on
//! SQLite and PostgreSQL: public read with ETag/max-age, admin PUT/PATCH,
//! validation, expiry of banners, and per-site authorization.

mod common;

use axum::{body::Body, http::Request};
use common::*;
use steadycart_collector::store::Db;

fn admin(method: &str, site: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("/v1/admin/sites/{site}/config"))
        .header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn public(site: &str, etag: Option<&str>) -> Request<Body> {
    let mut b = Request::get(format!("/v1/config?site={site}"));
    if let Some(e) = etag {
        b = b.header("if-none-match", e);
    }
    b.body(Body::empty()).unwrap()
}

both_backends!(config_round_trip_and_switches, |db: Db| async move {
    let site = add_site(&db, ORIGIN).await;
    let other = add_site(&db, ORIGIN).await;
    let (app, _state, _writer) = test_app(db.clone());

    // Never set: defaults, cacheable for 60 s, readable cross-origin.
    let (status, res) = send(&app, public(&site.key, None)).await;
    assert_eq!(status, 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=60");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let etag0 = res.headers()["etag"].to_str().unwrap().to_string();
    let body = json_body(res).await;
    assert_eq!(body["kill"], false);
    assert_eq!(body["version"], 0);
    let (status, _) = send(&app, public(&site.key, Some(&etag0))).await;
    assert_eq!(status, 304, "unchanged config revalidates");

    // Admin: banner with a hostile text, short max-age, survey off.
    let (status, res) = send(
        &app,
        admin(
            "PATCH",
            &site.key,
            Some(&site.token),
            r#"{"banner":{"text":"<script>alert(1)</script> Delays","severity":"warning"},"max_age_s":2,"survey":false,
                "texts":[{"role":"price","locale":"de","text":"Preis wird geprüft"}]}"#,
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json_body(res).await["version"], 1);
    let (status, res) = send(&app, public(&site.key, Some(&etag0))).await;
    assert_eq!(status, 200, "changed config: old ETag no longer matches");
    assert_eq!(res.headers()["cache-control"], "public, max-age=2");
    let body = json_body(res).await;
    assert_eq!(body["banner"]["text"], "<script>alert(1)</script> Delays");
    assert_eq!(body["survey"], false);
    assert_eq!(body["texts"][0]["locale"], "de");

    // Kill switch by merge patch keeps the rest.
    let (status, res) = send(
        &app,
        admin("PATCH", &site.key, Some(&site.token), r#"{"kill":true}"#),
    )
    .await;
    assert_eq!(status, 200);
    let body = json_body(res).await;
    assert_eq!(
        (body["kill"].clone(), body["version"].clone()),
        (true.into(), 2.into())
    );
    assert_eq!(body["banner"]["severity"], "warning");

    // Expired banners are not served; PUT replaces the whole document.
    let past = now_ms() - 1000;
    let (status, _) = send(
        &app,
        admin(
            "PUT",
            &site.key,
            Some(&site.token),
            &format!(r#"{{"banner":{{"text":"Old news","expires_at":{past}}}}}"#),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let body = json_body(send(&app, public(&site.key, None)).await.1).await;
    assert!(
        body.get("banner").is_none(),
        "expired banner served: {body}"
    );
    assert_eq!(body["kill"], false, "PUT replaced the kill switch");
    assert_eq!(body["version"], 3);

    // Bad input: a clear 400 naming the field, nothing stored.
    for (doc, field) in [
        (r#"{"kil":true}"#, "kil"),
        (
            r#"{"banner":{"text":"x","severity":"doom"}}"#,
            "banner.severity",
        ),
        (r#"{"max_age_s":0}"#, "max_age_s"),
        (
            r#"{"stall_ms":[{"role":"price","ms":1}]}"#,
            "stall_ms[0].ms",
        ),
        (r#"[1]"#, "body"),
    ] {
        let (status, res) = send(&app, admin("PATCH", &site.key, Some(&site.token), doc)).await;
        assert_eq!(status, 400, "{doc}");
        assert_eq!(json_body(res).await["field"], field, "{doc}");
    }
    let body = json_body(
        send(&app, admin("GET", &site.key, Some(&site.token), ""))
            .await
            .1,
    )
    .await;
    assert_eq!(body["version"], 3, "refused changes stored nothing");

    // Authorization: none, wrong, and another site's token.
    for token in [None, Some("nope"), Some(other.token.as_str())] {
        let (status, _) = send(&app, admin("PATCH", &site.key, token, r#"{"kill":true}"#)).await;
        assert_eq!(status, 401);
        let (status, _) = send(&app, admin("GET", &site.key, token, "")).await;
        assert_eq!(status, 401);
    }
    // Unknown site on the public endpoint.
    let (status, res) = send(&app, public("pk_doesnotexist000", None)).await;
    assert_eq!(status, 404);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
});

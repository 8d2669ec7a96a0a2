//! Access control of every admin route, on SQLite and PostgreSQL.
//!
//! Each admin route is called with no token, a malformed header, a wrong
//! token, another site's valid token and the site's own public key (site keys
//! can only write): every one answers 401 and the body carries none of the
//! site's data. The site's own token opens each route (so the denials are not
//! an artefact of a broken route). Ids belonging to another site (incidents,
//! notifiers) answer 404 through a valid token of this site and are left
//! untouched. The incident view's cookie is checked the same way, and admin
//! tokens are never stored in clear.

mod common;

use axum::{body::Body, http::Request};
use common::*;
use http_body_util::BodyExt;
use steadycart_collector::store::Db;

/// A request to `path` with `method`, an optional raw `Authorization` value,
/// an optional cookie and an optional JSON body.
fn req(
    method: &str,
    path: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
    body: Option<&str>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    match body {
        Some(json) => b
            .header("content-type", "application/json")
            .body(Body::from(json.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

async fn text(res: axum::http::Response<Body>) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An incident row of `site_id`, written as the signals engine would.
async fn insert_incident(db: &Db, site_id: i64, summary: &str) -> i64 {
    let now = now_ms();
    let sql = "INSERT INTO incidents (site_id, series, status, since, opened_at, updated_at, \
               baseline, observed, peak_ratio, summary, details) \
               VALUES ($1, 'errors', 'open', $2, $2, $2, 0.01, 0.3, 30.0, $3, $4) RETURNING id";
    let details =
        serde_json::to_string(&steadycart_collector::signals::incident::IncidentDetails::default())
            .unwrap();
    let id: (i64,) = match db {
        Db::Sqlite(pool) => sqlx::query_as(sql)
            .bind(site_id)
            .bind(now - 60_000)
            .bind(summary)
            .bind(&details)
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Postgres(pool) => sqlx::query_as(sql)
            .bind(site_id)
            .bind(now - 60_000)
            .bind(summary)
            .bind(&details)
            .fetch_one(pool)
            .await
            .unwrap(),
    };
    id.0
}

/// Every `"/v1/admin/sites/{site}/…"` route path declared in `src/http/`.
fn admin_routes_in_source() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (i, _) in text.match_indices("\"/v1/admin/sites/{site}/") {
            let rest = &text[i + 1..];
            let path = &rest[..rest.find('"').unwrap()];
            if !routes.iter().any(|r| r == path) {
                routes.push(path.to_string());
            }
        }
    }
    assert!(routes.len() >= 8, "route scan found only {routes:?}");
    routes
}

const SECRET_A: &str = "secret-of-site-a-0123456789";
const SECRET_B: &str = "secret-of-site-b-0123456789";

fn webhook(secret: &str) -> String {
    format!(r#"{{"kind":"webhook","url":"https://hooks.example/steadycart","secret":"{secret}"}}"#)
}

both_backends!(
    every_admin_route_is_closed_to_other_credentials,
    |db: Db| async move {
        let a = add_site(&db, ORIGIN).await;
        let b = add_site(&db, "https://other-shop.example").await;
        let (app, _state, _writer) = test_app(db.clone());

        // Site A has events, an incident and a notifier; so has site B.
        for (site, seed) in [(&a, 11), (&b, 12)] {
            let (status, _) = send(
                &app,
                ingest_req(&site.key, None, "application/json", batch_json(seed, 2)),
            )
            .await;
            assert_eq!(status, 200);
        }
        let inc_a = insert_incident(&db, a.id, "incident-of-site-a").await;
        let inc_b = insert_incident(&db, b.id, "incident-of-site-b").await;
        let bearer_a = format!("Bearer {}", a.token);
        let bearer_b = format!("Bearer {}", b.token);
        let mut notifier_ids = Vec::new();
        for (site, bearer, secret) in [(&a, &bearer_a, SECRET_A), (&b, &bearer_b, SECRET_B)] {
            let path = format!("/v1/admin/sites/{}/notifiers", site.key);
            let (status, res) = send(
                &app,
                req("POST", &path, Some(bearer), None, Some(&webhook(secret))),
            )
            .await;
            assert_eq!(status, 201);
            let body = json_body(res).await;
            assert!(!body.to_string().contains(secret), "secret echoed: {body}");
            notifier_ids.push(body["id"].as_i64().unwrap());
        }
        let (not_a, not_b) = (notifier_ids[0], notifier_ids[1]);

        let base = format!("/v1/admin/sites/{}", a.key);
        // (method, path, body, status for A's own token)
        let routes: Vec<(&str, String, Option<String>, u16)> = vec![
            ("GET", format!("{base}/events"), None, 200),
            (
                "GET",
                format!(
                    "{base}/signals?from={}&to={}&step=60000&series=sessions",
                    now_ms() - 3_600_000,
                    now_ms()
                ),
                None,
                200,
            ),
            ("GET", format!("{base}/incidents"), None, 200),
            ("GET", format!("{base}/incidents/{inc_a}"), None, 200),
            ("GET", format!("{base}/notifiers"), None, 200),
            (
                "POST",
                format!("{base}/notifiers"),
                Some(webhook(SECRET_A)),
                201,
            ),
            ("GET", format!("{base}/metrics"), None, 200),
            ("GET", format!("{base}/incidents/view"), None, 200),
            ("GET", format!("{base}/survey/answers"), None, 200),
            ("GET", format!("{base}/drops"), None, 200),
            ("GET", format!("{base}/notifications?state=dead"), None, 200),
            ("GET", format!("{base}/config"), None, 200),
            (
                "PATCH",
                format!("{base}/config"),
                Some(r#"{"banner":{"text":"Delays today"}}"#.into()),
                200,
            ),
            ("PUT", format!("{base}/config"), Some("{}".into()), 200),
            ("GET", format!("{base}/detector"), None, 200),
            (
                "PUT",
                format!("{base}/detector"),
                Some(r#"{"min_trials":8}"#.into()),
                200,
            ),
            ("GET", format!("{base}/recovery/contacts"), None, 200),
            ("GET", format!("{base}/recovery/contacts.csv"), None, 200),
            (
                "PUT",
                format!("{base}/recovery/settings"),
                Some(r#"{"shop_name":"A","from":"a@shop.example","recovery_url":"https://shop.example/c?t={token}"}"#.into()),
                200,
            ),
            ("GET", format!("{base}/recovery/settings"), None, 200),
            (
                "POST",
                format!("{base}/recovery/erase"),
                Some(r#"{"email":"nobody@example.com"}"#.into()),
                200,
            ),
            // Last: it removes A's notifier.
            ("DELETE", format!("{base}/notifiers/{not_a}"), None, 204),
        ];
        // Every admin route in the source is in the list above, so a new route
        // cannot ship without this test walking it.
        let walked: Vec<String> = routes
            .iter()
            .map(|(_, p, _, _)| {
                let p = p.split('?').next().unwrap().replace(&a.key, "{site}");
                p.replace(&format!("/{inc_a}"), "/{id}")
                    .replace(&format!("/{not_a}"), "/{id}")
            })
            .collect();
        for route in admin_routes_in_source() {
            assert!(
                walked.contains(&route),
                "admin route {route} is not walked by this test"
            );
        }
        let wrong = format!("Bearer {}", steadycart_collector::keys::new_admin_token());
        let key_as_token = format!("Bearer {}", a.key);
        let denied: Vec<(&str, Option<&str>, Option<String>)> = vec![
            ("no credentials", None, None),
            ("basic auth", Some("Basic YWRtaW46YWRtaW4="), None),
            ("empty bearer", Some("Bearer "), None),
            ("wrong token", Some(&wrong), None),
            ("site B's token", Some(&bearer_b), None),
            ("site A's public key", Some(&key_as_token), None),
            ("token without scheme", Some(a.token.as_str()), None),
            (
                "site B's cookie",
                None,
                Some(format!("sc_admin={}", b.token)),
            ),
        ];
        for (method, path, body, ok_status) in &routes {
            for (what, auth, cookie) in &denied {
                let (status, res) = send(
                    &app,
                    req(method, path, *auth, cookie.as_deref(), body.as_deref()),
                )
                .await;
                let text = text(res).await;
                assert_eq!(status, 401, "{method} {path} with {what}: {text}");
                for leak in [
                    "incident-of-site-a",
                    "s_test_session_01",
                    SECRET_A,
                    "hooks.example",
                ] {
                    assert!(
                        !text.contains(leak),
                        "{method} {path} with {what} leaks {leak}"
                    );
                }
            }
            // The site's own token opens the route.
            let (status, res) = send(
                &app,
                req(method, path, Some(&bearer_a), None, body.as_deref()),
            )
            .await;
            assert_eq!(
                status,
                *ok_status,
                "{method} {path} with A's token: {}",
                text(res).await
            );
        }
        // The scheme is case-insensitive (RFC 9110 §11.1).
        for scheme in ["bearer", "BEARER"] {
            let auth = format!("{scheme} {}", a.token);
            let (status, _) = send(
                &app,
                req("GET", &format!("{base}/events"), Some(&auth), None, None),
            )
            .await;
            assert_eq!(status, 200, "{scheme}");
        }
        // Denials changed nothing: A still has exactly the notifier added above.
        let (_, res) = send(
            &app,
            req(
                "GET",
                &format!("{base}/notifiers"),
                Some(&bearer_a),
                None,
                None,
            ),
        )
        .await;
        assert_eq!(
            json_body(res).await["notifiers"].as_array().unwrap().len(),
            1
        );

        // A valid token of A cannot reach B's objects through A's paths.
        let (status, res) = send(
            &app,
            req(
                "GET",
                &format!("{base}/incidents/{inc_b}"),
                Some(&bearer_a),
                None,
                None,
            ),
        )
        .await;
        let body = text(res).await;
        assert_eq!(status, 404, "{body}");
        assert!(!body.contains("incident-of-site-b"));
        let (status, _) = send(
            &app,
            req(
                "DELETE",
                &format!("{base}/notifiers/{not_b}"),
                Some(&bearer_a),
                None,
                None,
            ),
        )
        .await;
        assert_eq!(status, 404);
        let (_, res) = send(
            &app,
            req(
                "GET",
                &format!("/v1/admin/sites/{}/notifiers", b.key),
                Some(&bearer_b),
                None,
                None,
            ),
        )
        .await;
        let list = json_body(res).await;
        assert_eq!(
            list["notifiers"].as_array().unwrap().len(),
            1,
            "B's notifier was removed by A: {list}"
        );
        assert_eq!(list["notifiers"][0]["id"], not_b);
        // A's lists hold nothing of B's.
        let (_, res) = send(
            &app,
            req(
                "GET",
                &format!("{base}/incidents"),
                Some(&bearer_a),
                None,
                None,
            ),
        )
        .await;
        assert!(!text(res).await.contains("incident-of-site-b"));

        // The view's cookie opens only its own site.
        let (status, res) = send(
            &app,
            req(
                "GET",
                &format!("{base}/incidents/view"),
                None,
                Some(&format!("sc_admin={}", a.token)),
                None,
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert!(text(res).await.contains("incident-of-site-a"));

        // Unknown and junk site keys answer like a wrong token (keys can't be probed).
        for key in ["pk_000000000000000000000000", "x'%20OR%20'1'='1", "%00%00"] {
            let (status, _) = send(
                &app,
                req(
                    "GET",
                    &format!("/v1/admin/sites/{key}/events"),
                    Some(&bearer_a),
                    None,
                    None,
                ),
            )
            .await;
            assert!(
                status == 401 || status == 404 || status == 400,
                "site {key}: {status}"
            );
            assert_ne!(status, 200);
        }

        // Tokens are stored hashed: no column of `sites` holds a token in clear.
        let dump: Vec<(String,)> = match &db {
            Db::Sqlite(pool) => {
                sqlx::query_as("SELECT site_key || ' ' || admin_token_hash FROM sites")
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
            Db::Postgres(pool) => {
                sqlx::query_as("SELECT site_key || ' ' || admin_token_hash FROM sites")
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(dump.len(), 2);
        for (row,) in dump {
            for token in [&a.token, &b.token] {
                assert!(
                    !row.contains(token.as_str()) && !row.contains(&token[4..]),
                    "token in clear: {row}"
                );
            }
        }
    }
);

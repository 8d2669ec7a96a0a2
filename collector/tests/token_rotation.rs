//! Admin tokens can be rotated and revoked with the real `collector` binary
//! (`collector site rotate-token` / `revoke-token`) while a collector serves
//! the same database, on SQLite and PostgreSQL: the old token stops working
//! at once — bearer and incident-view cookie alike — the new one works, other
//! sites are untouched, a revoked site opens to no token until rotated, and
//! only hashes are stored. With `--overlap` the replaced token keeps working
//! until the window ends (at most 7 days); a revocation ends both.

mod common;

use std::process::Command;

use common::*;
use steadycart_collector::store::Db;

/// Run `collector site <args…> --database-url url`; its JSON output, or the
/// exit status and stderr when it fails.
fn site_cli(url: &str, args: &[&str]) -> Result<serde_json::Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("site")
        .args(args)
        .args(["--database-url", url])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

async fn status_with(app: &axum::Router, site: &str, token: &str) -> u16 {
    send(
        app,
        admin_req(&format!("/v1/admin/sites/{site}/events"), Some(token)),
    )
    .await
    .0
}

async fn view_with_cookie(app: &axum::Router, site: &str, token: &str) -> u16 {
    let req = axum::http::Request::get(format!("/v1/admin/sites/{site}/incidents/view"))
        .header("cookie", format!("sc_admin={token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    send(app, req).await.0
}

async fn set_prev_until(db: &Db, site: &str, until: i64) {
    let sql = "UPDATE sites SET admin_token_prev_until = $1 WHERE site_key = $2";
    match db {
        Db::Sqlite(p) => sqlx::query(sql)
            .bind(until)
            .bind(site)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql)
            .bind(until)
            .bind(site)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

/// Every token hash stored (current and previous), concatenated per site.
async fn stored_hashes(db: &Db) -> Vec<String> {
    let sql = "SELECT admin_token_hash || admin_token_prev_hash FROM sites ORDER BY id";
    let rows: Vec<(String,)> = match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    rows.into_iter().map(|r| r.0).collect()
}

async fn rotate_and_revoke(t: &common::TestDb) {
    let db = &t.db;
    let a = add_site(db, ORIGIN).await;
    let b = add_site(db, "https://other-shop.example").await;
    let (app, _state, _writer) = test_app(db.clone());
    assert_eq!(status_with(&app, &a.key, &a.token).await, 200);
    assert_eq!(view_with_cookie(&app, &a.key, &a.token).await, 200);

    // Rotate: the old token is refused at once, the new one opens the site.
    let out = site_cli(&t.url, &["rotate-token", "--site", &a.key]).unwrap();
    assert_eq!(out["site_key"], a.key.as_str());
    let t1 = out["admin_token"].as_str().unwrap().to_string();
    assert!(t1.starts_with("sct_") && t1 != a.token);
    assert_eq!(status_with(&app, &a.key, &a.token).await, 401, "old token");
    assert_eq!(
        view_with_cookie(&app, &a.key, &a.token).await,
        401,
        "old token in the view's cookie"
    );
    assert_eq!(status_with(&app, &a.key, &t1).await, 200, "new token");
    assert_eq!(view_with_cookie(&app, &a.key, &t1).await, 200);
    // The new token opens only its own site; B is untouched.
    assert_eq!(status_with(&app, &b.key, &t1).await, 401);
    assert_eq!(status_with(&app, &b.key, &b.token).await, 200);

    // Rotate with an overlap: the token in use keeps working beside the new
    // one until the window ends; the token before it stays refused.
    let out = site_cli(
        &t.url,
        &["rotate-token", "--site", &a.key, "--overlap", "1h"],
    )
    .unwrap();
    let t1b = out["admin_token"].as_str().unwrap().to_string();
    let until = out["old_token_valid_until"].as_i64().unwrap();
    assert!(until > now_ms() + 3_500_000, "{out}");
    assert_eq!(
        status_with(&app, &a.key, &t1).await,
        200,
        "old token, in the window"
    );
    assert_eq!(view_with_cookie(&app, &a.key, &t1).await, 200);
    assert_eq!(status_with(&app, &a.key, &t1b).await, 200, "new token");
    assert_eq!(
        status_with(&app, &a.key, &a.token).await,
        401,
        "two rotations ago"
    );
    assert_eq!(
        status_with(&app, &b.key, &t1).await,
        401,
        "only its own site"
    );
    // Once the window has ended (moved into the past here: time is data),
    // the old token is refused.
    set_prev_until(db, &a.key, now_ms() - 1).await;
    assert_eq!(status_with(&app, &a.key, &t1).await, 401, "window over");
    assert_eq!(view_with_cookie(&app, &a.key, &t1).await, 401);
    assert_eq!(status_with(&app, &a.key, &t1b).await, 200);
    // Overlaps are bounded.
    let err = site_cli(
        &t.url,
        &["rotate-token", "--site", &a.key, "--overlap", "8days"],
    )
    .unwrap_err();
    assert!(err.contains("7 days"), "{err}");
    assert_eq!(
        status_with(&app, &a.key, &t1b).await,
        200,
        "nothing changed"
    );
    // A second overlap window, then a revocation ends both tokens at once.
    let t1c = site_cli(
        &t.url,
        &["rotate-token", "--site", &a.key, "--overlap", "1h"],
    )
    .unwrap()["admin_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status_with(&app, &a.key, &t1b).await, 200);
    assert_eq!(status_with(&app, &a.key, &t1c).await, 200);

    // Revoke: no token opens A, not even an empty or junk one.
    let out = site_cli(&t.url, &["revoke-token", "--site", &a.key]).unwrap();
    assert_eq!(out["revoked"], true);
    for token in [
        t1.as_str(),
        t1b.as_str(),
        t1c.as_str(),
        a.token.as_str(),
        "",
        " ",
        "sct_",
    ] {
        assert_eq!(
            status_with(&app, &a.key, token).await,
            401,
            "revoked site opened with {token:?}"
        );
    }
    assert_eq!(view_with_cookie(&app, &a.key, &t1).await, 401);
    assert_eq!(status_with(&app, &b.key, &b.token).await, 200);

    // Rotating after a revocation issues a working token again.
    let t2 = site_cli(&t.url, &["rotate-token", "--site", &a.key]).unwrap()["admin_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status_with(&app, &a.key, &t2).await, 200);
    assert_eq!(status_with(&app, &a.key, &t1).await, 401);

    // Unknown sites fail loudly; nothing changes.
    let err = site_cli(
        &t.url,
        &["rotate-token", "--site", "pk_000000000000000000000000"],
    )
    .unwrap_err();
    assert!(err.contains("no site"), "{err}");
    assert!(site_cli(&t.url, &["revoke-token", "--site", "pk_nope0000000"]).is_err());
    assert_eq!(status_with(&app, &a.key, &t2).await, 200);

    // Only hashes are stored.
    for hash in stored_hashes(db).await {
        for token in [&a.token, &t1, &t1b, &t1c, &t2, &b.token] {
            assert!(!hash.contains(&token[4..]), "token in clear");
        }
    }
}

#[tokio::test]
async fn tokens_rotate_and_revoke_sqlite() {
    let t = common::TestDb::sqlite().await;
    rotate_and_revoke(&t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn tokens_rotate_and_revoke_postgres() {
    let t = common::TestDb::postgres().await;
    rotate_and_revoke(&t).await;
    t.cleanup().await;
}

//! Public links from recovery emails; the signed token is the credential.
//!
//! - `GET /v1/unsubscribe/{token}` — a page with one "Unsubscribe" button.
//!   A GET changes nothing, so link scanners and previews can't unsubscribe
//!   anyone.
//! - `POST /v1/unsubscribe/{token}` — RFC 8058 one-click unsubscribe (mail
//!   clients POST `List-Unsubscribe=One-Click`, without cookies; the page's
//!   button posts the same). The address is suppressed for the site forever
//!   and its contact deleted. Repeating it is harmless.
//! - `GET /v1/recover/{token}` — the cart of the recovery link as JSON
//!   (`{"currency","items":[…]}`), for the shop's page to restore it;
//!   410 when expired. CORS-open: the token is the capability.

use axum::{
    extract::{DefaultBodyLimit, Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use sqlx::Row;

use crate::{
    recovery::{
        mailer,
        token::{Purpose, TokenError},
    },
    state::AppState,
    store::on_pool,
};

use super::error::ApiError;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/v1/recover/{token}", get(recover))
        .layer(DefaultBodyLimit::max(1024))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.5rem 1rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    for (k, v) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // The token is in the URL: don't leak it to other sites.
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    res
}

fn invalid() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Link invalid",
        "<p>This unsubscribe link is not valid. Please use the link from the email.</p>",
    )
}

async fn verify(
    state: &AppState,
    token: &str,
    purpose: Purpose,
) -> Result<Result<crate::recovery::token::Claims, TokenError>, ApiError> {
    let signer = mailer::signer(&state.db, &state.config.recovery).await?;
    Ok(signer.verify(token, purpose, crate::now_ms()))
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    if verify(&state, &token, Purpose::Unsubscribe).await?.is_err() {
        return Ok(invalid());
    }
    Ok(page(
        StatusCode::OK,
        "Unsubscribe",
        "<p>Stop all cart recovery emails from this shop to your address?</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe</button></form>",
    ))
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Ok(claims) = verify(&state, &token, Purpose::Unsubscribe).await? else {
        return Ok(invalid());
    };
    let removed = state
        .db
        .recovery_unsubscribe(claims.site_id, claims.contact_id, crate::now_ms())
        .await?;
    if removed {
        tracing::info!(
            site_id = claims.site_id,
            contact = claims.contact_id,
            "recovery contact unsubscribed"
        );
    }
    Ok(page(
        StatusCode::OK,
        "Unsubscribed",
        "<p>You will get no more cart recovery emails from this shop.</p>",
    ))
}

async fn recover(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let claims = match verify(&state, &token, Purpose::Recover).await? {
        Ok(c) => c,
        Err(TokenError::Expired) => {
            return Ok(with_cors(
                (
                    StatusCode::GONE,
                    Json(serde_json::json!({"error": "link expired"})),
                )
                    .into_response(),
            ))
        }
        Err(_) => {
            return Ok(with_cors(
                (
                    StatusCode::NOT_FOUND,
                    Json(serde_json::json!({"error": "link invalid"})),
                )
                    .into_response(),
            ))
        }
    };
    let cart = on_pool!(&state.db, pool => sqlx::query("SELECT k.items, k.currency FROM recovery_contacts c \
             JOIN session_carts k ON k.site_id = c.site_id AND k.session_id = c.session_id WHERE c.id = $1 AND c.site_id = $2")
        .bind(claims.contact_id).bind(claims.site_id).fetch_optional(pool).await
        .map_err(crate::store::StoreError::from)?
        .map(|r| -> Result<(String, Option<String>), sqlx::Error> { Ok((r.try_get("items")?, r.try_get("currency")?)) })
        .transpose().map_err(crate::store::StoreError::from)?);
    let (items, currency) = cart.unwrap_or_else(|| ("[]".into(), None));
    let items: serde_json::Value = serde_json::from_str(&items).unwrap_or_default();
    Ok(with_cors(
        Json(serde_json::json!({ "currency": currency, "items": items })).into_response(),
    ))
}

fn with_cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

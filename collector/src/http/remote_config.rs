//! Remote site configuration and crisis switches.
//!
//! - `GET /v1/config?site=KEY` (public, no credentials, CORS `*`): the
//!   site's [`SiteConfig`] as the snippet applies it (expired banner
//!   removed), with a strong `ETag` (a conditional request answers `304`) and
//!   `Cache-Control: public, max-age=N` where N is the config's `max_age_s`
//!   (default 60). Open pages poll at that interval.
//! - `GET /v1/admin/sites/{site}/config` (bearer admin token): the stored
//!   document with its `version`.
//! - `PUT …/config`: replace the document; `PATCH …/config`: JSON merge
//!   patch (RFC 7386), e.g. `{"kill": true}`, `{"banner": {"text": "…",
//!   "severity": "warning", "expires_at": 1767225600000}}`, `{"banner": null}`.
//!   Unknown fields and invalid values answer 400 naming the field.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use steadycart_protocol::remote::SiteConfig;

use super::{admin::authorize, error::ApiError};
use crate::{keys, state::AppState};

/// Largest admin config body.
const MAX_BODY: usize = 64 * 1024;

/// Top-level fields the admin API accepts.
const FIELDS: [&str; 10] = [
    "version",
    "kill",
    "banner",
    "texts",
    "stall_ms",
    "survey",
    "sample_rate",
    "event_cap",
    "position",
    "max_age_s",
];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/config", get(public_config)).route(
        "/v1/admin/sites/{site}/config",
        get(admin_get).put(admin_put).patch(admin_patch),
    )
}

/// Query of the public endpoint.
#[derive(Debug, Deserialize)]
pub struct ConfigQuery {
    /// Public site key.
    site: String,
}

async fn public_config(
    State(state): State<AppState>,
    Query(q): Query<ConfigQuery>,
    headers: HeaderMap,
) -> Response {
    let mut response = match served(&state, &q.site, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn served(
    state: &AppState,
    site_key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if !keys::is_plausible_site_key(site_key) {
        return Err(ApiError::NotFound);
    }
    let site = state
        .db
        .site_by_key(site_key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut config = state.db.site_config(site.id).await?;
    let now = crate::now_ms();
    if config.live_banner(now).is_none() {
        config.banner = None;
    }
    let body = serde_json::to_vec(&config).map_err(|e| ApiError::Internal(e.into()))?;
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let cache = format!("public, max-age={}", config.max_age());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.into()))?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache).map_err(|e| ApiError::Internal(e.into()))?,
    );
    Ok(response)
}

async fn admin_get(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SiteConfig>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    Ok(Json(state.db.site_config(site.id).await?))
}

async fn admin_put(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SiteConfig>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let doc = parse_body(&body)?;
    store(&state, site.id, doc).await
}

async fn admin_patch(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SiteConfig>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let patch = parse_body(&body)?;
    let current = state.db.site_config(site.id).await?;
    let mut doc = serde_json::to_value(&current).map_err(|e| ApiError::Internal(e.into()))?;
    merge_patch(&mut doc, &patch);
    store(&state, site.id, doc).await
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge(MAX_BODY));
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::field("body", format!("not JSON: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(k.clone(), "unknown field"));
    }
    Ok(doc)
}

async fn store(state: &AppState, site_id: i64, doc: Value) -> Result<Json<SiteConfig>, ApiError> {
    let mut config: SiteConfig = serde_json::from_value(doc)
        .map_err(|e| ApiError::field("body", format!("invalid config: {e}")))?;
    if let Some((field, message)) = config.problem() {
        return Err(ApiError::field(field, message));
    }
    config.version = state
        .db
        .put_site_config(site_id, &config, crate::now_ms())
        .await?;
    tracing::info!(
        site_id,
        version = config.version,
        kill = config.kill,
        "site config changed"
    );
    Ok(Json(config))
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut t = serde_json::json!({"kill": false, "banner": {"text": "a", "severity": "info"}, "texts": [1]});
        merge_patch(
            &mut t,
            &serde_json::json!({"kill": true, "banner": {"severity": "critical"}, "texts": null}),
        );
        assert_eq!(
            t,
            serde_json::json!({"kill": true, "banner": {"text": "a", "severity": "critical"}})
        );
    }
}

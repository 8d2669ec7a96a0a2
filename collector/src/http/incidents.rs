//! Signals read API under `/v1/admin/sites/{site}/` (admin bearer token):
//! - `GET signals?from=&to=&step=&series=a,b` — time series (ms; defaults:
//!   the last 6 hours, one bucket per step, every series);
//! - `GET incidents?status=&from=&to=&limit=` and `GET incidents/{id}`;
//! - `GET|POST notifiers`, `DELETE notifiers/{id}` — secrets never echoed;
//! - `GET metrics` — Prometheus gauges (current abandonment, error and stall
//!   rates over the last five buckets, baselines, open incidents,
//!   notification deliveries by state).

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get},
    Json, Router,
};
use serde::Deserialize;
use serde_json::json;

use super::{admin::authorize, error::ApiError};
use crate::{
    notify::NotifierConfig,
    signals::{detectors::SERIES, store},
    state::AppState,
};

/// Most points one series request may return.
const MAX_POINTS: i64 = 5_000;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/sites/{site}/signals", get(series))
        .route("/v1/admin/sites/{site}/incidents", get(list))
        .route("/v1/admin/sites/{site}/incidents/{id}", get(detail))
        .route(
            "/v1/admin/sites/{site}/notifiers",
            get(notifiers).post(add_notifier),
        )
        .route(
            "/v1/admin/sites/{site}/notifiers/{id}",
            delete(remove_notifier),
        )
        .route("/v1/admin/sites/{site}/metrics", get(metrics))
}

/// Query of `GET …/signals`.
#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    from: Option<i64>,
    to: Option<i64>,
    step: Option<i64>,
    series: Option<String>,
}

async fn series(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<SeriesQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let bucket = state.config.signals.bucket_ms();
    let to = q.to.unwrap_or_else(crate::now_ms);
    let from = q.from.unwrap_or(to - 6 * 3_600_000);
    let step = q.step.unwrap_or(bucket);
    if from >= to {
        return Err(ApiError::field("from", "must be before to"));
    }
    if step < 1000 {
        return Err(ApiError::field("step", "must be at least 1000 ms"));
    }
    if (to - from) / step > MAX_POINTS {
        return Err(ApiError::field(
            "step",
            "too many points; use a larger step",
        ));
    }
    let names: Vec<String> = match &q.series {
        Some(s) => s
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => store::COUNTERS
            .iter()
            .map(|s| s.to_string())
            .chain(store::RATES.iter().map(|r| r.0.to_string()))
            .collect(),
    };
    if let Some(bad) = names.iter().find(|n| !store::is_series(n)) {
        return Err(ApiError::field("series", format!("unknown series {bad:?}")));
    }
    let slots = store::slots(&state.db, site.id, from, to, step).await?;
    let t: Vec<i64> = slots.iter().map(|s| s.t).collect();
    let mut out = serde_json::Map::new();
    for n in &names {
        out.insert(
            n.clone(),
            json!(slots.iter().map(|s| s.value(n)).collect::<Vec<_>>()),
        );
    }
    Ok(Json(
        json!({ "from": from, "to": to, "step": step, "t": t, "series": out }),
    ))
}

/// Query of `GET …/incidents`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    if let Some(s) = &q.status {
        if s != "open" && s != "resolved" {
            return Err(ApiError::field("status", "must be open or resolved"));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    let incidents = store::list_incidents(
        &state.db,
        site.id,
        q.status.as_deref(),
        q.from.unwrap_or(0),
        q.to.unwrap_or(i64::MAX),
        limit,
    )
    .await?;
    Ok(Json(json!({ "incidents": incidents })))
}

async fn detail(
    State(state): State<AppState>,
    Path((site_key, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let incident = store::load_incident(&state.db, site.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let deliveries: Vec<serde_json::Value> = store::outbox_of(&state.db, id)
        .await?
        .into_iter()
        .map(|(notifier, action, attempts, delivered)| {
            json!({ "notifier": notifier, "action": action, "attempts": attempts, "delivered": delivered })
        })
        .collect();
    Ok(Json(
        json!({ "incident": incident, "notifications": deliveries }),
    ))
}

async fn notifiers(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    Ok(Json(
        json!({ "notifiers": store::list_notifiers(&state.db, site.id).await? }),
    ))
}

async fn add_notifier(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let n: NotifierConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        // The message may quote a secret's value: name the field only.
        let path = e.path().to_string();
        ApiError::field(
            if path == "." {
                "kind".to_string()
            } else {
                path
            },
            "invalid notifier",
        )
    })?;
    n.validate()
        .map_err(|(field, msg)| ApiError::field(field, msg))?;
    let id = store::add_notifier(&state.db, site.id, &n, crate::now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "config": n.redacted() })),
    )
        .into_response())
}

async fn remove_notifier(
    State(state): State<AppState>,
    Path((site_key, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    if store::remove_notifier(&state.db, site.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn metrics(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = authorize(&state, &site_key, &headers).await?;
    let bucket = state.config.signals.bucket_ms();
    let progress = store::detectors(&state.db, site.id).await?;
    let mut out = String::new();
    let label = format!("site=\"{}\"", site.site_key);
    let mut gauge = |name: &str, help: &str, lines: Vec<(String, Option<f64>)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, v) in lines {
            if let Some(v) = v {
                out.push_str(&format!("{name}{{{labels}}} {v}\n"));
            }
        }
    };
    if let Some((next, det)) = &progress {
        let window = store::slots(&state.db, site.id, next - 5 * bucket, *next, 5 * bucket).await?;
        let slot = window.first().cloned().unwrap_or_default();
        gauge(
            "steadycart_abandonment_rate",
            "Share of ended checkouts abandoned over the last five closed buckets.",
            vec![(label.clone(), slot.value("abandonment_rate"))],
        );
        gauge(
            "steadycart_error_rate",
            "Share of watched storefront calls that failed over the last five closed buckets.",
            vec![(label.clone(), slot.value("error_rate"))],
        );
        gauge(
            "steadycart_stall_rate",
            "Share of watched storefront calls that stalled over the last five closed buckets.",
            vec![(label.clone(), slot.value("stall_rate"))],
        );
        gauge(
            "steadycart_series_baseline",
            "Learned baseline of each detected series.",
            SERIES
                .iter()
                .map(|s| {
                    (
                        format!("{label},series=\"{s}\""),
                        det.series.get(*s).and_then(|d| d.baseline()),
                    )
                })
                .collect(),
        );
        gauge(
            "steadycart_incident_open",
            "1 while an incident is open for the series.",
            SERIES
                .iter()
                .map(|s| {
                    (
                        format!("{label},series=\"{s}\""),
                        Some(f64::from(u8::from(
                            det.series.get(*s).is_some_and(|d| d.firing.is_some()),
                        ))),
                    )
                })
                .collect(),
        );
        gauge(
            "steadycart_signals_last_bucket_seconds",
            "End of the last rolled-up bucket, Unix seconds.",
            vec![(label.clone(), Some(*next as f64 / 1000.0))],
        );
    }
    let counts = crate::notify::deliveries::counts(&state.db, site.id).await?;
    gauge(
        "steadycart_notifications",
        "Notification deliveries by state (dead = given up on; see the notifications API).",
        counts
            .iter()
            .map(|(s, n)| (format!("{label},state=\"{}\"", s.as_str()), Some(*n as f64)))
            .collect(),
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

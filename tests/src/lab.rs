//! The watch lab: a test-only web server for the snippet's transparency
//! suite and benchmark. It serves
//! - `/page/NAME?snippet=1`: `tests/web/pages/NAME.html` with every
//!   `<!--SNIPPET-->` replaced by the real script tag (`snippet=2`: a tag
//!   with default options; otherwise nothing), so one page runs with and
//!   without Steadycart;
//! - `/web/…`: the pages' scripts; `/lib/…`: npm packages installed by
//!   `npm ci` into `tests/web/node_modules`; `/snippet/…`: the built snippet;
//! - `/api/…`: endpoints with known behaviour (see [`api`]);
//! - `/v1/ingest`: a real receiver standing in for the collector, keeping
//!   every event it is sent ([`Lab::events`]) once per event id, as the
//!   collector counts them (the snippet resends what a beacon may have lost).

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{any, get, post},
    Router,
};
use tokio::{net::TcpListener, sync::oneshot};
use tower_http::services::ServeDir;

/// The site key the lab pages use.
pub const SITE_KEY: &str = "pk_lab_0001";

/// `tests/web`, where the pages and npm packages are.
pub fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Install the pages' npm packages (`npm ci`) unless already there.
pub fn ensure_npm_packages() -> anyhow::Result<()> {
    let dir = web_dir();
    if dir.join("node_modules/.package-lock.json").exists() {
        return Ok(());
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(&dir)
        .status()
        .context("running npm ci in tests/web (is npm installed?)")?;
    if !status.success() {
        bail!("npm ci in {} failed: {status}", dir.display());
    }
    Ok(())
}

#[derive(Clone, Default)]
struct LabState {
    events: Arc<Mutex<Vec<serde_json::Value>>>,
    /// Every event id ever received (not cleared with the events).
    ids: Arc<Mutex<std::collections::HashSet<String>>>,
    base: Arc<Mutex<String>>,
}

/// A running lab server.
pub struct Lab {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    state: LabState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Lab {
    /// Start on a free loopback port.
    pub async fn start() -> anyhow::Result<Lab> {
        ensure_npm_packages()?;
        let snippet = crate::snippet_dir()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let state = LabState::default();
        *state.base.lock().expect("lock") = url.clone();
        let web = web_dir();
        let app = Router::new()
            .route("/page/{name}", get(page))
            .route("/api/price/{sku}", any(api::price))
            .route("/api/cart", any(api::cart))
            .route("/api/other", any(api::cart))
            .route("/api/stream", get(api::stream))
            .route("/api/bench", any(api::bench))
            .route("/v1/ingest", post(ingest))
            .nest_service("/web", ServeDir::new(web.join("pages")))
            .nest_service("/lib", ServeDir::new(web.join("node_modules")))
            .nest_service("/snippet", ServeDir::new(snippet))
            .with_state(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Lab {
            url,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// URL of page `name`, with or without the snippet.
    pub fn page(&self, name: &str, snippet: bool) -> String {
        format!("{}/page/{name}?snippet={}", self.url, u8::from(snippet))
    }

    /// Every event received so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.state.events.lock().expect("lock").clone()
    }

    /// Forget the events received so far.
    pub fn clear_events(&self) {
        self.state.events.lock().expect("lock").clear();
    }

    /// Wait until the received events satisfy `pred`; returns them.
    pub async fn wait_events(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[serde_json::Value]) -> bool,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let start = Instant::now();
        loop {
            let events = self.events();
            if pred(&events) {
                return Ok(events);
            }
            if start.elapsed() > timeout {
                bail!(
                    "{what}: not seen within {timeout:?}; received: {}",
                    serde_json::to_string_pretty(&events)?
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop the server.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    #[serde(default)]
    snippet: u8,
}

/// The script tag a shop would paste, pointing at this lab.
fn tag(base: &str) -> String {
    format!(
        r#"<script src="{base}/snippet/steadycart.js" data-site="{SITE_KEY}" data-collector="{base}" data-price="GET /api/price/*, GET /api/stream" data-cart="/api/cart" data-stall-ms-price="300" data-app-error="error" data-sku="/api/price/{{sku}}, body:sku"></script>"#
    )
}

/// The tag with only what is required: defaults everywhere else.
fn minimal_tag(base: &str) -> String {
    format!(
        r#"<script src="{base}/snippet/steadycart.js" data-site="{SITE_KEY}" data-collector="{base}" data-price="GET /api/price/*"></script>"#
    )
}

async fn page(
    State(state): State<LabState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(html) = tokio::fs::read_to_string(web_dir().join(format!("pages/{name}.html"))).await
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let base = state.base.lock().expect("lock").clone();
    let snippet = match q.snippet {
        1 => tag(&base),
        2 => minimal_tag(&base),
        _ => String::new(),
    };
    Html(
        html.replace("<!--SNIPPET-->", &snippet)
            .replace("{{BASE}}", &base),
    )
    .into_response()
}

async fn ingest(State(state): State<LabState>, body: String) -> Response {
    let Ok(batch) = serde_json::from_str::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let events = batch["events"].as_array().cloned().unwrap_or_default();
    let n = events.len();
    let fresh: Vec<serde_json::Value> = {
        let mut ids = state.ids.lock().expect("lock");
        events
            .into_iter()
            .filter(|e| ids.insert(e["id"].as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let accepted = fresh.len();
    state.events.lock().expect("lock").extend(fresh);
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"accepted":{accepted},"duplicates":{}}}"#, n - accepted),
    )
        .into_response()
}

/// Endpoints with known behaviour.
pub mod api {
    use super::*;

    fn json(status: StatusCode, body: String) -> Response {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }

    /// `/api/price/SKU`: `fail` → 503, `reset` → the connection is dropped
    /// without a response, `slow` → 200 after 600 ms, `hang` → 200 after
    /// 3 s, `apperr` → 200 with `{"error": …}`, anything else → 200 at once.
    pub async fn price(Path(sku): Path<String>) -> Response {
        match sku.as_str() {
            "fail" => json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"price service down"}"#.into(),
            ),
            // resume_unwind: the connection task ends without a response
            // and without printing a panic message.
            "reset" => std::panic::resume_unwind(Box::new("reset")),
            "slow" | "hang" => {
                let ms = if sku == "slow" { 600 } else { 3000 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                json(StatusCode::OK, format!(r#"{{"sku":"{sku}","price":1999}}"#))
            }
            "apperr" => json(StatusCode::OK, r#"{"error":"out of stock"}"#.into()),
            _ => json(StatusCode::OK, format!(r#"{{"sku":"{sku}","price":1999}}"#)),
        }
    }

    /// `/api/cart`, `/api/other`: echoes the request body's length.
    pub async fn cart(body: axum::body::Bytes) -> Response {
        json(StatusCode::OK, format!(r#"{{"received":{}}}"#, body.len()))
    }

    /// `/api/stream`: four chunks, 200 ms apart, no Content-Length.
    pub async fn stream() -> Response {
        let chunks = futures_util::stream::unfold(0u32, |i| async move {
            if i == 4 {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some((Ok::<_, std::io::Error>(format!("chunk{i};")), i + 1))
        });
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(chunks))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }

    /// `/api/bench`: the smallest useful answer, for the benchmark.
    pub async fn bench() -> Response {
        json(StatusCode::OK, "{}".into())
    }
}

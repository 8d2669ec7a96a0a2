//! Local stand-ins for the incident tools a drill alerts: one HTTP server
//! answering like PagerDuty's Events API (`/v2/enqueue` → 202), a Slack
//! incoming webhook (`/slack` → 200) and a generic webhook (`/hook` → 200),
//! recording every request with the time it arrived — the "receiver time"
//! of the drill's timeline.

use std::sync::{Arc, Mutex};

use axum::{extract::Request, http::StatusCode, routing::any, Router};
use tokio::{net::TcpListener, sync::oneshot};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query, e.g. `/v2/enqueue`.
    pub path: String,
    /// When it arrived, ms since the Unix epoch.
    pub at_ms: i64,
    /// The body, as JSON when it parses.
    pub body: serde_json::Value,
}

/// One incident as PagerDuty saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct PagedIncident {
    /// The stable key of trigger and resolve.
    pub dedup_key: String,
    /// When the trigger arrived, ms.
    pub triggered_ms: i64,
    /// When the resolve arrived, ms.
    pub resolved_ms: Option<i64>,
    /// `payload.summary` of the trigger.
    pub summary: String,
}

/// The running receivers.
pub struct Receivers {
    /// Base URL, e.g. `http://127.0.0.1:41234` (PagerDuty's base URL; Slack
    /// is `{url}/slack`, the webhook `{url}/hook`).
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    _stop: oneshot::Sender<()>,
}

impl Receivers {
    /// Start on a free loopback port.
    pub async fn start() -> anyhow::Result<Receivers> {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = seen.clone();
        let app = Router::new().fallback(any(move |req: Request| {
            let log = log.clone();
            async move {
                let path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let at_ms = steadycart_collector::now_ms();
                let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
                });
                let accepted = path.starts_with("/v2/");
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Received { path, at_ms, body });
                if accepted {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                }
            }
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Receivers {
            url,
            seen,
            _stop: stop,
        })
    }

    /// Everything received so far, oldest first.
    pub fn all(&self) -> Vec<Received> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The first PagerDuty event with this `event_action`.
    pub fn pagerduty(&self, action: &str) -> Option<Received> {
        self.all()
            .into_iter()
            .find(|r| r.path.starts_with("/v2/enqueue") && r.body["event_action"] == action)
    }

    /// PagerDuty incidents by `dedup_key`, in trigger order.
    pub fn incidents(&self) -> Vec<PagedIncident> {
        let mut out: Vec<PagedIncident> = Vec::new();
        for r in self.all() {
            if !r.path.starts_with("/v2/enqueue") {
                continue;
            }
            let key = r.body["dedup_key"].as_str().unwrap_or_default().to_string();
            match r.body["event_action"].as_str() {
                Some("trigger") if !out.iter().any(|i| i.dedup_key == key) => {
                    out.push(PagedIncident {
                        dedup_key: key,
                        triggered_ms: r.at_ms,
                        resolved_ms: None,
                        summary: r.body["payload"]["summary"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    })
                }
                Some("resolve") => {
                    if let Some(i) = out.iter_mut().find(|i| i.dedup_key == key) {
                        i.resolved_ms.get_or_insert(r.at_ms);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Requests per target: (pagerduty, slack, webhook).
    pub fn counts(&self) -> (usize, usize, usize) {
        let all = self.all();
        let n = |p: &str| all.iter().filter(|r| r.path.starts_with(p)).count();
        (n("/v2/enqueue"), n("/slack"), n("/hook"))
    }
}

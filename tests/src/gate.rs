//! A small HTTP gate between the browser and the collector, under the
//! test's control: it passes requests through, or makes `POST /v1/ingest`
//! fail the way a real outage does — the connection dropped with no
//! answer (collector down), or a status such as 429 with `Retry-After` —
//! and records every ingest request it saw (when, fetch or beacon, which
//! event ids, what it answered). Everything else (the snippet files) always
//! passes, so a page can load while ingestion is down.
//!
//! Plain HTTP/1.1 over tokio, one request per connection (`Connection:
//! close`), so a "down" answer is a real network error in the browser.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

/// What the gate does with ingest requests.
#[derive(Debug, Clone, PartialEq)]
pub enum GateMode {
    /// Forward to the collector.
    Pass,
    /// Close the connection without answering (a network error).
    Down,
    /// Answer `status` (with `Retry-After: retry_after` seconds if given)
    /// to the next `times` requests, then pass.
    Status {
        /// HTTP status, e.g. 429 or 503.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u32>,
        /// How many requests get it.
        times: u32,
    },
}

/// One ingest request as the gate saw it.
#[derive(Debug, Clone)]
pub struct IngestSeen {
    /// When it arrived.
    pub at: Instant,
    /// `Sec-Fetch-Mode`: `cors` for the snippet's fetch, `no-cors` for a
    /// beacon with a CORS-simple body.
    pub fetch_mode: String,
    /// `Content-Type` as sent.
    pub content_type: String,
    /// Event ids in the body.
    pub ids: Vec<String>,
    /// Ids of the body's `call` events (watched storefront calls) only.
    pub calls: Vec<String>,
    /// The batch's `dropped` field.
    pub dropped: u64,
    /// The batch's protocol version `v` and snippet version `sdk`.
    pub version: (u64, String),
    /// What the gate answered: `None` for a dropped connection.
    pub answered: Option<u16>,
}

#[derive(Debug)]
struct GateState {
    mode: GateMode,
    seen: Vec<IngestSeen>,
}

/// A running gate.
pub struct Gate {
    /// Base URL to give the page as its collector.
    pub url: String,
    state: Arc<Mutex<GateState>>,
    _stop: oneshot::Sender<()>,
}

impl Gate {
    /// Start a gate on a free loopback port in front of `upstream`.
    pub async fn start(upstream: String) -> anyhow::Result<Gate> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(GateState {
            mode: GateMode::Pass,
            seen: Vec::new(),
        }));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        let (state, http, upstream) = (shared.clone(), http.clone(), upstream.clone());
                        tokio::spawn(async move {
                            let _ = serve(socket, &state, &http, &upstream).await;
                        });
                    }
                }
            }
        });
        Ok(Gate {
            url,
            state,
            _stop: stop,
        })
    }

    /// Change what ingest requests get from now on.
    pub fn set(&self, mode: GateMode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Every ingest request seen so far.
    pub fn seen(&self) -> Vec<IngestSeen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Forget the requests seen so far.
    pub fn clear(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    /// Poll until `pred` holds for the requests seen, or time out.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[IngestSeen]) -> bool,
    ) -> anyhow::Result<Vec<IngestSeen>> {
        let start = Instant::now();
        loop {
            let seen = self.seen();
            if pred(&seen) {
                return Ok(seen);
            }
            anyhow::ensure!(
                start.elapsed() < timeout,
                "gate: timed out after {timeout:?} waiting for {what}; seen {seen:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

async fn read_request(socket: &mut TcpStream) -> anyhow::Result<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed before a request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        anyhow::ensure!(buf.len() < 64 * 1024, "request head too large");
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("request head")?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Request {
        method,
        target,
        headers,
        body,
    })
}

async fn serve(
    mut socket: TcpStream,
    state: &Mutex<GateState>,
    http: &reqwest::Client,
    upstream: &str,
) -> anyhow::Result<()> {
    let req = read_request(&mut socket).await?;
    let is_ingest = req.method == "POST" && req.target.starts_with("/v1/ingest");
    let mut decision = GateMode::Pass;
    if is_ingest {
        let mut s = state.lock().unwrap();
        decision = s.mode.clone();
        if let GateMode::Status { times, .. } = &mut s.mode {
            *times = times.saturating_sub(1);
            if *times == 0 {
                s.mode = GateMode::Pass;
            }
        }
    }
    let (status, headers, body) = match &decision {
        GateMode::Down => {
            record(state, &req, None);
            // No answer at all: the browser sees a network error.
            let _ = socket.shutdown().await;
            return Ok(());
        }
        GateMode::Status {
            status,
            retry_after,
            ..
        } => {
            let mut headers = vec![
                (
                    "access-control-allow-origin".to_string(),
                    req.header("origin"),
                ),
                (
                    "access-control-expose-headers".to_string(),
                    "retry-after".to_string(),
                ),
            ];
            if let Some(secs) = retry_after {
                headers.push(("retry-after".to_string(), secs.to_string()));
            }
            (*status, headers, Vec::new())
        }
        GateMode::Pass => {
            let method = reqwest::Method::from_bytes(req.method.as_bytes())?;
            let mut out = http.request(method, format!("{upstream}{}", req.target));
            for (n, v) in &req.headers {
                if !matches!(
                    n.as_str(),
                    "host" | "connection" | "content-length" | "accept-encoding"
                ) {
                    out = out.header(n, v);
                }
            }
            let res = out.body(req.body.clone()).send().await?;
            let status = res.status().as_u16();
            let headers = res
                .headers()
                .iter()
                .filter(|(n, _)| {
                    !matches!(
                        n.as_str(),
                        "connection" | "content-length" | "transfer-encoding"
                    )
                })
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            (status, headers, res.bytes().await?.to_vec())
        }
    };
    if is_ingest {
        record(state, &req, Some(status));
    }
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(&body).await?;
    socket.shutdown().await?;
    Ok(())
}

fn record(state: &Mutex<GateState>, req: &Request, answered: Option<u16>) {
    let batch: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let ids_of = |calls_only: bool| -> Vec<String> {
        batch["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| !calls_only || e["type"] == "call")
                    .filter_map(|e| e["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (ids, calls) = (ids_of(false), ids_of(true));
    state.lock().unwrap().seen.push(IngestSeen {
        at: Instant::now(),
        fetch_mode: req.header("sec-fetch-mode"),
        content_type: req.header("content-type"),
        ids,
        calls,
        dropped: batch["dropped"].as_u64().unwrap_or(0),
        version: (
            batch["v"].as_u64().unwrap_or(0),
            batch["sdk"].as_str().unwrap_or_default().to_string(),
        ),
        answered,
    });
}

//! The npm package in a real bundler: `tests/npm-vite` (a tiny Vite app
//! that imports `steadycart`) is installed with `npm ci` and built with
//! the machine's Node, served from loopback together with a checkout
//! endpoint that fails and an ingest receiver, and driven in headless
//! Chromium:
//! - `init` from the package starts the snippet (wasm loaded from the
//!   Vite-emitted asset);
//! - a failing checkout reaches the app's `trouble` hook and is reported;
//! - `markCheckoutCompleted` suppresses the exit survey — and the same
//!   leave without it shows the survey, so the suppression is what held.
//!
//! Needs the package: `cargo xtask test` builds it (`cargo xtask npm`).

use std::{
    path::PathBuf,
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{bail, Context};
use axum::{
    http::{header, StatusCode},
    response::IntoResponse,
    routing::post,
    Router,
};
use serde_json::{json, Value};
use steadycart_tests::Browser;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;

const T: Duration = Duration::from_secs(10);

fn app_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("npm-vite")
}

fn npm(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(app_dir())
        .status()
        .with_context(|| format!("running npm {args:?} (is Node installed?)"))?;
    if !status.success() {
        bail!("npm {args:?} failed: {status}");
    }
    Ok(())
}

/// `npm ci` + `vite build` into a temp dir; returns it.
fn build_app() -> anyhow::Result<tempfile::TempDir> {
    let package = app_dir().join("../../dist/npm/steadycart/steadycart.js");
    if !package.exists() {
        bail!(
            "no npm package at {}: run the tests with `cargo xtask test` (or `cargo xtask npm` first)",
            package.display()
        );
    }
    npm(&["ci", "--no-audit", "--no-fund"])?;
    let out = tempfile::tempdir()?;
    let vite = app_dir().join("node_modules/vite/bin/vite.js");
    let status = Command::new("node")
        .arg(vite)
        .args(["build", "--emptyOutDir", "--logLevel", "warn", "--outDir"])
        .arg(out.path())
        .current_dir(app_dir())
        .status()
        .context("running vite build")?;
    if !status.success() {
        bail!("vite build failed: {status}");
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vite_app_uses_the_npm_package() -> anyhow::Result<()> {
    let built = tokio::task::spawn_blocking(build_app).await??;
    let wasm_assets = std::fs::read_dir(built.path().join("assets"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wasm"))
        .count();
    assert_eq!(
        wasm_assets, 1,
        "Vite emitted the snippet's wasm as an asset"
    );

    let events: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = events.clone();
    let app = Router::new()
        .route(
            "/api/checkout",
            post(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"down"}"#,
                )
            }),
        )
        .route(
            "/v1/ingest",
            post(move |body: String| {
                let sink = sink.clone();
                async move {
                    let batch: Value = serde_json::from_str(&body).unwrap_or_default();
                    let list = batch["events"].as_array().cloned().unwrap_or_default();
                    let n = list.len();
                    sink.lock().expect("lock").extend(list);
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        format!(r#"{{"accepted":{n},"duplicates":0}}"#),
                    )
                        .into_response()
                }
            }),
        )
        .fallback_service(ServeDir::new(built.path()));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let browser = Browser::start().await?;
    let d = &browser.driver;
    let leave = "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
        {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); return true;";
    let survey_open = "return !!document.querySelector('steadycart-survey')";

    for complete in [true, false] {
        d.goto(&url).await?;
        browser
            .eval("localStorage.clear(); sessionStorage.clear(); return true;")
            .await?;
        d.refresh().await?;
        browser
            .wait_for(
                "init from the npm package",
                T,
                "return window.__ready || window.__initError || false",
            )
            .await?;
        assert_eq!(
            browser.eval("return window.__initError || null").await?,
            Value::Null
        );
        d.find(steadycart_tests::thirtyfour::By::Id("checkout"))
            .await?
            .click()
            .await?;
        let trouble = browser
            .wait_for("the trouble hook", T, "return __hooks[0] || null")
            .await?;
        assert_eq!(trouble["role"], "checkout");
        assert_eq!(trouble["status"], 503);
        if complete {
            browser.eval("orderConfirmed('V-1'); return true;").await?;
        }
        tokio::time::sleep(Duration::from_millis(3300)).await; // minimum dwell
        browser.eval(leave).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            browser.eval(survey_open).await?,
            !complete,
            "survey shown only without markCheckoutCompleted (completed: {complete})"
        );
        assert_eq!(browser.page_errors().await?, json!([]));
    }

    // What reached the receiver.
    let start = std::time::Instant::now();
    loop {
        let seen = events.lock().expect("lock").clone();
        let kinds: Vec<&str> = seen.iter().filter_map(|e| e["type"].as_str()).collect();
        let done = seen
            .iter()
            .any(|e| e["type"] == "checkout_completed" && e["order_id"] == "V-1");
        let failed = seen
            .iter()
            .any(|e| e["type"] == "call" && e["role"] == "checkout" && e["status"] == 503);
        if done && failed && kinds.contains(&"survey_shown") {
            break;
        }
        if start.elapsed() > T {
            bail!("events not all received: {kinds:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser.quit().await;
    server.abort();
    Ok(())
}

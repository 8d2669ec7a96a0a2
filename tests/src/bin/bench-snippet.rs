//! `cargo xtask bench snippet` runs this: the wrappers' per-call overhead in
//! headless Chromium (N sequential fetches and XHRs to a local endpoint,
//! with and without the snippet, watched and ignored URLs), the time until
//! the wrappers are installed, and the gzip bytes shipped (from
//! `dist/snippet/manifest.json`). Rounds alternate with/without so machine
//! noise hits both sides alike; medians are reported.
#![allow(clippy::print_stdout)] // a benchmark report: stdout is its interface

use std::time::Duration;

use steadycart_tests::{lab::Lab, snippet_dir, Browser};

const KEYS: [&str; 4] = ["fetchIgnored", "fetchWatched", "xhrIgnored", "xhrWatched"];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::var("BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;
    let mut without: Vec<serde_json::Value> = Vec::new();
    let mut with: Vec<serde_json::Value> = Vec::new();
    for round in 0..rounds {
        for snippet in [0u8, 2] {
            browser
                .driver
                .goto(&format!("{}/page/bench?snippet={snippet}&n={n}", lab.url))
                .await?;
            let r = browser
                .wait_for(
                    "benchmark",
                    Duration::from_secs(600),
                    "return window.__result",
                )
                .await?;
            anyhow::ensure!(
                snippet == 0 || r["installed"] == true,
                "snippet not installed: {r}"
            );
            println!("round {round} snippet={}: {r}", snippet != 0);
            if snippet == 0 {
                without.push(r);
            } else {
                with.push(r);
            }
        }
    }
    let col = |runs: &[serde_json::Value], key: &str| {
        median(runs.iter().filter_map(|r| r[key].as_f64()).collect())
    };
    println!();
    println!("| {n} sequential calls | without (ms/call) | with (ms/call) | ratio |");
    println!("|---|---|---|---|");
    for key in KEYS {
        let (a, b) = (col(&without, key), col(&with, key));
        println!("| {key} | {a:.3} | {b:.3} | {:.3} |", b / a);
    }
    let install = col(&with, "installAt");
    let loader = col(&with, "loaderStart");
    println!();
    println!(
        "wrappers installed at {install:.1} ms after navigation start, {:.1} ms after the loader's request started",
        install - loader
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(snippet_dir()?.join("manifest.json"))?)?;
    println!(
        "shipped (loader JS + glue + wasm): {} bytes gzip",
        manifest["total_gzip"]
    );
    browser.quit().await;
    lab.stop().await;
    Ok(())
}

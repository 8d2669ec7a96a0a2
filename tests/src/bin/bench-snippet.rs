//! `cargo xtask bench snippet` runs this: the wrappers' per-call overhead in
//! headless Chromium, the time until the wrappers are installed, and the
//! gzip bytes shipped (from `dist/snippet/manifest.json`).
//!
//! Method (trustworthy on a small, shared, noisy machine): one page with the
//! snippet keeps the original fetch/XHR (saved before the snippet loads) and
//! alternates batches of `BENCH_BATCH` sequential calls through the originals
//! and through the wrappers, AB BA AB… (`tests/web/pages/bench.js`). Each
//! pair gives a ratio with/without measured under the same load a moment
//! apart; the report is the median of those ratios over all pairs of all
//! rounds (a fresh page load per round), with its interquartile range.
//! Two more kinds take the network out (`mock*`: a fetch answered at once,
//! see `bench.html`, with a task yield after each call so deferred work is
//! timed too): their difference with − without is the wrappers' own
//! main-thread time per call, in µs, which the network kinds' noise hides;
//! `xhrMockIgnored` does the same for an XHR the snippet ignores (answered
//! from a `blob:` URL, no server).
#![allow(clippy::print_stdout)] // a benchmark report: stdout is its interface

use std::time::Duration;

use steadycart_tests::{lab::Lab, snippet_dir, Browser};

const KEYS: [&str; 7] = [
    "fetchIgnored",
    "fetchWatched",
    "xhrIgnored",
    "xhrWatched",
    "mockIgnored",
    "mockWatched",
    "xhrMockIgnored",
];

/// The `q`-quantile (0..=1) of `v`, nearest rank.
fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// A distribution-free 95 % confidence interval of the median of `v`
/// (order statistics at n/2 ± 0.98·√n).
fn median_ci(mut v: Vec<f64>) -> (f64, f64) {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let half = 0.98 * n.sqrt();
    let lo = ((n / 2.0 - half).floor().max(0.0)) as usize;
    let hi = ((n / 2.0 + half).ceil() as usize).min(v.len() - 1);
    (v[lo], v[hi])
}

fn env_num(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_num("BENCH_N", 2000);
    let rounds = env_num("BENCH_ROUNDS", 3);
    let batch = env_num("BENCH_BATCH", 200);
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;
    let mut runs: Vec<serde_json::Value> = Vec::new();
    for round in 0..rounds {
        browser
            .driver
            .goto(&format!(
                "{}/page/bench?snippet=2&n={n}&batch={batch}",
                lab.url
            ))
            .await?;
        let r = browser
            .wait_for(
                "benchmark",
                Duration::from_secs(900),
                "return window.__result",
            )
            .await?;
        anyhow::ensure!(r["installed"] == true, "snippet not installed: {r}");
        let summary: Vec<String> = KEYS
            .iter()
            .map(|k| {
                let ratios: Vec<f64> = pairs(&r, k).iter().map(|(a, b)| b / a).collect();
                format!("{k} {:.3}", quantile(ratios, 0.5))
            })
            .collect();
        println!(
            "round {round}: median ratio per pair: {}",
            summary.join(", ")
        );
        runs.push(r);
    }
    println!();
    println!(
        "| {n} calls per side, batches of {batch}, {rounds} rounds | without (ms/call) | with (ms/call) | ratio (median of pairs) | 95 % CI of the median | IQR of pair ratios | pairs |"
    );
    println!("|---|---|---|---|---|---|---|");
    for key in KEYS {
        let all: Vec<(f64, f64)> = runs.iter().flat_map(|r| pairs(r, key)).collect();
        let ratios: Vec<f64> = all.iter().map(|(a, b)| b / a).collect();
        let a = quantile(all.iter().map(|p| p.0).collect(), 0.5);
        let b = quantile(all.iter().map(|p| p.1).collect(), 0.5);
        let (lo, hi) = median_ci(ratios.clone());
        println!(
            "| {key} | {a:.3} | {b:.3} | {:.3} | {lo:.3}–{hi:.3} | {:.3}–{:.3} | {} |",
            quantile(ratios.clone(), 0.5),
            quantile(ratios.clone(), 0.25),
            quantile(ratios.clone(), 0.75),
            ratios.len()
        );
    }
    println!();
    println!("added time per call without network (fetch answered at once; XHR from a blob: URL; median of pairs):");
    for key in ["mockIgnored", "mockWatched", "xhrMockIgnored"] {
        let all: Vec<(f64, f64)> = runs.iter().flat_map(|r| pairs(r, key)).collect();
        let added = quantile(all.iter().map(|(a, b)| (b - a) * 1000.0).collect(), 0.5);
        println!("  {key}: {added:.1} µs");
    }
    println!("synchronous wrapper work per call (tight loops of 1,000 calls, no network; median of 20 pairs per load, µs):");
    for key in [
        "syncXhrOpenIgnored",
        "syncXhrOpenWatched",
        "syncFetchIgnored",
    ] {
        let all: Vec<(f64, f64)> = runs.iter().flat_map(|r| pairs(r, key)).collect();
        let without = quantile(all.iter().map(|p| p.0).collect(), 0.5);
        let with = quantile(all.iter().map(|p| p.1).collect(), 0.5);
        let added = quantile(all.iter().map(|(a, b)| b - a).collect(), 0.5);
        println!("  {key}: {without:.2} -> {with:.2} µs per call (+{added:.2})");
    }
    let col = |key: &str| quantile(runs.iter().filter_map(|r| r[key].as_f64()).collect(), 0.5);
    let (install, loader, loaded) = (col("installAt"), col("loaderStart"), col("loaderEnd"));
    println!();
    println!(
        "wrappers installed at {install:.1} ms after navigation start, {:.1} ms after the loader's request started, {:.1} ms after its response ended (median of {rounds} loads)",
        install - loader,
        install - loaded
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(snippet_dir()?.join("manifest.json"))?)?;
    println!(
        "shipped (loader JS + glue + wasm): {} bytes gzip",
        manifest["total_gzip"]
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "machine: {} CPUs, load average {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    browser.quit().await;
    lab.stop().await;
    Ok(())
}

/// The (without, with) ms/call pairs of one run for `key`.
fn pairs(run: &serde_json::Value, key: &str) -> Vec<(f64, f64)> {
    run[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

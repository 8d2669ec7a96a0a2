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

use steadycart_tests::{
    lab::Lab, snippet_dir, thirtyfour::extensions::cdp::ChromeDevTools, Browser,
};

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
    // Only some kinds (comma-separated: keys of `KEYS` or the `sync…` ones),
    // e.g. for profiling.
    let kinds = std::env::var("BENCH_KINDS").unwrap_or_default();
    // `with` or `without`: every batch takes that side (profiling one side).
    let side = std::env::var("BENCH_SIDE").unwrap_or_default();
    // Write a CPU profile of each round there (Chromium's `.cpuprofile`,
    // which DevTools opens) and print where the main thread's time went.
    let profile = std::env::var_os("BENCH_PROFILE").map(std::path::PathBuf::from);
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;
    let devtools = ChromeDevTools::new(browser.driver.handle.clone());
    if profile.is_some() {
        devtools.execute_cdp("Profiler.enable").await?;
        devtools
            .execute_cdp_with_params(
                "Profiler.setSamplingInterval",
                serde_json::json!({ "interval": 50 }),
            )
            .await?;
    }
    let mut runs: Vec<serde_json::Value> = Vec::new();
    for round in 0..rounds {
        browser
            .driver
            .goto(&format!(
                "{}/page/bench?snippet=2&n={n}&batch={batch}&kinds={kinds}&side={side}",
                lab.url
            ))
            .await?;
        if profile.is_some() {
            devtools.execute_cdp("Profiler.start").await?;
        }
        let r = browser
            .wait_for(
                "benchmark",
                Duration::from_secs(900),
                "return window.__result",
            )
            .await?;
        if let Some(dir) = &profile {
            let stopped = devtools.execute_cdp("Profiler.stop").await?;
            std::fs::create_dir_all(dir)?;
            let file = dir.join(format!("bench-round{round}.cpuprofile"));
            std::fs::write(&file, serde_json::to_vec(&stopped["profile"])?)?;
            println!("round {round}: profile in {}", file.display());
            print_profile(&stopped["profile"]);
        }
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
        "syncXhrOpenOtherOrigin",
        "syncXhrWatched",
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

/// Self time per function of a CPU profile (the 25 largest) and per script,
/// in ms, from its samples.
fn print_profile(profile: &serde_json::Value) {
    use std::collections::HashMap;
    let empty = Vec::new();
    let nodes = profile["nodes"].as_array().unwrap_or(&empty);
    let frame: HashMap<u64, String> = nodes
        .iter()
        .filter_map(|n| {
            let f = &n["callFrame"];
            let url = f["url"].as_str().unwrap_or("");
            let file = url.rsplit('/').next().unwrap_or(url);
            let name = f["functionName"].as_str().unwrap_or("");
            Some((
                n["id"].as_u64()?,
                format!(
                    "{name} {file}:{}",
                    f["lineNumber"].as_i64().unwrap_or(-1) + 1
                ),
            ))
        })
        .collect();
    let samples = profile["samples"].as_array().unwrap_or(&empty);
    let deltas = profile["timeDeltas"].as_array().unwrap_or(&empty);
    let mut by_fn: HashMap<&str, f64> = HashMap::new();
    let mut by_file: HashMap<String, f64> = HashMap::new();
    for (i, id) in samples.iter().enumerate() {
        // A sample lasts until the next one.
        let ms = deltas.get(i + 1).and_then(|d| d.as_f64()).unwrap_or(0.0) / 1000.0;
        let Some(name) = id.as_u64().and_then(|id| frame.get(&id)) else {
            continue;
        };
        *by_fn.entry(name.as_str()).or_default() += ms;
        let file = name.split_once(' ').map_or("", |(_, f)| f);
        let file = file.rsplit_once(':').map_or(file, |(f, _)| f);
        *by_file.entry(file.to_string()).or_default() += ms;
    }
    let mut fns: Vec<_> = by_fn.into_iter().collect();
    fns.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, ms) in fns.iter().take(25) {
        println!("  {ms:9.1} ms  {name}");
    }
    let mut files: Vec<_> = by_file.into_iter().collect();
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("  per script:");
    for (file, ms) in files.iter().take(12) {
        println!("  {ms:9.1} ms  {file}");
    }
}

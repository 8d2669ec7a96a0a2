//! `cargo xtask bench ingest`: the collector's ingest throughput, latency and
//! memory, measured over loopback with the load generator in its own process
//! (`loadgen`, batches of 20 events), on SQLite and on PostgreSQL.
//!
//! For each backend: a release collector on a fresh database (signals engine
//! off, rate limits off: one load process plays every shopper), then
//! 1. *sustained*: as many batches as the collector answers, `--secs`;
//! 2. *1,000 batches/s*: a fixed open-loop rate, for latency at that load;
//! 3. *10× overload*: ten times the sustained rate, open loop (arrivals keep
//!    coming whatever the answers take, like shoppers; up to
//!    [`OVERLOAD_IN_FLIGHT`] at once, more than the writer queue holds), for
//!    memory and the refusals: the queue fills and ingest answers 503 with
//!    `Retry-After` instead of growing.
//!
//! Peak RSS is the collector's `VmHWM` (Linux). The machine's load average is
//! printed beside the figures: on a shared machine they move with it. Figures
//! go to BENCHMARKS.md by hand; the JSON is written to
//! `target/bench-ingest.json`. With `STEADYCART_BENCH_BIN_DIR=DIR` it runs the
//! `collector` and `loadgen` in DIR instead of building them, for A/B runs of
//! two saved builds back to back.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// Options of the ingest benchmark.
#[derive(Debug, Clone)]
pub struct IngestBench {
    /// Seconds per phase.
    pub secs: u64,
    /// Backends to run (`sqlite`, `postgres`).
    pub backends: Vec<String>,
    /// PostgreSQL server (a database is created and dropped per run).
    pub pg_url: String,
}

/// Most overload requests in flight at once: 2× the default writer queue
/// (1,024 batches), so the queue can fill and the excess is refused. (4,096
/// connections alone took the collector's RSS to 154 MB at load 9.)
const OVERLOAD_IN_FLIGHT: u32 = 2048;

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn psql(pg_url: &str, sql: &str) -> anyhow::Result<()> {
    crate::tools::run(Command::new("psql").args([pg_url, "-q", "-c", sql]))
}

fn loadgen(bin: &Path, port: u16, key: &str, args: &[&str]) -> anyhow::Result<Value> {
    let out = Command::new(bin.join("loadgen"))
        .args(["--url", &format!("http://127.0.0.1:{port}"), "--key", key])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("running loadgen")?;
    if !out.status.success() {
        bail!("loadgen failed: {}", out.status);
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn one_backend(
    bench: &IngestBench,
    bin: &Path,
    backend: &str,
    scratch: &Path,
) -> anyhow::Result<Value> {
    let (url, pg_db) = match backend {
        "sqlite" => (format!("sqlite://{}/bench.db", scratch.display()), None),
        "postgres" => {
            let name = format!("sc_bench_{}", std::process::id());
            psql(&bench.pg_url, &format!("DROP DATABASE IF EXISTS {name}"))?;
            psql(&bench.pg_url, &format!("CREATE DATABASE {name}"))?;
            let base = bench.pg_url.rsplit_once('/').context("pg url")?.0;
            (format!("{base}/{name}"), Some(name))
        }
        other => bail!("unknown backend {other}"),
    };
    let site = Command::new(bin.join("collector"))
        .args([
            "site",
            "add",
            "--name",
            "bench",
            "--origin",
            "https://bench.example",
        ])
        .args(["--database-url", &url])
        .output()?;
    if !site.status.success() {
        bail!("site add: {}", String::from_utf8_lossy(&site.stderr));
    }
    let site: Value = serde_json::from_slice(&site.stdout)?;
    let key = site["site_key"].as_str().context("site_key")?.to_string();
    let port = free_port()?;
    let collector = Collector(
        Command::new(bin.join("collector"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &url, "--signals-disabled"])
            .env("STEADYCART_INGEST_IP_RATE_PER_SEC", "0")
            .env("STEADYCART_INGEST_SITE_RATE_PER_SEC", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .context("starting the collector")?,
    );
    let pid = collector.0.id();
    let started = Instant::now();
    while http_status(port, "/readyz") != Some(200) {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("collector not ready");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = (bench.secs * 1000).to_string();
    let rss_idle = peak_rss_mb(pid);
    println!("[{backend}] sustained, {}s …", bench.secs);
    let sustained = loadgen(
        bin,
        port,
        &key,
        &["--concurrency", "32", "--duration-ms", &secs, "--seed", "1"],
    )?;
    let rss_sustained = peak_rss_mb(pid);
    println!("[{backend}] 1,000 batches/s, {}s …", bench.secs);
    let fixed = loadgen(
        bin,
        port,
        &key,
        &[
            "--concurrency",
            "64",
            "--rate",
            "1000",
            "--duration-ms",
            &secs,
            "--seed",
            "2",
        ],
    )?;
    let rss_fixed = peak_rss_mb(pid);
    let overload_rate = (sustained["batches_ok_per_s"].as_f64().unwrap_or(100.0) * 10.0)
        .max(1000.0)
        .round();
    println!(
        "[{backend}] 10× overload ({overload_rate} batches/s offered), {}s …",
        bench.secs
    );
    let overload = loadgen(
        bin,
        port,
        &key,
        &[
            "--open-loop",
            "--concurrency",
            &OVERLOAD_IN_FLIGHT.to_string(),
            "--rate",
            &overload_rate.to_string(),
            "--duration-ms",
            &secs,
            "--seed",
            "3",
        ],
    )?;
    let rss_overload = peak_rss_mb(pid);
    let still_ready = http_status(port, "/readyz");
    drop(collector);
    if let Some(name) = pg_db {
        psql(
            &bench.pg_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )?;
    }
    Ok(json!({
        "backend": backend,
        "sustained": sustained,
        "at_1000_batches_per_s": fixed,
        "overload": overload,
        "overload_offered_batches_per_s": overload_rate,
        "peak_rss_mb": {
            "idle": rss_idle,
            "after_sustained": rss_sustained,
            "after_1000_per_s": rss_fixed,
            "after_overload": rss_overload,
        },
        "ready_after_overload": still_ready,
    }))
}

/// Build, run every backend, print and save the figures.
pub fn run(bench: IngestBench) -> anyhow::Result<()> {
    // `STEADYCART_BENCH_BIN_DIR`: run saved `collector` and `loadgen`
    // binaries instead of building (A/B runs of two builds back to back).
    let bin: PathBuf = match std::env::var_os("STEADYCART_BENCH_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            crate::tools::run(
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .args(["build", "--release", "-p", "steadycart-collector", "--bins"])
                    .current_dir(crate::root()),
            )?;
            crate::target_dir().join("release")
        }
    };
    let scratch = std::env::temp_dir().join(format!("sc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let load_before = load_average();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut results = Vec::new();
    for backend in &bench.backends {
        let r = one_backend(&bench, &bin, backend, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)?;
        results.push(r?);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let report = json!({
        "cpus": cpus,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "secs_per_phase": bench.secs,
        "batch_events": 20,
        "results": results,
    });
    let out = crate::target_dir().join("bench-ingest.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    #[allow(clippy::print_stdout)] // the benchmark's output
    {
        println!(
            "\nIngest benchmark ({cpus} CPUs, load average {} → {}), batches of 20 events:",
            report["load_average_before"].as_str().unwrap_or(""),
            report["load_average_after"].as_str().unwrap_or("")
        );
        println!(
            "{:<9} {:>12} {:>9} {:>9} | {:>14} {:>9} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "backend",
            "events/s",
            "p50 ms",
            "p99 ms",
            "1k/s ok b/s",
            "p50 ms",
            "p99 ms",
            "overload",
            "sent b/s",
            "200s",
            "503s",
            "503+R-A",
            "RSS MB"
        );
        for r in &results {
            let s = &r["sustained"];
            let f = &r["at_1000_batches_per_s"];
            let o = &r["overload"];
            println!(
                "{:<9} {:>12.0} {:>9.1} {:>9.1} | {:>14.0} {:>9.1} {:>9.1} | {:>10} {:>9.0} {:>9} {:>9} {:>9} {:>4.0}/{:>4.0}",
                r["backend"].as_str().unwrap_or(""),
                s["events_per_s"].as_f64().unwrap_or(0.0),
                s["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
                s["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
                f["batches_ok_per_s"].as_f64().unwrap_or(0.0),
                f["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
                f["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
                r["overload_offered_batches_per_s"],
                o["sent_per_s"].as_f64().unwrap_or(0.0),
                o["status"]["200"].as_u64().unwrap_or(0),
                o["status"]["503"].as_u64().unwrap_or(0),
                o["retry_after"]["503"].as_u64().unwrap_or(0),
                r["peak_rss_mb"]["after_1000_per_s"].as_f64().unwrap_or(0.0),
                r["peak_rss_mb"]["after_overload"].as_f64().unwrap_or(0.0),
            );
        }
        println!(
            "(overload: offered b/s, sent b/s (arrivals beyond {OVERLOAD_IN_FLIGHT} in flight are skipped), \
             answers; 503+R-A = 503s carrying Retry-After. RSS: peak during the first two phases / \
             peak including overload)"
        );
        println!("JSON: {}", out.display());
    }
    Ok(())
}

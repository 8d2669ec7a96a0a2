//! `cargo xtask bench snippet`: builds the snippet, then measures in
//! headless Chromium the wrappers' per-call overhead (2,000 sequential
//! fetches and XHRs with vs without the snippet, in alternating batches in
//! one page: see `tests/src/bin/bench-snippet.rs`), the time to installed
//! wrappers and the gzip bytes shipped. Not part of `cargo xtask test`:
//! timings belong to benchmarks. Figures are recorded in BENCHMARKS.md.

use std::process::Command;

use clap::{Args, ValueEnum};

use crate::{dist, tools};

/// What to benchmark.
#[derive(ValueEnum, Clone, Debug)]
pub enum Target {
    /// The snippet's fetch/XHR wrappers.
    Snippet,
    /// The collector's ingest path (SQLite and PostgreSQL); see
    /// [`crate::bench_ingest`].
    Ingest,
}

/// Options of `cargo xtask bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to benchmark.
    target: Target,
    /// Sequential calls per measurement.
    #[arg(long, default_value_t = 2000)]
    n: u32,
    /// Page loads; each alternates with/without batches (the median of
    /// the per-pair ratios over all rounds is reported).
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Ingest: seconds per phase.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Ingest: backends to run.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Ingest: PostgreSQL server (a scratch database is created on it).
    #[arg(
        long,
        env = "STEADYCART_TEST_PG",
        default_value = "postgres://root@127.0.0.1:5432/test"
    )]
    pg_url: String,
    /// Calls per batch (one side of a with/without pair). Smaller batches
    /// give more pairs per round (100: 20 pairs a kind, 100 over 5 rounds),
    /// so the median of the pair ratios moves less with a noisy neighbour.
    #[arg(long, default_value_t = 100)]
    batch: u32,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.target {
        Target::Snippet => snippet(&args),
        Target::Ingest => crate::bench_ingest::run(crate::bench_ingest::IngestBench {
            secs: args.secs,
            backends: args.backends,
            pg_url: args.pg_url,
        }),
    }
}

fn snippet(args: &BenchArgs) -> anyhow::Result<()> {
    let (chromium, chromedriver) = tools::chromium()?;
    dist::run()?;
    let root = crate::root();
    tools::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(root.join("tests/web")),
    )?;
    // The timings are taken in the browser, so a debug build of the
    // harness measures the same thing and spares a release build.
    tools::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "run",
                "--quiet",
                "-p",
                "steadycart-tests",
                "--bin",
                "bench-snippet",
            ])
            .env("BENCH_N", args.n.to_string())
            .env("BENCH_ROUNDS", args.rounds.to_string())
            .env("BENCH_BATCH", args.batch.to_string())
            .env("STEADYCART_SNIPPET_DIR", dist::out_dir())
            .env("STEADYCART_CHROMIUM", chromium)
            .env("STEADYCART_CHROMEDRIVER", chromedriver)
            .current_dir(&root),
    )
}

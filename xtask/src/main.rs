//! `cargo xtask …`: build, run and test Steadycart with one command each.
//!
//! # Layout
//! - [`tools`]: finds or installs what the tasks need (wasm target,
//!   wasm-bindgen-cli, wasm-opt, Chromium, chromedriver).
//! - [`dist`]: builds the snippet into `dist/snippet/`.
//! - [`demo`]: runs the collector on embedded SQLite and the demo store.
//! - [`test`]: runs every test, native and in headless Chromium.
//! - [`bench`]: benchmarks (`cargo xtask bench snippet`).
//! - [`bench_ingest`]: `cargo xtask bench ingest` (collector throughput, latency, RSS).
//! - [`fuzz`]: bounded cargo-fuzz runs of the parser targets in `fuzz/`.
//! - [`drill`]: the crisis drill (outage, synthetic shoppers, timeline).
//! - [`npm`]: the npm package (wasm-pack, offline) in `dist/npm/`.
//! - [`docs`]: the configuration reference and TypeScript config type, from the protocol crate.
#![allow(clippy::print_stdout)] // a command-line tool: stdout is its interface

mod bench;
mod bench_ingest;
mod demo;
mod dist;
mod docs;
mod drill;
mod fuzz;
mod minify;
mod npm;
mod test;
mod tools;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "Steadycart developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the snippet into dist/snippet/ (loader + wasm, gzip/brotli copies, SRI hashes).
    Dist,
    /// Build, start the collector (embedded SQLite) and the demo store, print the URL.
    Demo(demo::DemoArgs),
    /// Run every test: native unit/integration tests and headless-Chromium tests.
    Test(test::TestArgs),
    /// Benchmarks: `snippet` (wrapper overhead, install time, bytes shipped),
    /// `ingest` (collector events/s, latency, peak RSS on SQLite and PostgreSQL).
    Bench(bench::BenchArgs),
    /// Fuzz the parsers (ingest, rules, tag config, collector config) for a bounded time each.
    Fuzz(fuzz::FuzzArgs),
    /// Crisis drill: break the demo store on schedule under synthetic shoppers, print the timeline.
    Drill(drill::DrillArgs),
    /// Build the npm package into dist/npm/steadycart (wasm-pack --target web and bundler, offline).
    Npm,
    /// Write docs/config-reference.md and client-wasm/js/config.d.ts from the protocol crate (--check: fail if stale).
    Docs(docs::DocsArgs),
}

/// The workspace root. Read at run time (`cargo run` sets
/// CARGO_MANIFEST_DIR), not baked in at compile time: clones sharing one
/// CARGO_TARGET_DIR may run a binary built from another checkout.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(PathBuf::from))
        .or_else(|| std::env::current_dir().ok())
        .expect("run through `cargo xtask` from the workspace")
}

/// Cargo's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Dist => dist::run().map(|_| ()),
        Command::Demo(args) => demo::run(args),
        Command::Test(args) => test::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Drill(args) => drill::run(args),
        Command::Docs(args) => docs::run(args),
        Command::Npm => npm::run().map(|_| ()),
    }
}

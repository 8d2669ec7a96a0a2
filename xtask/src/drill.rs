//! `cargo xtask drill [--scenario checkout-outage|price-lag|payment-timeouts]
//! [--speed N] [--shoppers N] [--seed N] [--json PATH] [--screenshots DIR]`:
//! build the snippet, make sure Chromium and chromedriver are there, then run
//! the drill binary of `steadycart-tests` (collector with second-scale
//! buckets, demo store, local alert receivers, synthetic shoppers, a
//! scheduled outage) and print its timeline. PostgreSQL when `DATABASE_URL`
//! is set, SQLite otherwise.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use clap::Args;

use crate::{dist, tools};

/// Options of `cargo xtask drill` (passed on to the drill binary).
#[derive(Args, Debug)]
pub struct DrillArgs {
    /// checkout-outage | price-lag | payment-timeouts
    #[arg(long, default_value = "checkout-outage")]
    scenario: String,
    /// Speed factor: 1 = twenty-second buckets (about five minutes), 2 = twice
    /// as fast; 0.25 to 4.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Concurrent headless browsers (each a Chromium process).
    #[arg(long, default_value_t = 4)]
    shoppers: usize,
    /// Seed of the shoppers' choices.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write the timeline as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long, default_value = "artifacts/drill-report.html")]
    report: PathBuf,
    /// Save screenshots of the report and the incident view here.
    #[arg(long)]
    screenshots: Option<PathBuf>,
}

pub fn run(args: DrillArgs) -> anyhow::Result<()> {
    let (chromium, chromedriver) = tools::chromium()?;
    dist::run()?;
    let root = crate::root();
    std::fs::create_dir_all(root.join("artifacts"))?;
    tools::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "run",
                "--quiet",
                "-p",
                "steadycart-tests",
                "--bin",
                "drill",
                "--",
            ])
            .args(["--scenario", &args.scenario])
            .args(["--speed", &args.speed.to_string()])
            .args(["--shoppers", &args.shoppers.to_string()])
            .args(["--seed", &args.seed.to_string()])
            .arg("--report")
            .arg(absolute(&args.report))
            .args(
                args.json
                    .iter()
                    .flat_map(|j| [OsString::from("--json"), absolute(j).into()]),
            )
            .args(
                args.screenshots
                    .iter()
                    .flat_map(|s| [OsString::from("--screenshots"), absolute(s).into()]),
            )
            .env("STEADYCART_SNIPPET_DIR", dist::out_dir())
            .env("STEADYCART_CHROMIUM", chromium)
            .env("STEADYCART_CHROMEDRIVER", chromedriver)
            .env("STEADYCART_ARTIFACTS", root.join("artifacts"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .current_dir(&root),
    )
}

/// Paths are relative to where the command was typed.
fn absolute(p: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|d| d.join(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

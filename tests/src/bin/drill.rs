//! `drill`: run a crisis drill against a local collector and demo store
//! with synthetic shoppers in headless Chromium, print its timeline, and
//! write the JSON and HTML report. Run it through `cargo xtask drill`, which
//! builds the snippet and finds Chromium first.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::path::PathBuf;

use clap::Parser;
use steadycart_tests::drill::{self, DrillOptions, Scenario};

#[derive(Parser, Debug)]
#[command(name = "drill", about = "Steadycart crisis drill")]
struct Cli {
    /// checkout-outage | price-lag | payment-timeouts
    #[arg(long, default_value = "checkout-outage")]
    scenario: Scenario,
    /// Speed factor: 1 = twenty-second buckets (about five minutes in all),
    /// 2 = twice as fast. 0.25 to 4.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Concurrent headless browsers.
    #[arg(long, default_value_t = 4)]
    shoppers: usize,
    /// Seed of the shoppers' choices (same seed, same choices).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write the timeline as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long, default_value = "artifacts/drill-report.html")]
    report: PathBuf,
    /// Save screenshots of the report and the incident view in this directory.
    #[arg(long)]
    screenshots: Option<PathBuf>,
    /// PostgreSQL URL; SQLite in a temporary directory when unset.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        drill::scenario::SPEEDS.contains(&cli.speed),
        "--speed must be between 0.25 and 4"
    );
    anyhow::ensure!(
        (1..=8).contains(&cli.shoppers),
        "--shoppers must be between 1 and 8"
    );
    if let Some(dir) = cli.report.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let outcome = drill::run(&DrillOptions {
        scenario: cli.scenario,
        speed: cli.speed,
        shoppers: cli.shoppers,
        seed: cli.seed,
        database_url: cli.database_url.filter(|u| !u.is_empty()),
        json: cli.json.clone(),
        report: Some(cli.report.clone()),
        screenshots: cli.screenshots,
        progress: true,
    })
    .await?;
    println!();
    print!("{}", outcome.timeline.render_text());
    let (pd, slack, hook) = outcome.deliveries;
    println!("  receivers: PagerDuty {pd} · Slack {slack} · webhook {hook} requests");
    println!();
    println!("  report: {}", cli.report.display());
    if let Some(json) = &cli.json {
        println!("  JSON:   {}", json.display());
    }
    for s in &outcome.screenshots {
        println!("  screenshot: {}", s.display());
    }
    Ok(())
}

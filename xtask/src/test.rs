//! `cargo xtask test`: every test in one command. Makes sure Chromium,
//! chromedriver and the snippet build tools are there, builds the optimised
//! snippet and the npm package (the browser tests run the exact files
//! shops get), then runs
//! `cargo test --workspace` — native unit and integration tests (SQLite and
//! PostgreSQL) and the headless-Chromium end-to-end tests in `tests/`.

use std::process::Command;

use clap::Args;

use crate::{dist, npm, tools};

/// Options of `cargo xtask test`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// Extra arguments for `cargo test` (e.g. a test name filter).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let (chromium, chromedriver) = tools::chromium()?;
    let axe = tools::axe_core()?;
    dist::run()?;
    // The npm package, for the Vite app test (tests/npm-vite).
    npm::run()?;
    let root = crate::root();
    // The transparency suite's pages use real npm libraries (tests/web).
    tools::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(root.join("tests/web")),
    )?;
    let artifacts = root.join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    tools::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            // Every test binary runs even after a failure, so one CI run
            // reports every failing test.
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(&args.rest)
            .env("STEADYCART_SNIPPET_DIR", dist::out_dir())
            .env("STEADYCART_CHROMIUM", chromium)
            .env("STEADYCART_CHROMEDRIVER", chromedriver)
            .env("STEADYCART_AXE", axe)
            .env("STEADYCART_ARTIFACTS", artifacts)
            .current_dir(&root),
    )?;
    println!("xtask: all tests passed");
    Ok(())
}

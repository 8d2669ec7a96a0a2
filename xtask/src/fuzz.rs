//! `cargo xtask fuzz [--secs N] [--sanitizer S] [TARGET…]`: runs each
//! cargo-fuzz target in `fuzz/` (ingest payloads, endpoint rules, the
//! snippet's tag configuration, the collector's TOML/environment
//! configuration) for a bounded time, seeded from the corpus committed in
//! `fuzz/corpus/<target>/`. New inputs go to a scratch corpus under the
//! target directory, so a run never changes the repository; a crash fails
//! the task and leaves its input in `fuzz/artifacts/<target>/`.
//!
//! cargo-fuzz needs unstable compiler flags (`-Z sanitizer`, sancov passes).
//! No nightly is needed: the pinned toolchain runs them with
//! `RUSTC_BOOTSTRAP=1` (set here, for the fuzz build only — it never touches
//! the workspace's own builds). Needs `cargo install cargo-fuzz`; says so
//! and fails when it is missing. The instrumented build lives in
//! `<target dir>/fuzz`, so reruns reuse it. `.ci/run` runs
//! `cargo xtask fuzz --secs 20 --sanitizer none` after the tests.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context};
use clap::Args;

/// Every fuzz target.
const TARGETS: [&str; 4] = ["ingest", "rules", "tag_config", "collector_config"];

/// Options of `cargo xtask fuzz`.
#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 30)]
    secs: u32,
    /// Sanitizer for the build: `address` (default: AddressSanitizer, for
    /// memory errors in dependencies' unsafe code; about 2× slower) or
    /// `none` (panics, aborts and timeouts only; fastest).
    #[arg(long, default_value = "address")]
    sanitizer: String,
    /// Targets to run (default: all).
    targets: Vec<String>,
}

fn have(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// `cargo fuzz` in `fuzz/` with the pinned toolchain allowed unstable flags
/// and a target dir of its own (instrumented builds share nothing).
fn cargo_fuzz() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(crate::root().join("fuzz"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", crate::target_dir().join("fuzz"))
        .arg("fuzz");
    cmd
}

pub fn run(args: FuzzArgs) -> anyhow::Result<()> {
    if !have(Command::new("cargo").args(["fuzz", "--version"])) {
        bail!("cargo-fuzz is not installed: `cargo install cargo-fuzz --locked`");
    }
    if !matches!(args.sanitizer.as_str(), "address" | "none") {
        bail!("--sanitizer must be address or none");
    }
    let targets: Vec<String> = if args.targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        args.targets
    };
    for t in &targets {
        if !TARGETS.contains(&t.as_str()) {
            bail!("unknown fuzz target {t:?}; targets: {TARGETS:?}");
        }
    }
    let root = crate::root();
    let build = Instant::now();
    let status = cargo_fuzz()
        .args(["build", "-s", &args.sanitizer])
        .status()
        .context("running cargo fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build failed");
    }
    println!("fuzz: build {:.0} s", build.elapsed().as_secs_f64());
    let scratch_root = crate::target_dir().join("fuzz").join("corpus");
    let mut summary = Vec::new();
    for t in &targets {
        let scratch = scratch_root.join(t);
        std::fs::create_dir_all(&scratch)?;
        println!("fuzz {t}: {} s", args.secs);
        let mut child = cargo_fuzz()
            .args(["run", "-s", &args.sanitizer, t])
            .arg(&scratch)
            .arg(root.join("fuzz/corpus").join(t))
            .args([
                "--",
                &format!("-max_total_time={}", args.secs),
                "-max_len=8192",
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running cargo fuzz {t}"))?;
        // libFuzzer reports on stderr; keep the start, the end and the stats.
        let mut lines = Vec::new();
        if let Some(err) = child.stderr.take() {
            for line in BufReader::new(err).lines() {
                let line = line?;
                if lines.len() < 4 || line.starts_with("stat::") || line.contains("Done ") {
                    eprintln!("{line}");
                }
                lines.push(line);
            }
        }
        let status = child.wait()?;
        if !status.success() {
            for line in lines.iter().rev().take(60).rev() {
                eprintln!("{line}");
            }
            bail!("fuzz target {t} failed (input saved under fuzz/artifacts/{t}/)");
        }
        let stat = |name: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| "?".into())
        };
        summary.push(format!(
            "{t}: {} execs in {} s ({} exec/s), corpus {} (new units {})",
            stat("number_of_executed_units"),
            args.secs,
            stat("average_exec_per_sec"),
            std::fs::read_dir(&scratch).map(|d| d.count()).unwrap_or(0),
            stat("new_units_added"),
        ));
    }
    for s in &summary {
        println!("fuzz: {s}");
    }
    println!(
        "fuzz: {} target(s), no crash; {:.0} s in all (build included)",
        targets.len(),
        build.elapsed().as_secs_f64()
    );
    Ok(())
}

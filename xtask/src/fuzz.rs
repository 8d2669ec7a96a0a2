//! `cargo xtask fuzz [--secs N] [TARGET…]`: runs each cargo-fuzz target in
//! `fuzz/` (ingest payloads, endpoint rules, tag configuration) for a bounded
//! time, seeded from the corpus committed in `fuzz/corpus/<target>/`. New
//! inputs go to a scratch corpus under the target directory, so a run never
//! changes the repository; a crash fails the task and leaves its input in
//! `fuzz/artifacts/<target>/`. Needs a nightly toolchain and cargo-fuzz
//! (`cargo install cargo-fuzz`); says so and fails when either is missing.

use std::process::Command;

use anyhow::{bail, Context};
use clap::Args;

/// Every fuzz target.
const TARGETS: [&str; 3] = ["ingest", "rules", "tag_config"];

/// Options of `cargo xtask fuzz`.
#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 30)]
    secs: u32,
    /// Targets to run (default: all).
    targets: Vec<String>,
}

fn have(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

pub fn run(args: FuzzArgs) -> anyhow::Result<()> {
    if !have(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        bail!("cargo fuzz needs a nightly toolchain: `rustup toolchain install nightly`");
    }
    if !have(Command::new("cargo").args(["+nightly", "fuzz", "--version"])) {
        bail!("cargo-fuzz is not installed: `cargo install cargo-fuzz`");
    }
    let targets: Vec<String> = if args.targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        args.targets
    };
    let root = crate::root();
    // A target dir of its own: sanitizer builds share nothing with the rest.
    let target_dir = crate::target_dir().join("fuzz");
    for t in &targets {
        if !TARGETS.contains(&t.as_str()) {
            bail!("unknown fuzz target {t:?}; targets: {TARGETS:?}");
        }
        let scratch = target_dir.join("corpus").join(t);
        std::fs::create_dir_all(&scratch)?;
        println!("fuzz {t}: {} s", args.secs);
        let status = Command::new("cargo")
            .current_dir(root.join("fuzz"))
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["+nightly", "fuzz", "run", t])
            .arg(&scratch)
            .arg(root.join("fuzz/corpus").join(t))
            .args([
                "--",
                &format!("-max_total_time={}", args.secs),
                "-max_len=8192",
            ])
            .status()
            .with_context(|| format!("running cargo fuzz {t}"))?;
        if !status.success() {
            bail!("fuzz target {t} failed (input saved under fuzz/artifacts/{t}/)");
        }
    }
    println!("fuzz: {} target(s), no crash", targets.len());
    Ok(())
}

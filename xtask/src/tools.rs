//! Finding, and where allowed installing, the external tools the tasks need.
//! Nothing here downloads binaries from outside the package registries:
//! wasm-bindgen-cli comes from crates.io, wasm-opt from npm's `binaryen`
//! (and esbuild and axe-core from npm),
//! Chromium from Debian.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

/// Must equal the `wasm-bindgen` pin in the workspace Cargo.toml.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// binaryen 132: Debian's wasm-opt 108 produces wasm that Chromium rejects.
pub const BINARYEN_VERSION: &str = "132.0.0";
/// esbuild, the minifier of the snippet's JavaScript (npm `esbuild`).
pub const ESBUILD_VERSION: &str = "0.28.2";

/// Run a command, failing with its name if it fails.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Where xtask keeps tools it installs itself (outside the clone).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("STEADYCART_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/steadycart")
        })
}

/// Make sure the wasm32 target is installed (rustup does not auto-install
/// here: RUSTUP_AUTO_INSTALL=0).
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = output_of(Command::new("rustup").args(["target", "list", "--installed"]))
        .unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        println!("xtask: installing the wasm32-unknown-unknown target");
        run(Command::new("rustup")
            .args(["target", "add", "wasm32-unknown-unknown"])
            .current_dir(crate::root()))?;
    }
    Ok(())
}

/// The standard library's sources (`rust-src`) for the pinned toolchain:
/// the snippet rebuilds `std` with `panic=immediate-abort` (no panic
/// messages or formatting machinery in the wasm).
pub fn ensure_rust_src() -> anyhow::Result<()> {
    let installed = output_of(Command::new("rustup").args(["component", "list", "--installed"]))
        .unwrap_or_default();
    if !installed.lines().any(|l| l.trim().starts_with("rust-src")) {
        println!("xtask: installing the rust-src component (the snippet rebuilds std)");
        run(Command::new("rustup")
            .args(["component", "add", "rust-src"])
            .current_dir(crate::root()))?;
    }
    Ok(())
}

/// The `wasm-bindgen` CLI of exactly [`WASM_BINDGEN_VERSION`], installed
/// from crates.io if missing.
pub fn wasm_bindgen() -> anyhow::Result<PathBuf> {
    let want = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    let have = output_of(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have != want {
        println!("xtask: installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} from crates.io (about 2 minutes, once)");
        // No --locked: its lock file names a dependency version the registry lacks.
        run(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
        ]))?;
    }
    Ok(PathBuf::from("wasm-bindgen"))
}

/// wasm-pack's pinned version (crates.io).
pub const WASM_PACK_VERSION: &str = "0.15.0";

/// Cargo's bin directory (`$CARGO_HOME/bin`), where `cargo install` puts
/// wasm-bindgen and wasm-pack.
pub fn cargo_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo")
        })
        .join("bin")
}

/// `wasm-pack` of [`WASM_PACK_VERSION`], installed from crates.io if
/// missing (it is only driven in `--mode no-install`: it downloads nothing).
pub fn wasm_pack() -> anyhow::Result<PathBuf> {
    let bin = cargo_bin_dir().join("wasm-pack");
    let have = output_of(Command::new(&bin).arg("--version")).unwrap_or_default();
    if have != format!("wasm-pack {WASM_PACK_VERSION}") {
        println!(
            "xtask: installing wasm-pack {WASM_PACK_VERSION} from crates.io (a few minutes, once)"
        );
        run(Command::new("cargo").args([
            "install",
            "wasm-pack",
            "--locked",
            "--version",
            WASM_PACK_VERSION,
        ]))?;
    }
    Ok(bin)
}

/// `wasm-opt` from npm's `binaryen` package, installed into the tools dir.
pub fn wasm_opt() -> anyhow::Result<PathBuf> {
    let prefix = tools_dir().join("node");
    let bin = prefix.join("node_modules/.bin/wasm-opt");
    let version_ok =
        output_of(Command::new(&bin).arg("--version")).is_some_and(|v| v.contains("version 132"));
    if !version_ok {
        println!(
            "xtask: installing wasm-opt (npm binaryen@{BINARYEN_VERSION}) into {}",
            prefix.display()
        );
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_VERSION}")))?;
    }
    Ok(bin)
}

/// `esbuild` from npm, installed into the tools dir (its own prefix, so it
/// never disturbs the wasm-opt install).
pub fn esbuild() -> anyhow::Result<PathBuf> {
    let prefix = tools_dir().join("esbuild");
    let bin = prefix.join("node_modules/.bin/esbuild");
    let version_ok =
        output_of(Command::new(&bin).arg("--version")).is_some_and(|v| v.trim() == ESBUILD_VERSION);
    if !version_ok {
        println!(
            "xtask: installing esbuild (npm esbuild@{ESBUILD_VERSION}) into {}",
            prefix.display()
        );
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("esbuild@{ESBUILD_VERSION}")))?;
    }
    Ok(bin)
}

/// axe-core, the accessibility rules engine the browser tests inject into
/// pages (npm `axe-core`).
pub const AXE_CORE_VERSION: &str = "4.14.1";

/// `axe.min.js` of [`AXE_CORE_VERSION`], installed into the tools dir.
pub fn axe_core() -> anyhow::Result<PathBuf> {
    let prefix = tools_dir().join("axe");
    let pkg = prefix.join("node_modules/axe-core");
    let version_ok = std::fs::read_to_string(pkg.join("package.json"))
        .is_ok_and(|p| p.contains(&format!("\"version\": \"{AXE_CORE_VERSION}\"")));
    if !version_ok {
        println!(
            "xtask: installing axe-core (npm axe-core@{AXE_CORE_VERSION}) into {}",
            prefix.display()
        );
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("axe-core@{AXE_CORE_VERSION}")))?;
    }
    Ok(pkg.join("axe.min.js"))
}

fn is_root() -> bool {
    output_of(Command::new("id").arg("-u")).as_deref() == Some("0")
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .map(Path::to_path_buf)
}

/// Chromium and chromedriver, installing Debian's packages when root.
pub fn chromium() -> anyhow::Result<(PathBuf, PathBuf)> {
    let find = || {
        Some((
            find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])?,
            find_binary(&["/usr/bin/chromedriver"])?,
        ))
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    if !is_root() {
        bail!("Chromium is needed for the browser tests. Install it with:\n  sudo apt-get update && sudo apt-get install -y chromium chromium-driver");
    }
    println!("xtask: installing Debian's chromium and chromium-driver for the browser tests");
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    find().context("chromium installed but not found in /usr/bin")
}

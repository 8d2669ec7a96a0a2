//! `cargo xtask dist`: build the snippet into `dist/snippet/`:
//! `steadycart.js` (the loader a script tag points at), the wasm-bindgen glue
//! and `.wasm` optimised by wasm-opt 132 ([`WASM_OPT_FLAGS`]), every `.js` minified by esbuild, `.gz`/`.br` copies for the
//! collector to serve pre-compressed, and `manifest.json` with sizes and SRI
//! hashes. Prints the gzip size of each file and the total, against the
//! [`GZIP_BUDGET`] (a report, not a failure).

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context;
use base64::Engine;
use sha2::{Digest, Sha384};

use crate::tools;

/// wasm-opt flags: the post-MVP features Chromium has had for years and
/// that rustc 1.8x+ emits by default, then the passes, in order. Measured
/// on the snippet (wasm gzip): `-Oz` alone 78,087 bytes; flattening and
/// re-looping the control flow first lets `-Oz` find more (−1.1 KB);
/// `--gufa` (whole-program type and constant inference) then a second
/// `-Oz` −0.3 KB more; `--converge` would save another 0.1 KB for twice
/// the time (on later sources it is 69 bytes worse, and a second
/// `--flatten --rereloop -Oz` round, `--merge-similar-functions` or `-O3`
/// first gain nothing). The producers and target-features sections are
/// only for tools (wasm-bindgen has read them already).
///
/// `--low-memory-unused` (−417 bytes gzip) lets wasm-opt fold constant
/// offsets into loads and stores, on the promise that nothing lives in
/// the first 1 KiB of memory: rustc's wasm32 layout puts the 1 MiB stack
/// first (growing down from 1 MiB towards 0, so only an overflowing stack
/// would reach it) and the data and heap above it.
pub const WASM_OPT_FLAGS: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
    "--low-memory-unused",
    "--flatten",
    "--rereloop",
    "-Oz",
    "--gufa",
    "-Oz",
    "--strip-producers",
    "--strip-target-features",
];

/// Make `cmd` (a cargo build of the snippet, or wasm-pack's) rebuild `std`
/// for the snippet; returns the cargo arguments to add.
///
/// `std` rebuilt with panic=immediate-abort: a panic traps at once (as
/// panic=abort does) without panic messages, `Location`s and the
/// formatting code they pull in: about 10 KB gzip less. The flags are
/// unstable, so the pinned toolchain is told it may use them
/// (RUSTC_BOOTSTRAP); STEADYCART_STABLE_STD=1 builds without. With it,
/// measured on the wasm (gzip): `std`'s `optimize_for_size` feature (its
/// smaller variants of sorting, formatting, …) −0.75 KB; no caller
/// locations and no `Debug` output (`fmt-debug=none`: the snippet prints
/// nothing with `{:?}`) −0.35 KB.
pub fn snippet_std(cmd: &mut Command) -> anyhow::Result<Vec<&'static str>> {
    if std::env::var_os("STEADYCART_STABLE_STD").is_some() {
        return Ok(Vec::new());
    }
    tools::ensure_rust_src()?;
    cmd.env("RUSTC_BOOTSTRAP", "1").env(
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none",
    );
    Ok(vec![
        "-Zbuild-std=std,panic_abort",
        "-Zbuild-std-features=optimize_for_size",
    ])
}

/// Size budget for everything the snippet ships, gzip (issue 3: ≤ 40 KB).
/// `cargo xtask dist` reports against it; it does not fail the build.
pub const GZIP_BUDGET: usize = 40 * 1024;

/// One shipped file.
pub struct Shipped {
    /// Path relative to `dist/snippet`.
    pub name: String,
    /// Raw bytes.
    pub bytes: usize,
    /// Gzip bytes (Zopfli, see [`gzip`]).
    pub gzip: usize,
    /// Brotli (quality 11) bytes.
    pub brotli: usize,
    /// `sha384-…` for `integrity=`.
    pub sri: String,
}

/// The output directory.
pub fn out_dir() -> PathBuf {
    crate::root().join("dist/snippet")
}

/// Build everything; returns what was shipped.
pub fn run() -> anyhow::Result<Vec<Shipped>> {
    tools::ensure_wasm_target()?;
    let wasm_bindgen = tools::wasm_bindgen()?;
    let wasm_opt = tools::wasm_opt()?;
    let esbuild = tools::esbuild()?;
    let root = crate::root();
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .args([
            "build",
            "--package",
            "steadycart-client",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "snippet",
        ])
        .current_dir(&root);
    let std_args = snippet_std(&mut build)?;
    build.args(std_args);
    tools::run(&mut build)?;
    let wasm = crate::target_dir().join("wasm32-unknown-unknown/snippet/steadycart_client.wasm");
    let out = out_dir();
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;
    tools::run(
        Command::new(wasm_bindgen)
            .arg(&wasm)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "steadycart_core",
                "--out-dir",
            ])
            .arg(&out),
    )?;
    optimize(
        &wasm_opt,
        &out.join("steadycart_core_bg.wasm"),
        Some(&out.join("steadycart_core.js")),
    )?;
    fs::copy(
        root.join("client-wasm/js/steadycart.js"),
        out.join("steadycart.js"),
    )?;
    // Minify every JavaScript file (loader, glue, shim): whitespace,
    // comments and local names. `--keep-names` keeps `Function.name` (the
    // page must see `fetch.name === "fetch"`); no syntax is lowered.
    let mut scripts = Vec::new();
    collect(&out, &mut scripts)?;
    for js in scripts
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
    {
        tools::run(
            Command::new(&esbuild)
                .arg(js)
                .args([
                    "--minify",
                    "--keep-names",
                    "--format=esm",
                    "--log-level=warning",
                ])
                .arg("--allow-overwrite")
                .arg(format!("--outfile={}", js.display())),
        )?;
    }

    let mut files = Vec::new();
    collect(&out, &mut files)?;
    files.sort();
    let mut shipped = Vec::new();
    for path in files {
        let data = fs::read(&path)?;
        let gz = gzip(&data)?;
        let br = brotli(&data)?;
        fs::write(with_suffix(&path, ".gz"), &gz)?;
        fs::write(with_suffix(&path, ".br"), &br)?;
        shipped.push(Shipped {
            name: path
                .strip_prefix(&out)?
                .to_string_lossy()
                .replace('\\', "/"),
            bytes: data.len(),
            gzip: gz.len(),
            brotli: br.len(),
            sri: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&data))
            ),
        });
    }
    write_manifest(&out, &shipped)?;
    println!(
        "{:<60} {:>9} {:>9} {:>9}",
        "dist/snippet/", "bytes", "gzip", "brotli"
    );
    for s in &shipped {
        println!(
            "{:<60} {:>9} {:>9} {:>9}",
            s.name, s.bytes, s.gzip, s.brotli
        );
    }
    let (b, g, r) = shipped.iter().fold((0, 0, 0), |(b, g, r), s| {
        (b + s.bytes, g + s.gzip, r + s.brotli)
    });
    println!("{:<60} {:>9} {:>9} {:>9}", "total", b, g, r);
    let verdict = if g <= GZIP_BUDGET { "within" } else { "OVER" };
    println!(
        "size budget: {g} of {GZIP_BUDGET} bytes gzip ({}%), {verdict} budget",
        g * 100 / GZIP_BUDGET
    );
    Ok(shipped)
}

/// Run wasm-opt with [`WASM_OPT_FLAGS`] on `wasm` in place; with `glue`
/// (`--target web` glue), also shorten the import and export names and
/// make the glue use them ([`crate::minify`]).
pub fn optimize(wasm_opt: &Path, wasm: &Path, glue: Option<&Path>) -> anyhow::Result<()> {
    let mut cmd = Command::new(wasm_opt);
    cmd.arg(wasm).args(WASM_OPT_FLAGS);
    if glue.is_some() {
        cmd.arg("--minify-imports-and-exports-and-modules");
    }
    let opt = cmd
        .arg("-o")
        .arg(wasm)
        .output()
        .context("starting wasm-opt")?;
    if !opt.status.success() {
        anyhow::bail!("wasm-opt failed: {}", String::from_utf8_lossy(&opt.stderr));
    }
    if let Some(glue) = glue {
        let mapping = crate::minify::parse_mapping(&String::from_utf8_lossy(&opt.stdout))?;
        let text = fs::read_to_string(glue)?;
        fs::write(glue, crate::minify::rewrite_glue(&text, &mapping)?)?;
    }
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "wasm")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Gzip by Zopfli: a standard gzip stream that any browser inflates, about
/// 4 % smaller than zlib's level 9 on the snippet (wasm 65,807 → 62,698
/// bytes at 02bfdfe) for a second or two of build time. The collector
/// serves these `.gz` copies as they are (`precompressed_gzip`).
pub fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        data,
        &mut out,
    )?;
    Ok(out)
}

fn brotli(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data)?;
    }
    Ok(out)
}

fn write_manifest(out: &Path, shipped: &[Shipped]) -> anyhow::Result<()> {
    let files: serde_json::Map<String, serde_json::Value> = shipped
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                serde_json::json!({ "bytes": s.bytes, "gzip": s.gzip, "brotli": s.brotli, "integrity": s.sri }),
            )
        })
        .collect();
    let manifest = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "files": files,
        "total_gzip": shipped.iter().map(|s| s.gzip).sum::<usize>(),
        "budget_gzip": GZIP_BUDGET,
    });
    fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )
    .context("writing manifest.json")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    /// Zopfli's gzip inflates back to the input with an ordinary decoder,
    /// and is no bigger than zlib's best.
    #[test]
    fn gzip_round_trips_and_beats_level_9() {
        let data: Vec<u8> = (0..2_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"role\":\"price\"}}").into_bytes())
            .collect();
        let gz = super::gzip(&data).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let mut level9 = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut level9, &data).unwrap();
        assert!(gz.len() <= level9.finish().unwrap().len());
    }
}

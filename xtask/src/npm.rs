//! `cargo xtask npm`: build the npm package into `dist/npm/steadycart/`
//! (and `npm pack` it next to it), with wasm-pack and nothing downloaded:
//! wasm-pack runs in `--mode no-install` with the pinned, cargo-installed
//! `wasm-bindgen` on `PATH`, its own wasm-opt is off
//! (`[package.metadata.wasm-pack.profile.*] wasm-opt = false` in
//! client-wasm/Cargo.toml) and binaryen 132 from npm optimises the wasm, as
//! for the script tag: the same rebuilt `std` ([`dist::snippet_std`], cargo
//! arguments after wasm-pack's `--`), the same wasm-opt passes and, for
//! the web target, the same short import names ([`dist::optimize`]), so
//! its wasm is the tag's. (Without them it was about 112 KB gzip against
//! the tag's 86 KB: stock `std` with its panic and formatting code, and
//! wasm-bindgen's long import names.) The JavaScript stays unminified:
//! the app's bundler minifies it.
//!
//! The package:
//! - `steadycart.js` (the loader and JS API, the file the tag loads, with
//!   ES module exports of the API appended),
//!   `steadycart.d.ts` + `config.d.ts` (types), and the `--target web`
//!   glue and wasm: for Vite, Rollup, esbuild and plain `<script type=module>`;
//! - `bundler/`: the same API over the `--target bundler` glue (the wasm is
//!   imported as a module), for webpack 5 with `asyncWebAssembly`;
//!   exported as `steadycart/bundler`;
//! - `README.md` with the gzip size.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context;

use crate::{dist, tools};

/// Appended to the loader (a classic script that puts its API on
/// `globalThis[Symbol.for("steadycart.api")]`) for the package's entry: the
/// same API as ES module exports. With the tag on the page too, the loader
/// that ran first serves both.
const ESM_EXPORTS: &str = r#"
const api = globalThis[Symbol.for("steadycart.api")];
export default api;
export const {
  init, markCheckoutStarted, markCheckoutCompleted, setCart, identify, showSurvey,
  pause, resume, uninstall, on, off, version, ready, push,
  SteadycartError, ConfigError, ConsentError, ArgumentError, StateError,
} = api;
"#;

/// The package directory.
pub fn package_dir() -> PathBuf {
    crate::root().join("dist/npm/steadycart")
}

/// Build the package; returns the gzip bytes of what a browser loads
/// (API + glue + wasm of the web target).
pub fn run() -> anyhow::Result<usize> {
    tools::ensure_wasm_target()?;
    tools::wasm_bindgen()?;
    let wasm_opt = tools::wasm_opt()?;
    let wasm_pack = tools::wasm_pack()?;
    let root = crate::root();
    let work = root.join("dist/npm/work");
    let pkg = package_dir();
    for dir in [&work, &pkg] {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
    }
    fs::create_dir_all(&pkg)?;
    // wasm-bindgen from cargo's bin directory, never a download.
    let path = format!(
        "{}:{}",
        tools::cargo_bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for target in ["web", "bundler"] {
        let out = work.join(target);
        let mut pack = Command::new(&wasm_pack);
        pack.args([
            "build",
            "client-wasm",
            "--mode",
            "no-install",
            "--no-pack",
            "--no-opt",
        ])
        .args([
            "--target",
            target,
            "--out-name",
            "steadycart_core",
            "--out-dir",
        ])
        .arg(&out)
        .args(["--profile", "snippet"])
        .env("PATH", &path)
        .env(
            "WASM_PACK_CACHE",
            tools::tools_dir().join("wasm-pack-cache"),
        )
        .current_dir(&root);
        // The same `std` as the script tag's (cargo arguments after `--`).
        let std_args = dist::snippet_std(&mut pack)?;
        if !std_args.is_empty() {
            pack.arg("--").args(std_args);
        }
        tools::run(&mut pack)?;
        // The web glue gets the short import names as the tag's does; the
        // bundler glue imports the wasm as a module under its own names.
        let glue = out.join("steadycart_core.js");
        dist::optimize(
            &wasm_opt,
            &out.join("steadycart_core_bg.wasm"),
            (target == "web").then_some(glue.as_path()),
        )?;
        let dest = if target == "web" {
            pkg.clone()
        } else {
            pkg.join("bundler")
        };
        copy_tree(&out, &dest)?;
        // The classic loader with ES module exports of its API after it.
        let loader = fs::read_to_string(root.join("client-wasm/js/steadycart.js"))?;
        fs::write(dest.join("steadycart.js"), loader + ESM_EXPORTS)?;
    }
    for f in ["steadycart.d.ts", "config.d.ts"] {
        fs::copy(root.join("client-wasm/js").join(f), pkg.join(f))?;
    }
    let mut loaded = 0;
    for f in [
        "steadycart.js",
        "steadycart_core.js",
        "steadycart_core_bg.wasm",
    ] {
        loaded += dist::gzip(&fs::read(pkg.join(f))?)?.len();
    }
    for shim in find(&pkg.join("snippets"), "shim.js")? {
        loaded += dist::gzip(&fs::read(shim)?)?.len();
    }
    let version = env!("CARGO_PKG_VERSION");
    fs::write(pkg.join("package.json"), package_json(version))?;
    fs::write(
        pkg.join("README.md"),
        readme(version, loaded, &root.join("docs")),
    )?;
    tools::run(
        Command::new("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(root.join("dist/npm"))
            .current_dir(&pkg),
    )?;
    println!(
        "xtask: npm package in {} ({} bytes gzip loaded by a browser: API, glue and wasm)",
        pkg.display(),
        loaded
    );
    Ok(loaded)
}

/// wasm-pack's own files that the package does not ship.
fn skipped(name: &str) -> bool {
    matches!(name, ".gitignore" | "package.json" | "README.md")
        || name.ends_with(".d.ts") && name.starts_with("steadycart_core")
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if skipped(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            fs::copy(&path, to.join(&name)).with_context(|| format!("copying {name}"))?;
        }
    }
    Ok(())
}

fn find(dir: &Path, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(find(&path, name)?);
        } else if path.file_name().is_some_and(|n| n == name) {
            out.push(path);
        }
    }
    Ok(out)
}

fn package_json(version: &str) -> String {
    let v = serde_json::json!({
        "name": "steadycart",
        "version": version,
        "description": "Calm fallback messages and checkout-trouble reporting for storefronts: the Steadycart snippet as an ES module with a typed JS API.",
        "license": "Apache-2.0",
        "type": "module",
        "main": "./steadycart.js",
        "module": "./steadycart.js",
        "types": "./steadycart.d.ts",
        "exports": {
            ".": { "types": "./steadycart.d.ts", "default": "./steadycart.js" },
            "./bundler": { "types": "./steadycart.d.ts", "default": "./bundler/steadycart.js" },
            "./package.json": "./package.json"
        },
        "sideEffects": ["./steadycart.js", "./bundler/steadycart.js", "./snippets/**", "./bundler/snippets/**"],
        "files": ["*.js", "*.d.ts", "*.wasm", "snippets/", "bundler/", "README.md"]
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

fn readme(version: &str, gzip: usize, _docs: &Path) -> String {
    let kb = (gzip as f64 / 1024.0 * 10.0).round() / 10.0;
    format!(
        r#"# steadycart

![size: {kb} KB gzip](https://img.shields.io/badge/gzip-{kb}%20KB-blue)

Steadycart {version} as an npm package: watches your storefront's cart,
checkout, payment and price calls (fetch and XMLHttpRequest) without changing
them, shows shoppers a calm message when they fail or stall, and reports to
your self-hosted Steadycart collector. **{gzip} bytes gzip** (JS API, glue
and WebAssembly) are what a browser loads.

```js
import {{ init, on, markCheckoutCompleted }} from "steadycart";

init({{ site: "pk_…", collector: "https://collect.shop.example",
       checkout: "POST /api/checkout", cart: "/api/cart", confirmation: "/order/" }});
on("trouble", (t) => console.log(`${{t.role}} trouble`, t.status));
// after your app confirmed the order:
markCheckoutCompleted(order.id);
```

The API (also on `window.Steadycart`): `init(config)`, `markCheckoutStarted()`,
`markCheckoutCompleted(orderId?)`, `setCart(items, currency?)`,
`identify(email, {{ text, version }})` (only with the consent the shopper gave),
`showSurvey()`, `pause()`, `resume()`, `uninstall()`, `on('trouble' |
'recovered' | 'survey', cb)`, `off`, `version()`, `ready`. Errors are typed:
`SteadycartConfigError` (with the `option` to blame), `SteadycartConsentError`,
`SteadycartArgumentError`, `SteadycartStateError`, all `SteadycartError`
with a `code`. Single-page routing (History API, `popstate`) is understood:
moving to a `confirmation` route completes the checkout, and a route change
never starts a new session.

- `steadycart` — ES module with `--target web` glue: Vite, Rollup, esbuild,
  Parcel, or a plain `<script type="module">`.
- `steadycart/bundler` — the same API with `--target bundler` glue, for
  webpack 5 with `experiments.asyncWebAssembly`.

Content-Security-Policy: `script-src 'self' 'wasm-unsafe-eval'` and
`connect-src` for the collector's origin. Every option: the configuration
reference (`docs/config-reference.md` in the Steadycart repository); guides for
React/Next.js, Vue/Nuxt, plain HTML, theme templates and tag managers in
`docs/guides/`.
"#
    )
}

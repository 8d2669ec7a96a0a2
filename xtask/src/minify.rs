//! Short import and export names for the snippet's wasm. wasm-bindgen names
//! every import `__wbg_NAME_<16 hex digits>` and wasm-opt keeps them: over a
//! hundred hashes that gzip cannot shrink, once in the wasm and once in the
//! glue. wasm-opt's `--minify-imports-and-exports-and-modules` renames them
//! (all imports into module `a`) and prints the mapping; [`rewrite_glue`]
//! applies that mapping to the wasm-bindgen glue, so the two still agree.

use std::collections::HashMap;

use anyhow::{bail, Context};

/// The module every import comes from after minification.
const MODULE: &str = "a";

/// `(module, name) -> short` for imports and `name -> short` for exports,
/// from the JSON wasm-opt prints.
#[derive(Debug, Default)]
pub struct Mapping {
    imports: Vec<(String, String, String)>,
    exports: HashMap<String, String>,
}

/// Read wasm-opt's mapping output (a JSON object, possibly after other text).
pub fn parse_mapping(stdout: &str) -> anyhow::Result<Mapping> {
    let start = stdout.find('{').context("no mapping in wasm-opt output")?;
    let json: serde_json::Value =
        serde_json::from_str(&stdout[start..]).context("wasm-opt mapping is not JSON")?;
    let list = |key: &str| -> anyhow::Result<Vec<Vec<String>>> {
        json[key]
            .as_array()
            .context("mapping without imports/exports")?
            .iter()
            .map(|e| {
                e.as_array()
                    .context("mapping entry")?
                    .iter()
                    .map(|s| s.as_str().map(String::from).context("mapping string"))
                    .collect()
            })
            .collect()
    };
    let mut m = Mapping::default();
    for e in list("imports")? {
        let [module, name, short] = <[String; 3]>::try_from(e).ok().context("import entry")?;
        m.imports.push((module, name, short));
    }
    for e in list("exports")? {
        let [name, short] = <[String; 2]>::try_from(e).ok().context("export entry")?;
        m.exports.insert(name, short);
    }
    Ok(m)
}

/// Apply `m` to the glue that `wasm-bindgen --target web` wrote: keys of the
/// imports object (`const import0 = { NAME: function(…) … }`), the other
/// modules' imports (`"./module.js": importN`) moved into it, the returned
/// module object, and every `wasm.EXPORT`. Fails if anything is not found.
pub fn rewrite_glue(glue: &str, m: &Mapping) -> anyhow::Result<String> {
    // The returned object: `"MODULE": importN,` lines.
    let modules: HashMap<String, String> = glue
        .lines()
        .filter_map(|l| {
            let (module, var) = l.trim().strip_prefix('"')?.split_once("\": ")?;
            let var = var.strip_suffix(',')?;
            var.starts_with("import")
                .then(|| (module.to_string(), var.to_string()))
        })
        .collect();
    let own = modules
        .iter()
        .find(|(_, v)| *v == "import0")
        .map(|(k, _)| k.clone())
        .context("glue: no import0 module")?;
    let own_names: HashMap<&str, &str> = m
        .imports
        .iter()
        .filter(|(module, _, _)| *module == own)
        .map(|(_, n, s)| (n.as_str(), s.as_str()))
        .collect();
    let mut found = 0;
    let mut out = String::with_capacity(glue.len());
    let mut in_fn = false;
    let mut in_return = false;
    for line in glue.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if line.starts_with("function __wbg_get_imports()") {
            in_fn = true;
        } else if line.starts_with('}') {
            in_fn = false;
        }
        if in_return {
            if trimmed.starts_with("};") {
                in_return = false;
                out.push_str(indent);
                out.push_str("};\n");
            }
            continue;
        }
        if in_fn && trimmed.trim_end() == "return {" {
            // Replace the module object: everything now comes from `a`.
            in_return = true;
            out.push_str(indent);
            out.push_str(&format!("return {{ __proto__: null, {MODULE}: import0 "));
            continue;
        }
        if trimmed.trim_end() == "__proto__: null," && out.ends_with("const import0 = {\n") {
            out.push_str(line);
            // Imports of the other modules, added under their short names.
            for (module, name, short) in &m.imports {
                if *module != own {
                    let var = modules
                        .get(module)
                        .with_context(|| format!("glue: no import object for {module}"))?;
                    out.push_str(&format!("{indent}{short}: {var}.{name},\n"));
                    found += 1;
                }
            }
            continue;
        }
        if let Some((key, rest)) = trimmed.split_once(": ") {
            if let Some(short) = own_names.get(key) {
                out.push_str(indent);
                out.push_str(short);
                out.push_str(": ");
                out.push_str(rest);
                found += 1;
                continue;
            }
        }
        out.push_str(line);
    }
    if found != m.imports.len() {
        let missing: Vec<String> = m
            .imports
            .iter()
            .filter(|(module, name, _)| {
                *module == own && out.contains(&format!(" {name}: "))
                    || *module != own && !modules.contains_key(module)
            })
            .map(|(module, name, _)| format!("{module} {name}"))
            .collect();
        bail!(
            "glue: {found} of {} imports found (missing: {missing:?})",
            m.imports.len()
        );
    }
    // Exports: `wasm.NAME` (NAME an identifier) everywhere.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("wasm.") {
        let (before, after) = rest.split_at(i + 5);
        result.push_str(before);
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
        if before[..i].ends_with(ident) {
            rest = after;
            continue;
        }
        let end = after.find(|c: char| !ident(c)).unwrap_or(after.len());
        let name = &after[..end];
        match m.exports.get(name) {
            Some(short) => result.push_str(short),
            None => result.push_str(name),
        }
        rest = &after[end..];
    }
    result.push_str(rest);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = r#"import * as import1 from "./snippets/x/shim.js"
export function start(a) {
    wasm.start_now(a);
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_get_0123456789abcdef: function(arg0) {
            return { v: arg0 };
        },
    };
    return {
        __proto__: null,
        "./core_bg.js": import0,
        "./snippets/x/shim.js": import1,
    };
}
function other() {
    return {
        read: 1,
    };
}
const m = wasm.memory; const n = mywasm.memory;
"#;

    #[test]
    fn glue_follows_the_mapping() {
        let m = parse_mapping(
            r#"[wasm-opt] note
{"imports": [["./core_bg.js", "__wbg_get_0123456789abcdef", "a"],
             ["./snippets/x/shim.js", "uninstall", "b"]],
 "exports": [["memory", "c"], ["start_now", "d"]]}"#,
        )
        .unwrap();
        let out = rewrite_glue(GLUE, &m).unwrap();
        assert!(out.contains("        a: function(arg0) {\n            return { v: arg0 };"));
        assert!(out.contains("        b: import1.uninstall,\n"));
        assert!(out.contains("return { __proto__: null, a: import0 "));
        assert!(!out.contains("\"./core_bg.js\""));
        assert!(
            out.contains("    return {\n        read: 1,\n    };"),
            "{out}"
        );
        assert!(out.contains("wasm.d(a)"));
        assert!(out.contains("const m = wasm.c; const n = mywasm.memory;"));
    }

    #[test]
    fn a_missing_import_is_an_error() {
        let m = parse_mapping(
            r#"{"imports": [["./core_bg.js", "__wbg_gone_0123456789abcdef", "a"]], "exports": []}"#,
        )
        .unwrap();
        assert!(rewrite_glue(GLUE, &m).is_err());
    }
}

//! SECURITY.md and the README name the test behind every guarantee; this
//! test keeps those names true. Every code span that names a Rust file
//! (`collector/tests/x.rs`, `x.rs`), a test in it (`x.rs::name`,
//! `x.rs::name::{sqlite,postgres}`, `::name` for the file named last) or a
//! repository path must exist: a renamed or deleted test fails here instead
//! of leaving a guarantee backed by nothing.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Top-level directories whose paths the docs may cite.
const TOP: [&str; 9] = [
    "collector/",
    "tests/",
    "client-wasm/",
    "protocol/",
    "fuzz/",
    "xtask/",
    "demo-store/",
    "migrations/",
    "docs/",
];

/// Where a bare file name (`slow_body.rs`) is looked for first; then
/// anywhere in the repository (`survey_form.rs` is a source module).
const TEST_DIRS: [&str; 5] = [
    "collector/tests",
    "tests/tests",
    "client-wasm/tests",
    "demo-store/tests",
    "protocol/tests",
];

/// Every `a{x,y}b` expanded to `axb`, `ayb` (repeatedly).
fn expand(s: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (s.find('{'), s.find('}')) else {
        return vec![s.to_string()];
    };
    if close < open {
        return vec![s.to_string()];
    }
    s[open + 1..close]
        .split(',')
        .flat_map(|alt| expand(&format!("{}{}{}", &s[..open], alt.trim(), &s[close + 1..])))
        .collect()
}

/// The text of every `code span` in `md`, outside fenced blocks.
fn code_spans(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    let mut para = String::new();
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            para.push_str(line);
            para.push(' ');
        }
    }
    let mut parts = para.split('`');
    parts.next();
    while let Some(span) = parts.next() {
        out.push(span.to_string());
        parts.next();
    }
    out
}

/// A file called `name` anywhere under `dir` (build output and
/// dependencies skipped).
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if path.is_dir() {
            if matches!(&*file, "target" | "node_modules" | "dist" | ".git") {
                continue;
            }
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if file == name {
            return Some(path);
        }
    }
    None
}

/// Source without whitespace, so `both_backends!(\n    name,` is found as
/// `both_backends!(name,`.
fn squeezed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// How `file` defines `name`: as a plain test function, a `both_backends!`
/// pair (modules with `sqlite` and `postgres`), a module, or not at all.
#[derive(Debug, PartialEq)]
enum Defined {
    Fn,
    BothBackends,
    Mod,
    No,
}

fn defines(src: &str, name: &str) -> Defined {
    if src.contains(&format!("fn{name}(")) || src.contains(&format!("fn{name}<")) {
        Defined::Fn
    } else if src.contains(&format!("both_backends!({name},")) {
        Defined::BothBackends
    } else if src.contains(&format!("mod{name}{{")) {
        Defined::Mod
    } else {
        Defined::No
    }
}

/// Problems with the references in `doc`; the number of tests named.
fn check(doc: &str) -> (Vec<String>, usize) {
    let root = root();
    let md = std::fs::read_to_string(root.join(doc)).unwrap();
    let mut problems = Vec::new();
    let mut tests = 0;
    let mut last_file: Option<PathBuf> = None;
    for span in code_spans(&md) {
        for reference in expand(span.trim()) {
            let (file_part, names) = match reference.split_once("::") {
                Some((f, n)) => (f.to_string(), Some(n.to_string())),
                None => (reference.clone(), None),
            };
            let file = if file_part.is_empty() {
                // `::name` right after `file.rs::test`: another test in that
                // file (anything else, such as CSS `::backdrop`, is prose).
                match &last_file {
                    Some(f) if names.is_some() => f.clone(),
                    _ => continue,
                }
            } else if TOP.iter().any(|t| file_part.starts_with(t)) {
                // Prose and placeholders (`fuzz/corpus/<target>/`), not paths.
                if file_part.contains([' ', '…', '<', '*']) {
                    continue;
                }
                let path = root.join(file_part.trim_end_matches('/'));
                if !path.exists() {
                    problems.push(format!("{doc}: `{reference}`: no such path"));
                    continue;
                }
                path
            } else if file_part.ends_with(".rs")
                && !file_part.contains('/')
                && !file_part.contains(' ')
            {
                match TEST_DIRS
                    .iter()
                    .map(|d| root.join(d).join(&file_part))
                    .find(|p| p.exists())
                    .or_else(|| find_file(&root, &file_part))
                {
                    Some(p) => p,
                    None => {
                        problems.push(format!("{doc}: `{reference}`: no such test file"));
                        continue;
                    }
                }
            } else {
                last_file = None;
                continue;
            };
            let Some(names) = names else {
                last_file = None;
                continue;
            };
            last_file = Some(file.clone());
            let src = squeezed(&file);
            let mut segments = names.split("::");
            let name = segments.next().unwrap_or("");
            let sub = segments.next();
            tests += 1;
            match (defines(&src, name), sub) {
                (Defined::No, _) => problems.push(format!(
                    "{doc}: `{reference}`: no test `{name}` in {file:?}"
                )),
                (Defined::BothBackends, Some(s)) if s != "sqlite" && s != "postgres" => problems
                    .push(format!(
                        "{doc}: `{reference}`: {name} has only sqlite and postgres"
                    )),
                (Defined::Mod, Some(s)) if defines(&src, s) == Defined::No => {
                    problems.push(format!("{doc}: `{reference}`: no `{s}` in {file:?}"))
                }
                _ => {}
            }
        }
    }
    (problems, tests)
}

#[test]
fn every_test_named_in_security_md_and_readme_exists() {
    let (mut problems, security) = check("SECURITY.md");
    let (more, readme) = check("README.md");
    problems.extend(more);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check itself must have found the references it guards.
    assert!(security >= 20, "SECURITY.md names only {security} tests");
    assert!(readme >= 1, "README names only {readme} tests");
}

#[test]
fn the_check_notices_a_missing_test() {
    let src = squeezed(&root().join("collector/tests/security_doc.rs"));
    assert_eq!(
        defines(&src, "the_check_notices_a_missing_test"),
        Defined::Fn
    );
    assert_eq!(defines(&src, "no_such_test_anywhere_at_all"), Defined::No);
    assert_eq!(
        expand("a_{sqlite,postgres}.rs"),
        ["a_sqlite.rs", "a_postgres.rs"]
    );
    assert_eq!(
        code_spans("x `a.rs::b` y\n```\n`c`\n```\n`d`"),
        ["a.rs::b", "d"]
    );
}

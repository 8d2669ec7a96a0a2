//! `/openapi.json` describes every route the router serves (walked from the
//! route paths declared in `src/http/`, with every method), serves nothing
//! it does not describe, and is a valid OpenAPI document
//! (`openapi-spec-validator` from PyPI, in a venv under
//! `~/.cache/steadycart/`).

mod common;

use std::{path::PathBuf, process::Command};

use axum::{body::Body, http::Request};
use common::*;

/// Every path passed to `.route(` or `.nest_service(` in `src/http/`.
fn route_paths_in_source() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in ["route(", "nest_service("] {
            for (i, _) in text.match_indices(call) {
                let rest = text[i + call.len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let mut path = rest[..rest.find('"').unwrap()].to_string();
                if call == "nest_service(" {
                    path.push_str("/{file}");
                }
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
    }
    assert!(paths.len() >= 15, "route scan found only {paths:?}");
    paths
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

#[tokio::test]
async fn every_route_is_described_and_nothing_else() {
    let t = TestDb::sqlite().await;
    let site = add_site(&t.db, ORIGIN).await;
    let (app, _state, _writer) = test_app(t.db.clone());
    let (status, res) = send(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let doc = json_body(res).await;
    let described = doc["paths"].as_object().unwrap();

    let concrete = |path: &str| {
        path.replace("{site}", &site.key)
            .replace("{id}", "1")
            .replace("{file}", "steadycart.js")
    };
    let mut missing = Vec::new();
    for path in route_paths_in_source() {
        for method in METHODS {
            let req = Request::builder()
                .method(method)
                .uri(concrete(&path))
                .header("authorization", format!("Bearer {}", site.token))
                .header("origin", ORIGIN)
                .body(Body::empty())
                .unwrap();
            let (status, _) = send(&app, req).await;
            let in_doc = described
                .get(&path)
                .and_then(|item| item.get(method.to_ascii_lowercase()))
                .is_some();
            if status != 405 && !in_doc {
                missing.push(format!("{method} {path}"));
            }
            if status == 405 && in_doc {
                panic!("{method} {path} is described but the router does not serve it");
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes not described in /openapi.json — add them to OPERATIONS in \
         collector/src/http/openapi.rs: {missing:?}"
    );
    for path in described.keys() {
        assert!(
            route_paths_in_source().contains(path),
            "{path} is described but no route declares it"
        );
    }
    t.cleanup().await;
}

#[tokio::test]
async fn document_is_valid_openapi() {
    let doc = steadycart_collector::http::openapi::document();
    // Unique operation ids and a security entry on every operation.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "duplicate operationId {id}");
            assert!(op.get("security").is_some(), "{method} {path}");
        }
    }
    let file = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    let python = validator_python();
    let out = Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Python of a venv holding `openapi-spec-validator`, created on first use.
fn validator_python() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let venv = PathBuf::from(home).join(".cache/steadycart/venv-openapi");
    let python = venv.join("bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import openapi_spec_validator"])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        // Two test binaries may race here: a lock directory serialises them.
        let lock = venv.with_extension("lock");
        std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
        while std::fs::create_dir(&lock).is_err() {
            // A lock left by a killed run is taken over after ten minutes.
            let stale = std::fs::metadata(&lock)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 600);
            if stale {
                let _ = std::fs::remove_dir(&lock);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let ok = python.exists()
            && Command::new(&python)
                .args(["-c", "import openapi_spec_validator"])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 is needed to validate the OpenAPI document");
            assert!(status.success(), "python3 -m venv failed");
            let status = Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "openapi-spec-validator>=0.7,<1"])
                .status()
                .unwrap();
            assert!(
                status.success(),
                "pip install openapi-spec-validator failed"
            );
        }
        let _ = std::fs::remove_dir(&lock);
    }
    python
}

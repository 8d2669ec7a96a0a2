//! `/snippet/`: the pre-compressed copy the client asked for, or the plain
//! file; `Vary: Accept-Encoding` on every answer so a shared cache never
//! hands one client's encoding to another; CORS for cross-origin module
//! loads; `.wasm` as `application/wasm`.

mod common;

use axum::{body::Body, http::Request};
use common::*;
use http_body_util::BodyExt;
use steadycart_collector::{config::Config, http::app, AppState};

#[tokio::test]
async fn encodings_follow_accept_encoding_and_vary_says_so() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("core.wasm", &b"plain"[..]),
        ("core.wasm.gz", b"gzip-bytes"),
        ("core.wasm.br", b"brotli-bytes"),
    ] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let config = Config {
        snippet_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let (state, _writer) = AppState::start(t.db.clone(), config);
    let router = app(state);
    for (accept, encoding, body) in [
        (Some("br, gzip"), Some("br"), "brotli-bytes"),
        (Some("gzip"), Some("gzip"), "gzip-bytes"),
        (None, None, "plain"),
    ] {
        let mut req = Request::get("/snippet/core.wasm");
        if let Some(a) = accept {
            req = req.header("accept-encoding", a);
        }
        let (status, res) = send(&router, req.body(Body::empty()).unwrap()).await;
        assert_eq!(status, 200, "{accept:?}");
        let h = res.headers().clone();
        assert_eq!(
            h.get("content-encoding").map(|v| v.to_str().unwrap()),
            encoding,
            "{accept:?}"
        );
        assert_eq!(h["vary"], "accept-encoding", "{accept:?}");
        assert_eq!(h["content-type"], "application/wasm", "{accept:?}");
        assert_eq!(h["access-control-allow-origin"], "*");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], body.as_bytes(), "{accept:?}");
    }
    t.cleanup().await;
}

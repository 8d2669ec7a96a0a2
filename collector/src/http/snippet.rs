//! The built snippet (`cargo xtask dist` → `dist/snippet/`) under `/snippet/`.
//! Module scripts loaded cross-origin need CORS, so every file is served with
//! `Access-Control-Allow-Origin: *`; pre-compressed `.br`/`.gz` copies are
//! used when the browser accepts them (with `Vary: Accept-Encoding`);
//! `.wasm` is `application/wasm`.

use std::path::Path;

use axum::{
    http::{header, HeaderValue},
    Router,
};
use tower::ServiceBuilder;
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

use crate::state::AppState;

/// Routes of this module: `dir` under `/snippet/` with the snippet's headers.
pub fn router(dir: &Path) -> Router<AppState> {
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    let service = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // The body depends on Accept-Encoding (br, gzip or none): a CDN or
        // shared cache in front must not hand brotli to a client that did
        // not ask for it.
        .layer(SetResponseHeaderLayer::overriding(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
        // Short: file names are not versioned, and a fixed snippet must reach
        // shops quickly. Pinned, versioned copies are for SRI users.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .service(files);
    Router::new().nest_service("/snippet", service)
}

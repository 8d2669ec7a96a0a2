//! Serving connections: hyper's HTTP/1.1 server driven by our own accept
//! loop, because `axum::serve` runs hyper without a timer and so has no
//! header read timeout — a client trickling its *headers* (slow-loris) would
//! hold a connection and a task for as long as it liked.
//!
//! Each connection gets a header read timeout and a cap on the size of the
//! request head (431 beyond it); bodies are limited per route and by the
//! total body deadline ([`super::deadline`]). On shutdown the listener stops
//! accepting, idle keep-alive connections are closed and in-flight requests
//! finish (hyper-util's `GracefulShutdown`).

use std::{future::Future, net::SocketAddr, time::Duration};

use axum::{extract::ConnectInfo, Router};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Limits applied to every connection before a request reaches the router.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Time a client has to send a complete request head (request line and
    /// headers), from when the connection is ready to read one; then the
    /// connection is closed. Default 10 s.
    pub header_timeout: Duration,
    /// Largest request head (request line and headers), bytes; larger heads
    /// are answered 431 and the connection closed. Default 32 KiB (browsers
    /// send about 1–2 KiB; cookies are the only thing that grows).
    pub max_header_bytes: usize,
    /// Most header fields in a request head (431 beyond). Default 100.
    pub max_headers: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 32 * 1024,
            max_headers: 100,
        }
    }
}

/// Serve `app` on `listener` until `shutdown` completes; then stop accepting
/// and wait until every open connection has finished its in-flight request.
/// Handlers can extract `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers)
        // The read buffer bounds the head too; hyper's minimum is 8 KiB.
        .max_buf_size(limits.max_header_bytes.max(8192) + 8192);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off
                    // instead of spinning (as axum::serve does).
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Timeouts, resets and oversized heads end up here; they are
                // the client's doing, not ours.
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

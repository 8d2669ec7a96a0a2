//! Limits enforced on the stream of a real socket, before and after the
//! router: a client trickling its request *head* is disconnected after the
//! header read timeout while another client is served; oversized heads (one
//! huge header, or too many) answer 431; body limits hold for chunked bodies
//! that carry no `Content-Length` and for a `Content-Length` that lies low.

mod common;

use std::time::{Duration, Instant};

use common::*;
use steadycart_collector::{config::Config, http::conn::ConnLimits, store::Db};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

struct Server {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db: Db,
    site: TestSite,
    _dir: tempfile::TempDir,
}

async fn start(header_timeout: Duration) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db", dir.path().display());
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let site = add_site(&db, ORIGIN).await;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(url),
        conn: ConnLimits {
            header_timeout,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        },
        ..Config::default()
    };
    config.signals.enabled = false;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(steadycart_collector::serve(listener, config, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop,
        task,
        db,
        site,
        _dir: dir,
    }
}

impl Server {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown within 10 s")
            .unwrap()
            .unwrap();
    }
}

/// Write `raw` and read until the server closes or 5 s pass; the status line.
async fn exchange(addr: std::net::SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before we finish writing (431, 413).
    let _ = s.write_all(raw).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let timeout = Duration::from_millis(700);
    let srv = start(timeout).await;
    let addr = srv.addr;
    // Trickle a header line a byte every 100 ms: an idle timeout would never
    // fire, the total header deadline does.
    let slow = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                n = s.read(&mut buf) => {
                    // 0 = closed (hyper closes without a response), or an
                    // error status; either way the connection ends.
                    let n = n.unwrap_or(0);
                    return (String::from_utf8_lossy(&buf[..n]).into_owned(), start.elapsed());
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if s.write_all(b"x").await.is_err() {
                        return (String::new(), start.elapsed());
                    }
                    if start.elapsed() > Duration::from_secs(20) {
                        return ("still open after 20 s".into(), start.elapsed());
                    }
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Meanwhile a well-behaved client is served.
    let ok = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);

    let (answer, took) = slow.await.unwrap();
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "a trickled head was served: {answer:?}"
    );
    assert!(answer != "still open after 20 s", "slow head never cut off");
    assert!(
        took >= timeout,
        "cut off after {took:?}, before the timeout"
    );
    srv.stop().await;
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let srv = start(Duration::from_secs(10)).await;
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let status = exchange(srv.addr, big.as_bytes()).await;
    assert!(
        status.starts_with("HTTP/1.1 431"),
        "one huge header: {status:?}"
    );

    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..80 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let status = exchange(srv.addr, many.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 431"), "80 headers: {status:?}");

    // Within the limits, the same request is served.
    let fine = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-big: {}\r\n\r\n",
        "a".repeat(8 * 1024)
    );
    let status = exchange(srv.addr, fine.as_bytes()).await;
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "8 KiB header: {status:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn body_limits_hold_on_the_stream() {
    let srv = start(Duration::from_secs(10)).await;
    let max = steadycart_protocol::limits::MAX_INGEST_BODY_BYTES;
    let path = format!("/v1/ingest?key={}", srv.site.key);

    // Chunked, no Content-Length, more than the limit in 8 KiB chunks.
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 8192];
    for _ in 0..(max / chunk.len() + 4) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let status = exchange(srv.addr, &raw).await;
    assert!(
        status.starts_with("HTTP/1.1 413"),
        "chunked, too big: {status:?}"
    );

    // A small valid batch, chunked: accepted (the limit is not "no chunked").
    let body = batch_json(1, 2);
    let raw = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let status = exchange(srv.addr, raw.as_bytes()).await;
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "chunked, small: {status:?}"
    );

    // A Content-Length that lies low: only that many bytes are read as the
    // body (the rest is a broken next request), so nothing beyond the limit
    // is ever buffered; the truncated JSON is refused.
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: 10\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(batch_json(2, 3).as_bytes());
    let status = exchange(srv.addr, &raw).await;
    assert!(
        status.starts_with("HTTP/1.1 400"),
        "short length: {status:?}"
    );

    // A Content-Length above the limit is refused before the body is read.
    let raw = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        max + 1
    );
    let status = exchange(srv.addr, raw.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "big length: {status:?}");

    assert_eq!(srv.db.count_events(srv.site.id).await.unwrap(), 2);
    srv.stop().await;
}

//! Slow-loris: a client that trickles its body (one byte every 100 ms, so an
//! idle timeout between frames never fires) is answered 408 once the total
//! body deadline has passed, on a real socket, while a well-behaved client on
//! another connection is served normally.

mod common;

use std::time::{Duration, Instant};

use common::*;
use steadycart_collector::{config::Config, store::Db};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Send the head of a POST promising `len` body bytes, then drip the body a
/// byte per `gap` until the server answers; the answer's status line and the
/// time it took.
async fn drip(
    addr: std::net::SocketAddr,
    path: &str,
    len: usize,
    gap: Duration,
) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    for _ in 0..len {
        tokio::select! {
            n = s.read(&mut buf) => {
                let n = n.unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                return (text.lines().next().unwrap_or("").to_string(), start.elapsed());
            }
            _ = tokio::time::sleep(gap) => {
                if s.write_all(b" ").await.is_err() {
                    break;
                }
            }
        }
    }
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .map(|r| r.unwrap_or(0))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    (
        text.lines().next().unwrap_or("").to_string(),
        start.elapsed(),
    )
}

#[tokio::test]
async fn slow_bodies_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db", dir.path().display());
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let site = add_site(&db, ORIGIN).await;
    let deadline = Duration::from_millis(800);
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(url),
        body_deadline: deadline,
        ..Config::default()
    };
    config.signals.enabled = false;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(steadycart_collector::serve(listener, config, async {
        let _ = stopped.await;
    }));

    // Two slow clients at once (ingest, and an unauthenticated admin POST)
    // and a good one on its own connection meanwhile.
    let ingest = format!("/v1/ingest?key={}", site.key);
    let admin = format!("/v1/admin/sites/{}/notifiers", site.key);
    let slow_ingest =
        tokio::spawn(async move { drip(addr, &ingest, 1000, Duration::from_millis(100)).await });
    let slow_admin =
        tokio::spawn(async move { drip(addr, &admin, 1000, Duration::from_millis(100)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let good = reqwest::Client::new()
        .post(format!("http://{addr}/v1/ingest?key={}", site.key))
        .header("content-type", "application/json")
        .body(batch_json(3, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(
        good.status().as_u16(),
        200,
        "a well-behaved client is served meanwhile"
    );

    let (status, took) = slow_ingest.await.unwrap();
    assert!(
        status.starts_with("HTTP/1.1 408"),
        "ingest answered {status:?}"
    );
    assert!(
        took >= deadline && took < deadline * 4,
        "ingest answered after {took:?}"
    );
    let (status, took) = slow_admin.await.unwrap();
    assert!(
        status.starts_with("HTTP/1.1 4"),
        "admin answered {status:?} after {took:?}"
    );
    assert!(took < deadline * 4, "admin answered after {took:?}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert_eq!(db.count_events(site.id).await.unwrap(), 2);
}

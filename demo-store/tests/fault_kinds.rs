//! Every fault kind of the demo store over real HTTP on a loopback socket:
//! error rate with a status, added latency, hang (bounded by its schedule),
//! connection reset (a TCP RST, not a polite close), malformed JSON, API
//! version mismatch, schedules from t1 to t2, and the control token.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use steadycart_demo_store::{now_ms, StoreConfig};

const TOKEN: &str = "control-token-for-tests";

struct Store {
    url: String,
    addr: std::net::SocketAddr,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Store {
    async fn start() -> Store {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = StoreConfig {
            collector_url: "http://127.0.0.1:9".into(),
            site_key: "pk_test".into(),
            control_token: TOKEN.into(),
            snippet_attrs: String::new(),
        };
        tokio::spawn(steadycart_demo_store::serve(listener, config, async {
            let _ = stopped.await;
        }));
        Store {
            url: format!("http://{addr}"),
            addr,
            http: reqwest::Client::new(),
            _stop: stop,
        }
    }

    async fn set(&self, endpoint: &str, rule: Value) -> reqwest::Response {
        self.http
            .put(format!("{}/control/faults/{endpoint}", self.url))
            .header("x-control-token", TOKEN)
            .json(&rule)
            .send()
            .await
            .unwrap()
    }

    async fn fault(&self, endpoint: &str, rule: Value) {
        let res = self.set(endpoint, rule).await;
        assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    }

    async fn checkout(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/api/checkout", self.url))
            .json(&json!({"items": [{"sku": "kbd-75", "qty": 1}]}))
            .send()
            .await
    }
}

#[tokio::test]
async fn error_rate_hits_that_share_of_calls_with_the_status() {
    let s = Store::start().await;
    s.fault(
        "checkout",
        json!({"mode": "error", "status": 502, "rate": 0.5}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(s.checkout().await.unwrap().status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 502).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    // Other endpoints are untouched.
    let res = s
        .http
        .get(format!("{}/api/price/kbd-75", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn delay_adds_latency_then_answers_normally() {
    let s = Store::start().await;
    s.fault("price", json!({"mode": "delay", "ms": 400})).await;
    let t = Instant::now();
    let res = s
        .http
        .get(format!("{}/api/price/kbd-75", s.url))
        .send()
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["price_cents"], 8900);
}

#[tokio::test]
async fn hang_holds_the_call_until_its_schedule_ends() {
    let s = Store::start().await;
    s.fault("payment", json!({"mode": "hang", "for_ms": 1500}))
        .await;
    let quick = s
        .http
        .post(format!("{}/api/payment", s.url))
        .json(&json!({"order_id": "A-1"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(quick.unwrap_err().is_timeout(), "no answer while hanging");
    // A call that waits gets 504 once the rule's window is over …
    let t = Instant::now();
    let res = s
        .http
        .post(format!("{}/api/payment", s.url))
        .json(&json!({"order_id": "A-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);
    assert!(t.elapsed() >= Duration::from_millis(500));
    // … and afterwards payment works again.
    let res = s
        .http
        .post(format!("{}/api/payment", s.url))
        .json(&json!({"order_id": "A-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn reset_aborts_the_connection_with_a_tcp_rst() {
    let s = Store::start().await;
    s.fault("checkout", json!({"mode": "reset", "rate": 1}))
        .await;
    let err = s.checkout().await.unwrap_err();
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");

    // On a raw socket: a reset (ECONNRESET), not an answer or a clean close.
    let addr = s.addr;
    let (read, got) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = r#"{"items":[{"sku":"kbd-75","qty":1}]}"#;
        sock.write_all(
            format!(
                "POST /api/checkout HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        let mut buf = Vec::new();
        let read = sock.read_to_end(&mut buf).map_err(|e| e.kind());
        (read, String::from_utf8_lossy(&buf).into_owned())
    })
    .await
    .unwrap();
    assert_eq!(
        read,
        Err(std::io::ErrorKind::ConnectionReset),
        "got {got:?}"
    );

    s.fault("checkout", json!({"mode": "none"})).await;
    assert_eq!(s.checkout().await.unwrap().status(), 200);
}

#[tokio::test]
async fn malformed_json_is_a_200_that_does_not_parse() {
    let s = Store::start().await;
    s.fault("cart", json!({"mode": "malformed_json"})).await;
    let res = s
        .http
        .post(format!("{}/api/cart", s.url))
        .json(&json!({"items": [{"sku": "kbd-75", "qty": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let text = res.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn version_mismatch_is_a_400_with_a_schema_error() {
    let s = Store::start().await;
    s.fault("checkout", json!({"mode": "version_mismatch"}))
        .await;
    let res = s.checkout().await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "schema_mismatch", "{body}");
    assert_eq!(body["field"], "items", "{body}");
    assert!(body["api_version"].is_string(), "{body}");
}

#[tokio::test]
async fn a_schedule_applies_from_t1_to_t2_only() {
    let s = Store::start().await;
    let t1 = now_ms() + 1500;
    let t2 = t1 + 2500;
    s.fault(
        "checkout",
        json!([{"mode": "error", "status": 503, "from_ms": t1, "until_ms": t2}]),
    )
    .await;
    let listed: Value = s
        .http
        .get(format!("{}/control/faults", s.url))
        .header("x-control-token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["faults"]["checkout"][0]["from_ms"], t1, "{listed}");
    assert_eq!(s.checkout().await.unwrap().status(), 200, "before t1");
    tokio::time::sleep(Duration::from_millis((t1 + 300 - now_ms()).max(0) as u64)).await;
    assert_eq!(
        s.checkout().await.unwrap().status(),
        503,
        "between t1 and t2"
    );
    tokio::time::sleep(Duration::from_millis((t2 + 100 - now_ms()).max(0) as u64)).await;
    assert_eq!(s.checkout().await.unwrap().status(), 200, "after t2");
    let listed: Value = s
        .http
        .get(format!("{}/control/faults", s.url))
        .header("x-control-token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["faults"], json!({}), "expired rules are gone");
}

#[tokio::test]
async fn control_needs_the_token_and_names_bad_fields() {
    let s = Store::start().await;
    for token in [None, Some(""), Some("wrong-token")] {
        let mut req = s
            .http
            .put(format!("{}/control/faults/checkout", s.url))
            .json(&json!({"mode": "error", "status": 503}));
        if let Some(t) = token {
            req = req.header("x-control-token", t);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{token:?}");
        let mut req = s.http.get(format!("{}/control/faults", s.url));
        if let Some(t) = token {
            req = req.header("x-control-token", t);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{token:?}");
        let mut req = s.http.delete(format!("{}/control/faults", s.url));
        if let Some(t) = token {
            req = req.header("x-control-token", t);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{token:?}");
    }
    assert_eq!(s.checkout().await.unwrap().status(), 200, "nothing was set");

    let res = s
        .set("checkout", json!({"mode": "error", "status": 200}))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "status");
    let res = s.set("checkout", json!({"mode": "explode"})).await;
    assert_eq!(res.status(), 400);
    let res = s.set("nowhere", json!({"mode": "hang"})).await;
    assert!(res.status().is_client_error());

    // The page itself holds no data and no snippet, and is not cached.
    let res = s
        .http
        .get(format!("{}/control", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("Control token") && !html.contains("steadycart.js"));

    s.fault("checkout", json!({"mode": "error", "status": 503}))
        .await;
    let res = s
        .http
        .delete(format!("{}/control/faults", s.url))
        .header("x-control-token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(s.checkout().await.unwrap().status(), 200, "cleared");
}

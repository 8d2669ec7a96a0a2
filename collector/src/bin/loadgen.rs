//! `loadgen`: a small HTTP load generator for `POST /v1/ingest`, run as its
//! own process so benchmarks and flood tests measure the collector over real
//! loopback sockets (not in-process calls).
//!
//! It sends batches of `--batch` valid events from `--concurrency` workers,
//! either as fast as answers come back (`--rate 0`) or at a fixed total rate
//! of batches per second, for `--duration-ms`, optionally from a chosen local
//! address (`--local-addr 127.0.0.66`, any of 127.0.0.0/8 works on Linux) so
//! tests can play distinct client IPs. It prints one JSON object: requests
//! sent, answers by status, events accepted and latency percentiles.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "loadgen",
    about = "Load generator for the collector's ingest endpoint"
)]
struct Args {
    /// Collector base URL, e.g. http://127.0.0.1:7070.
    #[arg(long)]
    url: String,
    /// Site key.
    #[arg(long)]
    key: String,
    /// `Origin` header to send (none by default).
    #[arg(long)]
    origin: Option<String>,
    /// Concurrent workers (connections).
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    /// Total batches per second across workers; 0 = as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Events per batch.
    #[arg(long, default_value_t = 20)]
    batch: u32,
    /// How long to send.
    #[arg(long, default_value_t = 5_000)]
    duration_ms: u64,
    /// Local address to send from.
    #[arg(long)]
    local_addr: Option<IpAddr>,
    /// Seed of event ids (distinct runs must differ to avoid duplicates).
    #[arg(long, default_value_t = 1)]
    seed: u32,
    /// Back off for `Retry-After` on 429/503 instead of retrying at once.
    #[arg(long)]
    honour_retry_after: bool,
    /// Also stop when standard input closes (a test drives the end).
    #[arg(long)]
    until_stdin_closes: bool,
}

#[derive(Default)]
struct Tally {
    status: BTreeMap<u16, u64>,
    errors: u64,
    latencies_us: Vec<u32>,
}

fn batch_body(seed: u32, worker: u32, n: u64, size: u32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut events = Vec::with_capacity(size as usize);
    for i in 0..size {
        let kind = match i % 4 {
            0 => {
                r#""type":"call","role":"checkout","outcome":"http_error","method":"POST","url":"https://shop.example/api/checkout","status":503,"duration_ms":84"#
            }
            1 => {
                r#""type":"call","role":"price","outcome":"ok","method":"GET","url":"https://shop.example/api/price/42","status":200,"duration_ms":31"#
            }
            2 => r#""type":"cart_activity""#,
            _ => r#""type":"checkout_started""#,
        };
        events.push(format!(
            r#"{{"id":"{seed:08x}{worker:06x}{n:012x}{i:06x}","ts":{now},"session":"s_{seed:08x}{worker:06x}{:04x}","page":"/checkout",{kind}}}"#,
            n % 0x1000
        ));
    }
    format!(
        r#"{{"v":1,"sdk":"loadgen","sent_at":{now},"events":[{}]}}"#,
        events.join(",")
    )
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency as usize);
    if let Some(addr) = args.local_addr {
        builder = builder.local_address(addr);
    }
    let client = builder.build()?;
    let endpoint = format!(
        "{}/v1/ingest?key={}",
        args.url.trim_end_matches('/'),
        args.key
    );
    let tally = Arc::new(Mutex::new(Tally::default()));
    let accepted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_millis(args.duration_ms);
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if args.until_stdin_closes {
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            stopped.store(true, Ordering::Relaxed);
        });
    }
    let workers: Vec<_> = (0..args.concurrency)
        .map(|w| {
            let (client, endpoint, tally, accepted, args, stopped) = (
                client.clone(),
                endpoint.clone(),
                tally.clone(),
                accepted.clone(),
                args.clone(),
                stopped.clone(),
            );
            let running = move || Instant::now() < deadline && !stopped.load(Ordering::Relaxed);
            tokio::spawn(async move {
                let mut ticker = (args.rate > 0.0).then(|| {
                    let every = Duration::from_secs_f64(f64::from(args.concurrency) / args.rate);
                    let mut t = tokio::time::interval(every);
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    t
                });
                let mut n: u64 = 0;
                let mut local = Tally::default();
                while running() {
                    if let Some(t) = ticker.as_mut() {
                        t.tick().await;
                        if !running() {
                            break;
                        }
                    }
                    n += 1;
                    let body = batch_body(args.seed, w, n, args.batch);
                    let mut req = client
                        .post(&endpoint)
                        .header("content-type", "text/plain;charset=UTF-8")
                        .body(body);
                    if let Some(o) = &args.origin {
                        req = req.header("origin", o);
                    }
                    let sent = Instant::now();
                    match req.send().await {
                        Ok(res) => {
                            let status = res.status().as_u16();
                            let retry_after = res
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<u64>().ok());
                            let body = res.bytes().await.unwrap_or_default();
                            local
                                .latencies_us
                                .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            *local.status.entry(status).or_default() += 1;
                            if status == 200 {
                                let n = serde_json::from_slice::<serde_json::Value>(&body)
                                    .ok()
                                    .and_then(|v| v["accepted"].as_u64())
                                    .unwrap_or(0);
                                accepted.fetch_add(n, Ordering::Relaxed);
                            } else if args.honour_retry_after {
                                if let Some(secs) = retry_after {
                                    let wait = Duration::from_secs(secs)
                                        .min(deadline.saturating_duration_since(Instant::now()));
                                    tokio::time::sleep(wait).await;
                                }
                            }
                        }
                        Err(_) => {
                            local.errors += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                for (k, v) in local.status {
                    *t.status.entry(k).or_default() += v;
                }
                t.errors += local.errors;
                t.latencies_us.extend(local.latencies_us);
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    tally.latencies_us.sort_unstable();
    let sent: u64 = tally.status.values().sum::<u64>() + tally.errors;
    let ok = tally.status.get(&200).copied().unwrap_or(0);
    let events = accepted.load(Ordering::Relaxed);
    let status: BTreeMap<String, u64> = tally
        .status
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let report = json!({
        "sent": sent,
        "ok": ok,
        "status": status,
        "errors": tally.errors,
        "events_accepted": events,
        "elapsed_s": elapsed,
        "batches_ok_per_s": ok as f64 / elapsed,
        "events_per_s": events as f64 / elapsed,
        "latency_ms": {
            "p50": percentile(&tally.latencies_us, 0.50),
            "p90": percentile(&tally.latencies_us, 0.90),
            "p99": percentile(&tally.latencies_us, 0.99),
            "max": percentile(&tally.latencies_us, 1.0),
        },
    });
    #[allow(clippy::print_stdout)] // the report is the program's output
    {
        println!("{report}");
    }
    Ok(())
}

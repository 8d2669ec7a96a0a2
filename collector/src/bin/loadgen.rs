//! `loadgen`: a small HTTP load generator for `POST /v1/ingest`, run as its
//! own process so benchmarks and flood tests measure the collector over real
//! loopback sockets (not in-process calls).
//!
//! It sends batches of `--batch` valid events from `--concurrency` workers,
//! either as fast as answers come back (`--rate 0`) or at a fixed total rate
//! of batches per second, for `--duration-ms`, optionally from a chosen local
//! address (`--local-addr 127.0.0.66`, any of 127.0.0.0/8 works on Linux) so
//! tests can play distinct client IPs. With `--open-loop` the rate is kept
//! whatever the answers take, like independent shoppers (each arrival its own
//! request, at most `--concurrency` in flight; arrivals beyond that are
//! counted as `skipped`): the way to offer more than a server can take. It
//! prints one JSON object: requests sent, answers by status (and how many
//! refusals carried `Retry-After`), events accepted and latency percentiles.

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
    /// Keep `--rate` whatever answers take: each arrival is its own request,
    /// `--concurrency` is the most in flight at once.
    #[arg(long, requires = "rate")]
    open_loop: bool,
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
    /// Refusals (non-200 answers) that carried `Retry-After`, by status.
    retry_after: BTreeMap<u16, u64>,
    errors: u64,
    /// Open loop: arrivals not sent because `--concurrency` were in flight.
    skipped: u64,
    latencies_us: Vec<u32>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (k, v) in other.status {
            *self.status.entry(k).or_default() += v;
        }
        for (k, v) in other.retry_after {
            *self.retry_after.entry(k).or_default() += v;
        }
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.latencies_us.extend(other.latencies_us);
    }
}

/// What one request got back.
enum Answer {
    Status {
        status: u16,
        retry_after: Option<u64>,
        accepted: u64,
    },
    Failed,
}

/// `{"accepted": n, …}` of a 200.
#[derive(serde::Deserialize)]
struct Accepted {
    accepted: u64,
}

/// Send one batch and read the whole answer.
async fn send_one(
    client: &reqwest::Client,
    endpoint: &str,
    origin: Option<&str>,
    body: String,
) -> Answer {
    let mut req = client
        .post(endpoint)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = match req.send().await {
        Ok(res) => res,
        Err(_) => return Answer::Failed,
    };
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = res.bytes().await.unwrap_or_default();
    let accepted = if status == 200 {
        serde_json::from_slice::<Accepted>(&body).map_or(0, |a| a.accepted)
    } else {
        0
    };
    Answer::Status {
        status,
        retry_after,
        accepted,
    }
}

impl Tally {
    /// Count `answer`, which took `took`; its `Retry-After`, if any.
    fn record(&mut self, answer: &Answer, took: Duration, accepted: &AtomicU64) -> Option<u64> {
        match *answer {
            Answer::Status {
                status,
                retry_after,
                accepted: n,
            } => {
                self.latencies_us
                    .push(took.as_micros().min(u32::MAX as u128) as u32);
                *self.status.entry(status).or_default() += 1;
                if status == 200 {
                    accepted.fetch_add(n, Ordering::Relaxed);
                } else if retry_after.is_some() {
                    *self.retry_after.entry(status).or_default() += 1;
                }
                retry_after.filter(|_| status != 200)
            }
            Answer::Failed => {
                self.errors += 1;
                None
            }
        }
    }
}

fn batch_body(seed: u32, worker: u32, n: u64, size: u32) -> String {
    use std::fmt::Write;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut out = String::with_capacity(64 + 260 * size as usize);
    // Writing into a String cannot fail.
    let _ = write!(out, r#"{{"v":1,"sdk":"loadgen","sent_at":{now},"events":["#);
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
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"id":"{seed:08x}{worker:06x}{n:012x}{i:06x}","ts":{now},"session":"s_{seed:08x}{worker:06x}{:04x}","page":"/checkout",{kind}}}"#,
            n % 0x1000
        );
    }
    out.push_str("]}");
    out
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
    let endpoint: Arc<str> = format!(
        "{}/v1/ingest?key={}",
        args.url.trim_end_matches('/'),
        args.key
    )
    .into();
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
    let running = {
        let stopped = stopped.clone();
        move || Instant::now() < deadline && !stopped.load(Ordering::Relaxed)
    };
    if args.open_loop {
        open_loop(&args, &client, &endpoint, &tally, &accepted, running).await;
    } else {
        closed_loop(
            &args, &client, &endpoint, &tally, &accepted, deadline, running,
        )
        .await?;
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
    let by_status = |m: &BTreeMap<u16, u64>| -> BTreeMap<String, u64> {
        m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let report = json!({
        "sent": sent,
        "ok": ok,
        "status": by_status(&tally.status),
        "retry_after": by_status(&tally.retry_after),
        "errors": tally.errors,
        "skipped": tally.skipped,
        "events_accepted": events,
        "elapsed_s": elapsed,
        "sent_per_s": sent as f64 / elapsed,
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

/// `--concurrency` workers, each sending its next batch when the previous
/// one is answered (paced to its share of `--rate` when one is set).
async fn closed_loop(
    args: &Args,
    client: &reqwest::Client,
    endpoint: &Arc<str>,
    tally: &Arc<Mutex<Tally>>,
    accepted: &Arc<AtomicU64>,
    deadline: Instant,
    running: impl Fn() -> bool + Clone + Send + 'static,
) -> anyhow::Result<()> {
    let workers: Vec<_> = (0..args.concurrency)
        .map(|w| {
            let (client, endpoint, tally, accepted, args, running) = (
                client.clone(),
                endpoint.clone(),
                tally.clone(),
                accepted.clone(),
                args.clone(),
                running.clone(),
            );
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
                    let sent = Instant::now();
                    let answer = send_one(&client, &endpoint, args.origin.as_deref(), body).await;
                    let retry_after = local.record(&answer, sent.elapsed(), &accepted);
                    if matches!(answer, Answer::Failed) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    } else if let Some(secs) = retry_after.filter(|_| args.honour_retry_after) {
                        let left = deadline.saturating_duration_since(Instant::now());
                        tokio::time::sleep(Duration::from_secs(secs).min(left)).await;
                    }
                }
                tally.lock().unwrap_or_else(|e| e.into_inner()).merge(local);
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    Ok(())
}

/// Arrivals at `--rate` whatever the answers take, at most `--concurrency`
/// in flight (beyond that an arrival is skipped and counted). Arrivals are
/// released every millisecond, as many as are due, so rates above 1,000/s
/// don't depend on the timer's resolution. `--honour-retry-after` has no
/// effect here: arrivals are independent senders.
async fn open_loop(
    args: &Args,
    client: &reqwest::Client,
    endpoint: &Arc<str>,
    tally: &Arc<Mutex<Tally>>,
    accepted: &Arc<AtomicU64>,
    running: impl Fn() -> bool,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(args.concurrency as usize));
    let started = Instant::now();
    let mut due_so_far: u64 = 0;
    let mut skipped = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    while running() {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * args.rate) as u64;
        for n in due_so_far..due {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                skipped += 1;
                continue;
            };
            let (client, endpoint, tally, accepted, origin) = (
                client.clone(),
                endpoint.clone(),
                tally.clone(),
                accepted.clone(),
                args.origin.clone(),
            );
            // Ids stay distinct: the arrival number plays the worker.
            let body = batch_body(args.seed, (n >> 24) as u32, n & 0xff_ffff, args.batch);
            tasks.spawn(async move {
                let sent = Instant::now();
                let answer = send_one(&client, &endpoint, origin.as_deref(), body).await;
                let took = sent.elapsed();
                drop(slot);
                tally
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record(&answer, took, &accepted);
            });
        }
        due_so_far = due.max(due_so_far);
        // Reap finished arrivals so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    tally.lock().unwrap_or_else(|e| e.into_inner()).skipped += skipped;
}

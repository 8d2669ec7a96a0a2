//! Durability: a collector killed with SIGKILL in the middle of steady load
//! loses no event it answered 2xx for. The real binary runs as a child
//! process; four clients send batches of unique events and note the ids of
//! every batch answered 200; the collector is killed outright mid-load and
//! restarted on the same database; every noted id must be stored (SQLite file
//! and PostgreSQL). A SIGTERM under the same load drains: the process exits
//! cleanly within a bound and, again, every acknowledged event is stored.

mod common;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use steadycart_collector::store::Db;

async fn start(db_url: &str, port: u16) -> Collector {
    Collector::spawn_on(port, ["--database-url", db_url, "--signals-disabled"])
        .ready()
        .await
}

/// A batch of 5 events with ids unique to (`client`, `n`).
fn batch(client: u32, n: u32) -> (String, Vec<String>) {
    let now = now_ms();
    let ids: Vec<String> = (0..5)
        .map(|i| format!("{client:08x}{n:08x}{i:016x}"))
        .collect();
    let events: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","ts":{now},"session":"s_kill9_session_1","page":"/checkout","type":"call","role":"checkout","outcome":"ok","method":"POST","url":"https://shop.example/api/checkout","status":200,"duration_ms":42}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"v":1,"sdk":"kill9","sent_at":{now},"events":[{}]}}"#,
        events.join(",")
    );
    (body, ids)
}

async fn stored_ids(db: &Db, site_id: i64) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut after = 0;
    loop {
        let (events, next) = db.events_page(site_id, after, 1000).await.unwrap();
        if events.is_empty() {
            return ids;
        }
        ids.extend(events.into_iter().map(|e| e.event.id));
        match next {
            Some(n) => after = n,
            None => return ids,
        }
    }
}

/// Clients sending batches until stopped, noting every acknowledged id.
struct Load {
    accepted: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(url: &str, clients: u32) -> Load {
        let accepted: Arc<Mutex<Vec<String>>> = Default::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients = (0..clients)
            .map(|c| {
                let (url, accepted, stop) = (url.to_string(), accepted.clone(), stop.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .unwrap();
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n += 1;
                        let (body, ids) = batch(c, n);
                        let res = http
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        match res {
                            Ok(r) if r.status().is_success() => {
                                accepted.lock().unwrap().extend(ids)
                            }
                            // Refused or cut off: the client would resend; not counted.
                            _ => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                })
            })
            .collect();
        Load {
            accepted,
            stop,
            clients,
        }
    }

    fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    async fn until(&self, n: usize) {
        while self.count() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn finish(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in self.clients {
            c.await.unwrap();
        }
        let ids = self.accepted.lock().unwrap().clone();
        ids
    }
}

fn assert_all_stored(accepted: &[String], stored: &HashSet<String>) {
    let lost: Vec<&String> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted events lost, e.g. {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(3)]
    );
}

async fn term_under_load(t: &TestDb) {
    let site = add_site(&t.db, ORIGIN).await;
    let port = free_port();
    let mut collector = start(&t.url, port).await;
    let load = Load::start(
        &format!("http://127.0.0.1:{port}/v1/ingest?key={}", site.key),
        4,
    );
    load.until(1000).await;
    let (took, status) = collector.terminate(Duration::from_secs(10)).await;
    let accepted = load.finish().await;
    assert!(status.success(), "SIGTERM exit: {status}");
    assert_all_stored(&accepted, &stored_ids(&t.db, site.id).await);
    eprintln!(
        "SIGTERM: exited cleanly in {took:?}; {} acknowledged events all stored",
        accepted.len()
    );
}

async fn kill_under_load(t: &TestDb) {
    let site = add_site(&t.db, ORIGIN).await;
    let port = free_port();
    let mut collector = start(&t.url, port).await;
    let url = format!("http://127.0.0.1:{port}/v1/ingest?key={}", site.key);

    let load = Load::start(&url, 4);
    // Load until a good number of batches are in, then SIGKILL mid-stream.
    load.until(1000).await;
    collector.kill9();
    let at_kill = load.count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let accepted = load.finish().await;
    assert!(
        accepted.len() <= at_kill + 20,
        "answers after the kill: {} then {}",
        at_kill,
        accepted.len()
    );

    // Restart on the same database: everything answered 2xx is there.
    drop(collector);
    let _restarted = start(&t.url, port).await;
    let stored = stored_ids(&t.db, site.id).await;
    assert_all_stored(&accepted, &stored);
    // The restarted collector takes new events.
    let (body, ids) = batch(99, 1);
    let res = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(stored_ids(&t.db, site.id).await.contains(&ids[0]));
    eprintln!(
        "kill -9: {} events accepted before the kill, all {} stored",
        accepted.len(),
        stored.len()
    );
}

#[tokio::test]
async fn sigkill_loses_no_accepted_event_sqlite() {
    let t = TestDb::sqlite().await;
    kill_under_load(&t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn sigkill_loses_no_accepted_event_postgres() {
    let t = TestDb::postgres().await;
    kill_under_load(&t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn sigterm_drains_and_exits_sqlite() {
    let t = TestDb::sqlite().await;
    term_under_load(&t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn sigterm_drains_and_exits_postgres() {
    let t = TestDb::postgres().await;
    term_under_load(&t).await;
    t.cleanup().await;
}

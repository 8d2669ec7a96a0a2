//! The writer's WAL on SQLite: automatic checkpoints are off on the writer's
//! connection, and the background checkpointer plus the writer's catch-up
//! keep the WAL file bounded under sustained writes, with every committed
//! event stored (`collector/src/ingest/checkpoint.rs`).

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use steadycart_collector::{
    ingest::{checkpoint::WalPolicy, writer},
    metrics::Metrics,
    store::events::EventRow,
};

const MIB: u64 = 1 << 20;

fn batch(site: i64, client: u32, n: u32) -> Vec<EventRow> {
    // ~2 KB bodies: 50 rows a batch, ~100 KB of pages a batch.
    let pad = "x".repeat(2000);
    (0..50)
        .map(|i| {
            let id = format!("{client:08x}{n:012x}{i:012x}");
            EventRow {
                site_id: site,
                event_id: id.clone(),
                session_id: format!("s_wal_{client}_{}", n % 7),
                kind: "page_exit",
                client_ts: 1,
                received_at: 1,
                body: format!(
                    r#"{{"id":"{id}","ts":1,"session":"s_wal","type":"page_exit","pad":"{pad}"}}"#
                ),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_sustained_writes_and_nothing_is_lost() {
    let t = TestDb::sqlite().await;
    let site = add_site(&t.db, ORIGIN).await;
    let wal_file = format!("{}-wal", t.url.trim_start_matches("sqlite://"));
    let policy = WalPolicy {
        interval: Duration::from_millis(20),
        restart_frames: 256,
        max_wal_bytes: 4 * MIB,
    };
    let settings = writer::WriterSettings {
        capacity: 64,
        max_events: 2000,
        max_wait: Duration::from_secs(60),
    };
    let (queue, task) =
        writer::spawn_with_wal(t.db.clone(), settings, Arc::new(Metrics::new()), policy);
    // 8 clients × 60 batches × 50 rows × ~2 KB: ≈ 50 MB through the WAL,
    // over ten times its cap.
    let (clients, batches) = (8u32, 60u32);
    let mut senders = Vec::new();
    for client in 0..clients {
        let (queue, wal_file) = (queue.clone(), wal_file.clone());
        senders.push(tokio::spawn(async move {
            let mut largest = 0;
            for n in 0..batches {
                queue.write(batch(site.id, client, n)).await.unwrap();
                largest = largest.max(std::fs::metadata(&wal_file).map_or(0, |m| m.len()));
            }
            largest
        }));
    }
    let mut largest = 0;
    for s in senders {
        largest = largest.max(s.await.unwrap());
    }
    drop(queue);
    task.finish().await;

    // The cap, plus what the commits that crossed it wrote: at most 8
    // batches (≈ 1 MB) a commit, and one more commit before the restart.
    assert!(
        largest <= policy.max_wal_bytes + 3 * MIB,
        "WAL file reached {:.1} MiB",
        largest as f64 / MIB as f64
    );
    assert_eq!(
        t.db.count_events(site.id).await.unwrap(),
        i64::from(clients * batches * 50),
        "every committed event is stored"
    );
    t.cleanup().await;
}

//! `[ingest] max_queue_wait`: while the writer is stuck (another session
//! holds the events table's write lock), an ingest request answers 503 +
//! `Retry-After` once the bound passes instead of hanging; the writer skips
//! the queued batch it answered so, but still stores one whose client went
//! away without an answer (a closing page's beacon is never sent again);
//! nothing acknowledged is lost and the retried batches are stored exactly
//! once. On SQLite and PostgreSQL,
//! over real connections. Assertions are on statuses and counts: the lock
//! is held until both requests have answered, so without the bound they
//! would hang (PostgreSQL) or answer after SQLite's busy timeout with its
//! `Retry-After`, not `busy_retry_after`.

mod common;

use std::time::Duration;

use common::*;
use steadycart_collector::{config::Config, http::app, AppState};

async fn stuck_writer_answers_503_in_time(t: TestDb) {
    const N: u32 = 4;
    let site = add_site(&t.db, ORIGIN).await;
    let mut config = Config::default();
    config.ingest.max_queue_wait = Duration::from_secs(1);
    config.ingest.busy_retry_after = Duration::from_secs(3);
    let (state, writer) = AppState::start(t.db.clone(), config);
    let router = app(state.clone());
    let ingest = |seed| ingest_req(&site.key, None, "application/json", batch_json(seed, N));

    // The writer's connection is open and the site is cached.
    assert_eq!(send(&router, ingest(1)).await.0, 200);

    let release = block_writer(&t.url).await;
    // A reaches the writer, which blocks in its commit; B queues behind it.
    let a = tokio::spawn({
        let (router, req) = (router.clone(), ingest(2));
        async move { send(&router, req).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = tokio::spawn({
        let (router, req) = (router.clone(), ingest(3));
        async move { send(&router, req).await }
    });
    // D's client goes away (the request future is dropped) before the bound.
    let d = tokio::spawn({
        let (router, req) = (router.clone(), ingest(5));
        async move { send(&router, req).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.abort();
    for (name, task) in [("A", a), ("B", b)] {
        // Bounded only so a regression fails instead of hanging the suite.
        let (status, res) = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap_or_else(|_| panic!("{name} still waiting 30 s after the bound"))
            .unwrap();
        assert_eq!(status, 503, "{name} while the writer is stuck");
        assert_eq!(
            res.headers()["retry-after"],
            "3",
            "{name}: busy_retry_after"
        );
    }
    let _ = release.send(());

    // The writer finishes A's commit, skips B (answered 503), commits D and
    // takes C: the queue is first in, first out, so C's 200 means B and D
    // were seen.
    assert_eq!(send(&router, ingest(4)).await.0, 200);
    assert_eq!(
        state.metrics.writer_skipped_batches.get(),
        1,
        "B is skipped, A (already in its commit) is not"
    );
    assert_eq!(
        stored_batch(&t.db, site.id, 2).await,
        i64::from(N),
        "A was in its commit"
    );
    assert_eq!(stored_batch(&t.db, site.id, 3).await, 0, "B was skipped");
    assert_eq!(
        stored_batch(&t.db, site.id, 5).await,
        i64::from(N),
        "D, whose client went away unanswered, is stored"
    );

    // The client sends both again after Retry-After: each stored once.
    assert_eq!(send(&router, ingest(2)).await.0, 200);
    assert_eq!(send(&router, ingest(3)).await.0, 200);
    for seed in 1..=4 {
        assert_eq!(
            stored_batch(&t.db, site.id, seed).await,
            i64::from(N),
            "batch {seed}"
        );
    }
    assert_eq!(t.db.count_events(site.id).await.unwrap(), i64::from(5 * N));

    drop(router);
    drop(state);
    writer.finish().await;
    t.cleanup().await;
}

#[tokio::test]
async fn sqlite_stuck_writer_answers_503_in_time() {
    stuck_writer_answers_503_in_time(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn postgres_stuck_writer_answers_503_in_time() {
    stuck_writer_answers_503_in_time(TestDb::postgres().await).await;
}

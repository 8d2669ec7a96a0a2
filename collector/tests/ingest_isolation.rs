//! One batch whose data the database refuses must not fail the batches that
//! share its group commit. The database is given a rule the validation does
//! not know (PostgreSQL: a CHECK constraint; SQLite: a trigger raising
//! ABORT), and the writer is held so a refused batch and good batches are
//! committed together: the refused one answers 400 (sending it again would
//! fail the same way), the others 200 and are stored. On SQLite and
//! PostgreSQL, over real connections.

mod common;

use common::*;
use steadycart_collector::store::Db;

const POISON: &str = "POISONED-ORDER";

async fn refuse_poison(db: &Db) {
    match db {
        Db::Sqlite(p) => {
            sqlx::query(&format!(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON events \
                 WHEN NEW.body LIKE '%{POISON}%' BEGIN SELECT RAISE(ABORT, 'poison'); END"
            ))
            .execute(p)
            .await
            .unwrap();
        }
        Db::Postgres(p) => {
            sqlx::query(&format!(
                "ALTER TABLE events ADD CONSTRAINT refuse_poison CHECK (body NOT LIKE '%{POISON}%')"
            ))
            .execute(p)
            .await
            .unwrap();
        }
    }
}

fn poison_batch(seed: u32) -> String {
    let now = now_ms();
    format!(
        r#"{{"v":1,"sdk":"test","sent_at":{now},"events":[{{"id":"{seed:08x}000000000000000000000000","ts":{now},"session":"s_test_session_01","type":"checkout_completed","order_id":"{POISON}"}}]}}"#
    )
}

async fn refused_batch_fails_alone(t: TestDb) {
    const N: u32 = 3;
    let site = add_site(&t.db, ORIGIN).await;
    refuse_poison(&t.db).await;
    let (router, _state, writer) = test_app(t.db.clone());
    let good = |seed| ingest_req(&site.key, None, "application/json", batch_json(seed, N));
    assert_eq!(send(&router, good(1)).await.0, 200);

    // A refused batch alone: 400, named, not 503 (which the snippet retries).
    let (status, res) = send(
        &router,
        ingest_req(&site.key, None, "application/json", poison_batch(9)),
    )
    .await;
    assert_eq!(status, 400);
    let body = json_body(res).await;
    assert_eq!(body["field"], "events", "{body}");

    // Held: X is taken into the blocked commit alone; then the refused batch
    // and two good ones queue, and are taken into one group commit.
    let release = block_writer(&t.url).await;
    let spawn = |req| {
        let router = router.clone();
        tokio::spawn(async move { send(&router, req).await.0 })
    };
    let x = spawn(good(2));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let p = spawn(ingest_req(
        &site.key,
        None,
        "application/json",
        poison_batch(10),
    ));
    let g1 = spawn(good(3));
    let g2 = spawn(good(4));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = release.send(());

    assert_eq!(x.await.unwrap(), 200, "X");
    assert_eq!(p.await.unwrap(), 400, "the refused batch");
    assert_eq!(g1.await.unwrap(), 200, "a good batch in the same commit");
    assert_eq!(g2.await.unwrap(), 200, "a good batch in the same commit");
    for seed in 1..=4 {
        assert_eq!(
            stored_batch(&t.db, site.id, seed).await,
            i64::from(N),
            "batch {seed}"
        );
    }
    assert_eq!(t.db.count_events(site.id).await.unwrap(), i64::from(4 * N));
    drop(router);
    drop(_state);
    writer.finish().await;
    t.cleanup().await;
}

#[tokio::test]
async fn sqlite_refused_batch_fails_alone() {
    refused_batch_fails_alone(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn postgres_refused_batch_fails_alone() {
    refused_batch_fails_alone(TestDb::postgres().await).await;
}

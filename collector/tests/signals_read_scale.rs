//! Reads over 30 days of one-minute rollups stay fast: 43,200 bucket rows
//! and 216,000 endpoint rows for the site (plus a noisy neighbour site), then
//! the series reads the API and the view make. Prints the timings; the bound
//! asserted is deliberately generous (a shared 2-core machine).

mod common;

use std::time::Instant;

use steadycart_collector::{signals::store, store::Db};

const MINUTE: i64 = 60_000;
const BUCKETS: i64 = 30 * 24 * 60;

async fn fill(db: &Db, site_id: i64) {
    // Generated in SQL: 30 days of buckets, five endpoints each.
    let buckets = format!(
        "INSERT INTO signal_buckets (site_id, bucket_start, bucket_ms, sessions, checkout_starts, completions, abandonments, \
         abandon_after_trouble, calls, errors, stalls, causes, samples) \
         SELECT {site_id}, n * {MINUTE}, {MINUTE}, 50, 35, 28, 7, 1, 180, 2, 0, '{{}}', '[]' FROM series"
    );
    let dims = format!(
        "INSERT INTO signal_dims (site_id, dim, key, bucket_start, calls, errors, stalls, p50_ms, p95_ms, statuses) \
         SELECT {site_id}, 'endpoint', 'GET /api/e' || e, n * {MINUTE}, 36, 0, 0, 80, 240, '{{}}' FROM series, \
         (SELECT 1 AS e UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) AS endpoints"
    );
    match db {
        Db::Sqlite(pool) => {
            let cte = format!("WITH RECURSIVE series(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM series WHERE n + 1 < {BUCKETS}) ");
            sqlx::query(&format!("{cte}{buckets}"))
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(&format!("{cte}{dims}"))
                .execute(pool)
                .await
                .unwrap();
        }
        Db::Postgres(pool) => {
            let cte =
                format!("WITH series(n) AS (SELECT generate_series(0, {BUCKETS} - 1)::BIGINT) ");
            sqlx::query(&format!("{cte}{buckets}"))
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(&format!("{cte}{dims}"))
                .execute(pool)
                .await
                .unwrap();
            sqlx::query("ANALYZE").execute(pool).await.unwrap();
        }
    }
}

both_backends!(thirty_days_of_rollups_read_fast, |db: Db| async move {
    let site = common::add_site(&db, common::ORIGIN).await;
    let other = common::add_site(&db, "https://other.example").await;
    fill(&db, site.id).await;
    fill(&db, other.id).await;
    let end = BUCKETS * MINUTE;
    for (what, from, step) in [
        ("30 days by the hour", 0, 60 * MINUTE),
        ("30 days by the day", 0, 24 * 60 * MINUTE),
        ("6 hours by the minute", end - 360 * MINUTE, MINUTE),
    ] {
        let t = Instant::now();
        let slots = store::slots(&db, site.id, from, end, step).await.unwrap();
        let took = t.elapsed();
        eprintln!(
            "{:?} {what}: {} points in {took:?}",
            db.backend(),
            slots.len()
        );
        assert!(slots.iter().all(|s| s.seen));
        let per = step / MINUTE;
        assert_eq!(slots[0].value("sessions"), Some(50.0 * per as f64));
        assert!((slots[0].value("abandonment_rate").unwrap() - 0.2).abs() < 1e-9);
        assert!(took.as_millis() < 3_000, "{what} took {took:?}");
    }
});

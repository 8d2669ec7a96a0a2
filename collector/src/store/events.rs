//! Event rows: group-committed inserts (deduplicated by `(site, event id)`)
//! and paged admin reads.

use std::collections::HashSet;

use sqlx::Row;
use steadycart_protocol::{api::StoredEvent, Event};

use super::{on_pool, Db, StoreError};

/// Rows per multi-row `INSERT`: 7 bound values each stays far below
/// SQLite's 32,766 and PostgreSQL's 65,535 parameter limits.
pub const ROWS_PER_INSERT: usize = 500;

/// One event ready to insert.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Site it belongs to.
    pub site_id: i64,
    /// The event's unique id (deduplication key within the site).
    pub event_id: String,
    /// Session id.
    pub session_id: String,
    /// The `type` tag.
    pub kind: &'static str,
    /// Client clock, ms.
    pub client_ts: i64,
    /// Server receive time, ms.
    pub received_at: i64,
    /// The event as JSON.
    pub body: String,
}

/// Kinds whose insert writes more than the event row (survey answers,
/// recovery's carts and contacts), done only for ids that were new.
pub(crate) fn has_effects(kind: &str) -> bool {
    matches!(
        kind,
        "survey_answered" | "cart_snapshot" | "checkout_completed" | "identify"
    )
}

/// The side effects (survey answers, recovery's carts and contacts) of the
/// rows in `$rows` whose `(site id, event id)` is in `$new`, the set of ids
/// the insert reported as new, inside the open transaction `$tx`.
macro_rules! new_row_effects {
    ($tx:ident, $rows:expr, $new:expr) => {
        for r in $rows {
            if !has_effects(r.kind) || !$new.contains(&(r.site_id, r.event_id.clone())) {
                continue;
            }
            if let Some(answer) = super::survey::AnswerRow::from_event_row(r) {
                super::survey::insert_answer!($tx, r, answer);
            }
            super::recovery::recovery_effects!($tx, r);
        }
    };
}

/// The inserts of [`Db::insert_events`] inside the open transaction `$tx`
/// (a `sqlx::Transaction` of either backend); evaluates to the number of new
/// rows and returns early with the error if a statement fails.
macro_rules! insert_in_tx {
    ($tx:ident, $rows:expr) => {{
        let rows: &[EventRow] = $rows;
        let mut inserted = 0;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO events (site_id, event_id, session_id, kind, client_ts, received_at, body) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.site_id)
                    .push_bind(&r.event_id)
                    .push_bind(&r.session_id)
                    .push_bind(r.kind)
                    .push_bind(r.client_ts)
                    .push_bind(r.received_at)
                    .push_bind(&r.body);
            });
            q.push(" ON CONFLICT (site_id, event_id) DO NOTHING");
            // Only rows with effects beyond their own (survey answers,
            // carts, contacts) need to know which ids were new; most
            // chunks have none and skip sending the ids back.
            if !chunk.iter().any(|r| has_effects(r.kind)) {
                inserted += q.build().execute(&mut *$tx).await?.rows_affected();
                continue;
            }
            q.push(" RETURNING site_id, event_id");
            let new: HashSet<(i64, String)> = q
                .build_query_as::<(i64, String)>()
                .fetch_all(&mut *$tx)
                .await?
                .into_iter()
                .collect();
            inserted += new.len() as u64;
            new_row_effects!($tx, chunk, new);
        }
        inserted
    }};
}

/// PostgreSQL's [`insert_in_tx`]: every row in one `INSERT … SELECT FROM
/// UNNEST(…)` of seven array parameters. The statement text is the same
/// whatever the row count, so each connection prepares it once; a
/// multi-row `VALUES` is a new statement (parse and plan) for every count.
macro_rules! insert_unnest_in_tx {
    ($tx:ident, $rows:expr) => {{
        macro_rules! unnest_insert {
            ($tail:literal) => {
                concat!(
                    "INSERT INTO events (site_id, event_id, session_id, kind, client_ts, received_at, body) ",
                    "SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[]) ",
                    "ON CONFLICT (site_id, event_id) DO NOTHING",
                    $tail
                )
            };
        }
        const INSERT: &str = unnest_insert!("");
        const INSERT_RETURNING: &str = unnest_insert!(" RETURNING site_id, event_id");
        let rows: &[EventRow] = $rows;
        let site_ids: Vec<i64> = rows.iter().map(|r| r.site_id).collect();
        let event_ids: Vec<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
        let session_ids: Vec<&str> = rows.iter().map(|r| r.session_id.as_str()).collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
        let client_ts: Vec<i64> = rows.iter().map(|r| r.client_ts).collect();
        let received_at: Vec<i64> = rows.iter().map(|r| r.received_at).collect();
        let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
        let effects = rows.iter().any(|r| has_effects(r.kind));
        let q = sqlx::query(if effects { INSERT_RETURNING } else { INSERT })
            .bind(&site_ids)
            .bind(&event_ids)
            .bind(&session_ids)
            .bind(&kinds)
            .bind(&client_ts)
            .bind(&received_at)
            .bind(&bodies);
        if !effects {
            q.execute(&mut *$tx).await?.rows_affected()
        } else {
            let new: HashSet<(i64, String)> = q
                .fetch_all(&mut *$tx)
                .await?
                .iter()
                .map(|row| -> Result<(i64, String), sqlx::Error> {
                    Ok((row.try_get(0)?, row.try_get(1)?))
                })
                .collect::<Result<_, _>>()?;
            new_row_effects!($tx, rows, new);
            new.len() as u64
        }
    }};
}

/// [`Db::insert_events`] on one SQLite connection (the writer's own, see
/// [`crate::ingest::writer`]), in one transaction.
pub async fn insert_events_on(
    conn: &mut sqlx::SqliteConnection,
    rows: &[EventRow],
) -> Result<u64, StoreError> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let inserted = insert_in_tx!(tx, rows);
    tx.commit().await?;
    Ok(inserted)
}

impl Db {
    /// Insert rows in one transaction, skipping ids already stored. Returns
    /// how many rows were new. Rows go in multi-row `INSERT`s of
    /// [`ROWS_PER_INSERT`] (one round trip per chunk, not per row); in chunks
    /// holding a kind with effects the ids that were new come back through
    /// `RETURNING`, so a survey answer is stored exactly when its event is.
    pub async fn insert_events(&self, rows: &[EventRow]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let inserted = insert_in_tx!(tx, rows);
                tx.commit().await?;
                Ok(inserted)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let inserted = insert_unnest_in_tx!(tx, rows);
                tx.commit().await?;
                Ok(inserted)
            }
        }
    }

    /// Up to `limit` events of a site stored after cursor `after`, oldest
    /// first, with the cursor of the last one.
    pub async fn events_page(
        &self,
        site_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<StoredEvent>, Option<i64>), StoreError> {
        let rows = on_pool!(self, pool => {
            sqlx::query("SELECT seq, received_at, body FROM events WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind(site_id)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| -> Result<(i64, i64, String), sqlx::Error> {
                    Ok((row.try_get("seq")?, row.try_get("received_at")?, row.try_get("body")?))
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        let last = rows.last().map(|r| r.0);
        let events = rows
            .into_iter()
            .map(|(_, received_at, body)| {
                serde_json::from_str::<Event>(&body)
                    .map(|event| StoredEvent { received_at, event })
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = if events.len() as i64 == limit {
            last
        } else {
            None
        };
        Ok((events, next))
    }

    /// How many events a site has stored (tests and metrics).
    pub async fn count_events(&self, site_id: i64) -> Result<i64, StoreError> {
        on_pool!(self, pool => {
            Ok(sqlx::query("SELECT COUNT(*) AS n FROM events WHERE site_id = $1")
                .bind(site_id)
                .fetch_one(pool)
                .await?
                .try_get::<i64, _>("n")?)
        })
    }
}

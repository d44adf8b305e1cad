//! `throttle`: recent attempts per throttle and key, one row each, shared by every replica. A key's row is
//! locked for the rest of the transaction that reads it, so concurrent attempts on one key take turns.

use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp as SqlTimestamp};
use people_domain::clock::Timestamp;
use people_domain::Result;

use crate::db::AnyConnection;
use crate::error::db;
use crate::schema::throttle;
use crate::time::naive;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    attempts: String,
}

/// Creates the key's row when absent and locks it (the no-op update takes the row lock on PostgreSQL; a
/// SQLite write transaction already holds the database's write lock), returning its attempts: one statement.
/// The key is lower-cased by the database, as the email lookup does.
const LOCK_PG: &str = "INSERT INTO throttle (throttle, key, attempts, expires_at) \
    VALUES ($1, lower($2), '', $3) \
    ON CONFLICT (throttle, key) DO UPDATE SET attempts = throttle.attempts RETURNING attempts";
const LOCK_SQLITE: &str = "INSERT INTO throttle (throttle, key, attempts, expires_at) \
    VALUES (?1, lower(?2), '', ?3) \
    ON CONFLICT (throttle, key) DO UPDATE SET attempts = throttle.attempts RETURNING attempts";
const SAVE_PG: &str =
    "UPDATE throttle SET attempts = $3, expires_at = $4 WHERE throttle = $1 AND key = lower($2)";
const SAVE_SQLITE: &str =
    "UPDATE throttle SET attempts = ?3, expires_at = ?4 WHERE throttle = ?1 AND key = lower(?2)";

fn parse(list: &str) -> Vec<i64> {
    list.split(',').filter_map(|t| t.parse().ok()).collect()
}

pub(crate) fn lock(
    conn: &mut AnyConnection,
    name: &str,
    key: &str,
    now: Timestamp,
) -> Result<Vec<i64>> {
    let sql = match conn {
        AnyConnection::Postgresql(c) => {
            // Throttle counters need no flush to disk at commit: a crash forgets at most the attempts of
            // the last moment, and the key's row lock is then held for microseconds instead of an fsync.
            diesel::connection::SimpleConnection::batch_execute(
                c,
                "SET LOCAL synchronous_commit = off",
            )
            .map_err(db)?;
            LOCK_PG
        }
        AnyConnection::Sqlite(_) => LOCK_SQLITE,
    };
    let row: Row = diesel::sql_query(sql)
        .bind::<Text, _>(name)
        .bind::<Text, _>(key)
        .bind::<SqlTimestamp, _>(naive(now))
        .get_result(conn)
        .map_err(db)?;
    Ok(parse(&row.attempts))
}

pub(crate) fn save(
    conn: &mut AnyConnection,
    name: &str,
    key: &str,
    attempts: &[i64],
    expires_at: Timestamp,
) -> Result<()> {
    let sql = match conn {
        AnyConnection::Postgresql(_) => SAVE_PG,
        AnyConnection::Sqlite(_) => SAVE_SQLITE,
    };
    let list = attempts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    diesel::sql_query(sql)
        .bind::<Text, _>(name)
        .bind::<Text, _>(key)
        .bind::<Text, _>(list)
        .bind::<SqlTimestamp, _>(naive(expires_at))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn prune(conn: &mut AnyConnection, now: Timestamp) -> Result<usize> {
    diesel::delete(throttle::table.filter(throttle::expires_at.lt(naive(now))))
        .execute(conn)
        .map_err(db)
}

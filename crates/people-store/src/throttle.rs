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

/// Creates the key's row when absent; the key is lower-cased by the database, as the email lookup does.
const CREATE_PG: &str = "INSERT INTO throttle (throttle, key, attempts, expires_at) \
    VALUES ($1, lower($2), '', $3) ON CONFLICT DO NOTHING";
const CREATE_SQLITE: &str = "INSERT INTO throttle (throttle, key, attempts, expires_at) \
    VALUES (?1, lower(?2), '', ?3) ON CONFLICT DO NOTHING";
/// PostgreSQL locks the row; a SQLite write transaction already holds the database's write lock.
const READ_PG: &str =
    "SELECT attempts FROM throttle WHERE throttle = $1 AND key = lower($2) FOR UPDATE";
const READ_SQLITE: &str = "SELECT attempts FROM throttle WHERE throttle = ?1 AND key = lower(?2)";
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
    let (create, read) = match conn {
        AnyConnection::Postgresql(_) => (CREATE_PG, READ_PG),
        AnyConnection::Sqlite(_) => (CREATE_SQLITE, READ_SQLITE),
    };
    diesel::sql_query(create)
        .bind::<Text, _>(name)
        .bind::<Text, _>(key)
        .bind::<SqlTimestamp, _>(naive(now))
        .execute(conn)
        .map_err(db)?;
    let row: Option<Row> = diesel::sql_query(read)
        .bind::<Text, _>(name)
        .bind::<Text, _>(key)
        .get_result(conn)
        .optional()
        .map_err(db)?;
    Ok(row.map(|r| parse(&r.attempts)).unwrap_or_default())
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

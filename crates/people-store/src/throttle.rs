//! `throttle`: recent attempts per throttle and key, one row each, shared by every replica. A key's row is
//! locked for the rest of the transaction that reads it, so concurrent attempts on one key take turns. An
//! attempt touches one or two keys (address and user name or email): each shape is one statement.

use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp as SqlTimestamp};
use people_domain::clock::Timestamp;
use people_domain::store::{SavedAttempts, ThrottleKey};
use people_domain::Result;

use crate::db::AnyConnection;
use crate::error::db;
use crate::schema::throttle;
use crate::time::naive;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    throttle: String,
    #[diesel(sql_type = Text)]
    attempts: String,
}

/// Creates the keys' rows when absent and locks them (the no-op update takes the row lock on PostgreSQL; a
/// SQLite write transaction already holds the database's write lock), returning their attempts. Keys are
/// lower-cased by the database, as the email lookup does.
fn lock_sql(pg: bool, keys: usize) -> String {
    let p = |n: usize| if pg { format!("${n}") } else { format!("?{n}") };
    let values: Vec<String> = (0..keys)
        .map(|i| format!("({}, lower({}), '', {})", p(2 * i + 2), p(2 * i + 3), p(1)))
        .collect();
    format!(
        "INSERT INTO throttle (throttle, key, attempts, expires_at) VALUES {} \
         ON CONFLICT (throttle, key) DO UPDATE SET attempts = throttle.attempts \
         RETURNING throttle, attempts",
        values.join(", ")
    )
}

/// Replaces the attempts of locked keys.
fn save_sql(pg: bool, rows: usize) -> String {
    let p = |n: usize| if pg { format!("${n}") } else { format!("?{n}") };
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let b = 4 * i;
            format!(
                "({}, lower({}), {}, {})",
                p(b + 1),
                p(b + 2),
                p(b + 3),
                p(b + 4)
            )
        })
        .collect();
    format!(
        "UPDATE throttle SET attempts = v.column3, expires_at = v.column4 \
         FROM (VALUES {}) AS v WHERE throttle.throttle = v.column1 AND throttle.key = v.column2",
        values.join(", ")
    )
}

fn parse(list: &str) -> Vec<i64> {
    list.split(',').filter_map(|t| t.parse().ok()).collect()
}

pub(crate) fn lock(
    conn: &mut AnyConnection,
    keys: &[ThrottleKey<'_>],
    now: Timestamp,
) -> Result<Vec<Vec<i64>>> {
    let pg = matches!(conn, AnyConnection::Postgresql(_));
    if let AnyConnection::Postgresql(c) = conn {
        // Throttle counters need no flush to disk at commit: a crash forgets at most the attempts of the
        // last moment, and the keys' rows are then held for microseconds instead of an fsync.
        diesel::connection::SimpleConnection::batch_execute(
            c,
            "SET LOCAL synchronous_commit = off",
        )
        .map_err(db)?;
    }
    // One statement for the shapes an attempt has; the rows come back by throttle name, so two keys of one
    // throttle are locked one at a time.
    let distinct = keys
        .iter()
        .enumerate()
        .all(|(i, k)| keys[..i].iter().all(|o| o.throttle != k.throttle));
    let rows: Vec<Row> = match keys {
        [a] => diesel::sql_query(lock_sql(pg, 1))
            .bind::<SqlTimestamp, _>(naive(now))
            .bind::<Text, _>(a.throttle)
            .bind::<Text, _>(a.key)
            .load(conn),
        [a, b] if distinct => diesel::sql_query(lock_sql(pg, 2))
            .bind::<SqlTimestamp, _>(naive(now))
            .bind::<Text, _>(a.throttle)
            .bind::<Text, _>(a.key)
            .bind::<Text, _>(b.throttle)
            .bind::<Text, _>(b.key)
            .load(conn),
        _ => {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.extend(lock(conn, std::slice::from_ref(k), now)?);
            }
            return Ok(out);
        }
    }
    .map_err(db)?;
    Ok(keys
        .iter()
        .map(|k| {
            rows.iter()
                .find(|r| r.throttle == k.throttle)
                .map(|r| parse(&r.attempts))
                .unwrap_or_default()
        })
        .collect())
}

fn list(attempts: &[i64]) -> String {
    attempts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn save(conn: &mut AnyConnection, rows: &[SavedAttempts<'_>]) -> Result<()> {
    let pg = matches!(conn, AnyConnection::Postgresql(_));
    match rows {
        [] => return Ok(()),
        [a] => diesel::sql_query(save_sql(pg, 1))
            .bind::<Text, _>(a.key.throttle)
            .bind::<Text, _>(a.key.key)
            .bind::<Text, _>(list(&a.attempts))
            .bind::<SqlTimestamp, _>(naive(a.expires_at))
            .execute(conn),
        [a, b] => diesel::sql_query(save_sql(pg, 2))
            .bind::<Text, _>(a.key.throttle)
            .bind::<Text, _>(a.key.key)
            .bind::<Text, _>(list(&a.attempts))
            .bind::<SqlTimestamp, _>(naive(a.expires_at))
            .bind::<Text, _>(b.key.throttle)
            .bind::<Text, _>(b.key.key)
            .bind::<Text, _>(list(&b.attempts))
            .bind::<SqlTimestamp, _>(naive(b.expires_at))
            .execute(conn),
        _ => {
            for r in rows {
                save(conn, std::slice::from_ref(r))?;
            }
            return Ok(());
        }
    }
    .map_err(db)?;
    Ok(())
}

pub(crate) fn prune(conn: &mut AnyConnection, now: Timestamp) -> Result<usize> {
    match conn {
        // A key a sign-in holds locked is skipped, never waited for: the sign-in locks its two keys one
        // after the other, and a prune waiting on one of them while holding the other would deadlock with
        // it. A skipped key is pruned by a later run.
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "DELETE FROM throttle WHERE (throttle, key) IN (SELECT throttle, key FROM throttle \
             WHERE expires_at < $1 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<SqlTimestamp, _>(naive(now))
        .execute(c)
        .map_err(db),
        // SQLite has one writer at a time: nothing to deadlock with.
        AnyConnection::Sqlite(_) => {
            diesel::delete(throttle::table.filter(throttle::expires_at.lt(naive(now))))
                .execute(conn)
                .map_err(db)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_for_one_and_two_keys() {
        assert_eq!(
            lock_sql(true, 2),
            "INSERT INTO throttle (throttle, key, attempts, expires_at) VALUES ($2, lower($3), '', $1), \
             ($4, lower($5), '', $1) ON CONFLICT (throttle, key) DO UPDATE SET attempts = throttle.attempts \
             RETURNING throttle, attempts"
        );
        assert!(lock_sql(false, 1).contains("VALUES (?2, lower(?3), '', ?1) ON"));
        assert!(save_sql(true, 2).contains("($1, lower($2), $3, $4), ($5, lower($6), $7, $8)"));
        assert!(save_sql(false, 1).contains("(?1, lower(?2), ?3, ?4)"));
    }
}

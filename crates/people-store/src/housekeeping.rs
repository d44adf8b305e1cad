//! Housekeeping's storage: the `housekeeping_lease` row replicas claim in turn, and deletes of expired rows
//! a batch at a time. Each batch is one statement, `DELETE … WHERE id IN (SELECT id … WHERE <expired> LIMIT
//! n)`, which finds its rows on an index (`idx_core_session_created_at`, `idx_login_history_timestamp`,
//! `idx_email_outbox_done_at`) and holds its locks only for its own short transaction.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp as SqlTimestamp};
use people_domain::clock::Timestamp;
use people_domain::Result;

use crate::db::AnyConnection;
use crate::error::db;
use crate::time::naive;

diesel::table! {
    /// Leases: who may do a job until when.
    housekeeping_lease (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

use housekeeping_lease as lease;

/// The claim of a lease no one has taken: free since long ago.
fn never() -> chrono::NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}

pub(crate) fn claim_lease(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool> {
    // The migration creates the housekeeping row; a lease of another name is created free on first use.
    let row = (
        lease::name.eq(name),
        lease::holder.eq(""),
        lease::expires_at.eq(never()),
    );
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(lease::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        AnyConnection::Sqlite(c) => diesel::insert_or_ignore_into(lease::table)
            .values(row)
            .execute(c),
    }
    .map_err(db)?;
    // One UPDATE decides: on PostgreSQL a concurrent claimant waits for the row lock and then re-checks
    // `expires_at`, which the winner has moved; on SQLite writers take turns.
    let n = diesel::update(
        lease::table
            .filter(lease::name.eq(name))
            .filter(lease::expires_at.le(naive(now))),
    )
    .set((lease::holder.eq(holder), lease::expires_at.eq(naive(until))))
    .execute(conn)
    .map_err(db)?;
    Ok(n == 1)
}

pub(crate) fn renew_lease(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    until: Timestamp,
) -> Result<bool> {
    let n = diesel::update(
        lease::table
            .filter(lease::name.eq(name))
            .filter(lease::holder.eq(holder)),
    )
    .set(lease::expires_at.eq(naive(until)))
    .execute(conn)
    .map_err(db)?;
    Ok(n == 1)
}

/// `DELETE FROM table WHERE id IN (SELECT id FROM table WHERE expired <= cutoff LIMIT n)`.
fn batch_sql(pg: bool, table: &str, expired: &str) -> String {
    let (cutoff, limit) = if pg { ("$1", "$2") } else { ("?1", "?2") };
    format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE {expired} <= {cutoff} LIMIT {limit})"
    )
}

fn delete_batch(
    conn: &mut AnyConnection,
    table: &str,
    expired: &str,
    cutoff: Timestamp,
    limit: i64,
) -> Result<usize> {
    let pg = matches!(conn, AnyConnection::Postgresql(_));
    diesel::sql_query(batch_sql(pg, table, expired))
        .bind::<SqlTimestamp, _>(naive(cutoff))
        .bind::<BigInt, _>(limit.max(0))
        .execute(conn)
        .map_err(db)
}

pub(crate) fn delete_sessions(
    conn: &mut AnyConnection,
    cutoff: Timestamp,
    limit: i64,
) -> Result<usize> {
    delete_batch(conn, "core_session", "created_at", cutoff, limit)
}

pub(crate) fn delete_logins(
    conn: &mut AnyConnection,
    cutoff: Timestamp,
    limit: i64,
) -> Result<usize> {
    delete_batch(conn, "login_history", "timestamp", cutoff, limit)
}

pub(crate) fn delete_emails(
    conn: &mut AnyConnection,
    cutoff: Timestamp,
    limit: i64,
) -> Result<usize> {
    // The expression of `idx_email_outbox_done_at`, so that the index is used; NULL (unsent) never matches.
    delete_batch(
        conn,
        "email_outbox",
        "coalesce(sent_at, voided_at)",
        cutoff,
        limit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_statements() {
        assert_eq!(
            batch_sql(true, "core_session", "created_at"),
            "DELETE FROM core_session WHERE id IN \
             (SELECT id FROM core_session WHERE created_at <= $1 LIMIT $2)"
        );
        assert!(batch_sql(false, "login_history", "timestamp").contains("timestamp <= ?1 LIMIT ?2"));
    }
}

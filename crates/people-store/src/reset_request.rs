//! `password_reset_request`: asks recorded by `POST /api/session/forgot_password`, taken by the background
//! worker.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use people_domain::clock::Timestamp;
use people_domain::Result;

use crate::db::AnyConnection;
use crate::error::db;
use crate::schema::password_reset_request as ask;
use crate::time::naive;

pub(crate) fn insert(conn: &mut AnyConnection, email: &str, at: Timestamp) -> Result<()> {
    diesel::insert_into(ask::table)
        .values((ask::email.eq(email), ask::requested_at.eq(naive(at))))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    email: String,
}

/// PostgreSQL: asks another worker holds are skipped, not waited for.
const TAKE_PG: &str = "DELETE FROM password_reset_request WHERE id IN \
    (SELECT id FROM password_reset_request ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
    RETURNING id, email";
/// SQLite: write transactions are serial.
const TAKE_SQLITE: &str = "DELETE FROM password_reset_request WHERE id IN \
    (SELECT id FROM password_reset_request ORDER BY id LIMIT ?1) RETURNING id, email";

pub(crate) fn take(conn: &mut AnyConnection, limit: i64) -> Result<Vec<String>> {
    let sql = match conn {
        AnyConnection::Postgresql(_) => TAKE_PG,
        AnyConnection::Sqlite(_) => TAKE_SQLITE,
    };
    let mut rows: Vec<Taken> = diesel::sql_query(sql)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .map_err(db)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows.into_iter().map(|r| r.email).collect())
}

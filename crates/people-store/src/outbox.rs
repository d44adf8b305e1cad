//! `email_outbox`: emails queued in the transaction that caused them, claimed by delivery workers.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp as SqlTimestamp};
use people_domain::clock::Timestamp;
use people_domain::store::{NewEmail, QueuedEmail};
use people_domain::Result;

use crate::db::AnyConnection;
use crate::error::db;
use crate::schema::email_outbox as outbox;
use crate::time::naive;

pub(crate) fn enqueue(conn: &mut AnyConnection, e: &NewEmail) -> Result<i64> {
    let recipients = serde_json::to_string(&e.recipients).unwrap_or_else(|_| "[]".into());
    let at = naive(e.created_at);
    diesel::insert_into(outbox::table)
        .values((
            outbox::recipients.eq(recipients),
            outbox::subject.eq(&e.subject),
            outbox::body_text.eq(&e.body_text),
            outbox::body_html.eq(&e.body_html),
            outbox::created_at.eq(at),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
        ))
        .returning(outbox::id)
        .get_result(conn)
        .map_err(db)
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    recipients: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    subject: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body_text: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body_html: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
}

/// PostgreSQL: rows another worker holds are skipped, not waited for.
const CLAIM_PG: &str = "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = $1 \
    WHERE id IN (SELECT id FROM email_outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
    ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING id, recipients, subject, body_text, body_html, attempts";

/// SQLite: write transactions are serial, so the plain form claims atomically.
const CLAIM_SQLITE: &str = "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?1 \
    WHERE id IN (SELECT id FROM email_outbox WHERE sent_at IS NULL AND next_attempt_at <= ?2 \
    ORDER BY next_attempt_at, id LIMIT ?3) \
    RETURNING id, recipients, subject, body_text, body_html, attempts";

pub(crate) fn claim(
    conn: &mut AnyConnection,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<QueuedEmail>> {
    let sql = match conn {
        AnyConnection::Postgresql(_) => CLAIM_PG,
        AnyConnection::Sqlite(_) => CLAIM_SQLITE,
    };
    let rows: Vec<Claimed> = diesel::sql_query(sql)
        .bind::<SqlTimestamp, _>(naive(lease_until))
        .bind::<SqlTimestamp, _>(naive(now))
        .bind::<BigInt, _>(limit)
        .load(conn)
        .map_err(db)?;
    let mut out: Vec<QueuedEmail> = rows
        .into_iter()
        .map(|r| QueuedEmail {
            id: r.id,
            recipients: serde_json::from_str(&r.recipients).unwrap_or_default(),
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            attempts: r.attempts,
        })
        .collect();
    out.sort_by_key(|e| e.id);
    Ok(out)
}

/// Marks an email sent and blanks its bodies: once delivered, the reset link inside is not kept.
pub(crate) fn mark_sent(conn: &mut AnyConnection, id: i64, at: Timestamp) -> Result<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::body_text.eq(""),
            outbox::body_html.eq(""),
            outbox::sent_at.eq(Some(naive(at))),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn mark_failed(
    conn: &mut AnyConnection,
    id: i64,
    error: &str,
    next: Timestamp,
) -> Result<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::last_error.eq(Some(error)),
            outbox::next_attempt_at.eq(naive(next)),
        ))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

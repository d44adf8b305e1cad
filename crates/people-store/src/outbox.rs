//! `email_outbox`: emails queued in the transaction that caused them, claimed by delivery workers.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp as SqlTimestamp};
use people_domain::clock::Timestamp;
use people_domain::store::{NewEmail, QueuedEmail};
use people_domain::{EmailId, Result};

use chrono::NaiveDateTime;

use crate::cipher::Cipher;
use crate::db::AnyConnection;
use crate::error::db;
use crate::key::Key;
use crate::schema::email_outbox as outbox;
use crate::time::{naive, utc};

pub(crate) fn enqueue(
    conn: &mut AnyConnection,
    cipher: Option<&Cipher>,
    e: &NewEmail,
) -> Result<i64> {
    let recipients = serde_json::to_string(&e.recipients).unwrap_or_else(|_| "[]".into());
    let at = naive(e.created_at);
    let seal = |body: &str| match cipher {
        Some(c) => c.seal(body),
        None => Ok(body.to_string()),
    };
    let link = e.link.as_ref();
    diesel::insert_into(outbox::table)
        .values((
            outbox::recipients.eq(recipients),
            outbox::subject.eq(&e.subject),
            outbox::body_text.eq(seal(&e.body_text)?),
            outbox::body_html.eq(seal(&e.body_html)?),
            outbox::created_at.eq(at),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
            outbox::link_user_id.eq(link.and_then(|l| l.user_id.key())),
            outbox::link_token_hash.eq(link.map(|l| l.token_hash.as_str())),
            outbox::expires_at.eq(link.and_then(|l| l.expires_at).map(naive)),
        ))
        .returning(outbox::id)
        .get_result(conn)
        .map_err(db)
}

/// Unsent emails that are still alive.
macro_rules! unsent {
    () => {
        outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::voided_at.is_null())
    };
}

/// Blanks the emails of `ids` unsent: they will never be sent.
fn void(conn: &mut AnyConnection, ids: &[i64], now: Timestamp) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set((
            outbox::body_text.eq(""),
            outbox::body_html.eq(""),
            outbox::voided_at.eq(Some(naive(now))),
        ))
        .execute(conn)
        .map_err(db)
}

pub(crate) fn void_links(conn: &mut AnyConnection, user_id: i32, now: Timestamp) -> Result<usize> {
    let ids: Vec<i64> = unsent!()
        .filter(outbox::link_user_id.eq(user_id))
        .select(outbox::id)
        .load(conn)
        .map_err(db)?;
    void(conn, &ids, now)
}

/// An unsent link email: id, the token hash it carries, its expiry, and its user's current token hash.
type LinkState = (i64, Option<String>, Option<NaiveDateTime>, Option<String>);

/// Blanks unsent emails whose link expired or whose token is no longer its user's.
pub(crate) fn void_dead_links(conn: &mut AnyConnection, now: Timestamp) -> Result<usize> {
    use crate::schema::core_user;
    let links: Vec<LinkState> = unsent!()
        .filter(outbox::link_user_id.is_not_null())
        .left_join(core_user::table.on(core_user::id.nullable().eq(outbox::link_user_id)))
        .select((
            outbox::id,
            outbox::link_token_hash,
            outbox::expires_at,
            core_user::reset_token.nullable(),
        ))
        .load(conn)
        .map_err(db)?;
    let now_naive = naive(now);
    let dead: Vec<i64> = links
        .into_iter()
        .filter(|(_, carried, expires, current)| {
            expires.is_some_and(|x| x <= now_naive) || current.is_none() || carried != current
        })
        .map(|(id, ..)| id)
        .collect();
    void(conn, &dead, now)
}

pub(crate) fn unsent_links(conn: &mut AnyConnection) -> Result<Vec<(i64, Timestamp)>> {
    let rows: Vec<(i64, NaiveDateTime)> = unsent!()
        .filter(outbox::link_user_id.is_not_null())
        .select((outbox::id, outbox::created_at))
        .load(conn)
        .map_err(db)?;
    Ok(rows.into_iter().map(|(id, at)| (id, utc(at))).collect())
}

pub(crate) fn set_link_expiry(
    conn: &mut AnyConnection,
    id: i64,
    expires_at: Option<Timestamp>,
) -> Result<()> {
    diesel::update(outbox::table.find(id))
        .set(outbox::expires_at.eq(expires_at.map(naive)))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

/// True when the outbox holds unsent email encrypted at rest; with `cipher`, `Err` when it cannot open it.
pub(crate) fn check_key(conn: &mut AnyConnection, cipher: Option<&Cipher>) -> Result<bool> {
    let sealed: Option<String> = unsent!()
        .filter(outbox::body_text.like(format!("{}%", crate::cipher::PREFIX)))
        .select(outbox::body_text)
        .first(conn)
        .optional()
        .map_err(db)?;
    match (sealed, cipher) {
        (None, _) => Ok(false),
        (Some(_), None) => Ok(true),
        (Some(body), Some(c)) => c.open(&body).map(|_| true),
    }
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
    WHERE id IN (SELECT id FROM email_outbox WHERE sent_at IS NULL AND voided_at IS NULL \
    AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING id, recipients, subject, body_text, body_html, attempts";

/// SQLite: write transactions are serial, so the plain form claims atomically.
const CLAIM_SQLITE: &str = "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?1 \
    WHERE id IN (SELECT id FROM email_outbox WHERE sent_at IS NULL AND voided_at IS NULL \
    AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3) \
    RETURNING id, recipients, subject, body_text, body_html, attempts";

/// Claims due emails, after blanking those whose link died (they are never sent). A body that cannot be
/// opened with `cipher` comes back empty, and the worker's attempt fails on it.
pub(crate) fn claim(
    conn: &mut AnyConnection,
    cipher: Option<&Cipher>,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<QueuedEmail>> {
    void_dead_links(conn, now)?;
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
    let open = |body: String| match cipher {
        Some(c) if body.starts_with(crate::cipher::PREFIX) => c.open(&body),
        None if body.starts_with(crate::cipher::PREFIX) => {
            Err(people_domain::DomainError::Internal(
                "the body is encrypted and MB_ENCRYPTION_SECRET_KEY is not set".into(),
            ))
        }
        _ => Ok(body),
    };
    let mut out: Vec<QueuedEmail> = rows
        .into_iter()
        .filter_map(|r| {
            let opened = open(r.body_text).and_then(|t| Ok((t, open(r.body_html)?)));
            match opened {
                Ok((body_text, body_html)) => Some(QueuedEmail {
                    id: EmailId(r.id),
                    recipients: serde_json::from_str(&r.recipients).unwrap_or_default(),
                    subject: r.subject,
                    body_text,
                    body_html,
                    attempts: r.attempts,
                }),
                Err(e) => {
                    // Left claimed: it is tried again when the lease ends (with the right key).
                    log::warn!("email {} cannot be read: {e}", r.id);
                    None
                }
            }
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

/// Unsent emails, those of them that failed at least once, and when the oldest was queued.
pub(crate) fn stats(conn: &mut AnyConnection) -> Result<crate::db::OutboxStats> {
    let unsent: i64 = unsent!().count().get_result(conn).map_err(db)?;
    let retrying: i64 = unsent!()
        .filter(outbox::last_error.is_not_null())
        .count()
        .get_result(conn)
        .map_err(db)?;
    let oldest: Option<NaiveDateTime> = unsent!()
        .select(diesel::dsl::min(outbox::created_at))
        .first(conn)
        .map_err(db)?;
    Ok(crate::db::OutboxStats {
        unsent,
        retrying,
        oldest_unsent: oldest.map(utc),
    })
}

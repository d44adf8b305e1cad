//! `core_session` and `login_history`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use people_domain::session::{CallerRecord, LoginRecord, NewLogin, NewSession};
use people_domain::user::User;
use people_domain::Result;

use crate::db::{on_backend, AnyConnection};
use crate::error::{db, no_such_row};
use crate::key::Key;
use crate::schema::{core_session, core_user, login_history, permissions_group_membership as pgm};
use crate::time::{naive, utc};
use crate::user::{UserRow, USER_COLUMNS};

pub(crate) fn insert(conn: &mut AnyConnection, s: &NewSession) -> Result<()> {
    let user_id = s.user_id.key().ok_or_else(|| no_such_row("core_session"))?;
    diesel::insert_into(core_session::table)
        .values((
            core_session::id.eq(&s.id_hash),
            core_session::user_id.eq(user_id),
            core_session::created_at.eq(naive(s.created_at)),
        ))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

type CallerRow = (
    NaiveDateTime,
    UserRow,
    Option<crate::group::MembershipRow>,
    Option<NaiveDateTime>,
);

/// One query: the session, its user (with `first_login`) and one row per membership (LEFT JOIN).
pub(crate) fn caller(conn: &mut AnyConnection, id_hash: &str) -> Result<Option<CallerRecord>> {
    let rows: Vec<CallerRow> = on_backend!(conn, |c| core_session::table
        .inner_join(core_user::table.on(core_user::id.eq(core_session::user_id)))
        .left_join(pgm::table.on(pgm::user_id.eq(core_session::user_id)))
        .filter(core_session::id.eq(id_hash))
        .select((
            core_session::created_at,
            USER_COLUMNS,
            (pgm::id, pgm::user_id, pgm::group_id, pgm::is_group_manager).nullable(),
            core_user::first_login,
        ))
        .load(c))
    .map_err(db)?;
    let mut rows = rows.into_iter();
    let Some((created, user, first_membership, first)) = rows.next() else {
        return Ok(None);
    };
    Ok(Some(CallerRecord {
        user: User::from(user),
        memberships: crate::group::joined_memberships(
            std::iter::once(first_membership).chain(rows.map(|r| r.2)),
        ),
        session_created_at: utc(created),
        first_login: first.map(utc),
    }))
}

pub(crate) fn delete(conn: &mut AnyConnection, id_hash: &str) -> Result<bool> {
    let n = diesel::delete(core_session::table.find(id_hash))
        .execute(conn)
        .map_err(db)?;
    Ok(n > 0)
}

pub(crate) fn delete_of_user(
    conn: &mut AnyConnection,
    user_id: i32,
    keep: Option<&str>,
) -> Result<usize> {
    let q = core_session::table.filter(core_session::user_id.eq(user_id));
    match keep {
        Some(k) => diesel::delete(q.filter(core_session::id.ne(k))).execute(conn),
        None => diesel::delete(q).execute(conn),
    }
    .map_err(db)
}

pub(crate) fn insert_login(conn: &mut AnyConnection, l: &NewLogin) -> Result<()> {
    let user_id = l
        .user_id
        .key()
        .ok_or_else(|| no_such_row("login_history"))?;
    diesel::insert_into(login_history::table)
        .values((
            login_history::timestamp.eq(naive(l.timestamp)),
            login_history::user_id.eq(user_id),
            login_history::session_id.eq(&l.session_hash),
            login_history::device_id.eq(&l.device_id),
            login_history::device_description.eq(&l.device_description),
            login_history::ip_address.eq(&l.ip_address),
        ))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn logins_of(conn: &mut AnyConnection, user_id: i32) -> Result<Vec<LoginRecord>> {
    let rows: Vec<(NaiveDateTime, String, String, String, Option<String>)> = login_history::table
        .filter(login_history::user_id.eq(user_id))
        .order((login_history::timestamp.desc(), login_history::id.desc()))
        .select((
            login_history::timestamp,
            login_history::device_id,
            login_history::device_description,
            login_history::ip_address,
            login_history::session_id,
        ))
        .load(conn)
        .map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|r| LoginRecord {
            timestamp: utc(r.0),
            device_id: r.1,
            device_description: r.2,
            ip_address: r.3,
            active: r.4.is_some(),
        })
        .collect())
}

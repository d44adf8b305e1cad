//! `setting`: key/value text.

use diesel::prelude::*;
use people_domain::Result;

use crate::db::AnyConnection;
use crate::error::db;
use crate::schema::setting;

pub(crate) fn get(conn: &mut AnyConnection, key: &str) -> Result<Option<String>> {
    setting::table
        .find(key)
        .select(setting::value)
        .first(conn)
        .optional()
        .map_err(db)
}

pub(crate) fn all(conn: &mut AnyConnection) -> Result<Vec<(String, String)>> {
    setting::table.order(setting::key).load(conn).map_err(db)
}

pub(crate) fn put(conn: &mut AnyConnection, key: &str, value: Option<&str>) -> Result<()> {
    let Some(value) = value else {
        diesel::delete(setting::table.find(key))
            .execute(conn)
            .map_err(db)?;
        return Ok(());
    };
    let row = (setting::key.eq(key), setting::value.eq(value));
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(setting::table)
            .values(row)
            .on_conflict(setting::key)
            .do_update()
            .set(setting::value.eq(value))
            .execute(c),
        AnyConnection::Sqlite(c) => diesel::replace_into(setting::table).values(row).execute(c),
    }
    .map_err(db)?;
    Ok(())
}

pub(crate) fn insert_if_absent(conn: &mut AnyConnection, key: &str, value: &str) -> Result<bool> {
    let row = (setting::key.eq(key), setting::value.eq(value));
    let n = match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(setting::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        AnyConnection::Sqlite(c) => diesel::insert_or_ignore_into(setting::table)
            .values(row)
            .execute(c),
    }
    .map_err(db)?;
    Ok(n > 0)
}

pub(crate) fn take(conn: &mut AnyConnection, key: &str, expected: &str) -> Result<bool> {
    let n = diesel::delete(
        setting::table
            .filter(setting::key.eq(key))
            .filter(setting::value.eq(expected)),
    )
    .execute(conn)
    .map_err(db)?;
    Ok(n > 0)
}

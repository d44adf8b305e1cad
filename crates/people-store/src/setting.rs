//! `setting`: key/value text. Secret settings (the LDAP service account's password) are sealed with
//! `MB_ENCRYPTION_SECRET_KEY` when it is set, as Metabase encrypts its sensitive settings; a value stored before
//! the key was set stays readable.

use diesel::prelude::*;
use people_domain::Result;

use crate::cipher::{Cipher, PREFIX};
use crate::db::AnyConnection;
use crate::error::db;
use crate::schema::setting;

/// Settings whose values are secrets.
const SECRET: &[&str] = &["ldap-password"];

/// The value as people uses it: a sealed one opened. One that cannot be opened (no key, or another key) reads
/// as absent, with a warning: the directory then refuses the bind and says so, instead of people sending a
/// sealed text as a password.
fn opened(cipher: Option<&Cipher>, key: &str, value: String) -> Option<String> {
    if !value.starts_with(PREFIX) || !SECRET.contains(&key) {
        return Some(value);
    }
    match cipher.map(|c| c.open(&value)) {
        Some(Ok(plain)) => Some(plain),
        Some(Err(_)) => {
            log::warn!(
                "setting {key} is sealed with another MB_ENCRYPTION_SECRET_KEY: treated as unset"
            );
            None
        }
        None => {
            log::warn!(
                "setting {key} is sealed and MB_ENCRYPTION_SECRET_KEY is not set: treated as unset"
            );
            None
        }
    }
}

pub(crate) fn get(
    conn: &mut AnyConnection,
    cipher: Option<&Cipher>,
    key: &str,
) -> Result<Option<String>> {
    let value: Option<String> = setting::table
        .find(key)
        .select(setting::value)
        .first(conn)
        .optional()
        .map_err(db)?;
    Ok(value.and_then(|v| opened(cipher, key, v)))
}

pub(crate) fn all(
    conn: &mut AnyConnection,
    cipher: Option<&Cipher>,
) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = setting::table.order(setting::key).load(conn).map_err(db)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, v)| opened(cipher, &k, v).map(|v| (k, v)))
        .collect())
}

pub(crate) fn put(
    conn: &mut AnyConnection,
    cipher: Option<&Cipher>,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    let sealed;
    let value = match (value, cipher) {
        (Some(v), Some(c)) if SECRET.contains(&key) => {
            sealed = c.seal(v)?;
            Some(sealed.as_str())
        }
        _ => value,
    };
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

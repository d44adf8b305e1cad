//! `api_key`: Metabase's API keys. The `key` column holds the lower-case hex SHA-256 of the whole key under a
//! unique index, so finding a key's user is one indexed equality; it is written here and never read back.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use people_domain::api_key::{ApiKey, ApiKeyChange, KeyHolder, KeyScope, NewApiKey};
use people_domain::user::User;
use people_domain::{ApiKeyId, Result, UserId};

use crate::db::{on_backend, AnyConnection};
use crate::error::{db, no_such_row};
use crate::key::Key;
use crate::schema::{api_key, core_user, permissions_group_membership as pgm};
use crate::time::{naive, utc};
use crate::user::{UserRow, USER_COLUMNS};

/// The columns a key is read with, in [`KeyRow`]'s order: every column but the digest.
const KEY_COLUMNS: (
    api_key::id,
    api_key::user_id,
    api_key::name,
    api_key::key_prefix,
    api_key::creator_id,
    api_key::updated_by_id,
    api_key::created_at,
    api_key::updated_at,
    api_key::scope,
) = (
    api_key::id,
    api_key::user_id,
    api_key::name,
    api_key::key_prefix,
    api_key::creator_id,
    api_key::updated_by_id,
    api_key::created_at,
    api_key::updated_at,
    api_key::scope,
);

/// One `api_key` row as [`KEY_COLUMNS`] reads it.
#[derive(Debug, Queryable)]
struct KeyRow {
    id: i32,
    user_id: Option<i32>,
    name: String,
    key_prefix: String,
    creator_id: i32,
    updated_by_id: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    scope: Option<String>,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            id: ApiKeyId(r.id.into()),
            user_id: r.user_id.map(|u| UserId(u.into())),
            name: r.name,
            key_prefix: r.key_prefix,
            creator_id: UserId(r.creator_id.into()),
            updated_by_id: UserId(r.updated_by_id.into()),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
            scope: KeyScope::from_stored(r.scope.as_deref()),
        }
    }
}

/// The keys of `scope`: `scope IS NULL` for ordinary keys, `scope = 'scim'` for the SCIM token (a value
/// people does not write belongs to neither).
fn of_scope<'a>(scope: KeyScope) -> api_key::BoxedQuery<'a, crate::db::MultiBackend> {
    let q = api_key::table.into_boxed();
    match scope.as_stored() {
        None => q.filter(api_key::scope.is_null()),
        Some(stored) => q.filter(api_key::scope.eq(stored)),
    }
}

pub(crate) fn insert(conn: &mut AnyConnection, k: &NewApiKey) -> Result<ApiKey> {
    // A user id no key can hold names no user: the foreign-key violation the database would report.
    let user_id = match k.user_id {
        Some(u) => Some(u.key().ok_or_else(|| no_such_row("api_key"))?),
        None => None,
    };
    let creator_id = k.creator_id.key().ok_or_else(|| no_such_row("api_key"))?;
    let at = naive(k.created_at);
    diesel::insert_into(api_key::table)
        .values((
            api_key::user_id.eq(user_id),
            api_key::key.eq(&k.digest),
            api_key::key_prefix.eq(&k.key_prefix),
            api_key::creator_id.eq(creator_id),
            api_key::created_at.eq(at),
            api_key::updated_at.eq(at),
            api_key::name.eq(&k.name),
            api_key::updated_by_id.eq(creator_id),
            api_key::scope.eq(k.scope.as_stored()),
        ))
        .returning(KEY_COLUMNS)
        .get_result::<KeyRow>(conn)
        .map(ApiKey::from)
        .map_err(db)
}

pub(crate) fn list(conn: &mut AnyConnection, scope: KeyScope) -> Result<Vec<ApiKey>> {
    of_scope(scope)
        .order(api_key::id)
        .select(KEY_COLUMNS)
        .load::<KeyRow>(conn)
        .map(|rows| rows.into_iter().map(ApiKey::from).collect())
        .map_err(db)
}

pub(crate) fn count(conn: &mut AnyConnection, scope: KeyScope) -> Result<i64> {
    of_scope(scope).count().get_result(conn).map_err(db)
}

pub(crate) fn lock(conn: &mut AnyConnection, id: i32) -> Result<Option<ApiKey>> {
    let q = api_key::table.find(id).select(KEY_COLUMNS);
    match conn {
        // Row lock for the rest of the transaction: a rename, regenerate or delete of one key waits for the
        // one before it. (SQLite's write transactions are already serial.)
        AnyConnection::Postgresql(pg) => q.for_update().first::<KeyRow>(pg).optional(),
        AnyConnection::Sqlite(lite) => q.first::<KeyRow>(lite).optional(),
    }
    .map(|r| r.map(ApiKey::from))
    .map_err(db)
}

pub(crate) fn name_taken(
    conn: &mut AnyConnection,
    name: &str,
    except: Option<i32>,
) -> Result<bool> {
    let mut q = api_key::table
        .filter(api_key::name.eq(name))
        .select(api_key::id)
        .into_boxed();
    if let Some(except) = except {
        q = q.filter(api_key::id.ne(except));
    }
    q.first::<i32>(conn)
        .optional()
        .map(|id| id.is_some())
        .map_err(db)
}

pub(crate) fn by_digest(conn: &mut AnyConnection, digest: &str) -> Result<Option<ApiKey>> {
    api_key::table
        .filter(api_key::key.eq(digest))
        .select(KEY_COLUMNS)
        .first::<KeyRow>(conn)
        .optional()
        .map(|r| r.map(ApiKey::from))
        .map_err(db)
}

pub(crate) fn prefix_taken(conn: &mut AnyConnection, prefix: &str) -> Result<bool> {
    api_key::table
        .filter(api_key::key_prefix.eq(prefix))
        .select(api_key::id)
        .first::<i32>(conn)
        .optional()
        .map(|id| id.is_some())
        .map_err(db)
}

pub(crate) fn update(conn: &mut AnyConnection, id: i32, change: &ApiKeyChange) -> Result<()> {
    let updated_by = change
        .updated_by_id
        .key()
        .ok_or_else(|| no_such_row("api_key"))?;
    let row = api_key::table.find(id);
    let common = (
        api_key::name.eq(&change.name),
        api_key::updated_by_id.eq(updated_by),
        api_key::updated_at.eq(naive(change.updated_at)),
    );
    match &change.secret {
        Some(secret) => diesel::update(row)
            .set((
                common,
                api_key::key.eq(&secret.digest),
                api_key::key_prefix.eq(&secret.prefix),
            ))
            .execute(conn),
        None => diesel::update(row).set(common).execute(conn),
    }
    .map_err(db)?;
    Ok(())
}

pub(crate) fn delete(conn: &mut AnyConnection, id: i32) -> Result<bool> {
    let n = diesel::delete(api_key::table.find(id))
        .execute(conn)
        .map_err(db)?;
    Ok(n > 0)
}

/// The user and one membership per row (LEFT JOIN) of an ordinary key's digest.
type HolderRow = (UserRow, Option<crate::group::MembershipRow>);

/// One query: the ordinary key with this digest, its user (whatever their status) and one row per
/// membership. The SCIM token (no user, another scope) is never a holder.
pub(crate) fn holder(conn: &mut AnyConnection, digest: &str) -> Result<Option<KeyHolder>> {
    let rows: Vec<HolderRow> = on_backend!(conn, |c| api_key::table
        .inner_join(core_user::table.on(api_key::user_id.eq(core_user::id.nullable())))
        .left_join(pgm::table.on(pgm::user_id.eq(core_user::id)))
        .filter(api_key::key.eq(digest))
        .filter(api_key::scope.is_null())
        .select((
            USER_COLUMNS,
            (pgm::id, pgm::user_id, pgm::group_id, pgm::is_group_manager).nullable(),
        ))
        .load(c))
    .map_err(db)?;
    let mut rows = rows.into_iter();
    let Some((user, first)) = rows.next() else {
        return Ok(None);
    };
    Ok(Some(KeyHolder {
        user: User::from(user),
        memberships: crate::group::joined_memberships(
            std::iter::once(first).chain(rows.map(|r| r.1)),
        ),
    }))
}

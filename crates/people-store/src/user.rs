//! `core_user`: rows, conversions and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use people_domain::group::Membership;
use people_domain::store::{Activity, UserOrder, UserQuery};
use people_domain::user::{NewUser, SsoSource, User, UserType};
use people_domain::{Result, UserId};
use serde_json::{Map, Value};

use crate::db::{on_backend, AnyConnection};
use crate::error::db;
use crate::key::Key;
use crate::schema::{core_user, permissions_group_membership as pgm};
use crate::time::{naive, utc};

diesel::define_sql_function! {
    /// SQL `lower` on a non-null string.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `coalesce` of two nullable timestamps.
    #[sql_name = "coalesce"]
    fn coalesce_ts(a: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, b: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>) -> diesel::sql_types::Nullable<diesel::sql_types::Timestamp>;
}

diesel::define_sql_function! {
    /// SQL `lower` on a nullable string.
    #[sql_name = "lower"]
    fn lower_opt(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Declares the column tuple type and its value from one list, so the two cannot drift apart.
macro_rules! user_columns {
    ($($column:ident),* $(,)?) => {
        /// The columns of `core_user` a [`User`] holds, in [`UserRow`]'s order (people's own derived columns,
        /// `first_login` and `search_text`, left out).
        pub(crate) type UserColumns = ($(core_user::$column,)*);

        /// The columns every user read selects.
        pub(crate) const USER_COLUMNS: UserColumns = ($(core_user::$column,)*);
    };
}

user_columns!(
    id,
    email,
    first_name,
    last_name,
    password,
    password_salt,
    date_joined,
    last_login,
    is_superuser,
    is_active,
    reset_token,
    reset_triggered,
    is_qbnewb,
    is_datasetnewb,
    login_attributes,
    updated_at,
    sso_source,
    locale,
    settings,
    user_type,
    entity_id,
    external_id,
    scim_deleted_at,
    scim_user_name,
    display_name,
);

/// One `core_user` row, columns as [`USER_COLUMNS`].
#[derive(Debug, Clone, Queryable)]
pub(crate) struct UserRow {
    id: i32,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<String>,
    password_salt: Option<String>,
    date_joined: NaiveDateTime,
    last_login: Option<NaiveDateTime>,
    is_superuser: bool,
    is_active: bool,
    reset_token: Option<String>,
    reset_triggered: Option<i64>,
    is_qbnewb: bool,
    is_datasetnewb: bool,
    login_attributes: Option<String>,
    updated_at: NaiveDateTime,
    sso_source: Option<String>,
    locale: Option<String>,
    settings: Option<String>,
    user_type: String,
    entity_id: Option<String>,
    external_id: Option<String>,
    scim_deleted_at: Option<NaiveDateTime>,
    scim_user_name: Option<String>,
    display_name: Option<String>,
}

fn attrs_from_text(text: Option<String>) -> Option<Map<String, Value>> {
    text.and_then(|t| match serde_json::from_str::<Value>(&t) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    })
}

fn attrs_to_text(attrs: &Option<Map<String, Value>>) -> Option<String> {
    attrs.as_ref().map(|m| Value::Object(m.clone()).to_string())
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id.into()),
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            password_hash: r.password,
            password_salt: r.password_salt,
            date_joined: utc(r.date_joined),
            last_login: r.last_login.map(utc),
            is_superuser: r.is_superuser,
            is_active: r.is_active,
            reset_token: r.reset_token,
            reset_triggered: r.reset_triggered,
            is_qbnewb: r.is_qbnewb,
            is_datasetnewb: r.is_datasetnewb,
            login_attributes: attrs_from_text(r.login_attributes),
            updated_at: utc(r.updated_at),
            sso_source: r.sso_source.as_deref().map(SsoSource::from),
            locale: r.locale,
            settings: r.settings,
            user_type: UserType::parse(&r.user_type).unwrap_or_else(|| {
                // Not a type people writes: such an account is never listed or signed in.
                log::warn!("user {} has an unknown type {:?}", r.id, r.user_type);
                UserType::Internal
            }),
            // CHAR(21): PostgreSQL pads a shorter value (written by some tool) with spaces; NanoIDs have none.
            entity_id: r.entity_id.map(|e| match e.trim_end_matches(' ') {
                trimmed if trimmed.len() == e.len() => e,
                trimmed => trimmed.to_string(),
            }),
            external_id: r.external_id,
            scim_deleted_at: r.scim_deleted_at.map(utc),
            scim_user_name: r.scim_user_name,
            display_name: r.display_name,
        }
    }
}

/// Every mutable column, written as a whole by `update_user`.
#[derive(AsChangeset)]
#[diesel(table_name = core_user, treat_none_as_null = true)]
struct UserChanges {
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<String>,
    password_salt: Option<String>,
    last_login: Option<NaiveDateTime>,
    is_superuser: bool,
    is_active: bool,
    reset_token: Option<String>,
    reset_triggered: Option<i64>,
    is_qbnewb: bool,
    is_datasetnewb: bool,
    login_attributes: Option<String>,
    updated_at: NaiveDateTime,
    sso_source: Option<String>,
    locale: Option<String>,
    settings: Option<String>,
    entity_id: Option<String>,
    external_id: Option<String>,
    scim_deleted_at: Option<NaiveDateTime>,
    scim_user_name: Option<String>,
    display_name: Option<String>,
}

pub(crate) fn insert(conn: &mut AnyConnection, u: &NewUser) -> Result<User> {
    let now = naive(u.date_joined);
    let row: UserRow = diesel::insert_into(core_user::table)
        .values((
            core_user::email.eq(&u.email),
            core_user::first_name.eq(&u.first_name),
            core_user::last_name.eq(&u.last_name),
            core_user::password.eq(u.password.as_ref().map(|p| p.hash.as_str())),
            core_user::password_salt.eq(u.password.as_ref().map(|p| p.salt.as_str())),
            core_user::date_joined.eq(now),
            core_user::is_superuser.eq(u.is_superuser),
            core_user::is_active.eq(true),
            core_user::is_qbnewb.eq(true),
            core_user::is_datasetnewb.eq(true),
            core_user::login_attributes.eq(attrs_to_text(&u.login_attributes)),
            core_user::updated_at.eq(now),
            core_user::sso_source.eq(u.sso_source.as_ref().map(SsoSource::as_str)),
            core_user::locale.eq(&u.locale),
            core_user::user_type.eq(u.user_type.as_str()),
            core_user::entity_id.eq(&u.entity_id),
            core_user::external_id.eq(&u.external_id),
        ))
        .returning(USER_COLUMNS)
        .get_result(conn)
        .map_err(db)?;
    Ok(row.into())
}

pub(crate) fn by_id(conn: &mut AnyConnection, id: i32) -> Result<Option<User>> {
    core_user::table
        .find(id)
        .select(USER_COLUMNS)
        .first::<UserRow>(conn)
        .optional()
        .map(|r| r.map(User::from))
        .map_err(db)
}

pub(crate) fn lock(conn: &mut AnyConnection, id: i32) -> Result<Option<User>> {
    match conn {
        AnyConnection::Postgresql(pg) => {
            // Row lock for the rest of the transaction: concurrent updates of one user apply one after
            // the other instead of overwriting each other. (SQLite's write transactions are already serial.)
            core_user::table
                .find(id)
                .for_update()
                .select(core_user::id)
                .first::<i32>(pg)
                .optional()
                .map_err(db)?;
            by_id(conn, id)
        }
        AnyConnection::Sqlite(_) => by_id(conn, id),
    }
}

pub(crate) fn by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<User>> {
    core_user::table
        .filter(lower(core_user::email).eq(lower(email)))
        .select(USER_COLUMNS)
        .first::<UserRow>(conn)
        .optional()
        .map(|r| r.map(User::from))
        .map_err(db)
}

/// Longest `entity_id` the column holds (`CHAR(21)`).
const ENTITY_ID_LEN: usize = 21;

/// The user whose `entity_id` is exactly `entity_id`: one equality on `idx_core_user_entity_id`.
pub(crate) fn by_entity_id(conn: &mut AnyConnection, entity_id: &str) -> Result<Option<User>> {
    // The column is CHAR(21), so the value is compared as CHAR(21) too: against a TEXT parameter PostgreSQL
    // would compare `entity_id::text` and scan every row. A CHAR(n) cast truncates what is longer and
    // CHAR comparison ignores trailing spaces, so such values (no id people writes has either) and NUL (which
    // PostgreSQL refuses in text) are answered here: no user has them as id.
    if entity_id.chars().count() > ENTITY_ID_LEN
        || entity_id.ends_with(' ')
        || entity_id.contains('\0')
    {
        return Ok(None);
    }
    let as_char = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>("CAST(")
        .bind::<diesel::sql_types::Text, _>(entity_id)
        .sql(" AS CHAR(21))");
    core_user::table
        .filter(core_user::entity_id.eq(as_char))
        .select(USER_COLUMNS)
        .first::<UserRow>(conn)
        .optional()
        .map(|r| r.map(User::from))
        .map_err(db)
}

/// The user whose `scim_user_name` is `user_name` ignoring case (`idx_core_user_scim_user_name`).
pub(crate) fn by_scim_user_name(conn: &mut AnyConnection, user_name: &str) -> Result<Option<User>> {
    if user_name.contains('\0') {
        return Ok(None);
    }
    core_user::table
        .filter(lower_opt(core_user::scim_user_name).eq(lower(user_name).nullable()))
        .select(USER_COLUMNS)
        .first::<UserRow>(conn)
        .optional()
        .map(|r| r.map(User::from))
        .map_err(db)
}

/// The users whose `entity_id` is one of `entity_ids`: one indexed lookup each (a PATCH names a handful;
/// an `IN` list would have to cast every value to `CHAR(21)` to stay on the index).
pub(crate) fn by_entity_ids(conn: &mut AnyConnection, entity_ids: &[String]) -> Result<Vec<User>> {
    let mut out: Vec<User> = Vec::new();
    for id in entity_ids {
        if let Some(u) = by_entity_id(conn, id)? {
            if !out.iter().any(|o| o.id == u.id) {
                out.push(u);
            }
        }
    }
    Ok(out)
}

/// Gives every user without an `entity_id` a fresh one; returns how many. Reads only the ids of those rows,
/// then sets each id unless another unit of work has meanwhile.
pub(crate) fn backfill_entity_ids(conn: &mut AnyConnection) -> Result<usize> {
    let ids: Vec<i32> = core_user::table
        .filter(core_user::entity_id.is_null())
        .order(core_user::id)
        .select(core_user::id)
        .load(conn)
        .map_err(db)?;
    let mut n = 0;
    for id in ids {
        n += diesel::update(
            core_user::table
                .find(id)
                .filter(core_user::entity_id.is_null()),
        )
        .set(core_user::entity_id.eq(people_domain::group::new_entity_id()))
        .execute(conn)
        .map_err(db)?;
    }
    Ok(n)
}

pub(crate) fn update(conn: &mut AnyConnection, u: &User) -> Result<()> {
    let changes = UserChanges {
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        password: u.password_hash.clone(),
        password_salt: u.password_salt.clone(),
        last_login: u.last_login.map(naive),
        is_superuser: u.is_superuser,
        is_active: u.is_active,
        reset_token: u.reset_token.clone(),
        reset_triggered: u.reset_triggered,
        is_qbnewb: u.is_qbnewb,
        is_datasetnewb: u.is_datasetnewb,
        login_attributes: attrs_to_text(&u.login_attributes),
        updated_at: naive(u.updated_at),
        sso_source: u.sso_source.as_ref().map(|s| s.as_str().to_string()),
        locale: u.locale.clone(),
        settings: u.settings.clone(),
        entity_id: u.entity_id.clone(),
        external_id: u.external_id.clone(),
        scim_deleted_at: u.scim_deleted_at.map(naive),
        scim_user_name: u.scim_user_name.clone(),
        display_name: u.display_name.clone(),
    };
    let Some(id) = u.id.key() else {
        return Ok(());
    };
    diesel::update(core_user::table.find(id))
        .set(&changes)
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn set_last_login(
    conn: &mut AnyConnection,
    user_id: i32,
    at: people_domain::clock::Timestamp,
) -> Result<()> {
    let at = Some(naive(at));
    diesel::update(core_user::table.find(user_id))
        .set((
            core_user::last_login.eq(at),
            core_user::first_login.eq(coalesce_ts(core_user::first_login, at)),
        ))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn count(conn: &mut AnyConnection, at_most: i64) -> Result<i64> {
    let ids: Vec<i32> = core_user::table
        .select(core_user::id)
        .limit(at_most.max(0))
        .load(conn)
        .map_err(db)?;
    Ok(ids.len() as i64)
}

pub(crate) fn active_superusers(conn: &mut AnyConnection) -> Result<Vec<User>> {
    core_user::table
        .filter(core_user::is_superuser.eq(true))
        .filter(core_user::is_active.eq(true))
        .order(core_user::id)
        .select(USER_COLUMNS)
        .load::<UserRow>(conn)
        .map(|v| v.into_iter().map(User::from).collect())
        .map_err(db)
}

/// Number of active personal users in group `group_id` (the last-administrator rule: an API key's user in
/// Administrators is no person who can administer).
pub(crate) fn count_active_personal_members(
    conn: &mut AnyConnection,
    group_id: i32,
) -> Result<i64> {
    pgm::table
        .inner_join(core_user::table.on(core_user::id.eq(pgm::user_id)))
        .filter(pgm::group_id.eq(group_id))
        .filter(core_user::is_active.eq(true))
        .filter(core_user::user_type.eq(UserType::Personal.as_str()))
        .count()
        .get_result(conn)
        .map_err(db)
}

/// Separator of the fields in `core_user.search_text` (see the migration that adds it).
const SEARCH_SEPARATOR: char = '\u{1f}';

/// `text` as a LIKE pattern matching itself anywhere: `\`, `%` and `_` escaped.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

type Boxed<'a> = core_user::BoxedQuery<'a, crate::db::MultiBackend>;

/// The WHERE clause shared by the page and the count.
fn filtered<'a>(q: &'a UserQuery) -> Boxed<'a> {
    let mut b = core_user::table
        .into_boxed()
        .filter(core_user::user_type.eq(UserType::Personal.as_str()));
    b = match q.activity {
        Activity::Active => b.filter(core_user::is_active.eq(true)),
        Activity::Inactive => b.filter(core_user::is_active.eq(false)),
        Activity::Any => b,
    };
    if let Some(text) = &q.text {
        let pattern = contains_pattern(text);
        b = if text.contains(SEARCH_SEPARATOR) {
            // The joined column could match across fields: test each field.
            b.filter(
                lower_opt(core_user::first_name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower_opt(core_user::last_name)
                        .like(pattern.clone())
                        .escape('\\'))
                    .or(lower(core_user::email)
                        .like(pattern)
                        .escape('\\')
                        .nullable()),
            )
        } else {
            b.filter(core_user::search_text.like(pattern).escape('\\'))
        };
    }
    if let Some(g) = q.group_id {
        let g = g.key().unwrap_or(0);
        b = b.filter(
            core_user::id.eq_any(pgm::table.filter(pgm::group_id.eq(g)).select(pgm::user_id)),
        );
    }
    if let Some(me) = q.shares_group_with {
        let me = me.key().unwrap_or(0);
        let (m1, m2) = diesel::alias!(pgm as mine, pgm as theirs);
        let my_groups = m1
            .filter(m1.field(pgm::user_id).eq(me))
            .filter(
                m1.field(pgm::group_id)
                    .ne(people_domain::group::ALL_USERS_ID.key().unwrap_or(0)),
            )
            .select(m1.field(pgm::group_id));
        b = b.filter(
            core_user::id.eq_any(
                m2.filter(m2.field(pgm::group_id).eq_any(my_groups))
                    .select(m2.field(pgm::user_id)),
            ),
        );
    }
    b
}

/// Adds the list's ORDER BY: group rank first when asked, then the names (NULLs last on both back ends, as
/// PostgreSQL puts them), then id.
fn ordered<'a>(mut b: Boxed<'a>, q: &UserQuery, sqlite: bool) -> Boxed<'a> {
    if let UserOrder::GroupRank(g) = q.order {
        let g = g.key().unwrap_or(0);
        let manages = pgm::table
            .filter(pgm::user_id.eq(core_user::id))
            .filter(pgm::group_id.eq(g))
            .filter(pgm::is_group_manager.eq(true));
        b = b
            .then_order_by(core_user::is_superuser.desc())
            .then_order_by(diesel::dsl::exists(manages).desc());
    }
    macro_rules! by_names {
        ($b:expr, $first:expr, $second:expr) => {{
            let mut b = $b;
            if sqlite {
                b = b.then_order_by($first.is_null());
            }
            b = b.then_order_by(lower_opt($first));
            if sqlite {
                b = b.then_order_by($second.is_null());
            }
            b.then_order_by(lower_opt($second))
                .then_order_by(core_user::id)
        }};
    }
    match q.order {
        UserOrder::LastName => by_names!(b, core_user::last_name, core_user::first_name),
        _ => by_names!(b, core_user::first_name, core_user::last_name),
    }
}

/// A condition that is always true and keeps the statement out of the prepared-statement cache, so that the
/// database plans it for the actual search pattern every time: a generic plan cannot tell that a trigram
/// index suits `'%zebra%'`, and would scan every user instead.
fn plan_for_this_pattern() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("TRUE")
}

pub(crate) fn list(conn: &mut AnyConnection, q: &UserQuery) -> Result<(Vec<User>, i64)> {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    if q.text.is_none() {
        // Without a search the ordered index serves the page; the count is a separate, cached statement.
        let total: i64 = filtered(q).count().get_result(conn).map_err(db)?;
        if q.page.is_some_and(|p| p.limit == 0 || p.offset >= total) {
            return Ok((Vec::new(), total));
        }
        let mut b = ordered(filtered(q), q, sqlite);
        if let Some(p) = q.page {
            b = b.limit(p.limit).offset(p.offset);
        }
        let rows = b.select(USER_COLUMNS).load::<UserRow>(conn).map_err(db)?;
        return Ok((rows.into_iter().map(User::from).collect(), total));
    }
    // A search reads its matches once: the page and the total (a window count) in one statement.
    let count_only = |conn: &mut AnyConnection| -> Result<i64> {
        filtered(q)
            .filter(plan_for_this_pattern())
            .count()
            .get_result(conn)
            .map_err(db)
    };
    if q.page.is_some_and(|p| p.limit == 0) {
        return Ok((Vec::new(), count_only(conn)?));
    }
    let mut b = ordered(filtered(q).filter(plan_for_this_pattern()), q, sqlite);
    if let Some(p) = q.page {
        b = b.limit(p.limit).offset(p.offset);
    }
    let rows: Vec<(UserRow, i64)> = b
        .select((USER_COLUMNS, diesel::dsl::count(core_user::id).over()))
        .load(conn)
        .map_err(db)?;
    let total = match rows.first() {
        Some((_, total)) => *total,
        // Past the end (or nothing matches): the window had no row to report the total on.
        None if q.page.is_some_and(|p| p.offset > 0) => count_only(conn)?,
        None => 0,
    };
    Ok((
        rows.into_iter().map(|(u, _)| User::from(u)).collect(),
        total,
    ))
}

/// One query: the user LEFT JOINed to their memberships, ordered by group id.
pub(crate) fn with_memberships(
    conn: &mut AnyConnection,
    id: i32,
) -> Result<Option<(User, Vec<Membership>)>> {
    let rows: Vec<(UserRow, Option<crate::group::MembershipRow>)> =
        on_backend!(conn, |c| core_user::table
            .left_join(pgm::table.on(pgm::user_id.eq(core_user::id)))
            .filter(core_user::id.eq(id))
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
    let memberships =
        crate::group::joined_memberships(std::iter::once(first).chain(rows.map(|r| r.1)));
    Ok(Some((User::from(user), memberships)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(contains_pattern("ZeB"), "%zeb%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}

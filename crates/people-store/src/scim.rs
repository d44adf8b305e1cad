//! SCIM's user list: a [`UserFilter`] compiled into the WHERE clause of one query (nothing is filtered in
//! memory), with the semantics of the fake store's `scim_matches` (people-domain's `testing`), which the
//! storage contract checks on both back ends.
//!
//! Kept apart from `user.rs` because it is a small compiler of its own, and the only code that writes SQL
//! differently per back end for the same condition. Every value is a bound parameter; only fixed column
//! expressions and operators are written as SQL text.
//!
//! - Logic is two-valued: a comparison on an absent value (a NULL column, a `displayName` without names) is
//!   false, `ne` included, and `not` is the complement. Negations are pushed down to the comparisons, where a
//!   negated comparison is `NOT coalesce(c, FALSE)`; positive comparisons stay plain, so that indexes serve
//!   them (a NULL there can only make an `and`/`or` false, never true).
//! - Text: `id` and `externalId` are case-exact; the other attributes compare `lower(column)` with
//!   `lower($1)` (`lower(email) = lower($1)` is exactly the expression of `idx_core_user_email_lower`).
//!   `co`/`sw`/`ew` are LIKE with `\`, `%` and `_` escaped; SQLite's LIKE ignores ASCII case, so there the
//!   case-exact ones are GLOB with `*`, `?` and `[` escaped. `gt`/`ge`/`lt`/`le` compare code points
//!   (`COLLATE "C"` on PostgreSQL, SQLite's binary collation).
//! - `id` on PostgreSQL compares with a `CHAR(21)` value so that `idx_core_user_entity_id` serves it (see
//!   `user::by_entity_id`); a value no `CHAR(21)` comparison can answer exactly matches no id.

use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};
use people_domain::clock::Timestamp;
use people_domain::group::{Group, ADMINISTRATORS_ID, ALL_USERS_ID};
use people_domain::scim::filter::{
    GroupAttr, GroupFilter, Literal, Op, ScimFilter, UserAttr, UserFilter,
};
use people_domain::scim::group::{GroupRecord, ScimMember};
use people_domain::scim::list::{Sort, SortOrder};
use people_domain::store::Page;
use people_domain::user::{User, UserType};
use people_domain::{GroupId, Result, UserId};

use crate::db::{AnyConnection, MultiBackend};
use crate::error::db;
use crate::key::Key;
use crate::schema::{core_user, permissions_group as pg, permissions_group_membership as pgm};
use crate::time::{naive, utc};
use crate::user::{UserRow, USER_COLUMNS};

/// A condition on a row of table `T`, NULL where SQL's three-valued logic says so.
type Cond<T = core_user::table> =
    Box<dyn BoxableExpression<T, MultiBackend, SqlType = Nullable<Bool>>>;
/// A condition that is never NULL.
type Flag<T> = Box<dyn BoxableExpression<T, MultiBackend, SqlType = Bool>>;

/// The attributes of one resource type as SQL on its table.
trait SqlAttr: Copy {
    /// The resource's table.
    type Table: 'static;
    /// `attr pr`: a non-empty value; never NULL.
    fn present(self) -> Flag<Self::Table>;
    /// One comparison, NULL or false where the value is absent.
    fn compare(self, op: Op, lit: &Literal, sqlite: bool) -> Cond<Self::Table>;
    /// `c`, or `NOT c` when `negated`, as a condition.
    fn flag(c: Flag<Self::Table>, negated: bool) -> Cond<Self::Table>;
    /// `NOT coalesce(c, FALSE)`: true where `c` is false or NULL.
    fn negate(c: Cond<Self::Table>) -> Cond<Self::Table>;
    /// `l AND r` (or `l OR r`).
    fn join(l: Cond<Self::Table>, r: Cond<Self::Table>, and: bool) -> Cond<Self::Table>;
}

/// The table-typed operations of [`SqlAttr`] (diesel's expressions are typed by their table, so these are
/// written once per table).
macro_rules! cond_ops {
    ($table:ty) => {
        fn flag(c: Flag<$table>, negated: bool) -> Cond<$table> {
            if negated {
                Box::new(diesel::dsl::not(c).nullable())
            } else {
                Box::new(c.nullable())
            }
        }
        fn negate(c: Cond<$table>) -> Cond<$table> {
            Box::new(diesel::dsl::not(coalesce_bool(c, false)).nullable())
        }
        fn join(l: Cond<$table>, r: Cond<$table>, and: bool) -> Cond<$table> {
            if and {
                Box::new(l.and(r))
            } else {
                Box::new(l.or(r))
            }
        }
    };
}

impl SqlAttr for UserAttr {
    type Table = core_user::table;
    fn present(self) -> Flag<core_user::table> {
        present(self)
    }
    fn compare(self, op: Op, lit: &Literal, sqlite: bool) -> Cond {
        compare(self, op, lit, sqlite)
    }
    cond_ops!(core_user::table);
}

diesel::define_sql_function! {
    /// SQL `coalesce` of a nullable condition and a default.
    #[sql_name = "coalesce"]
    fn coalesce_bool(a: Nullable<Bool>, b: Bool) -> Bool;
}

/// The people SCIM sees (personal, with an `entity_id`, not deleted by SCIM) that match `filter`, in `sort`
/// order then by id: the `page` of them and how many match, in one statement (a window count) unless the
/// page is past the end.
pub(crate) fn users(
    conn: &mut AnyConnection,
    filter: Option<&UserFilter>,
    sort: Option<Sort<UserAttr>>,
    page: Page,
) -> Result<(Vec<User>, i64)> {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    let visible = || {
        let b = core_user::table
            .into_boxed::<MultiBackend>()
            .filter(core_user::user_type.eq(UserType::Personal.as_str()))
            .filter(core_user::entity_id.is_not_null())
            .filter(core_user::scim_deleted_at.is_null());
        match filter {
            Some(f) => b.filter(compile(f, false, sqlite)),
            None => b,
        }
    };
    let count_only = |conn: &mut AnyConnection| -> Result<i64> {
        visible().count().get_result(conn).map_err(db)
    };
    let (limit, offset) = (page.limit.max(0), page.offset.max(0));
    if limit == 0 {
        return Ok((Vec::new(), count_only(conn)?));
    }
    let ordered = match sort {
        None => visible(),
        Some(sort) => visible().order(user_order(sort, sqlite)),
    };
    let rows: Vec<(UserRow, i64)> = ordered
        .then_order_by(core_user::id)
        .limit(limit)
        .offset(offset)
        .select((USER_COLUMNS, diesel::dsl::count(core_user::id).over()))
        .load(conn)
        .map_err(db)?;
    let total = match rows.first() {
        Some((_, total)) => *total,
        // Past the end (or nothing matches): no row carried the total.
        None if offset > 0 => count_only(conn)?,
        None => 0,
    };
    Ok((
        rows.into_iter().map(|(u, _)| User::from(u)).collect(),
        total,
    ))
}

/// An `ORDER BY` term.
type Order<T> = Box<dyn BoxableExpression<T, MultiBackend, SqlType = Text>>;

/// `expr ASC` or `expr DESC`, NULLs first ascending (both back ends then agree).
fn order_by<T: 'static>(expr: &str, order: SortOrder) -> Order<T> {
    Box::new(sql::<Text>(&match order {
        SortOrder::Ascending => format!("{expr} ASC NULLS FIRST"),
        SortOrder::Descending => format!("{expr} DESC NULLS LAST"),
    }))
}

/// `sortBy` on users: the attribute's value as filters compare it (case-folded unless case-exact).
fn user_order(sort: Sort<UserAttr>, sqlite: bool) -> Order<core_user::table> {
    let expr = match sort.attr {
        UserAttr::Active => "is_active".to_string(),
        UserAttr::Created => "date_joined".to_string(),
        UserAttr::LastModified => "updated_at".to_string(),
        UserAttr::Id | UserAttr::ExternalId => text_column(sort.attr).to_string(),
        attr => format!("lower({})", text_column(attr)),
    };
    let expr = if sqlite
        || matches!(
            sort.attr,
            UserAttr::Active | UserAttr::Created | UserAttr::LastModified
        ) {
        expr
    } else {
        format!("{expr} COLLATE \"C\"")
    };
    order_by(&expr, sort.order)
}

/// `f` (or not `f`, when `negated`) as a condition: `and`/`or` with the negation pushed inside.
fn compile<A: SqlAttr>(f: &ScimFilter<A>, negated: bool, sqlite: bool) -> Cond<A::Table> {
    match (f, negated) {
        (ScimFilter::And(items), false) | (ScimFilter::Or(items), true) => {
            let parts: Vec<Cond<A::Table>> =
                items.iter().map(|i| compile(i, negated, sqlite)).collect();
            balanced::<A>(parts, true)
        }
        (ScimFilter::Or(items), false) | (ScimFilter::And(items), true) => {
            let parts: Vec<Cond<A::Table>> =
                items.iter().map(|i| compile(i, negated, sqlite)).collect();
            balanced::<A>(parts, false)
        }
        (ScimFilter::Not(inner), _) => compile(inner, !negated, sqlite),
        (ScimFilter::Present(attr), _) => A::flag(attr.present(), negated),
        (ScimFilter::Compare(attr, op, lit), _) => {
            let c = attr.compare(*op, lit, sqlite);
            if negated {
                A::negate(c)
            } else {
                c
            }
        }
    }
}

/// `a AND b AND …` (or `OR`) as a balanced tree, so that a long list of terms does not nest deeply; TRUE (or
/// FALSE) for none.
fn balanced<A: SqlAttr>(mut parts: Vec<Cond<A::Table>>, and: bool) -> Cond<A::Table> {
    match parts.len() {
        0 => constant(and),
        1 => parts.pop().unwrap_or_else(|| constant(and)),
        n => {
            let right = parts.split_off(n / 2);
            let (l, r) = (balanced::<A>(parts, and), balanced::<A>(right, and));
            A::join(l, r, and)
        }
    }
}

fn constant<T: 'static>(b: bool) -> Cond<T> {
    Box::new(sql::<Nullable<Bool>>(if b { "TRUE" } else { "FALSE" }))
}

/// A raw condition: `before`, the bound `value`, `after`, in parentheses.
fn around<T: 'static>(before: &str, value: String, after: &str) -> Cond<T> {
    Box::new(
        sql::<Nullable<Bool>>(&format!("({before}"))
            .bind::<Text, _>(value)
            .sql(&format!("{after})")),
    )
}

/// The SQL of a text attribute's value (NULL when absent), before case folding.
fn text_column(attr: UserAttr) -> &'static str {
    match attr {
        UserAttr::Id => "entity_id",
        UserAttr::ExternalId => "external_id",
        UserAttr::GivenName => "first_name",
        UserAttr::FamilyName => "last_name",
        // people's derivation (`derived_display_name`): the non-empty names joined by a space.
        // As sent, else people's derivation (`derived_display_name`): the non-empty names joined by a space.
        UserAttr::DisplayName => {
            "(CASE WHEN display_name IS NOT NULL THEN nullif(display_name, '') \
             WHEN coalesce(first_name, '') = '' THEN nullif(last_name, '') \
             WHEN coalesce(last_name, '') = '' THEN first_name \
             ELSE first_name || ' ' || last_name END)"
        }
        UserAttr::UserName => "coalesce(scim_user_name, email)",
        // Email (and, never asked, the non-text attributes).
        _ => "email",
    }
}

/// `attr pr`: a non-empty value; never NULL.
fn present(
    attr: UserAttr,
) -> Box<dyn BoxableExpression<core_user::table, MultiBackend, SqlType = Bool>> {
    match attr {
        UserAttr::Active | UserAttr::Created | UserAttr::LastModified => {
            Box::new(sql::<Bool>("TRUE"))
        }
        _ => {
            let c = text_column(attr);
            Box::new(sql::<Bool>(&format!("({c} IS NOT NULL AND {c} <> '')")))
        }
    }
}

/// A time comparison on `column` (`date_joined` or `updated_at`, never NULL).
macro_rules! time {
    ($column:expr, $op:expr, $t:expr) => {{
        let t = naive($t);
        let c: Cond<_> = match $op {
            Op::Eq => Box::new($column.eq(t).nullable()),
            Op::Ne => Box::new($column.ne(t).nullable()),
            Op::Gt => Box::new($column.gt(t).nullable()),
            Op::Ge => Box::new($column.ge(t).nullable()),
            Op::Lt => Box::new($column.lt(t).nullable()),
            Op::Le => Box::new($column.le(t).nullable()),
            Op::Co | Op::Sw | Op::Ew => constant(false),
        };
        c
    }};
}

/// One comparison, NULL or false where the value is absent.
fn compare(attr: UserAttr, op: Op, lit: &Literal, sqlite: bool) -> Cond {
    match (attr, lit) {
        (_, Literal::Null) => match op {
            Op::Eq => Box::new(diesel::dsl::not(present(attr)).nullable()),
            Op::Ne => Box::new(present(attr).nullable()),
            _ => constant(false),
        },
        (UserAttr::Active, Literal::Bool(b)) => match op {
            Op::Eq => Box::new(core_user::is_active.eq(*b).nullable()),
            Op::Ne => Box::new(core_user::is_active.ne(*b).nullable()),
            _ => constant(false),
        },
        (UserAttr::Created, Literal::Time(t)) => time!(core_user::date_joined, op, *t),
        (UserAttr::LastModified, Literal::Time(t)) => time!(core_user::updated_at, op, *t),
        (
            UserAttr::Id
            | UserAttr::ExternalId
            | UserAttr::UserName
            | UserAttr::Email
            | UserAttr::GivenName
            | UserAttr::FamilyName
            | UserAttr::DisplayName,
            Literal::Text(v),
        ) => text(attr, op, v, sqlite),
        // A literal of the wrong type (the parser makes none): nothing matches.
        _ => constant(false),
    }
}

/// The longest `entity_id` (`CHAR(21)`).
const ENTITY_ID_LEN: usize = 21;

fn text(attr: UserAttr, op: Op, v: &str, sqlite: bool) -> Cond {
    let exact = matches!(attr, UserAttr::Id | UserAttr::ExternalId);
    let column = text_column(attr);
    // `id` on PostgreSQL: the CHAR(21) as text (outside `eq`/`ne`).
    let column = if attr == UserAttr::Id && !sqlite {
        "CAST(entity_id AS TEXT)"
    } else {
        column
    };
    match op {
        Op::Eq | Op::Ne if attr == UserAttr::Id && !sqlite => id_equality(op, v),
        // Two indexed equalities (`idx_core_user_email_lower`, `idx_core_user_scim_user_name`) rather than
        // one on `coalesce(…)`, which no index holds.
        Op::Eq if attr == UserAttr::UserName => Box::new(
            sql::<Nullable<Bool>>("((scim_user_name IS NULL AND lower(email) = lower(")
                .bind::<Text, _>(v.to_string())
                .sql(")) OR lower(scim_user_name) = lower(")
                .bind::<Text, _>(v.to_string())
                .sql("))"),
        ),
        _ => {
            let (before, value, after) = text_parts(column, exact, op, v, sqlite);
            let matches = around(&before, value, &after);
            match op {
                Op::Co | Op::Sw | Op::Ew => match trigram_hint(attr, v, sqlite) {
                    Some(hint) => Box::new(matches.and(hint)),
                    None => matches,
                },
                _ => matches,
            }
        }
    }
}

/// A text comparison on the SQL expression `column` as the SQL before the bound value, the value, and the
/// SQL after it: case-exact, or both sides folded with `lower`.
fn text_parts(
    column: &str,
    exact: bool,
    op: Op,
    v: &str,
    sqlite: bool,
) -> (String, String, String) {
    let (col, val) = if exact {
        (column.to_string(), "")
    } else {
        (format!("lower({column})"), "lower")
    };
    let cmp = |sql_op: &str| {
        (
            format!("{col} {sql_op} {val}("),
            v.to_string(),
            ")".to_string(),
        )
    };
    let collate = if sqlite { "" } else { " COLLATE \"C\"" };
    let order = |sql_op: &str| {
        (
            format!("{col}{collate} {sql_op} {val}("),
            v.to_string(),
            ")".to_string(),
        )
    };
    match op {
        Op::Eq => cmp("="),
        Op::Ne => cmp("<>"),
        Op::Co | Op::Sw | Op::Ew if exact && sqlite => {
            let g = glob_escape(v);
            let pattern = match op {
                Op::Co => format!("*{g}*"),
                Op::Sw => format!("{g}*"),
                _ => format!("*{g}"),
            };
            (format!("{col} GLOB "), pattern, String::new())
        }
        Op::Co | Op::Sw | Op::Ew => {
            let l = like_escape(v);
            let pattern = match op {
                Op::Co => format!("%{l}%"),
                Op::Sw => format!("{l}%"),
                _ => format!("%{l}"),
            };
            (
                format!("{col} LIKE {val}("),
                pattern,
                ") ESCAPE '\\'".to_string(),
            )
        }
        Op::Gt => order(">"),
        Op::Ge => order(">="),
        Op::Lt => order("<"),
        Op::Le => order("<="),
    }
}

/// `id eq` / `id ne` on PostgreSQL: against a `CHAR(21)` value, so that the unique index serves `eq`. That
/// cast would truncate a longer value and ignore trailing spaces, and no id people writes is longer or
/// ends with a space, so such a value equals no id.
fn id_equality(op: Op, v: &str) -> Cond {
    let exact_as_char = v.chars().count() <= ENTITY_ID_LEN && !v.ends_with(' ');
    match (op, exact_as_char) {
        (Op::Eq, true) => around("entity_id = CAST(", v.to_string(), " AS CHAR(21))"),
        (_, true) => around("entity_id <> CAST(", v.to_string(), " AS CHAR(21))"),
        (Op::Eq, false) => constant(false),
        (_, false) => Box::new(sql::<Nullable<Bool>>("(entity_id IS NOT NULL)")),
    }
}

/// On PostgreSQL, a `co`/`sw`/`ew` on a field of `search_text` (the lower-cased names and email joined by
/// U+001F, under a trigram index) also requires that column to contain the value: implied by the exact
/// test, it lets the planner use the index instead of reading every user. Only where the implication holds
/// (a case-folded field of `search_text`, a value without the separator) and the value is long enough to
/// have a trigram.
fn trigram_hint(attr: UserAttr, v: &str, sqlite: bool) -> Option<Cond> {
    // Not userName or displayName: a SCIM userName or displayName of its own is not in `search_text`.
    let field = matches!(
        attr,
        UserAttr::Email | UserAttr::GivenName | UserAttr::FamilyName
    );
    if sqlite || !field || v.contains('\u{1f}') || v.chars().count() < 3 {
        return None;
    }
    let pattern = format!("%{}%", like_escape(v));
    Some(around("search_text LIKE lower(", pattern, ") ESCAPE '\\'"))
}

/// `v` with LIKE's `\`, `%` and `_` escaped by `\`.
fn like_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `v` with GLOB's `*`, `?` and `[` made literal (`[*]`, `[?]`, `[[]`).
fn glob_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

// ----- groups -----

/// The columns of a [`GroupRecord`].
type GroupRecordRow = (
    i32,
    String,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn group_record(r: GroupRecordRow) -> GroupRecord {
    GroupRecord {
        group: Group {
            id: GroupId(r.0.into()),
            name: r.1,
            entity_id: r.2,
        },
        external_id: r.3,
        created_at: utc(r.4),
        updated_at: utc(r.5),
    }
}

const GROUP_RECORD_COLUMNS: (
    pg::id,
    pg::name,
    pg::entity_id,
    pg::external_id,
    pg::created_at,
    pg::updated_at,
) = (
    pg::id,
    pg::name,
    pg::entity_id,
    pg::external_id,
    pg::created_at,
    pg::updated_at,
);

/// The rows of `core_user` SCIM sees, joined as `u` to a membership `m` of the outer `permissions_group`.
const VISIBLE_MEMBER: &str = "SELECT 1 FROM permissions_group_membership m \
     JOIN core_user u ON u.id = m.user_id \
     WHERE m.group_id = permissions_group.id AND u.type = 'personal' \
     AND u.scim_deleted_at IS NULL AND u.entity_id IS NOT NULL";

impl SqlAttr for GroupAttr {
    type Table = pg::table;
    cond_ops!(pg::table);

    fn present(self) -> Flag<pg::table> {
        Box::new(sql::<Bool>(match self {
            GroupAttr::Id => "(permissions_group.entity_id IS NOT NULL)",
            GroupAttr::ExternalId => {
                "(permissions_group.external_id IS NOT NULL AND permissions_group.external_id <> '')"
            }
            GroupAttr::Member => {
                "(EXISTS (SELECT 1 FROM permissions_group_membership m \
                 JOIN core_user u ON u.id = m.user_id \
                 WHERE m.group_id = permissions_group.id AND u.type = 'personal' \
                 AND u.scim_deleted_at IS NULL AND u.entity_id IS NOT NULL))"
            }
            GroupAttr::DisplayName | GroupAttr::Created | GroupAttr::LastModified => "TRUE",
        }))
    }

    fn compare(self, op: Op, lit: &Literal, sqlite: bool) -> Cond<pg::table> {
        match (self, lit) {
            (_, Literal::Null) => match op {
                Op::Eq => Box::new(diesel::dsl::not(self.present()).nullable()),
                Op::Ne => Box::new(self.present().nullable()),
                _ => constant(false),
            },
            (GroupAttr::Created, Literal::Time(t)) => time!(pg::created_at, op, *t),
            (GroupAttr::LastModified, Literal::Time(t)) => time!(pg::updated_at, op, *t),
            (GroupAttr::Member, Literal::Text(v)) => {
                let (before, value, after) = match op {
                    // On the index's own type (see `user::by_entity_id`).
                    Op::Eq if !sqlite => {
                        if v.chars().count() > ENTITY_ID_LEN || v.ends_with(' ') {
                            return constant(false);
                        }
                        (
                            "u.entity_id = CAST(".to_string(),
                            v.clone(),
                            " AS CHAR(21))".to_string(),
                        )
                    }
                    _ => {
                        let col = if sqlite {
                            "u.entity_id"
                        } else {
                            "CAST(u.entity_id AS TEXT)"
                        };
                        text_parts(col, true, op, v, sqlite)
                    }
                };
                around(
                    &format!("EXISTS ({VISIBLE_MEMBER} AND ({before}"),
                    value,
                    &format!("{after}))"),
                )
            }
            (GroupAttr::Id | GroupAttr::ExternalId | GroupAttr::DisplayName, Literal::Text(v)) => {
                let (column, exact) = match self {
                    GroupAttr::Id => ("permissions_group.entity_id", true),
                    GroupAttr::ExternalId => ("permissions_group.external_id", true),
                    _ => ("permissions_group.name", false),
                };
                let (before, value, after) = text_parts(column, exact, op, v, sqlite);
                around(&before, value, &after)
            }
            _ => constant(false),
        }
    }
}

/// `sortBy` on groups.
fn group_order(sort: Sort<GroupAttr>, sqlite: bool) -> Order<pg::table> {
    let expr = match sort.attr {
        GroupAttr::Id => "permissions_group.entity_id",
        GroupAttr::ExternalId => "permissions_group.external_id",
        GroupAttr::LastModified => "permissions_group.updated_at",
        GroupAttr::Created | GroupAttr::Member => "permissions_group.created_at",
        GroupAttr::DisplayName => "lower(permissions_group.name)",
    };
    let expr = match sort.attr {
        GroupAttr::Created | GroupAttr::LastModified | GroupAttr::Member => expr.to_string(),
        _ if sqlite => expr.to_string(),
        _ => format!("{expr} COLLATE \"C\""),
    };
    order_by(&expr, sort.order)
}

/// The magic groups' keys.
fn magic() -> [i32; 2] {
    [
        ALL_USERS_ID.key().unwrap_or(1),
        ADMINISTRATORS_ID.key().unwrap_or(2),
    ]
}

/// The groups SCIM sees matching `filter`, in `sort` order then by id: the page and the total.
pub(crate) fn groups(
    conn: &mut AnyConnection,
    filter: Option<&GroupFilter>,
    sort: Option<Sort<GroupAttr>>,
    page: Page,
) -> Result<(Vec<GroupRecord>, i64)> {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    let visible = || {
        let b = pg::table
            .into_boxed::<MultiBackend>()
            .filter(pg::id.ne_all(magic()))
            .filter(pg::entity_id.is_not_null());
        match filter {
            Some(f) => b.filter(compile(f, false, sqlite)),
            None => b,
        }
    };
    let total: i64 = visible().count().get_result(conn).map_err(db)?;
    let (limit, offset) = (page.limit.max(0), page.offset.max(0));
    if limit == 0 || total == 0 {
        return Ok((Vec::new(), total));
    }
    let ordered = match sort {
        None => visible(),
        Some(sort) => visible().order(group_order(sort, sqlite)),
    };
    let rows: Vec<GroupRecordRow> = ordered
        .then_order_by(pg::id)
        .limit(limit)
        .offset(offset)
        .select(GROUP_RECORD_COLUMNS)
        .load(conn)
        .map_err(db)?;
    Ok((rows.into_iter().map(group_record).collect(), total))
}

/// The group whose `entity_id` is `entity_id`.
pub(crate) fn group_by_entity_id(
    conn: &mut AnyConnection,
    entity_id: &str,
) -> Result<Option<GroupRecord>> {
    if entity_id.contains('\0') {
        return Ok(None);
    }
    pg::table
        .filter(pg::entity_id.eq(entity_id))
        .select(GROUP_RECORD_COLUMNS)
        .first::<GroupRecordRow>(conn)
        .optional()
        .map(|r| r.map(group_record))
        .map_err(db)
}

/// Sets a group's `external_id` and `updated_at`.
pub(crate) fn set_group_external_id(
    conn: &mut AnyConnection,
    id: i32,
    external_id: Option<&str>,
    at: Timestamp,
) -> Result<()> {
    diesel::update(pg::table.find(id))
        .set((
            pg::external_id.eq(external_id),
            pg::updated_at.eq(naive(at)),
        ))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

/// The members SCIM sees of `groups`, by group then user entity id.
pub(crate) fn group_members(conn: &mut AnyConnection, groups: &[i32]) -> Result<Vec<ScimMember>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i32, i32, Option<String>, String)> = pgm::table
        .inner_join(core_user::table)
        .filter(pgm::group_id.eq_any(groups))
        .filter(core_user::user_type.eq(UserType::Personal.as_str()))
        .filter(core_user::scim_deleted_at.is_null())
        .filter(core_user::entity_id.is_not_null())
        .order((pgm::group_id, core_user::entity_id))
        .select((
            pgm::group_id,
            core_user::id,
            core_user::entity_id,
            core_user::email,
        ))
        .load(conn)
        .map_err(db)?;
    Ok(rows
        .into_iter()
        .filter_map(|(g, u, e, email)| {
            Some(ScimMember {
                group_id: GroupId(g.into()),
                user_id: UserId(u.into()),
                entity_id: e?.trim_end_matches(' ').to_string(),
                display: email,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_their_wildcards() {
        assert_eq!(like_escape(r"50%_off\"), r"50\%\_off\\");
        assert_eq!(glob_escape("a*b?c[d]"), "a[*]b[?]c[[]d]");
    }
}

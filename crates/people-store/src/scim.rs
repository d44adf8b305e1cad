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
use people_domain::scim::filter::{Literal, Op, UserAttr, UserFilter};
use people_domain::store::Page;
use people_domain::user::{User, UserType};
use people_domain::Result;

use crate::db::{AnyConnection, MultiBackend};
use crate::error::db;
use crate::schema::core_user;
use crate::time::naive;
use crate::user::{UserRow, USER_COLUMNS};

/// A condition on a `core_user` row, NULL where SQL's three-valued logic says so.
type Cond = Box<dyn BoxableExpression<core_user::table, MultiBackend, SqlType = Nullable<Bool>>>;

diesel::define_sql_function! {
    /// SQL `coalesce` of a nullable condition and a default.
    #[sql_name = "coalesce"]
    fn coalesce_bool(a: Nullable<Bool>, b: Bool) -> Bool;
}

/// The people SCIM sees (personal, with an `entity_id`, not deleted by SCIM) that match `filter`, by id: the
/// `page` of them and how many match, in one statement (a window count) unless the page is past the end.
pub(crate) fn users(
    conn: &mut AnyConnection,
    filter: Option<&UserFilter>,
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
    let rows: Vec<(UserRow, i64)> = visible()
        .order(core_user::id)
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

/// `f` (or not `f`, when `negated`) as a condition: `and`/`or` with the negation pushed inside.
fn compile(f: &UserFilter, negated: bool, sqlite: bool) -> Cond {
    match (f, negated) {
        (UserFilter::And(items), false) | (UserFilter::Or(items), true) => {
            let parts: Vec<Cond> = items.iter().map(|i| compile(i, negated, sqlite)).collect();
            balanced(parts, true)
        }
        (UserFilter::Or(items), false) | (UserFilter::And(items), true) => {
            let parts: Vec<Cond> = items.iter().map(|i| compile(i, negated, sqlite)).collect();
            balanced(parts, false)
        }
        (UserFilter::Not(inner), _) => compile(inner, !negated, sqlite),
        (UserFilter::Present(attr), _) => {
            let c = present(*attr);
            if negated {
                Box::new(diesel::dsl::not(c).nullable())
            } else {
                Box::new(c.nullable())
            }
        }
        (UserFilter::Compare(attr, op, lit), _) => {
            let c = compare(*attr, *op, lit, sqlite);
            if negated {
                Box::new(diesel::dsl::not(coalesce_bool(c, false)).nullable())
            } else {
                c
            }
        }
    }
}

/// `a AND b AND …` (or `OR`) as a balanced tree, so that a long list of terms does not nest deeply; TRUE (or
/// FALSE) for none.
fn balanced(mut parts: Vec<Cond>, and: bool) -> Cond {
    match parts.len() {
        0 => constant(and),
        1 => parts.pop().unwrap_or_else(|| constant(and)),
        n => {
            let right = parts.split_off(n / 2);
            let (l, r) = (balanced(parts, and), balanced(right, and));
            if and {
                Box::new(l.and(r))
            } else {
                Box::new(l.or(r))
            }
        }
    }
}

fn constant(b: bool) -> Cond {
    Box::new(sql::<Nullable<Bool>>(if b { "TRUE" } else { "FALSE" }))
}

/// A raw condition: `before`, the bound `value`, `after`, in parentheses.
fn around(before: &str, value: String, after: &str) -> Cond {
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
        UserAttr::DisplayName => {
            "(CASE WHEN coalesce(first_name, '') = '' THEN nullif(last_name, '') \
             WHEN coalesce(last_name, '') = '' THEN first_name \
             ELSE first_name || ' ' || last_name END)"
        }
        // UserName, Email (and, never asked, the non-text attributes).
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
        let c: Cond = match $op {
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
    // The column as compared: case-folded, or for `id` on PostgreSQL the CHAR(21) as text (outside `eq`).
    let (col, val) = if exact {
        let col = if attr == UserAttr::Id && !sqlite {
            "CAST(entity_id AS TEXT)".to_string()
        } else {
            column.to_string()
        };
        (col, "")
    } else {
        (format!("lower({column})"), "lower")
    };
    let cmp = |sql_op: &str| around(&format!("{col} {sql_op} {val}("), v.to_string(), ")");
    let order = |sql_op: &str| {
        let collate = if sqlite { "" } else { " COLLATE \"C\"" };
        around(
            &format!("{col}{collate} {sql_op} {val}("),
            v.to_string(),
            ")",
        )
    };
    match op {
        Op::Eq | Op::Ne if attr == UserAttr::Id && !sqlite => id_equality(op, v),
        Op::Eq => cmp("="),
        Op::Ne => cmp("<>"),
        Op::Co | Op::Sw | Op::Ew if exact && sqlite => {
            let g = glob_escape(v);
            let pattern = match op {
                Op::Co => format!("*{g}*"),
                Op::Sw => format!("{g}*"),
                _ => format!("*{g}"),
            };
            around(&format!("{col} GLOB "), pattern, "")
        }
        Op::Co | Op::Sw | Op::Ew => {
            let l = like_escape(v);
            let pattern = match op {
                Op::Co => format!("%{l}%"),
                Op::Sw => format!("{l}%"),
                _ => format!("%{l}"),
            };
            let matches = around(&format!("{col} LIKE {val}("), pattern, ") ESCAPE '\\'");
            match trigram_hint(attr, v, sqlite) {
                Some(hint) => Box::new(matches.and(hint)),
                None => matches,
            }
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
/// (a case-folded field of `search_text`, a value without the separator, and for `displayName` without the
/// space that joins the names) and the value is long enough to have a trigram.
fn trigram_hint(attr: UserAttr, v: &str, sqlite: bool) -> Option<Cond> {
    let field = matches!(
        attr,
        UserAttr::UserName | UserAttr::Email | UserAttr::GivenName | UserAttr::FamilyName
    ) || (attr == UserAttr::DisplayName && !v.contains(' '));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_their_wildcards() {
        assert_eq!(like_escape(r"50%_off\"), r"50\%\_off\\");
        assert_eq!(glob_escape("a*b?c[d]"), "a[*]b[?]c[[]d]");
    }
}

//! SCIM filters on users (RFC 7644 §3.4.2.2), parsed from the query string into a typed condition that the
//! store compiles into SQL (nothing is filtered in memory).

use crate::clock::Timestamp;

/// A user attribute a filter can name, with the column behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttr {
    /// `id`: `core_user.entity_id` (case-exact).
    Id,
    /// `externalId`: `core_user.external_id` (case-exact).
    ExternalId,
    /// `userName`: `core_user.email` (not case-exact).
    UserName,
    /// `name.givenName`: `first_name`.
    GivenName,
    /// `name.familyName`: `last_name`.
    FamilyName,
    /// `displayName`: the names, "given family", as people derives it.
    DisplayName,
    /// `emails.value` (and `emails[value …]`): `email`.
    Email,
    /// `active`: `is_active`.
    Active,
    /// `meta.created`: `date_joined`.
    Created,
    /// `meta.lastModified`: `updated_at`.
    LastModified,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co`: contains (`%` and `_` in the value match themselves).
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

/// A comparison value, typed by the attribute it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A string (compared case-insensitively unless the attribute is case-exact).
    Text(String),
    /// `true` / `false`, for `active`.
    Bool(bool),
    /// A date-time, for `meta.created` and `meta.lastModified`.
    Time(Timestamp),
    /// `null`: `eq null` is "not present", `ne null` is "present".
    Null,
}

/// A filter over users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    /// `attr op value`.
    Compare(UserAttr, Op, Literal),
    /// `attr pr`: has a non-empty value.
    Present(UserAttr),
    /// All of these.
    And(Vec<UserFilter>),
    /// Any of these.
    Or(Vec<UserFilter>),
    /// Not this.
    Not(Box<UserFilter>),
}

//! SCIM filters (RFC 7644 §3.4.2.2) on users and groups, parsed from the query string into a typed condition
//! that the store compiles into SQL (nothing is filtered in memory).

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use scim_v2::filter::{
    AttrExp, AttrPath, CompValue, CompareOp, Filter, ParseError, ValFilter, ValuePath,
};

use crate::clock::{truncate_micros, Timestamp};
use crate::scim::error::{ScimError, ScimType};

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

/// A group attribute a filter can name, with the column behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAttr {
    /// `id`: `permissions_group.entity_id` (case-exact).
    Id,
    /// `externalId`: `permissions_group.external_id` (case-exact).
    ExternalId,
    /// `displayName`: `name` (not case-exact).
    DisplayName,
    /// `members.value` (and `members`, `members[value …]`): a member's user `entity_id` (case-exact); the
    /// group matches when one of its members does.
    Member,
    /// `meta.created`: `created_at`.
    Created,
    /// `meta.lastModified`: `updated_at`.
    LastModified,
}

/// A filter over the resources whose attributes are `A`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimFilter<A> {
    /// `attr op value`.
    Compare(A, Op, Literal),
    /// `attr pr`: has a non-empty value.
    Present(A),
    /// All of these.
    And(Vec<ScimFilter<A>>),
    /// Any of these.
    Or(Vec<ScimFilter<A>>),
    /// Not this.
    Not(Box<ScimFilter<A>>),
}

/// A filter over users.
pub type UserFilter = ScimFilter<UserAttr>;
/// A filter over groups.
pub type GroupFilter = ScimFilter<GroupAttr>;

/// The attributes of a resource type people lists: read from a `filter` and from `sortBy`.
pub trait SortAttr: Sized {
    /// The attribute `raw` names, as `sortBy` names one (the same paths as in filters, case-insensitive, the
    /// core schema's URN allowed); anything else, or a multi-valued attribute, is `invalidValue`.
    fn sort_attr(raw: &str) -> Result<Self, ScimError>;
    /// Parses a filter on this resource type (`invalidFilter` when it is not one).
    fn filter(raw: &str) -> Result<ScimFilter<Self>, ScimError>;
}

fn sort_attr<A: Attrs + PartialEq>(raw: &str, multi: &[A]) -> Result<A, ScimError> {
    let refuse = || {
        ScimError::new(
            ScimType::InvalidValue,
            format!(
                "sortBy {raw:?} is not an attribute people sorts on ({})",
                A::SUPPORTED
            ),
        )
    };
    // An attribute path alone is read by the filter grammar as the operand of `pr`.
    let raw_path = raw.trim();
    if raw_path.is_empty() || !raw_path.bytes().all(is_name_byte) {
        return Err(refuse());
    }
    let path = match Filter::from_str(&format!("{raw_path} pr")) {
        Ok(Filter::Attr(AttrExp::Present(path))) => path,
        _ => return Err(refuse()),
    };
    match resolve::<A>(&path) {
        Ok((Target::Attr(a), _)) if !multi.contains(&a) => Ok(a),
        _ => Err(refuse()),
    }
}

impl SortAttr for UserAttr {
    fn sort_attr(raw: &str) -> Result<Self, ScimError> {
        sort_attr(raw, &[])
    }

    fn filter(raw: &str) -> Result<ScimFilter<Self>, ScimError> {
        parse_filter(raw)
    }
}

impl SortAttr for GroupAttr {
    fn sort_attr(raw: &str) -> Result<Self, ScimError> {
        sort_attr(raw, &[GroupAttr::Member])
    }

    fn filter(raw: &str) -> Result<ScimFilter<Self>, ScimError> {
        parse_filter(raw)
    }
}

impl UserFilter {
    /// Parses a SCIM filter on users; see [`parse_user_filter`].
    pub fn parse(raw: &str) -> Result<Self, ScimError> {
        parse_user_filter(raw)
    }
}

impl GroupFilter {
    /// Parses a SCIM filter on groups: `id`, `externalId`, `displayName`, `members.value` (also as
    /// `members[value …]`), `meta.created`, `meta.lastModified`.
    pub fn parse(raw: &str) -> Result<Self, ScimError> {
        parse_filter(raw)
    }
}

impl<A> ScimFilter<A> {
    /// The filter every user matches (an empty `And`).
    pub fn always() -> Self {
        ScimFilter::And(Vec::new())
    }

    /// The filter no user matches (an empty `Or`).
    pub fn never() -> Self {
        ScimFilter::Or(Vec::new())
    }

    /// All of `items`: nested `And`s flattened, `always` operands dropped, `never` if any operand is.
    fn all(items: Vec<Self>) -> Self {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                ScimFilter::And(inner) => out.extend(inner),
                ScimFilter::Or(ref inner) if inner.is_empty() => return ScimFilter::never(),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or_else(ScimFilter::always)
        } else {
            ScimFilter::And(out)
        }
    }

    /// Any of `items`: nested `Or`s flattened, `never` operands dropped, `always` if any operand is.
    fn any(items: Vec<Self>) -> Self {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                ScimFilter::Or(inner) => out.extend(inner),
                ScimFilter::And(ref inner) if inner.is_empty() => return ScimFilter::always(),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or_else(ScimFilter::never)
        } else {
            ScimFilter::Or(out)
        }
    }

    /// Not `f`: constants flipped, a double negation removed.
    fn negate(f: Self) -> Self {
        match f {
            ScimFilter::And(ref items) if items.is_empty() => ScimFilter::never(),
            ScimFilter::Or(ref items) if items.is_empty() => ScimFilter::always(),
            ScimFilter::Not(inner) => *inner,
            other => ScimFilter::Not(Box::new(other)),
        }
    }
}

impl FromStr for UserFilter {
    type Err = ScimError;

    fn from_str(raw: &str) -> Result<Self, ScimError> {
        parse_user_filter(raw)
    }
}

impl FromStr for GroupFilter {
    type Err = ScimError;

    fn from_str(raw: &str) -> Result<Self, ScimError> {
        parse_filter(raw)
    }
}

/// SCIM's `displayName` as people derives it from the names: the non-empty ones of given and family name,
/// joined by one space; absent when both are empty or missing. Filters on `displayName` match this value
/// (the store computes the same expression in SQL).
pub fn derived_display_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    match (
        given.filter(|s| !s.is_empty()),
        family.filter(|s| !s.is_empty()),
    ) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

/// Longest filter accepted, in bytes: longer ones are refused before parsing (`invalidFilter`).
pub const MAX_FILTER_BYTES: usize = 4096;

/// The core User schema's URN, which may prefix an attribute (`urn:…:User:userName`).
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema's URN.
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// What every user's one email looks like in SCIM: `type` "work", `primary` true.
const EMAIL_TYPE: &str = "work";

/// Parses a SCIM filter on users (RFC 7644 §3.4.2.2) into a [`UserFilter`]: operators, `and`/`or`/`not` and
/// attribute names are case-insensitive, an attribute may carry the core User URN, and value filters on
/// `emails` (`emails[type eq "work" and value co "@x"]`) and `name` are understood. Bad syntax, an attribute
/// people cannot filter on, or a value of the wrong type is `invalidFilter` naming what is wrong.
pub fn parse_user_filter(raw: &str) -> Result<UserFilter, ScimError> {
    parse_filter(raw)
}

/// Parses a filter on the resource whose attributes are `A`.
fn parse_filter<A: Attrs>(raw: &str) -> Result<ScimFilter<A>, ScimError> {
    if raw.len() > MAX_FILTER_BYTES {
        return Err(invalid(format!(
            "the filter is longer than {MAX_FILTER_BYTES} bytes"
        )));
    }
    let lead = raw.len() - raw.trim_start().len();
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid("the filter is empty"));
    }
    let (text, inserted) = space_after_not(trimmed);
    let parsed =
        Filter::from_str(&text).map_err(|e| syntax_error(raw, &e, text.len(), lead, &inserted))?;
    map_filter::<A>(&parsed)
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::new(ScimType::InvalidFilter, detail)
}

/// RFC 7644 allows `not(…)`; the parser wants `not (…)`. Inserts the space after every `not` that stands as
/// a word before `(` outside string literals; returns the new text and the byte offsets (in the new text)
/// of the spaces inserted, for error positions.
fn space_after_not(s: &str) -> (String, Vec<usize>) {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 4);
    let mut inserted = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        out.push(c);
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if i >= 2
            && bytes[i - 2..=i].eq_ignore_ascii_case(b"not")
            && bytes.get(i + 1) == Some(&b'(')
            && (i == 2 || !is_name_byte(bytes[i - 3]))
        {
            inserted.push(out.len());
            out.push(' ');
        }
    }
    (out, inserted)
}

/// Bytes that can stand in an attribute path (so `xnot(` is not the keyword).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

/// A parse failure as a readable `invalidFilter`, positions counted in characters of the client's filter.
fn syntax_error(
    raw: &str,
    e: &ParseError,
    text_len: usize,
    lead: usize,
    inserted: &[usize],
) -> ScimError {
    // Back from the rewritten text to the client's: drop the inserted spaces, add the trimmed lead.
    let byte = |pos: usize| {
        let before = inserted.iter().filter(|&&p| p < pos).count();
        (pos.saturating_sub(before) + lead).min(raw.len())
    };
    let at = |pos: usize| {
        let b = byte(pos);
        raw.get(..b).map_or(b, |s| s.chars().count()) + 1
    };
    let detail = match e {
        ParseError::InvalidToken { location } => {
            match raw.get(byte(*location)..).and_then(|s| s.chars().next()) {
                Some('"') => format!(
                    "unterminated or malformed string at character {}",
                    at(*location)
                ),
                Some(c) => format!("unexpected {c:?} at character {}", at(*location)),
                None => "it ends too early".to_string(),
            }
        }
        ParseError::UnrecognizedEof { .. } => {
            "it ends too early (a value, an operand or a closing bracket is missing)".to_string()
        }
        // `userName eq` (no value): the lexer takes a final operator without a space after it for a name.
        ParseError::UnrecognizedToken {
            token: (start, token, end),
            ..
        } if *end == text_len
            && OPERATORS.contains(&token.trim().to_ascii_lowercase().as_str()) =>
        {
            format!(
                "\"{}\" at character {} has nothing after it",
                token.trim(),
                at(*start + token.len() - token.trim_start().len())
            )
        }
        ParseError::UnrecognizedToken {
            token: (start, token, _),
            ..
        }
        | ParseError::ExtraToken {
            token: (start, token, _),
        } => format!(
            "unexpected \"{}\" at character {}",
            token.trim(),
            at(*start + token.len() - token.trim_start().len())
        ),
        ParseError::User { error } => format!("{error}"),
    };
    invalid(detail)
}

/// The comparison operators and logical words, for messages.
const OPERATORS: [&str; 13] = [
    "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "and", "or", "not",
];

/// Where an attribute path points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<A> {
    /// An attribute with a column behind it.
    Attr(A),
    /// `emails.type`: always "work".
    EmailType,
    /// `emails.primary`: always true.
    EmailPrimary,
}

/// The kind of value an attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Time,
}

/// A resource's filterable attributes: how paths name them and what values they hold.
trait Attrs: Copy + Sized {
    /// The resource's core schema, which may prefix an attribute.
    const URN: &'static str;
    /// The attributes people filters on, for messages.
    const SUPPORTED: &'static str;
    /// A top-level path's attribute (`name` lower-cased, `sub` lower-cased).
    fn top(name: &str, sub: Option<&str>) -> Option<Target<Self>>;
    /// The attribute `sub` (lower-cased) inside a value filter on `parent` (lower-cased).
    fn inside(parent: &str, sub: &str) -> Option<Target<Self>>;
    /// The two date-time attributes (created, last modified) are `Time`; see [`Kind`].
    fn kind(self) -> Kind;
}

impl Attrs for UserAttr {
    const URN: &'static str = USER_URN;
    const SUPPORTED: &'static str = "id, externalId, userName, name.givenName, name.familyName, \
         displayName, emails (value, type, primary), active, meta.created, meta.lastModified";

    fn top(name: &str, sub: Option<&str>) -> Option<Target<Self>> {
        Some(match (name, sub) {
            ("id", None) => Target::Attr(UserAttr::Id),
            ("externalid", None) => Target::Attr(UserAttr::ExternalId),
            ("username", None) => Target::Attr(UserAttr::UserName),
            ("displayname", None) => Target::Attr(UserAttr::DisplayName),
            ("active", None) => Target::Attr(UserAttr::Active),
            ("name", Some(sub)) => return Self::inside("name", sub),
            ("emails", None) => Target::Attr(UserAttr::Email),
            ("emails", Some(sub)) => return Self::inside("emails", sub),
            ("meta", Some("created")) => Target::Attr(UserAttr::Created),
            ("meta", Some("lastmodified")) => Target::Attr(UserAttr::LastModified),
            _ => return None,
        })
    }

    fn inside(parent: &str, sub: &str) -> Option<Target<Self>> {
        Some(match (parent, sub) {
            ("name", "givenname") => Target::Attr(UserAttr::GivenName),
            ("name", "familyname") => Target::Attr(UserAttr::FamilyName),
            ("emails", "value") => Target::Attr(UserAttr::Email),
            ("emails", "type") => Target::EmailType,
            ("emails", "primary") => Target::EmailPrimary,
            _ => return None,
        })
    }

    fn kind(self) -> Kind {
        match self {
            UserAttr::Active => Kind::Bool,
            UserAttr::Created | UserAttr::LastModified => Kind::Time,
            _ => Kind::Text,
        }
    }
}

impl Attrs for GroupAttr {
    const URN: &'static str = GROUP_URN;
    const SUPPORTED: &'static str =
        "id, externalId, displayName, members.value, meta.created, meta.lastModified";

    fn top(name: &str, sub: Option<&str>) -> Option<Target<Self>> {
        Some(match (name, sub) {
            ("id", None) => Target::Attr(GroupAttr::Id),
            ("externalid", None) => Target::Attr(GroupAttr::ExternalId),
            ("displayname", None) => Target::Attr(GroupAttr::DisplayName),
            ("members", None) | ("members", Some("value")) => Target::Attr(GroupAttr::Member),
            ("meta", Some("created")) => Target::Attr(GroupAttr::Created),
            ("meta", Some("lastmodified")) => Target::Attr(GroupAttr::LastModified),
            _ => return None,
        })
    }

    fn inside(parent: &str, sub: &str) -> Option<Target<Self>> {
        match (parent, sub) {
            ("members", "value") => Some(Target::Attr(GroupAttr::Member)),
            _ => None,
        }
    }

    fn kind(self) -> Kind {
        match self {
            GroupAttr::Created | GroupAttr::LastModified => Kind::Time,
            _ => Kind::Text,
        }
    }
}

fn check_urn<A: Attrs>(path: &AttrPath) -> Result<(), ScimError> {
    match &path.uri {
        Some(uri) if !uri.eq_ignore_ascii_case(A::URN) => Err(invalid(format!(
            "\"{path}\" cannot be filtered on: only attributes of {} can",
            A::URN
        ))),
        _ => Ok(()),
    }
}

fn unsupported<A: Attrs>(path: &dyn std::fmt::Display) -> ScimError {
    invalid(format!(
        "\"{path}\" cannot be filtered on (filterable: {})",
        A::SUPPORTED
    ))
}

/// A top-level attribute path (`userName`, `name.givenName`, `urn:…:User:emails.value`).
fn resolve<A: Attrs>(path: &AttrPath) -> Result<(Target<A>, String), ScimError> {
    check_urn::<A>(path)?;
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    let target = A::top(&name, sub.as_deref()).ok_or_else(|| unsupported::<A>(path))?;
    Ok((target, path.to_string()))
}

/// An attribute inside a value filter: a sub-attribute of `parent` (`emails[value …]`, `name[givenName …]`).
fn resolve_sub<A: Attrs>(
    parent: &AttrPath,
    path: &AttrPath,
) -> Result<(Target<A>, String), ScimError> {
    check_urn::<A>(parent)?;
    let whole = || format!("{parent}[{path}]");
    if parent.sub_attr.is_some() || path.uri.is_some() || path.sub_attr.is_some() {
        return Err(unsupported::<A>(&whole()));
    }
    let target = A::inside(
        &parent.name.to_ascii_lowercase(),
        &path.name.to_ascii_lowercase(),
    )
    .ok_or_else(|| unsupported::<A>(&whole()))?;
    Ok((target, format!("{parent}.{path}")))
}

fn map_filter<A: Attrs>(f: &Filter) -> Result<ScimFilter<A>, ScimError> {
    Ok(match f {
        Filter::Attr(e) => map_exp(e, &resolve::<A>)?,
        Filter::ValuePath(ValuePath { attr, filter }) => {
            map_val_filter(filter, &|p: &AttrPath| resolve_sub::<A>(attr, p))?
        }
        Filter::Not(inner) => ScimFilter::negate(map_filter(inner)?),
        Filter::And(items) => {
            ScimFilter::all(items.iter().map(map_filter).collect::<Result<_, _>>()?)
        }
        Filter::Or(items) => {
            ScimFilter::any(items.iter().map(map_filter).collect::<Result<_, _>>()?)
        }
    })
}

/// Resolves an attribute path to its target and the name to use in messages.
type Resolver<'a, A> = dyn Fn(&AttrPath) -> Result<(Target<A>, String), ScimError> + 'a;

fn map_val_filter<A: Attrs>(
    f: &ValFilter,
    resolve: &Resolver<'_, A>,
) -> Result<ScimFilter<A>, ScimError> {
    Ok(match f {
        ValFilter::Attr(e) => map_exp(e, resolve)?,
        ValFilter::Not(inner) => ScimFilter::negate(map_val_filter(inner, resolve)?),
        ValFilter::And(items) => ScimFilter::all(
            items
                .iter()
                .map(|i| map_val_filter(i, resolve))
                .collect::<Result<_, _>>()?,
        ),
        ValFilter::Or(items) => ScimFilter::any(
            items
                .iter()
                .map(|i| map_val_filter(i, resolve))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn map_exp<A: Attrs>(e: &AttrExp, resolve: &Resolver<'_, A>) -> Result<ScimFilter<A>, ScimError> {
    match e {
        AttrExp::Present(path) => Ok(match resolve(path)?.0 {
            Target::Attr(attr) => ScimFilter::Present(attr),
            Target::EmailType | Target::EmailPrimary => ScimFilter::always(),
        }),
        AttrExp::Comparison(path, op, value) => {
            let (target, name) = resolve(path)?;
            compare(target, &name, op, value)
        }
    }
}

fn op_of(op: &CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "eq",
        Op::Ne => "ne",
        Op::Co => "co",
        Op::Sw => "sw",
        Op::Ew => "ew",
        Op::Gt => "gt",
        Op::Ge => "ge",
        Op::Lt => "lt",
        Op::Le => "le",
    }
}

fn value_kind(value: &CompValue) -> &'static str {
    match value {
        CompValue::False | CompValue::True => "a boolean",
        CompValue::Null => "null",
        CompValue::Number(_) => "a number",
        CompValue::Str(_) => "a string",
    }
}

fn compare<A: Attrs>(
    target: Target<A>,
    path: &str,
    op: &CompareOp,
    value: &CompValue,
) -> Result<ScimFilter<A>, ScimError> {
    let op = op_of(op);
    let wrong_value = |wants: &str| {
        invalid(format!(
            "\"{path}\" is compared with {wants}, not {}",
            value_kind(value)
        ))
    };
    let wrong_op = |what: &str| {
        invalid(format!(
            "\"{path}\" is {what}: \"{}\" does not apply to it",
            op_name(op)
        ))
    };
    // `eq null` is "not present", `ne null` "present", for every attribute.
    if *value == CompValue::Null {
        let present = match target {
            Target::Attr(attr) => ScimFilter::Present(attr),
            Target::EmailType | Target::EmailPrimary => ScimFilter::always(),
        };
        return match op {
            Op::Eq => Ok(ScimFilter::negate(present)),
            Op::Ne => Ok(present),
            _ => Err(invalid(format!(
                "\"{path} {} null\": null is compared only with eq or ne",
                op_name(op)
            ))),
        };
    }
    // PostgreSQL text cannot hold U+0000: no stored value has it, and the database would refuse the value.
    if matches!(value, CompValue::Str(s) if s.contains('\0')) {
        return Err(invalid(format!(
            "\"{path}\": a value cannot contain U+0000"
        )));
    }
    match target {
        Target::EmailType => {
            let CompValue::Str(s) = value else {
                return Err(wrong_value("a string"));
            };
            Ok(constant(text_matches(op, EMAIL_TYPE, &s.to_lowercase())))
        }
        Target::EmailPrimary => {
            let b = match value {
                CompValue::True => true,
                CompValue::False => false,
                _ => return Err(wrong_value("true or false")),
            };
            match op {
                Op::Eq => Ok(constant(b)),
                Op::Ne => Ok(constant(!b)),
                _ => Err(wrong_op("a boolean")),
            }
        }
        Target::Attr(attr) => match attr.kind() {
            Kind::Text => {
                let CompValue::Str(s) = value else {
                    return Err(wrong_value("a string"));
                };
                Ok(ScimFilter::Compare(attr, op, Literal::Text(s.clone())))
            }
            Kind::Bool => {
                let b = match value {
                    CompValue::True => true,
                    CompValue::False => false,
                    _ => return Err(wrong_value("true or false")),
                };
                match op {
                    Op::Eq | Op::Ne => Ok(ScimFilter::Compare(attr, op, Literal::Bool(b))),
                    _ => Err(wrong_op("a boolean")),
                }
            }
            Kind::Time => {
                let CompValue::Str(s) = value else {
                    return Err(wrong_value("a date-time string (RFC 3339)"));
                };
                if matches!(op, Op::Co | Op::Sw | Op::Ew) {
                    return Err(wrong_op("a date-time"));
                }
                let t = DateTime::parse_from_rfc3339(s)
                    .map_err(|_| {
                        invalid(format!(
                            "\"{path}\": {s:?} is not a date-time such as \"2011-05-13T04:42:34Z\""
                        ))
                    })?
                    .with_timezone(&Utc);
                Ok(compare_time(attr, op, t))
            }
        },
    }
}

fn constant<A>(b: bool) -> ScimFilter<A> {
    if b {
        ScimFilter::always()
    } else {
        ScimFilter::never()
    }
}

/// `value op literal` on strings already folded as the attribute wants.
fn text_matches(op: Op, value: &str, literal: &str) -> bool {
    match op {
        Op::Eq => value == literal,
        Op::Ne => value != literal,
        Op::Co => value.contains(literal),
        Op::Sw => value.starts_with(literal),
        Op::Ew => value.ends_with(literal),
        Op::Gt => value > literal,
        Op::Ge => value >= literal,
        Op::Lt => value < literal,
        Op::Le => value <= literal,
    }
}

/// A time comparison. Stored times have microsecond precision, so a literal with a finer fraction is
/// rewritten exactly in terms of the microsecond below it (`f`): `> t` and `>= t` are `> f`, `< t` and
/// `<= t` are `<= f`, and `eq t` is `> f and < f + 1µs` (no stored time).
fn compare_time<A: Copy>(attr: A, op: Op, t: Timestamp) -> ScimFilter<A> {
    let floor = truncate_micros(t);
    if floor == t {
        return ScimFilter::Compare(attr, op, Literal::Time(t));
    }
    let at = |op: Op, t: Timestamp| ScimFilter::Compare(attr, op, Literal::Time(t));
    let between = || {
        ScimFilter::all(vec![
            at(Op::Gt, floor),
            at(Op::Lt, floor + Duration::microseconds(1)),
        ])
    };
    match op {
        Op::Gt | Op::Ge => at(Op::Gt, floor),
        Op::Lt | Op::Le => at(Op::Le, floor),
        Op::Ne => ScimFilter::negate(between()),
        _ => between(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse(raw: &str) -> UserFilter {
        match parse_user_filter(raw) {
            Ok(f) => f,
            Err(e) => panic!("{raw:?}: {e}"),
        }
    }

    fn text(attr: UserAttr, op: Op, s: &str) -> UserFilter {
        UserFilter::Compare(attr, op, Literal::Text(s.into()))
    }

    fn refused(raw: &str) -> String {
        match parse_user_filter(raw) {
            Ok(f) => panic!("{raw:?} parsed as {f:?}"),
            Err(e) => {
                assert_eq!(e.status, 400, "{raw:?}");
                assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{raw:?}");
                e.detail
            }
        }
    }

    #[test]
    fn the_rfc_samples_parse() {
        use UserAttr::*;
        assert_eq!(
            parse(r#"userName eq "bjensen""#),
            text(UserName, Op::Eq, "bjensen")
        );
        // Attribute names and operators in any case; the value as sent.
        assert_eq!(
            parse(r#"UserName EQ "Bjensen@Example.com""#),
            text(UserName, Op::Eq, "Bjensen@Example.com")
        );
        assert_eq!(
            parse(r#"externalId eq "00u1abc""#),
            text(ExternalId, Op::Eq, "00u1abc")
        );
        assert_eq!(
            parse(r#"name.familyName co "O'Malley""#),
            text(FamilyName, Op::Co, "O'Malley")
        );
        // Every user's one email is of type work: that half is true.
        assert_eq!(
            parse(r#"emails[type eq "work" and value co "@example.com"]"#),
            text(Email, Op::Co, "@example.com")
        );
        assert_eq!(
            parse(r#"emails.value eq "a@b.c""#),
            text(Email, Op::Eq, "a@b.c")
        );
        assert_eq!(parse(r#"emails eq "a@b.c""#), text(Email, Op::Eq, "a@b.c"));
        assert_eq!(
            parse(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
            UserFilter::Compare(
                LastModified,
                Op::Gt,
                Literal::Time(Utc.with_ymd_and_hms(2011, 5, 13, 4, 42, 34).unwrap())
            )
        );
        let not_inactive = UserFilter::Not(Box::new(UserFilter::Compare(
            Active,
            Op::Eq,
            Literal::Bool(false),
        )));
        assert_eq!(parse("not (active eq false)"), not_inactive);
        assert_eq!(parse("not(active eq false)"), not_inactive);
        assert_eq!(parse("NOT(active eq false)"), not_inactive);
        assert_eq!(
            parse(r#"userName eq "a" or (name.givenName sw "J" and active eq true)"#),
            UserFilter::Or(vec![
                text(UserName, Op::Eq, "a"),
                UserFilter::And(vec![
                    text(GivenName, Op::Sw, "J"),
                    UserFilter::Compare(Active, Op::Eq, Literal::Bool(true)),
                ]),
            ])
        );
        assert_eq!(
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#),
            text(UserName, Op::Eq, "x")
        );
        assert_eq!(
            parse(r#"URN:IETF:params:scim:schemas:core:2.0:user:Name.GivenName pr"#),
            UserFilter::Present(GivenName)
        );
    }

    #[test]
    fn every_attribute_maps() {
        use UserAttr::*;
        for (raw, attr) in [
            ("id", Id),
            ("ID", Id),
            ("externalId", ExternalId),
            ("userName", UserName),
            ("name.givenName", GivenName),
            ("name.familyName", FamilyName),
            ("displayName", DisplayName),
            ("emails", Email),
            ("emails.value", Email),
            ("active", Active),
            ("meta.created", Created),
            ("meta.lastModified", LastModified),
            ("META.LASTMODIFIED", LastModified),
        ] {
            assert_eq!(
                parse(&format!("{raw} pr")),
                UserFilter::Present(attr),
                "{raw}"
            );
            // eq null is "not present", ne null "present".
            assert_eq!(
                parse(&format!("{raw} eq null")),
                UserFilter::Not(Box::new(UserFilter::Present(attr))),
                "{raw}"
            );
            assert_eq!(
                parse(&format!("{raw} ne null")),
                UserFilter::Present(attr),
                "{raw}"
            );
        }
        for (raw, op) in [
            ("eq", Op::Eq),
            ("ne", Op::Ne),
            ("co", Op::Co),
            ("sw", Op::Sw),
            ("ew", Op::Ew),
            ("gt", Op::Gt),
            ("ge", Op::Ge),
            ("lt", Op::Lt),
            ("le", Op::Le),
        ] {
            assert_eq!(
                parse(&format!(r#"displayName {raw} "x""#)),
                text(DisplayName, op, "x")
            );
            assert_eq!(
                parse(&format!(r#"name.givenName {} "x""#, raw.to_uppercase())),
                text(GivenName, op, "x")
            );
        }
        assert_eq!(
            parse(r#"name[givenName eq "Ann" or familyName ew "son"]"#),
            UserFilter::Or(vec![
                text(GivenName, Op::Eq, "Ann"),
                text(FamilyName, Op::Ew, "son")
            ])
        );
        assert_eq!(
            parse(r#"active ne true"#),
            UserFilter::Compare(Active, Op::Ne, Literal::Bool(true))
        );
        // JSON escapes in strings.
        assert_eq!(
            parse(r#"userName eq "a\"b\\c\u00e9""#),
            text(UserName, Op::Eq, "a\"b\\cé")
        );
        // `%` and `_` are just characters here; the store escapes them.
        assert_eq!(
            parse(r#"externalId co "50%_off""#),
            text(ExternalId, Op::Co, "50%_off")
        );
    }

    #[test]
    fn email_type_and_primary_are_constants() {
        use UserAttr::*;
        let always = UserFilter::always();
        let never = UserFilter::never();
        assert_eq!(parse(r#"emails[type eq "work"]"#), always);
        assert_eq!(parse(r#"emails[type eq "WORK"]"#), always);
        assert_eq!(parse(r#"emails[type eq "home"]"#), never);
        assert_eq!(parse(r#"emails[type ne "home"]"#), always);
        assert_eq!(parse(r#"emails[type sw "wo"]"#), always);
        assert_eq!(parse(r#"emails[primary eq true]"#), always);
        assert_eq!(parse(r#"emails[primary eq false]"#), never);
        assert_eq!(parse(r#"emails[primary pr]"#), always);
        assert_eq!(parse(r#"emails[type eq null]"#), never);
        assert_eq!(parse(r#"emails.type eq "work""#), always);
        assert_eq!(parse(r#"emails.primary eq true"#), always);
        assert_eq!(
            parse(r#"emails[type eq "home" and value co "@x"]"#),
            never,
            "a false conjunct makes the whole false"
        );
        assert_eq!(
            parse(r#"emails[type eq "home" or value co "@x"]"#),
            text(Email, Op::Co, "@x")
        );
        assert_eq!(
            parse(r#"emails[not (type eq "home")] and userName eq "a""#),
            text(UserName, Op::Eq, "a")
        );
        assert_eq!(
            parse(r#"emails[type eq "work"] or userName eq "a""#),
            always
        );
        assert_eq!(parse(r#"not (emails[type eq "work"])"#), never);
        assert_eq!(
            parse(r#"emails[type eq "work" and primary eq true and value eq "A@B.C"]"#),
            text(Email, Op::Eq, "A@B.C")
        );
        // Double negation goes away.
        assert_eq!(
            parse(r#"not (not (userName eq "a"))"#),
            text(UserName, Op::Eq, "a")
        );
    }

    #[test]
    fn times_are_rfc_3339_in_any_offset() {
        let at =
            |op: Op, t: Timestamp| UserFilter::Compare(UserAttr::Created, op, Literal::Time(t));
        let t = Utc.with_ymd_and_hms(2011, 5, 13, 4, 42, 34).unwrap();
        assert_eq!(
            parse(r#"meta.created ge "2011-05-13T06:42:34+02:00""#),
            at(Op::Ge, t)
        );
        let millis = t + Duration::milliseconds(250);
        assert_eq!(
            parse(r#"meta.created lt "2011-05-13T04:42:34.250Z""#),
            at(Op::Lt, millis)
        );
        // Finer than a microsecond: exact in terms of the microsecond below.
        let floor = t + Duration::microseconds(1);
        let raw = |op: &str| format!(r#"meta.created {op} "2011-05-13T04:42:34.0000015Z""#);
        assert_eq!(parse(&raw("gt")), at(Op::Gt, floor));
        assert_eq!(parse(&raw("ge")), at(Op::Gt, floor));
        assert_eq!(parse(&raw("lt")), at(Op::Le, floor));
        assert_eq!(parse(&raw("le")), at(Op::Le, floor));
        let between = UserFilter::And(vec![
            at(Op::Gt, floor),
            at(Op::Lt, floor + Duration::microseconds(1)),
        ]);
        assert_eq!(parse(&raw("eq")), between);
        assert_eq!(parse(&raw("ne")), UserFilter::Not(Box::new(between)));
    }

    #[test]
    fn not_before_a_bracket_needs_no_space_but_strings_are_left_alone() {
        assert_eq!(
            parse(r#"userName eq "not(x" and not(userName eq "not(y")"#),
            UserFilter::And(vec![
                text(UserAttr::UserName, Op::Eq, "not(x"),
                UserFilter::Not(Box::new(text(UserAttr::UserName, Op::Eq, "not(y"))),
            ])
        );
        assert_eq!(
            parse(r#"(not(active eq true))"#),
            UserFilter::Not(Box::new(UserFilter::Compare(
                UserAttr::Active,
                Op::Eq,
                Literal::Bool(true)
            )))
        );
        assert_eq!(
            parse(r#"emails[not(value ew ".org")]"#),
            UserFilter::Not(Box::new(text(UserAttr::Email, Op::Ew, ".org")))
        );
        assert_eq!(
            parse(r#"  userName eq "é not(" "#),
            text(UserAttr::UserName, Op::Eq, "é not(")
        );
    }

    #[test]
    fn bad_filters_are_invalid_filter_with_a_reason() {
        for (raw, says) in [
            (
                "userName eq",
                r#""eq" at character 10 has nothing after it"#,
            ),
            (r#"userName xx "a""#, r#"unexpected "xx" at character 10"#),
            (r#"(userName eq "a""#, "ends too early"),
            (
                r#"userName eq "unterminated"#,
                "unterminated or malformed string at character 13",
            ),
            (r#"groups eq "x""#, r#""groups" cannot be filtered on"#),
            (
                r#"groups.value eq "x""#,
                r#""groups.value" cannot be filtered on"#,
            ),
            (
                r#"members.value eq "x""#,
                r#""members.value" cannot be filtered on"#,
            ),
            (r#"title pr"#, r#""title" cannot be filtered on"#),
            (
                r#"name.formatted eq "x""#,
                r#""name.formatted" cannot be filtered on"#,
            ),
            (
                r#"meta.version eq "x""#,
                r#""meta.version" cannot be filtered on"#,
            ),
            (
                r#"emails.display eq "x""#,
                r#""emails.display" cannot be filtered on"#,
            ),
            (
                r#"emails[display eq "x"]"#,
                r#""emails[display]" cannot be filtered on"#,
            ),
            (r#"emails[emails.value eq "x"]"#, "cannot be filtered on"),
            (r#"addresses[type eq "work"]"#, "cannot be filtered on"),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
                "only attributes of urn:ietf:params:scim:schemas:core:2.0:User can",
            ),
            (
                r#"active eq "yes""#,
                r#""active" is compared with true or false, not a string"#,
            ),
            (r#"active eq 1"#, "not a number"),
            (
                r#"active gt true"#,
                r#""active" is a boolean: "gt" does not apply to it"#,
            ),
            (
                r#"userName eq 42"#,
                r#""userName" is compared with a string, not a number"#,
            ),
            (r#"userName eq true"#, "not a boolean"),
            (r#"userName co null"#, "null is compared only with eq or ne"),
            (
                r#"meta.created gt "yesterday""#,
                r#""yesterday" is not a date-time"#,
            ),
            (r#"meta.created gt "2011-05-13""#, "is not a date-time"),
            (r#"meta.created co "2011""#, "does not apply"),
            (r#"meta.created eq 2011"#, "not a number"),
            (
                r#"emails[primary eq "true"]"#,
                r#""emails.primary" is compared with true or false"#,
            ),
            (
                r#"emails[type eq 1]"#,
                r#""emails.type" is compared with a string"#,
            ),
            ("", "empty"),
            ("   ", "empty"),
            (
                r#"userName eq "a" and"#,
                r#""and" at character 17 has nothing after it"#,
            ),
            (r#"userName eq "a")"#, r#"unexpected ")" at character 16"#),
            (r#"userName eq "a" userName eq "b""#, "unexpected"),
            (r#"userName eq "a" # x"#, "unexpected '#' at character 17"),
            (r#"not userName eq "a""#, "unexpected"),
            (r#"name.givenName.x eq "a""#, "sub-attribute"),
            (
                r#"userName eq "a\u0000""#,
                r#""userName": a value cannot contain U+0000"#,
            ),
        ] {
            let detail = refused(raw);
            assert!(detail.contains(says), "{raw:?}: {detail}");
        }
        // Positions count characters of what the client sent, before `not(` is rewritten.
        let detail = refused(r#"not(active eq true) xx"#);
        assert!(detail.contains("character 21"), "{detail}");
    }

    #[test]
    fn long_and_deep_filters_are_refused() {
        let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_BYTES));
        assert!(refused(&long).contains("longer than 4096 bytes"));
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(refused(&deep).contains("depth"));
        // A long flat list of ids is fine.
        let ids: Vec<String> = (0..100).map(|i| format!(r#"id eq "{i:021}""#)).collect();
        match parse(&ids.join(" or ")) {
            UserFilter::Or(items) => assert_eq!(items.len(), 100),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn display_names_join_the_present_names() {
        assert_eq!(
            derived_display_name(Some("Ann"), Some("Lee")).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(
            derived_display_name(Some("Ann"), None).as_deref(),
            Some("Ann")
        );
        assert_eq!(
            derived_display_name(Some(""), Some("Lee")).as_deref(),
            Some("Lee")
        );
        assert_eq!(derived_display_name(None, Some("")), None);
        assert_eq!(derived_display_name(None, None), None);
    }
}

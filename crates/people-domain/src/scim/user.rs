//! SCIM users (`/api/ee/scim/v2/Users`): the people an identity provider may see (personal users with an
//! `entity_id`, not deleted by SCIM), listed with filters compiled into SQL, read by id, and created without
//! a password or an invite email.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::group::{Group, ADMINISTRATORS_ID, ALL_USERS_ID};
use crate::id::{GroupId, UserId};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{UserAttr, UserFilter};
pub use crate::scim::list::{ListQuery, MAX_RESULTS, SEARCH_SCHEMA};
use crate::scim::version::Precondition;
use crate::service::People;
use crate::store::{Page, Repo};
use crate::user::{insert_with_memberships, NewUser, SsoSource, User, UserType};
use crate::validate;

/// The core User schema's URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Longest `externalId` (`core_user.external_id` is a varchar(254)).
pub(crate) const EXTERNAL_ID_LIMIT: usize = 254;
/// Longest `displayName` (a varchar(254), for users and groups alike).
pub(crate) const DISPLAY_NAME_LIMIT: usize = 254;

/// `GET /Users`: the list's parameters.
pub type UserListQuery = ListQuery<UserAttr>;

/// Whether a body without `schemas` is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// It is (the message's type is clear from the endpoint).
    Forgiven,
    /// It is `invalidSyntax`.
    Refused,
}

/// A body's `schemas` must be an array naming `urn` (any case); `invalidSyntax` otherwise.
pub(crate) fn require_schema(
    body: &Map<String, Value>,
    urn: &str,
    missing: Missing,
) -> std::result::Result<(), ScimError> {
    let ok = match attr(body, "schemas") {
        None => missing == Missing::Forgiven,
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|s| s.eq_ignore_ascii_case(urn)),
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ScimError::new(
            ScimType::InvalidSyntax,
            format!("schemas must be an array holding {urn}"),
        ))
    }
}

/// A user as SCIM shows them: the user and their groups (not the magic ones), by group entity id.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    /// The user.
    pub user: User,
    /// Their groups other than All Users and Administrators.
    pub groups: Vec<Group>,
}

impl ScimUser {
    /// The weak ETag of what SCIM shows of the user.
    pub fn version(&self) -> String {
        crate::scim::version::of_user(self)
    }
}

/// One page of a user list.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUserPage {
    /// The users of the page.
    pub users: Vec<ScimUser>,
    /// How many users match in all.
    pub total: i64,
    /// The 1-based index of the first.
    pub start_index: i64,
}

/// `POST /Users`: the attributes people keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScimUser {
    /// The email: `userName` when it is an address, else the primary (or first) `emails` value.
    pub email: String,
    /// `userName` as sent, where it differs from `email` (kept in `scim_user_name`).
    pub user_name: Option<String>,
    /// `displayName`, when sent.
    pub display_name: Option<String>,
    /// `name.givenName`.
    pub given_name: Option<String>,
    /// `name.familyName`.
    pub family_name: Option<String>,
    /// `active` (default true).
    pub active: bool,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `locale`, normalised (`en-US` → `en_US`).
    pub locale: Option<String>,
}

pub(crate) fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::new(ScimType::InvalidValue, detail)
}

/// A case-insensitive lookup of `key` in a SCIM object (attribute names are case-insensitive).
pub(crate) fn attr<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

pub(crate) fn optional_text(
    obj: &Map<String, Value>,
    key: &str,
    limit: usize,
) -> std::result::Result<Option<String>, ScimError> {
    match attr(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() > limit => {
            Err(invalid(format!("{key} must be at most {limit} characters")))
        }
        Some(Value::String(s)) if s.contains('\0') => {
            Err(invalid(format!("{key} must not contain NUL")))
        }
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    }
}

/// A SCIM boolean: JSON `true`/`false`, or (as Microsoft Entra ID sends them) the strings `"True"`/`"False"`.
pub fn scim_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl NewScimUser {
    /// Reads a User resource: `schemas` must name the core User schema; `userName` is required and is the
    /// email address (else the primary, or first, `emails` value); unknown attributes and extensions are
    /// ignored.
    pub fn parse(body: &Map<String, Value>) -> std::result::Result<Self, ScimError> {
        require_schema(body, USER_SCHEMA, Missing::Refused)?;
        let user_name = match attr(body, "userName") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) | None => return Err(invalid("userName is required")),
            Some(_) => return Err(invalid("userName must be a string")),
        };
        if user_name.chars().count() > validate::limit::EMAIL || user_name.contains('\0') {
            return Err(invalid("userName must be at most 254 characters"));
        }
        let email = if validate::is_email(&user_name.to_lowercase()) {
            user_name.to_lowercase()
        } else {
            primary_email(body)?.ok_or_else(|| {
                invalid("userName (or the primary emails value) must be an email address")
            })?
        };
        if email.chars().count() > validate::limit::EMAIL {
            return Err(invalid("the email address must be at most 254 characters"));
        }
        let display_name = optional_text(body, "displayName", DISPLAY_NAME_LIMIT)?;
        let (given_name, family_name) = match attr(body, "name") {
            None => (None, None),
            Some(Value::Object(name)) => (
                optional_text(name, "givenName", validate::limit::NAME)?,
                optional_text(name, "familyName", validate::limit::NAME)?,
            ),
            Some(_) => return Err(invalid("name must be an object")),
        };
        let active = match attr(body, "active") {
            None => true,
            Some(v) => scim_bool(v).ok_or_else(|| invalid("active must be true or false"))?,
        };
        let external_id = optional_text(body, "externalId", EXTERNAL_ID_LIMIT)?;
        let locale =
            match optional_text(body, "locale", 64)? {
                None => None,
                Some(raw) => Some(crate::locale::parse(&raw).ok_or_else(|| {
                    invalid(format!("locale {raw:?} is not a locale people knows"))
                })?),
            };
        Ok(NewScimUser {
            user_name: (user_name != email).then_some(user_name),
            email,
            display_name,
            given_name,
            family_name,
            active,
            external_id,
            locale,
        })
    }
}

/// The primary (else the first) `emails` value, when it is an email address.
fn primary_email(body: &Map<String, Value>) -> std::result::Result<Option<String>, ScimError> {
    let Some(list) = attr(body, "emails") else {
        return Ok(None);
    };
    let Some(list) = list.as_array() else {
        return Err(invalid("emails must be an array"));
    };
    let objects: Vec<&Map<String, Value>> = list.iter().filter_map(Value::as_object).collect();
    let chosen = objects
        .iter()
        .find(|o| attr(o, "primary").and_then(scim_bool) == Some(true))
        .or_else(|| objects.first());
    Ok(chosen
        .and_then(|o| attr(o, "value"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_lowercase())
        .filter(|s| validate::is_email(s)))
}

/// 409 `uniqueness`: another user has this userName.
fn taken(user_name: &str) -> DomainError {
    ScimError::new(
        ScimType::Uniqueness,
        format!("userName {user_name} is already taken"),
    )
    .into()
}

impl NewScimUser {
    /// The userName as the client sent it.
    fn shown_user_name(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.email)
    }
}

/// Sets SCIM's `userName` on `user`: an address becomes the email (and the userName is kept apart only
/// when written differently, e.g. in capitals); anything else is kept as the userName beside the email.
fn set_user_name(user: &mut User, user_name: &str) {
    let lower = user_name.to_lowercase();
    if validate::is_email(&lower) {
        user.change_email(&lower);
    }
    user.scim_user_name = (user_name != user.email).then(|| user_name.to_string());
}

/// Whether SCIM may see `user`.
fn visible(user: &User) -> bool {
    user.user_type == UserType::Personal
        && user.entity_id.is_some()
        && user.scim_deleted_at.is_none()
}

/// The groups (not the magic ones) of each of `users`, sorted by entity id.
fn groups_of(repo: &mut dyn Repo, users: &[UserId]) -> Result<HashMap<UserId, Vec<Group>>> {
    let memberships = repo.memberships_of(users)?;
    let ids: Vec<GroupId> = memberships
        .iter()
        .map(|m| m.group_id)
        .filter(|g| *g != ALL_USERS_ID && *g != ADMINISTRATORS_ID)
        .collect();
    let groups: HashMap<GroupId, Group> = if ids.is_empty() {
        HashMap::new()
    } else {
        repo.groups_by_ids(&ids)?
            .into_iter()
            .map(|g| (g.id, g))
            .collect()
    };
    let mut out: HashMap<UserId, Vec<Group>> = HashMap::new();
    for m in memberships {
        if let Some(g) = groups.get(&m.group_id) {
            out.entry(m.user_id).or_default().push(g.clone());
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
    }
    Ok(out)
}

fn with_groups(repo: &mut dyn Repo, user: User) -> Result<ScimUser> {
    let mut groups = groups_of(repo, &[user.id])?;
    Ok(ScimUser {
        groups: groups.remove(&user.id).unwrap_or_default(),
        user,
    })
}

/// 404 for a user SCIM cannot see.
fn user_not_found(id: &str) -> DomainError {
    ScimError::not_found(format!("User {id} not found")).into()
}

impl People {
    /// `GET /Users`: a page of the people SCIM may see, matching the filter, by id.
    pub fn scim_list_users(&self, query: UserListQuery) -> Result<ScimUserPage> {
        let page = Page {
            limit: query.count,
            offset: query.start_index - 1,
        };
        self.store.read(|repo| {
            let (users, total) = repo.scim_users(query.filter.as_ref(), query.sort, page)?;
            let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
            let mut groups = if ids.is_empty() {
                HashMap::new()
            } else {
                groups_of(repo, &ids)?
            };
            let users = users
                .into_iter()
                .map(|user| ScimUser {
                    groups: groups.remove(&user.id).unwrap_or_default(),
                    user,
                })
                .collect();
            Ok(ScimUserPage {
                users,
                total,
                start_index: query.start_index,
            })
        })
    }

    /// `GET /Users/:id`: a person SCIM may see, by entity id; 404 otherwise.
    pub fn scim_get_user(&self, id: &str) -> Result<ScimUser> {
        self.store.read(|repo| {
            let user = repo
                .user_by_entity_id(id)?
                .filter(visible)
                .ok_or_else(|| user_not_found(id))?;
            with_groups(repo, user)
        })
    }

    /// `POST /Users`: a new person in All Users, marked as provisioned by SCIM, with no password and no
    /// invite email (they sign in once they set a password through a reset link, or by SSO later). A person
    /// SCIM deleted comes back with a new id; any other holder of the address is a 409 `uniqueness`.
    pub fn scim_create_user(&self, new: NewScimUser) -> Result<ScimUser> {
        let now = self.clock.now();
        let created = self.store.write(|repo| {
            if let Some(name) = &new.user_name {
                if let Some(holder) = repo.user_by_scim_user_name(name)? {
                    let revivable = holder.scim_deleted_at.is_some()
                        && holder.is_personal()
                        && holder.email == new.email;
                    if !revivable {
                        return Err(taken(name));
                    }
                }
            }
            let user = match repo.user_by_email(&new.email)? {
                Some(mut existing)
                    if existing.scim_deleted_at.is_some() && existing.is_personal() =>
                {
                    existing.scim_deleted_at = None;
                    existing.entity_id = Some(crate::group::new_entity_id());
                    existing.first_name = new.given_name.clone();
                    existing.last_name = new.family_name.clone();
                    existing.external_id = new.external_id.clone();
                    existing.scim_user_name = new.user_name.clone();
                    existing.display_name = new.display_name.clone();
                    existing.locale = new.locale.clone();
                    existing.sso_source = Some(SsoSource::Scim);
                    existing.is_active = new.active;
                    existing.updated_at = now;
                    repo.update_user(&existing)?;
                    existing
                }
                Some(_) => return Err(taken(new.shown_user_name())),
                None => {
                    let inserted = insert_with_memberships(
                        repo,
                        &NewUser {
                            email: new.email.clone(),
                            first_name: new.given_name.clone(),
                            last_name: new.family_name.clone(),
                            password: None,
                            is_superuser: false,
                            login_attributes: None,
                            locale: new.locale.clone(),
                            sso_source: Some(SsoSource::Scim),
                            date_joined: now,
                            user_type: UserType::Personal,
                            entity_id: Some(crate::group::new_entity_id()),
                            external_id: new.external_id.clone(),
                        },
                    )
                    .map_err(|e| match e {
                        DomainError::Rule { field, .. } if field == "email" => {
                            taken(new.shown_user_name())
                        }
                        other => other,
                    })?;
                    if new.active && new.user_name.is_none() && new.display_name.is_none() {
                        inserted
                    } else {
                        let mut u = inserted;
                        u.is_active = new.active;
                        u.scim_user_name = new.user_name.clone();
                        u.display_name = new.display_name.clone();
                        repo.update_user(&u).map_err(|e| {
                            if e.is_unique_violation() {
                                taken(new.shown_user_name())
                            } else {
                                e
                            }
                        })?;
                        u
                    }
                }
            };
            with_groups(repo, user)
        })?;
        log::info!(
            "SCIM created user {} ({})",
            created.user.id,
            created.user.entity_id.as_deref().unwrap_or("")
        );
        Ok(created)
    }
}

/// The `PatchOp` message's URN.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What a PATCH operation does (RFC 7644 §3.5.2); op names in any case, as Entra ID capitalises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `add`: for people's single-valued attributes, the same as replace.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl PatchKind {
    /// An operation's `op`, in any case; anything else is `invalidSyntax`.
    pub fn parse(op: Option<&Value>) -> std::result::Result<Self, ScimError> {
        match op
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Ok(PatchKind::Add),
            Some("replace") => Ok(PatchKind::Replace),
            Some("remove") => Ok(PatchKind::Remove),
            other => Err(ScimError::new(
                ScimType::InvalidSyntax,
                format!("op must be add, replace or remove, not {other:?}"),
            )),
        }
    }
}

/// A user attribute a PATCH may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Active,
    GivenName,
    FamilyName,
    ExternalId,
    Locale,
    /// `userName`.
    UserName,
    /// `displayName`.
    DisplayName,
    /// `emails.value` or `emails[type eq "work"].value`: the email address.
    Email,
    /// `name`, the complex attribute: the sub-attributes in the value object.
    Name,
    /// `emails`, the multi-valued attribute: the primary (or first) value of the array.
    Emails,
    /// Attributes people accepts and does not keep (`displayName`, `title`, extensions, …).
    Ignored,
}

/// One operation: what, where, with which value.
#[derive(Debug, Clone, PartialEq)]
struct PatchOperation {
    kind: PatchKind,
    target: Target,
    value: Value,
}

/// `PATCH /Users/:id`: the operations, checked before anything is changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimPatch {
    operations: Vec<PatchOperation>,
}

/// The attribute a PATCH `path` names (case-insensitive, the core User URN prefix allowed).
fn target_of(path: &str) -> std::result::Result<Target, ScimError> {
    let bare = path.trim();
    let lower = bare.to_ascii_lowercase();
    let prefix = format!("{}:", USER_SCHEMA.to_ascii_lowercase());
    let lower = lower.strip_prefix(&prefix).unwrap_or(&lower).to_string();
    let target = match lower.as_str() {
        "active" => Target::Active,
        "name.givenname" => Target::GivenName,
        "name.familyname" => Target::FamilyName,
        "externalid" => Target::ExternalId,
        "locale" => Target::Locale,
        "username" => Target::UserName,
        "displayname" => Target::DisplayName,
        "emails.value" => Target::Email,
        "name" => Target::Name,
        "emails" => Target::Emails,
        value_path if value_path.starts_with("emails[") && value_path.ends_with("].value") => {
            return email_value_path(&bare[..bare.len() - ".value".len()]);
        }
        "title" | "nickname" | "preferredlanguage" | "timezone" | "usertype" | "profileurl" => {
            Target::Ignored
        }
        other if other.starts_with("urn:") => Target::Ignored,
        _ => {
            return Err(ScimError::new(
                ScimType::InvalidPath,
                format!("people cannot change {bare:?}"),
            ))
        }
    };
    Ok(target)
}

/// `emails[…].value`: the filter in the brackets is read with the filter grammar; it names people's one
/// email (type `work`, primary) or nothing (`noTarget`).
fn email_value_path(emails_filter: &str) -> std::result::Result<Target, ScimError> {
    match UserFilter::parse(emails_filter) {
        Ok(f) if f == UserFilter::always() => Ok(Target::Email),
        Ok(f) if f == UserFilter::never() => Err(ScimError::new(
            ScimType::NoTarget,
            format!("{emails_filter:?} matches no email: people keeps one, of type work, primary"),
        )),
        _ => Err(ScimError::new(
            ScimType::InvalidPath,
            format!("people cannot change {emails_filter:?}.value"),
        )),
    }
}

/// The operations of a path-less add or replace: one per attribute of the value object (`name` opens into
/// its parts; `emails` takes the primary or first value).
fn operations_of_object(
    kind: PatchKind,
    value: &Map<String, Value>,
) -> std::result::Result<Vec<PatchOperation>, ScimError> {
    let mut ops = Vec::new();
    for (key, v) in value {
        if key.eq_ignore_ascii_case("name") {
            let Some(name) = v.as_object() else {
                return Err(invalid("name must be an object"));
            };
            for (part, pv) in name {
                let target = target_of(&format!("name.{part}")).unwrap_or(Target::Ignored);
                ops.push(PatchOperation {
                    kind,
                    target,
                    value: pv.clone(),
                });
            }
        } else if key.eq_ignore_ascii_case("emails") {
            let mut holder = Map::new();
            holder.insert("emails".into(), v.clone());
            if let Some(email) = primary_email(&holder)? {
                ops.push(PatchOperation {
                    kind,
                    target: Target::Email,
                    value: Value::String(email),
                });
            }
        } else if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("id") {
            continue;
        } else {
            let target = target_of(key).unwrap_or(Target::Ignored);
            ops.push(PatchOperation {
                kind,
                target,
                value: v.clone(),
            });
        }
    }
    Ok(ops)
}

impl ScimPatch {
    /// Reads a `PatchOp` message: `Operations` (any case) of `add`/`replace`/`remove`, with or without `path`.
    pub fn parse(body: &Map<String, Value>) -> std::result::Result<Self, ScimError> {
        // Some clients leave `schemas` out of a PatchOp.
        require_schema(body, PATCH_SCHEMA, Missing::Forgiven)?;
        let Some(list) = attr(body, "Operations").and_then(Value::as_array) else {
            return Err(ScimError::new(
                ScimType::InvalidSyntax,
                "Operations must be an array",
            ));
        };
        let mut operations = Vec::new();
        for op in list {
            let Some(op) = op.as_object() else {
                return Err(ScimError::new(
                    ScimType::InvalidSyntax,
                    "each operation must be an object",
                ));
            };
            let kind = PatchKind::parse(attr(op, "op"))?;
            let value = attr(op, "value").cloned().unwrap_or(Value::Null);
            match attr(op, "path").and_then(Value::as_str) {
                Some(path) => operations.push(PatchOperation {
                    kind,
                    target: target_of(path)?,
                    value,
                }),
                None if kind == PatchKind::Remove => {
                    return Err(ScimError::new(ScimType::NoTarget, "remove needs a path"))
                }
                None => match &value {
                    Value::Object(obj) => operations.extend(operations_of_object(kind, obj)?),
                    _ => return Err(invalid("an operation without a path needs an object value")),
                },
            }
        }
        Ok(ScimPatch { operations })
    }
}

/// Applies one operation to `user`; a value of the wrong type is `invalidValue`.
fn apply(user: &mut User, op: &PatchOperation) -> std::result::Result<(), ScimError> {
    let text =
        |v: &Value, name: &str, limit: usize| -> std::result::Result<Option<String>, ScimError> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) if s.trim().is_empty() => Ok(None),
                Value::String(s) if s.chars().count() > limit || s.contains('\0') => Err(invalid(
                    format!("{name} must be at most {limit} characters"),
                )),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(invalid(format!("{name} must be a string"))),
            }
        };
    let value = if op.kind == PatchKind::Remove {
        &Value::Null
    } else {
        &op.value
    };
    match op.target {
        Target::Active => {
            if op.kind == PatchKind::Remove {
                return Err(ScimError::new(
                    ScimType::Mutability,
                    "active cannot be removed",
                ));
            }
            user.is_active =
                scim_bool(value).ok_or_else(|| invalid("active must be true or false"))?;
        }
        Target::GivenName => {
            user.first_name = text(value, "name.givenName", validate::limit::NAME)?
        }
        Target::FamilyName => {
            user.last_name = text(value, "name.familyName", validate::limit::NAME)?
        }
        Target::ExternalId => user.external_id = text(value, "externalId", EXTERNAL_ID_LIMIT)?,
        Target::Locale => {
            user.locale = match text(value, "locale", 64)? {
                None => None,
                Some(raw) => Some(crate::locale::parse(&raw).ok_or_else(|| {
                    invalid(format!("locale {raw:?} is not a locale people knows"))
                })?),
            }
        }
        Target::UserName => {
            let name = text(value, "userName", validate::limit::EMAIL)?
                .map(|n| n.trim().to_string())
                .ok_or_else(|| {
                    ScimError::new(ScimType::Mutability, "userName cannot be removed")
                })?;
            set_user_name(user, &name);
        }
        // Removed (or emptied), displayName is absent; derived from the names only when never given.
        Target::DisplayName => {
            user.display_name =
                Some(text(value, "displayName", DISPLAY_NAME_LIMIT)?.unwrap_or_default())
        }
        Target::Name if op.kind == PatchKind::Remove => {
            user.first_name = None;
            user.last_name = None;
        }
        Target::Name => {
            let Value::Object(parts) = value else {
                return Err(invalid("name must be an object"));
            };
            // RFC 7644 §3.5.2.1/3: the sub-attributes given replace theirs; the others stay.
            for (part, v) in parts {
                match target_of(&format!("name.{part}")) {
                    Ok(Target::GivenName) => {
                        user.first_name = text(v, "name.givenName", validate::limit::NAME)?
                    }
                    Ok(Target::FamilyName) => {
                        user.last_name = text(v, "name.familyName", validate::limit::NAME)?
                    }
                    _ => {}
                }
            }
        }
        Target::Emails if op.kind == PatchKind::Remove => {
            return Err(ScimError::new(
                ScimType::Mutability,
                "emails cannot be removed: people keeps one address per user",
            ));
        }
        Target::Emails => {
            let mut holder = Map::new();
            holder.insert("emails".into(), value.clone());
            let email = primary_email(&holder)?
                .ok_or_else(|| invalid("emails must hold an email address"))?;
            let follows = user.scim_user_name.is_none();
            user.change_email(&email);
            if !follows && user.scim_user_name.as_deref() == Some(user.email.as_str()) {
                user.scim_user_name = None;
            }
        }
        Target::Email => {
            let email = text(value, "emails.value", validate::limit::EMAIL)?
                .map(|e| e.trim().to_lowercase())
                .filter(|e| validate::is_email(e))
                .ok_or_else(|| invalid("emails.value must be an email address"))?;
            let follows = user.scim_user_name.is_none();
            user.change_email(&email);
            if !follows && user.scim_user_name.as_deref() == Some(user.email.as_str()) {
                user.scim_user_name = None;
            }
        }
        Target::Ignored => {}
    }
    Ok(())
}

/// The last-admin rule in SCIM's words: deactivating the last active administrator is refused.
fn guard_deactivation(repo: &mut dyn Repo, before: &User, after: &User) -> Result<()> {
    if before.is_active && !after.is_active {
        let admin = before.is_superuser
            || repo
                .memberships_of(&[before.id])?
                .iter()
                .any(|m| m.group_id == ADMINISTRATORS_ID);
        if admin {
            crate::membership::guard_last_admin(repo, true).map_err(|e| match e {
                DomainError::Disallowed(message) => {
                    ScimError::new(ScimType::Mutability, message).into()
                }
                other => other,
            })?;
        }
    }
    Ok(())
}

/// Writes `after` over `before`: the email's uniqueness as 409, the last-admin rule as 400, sessions ended on
/// deactivation.
fn save(repo: &mut dyn Repo, before: &User, after: &User) -> Result<()> {
    let shown = after.scim_user_name.as_deref().unwrap_or(&after.email);
    if let Some(name) = &after.scim_user_name {
        if before.scim_user_name.as_deref().map(str::to_lowercase) != Some(name.to_lowercase()) {
            if let Some(other) = repo.user_by_scim_user_name(name)? {
                if other.id != after.id {
                    return Err(taken(name));
                }
            }
        }
    }
    if after.email != before.email {
        if let Some(other) = repo.user_by_email(&after.email)? {
            if other.id != after.id {
                return Err(taken(shown));
            }
        }
    }
    guard_deactivation(repo, before, after)?;
    repo.update_user(after).map_err(|e| {
        if e.is_unique_violation() {
            taken(shown)
        } else {
            e
        }
    })?;
    if before.is_active && !after.is_active {
        repo.delete_user_sessions(after.id, None)?;
    }
    Ok(())
}

impl People {
    /// The user SCIM may see with entity id `id`, locked for the rest of the transaction and checked
    /// against `precondition` (`If-Match`).
    fn scim_lock(
        &self,
        repo: &mut dyn Repo,
        id: &str,
        precondition: &Precondition,
    ) -> Result<User> {
        let user = repo
            .user_by_entity_id(id)?
            .filter(visible)
            .ok_or_else(|| user_not_found(id))?;
        let user = repo
            .lock_user(user.id)?
            .filter(visible)
            .ok_or_else(|| user_not_found(id))?;
        if *precondition != Precondition::Any {
            precondition.check(&with_groups(repo, user.clone())?.version())?;
        }
        Ok(user)
    }

    /// `PUT /Users/:id`: replaces the attributes people keeps (an omitted one is cleared; `active` defaults to
    /// true), in one transaction.
    pub fn scim_replace_user(
        &self,
        id: &str,
        new: NewScimUser,
        precondition: &Precondition,
    ) -> Result<ScimUser> {
        let now = self.clock.now();
        self.store.write(|repo| {
            let before = self.scim_lock(repo, id, precondition)?;
            let mut after = before.clone();
            after.change_email(&new.email);
            after.scim_user_name = new.user_name.clone();
            after.display_name = new.display_name.clone();
            after.first_name = new.given_name.clone();
            after.last_name = new.family_name.clone();
            after.external_id = new.external_id.clone();
            after.locale = new.locale.clone();
            after.is_active = new.active;
            after.updated_at = now;
            save(repo, &before, &after)?;
            with_groups(repo, after)
        })
    }

    /// `PATCH /Users/:id`: applies every operation in order, in one transaction; any refusal changes nothing.
    pub fn scim_patch_user(
        &self,
        id: &str,
        patch: ScimPatch,
        precondition: &Precondition,
    ) -> Result<ScimUser> {
        let now = self.clock.now();
        self.store.write(|repo| {
            let before = self.scim_lock(repo, id, precondition)?;
            let mut after = before.clone();
            for op in &patch.operations {
                apply(&mut after, op)?;
            }
            if after != before {
                after.updated_at = now;
                save(repo, &before, &after)?;
            }
            with_groups(repo, after)
        })
    }

    /// `DELETE /Users/:id`: deprovisions — the person is deactivated (sessions end) and SCIM answers 404 for
    /// them from then on; people keeps the row for its history. A `POST` of the same userName revives it.
    pub fn scim_delete_user(&self, id: &str, precondition: &Precondition) -> Result<()> {
        let now = self.clock.now();
        self.store.write(|repo| {
            let before = self.scim_lock(repo, id, precondition)?;
            let mut after = before.clone();
            after.is_active = false;
            after.scim_deleted_at = Some(now);
            after.updated_at = now;
            save(repo, &before, &after)
        })?;
        log::info!("SCIM deleted user {id}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{body, Fixture};

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn okta_user(email: &str) -> Map<String, Value> {
        body(json!({
            "schemas": [USER_SCHEMA],
            "userName": email,
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"primary": true, "value": email, "type": "work"}],
            "externalId": "00u1ann",
            "locale": "en-US",
            "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        }))
    }

    #[test]
    fn list_parameters_are_forgiving_but_typed() {
        let q =
            UserListQuery::parse(&pairs(&[("startIndex", "-5"), ("count", "1000000000")])).unwrap();
        assert_eq!((q.start_index, q.count, q.filter), (1, MAX_RESULTS, None));
        let q = UserListQuery::parse(&pairs(&[
            ("COUNT", "0"),
            ("filter", "userName eq \"a@b.c\""),
        ]))
        .unwrap();
        assert_eq!(q.count, 0);
        assert!(q.filter.is_some());
        let e = UserListQuery::parse(&pairs(&[("count", "ten")])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = UserListQuery::parse(&pairs(&[("filter", "userName xx \"a\"")])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn search_requests_read_like_the_query_string() {
        let q = UserListQuery::from_search(&body(json!({
            "schemas": [SEARCH_SCHEMA], "filter": "userName sw \"a\"", "startIndex": 3, "count": "5",
            "attributes": ["userName"]
        })))
        .unwrap();
        assert_eq!((q.start_index, q.count), (3, 5));
        assert!(q.filter.is_some());
        for bad in [
            json!({"schemas": "x"}),
            json!({"filter": 7}),
            json!({"count": [1]}),
        ] {
            assert!(
                UserListQuery::from_search(&body(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn bodies_are_read_as_identity_providers_send_them() {
        let n = NewScimUser::parse(&okta_user("Ann@Example.com")).unwrap();
        assert_eq!(n.email, "ann@example.com");
        assert_eq!(
            (n.given_name.as_deref(), n.family_name.as_deref()),
            (Some("Ann"), Some("Lee"))
        );
        assert_eq!(
            (n.external_id.as_deref(), n.locale.as_deref(), n.active),
            (Some("00u1ann"), Some("en_US"), true)
        );
        // Entra ID: a userName that is not an address, the address in emails, "False" as a string.
        let entra = body(json!({
            "schemas": [USER_SCHEMA], "userName": "ann", "active": "False",
            "emails": [{"type": "work", "value": "ann@example.com"}]
        }));
        let n = NewScimUser::parse(&entra).unwrap();
        assert_eq!((n.email.as_str(), n.active), ("ann@example.com", false));
        for (bad, kind) in [
            (json!({"userName": "a@b.c"}), ScimType::InvalidSyntax),
            (
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "a@b.c"}),
                ScimType::InvalidSyntax,
            ),
            (json!({"schemas": [USER_SCHEMA]}), ScimType::InvalidValue),
            (
                json!({"schemas": [USER_SCHEMA], "userName": 7}),
                ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "not-an-address"}),
                ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a@b.c", "active": "yes"}),
                ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a@b.c", "locale": "xx-YY"}),
                ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a@b.c", "externalId": "x".repeat(255)}),
                ScimType::InvalidValue,
            ),
        ] {
            assert_eq!(
                NewScimUser::parse(&body(bad.clone()))
                    .unwrap_err()
                    .scim_type,
                Some(kind),
                "{bad}"
            );
        }
    }

    #[test]
    fn created_users_are_listed_found_and_unique() {
        let f = Fixture::new();
        let admin = f.admin("admin@x.com");
        let created = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ann@example.com")).unwrap())
            .unwrap();
        let user = &created.user;
        assert_eq!(user.sso_source, Some(SsoSource::Scim));
        assert_eq!(user.password_hash, None);
        assert!(user.is_active && !user.is_superuser);
        assert!(
            f.store.snapshot().outbox.is_empty(),
            "no invite email from SCIM"
        );
        let id = user.entity_id.clone().unwrap();
        assert_eq!(f.people.scim_get_user(&id).unwrap().user.id, user.id);
        let e = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ANN@example.com")).unwrap())
            .unwrap_err();
        assert!(
            matches!(
                e,
                DomainError::Scim(ScimError {
                    status: 409,
                    scim_type: Some(ScimType::Uniqueness),
                    ..
                })
            ),
            "{e:?}"
        );
        // The list: people SCIM can see (the admin too), filtered in the store.
        let all = f
            .people
            .scim_list_users(UserListQuery::parse(&[]).unwrap())
            .unwrap();
        assert_eq!(all.total, 2);
        let q =
            UserListQuery::parse(&pairs(&[("filter", "userName eq \"Ann@Example.com\"")])).unwrap();
        let found = f.people.scim_list_users(q).unwrap();
        assert_eq!((found.total, found.users[0].user.id), (1, user.id));
        // An unknown id, an API key's user and the integer id are not SCIM ids.
        for unknown in ["nope", &admin.id.to_string(), ""] {
            assert!(matches!(
                f.people.scim_get_user(unknown),
                Err(DomainError::Scim(ScimError { status: 404, .. }))
            ));
        }
    }

    #[test]
    fn magic_groups_are_invisible_and_others_listed() {
        let f = Fixture::new();
        let admin = f.admin("admin@x.com");
        let sales = f
            .people
            .store
            .write(|r| r.insert_group("Sales", "sales0000000000000000"))
            .unwrap();
        f.people
            .store
            .write(|r| {
                r.insert_membership(&crate::store::NewMembership {
                    user_id: admin.id,
                    group_id: sales.id,
                    role: crate::group::GroupRole::Member,
                })
            })
            .unwrap();
        let id = f.store.user(admin.id).unwrap().entity_id.unwrap();
        let seen = f.people.scim_get_user(&id).unwrap();
        assert_eq!(
            seen.groups
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>(),
            vec!["Sales"]
        );
    }

    #[test]
    fn a_user_scim_deleted_comes_back_with_a_new_id() {
        let f = Fixture::new();
        let created = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ann@example.com")).unwrap())
            .unwrap();
        let old_id = created.user.entity_id.clone().unwrap();
        let mut u = created.user.clone();
        u.scim_deleted_at = Some(f.now());
        u.is_active = false;
        f.people.store.write(|r| r.update_user(&u)).unwrap();
        assert!(f.people.scim_get_user(&old_id).is_err());
        let back = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ann@example.com")).unwrap())
            .unwrap();
        assert_eq!(back.user.id, created.user.id);
        assert!(back.user.is_active);
        assert_ne!(back.user.entity_id.as_deref(), Some(old_id.as_str()));
        assert!(f.people.scim_get_user(&old_id).is_err());
    }
    fn patch(f: &Fixture, id: &str, ops: Value) -> Result<ScimUser> {
        let patch = ScimPatch::parse(&body(json!({"schemas": [PATCH_SCHEMA], "Operations": ops})))?;
        f.people.scim_patch_user(id, patch, &Precondition::Any)
    }

    fn scim_status(r: Result<impl std::fmt::Debug>) -> (u16, Option<ScimType>) {
        match r {
            Err(DomainError::Scim(e)) => (e.status, e.scim_type),
            other => panic!("expected a SCIM error: {other:?}"),
        }
    }

    #[test]
    fn okta_and_entra_patches_apply_in_one_go() {
        let f = Fixture::new();
        f.admin("admin@x.com");
        let ann = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ann@example.com")).unwrap())
            .unwrap();
        let id = ann.user.entity_id.clone().unwrap();
        let session = f.session(ann.user.id);
        // Okta: a path-less replace of active.
        let off = patch(
            &f,
            &id,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert!(!off.user.is_active);
        assert!(
            f.people.authenticate(Some(&session)).is_err(),
            "deactivation ends the sessions"
        );
        let on = patch(
            &f,
            &id,
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .unwrap();
        assert!(on.user.is_active);
        // Entra ID: capitalised ops, string booleans, paths.
        let u = patch(&f, &id, json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "name.givenName", "value": "Annie"},
            {"op": "replace", "path": "emails[Type EQ \"work\" and primary eq true].value", "value": "x@example.com"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "New@Example.com"},
            {"op": "remove", "path": "externalId"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}
        ])).unwrap();
        assert!(!u.user.is_active);
        assert_eq!(u.user.first_name.as_deref(), Some("Annie"));
        assert_eq!(u.user.email, "new@example.com");
        assert_eq!(u.user.external_id, None);
        // A refused operation changes nothing, even after good ones.
        let r = patch(
            &f,
            &id,
            json!([
                {"op": "replace", "path": "name.familyName", "value": "Changed"},
                {"op": "replace", "path": "nickName.foo", "value": 1}
            ]),
        );
        assert_eq!(scim_status(r), (400, Some(ScimType::InvalidPath)));
        assert_eq!(
            f.people
                .scim_get_user(&id)
                .unwrap()
                .user
                .last_name
                .as_deref(),
            Some("Lee")
        );
        for (ops, expected) in [
            (
                json!([{"op": "frobnicate", "path": "active", "value": true}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "remove", "path": "active"}]),
                ScimType::Mutability,
            ),
            (json!([{"op": "remove"}]), ScimType::NoTarget),
            (
                json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@b.c"}]),
                ScimType::NoTarget,
            ),
            (
                json!([{"op": "replace", "path": "emails[value co \"@\"].value", "value": "a@b.c"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq].value", "value": "a@b.c"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "emails.value", "value": "not-an-address"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "remove", "path": "userName"}]),
                ScimType::Mutability,
            ),
        ] {
            assert_eq!(
                scim_status(patch(&f, &id, ops.clone())).1,
                Some(expected),
                "{ops}"
            );
        }
        for bad in [
            json!({"schemas": [PATCH_SCHEMA]}),
            json!({"schemas": "nope", "Operations": []}),
        ] {
            let e = ScimPatch::parse(&body(bad)).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        }
        // Another person's address is taken.
        f.people
            .scim_create_user(NewScimUser::parse(&okta_user("bob@example.com")).unwrap())
            .unwrap();
        let r = patch(
            &f,
            &id,
            json!([{"op": "replace", "path": "userName", "value": "bob@example.com"}]),
        );
        assert_eq!(scim_status(r), (409, Some(ScimType::Uniqueness)));
        assert_eq!(scim_status(patch(&f, "nope", json!([]))).0, 404);
        // A userName that is not an address is kept beside the email, and is unique ignoring case.
        let u = patch(
            &f,
            &id,
            json!([{"op": "replace", "path": "userName", "value": "Ann.Lee"}]),
        )
        .unwrap();
        assert_eq!(
            (u.user.scim_user_name.as_deref(), u.user.email.as_str()),
            (Some("Ann.Lee"), "new@example.com")
        );
        let bob = f
            .people
            .scim_list_users(
                UserListQuery::parse(&pairs(&[("filter", "userName eq \"bob@example.com\"")]))
                    .unwrap(),
            )
            .unwrap();
        let bob_id = bob.users[0].user.entity_id.clone().unwrap();
        let r = patch(
            &f,
            &bob_id,
            json!([{"op": "replace", "path": "userName", "value": "ann.lee"}]),
        );
        assert_eq!(scim_status(r), (409, Some(ScimType::Uniqueness)));
        // Back to an address: the email follows and the separate userName goes.
        let u = patch(
            &f,
            &id,
            json!([{"op": "replace", "path": "userName", "value": "ann@example.com"}]),
        )
        .unwrap();
        assert_eq!(
            (u.user.scim_user_name.as_deref(), u.user.email.as_str()),
            (None, "ann@example.com")
        );
    }

    #[test]
    fn the_last_administrator_stays_active_and_visible() {
        let f = Fixture::new();
        let admin = f.admin("admin@x.com");
        let id = f.store.user(admin.id).unwrap().entity_id.unwrap();
        let r = patch(
            &f,
            &id,
            json!([{"op": "replace", "path": "active", "value": false}]),
        );
        assert_eq!(scim_status(r), (400, Some(ScimType::Mutability)));
        assert_eq!(
            scim_status(f.people.scim_delete_user(&id, &Precondition::Any)),
            (400, Some(ScimType::Mutability))
        );
        let mut replace = okta_user("admin@x.com");
        replace.insert("active".into(), json!(false));
        let r = f.people.scim_replace_user(
            &id,
            NewScimUser::parse(&replace).unwrap(),
            &Precondition::Any,
        );
        assert_eq!(scim_status(r), (400, Some(ScimType::Mutability)));
        assert!(f.store.user(admin.id).unwrap().is_active);
    }

    #[test]
    fn put_replaces_and_delete_deprovisions() {
        let f = Fixture::new();
        f.admin("admin@x.com");
        let ann = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ann@example.com")).unwrap())
            .unwrap();
        let id = ann.user.entity_id.clone().unwrap();
        let bare = body(json!({"schemas": [USER_SCHEMA], "userName": "ann@example.com"}));
        let u = f
            .people
            .scim_replace_user(&id, NewScimUser::parse(&bare).unwrap(), &Precondition::Any)
            .unwrap();
        assert_eq!(
            (
                u.user.first_name,
                u.user.external_id,
                u.user.locale,
                u.user.is_active
            ),
            (None, None, None, true)
        );
        let session = f.session(ann.user.id);
        f.people.scim_delete_user(&id, &Precondition::Any).unwrap();
        assert!(f.people.authenticate(Some(&session)).is_err());
        let stored = f.store.user(ann.user.id).unwrap();
        assert!(
            !stored.is_active && stored.scim_deleted_at.is_some(),
            "the row stays"
        );
        assert_eq!(scim_status(f.people.scim_get_user(&id)).0, 404);
        assert_eq!(
            scim_status(f.people.scim_delete_user(&id, &Precondition::Any)).0,
            404
        );
        let back = f
            .people
            .scim_create_user(NewScimUser::parse(&okta_user("ann@example.com")).unwrap())
            .unwrap();
        assert_eq!(back.user.id, ann.user.id);
        assert_ne!(back.user.entity_id.as_deref(), Some(id.as_str()));
    }
}

//! SCIM groups (`/api/ee/scim/v2/Groups`): every group but All Users and Administrators, with its members
//! as SCIM users, listed with filters compiled into SQL, created, renamed, re-membered (`PUT`, `PATCH`, as
//! Okta's group push and Entra ID send them) and deleted. Memberships made here are plain ones (never a
//! group manager), and the magic groups stay out of reach, so SCIM can never grant administration.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::error::{DomainError, Result};
use crate::group::Group;
use crate::group::{is_magic, new_entity_id, GroupRole};
use crate::id::{GroupId, UserId};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{GroupAttr, GroupFilter, Literal, Op, ScimFilter};
use crate::scim::list::ListQuery;
use crate::scim::user::{
    attr, invalid, optional_text, require_schema, Missing, PatchKind, DISPLAY_NAME_LIMIT,
    EXTERNAL_ID_LIMIT, PATCH_SCHEMA,
};
use crate::scim::version::{self, Precondition};
use crate::service::People;
use crate::store::{NewMembership, Page, Repo};
use crate::validate::limit;

/// The core Group schema's URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A group with the columns SCIM shows beyond Metabase's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// The group.
    pub group: Group,
    /// SCIM `externalId`.
    pub external_id: Option<String>,
    /// `meta.created`.
    pub created_at: Timestamp,
    /// `meta.lastModified`: renames and membership changes move it.
    pub updated_at: Timestamp,
}

/// A member of a group as SCIM lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimMember {
    /// The group.
    pub group_id: GroupId,
    /// The user.
    pub user_id: UserId,
    /// The user's SCIM id (`entity_id`).
    pub entity_id: String,
    /// `display`: the user's email, as Metabase shows it.
    pub display: String,
}

/// `GET /Groups`: the list's parameters.
pub type GroupListQuery = ListQuery<GroupAttr>;

/// A group as SCIM shows it: the record and its members SCIM can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    /// The group and its SCIM columns.
    pub record: GroupRecord,
    /// Its members, by user entity id.
    pub members: Vec<ScimMember>,
}

impl ScimGroup {
    /// The weak ETag of what SCIM shows of the group.
    pub fn version(&self) -> String {
        version::of_group(self)
    }
}

/// One page of a group list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroupPage {
    /// The groups of the page.
    pub groups: Vec<ScimGroup>,
    /// How many groups match in all.
    pub total: i64,
    /// The 1-based index of the first.
    pub start_index: i64,
}

/// `POST /Groups` and `PUT /Groups/:id`: a whole Group resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScimGroup {
    /// `displayName`: the group's name.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `members[].value`: user entity ids (`None` when `members` is absent).
    pub members: Option<Vec<String>>,
}

/// `displayName` of a group: non-blank, at most the group name's limit.
fn group_name(v: Option<&Value>) -> std::result::Result<String, ScimError> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let name = s.trim().to_string();
            if name.chars().count() > limit::GROUP_NAME.min(DISPLAY_NAME_LIMIT)
                || name.contains('\0')
            {
                Err(invalid(format!(
                    "displayName must be at most {} characters",
                    limit::GROUP_NAME.min(DISPLAY_NAME_LIMIT)
                )))
            } else {
                Ok(name)
            }
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(invalid("displayName is required"))
        }
        Some(_) => Err(invalid("displayName must be a string")),
    }
}

/// `members` as a list of `{value}` objects: the values.
fn member_values(v: &Value) -> std::result::Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        // A single member object, as some clients send it.
        Value::Object(_) => vec![v],
        Value::Null => Vec::new(),
        _ => return Err(invalid("members must be an array of {\"value\": …}")),
    };
    items
        .into_iter()
        .map(|m| {
            m.as_object()
                .and_then(|o| attr(o, "value"))
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .ok_or_else(|| invalid("each member needs a value (a user id)"))
        })
        .collect()
}

impl NewScimGroup {
    /// Reads a Group resource: `schemas` naming the core Group schema, `displayName`, optional
    /// `externalId` and `members`; other attributes are ignored.
    pub fn parse(body: &Map<String, Value>) -> std::result::Result<Self, ScimError> {
        require_schema(body, GROUP_SCHEMA, Missing::Refused)?;
        Ok(NewScimGroup {
            display_name: group_name(attr(body, "displayName"))?,
            external_id: optional_text(body, "externalId", EXTERNAL_ID_LIMIT)?,
            members: attr(body, "members").map(member_values).transpose()?,
        })
    }
}

/// What a group PATCH operation changes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GroupChange {
    /// `displayName`.
    Rename(String),
    /// `externalId`.
    ExternalId(Option<String>),
    /// `add` to `members`.
    AddMembers(Vec<String>),
    /// `replace` of `members`.
    SetMembers(Vec<String>),
    /// `remove` of these members.
    RemoveMembers(Vec<String>),
    /// `remove` of the members a `members[…]` filter selects.
    RemoveMatching(GroupFilter),
    /// `remove` of every member.
    RemoveAllMembers,
}

/// `PATCH /Groups/:id`: the operations, checked before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPatch {
    changes: Vec<GroupChange>,
}

fn unknown_path(path: &str) -> ScimError {
    ScimError::new(
        ScimType::InvalidPath,
        format!("people cannot change {path:?} of a group (displayName, externalId, members)"),
    )
}

/// One operation on a named attribute of a group.
fn change_at(
    kind: PatchKind,
    path: &str,
    value: &Value,
) -> std::result::Result<GroupChange, ScimError> {
    let trimmed = path.trim();
    let lower = trimmed.to_ascii_lowercase();
    let prefix = format!("{}:", GROUP_SCHEMA.to_ascii_lowercase());
    let bare = lower.strip_prefix(&prefix).unwrap_or(&lower);
    match (bare, kind) {
        ("displayname", PatchKind::Remove) => Err(ScimError::new(
            ScimType::Mutability,
            "displayName cannot be removed",
        )),
        ("displayname", _) => Ok(GroupChange::Rename(group_name(Some(value))?)),
        ("externalid", PatchKind::Remove) => Ok(GroupChange::ExternalId(None)),
        ("externalid", _) => {
            let mut holder = Map::new();
            holder.insert("externalId".into(), value.clone());
            Ok(GroupChange::ExternalId(optional_text(
                &holder,
                "externalId",
                EXTERNAL_ID_LIMIT,
            )?))
        }
        ("members", PatchKind::Add) => Ok(GroupChange::AddMembers(member_values(value)?)),
        ("members", PatchKind::Replace) => Ok(GroupChange::SetMembers(member_values(value)?)),
        ("members", PatchKind::Remove) => match value {
            Value::Null => Ok(GroupChange::RemoveAllMembers),
            v => Ok(GroupChange::RemoveMembers(member_values(v)?)),
        },
        (p, PatchKind::Remove) if p.starts_with("members[") && p.ends_with(']') => {
            let filter = GroupFilter::parse(trimmed).map_err(|e| {
                ScimError::new(ScimType::InvalidPath, format!("{trimmed:?}: {}", e.detail))
            })?;
            only_members(&filter).ok_or_else(|| unknown_path(trimmed))?;
            Ok(GroupChange::RemoveMatching(filter))
        }
        _ => Err(unknown_path(trimmed)),
    }
}

/// `Some(())` when `f` tests nothing but `members.value`.
fn only_members(f: &GroupFilter) -> Option<()> {
    match f {
        ScimFilter::And(items) | ScimFilter::Or(items) => items.iter().try_for_each(only_members),
        ScimFilter::Not(inner) => only_members(inner),
        ScimFilter::Present(GroupAttr::Member) | ScimFilter::Compare(GroupAttr::Member, ..) => {
            Some(())
        }
        _ => None,
    }
}

/// Whether the member `entity_id` is selected by `f` (a filter on `members.value` only).
fn selects(f: &GroupFilter, entity_id: &str) -> bool {
    match f {
        ScimFilter::And(items) => items.iter().all(|i| selects(i, entity_id)),
        ScimFilter::Or(items) => items.iter().any(|i| selects(i, entity_id)),
        ScimFilter::Not(inner) => !selects(inner, entity_id),
        ScimFilter::Present(_) => true,
        ScimFilter::Compare(_, op, Literal::Text(v)) => {
            let (have, want) = (entity_id, v.as_str());
            match op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Co => have.contains(want),
                Op::Sw => have.starts_with(want),
                Op::Ew => have.ends_with(want),
                Op::Gt => have > want,
                Op::Ge => have >= want,
                Op::Lt => have < want,
                Op::Le => have <= want,
            }
        }
        ScimFilter::Compare(_, op, Literal::Null) => *op == Op::Ne,
        ScimFilter::Compare(..) => false,
    }
}

impl GroupPatch {
    /// Reads a `PatchOp` message for a group: `add`/`replace`/`remove` (any case) of `displayName`,
    /// `externalId` and `members` (also `members[value eq "…"]` for remove), with or without `path`.
    pub fn parse(body: &Map<String, Value>) -> std::result::Result<Self, ScimError> {
        require_schema(body, PATCH_SCHEMA, Missing::Forgiven)?;
        let Some(list) = attr(body, "Operations").and_then(Value::as_array) else {
            return Err(ScimError::new(
                ScimType::InvalidSyntax,
                "Operations must be an array",
            ));
        };
        let mut changes = Vec::new();
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
                Some(path) => changes.push(change_at(kind, path, &value)?),
                None if kind == PatchKind::Remove => {
                    return Err(ScimError::new(ScimType::NoTarget, "remove needs a path"))
                }
                None => {
                    let Value::Object(obj) = &value else {
                        return Err(invalid("an operation without a path needs an object value"));
                    };
                    for (key, v) in obj {
                        let k = key.to_ascii_lowercase();
                        if matches!(k.as_str(), "schemas" | "id" | "meta") {
                            continue;
                        }
                        changes.push(change_at(kind, key, v)?);
                    }
                }
            }
        }
        Ok(GroupPatch { changes })
    }
}

/// 404 for a group SCIM cannot see.
fn group_not_found(id: &str) -> DomainError {
    ScimError::not_found(format!("Group {id} not found")).into()
}

/// 409 for a taken group name.
fn name_taken(name: &str) -> DomainError {
    ScimError::new(
        ScimType::Uniqueness,
        format!("A group named {name:?} already exists"),
    )
    .into()
}

/// `e`, a unique violation of the group's name as a 409.
fn unique_name(e: DomainError, name: &str) -> DomainError {
    if e.is_unique_violation() {
        name_taken(name)
    } else {
        e
    }
}

/// The groups with their members.
fn with_members(repo: &mut dyn Repo, records: Vec<GroupRecord>) -> Result<Vec<ScimGroup>> {
    let ids: Vec<_> = records.iter().map(|r| r.group.id).collect();
    let mut by_group: HashMap<_, Vec<ScimMember>> = HashMap::new();
    for m in repo.scim_group_members(&ids)? {
        by_group.entry(m.group_id).or_default().push(m);
    }
    Ok(records
        .into_iter()
        .map(|record| ScimGroup {
            members: by_group.remove(&record.group.id).unwrap_or_default(),
            record,
        })
        .collect())
}

fn one_with_members(repo: &mut dyn Repo, record: GroupRecord) -> Result<ScimGroup> {
    let mut v = with_members(repo, vec![record])?;
    v.pop().ok_or(DomainError::NotFound)
}

/// The SCIM-visible group `id` (not a magic one).
fn visible_group(repo: &mut dyn Repo, id: &str) -> Result<GroupRecord> {
    repo.scim_group_by_entity_id(id)?
        .filter(|r| !is_magic(r.group.id))
        .ok_or_else(|| group_not_found(id))
}

/// The users SCIM may add by these entity ids; one it cannot see is `invalidValue`.
fn users_for(repo: &mut dyn Repo, ids: &[String]) -> Result<Vec<crate::id::UserId>> {
    let wanted: BTreeSet<&String> = ids.iter().collect();
    let wanted: Vec<String> = wanted.into_iter().cloned().collect();
    let found = repo.users_by_entity_ids(&wanted)?;
    let mut out = Vec::new();
    for id in &wanted {
        match found
            .iter()
            .find(|u| u.entity_id.as_deref() == Some(id.as_str()))
        {
            Some(u)
                if u.user_type == crate::user::UserType::Personal
                    && u.scim_deleted_at.is_none() =>
            {
                out.push(u.id)
            }
            _ => {
                return Err(invalid(format!("members: no user has the id {id:?}")).into());
            }
        }
    }
    Ok(out)
}

/// Makes the group's SCIM-visible membership: adds `add`, removes `remove` (user ids), plain members.
fn apply_members(
    repo: &mut dyn Repo,
    group: &GroupRecord,
    add: &[crate::id::UserId],
    remove: &[crate::id::UserId],
) -> Result<()> {
    let current = repo.all_memberships(Some(&[group.group.id]))?;
    for user_id in add {
        if !current.iter().any(|m| m.user_id == *user_id) {
            repo.insert_membership(&NewMembership {
                user_id: *user_id,
                group_id: group.group.id,
                role: GroupRole::Member,
            })?;
        }
    }
    for m in current.iter().filter(|m| remove.contains(&m.user_id)) {
        repo.delete_membership(m.id)?;
    }
    Ok(())
}

impl People {
    /// `GET /Groups`: a page of the groups SCIM sees, with their members.
    pub fn scim_list_groups(&self, query: GroupListQuery) -> Result<ScimGroupPage> {
        let page = Page {
            limit: query.count,
            offset: query.start_index - 1,
        };
        self.store.read(|repo| {
            let (records, total) = repo.scim_groups(query.filter.as_ref(), query.sort, page)?;
            Ok(ScimGroupPage {
                groups: with_members(repo, records)?,
                total,
                start_index: query.start_index,
            })
        })
    }

    /// `GET /Groups/:id`.
    pub fn scim_get_group(&self, id: &str) -> Result<ScimGroup> {
        self.store.read(|repo| {
            let record = visible_group(repo, id)?;
            one_with_members(repo, record)
        })
    }

    /// `POST /Groups`: a new group with these members (plain members); 409 `uniqueness` for a taken name.
    pub fn scim_create_group(&self, new: NewScimGroup) -> Result<ScimGroup> {
        let now = self.clock.now();
        let created = self.store.write(|repo| {
            if repo.group_by_name(&new.display_name)?.is_some() {
                return Err(name_taken(&new.display_name));
            }
            let group = repo
                .insert_group(&new.display_name, &new_entity_id())
                .map_err(|e| unique_name(e, &new.display_name))?;
            let record = visible_group(repo, group.entity_id.as_deref().unwrap_or_default())?;
            // Never before the store dated the group (its clock and this one may differ).
            let at = now.max(record.updated_at);
            repo.set_group_external_id(group.id, new.external_id.as_deref(), at)?;
            let add = users_for(repo, new.members.as_deref().unwrap_or_default())?;
            apply_members(repo, &record, &add, &[])?;
            let record = visible_group(repo, group.entity_id.as_deref().unwrap_or_default())?;
            one_with_members(repo, record)
        })?;
        log::info!(
            "SCIM created group {} ({})",
            created.record.group.id,
            created.record.group.entity_id.as_deref().unwrap_or("")
        );
        Ok(created)
    }

    /// The group `id` locked for the transaction, checked against `precondition`.
    fn scim_lock_group(
        &self,
        repo: &mut dyn Repo,
        id: &str,
        precondition: &Precondition,
    ) -> Result<ScimGroup> {
        let record = visible_group(repo, id)?;
        repo.lock_group(record.group.id)?;
        let record = visible_group(repo, id)?;
        let current = one_with_members(repo, record)?;
        precondition.check(&current.version())?;
        Ok(current)
    }

    /// Renames the group when `name` differs (409 for a taken name).
    fn scim_rename(&self, repo: &mut dyn Repo, group: &GroupRecord, name: &str) -> Result<()> {
        if group.group.name == name {
            return Ok(());
        }
        if let Some(other) = repo.group_by_name(name)? {
            if other.id != group.group.id {
                return Err(name_taken(name));
            }
        }
        repo.rename_group(group.group.id, name)
            .map_err(|e| unique_name(e, name))
    }

    /// `PUT /Groups/:id`: name, externalId and exactly these members (none when `members` is absent).
    pub fn scim_replace_group(
        &self,
        id: &str,
        new: NewScimGroup,
        precondition: &Precondition,
    ) -> Result<ScimGroup> {
        let now = self.clock.now();
        self.store.write(|repo| {
            let current = self.scim_lock_group(repo, id, precondition)?;
            self.scim_rename(repo, &current.record, &new.display_name)?;
            let at = now.max(current.record.updated_at);
            repo.set_group_external_id(current.record.group.id, new.external_id.as_deref(), at)?;
            // A replacement: members left out are no longer members.
            let wanted = users_for(repo, new.members.as_deref().unwrap_or_default())?;
            let remove: Vec<_> = current
                .members
                .iter()
                .map(|m| m.user_id)
                .filter(|u| !wanted.contains(u))
                .collect();
            apply_members(repo, &current.record, &wanted, &remove)?;
            let record = visible_group(repo, id)?;
            one_with_members(repo, record)
        })
    }

    /// `PATCH /Groups/:id`: every operation in order, in one transaction (the group row locked, so that
    /// concurrent PATCHes of one group's members apply one after the other and lose nothing).
    pub fn scim_patch_group(
        &self,
        id: &str,
        patch: GroupPatch,
        precondition: &Precondition,
    ) -> Result<ScimGroup> {
        let now = self.clock.now();
        self.store.write(|repo| {
            let current = self.scim_lock_group(repo, id, precondition)?;
            let mut members: Vec<ScimMember> = current.members.clone();
            for change in &patch.changes {
                match change {
                    GroupChange::Rename(name) => {
                        self.scim_rename(repo, &current.record, name)?;
                    }
                    GroupChange::ExternalId(e) => {
                        let at = now.max(current.record.updated_at);
                        repo.set_group_external_id(current.record.group.id, e.as_deref(), at)?;
                    }
                    GroupChange::AddMembers(ids) | GroupChange::SetMembers(ids) => {
                        let wanted = users_for(repo, ids)?;
                        let remove: Vec<_> = if matches!(change, GroupChange::SetMembers(_)) {
                            members
                                .iter()
                                .map(|m| m.user_id)
                                .filter(|u| !wanted.contains(u))
                                .collect()
                        } else {
                            Vec::new()
                        };
                        apply_members(repo, &current.record, &wanted, &remove)?;
                    }
                    GroupChange::RemoveMembers(ids) => {
                        let remove: Vec<_> = members
                            .iter()
                            .filter(|m| ids.contains(&m.entity_id))
                            .map(|m| m.user_id)
                            .collect();
                        apply_members(repo, &current.record, &[], &remove)?;
                    }
                    GroupChange::RemoveMatching(filter) => {
                        let remove: Vec<_> = members
                            .iter()
                            .filter(|m| selects(filter, &m.entity_id))
                            .map(|m| m.user_id)
                            .collect();
                        apply_members(repo, &current.record, &[], &remove)?;
                    }
                    GroupChange::RemoveAllMembers => {
                        let remove: Vec<_> = members.iter().map(|m| m.user_id).collect();
                        apply_members(repo, &current.record, &[], &remove)?;
                    }
                }
                members = repo.scim_group_members(&[current.record.group.id])?;
            }
            let record = visible_group(repo, id)?;
            one_with_members(repo, record)
        })
    }

    /// `DELETE /Groups/:id`: the group and its memberships go.
    pub fn scim_delete_group(&self, id: &str, precondition: &Precondition) -> Result<()> {
        self.store.write(|repo| {
            let current = self.scim_lock_group(repo, id, precondition)?;
            repo.delete_group(current.record.group.id)?;
            Ok(())
        })?;
        log::info!("SCIM deleted group {id}");
        Ok(())
    }
}

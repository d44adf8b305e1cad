//! Permission groups and memberships: the two magic groups and who belongs where.

use rand::RngExt;
use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::id::{GroupId, MembershipId, UserId};
use crate::membership::{guard_last_admin, ALL_USERS_RULE, DUPLICATE_MEMBERSHIP};
use crate::service::People;
use crate::session::Caller;
use crate::store::{NewMembership, Page};
use crate::validate::{self, limit, Presence};

/// "All Users": every user is a member; nobody is added or removed through the API.
pub const ALL_USERS_ID: GroupId = GroupId(1);
/// "Administrators": exactly the superusers.
pub const ADMINISTRATORS_ID: GroupId = GroupId(2);
/// Name of [`ALL_USERS_ID`].
pub const ALL_USERS_NAME: &str = "All Users";
/// Name of [`ADMINISTRATORS_ID`].
pub const ADMINISTRATORS_NAME: &str = "Administrators";

/// True for the two groups that cannot be renamed, deleted or freely edited.
pub fn is_magic(group_id: GroupId) -> bool {
    group_id == ALL_USERS_ID || group_id == ADMINISTRATORS_ID
}

/// One row of `permissions_group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Id.
    pub id: GroupId,
    /// Name, unique ignoring case.
    pub name: String,
    /// 21-character NanoID.
    pub entity_id: Option<String>,
}

/// A group with the number of its active members (the list endpoint's shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWithCount {
    /// The group.
    pub group: Group,
    /// Active members.
    pub member_count: i64,
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupRole {
    /// An ordinary member.
    #[default]
    Member,
    /// May add, remove and promote the group's members.
    Manager,
}

impl GroupRole {
    /// The role that Metabase's `is_group_manager` flag stands for.
    pub fn from_manager_flag(is_group_manager: bool) -> Self {
        if is_group_manager {
            GroupRole::Manager
        } else {
            GroupRole::Member
        }
    }

    /// Metabase's `is_group_manager` flag.
    pub fn is_manager(self) -> bool {
        self == GroupRole::Manager
    }
}

/// One row of `permissions_group_membership`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// Membership id.
    pub id: MembershipId,
    /// Member.
    pub user_id: UserId,
    /// Group.
    pub group_id: GroupId,
    /// May manage this group's members.
    pub is_group_manager: bool,
}

/// An active member of a group as the group detail lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member's user id.
    pub user_id: UserId,
    /// Membership id.
    pub membership_id: MembershipId,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: String,
    /// Manager flag.
    pub is_group_manager: bool,
}

const NANOID_ALPHABET: &[u8] = b"_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A fresh random 21-character `entity_id` from the NanoID alphabet.
pub fn new_entity_id() -> String {
    let mut rng = rand::rng();
    (0..21)
        .map(|_| NANOID_ALPHABET[rng.random_range(0..NANOID_ALPHABET.len())] as char)
        .collect()
}

// ----- use cases -----

/// 400 text for a second group with the same name (ignoring case).
pub const DUPLICATE_NAME: &str = "A group with that name already exists.";
/// 400 text for making a superuser a group manager (sic: no apostrophe).
pub const ADMIN_NOT_MANAGER: &str = "Admin cant be a group manager.";

/// 400 text for renaming or deleting a magic group.
fn magic_rule(id: GroupId) -> DomainError {
    let name = if id == ALL_USERS_ID {
        ALL_USERS_NAME
    } else {
        ADMINISTRATORS_NAME
    };
    DomainError::Disallowed(format!(
        "You cannot edit or delete the '{name}' permissions group!"
    ))
}

/// `POST /api/permissions/group`: a new group's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateGroup {
    /// Non-blank, at most [`limit::GROUP_NAME`] characters, unique ignoring case.
    pub name: String,
}

impl CreateGroup {
    /// Reads `{"name": …}`.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let name =
            validate::non_blank("name", body.get("name"), Presence::Required)?.unwrap_or_default();
        validate::max_chars("name", &name, limit::GROUP_NAME)?;
        Ok(CreateGroup { name })
    }
}

/// `PUT /api/permissions/group/:id`: the group's new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameGroup {
    /// As for [`CreateGroup::name`].
    pub name: String,
}

impl RenameGroup {
    /// Reads `{"name": …}`, with [`CreateGroup`]'s rules.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        CreateGroup::parse(body).map(|c| RenameGroup { name: c.name })
    }
}

/// `POST /api/permissions/membership`: who joins which group, in which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddMembership {
    /// The group.
    pub group_id: GroupId,
    /// The new member.
    pub user_id: UserId,
    /// Member (the default) or manager.
    pub role: GroupRole,
}

impl AddMembership {
    /// Reads `{"group_id": …, "user_id": …, "is_group_manager"?: …}` in Metabase's order.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let group_id =
            validate::positive_int("group_id", body.get("group_id"), Presence::Required)?
                .unwrap_or_default();
        let user_id = validate::positive_int("user_id", body.get("user_id"), Presence::Required)?
            .unwrap_or_default();
        let manager = validate::boolean(
            "is_group_manager",
            body.get("is_group_manager"),
            Presence::Nullable,
        )?
        .unwrap_or(false);
        Ok(AddMembership {
            group_id: GroupId(group_id),
            user_id: UserId(user_id),
            role: GroupRole::from_manager_flag(manager),
        })
    }
}

/// `PUT /api/permissions/membership/:id`: the membership's new role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetGroupRole {
    /// Member or manager.
    pub role: GroupRole,
}

impl SetGroupRole {
    /// Reads `{"is_group_manager": …}` (required).
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let manager = validate::boolean(
            "is_group_manager",
            body.get("is_group_manager"),
            Presence::Required,
        )?
        .unwrap_or(false);
        Ok(SetGroupRole {
            role: GroupRole::from_manager_flag(manager),
        })
    }
}

fn unique_name(e: DomainError) -> DomainError {
    if e.is_unique_violation() {
        DomainError::Disallowed(DUPLICATE_NAME.to_string())
    } else {
        e
    }
}

/// A group with its active members (`GET /api/permissions/group/:id`, and what membership changes return).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDetail {
    /// The group.
    pub group: Group,
    /// Active members by name.
    pub members: Vec<GroupMember>,
}

impl People {
    /// `GET /api/permissions/group`: every group for superusers, the managed ones for group managers.
    pub fn list_groups(&self, caller: &Caller, page: Option<Page>) -> Result<Vec<GroupWithCount>> {
        caller.require_group_manager()?;
        let only = (!caller.is_superuser()).then(|| caller.managed_groups());
        self.store.read(|r| r.list_groups(only.as_deref(), page))
    }

    /// `GET /api/permissions/group/:id`.
    pub fn get_group(&self, caller: &Caller, id: GroupId) -> Result<GroupDetail> {
        caller.require_group_manager()?;
        self.store.read(|r| {
            let group = r.group_by_id(id)?.ok_or(DomainError::NotFound)?;
            let members = r.group_members(group.id)?;
            Ok(GroupDetail { group, members })
        })
    }

    /// `POST /api/permissions/group`: a superuser creates a group with a unique name.
    pub fn create_group(&self, caller: &Caller, command: CreateGroup) -> Result<Group> {
        caller.require_superuser()?;
        let name = command.name;
        self.store.write(|r| {
            if r.group_by_name(&name)?.is_some() {
                return Err(DomainError::Disallowed(DUPLICATE_NAME.to_string()));
            }
            r.insert_group(&name, &new_entity_id()).map_err(unique_name)
        })
    }

    /// `PUT /api/permissions/group/:id`: renames a group (not a magic one).
    pub fn rename_group(
        &self,
        caller: &Caller,
        id: GroupId,
        command: RenameGroup,
    ) -> Result<Group> {
        caller.require_manager_of(id)?;
        let name = command.name;
        self.store.write(|r| {
            let group = r.group_by_id(id)?.ok_or(DomainError::NotFound)?;
            if is_magic(group.id) {
                return Err(magic_rule(group.id));
            }
            if r.group_by_name(&name)?
                .is_some_and(|other| other.id != group.id)
            {
                return Err(DomainError::Disallowed(DUPLICATE_NAME.to_string()));
            }
            r.rename_group(group.id, &name).map_err(unique_name)?;
            Ok(Group { name, ..group })
        })
    }

    /// `DELETE /api/permissions/group/:id`: deletes a group and its memberships; an unknown id is a no-op.
    pub fn delete_group(&self, caller: &Caller, id: GroupId) -> Result<()> {
        caller.require_manager_of(id)?;
        if is_magic(id) {
            return Err(magic_rule(id));
        }
        self.store.write(|r| {
            r.delete_group(id)?;
            // A deleted group is no longer an LDAP mapping's target (Metabase does the same).
            crate::ldap::forget_group(r, id)
        })
    }

    /// `GET /api/permissions/membership`: memberships by user (managers: only of the groups they manage).
    pub fn list_memberships(&self, caller: &Caller) -> Result<Vec<Membership>> {
        caller.require_group_manager()?;
        let only = (!caller.is_superuser()).then(|| caller.managed_groups());
        self.store.read(|r| r.all_memberships(only.as_deref()))
    }

    /// `POST /api/permissions/membership`: adds a user to a group; returns the group's members.
    pub fn add_membership(&self, caller: &Caller, command: AddMembership) -> Result<GroupDetail> {
        let AddMembership {
            group_id,
            user_id,
            role,
        } = command;
        caller.require_manager_of(group_id)?;
        self.store.write(|r| {
            let group = r.group_by_id(group_id)?.ok_or_else(|| {
                DomainError::rule("group_id", format!("Group {group_id} does not exist."))
            })?;
            let mut user = r.lock_user(user_id)?.ok_or(DomainError::NotFound)?;
            if group.id == ALL_USERS_ID {
                return Err(DomainError::Disallowed(ALL_USERS_RULE.to_string()));
            }
            if role.is_manager() && user.is_superuser {
                return Err(DomainError::Disallowed(ADMIN_NOT_MANAGER.to_string()));
            }
            let new = NewMembership {
                user_id: user.id,
                group_id: group.id,
                role,
            };
            r.insert_membership(&new).map_err(|e| {
                if e.is_unique_violation() {
                    DomainError::rule("user_id", DUPLICATE_MEMBERSHIP)
                } else {
                    e
                }
            })?;
            if group.id == ADMINISTRATORS_ID && !user.is_superuser {
                user.is_superuser = true;
                user.updated_at = self.clock.now();
                r.update_user(&user)?;
            }
            let members = r.group_members(group.id)?;
            Ok(GroupDetail { group, members })
        })
    }

    /// `PUT /api/permissions/membership/:id`: sets the role (a superuser is never a manager).
    pub fn set_group_role(
        &self,
        caller: &Caller,
        id: MembershipId,
        command: SetGroupRole,
    ) -> Result<Membership> {
        let role = command.role;
        caller.require_group_manager()?;
        self.store.write(|r| {
            let m = r.membership_by_id(id)?.ok_or(DomainError::NotFound)?;
            caller.require_manager_of(m.group_id)?;
            if role.is_manager() {
                let user = r.user_by_id(m.user_id)?.ok_or(DomainError::NotFound)?;
                if user.is_superuser {
                    return Err(DomainError::Disallowed(ADMIN_NOT_MANAGER.to_string()));
                }
            }
            r.set_group_role(m.id, role)?;
            Ok(Membership {
                is_group_manager: role.is_manager(),
                ..m
            })
        })
    }

    /// `PUT /api/permissions/membership/:group-id/clear`: removes every member of a group.
    pub fn clear_group(&self, caller: &Caller, id: GroupId) -> Result<()> {
        caller.require_manager_of(id)?;
        self.store.write(|r| {
            let group = r.group_by_id(id)?.ok_or(DomainError::NotFound)?;
            if group.id == ADMINISTRATORS_ID {
                return Err(DomainError::Disallowed("Invalid Request.".to_string()));
            }
            if group.id == ALL_USERS_ID {
                return Err(DomainError::Disallowed(ALL_USERS_RULE.to_string()));
            }
            r.delete_group_memberships(group.id)?;
            Ok(())
        })
    }

    /// `DELETE /api/permissions/membership/:id`: removes one membership (Administrators: the user stops being a
    /// superuser, unless they are the last active one).
    pub fn delete_membership(&self, caller: &Caller, id: MembershipId) -> Result<()> {
        self.store.write(|r| {
            let m = r.membership_by_id(id)?.ok_or(DomainError::NotFound)?;
            caller.require_manager_of(m.group_id)?;
            if m.group_id == ALL_USERS_ID {
                return Err(DomainError::Disallowed(ALL_USERS_RULE.to_string()));
            }
            if m.group_id == ADMINISTRATORS_ID {
                // Only active administrators are counted, whoever the membership belongs to.
                guard_last_admin(r, true)?;
                if let Some(mut user) = r.lock_user(m.user_id)? {
                    user.is_superuser = false;
                    user.updated_at = self.clock.now();
                    r.update_user(&user)?;
                }
            }
            r.delete_membership(m.id)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids_are_21_nanoid_characters() {
        let a = new_entity_id();
        assert_eq!(a.len(), 21);
        assert!(a.bytes().all(|b| NANOID_ALPHABET.contains(&b)));
        assert_ne!(a, new_entity_id());
    }

    #[test]
    fn magic_groups() {
        assert!(is_magic(GroupId(1)) && is_magic(GroupId(2)) && !is_magic(GroupId(3)));
    }
}

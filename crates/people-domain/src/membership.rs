//! Changing a user's memberships as a whole (`user_group_memberships` on create and update), with the
//! magic-group rules Metabase has: All Users cannot be left, Administrators membership is `is_superuser`, and
//! the last active administrator cannot be removed.

use std::collections::BTreeMap;

use crate::error::{DomainError, Result};
use crate::group::{GroupRole, Membership, ADMINISTRATORS_ID, ADMIN_NOT_MANAGER, ALL_USERS_ID};
use crate::id::{GroupId, UserId};
use crate::permission::NOT_ALLOWED_MEMBERSHIPS;
use crate::session::Caller;
use crate::store::{NewMembership, Repo};
use crate::validate::MembershipSpec;

/// 400 text for any change to All Users.
pub const ALL_USERS_RULE: &str = "You cannot add or remove users to/from the 'All Users' group.";
/// 400 text for removing the last active administrator.
pub const LAST_ADMIN_RULE: &str = "You cannot remove the last member of the 'Admin' group!";

/// 400 text for adding a membership that exists.
pub const DUPLICATE_MEMBERSHIP: &str = "User is already a member of that group.";

/// Unknown group ids in a membership list: 400 under `field`.
pub(crate) fn check_groups_exist(
    repo: &mut dyn Repo,
    field: &str,
    specs: &[MembershipSpec],
) -> Result<()> {
    let ids: Vec<GroupId> = specs.iter().map(|s| s.group_id).collect();
    let found = repo.groups_by_ids(&ids)?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|g| g.id == **id)) {
        return Err(DomainError::rule(
            field,
            format!("Group {missing} does not exist."),
        ));
    }
    Ok(())
}

/// Refuses to take `user_id` out of Administrators when they are its last active person (an API key in
/// Administrators does not count: it cannot administer people through the console or sign in). Locks the
/// group so that two concurrent removals cannot both pass.
pub(crate) fn guard_last_admin(repo: &mut dyn Repo, user_active: bool) -> Result<()> {
    repo.lock_group(ADMINISTRATORS_ID)?;
    if user_active && repo.count_active_personal_members(ADMINISTRATORS_ID)? <= 1 {
        return Err(DomainError::Disallowed(LAST_ADMIN_RULE.to_string()));
    }
    Ok(())
}

/// Who is changing the memberships.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Editor<'a> {
    /// A superuser (or the system, on create): any change.
    Superuser,
    /// Someone else: managers may change groups they manage; others may change nothing.
    Caller(&'a Caller),
}

/// Makes `user_id`'s memberships equal `desired` (group ids must exist; checked by the caller). Entries without
/// `is_group_manager` keep the current flag, or `false` when new. Returns whether the user is in
/// Administrators afterwards.
pub(crate) fn replace(
    repo: &mut dyn Repo,
    editor: Editor<'_>,
    user_id: UserId,
    user_active: bool,
    current: &[Membership],
    desired: &[MembershipSpec],
) -> Result<bool> {
    let want: BTreeMap<GroupId, Option<bool>> = desired
        .iter()
        .map(|spec| (spec.group_id, spec.is_group_manager))
        .collect();
    let have: BTreeMap<GroupId, &Membership> = current.iter().map(|m| (m.group_id, m)).collect();
    let added: Vec<(GroupId, bool)> = want
        .iter()
        .filter(|(g, _)| !have.contains_key(g))
        .map(|(g, f)| (*g, f.unwrap_or(false)))
        .collect();
    let removed: Vec<&Membership> = have
        .iter()
        .filter(|(g, _)| !want.contains_key(g))
        .map(|(_, m)| *m)
        .collect();
    let changed: Vec<(&Membership, bool)> = want
        .iter()
        .filter_map(|(g, f)| match (have.get(g), f) {
            (Some(m), Some(f)) if m.is_group_manager != *f => Some((*m, *f)),
            _ => None,
        })
        .collect();

    if let Editor::Caller(c) = editor {
        if c.manages_any_group() {
            let touched = added
                .iter()
                .map(|(g, _)| *g)
                .chain(removed.iter().map(|m| m.group_id))
                .chain(changed.iter().map(|(m, _)| m.group_id));
            for g in touched {
                if !c.manages(g) {
                    return Err(DomainError::Forbidden(NOT_ALLOWED_MEMBERSHIPS.to_string()));
                }
            }
        } else if !added.is_empty() || !removed.is_empty() {
            return Err(DomainError::forbidden());
        } else {
            // Metabase OSS compares group ids only: the same set is no change at all.
            return Ok(have.contains_key(&ADMINISTRATORS_ID));
        }
    }

    // Whoever asks and whatever the path: an administrator never becomes a group manager (as on
    // /api/permissions/membership).
    let admin_after = want.contains_key(&ADMINISTRATORS_ID);
    let makes_manager =
        added.iter().any(|(_, flag)| *flag) || changed.iter().any(|(_, flag)| *flag);
    if admin_after && makes_manager {
        return Err(DomainError::Disallowed(ADMIN_NOT_MANAGER.to_string()));
    }
    if !want.contains_key(&ALL_USERS_ID) && have.contains_key(&ALL_USERS_ID) {
        return Err(DomainError::Disallowed(ALL_USERS_RULE.to_string()));
    }
    if removed.iter().any(|m| m.group_id == ADMINISTRATORS_ID) {
        guard_last_admin(repo, user_active)?;
    }
    for m in &removed {
        repo.delete_membership(m.id)?;
    }
    for (g, flag) in &added {
        let new = NewMembership {
            user_id,
            group_id: *g,
            role: GroupRole::from_manager_flag(*flag),
        };
        repo.insert_membership(&new).map_err(|e| {
            if e.is_unique_violation() {
                // A concurrent request added the same membership first.
                DomainError::rule("user_id", DUPLICATE_MEMBERSHIP)
            } else {
                e
            }
        })?;
    }
    for (m, flag) in &changed {
        repo.set_group_role(m.id, GroupRole::from_manager_flag(*flag))?;
    }
    Ok(want.contains_key(&ADMINISTRATORS_ID))
}

//! Who may do what: Metabase's permission checks for users, groups and memberships, in one place.
//! Group-manager rights are always on; a non-admin who manages no group is treated exactly as Metabase OSS treats a non-admin.

use crate::error::{DomainError, Result};
use crate::id::{GroupId, UserId};
use crate::session::Caller;

/// 403 text when a group manager touches a membership of a group they do not manage.
pub const NOT_ALLOWED_MEMBERSHIPS: &str = "Not allowed to edit group memberships";

impl Caller {
    /// May add, remove or change members of `group_id`: a superuser, or a manager of that group.
    pub fn may_manage_group(&self, group_id: GroupId) -> bool {
        self.is_superuser() || self.manages(group_id)
    }

    /// A superuser, else 403.
    pub fn require_superuser(&self) -> Result<()> {
        if self.is_superuser() {
            Ok(())
        } else {
            Err(DomainError::forbidden())
        }
    }

    /// The user `id` themselves or a superuser, else 403.
    pub fn require_self_or_superuser(&self, id: UserId) -> Result<()> {
        if self.is(id) || self.is_superuser() {
            Ok(())
        } else {
            Err(DomainError::forbidden())
        }
    }

    /// Self or superuser, falling back to "manages at least one group" (`GET`/`PUT /api/user/:id`).
    pub fn require_self_superuser_or_manager(&self, id: UserId) -> Result<()> {
        if self.is(id) || self.is_superuser() || self.manages_any_group() {
            Ok(())
        } else {
            Err(DomainError::forbidden())
        }
    }

    /// A superuser or a manager of at least one group, else 403 (the "group-manager check").
    pub fn require_group_manager(&self) -> Result<()> {
        if self.is_superuser() || self.manages_any_group() {
            Ok(())
        } else {
            Err(DomainError::forbidden())
        }
    }

    /// A superuser or a manager of `group_id`, else 403.
    pub fn require_manager_of(&self, group_id: GroupId) -> Result<()> {
        if self.may_manage_group(group_id) {
            Ok(())
        } else {
            Err(DomainError::forbidden())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::group::Membership;
    use crate::id::{GroupId, MembershipId, UserId};
    use crate::session::Caller;
    use crate::user::tests_support::user;

    fn caller(id: i64, admin: bool, managed: &[i64]) -> Caller {
        let mut u = user(id);
        u.is_superuser = admin;
        let mut memberships = vec![Membership {
            id: MembershipId(1),
            user_id: UserId(id),
            group_id: GroupId(1),
            is_group_manager: false,
        }];
        memberships.extend(managed.iter().map(|&g| Membership {
            id: MembershipId(g),
            user_id: UserId(id),
            group_id: GroupId(g),
            is_group_manager: true,
        }));
        Caller {
            user: u,
            memberships,
            credential: crate::session::Credential::Session(String::new()),
            first_login: None,
        }
    }

    #[test]
    fn checks() {
        let admin = caller(1, true, &[]);
        let manager = caller(2, false, &[5]);
        let plain = caller(3, false, &[]);
        assert!(admin.require_superuser().is_ok() && manager.require_superuser().is_err());
        assert!(
            plain.require_self_or_superuser(UserId(3)).is_ok()
                && plain.require_self_or_superuser(UserId(4)).is_err()
        );
        assert!(manager.require_self_superuser_or_manager(UserId(9)).is_ok());
        assert!(plain.require_self_superuser_or_manager(UserId(9)).is_err());
        assert!(manager.require_group_manager().is_ok() && plain.require_group_manager().is_err());
        assert!(
            manager.require_manager_of(GroupId(5)).is_ok()
                && manager.require_manager_of(GroupId(6)).is_err()
        );
        assert!(admin.may_manage_group(GroupId(6)));
    }
}

//! SCIM groups (`/api/ee/scim/v2/Groups`): every group but All Users and Administrators, with its members
//! as SCIM users, listed with filters compiled into SQL, created, renamed, re-membered (`PUT`, `PATCH`, as
//! Okta's group push and Entra ID send them) and deleted. Memberships made here are plain ones (never a
//! group manager), and the magic groups stay out of reach, so SCIM can never grant administration.

use crate::clock::Timestamp;
use crate::group::Group;
use crate::id::{GroupId, UserId};

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

//! API keys (Metabase 0.49+): a key acts as a user of its own, of type `api-key`, in All Users and the group
//! an administrator chose, sent as `X-Api-Key`. Only the SHA-256 of the whole key is stored: a key carries
//! 256 random bits, so a fast digest is as safe as for session ids, and a request with a key costs no bcrypt.
//! See docs/api-keys.md.

use crate::clock::Timestamp;
use crate::group::Membership;
use crate::id::{ApiKeyId, GroupId, UserId};
use crate::user::User;

/// What a key may be used for: the ordinary kind acts as its user on `/api`; the SCIM token has no user and
/// only provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// An ordinary key (`api_key.scope` NULL).
    Default,
    /// The SCIM token (`api_key.scope = 'scim'`).
    Scim,
}

impl KeyScope {
    /// The stored value: `None` for the ordinary kind.
    pub fn as_stored(self) -> Option<&'static str> {
        match self {
            KeyScope::Default => None,
            KeyScope::Scim => Some("scim"),
        }
    }

    /// The scope a stored value names; an unknown value is treated as SCIM (never usable as `X-Api-Key`).
    pub fn from_stored(value: Option<&str>) -> KeyScope {
        match value {
            None => KeyScope::Default,
            Some(_) => KeyScope::Scim,
        }
    }
}

/// A stored key (never its secret: only `key_prefix`, the first 7 characters, is kept in the clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// The user the key acts as; `None` only for the SCIM token.
    pub user_id: Option<UserId>,
    /// Unique name.
    pub name: String,
    /// `mb_` and the next 4 characters of the key; unique.
    pub key_prefix: String,
    /// Who created it.
    pub creator_id: UserId,
    /// Who changed it last.
    pub updated_by_id: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was changed last.
    pub updated_at: Timestamp,
    /// What it is for.
    pub scope: KeyScope,
}

/// A key to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The user it acts as (`None` for the SCIM token).
    pub user_id: Option<UserId>,
    /// Unique name.
    pub name: String,
    /// Lower-case hex SHA-256 of the whole key.
    pub digest: String,
    /// The key's first 7 characters; unique.
    pub key_prefix: String,
    /// The creating (and updating) user.
    pub creator_id: UserId,
    /// Creation time (also `updated_at`).
    pub created_at: Timestamp,
    /// What it is for.
    pub scope: KeyScope,
}

/// A key's changeable columns, written by [`crate::store::Repo::update_api_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyChange {
    /// New name.
    pub name: String,
    /// A new secret: its digest and prefix (regenerate); `None` keeps the key.
    pub secret: Option<(String, String)>,
    /// Who changes it.
    pub updated_by_id: UserId,
    /// When.
    pub updated_at: Timestamp,
}

/// The user a key acts as, with their memberships, found by the key's digest in one query.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHolder {
    /// The backing user.
    pub user: User,
    /// Their memberships, ordered by group id.
    pub memberships: Vec<Membership>,
}

/// The group a key's user is in besides All Users (the first by id), or All Users.
pub fn key_group(memberships: &[Membership], all_users: GroupId) -> GroupId {
    memberships
        .iter()
        .map(|m| m.group_id)
        .find(|g| *g != all_users)
        .unwrap_or(all_users)
}

//! Versions (RFC 7644 §3.14): every resource's `meta.version` is a weak ETag over what SCIM shows of it, so
//! that it changes exactly when the representation does; `If-Match` on a write is checked against it inside
//! the write's transaction (a stale one is 412 and changes nothing).

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::scim::error::ScimError;
use crate::scim::group::ScimGroup;
use crate::scim::user::ScimUser;

/// `W/"<16 hex digits>"` of `parts`, each ended by a separator no part contains.
fn weak_etag(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = hex::encode(h.finalize());
    format!("W/\"{}\"", &digest[..16])
}

/// The version of a user as SCIM shows them (their attributes and group ids).
pub fn of_user(u: &ScimUser) -> String {
    let user = &u.user;
    let modified = user.updated_at.timestamp_micros().to_string();
    let groups: Vec<&str> = u
        .groups
        .iter()
        .map(|g| g.entity_id.as_deref().unwrap_or_default())
        .collect();
    let groups = groups.join(",");
    let names: Vec<&str> = u.groups.iter().map(|g| g.name.as_str()).collect();
    let names = names.join("\u{1}");
    weak_etag(&[
        &modified,
        &user.email,
        user.scim_user_name.as_deref().unwrap_or("\u{1}"),
        user.first_name.as_deref().unwrap_or("\u{1}"),
        user.last_name.as_deref().unwrap_or("\u{1}"),
        user.display_name.as_deref().unwrap_or("\u{1}"),
        user.external_id.as_deref().unwrap_or("\u{1}"),
        user.locale.as_deref().unwrap_or("\u{1}"),
        if user.is_active { "1" } else { "0" },
        &groups,
        &names,
    ])
}

/// The version of a group as SCIM shows it (name, externalId, members).
pub fn of_group(g: &ScimGroup) -> String {
    let modified = g.record.updated_at.timestamp_micros().to_string();
    let members: Vec<&str> = g.members.iter().map(|m| m.entity_id.as_str()).collect();
    let members = members.join(",");
    weak_etag(&[
        &modified,
        &g.record.group.name,
        g.record.external_id.as_deref().unwrap_or("\u{1}"),
        &members,
    ])
}

/// `If-Match` on a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match` (or `*`): any version.
    Any,
    /// One of these entity tags (compared weakly: `W/"x"` matches `"x"`).
    OneOf(Vec<String>),
}

impl Precondition {
    /// Reads an `If-Match` header value: `*`, or a comma-separated list of entity tags. Anything else can
    /// match no version, so a write under it is 412.
    pub fn from_if_match(raw: Option<&str>) -> Self {
        match raw.map(str::trim) {
            None | Some("*") => Precondition::Any,
            Some(list) => Precondition::OneOf(
                list.split(',')
                    .map(|t| opaque(t.trim()).to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            ),
        }
    }

    /// Whether `version` (a weak ETag people issued) satisfies this; 412 otherwise.
    pub fn check(&self, version: &str) -> Result<()> {
        match self {
            Precondition::Any => Ok(()),
            Precondition::OneOf(tags) if tags.iter().any(|t| t == opaque(version)) => Ok(()),
            Precondition::OneOf(_) => Err(ScimError::precondition_failed(format!(
                "the resource has changed: its version is now {version}"
            ))
            .into()),
        }
    }
}

/// An entity tag without its weakness mark: `W/"x"` → `"x"`.
fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

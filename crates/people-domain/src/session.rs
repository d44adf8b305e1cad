//! Sessions (spec §1.6, §3, A.4): a random UUID v4 handed to the client once; only its SHA-256 is stored.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;
use crate::group::Membership;
use crate::user::User;

/// A secret handed to a client (session id, reset token). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 (hex) of the value, the only form that is stored.
    pub fn digest(&self) -> String {
        sha256_hex(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of `value`, lower-case hex.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new random session id (UUID v4 from the operating system's generator).
pub fn new_session_token() -> Secret {
    Secret(uuid::Uuid::new_v4().to_string())
}

/// A `core_session` row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the token.
    pub id_hash: String,
    /// Owner.
    pub user_id: i32,
    /// Creation time; validity is measured from it.
    pub created_at: Timestamp,
}

/// What one indexed query learns about the caller of a request: the session's user, their memberships (for
/// superuser and group-manager checks, read fresh on every request) and the session's age.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerRecord {
    /// The user the session belongs to.
    pub user: User,
    /// Every membership of that user.
    pub memberships: Vec<Membership>,
    /// When the session was created.
    pub session_created_at: Timestamp,
    /// Earliest login-history entry of the user.
    pub first_login: Option<Timestamp>,
}

/// A `login_history` row to insert (spec A.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    /// When.
    pub timestamp: Timestamp,
    /// Who.
    pub user_id: i32,
    /// SHA-256 of the session created by the login.
    pub session_hash: Option<String>,
    /// `metabase.DEVICE` cookie value.
    pub device_id: String,
    /// User-Agent.
    pub device_description: String,
    /// Client address.
    pub ip_address: String,
}

/// A stored `login_history` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// When.
    pub timestamp: Timestamp,
    /// `metabase.DEVICE` cookie value.
    pub device_id: String,
    /// User-Agent.
    pub device_description: String,
    /// Client address.
    pub ip_address: String,
    /// The login's session still exists.
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_uuids_and_digests_are_sha256() {
        let t = new_session_token();
        assert!(uuid::Uuid::parse_str(t.expose()).is_ok());
        assert_eq!(t.digest().len(), 64);
        assert_ne!(t.expose(), new_session_token().expose());
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(format!("{t:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn digest_comparison() {
        assert!(digests_equal("abc", "abc"));
        assert!(!digests_equal("abc", "abd"));
        assert!(!digests_equal("abc", "abcd"));
    }
}

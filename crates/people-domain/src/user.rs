//! Users: the `core_user` record (spec §1.1) and what is derived from it.

use std::fmt;

use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::password::PasswordHash;

/// Metabase's internal user id. people has no internal user (spec A.3): this id is simply a user that does not
/// exist, but the id is refused where Metabase refuses it.
pub const INTERNAL_USER_ID: i64 = 13_371_338;

/// `core_user.type` of an ordinary account.
pub const TYPE_PERSONAL: &str = "personal";

/// One row of `core_user`.
#[derive(Clone, PartialEq)]
pub struct User {
    /// Id (positive).
    pub id: i32,
    /// Always lower-case.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// bcrypt hash; `None` for a user created without a password (spec A.4).
    pub password_hash: Option<String>,
    /// Salt prefixed to the password before hashing.
    pub password_salt: Option<String>,
    /// Creation time.
    pub date_joined: Timestamp,
    /// Last successful login.
    pub last_login: Option<Timestamp>,
    /// Member of Administrators.
    pub is_superuser: bool,
    /// False once deactivated.
    pub is_active: bool,
    /// SHA-256 (hex) of the outstanding reset token.
    pub reset_token: Option<String>,
    /// When the reset token was issued, epoch milliseconds.
    pub reset_triggered: Option<i64>,
    /// Has not dismissed the "new to querying" modal.
    pub is_qbnewb: bool,
    /// Has not dismissed the "new to datasets" modal.
    pub is_datasetnewb: bool,
    /// Free-form attributes (a JSON object).
    pub login_attributes: Option<Map<String, Value>>,
    /// Last change.
    pub updated_at: Timestamp,
    /// `google`, `ldap`, … for accounts from an SSO source; `None` for API-created users.
    pub sso_source: Option<String>,
    /// Normalised locale (`en`, `es_MX`).
    pub locale: Option<String>,
    /// Per-user settings (JSON text), kept as stored.
    pub settings: Option<String>,
    /// `personal`, `internal` or `api-key`.
    pub user_type: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_superuser", &self.is_superuser)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Metabase's `common_name`: "first last" trimmed, a missing part as empty; the email when both are null.
    pub fn common_name(&self) -> String {
        common_name(
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            &self.email,
        )
    }

    /// True for ordinary accounts (not internal or API-key users).
    pub fn is_personal(&self) -> bool {
        self.user_type == TYPE_PERSONAL
    }
}

/// `common_name` from its parts (spec §1.2).
pub fn common_name(first: Option<&str>, last: Option<&str>, email: &str) -> String {
    if first.is_none() && last.is_none() {
        return email.to_string();
    }
    format!("{} {}", first.unwrap_or(""), last.unwrap_or(""))
        .trim()
        .to_string()
}

/// What the store needs to insert a user.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    /// Lower-cased, validated.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Hash of the initial password; `None` creates a user who cannot log in until they set one.
    pub password: Option<PasswordHash>,
    /// Superuser at insert.
    pub is_superuser: bool,
    /// Attributes.
    pub login_attributes: Option<Map<String, Value>>,
    /// Normalised locale.
    pub locale: Option<String>,
    /// SSO source, if any.
    pub sso_source: Option<String>,
    /// Creation time (also `updated_at`).
    pub date_joined: Timestamp,
}

/// Message for an email that another user already has, on create.
pub const EMAIL_IN_USE: &str = "Email address already in use.";

/// Inserts `new` with its All Users membership (and Administrators for a superuser), inside the caller's
/// transaction. A taken email (also when a concurrent request won the race) is `Email address already in use.`
pub(crate) fn insert_with_memberships(
    repo: &mut dyn crate::store::Repo,
    new: &NewUser,
) -> crate::Result<User> {
    use crate::group::{ADMINISTRATORS_ID, ALL_USERS_ID};
    if repo.user_by_email(&new.email)?.is_some() {
        return Err(crate::DomainError::rule("email", EMAIL_IN_USE));
    }
    let user = repo.insert_user(new).map_err(|e| {
        if e.is_unique_violation() {
            crate::DomainError::rule("email", EMAIL_IN_USE)
        } else {
            e
        }
    })?;
    repo.insert_membership(user.id, ALL_USERS_ID, false)?;
    if new.is_superuser {
        repo.insert_membership(user.id, ADMINISTRATORS_ID, false)?;
    }
    Ok(user)
}

/// Users for unit tests of other modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// An active, ordinary user with `id`.
    pub(crate) fn user(id: i32) -> User {
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        User {
            id,
            email: format!("u{id}@x.com"),
            first_name: None,
            last_name: None,
            password_hash: None,
            password_salt: None,
            date_joined: t,
            last_login: None,
            is_superuser: false,
            is_active: true,
            reset_token: None,
            reset_triggered: None,
            is_qbnewb: true,
            is_datasetnewb: true,
            login_attributes: None,
            updated_at: t,
            sso_source: None,
            locale: None,
            settings: None,
            user_type: TYPE_PERSONAL.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_rules() {
        assert_eq!(
            common_name(Some("Rasta"), Some("Toucan"), "r@x.com"),
            "Rasta Toucan"
        );
        assert_eq!(common_name(Some("Blue"), None, "b@x.com"), "Blue");
        assert_eq!(common_name(None, Some("Apron"), "a@x.com"), "Apron");
        assert_eq!(common_name(None, None, "n@x.com"), "n@x.com");
        assert_eq!(common_name(Some(""), None, "n@x.com"), "");
    }
}

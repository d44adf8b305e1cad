//! The directory port: what people asks of an LDAP server, and how the answers and failures look. The
//! `people-ldap` crate implements it over the network; the domain only decides what the answers mean.

use std::collections::BTreeMap;

use super::config::LdapConfig;

/// An LDAP server as people uses it. Every call is bounded by `config.timeout` as a whole (connect, TLS,
/// binds and searches together), so that a hung directory costs a sign-in at most that long.
pub trait Directory: Send + Sync {
    /// The connection test of `PUT /api/ldap/settings`: connect with `config`'s host, port and security,
    /// bind as `config.bind_dn` (anonymously when absent), then read the entry at `config.user_base` and,
    /// when set, at `config.group_base`.
    fn check(&self, config: &LdapConfig) -> Result<(), DirectoryError>;

    /// Finds `login` with `config.user_filter` (every `{login}` replaced by the login escaped as RFC 4515
    /// says) under `config.user_base`, subtree scope, size limit 1, and, when found, binds as the entry's
    /// DN with `password` on a connection of its own. An empty password is [`Authentication::WrongPassword`]
    /// without a bind (an LDAP bind with a DN and no password is an unauthenticated bind some servers accept).
    /// When `config.group_sync` is on, the entry's groups are read as well (see [`DirectoryEntry::groups`]).
    fn authenticate(
        &self,
        config: &LdapConfig,
        login: &str,
        password: &str,
    ) -> Result<Authentication, DirectoryError>;
}

/// What the directory says about a login and its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// No entry matches the login: people tries the local password.
    NotFound,
    /// An entry matches but the password does not bind: a refusal, with no local fallback.
    WrongPassword,
    /// The password binds as the entry.
    Verified(DirectoryEntry),
}

/// One user entry as the directory returned it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryEntry {
    /// The entry's DN as the server wrote it.
    pub dn: String,
    /// Every user attribute, by name **lower-cased**, with all of its values in the server's order
    /// (`objectclass` included; the domain drops what must not be kept).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The DNs of the entry's groups, only read when group sync is on: the entry's `memberOf` values when it
    /// has any (Active Directory, FreeIPA, OpenLDAP's memberof overlay), else the DNs of the entries under
    /// `config.group_base` matching `config.group_membership_filter` (`{dn}` the entry's DN and `{uid}` its
    /// `uid`, both escaped), else none.
    pub groups: Vec<String>,
}

impl DirectoryEntry {
    /// The first value of attribute `name` (compared ignoring case), if any.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(&name.to_ascii_lowercase())
            .and_then(|values| values.first())
            .map(String::as_str)
    }
}

/// Why the directory could not be used. Each kind is one of the field errors `PUT /api/ldap/settings`
/// answers (see [`DirectoryError::field_errors`]); at sign-in every kind means "fall back to the local
/// password".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The host name does not resolve.
    #[error("unknown host: {0}")]
    UnknownHost(String),
    /// Nothing listens at the host and port (connection refused or unreachable).
    #[error("connection refused: {0}")]
    Refused(String),
    /// The TLS handshake failed (a certificate that does not verify, a plain-text server on an `ssl` port,
    /// a server that does not offer StartTLS) or the connection broke during it.
    #[error("TLS or socket failure: {0}")]
    Tls(String),
    /// The service bind was refused: wrong password or unknown bind DN (LDAP answers both with result 49,
    /// invalid credentials). `detail` keeps the server's diagnostic (Active Directory's `data 52e`, …).
    #[error("invalid credentials: {detail}")]
    InvalidCredentials {
        /// The server's diagnostic message.
        detail: String,
    },
    /// The bind DN is not a DN the server can parse (result 34, invalid DN syntax).
    #[error("invalid bind DN: {0}")]
    InvalidBindDn(String),
    /// The user base is missing or cannot be read.
    #[error("user search base does not exist or is unreadable")]
    UserBaseMissing,
    /// The group base is missing or cannot be read.
    #[error("group search base does not exist or is unreadable")]
    GroupBaseMissing,
    /// The whole call took longer than `config.timeout`.
    #[error("the directory did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// Anything else, with what the directory (or the client library) said.
    #[error("{0}")]
    Other(String),
}

/// `{"errors": {field: message, …}}` or `{"message": …}` of a failed connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestFailure {
    /// Messages by setting key.
    Fields(BTreeMap<String, String>),
    /// A message no single setting is to blame for.
    Message(String),
}

impl DirectoryError {
    /// The body Metabase answers for this failure of the connection test (Metabase's own wording, chosen by
    /// what went wrong rather than by matching Java exception messages).
    pub fn test_failure(&self) -> TestFailure {
        let both = |a: &str, b: &str, m: &str| {
            TestFailure::Fields(BTreeMap::from([
                (a.to_string(), m.to_string()),
                (b.to_string(), m.to_string()),
            ]))
        };
        let one = |a: &str, m: &str| {
            TestFailure::Fields(BTreeMap::from([(a.to_string(), m.to_string())]))
        };
        match self {
            DirectoryError::UnknownHost(_) | DirectoryError::Refused(_) => {
                both("ldap-host", "ldap-port", "Wrong host or port")
            }
            DirectoryError::Tls(_) => both(
                "ldap-port",
                "ldap-security",
                "Wrong port or security setting",
            ),
            DirectoryError::InvalidCredentials { detail } => {
                // Active Directory says why in its diagnostic: `… AcceptSecurityContext error, data 52e, …`.
                if detail.contains("data 525,") {
                    one("ldap-bind-dn", "Wrong bind DN")
                } else if detail.contains("data 52e,") {
                    both("ldap-bind-dn", "ldap-password", "Wrong bind DN or password")
                } else if detail.contains("data 532,") {
                    one("ldap-password", "Password is expired")
                } else if detail.contains("data 533,") {
                    one("ldap-bind-dn", "Account is disabled")
                } else if detail.contains("data 701,") {
                    one("ldap-bind-dn", "Account is expired")
                } else {
                    one("ldap-password", "Password was incorrect")
                }
            }
            DirectoryError::InvalidBindDn(_) => one("ldap-bind-dn", "Invalid bind DN"),
            DirectoryError::UserBaseMissing => one(
                "ldap-user-base",
                "User search base does not exist or is unreadable",
            ),
            DirectoryError::GroupBaseMissing => one(
                "ldap-group-base",
                "Group search base does not exist or is unreadable",
            ),
            DirectoryError::Timeout(_) => both("ldap-host", "ldap-port", "Wrong host or port"),
            DirectoryError::Other(m) => TestFailure::Message(m.clone()),
        }
    }
}

/// The directory of a deployment without LDAP support compiled in: every call fails, so sign-in always
/// falls back to local passwords.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDirectory;

impl Directory for NoDirectory {
    fn check(&self, _config: &LdapConfig) -> Result<(), DirectoryError> {
        Err(DirectoryError::Other(
            "LDAP is not available in this build".into(),
        ))
    }

    fn authenticate(
        &self,
        _config: &LdapConfig,
        _login: &str,
        _password: &str,
    ) -> Result<Authentication, DirectoryError> {
        Err(DirectoryError::Other(
            "LDAP is not available in this build".into(),
        ))
    }
}

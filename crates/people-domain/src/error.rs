//! `DomainError`: every way a use case can fail, named by meaning. people-web maps each variant to
//! Metabase's status code and body shape in one place.

use std::fmt;

/// Result of a domain operation.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

/// Why the store could not do what was asked. The store crate converts its own errors into this at its edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFailure {
    /// A unique constraint or index refused the write; carries the constraint or index name when known.
    Unique(String),
    /// A foreign key refused the write.
    ForeignKey(String),
    /// The database could not be reached (connection refused, pool timeout, connection lost).
    Unavailable(String),
    /// Anything else the database reported.
    Other(String),
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreFailure::Unique(c) => write!(f, "unique constraint violated ({c})"),
            StoreFailure::ForeignKey(c) => write!(f, "foreign key violated ({c})"),
            StoreFailure::Unavailable(m) => write!(f, "database unavailable: {m}"),
            StoreFailure::Other(m) => write!(f, "database error: {m}"),
        }
    }
}

/// Every failure of a use case. The variants follow Metabase's error shapes, not HTTP codes; the web crate
/// chooses the status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A request parameter failed its schema (shape 3: `errors` + `specific-errors`, status 400).
    #[error("invalid parameter {param}: {message}")]
    Invalid {
        /// Parameter name as the client sent it.
        param: String,
        /// The schema's fixed description (`value must be a valid email address.`).
        message: String,
        /// Detail for `specific-errors` (wording not part of the contract).
        specific: String,
    },
    /// A business rule failed and is reported under a field (shape 2: `{"errors": {field: message}}`, 400).
    #[error("{field}: {message}")]
    Rule {
        /// Field the message is reported under.
        field: String,
        /// Exact message.
        message: String,
    },
    /// Several fields refused at once, and/or a message for the whole request (400 with `errors` and/or
    /// `message`): the LDAP settings and their connection test.
    #[error("refused: {message:?} {errors:?}")]
    Fields {
        /// A message for the whole request, if any.
        message: Option<String>,
        /// Messages by field.
        errors: std::collections::BTreeMap<String, String>,
    },
    /// A sign-in failure (shape 2, status 401): wrong password, disabled account, login throttled.
    #[error("login refused: {field}: {message}")]
    LoginFailed {
        /// Field the message is reported under (`password`, `_error`, `username`).
        field: String,
        /// Exact message.
        message: String,
    },
    /// The request breaks a rule of the directory that no single field is to blame for: the All Users and
    /// last-administrator rules, a duplicate group name, a setting's value, a malformed query string.
    /// Metabase answers these 400 with the message as plain text.
    #[error("{0}")]
    Disallowed(String),
    /// Reactivating a user who is active (Metabase: 400 `{"message": …}`).
    #[error("Not able to reactivate an active user")]
    AlreadyActive,
    /// No valid session (401 `Unauthenticated`).
    #[error("Unauthenticated")]
    Unauthenticated,
    /// Authenticated but not allowed (403, plain text).
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist (404 `Not found.`).
    #[error("Not found.")]
    NotFound,
    /// Too much work of this kind is already waiting (the password-hashing queue is full): 503 with
    /// `Retry-After`.
    #[error("busy: retry in {retry_after_secs} s")]
    Busy {
        /// Seconds after which a retry can expect room.
        retry_after_secs: u64,
    },
    /// A SCIM-specific refusal (status, `scimType`, detail), rendered as a SCIM error under `/api/ee/scim/v2`.
    #[error("{0}")]
    Scim(crate::scim::ScimError),
    /// The storage layer failed.
    #[error("{0}")]
    Store(StoreFailure),
    /// A broken invariant inside people (500, generic body).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Metabase's standard 403 text.
pub const FORBIDDEN: &str = "You don't have permissions to do that.";

impl DomainError {
    /// 403 with Metabase's standard text.
    pub fn forbidden() -> Self {
        DomainError::Forbidden(FORBIDDEN.to_string())
    }

    /// A schema failure for `param` with its fixed `message`.
    pub fn invalid(param: &str, message: &str, specific: impl Into<String>) -> Self {
        DomainError::Invalid {
            param: param.to_string(),
            message: message.to_string(),
            specific: specific.into(),
        }
    }

    /// A business-rule failure reported under `field`.
    pub fn rule(field: &str, message: impl Into<String>) -> Self {
        DomainError::Rule {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// True when the store refused a write because of a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DomainError::Store(StoreFailure::Unique(_)))
    }
}

impl From<StoreFailure> for DomainError {
    fn from(f: StoreFailure) -> Self {
        DomainError::Store(f)
    }
}

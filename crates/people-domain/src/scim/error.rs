//! SCIM's errors (RFC 7644 §3.12): an HTTP status, a `scimType` where the RFC names one, and a detail.

/// The `scimType` of an error, where RFC 7644 §3.12 names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter has bad syntax or names an attribute that cannot be filtered on (400).
    InvalidFilter,
    /// The query would return more results than the server will (400).
    TooMany,
    /// A unique attribute (userName, displayName) is taken (409).
    Uniqueness,
    /// An attempt to change an immutable or read-only attribute, or a rule of the directory (400).
    Mutability,
    /// The request body is not valid SCIM (400).
    InvalidSyntax,
    /// A PATCH path is malformed or names nothing people knows (400).
    InvalidPath,
    /// A PATCH path's filter matched nothing (400).
    NoTarget,
    /// A value has the wrong type or is not allowed (400).
    InvalidValue,
    /// `If-Match` names another version (412 is the status; RFC's `invalidVers` is for 400s, kept for bodies).
    InvalidVers,
}

impl ScimType {
    /// The RFC's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
        }
    }

    /// The HTTP status that goes with it.
    pub fn status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::InvalidVers => 412,
            _ => 400,
        }
    }
}

/// A SCIM-specific refusal: status, `scimType` and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// HTTP status.
    pub status: u16,
    /// `scimType`, if the RFC names one for this failure.
    pub scim_type: Option<ScimType>,
    /// What went wrong, for a person reading the IdP's log.
    pub detail: String,
}

impl From<ScimError> for crate::error::DomainError {
    fn from(e: ScimError) -> Self {
        crate::error::DomainError::Scim(e)
    }
}

impl ScimError {
    /// An error of `scim_type` (its status) with `detail`.
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError {
            status: scim_type.status(),
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// A 412: `If-Match` names another version than the resource's.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        ScimError {
            status: 412,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A 404 for a resource SCIM cannot see.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }
}

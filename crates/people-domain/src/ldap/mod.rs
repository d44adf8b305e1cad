//! LDAP sign-in: the `ldap-*` settings as a typed [`LdapConfig`], the [`Directory`] port a client
//! implements, DN comparison, and the rules of what a directory's answer means for people (who is created,
//! whose names change, which groups follow the directory's). See docs/ldap.md.

mod config;
mod directory;
mod dn;
mod settings;
mod sign_in;

pub use config::{
    GroupMappings, LdapConfig, Security, DEFAULT_MEMBERSHIP_FILTER, DEFAULT_PORT,
    DEFAULT_TIMEOUT_SECONDS, DEFAULT_USER_FILTER,
};
pub use directory::{
    Authentication, Directory, DirectoryEntry, DirectoryError, NoDirectory, TestFailure,
};
pub use dn::{Dn, InvalidDn};
pub(crate) use settings::{check_mapped_groups, forget_group};
pub use settings::{UpdateLdapSettings, CANNOT_CONNECT, NOT_BOOLEAN, UNKNOWN_SETTING};
pub use sign_in::{provisioning_refusal, DirectoryPerson};
#[cfg(test)]
mod tests;

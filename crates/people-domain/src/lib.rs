//! people-domain: the rules of people, a Metabase-compatible user directory.
//!
//! Users, groups, memberships, sessions, settings and passwords, with Metabase's validation messages and
//! use cases. No I/O: storage is reached through the [`store`] ports that people-store implements, and time
//! through [`clock::Clock`].

#![warn(missing_docs)]

pub mod api_key;
pub mod background;
pub mod clock;
pub mod error;
pub mod group;
pub mod housekeeping;
pub mod id;
pub mod ldap;
pub mod locale;
pub mod mail;
pub mod membership;
pub mod password;
pub mod permission;
pub mod query;
pub mod reset;
pub mod scim;
mod service;
pub mod session;
pub mod setting;
pub mod setup;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod throttle;
#[cfg(test)]
mod use_case_tests;
pub mod user;
pub mod validate;

pub use error::{DomainError, Result, StoreFailure};
pub use id::{ApiKeyId, EmailId, GroupId, MembershipId, UserId};
pub use service::{Config, People, DEFAULT_MAX_SESSION_AGE_MINUTES};

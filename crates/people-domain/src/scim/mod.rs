//! SCIM 2.0 provisioning (RFC 7643 and 7644) at Metabase's paths (`/api/ee/scim/v2`): an identity provider
//! creates, updates and deactivates people and groups with a bearer token. The directory's rules hold
//! unchanged: SCIM never sets a password or sends an invite, never sees or grants the magic groups, and
//! never deactivates the last administrator. See docs/scim.md.

pub mod error;
pub mod filter;
pub mod group;
pub mod list;
pub mod token;
pub mod user;
pub mod version;

pub use error::{ScimError, ScimType};

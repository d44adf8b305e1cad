//! Ids of the directory's records, one type each, so that a group id can never be passed where a user id
//! belongs.
//!
//! Every id is 64 bits wide, as clients send them. The tables' keys are narrower; an id beyond them simply
//! names nothing (people-store answers "not found"), exactly as Metabase answers for an unknown id.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Result};
use crate::validate;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The number.
            pub const fn get(self) -> i64 {
                self.0
            }

            /// A path segment (`[0-9]+` by routing) as an id: zero is 400 under `param`, as Metabase's
            /// positive-integer schema says; digits beyond 64 bits name nothing but are not an error.
            pub fn parse_path(param: &str, raw: &str) -> Result<Self> {
                parse_positive(param, raw).map($name)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_type!(
    /// `core_user.id`.
    UserId
);
id_type!(
    /// `api_key.id`.
    ApiKeyId
);
id_type!(
    /// `permissions_group.id`.
    GroupId
);
id_type!(
    /// `permissions_group_membership.id`.
    MembershipId
);
id_type!(
    /// An email's place in the outbox.
    EmailId
);

/// A positive integer path segment; digits beyond `i64` become `i64::MAX`, an id no row has.
fn parse_positive(param: &str, raw: &str) -> Result<i64> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        Err(_)
            if !raw.is_empty()
                && raw.bytes().all(|b| b.is_ascii_digit())
                && raw.bytes().any(|b| b != b'0') =>
        {
            Ok(i64::MAX)
        }
        _ => Err(DomainError::invalid(
            param,
            validate::msg::POSITIVE_INT,
            format!("{}, received: {raw}", validate::msg::POSITIVE_INT),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids() {
        assert_eq!(UserId::parse_path("id", "7").ok(), Some(UserId(7)));
        assert_eq!(
            GroupId::parse_path("id", "99999999999999999999999").ok(),
            Some(GroupId(i64::MAX))
        );
        assert!(UserId::parse_path("id", "0").is_err());
        assert!(UserId::parse_path("id", "000").is_err());
        assert_eq!(format!("{:?} {}", UserId(3), UserId(3)), "UserId(3) 3");
    }
}

//! Permission groups and memberships (spec §1.5): the two magic groups and who belongs where.

use rand::RngExt;

/// "All Users": every user is a member; nobody is added or removed through the API.
pub const ALL_USERS_ID: i32 = 1;
/// "Administrators": exactly the superusers.
pub const ADMINISTRATORS_ID: i32 = 2;
/// Name of [`ALL_USERS_ID`].
pub const ALL_USERS_NAME: &str = "All Users";
/// Name of [`ADMINISTRATORS_ID`].
pub const ADMINISTRATORS_NAME: &str = "Administrators";

/// True for the two groups that cannot be renamed, deleted or freely edited.
pub fn is_magic(group_id: i32) -> bool {
    group_id == ALL_USERS_ID || group_id == ADMINISTRATORS_ID
}

/// One row of `permissions_group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Id.
    pub id: i32,
    /// Name, unique ignoring case.
    pub name: String,
    /// 21-character NanoID.
    pub entity_id: Option<String>,
}

/// A group with the number of its active members (the list endpoint's shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWithCount {
    /// The group.
    pub group: Group,
    /// Active members.
    pub member_count: i64,
}

/// One row of `permissions_group_membership`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// Membership id.
    pub id: i32,
    /// Member.
    pub user_id: i32,
    /// Group.
    pub group_id: i32,
    /// May manage this group's members.
    pub is_group_manager: bool,
}

/// An active member of a group as the group detail lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member's user id.
    pub user_id: i32,
    /// Membership id.
    pub membership_id: i32,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: String,
    /// Manager flag.
    pub is_group_manager: bool,
}

const NANOID_ALPHABET: &[u8] = b"_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A fresh random 21-character `entity_id` from the NanoID alphabet (spec A.9).
pub fn new_entity_id() -> String {
    let mut rng = rand::rng();
    (0..21)
        .map(|_| NANOID_ALPHABET[rng.random_range(0..NANOID_ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids_are_21_nanoid_characters() {
        let a = new_entity_id();
        assert_eq!(a.len(), 21);
        assert!(a.bytes().all(|b| NANOID_ALPHABET.contains(&b)));
        assert_ne!(a, new_entity_id());
    }

    #[test]
    fn magic_groups() {
        assert!(is_magic(1) && is_magic(2) && !is_magic(3));
    }
}

//! The tables' keys are 32-bit; the domain's ids are 64-bit, as clients send them. An id beyond a key names
//! no row: lookups find nothing and changes change nothing.

use people_domain::{ApiKeyId, GroupId, MembershipId, UserId};

/// An id as the key of its table, if it can be one.
pub(crate) trait Key: Copy {
    /// The key, or `None` for an id no row can have.
    fn key(self) -> Option<i32>;
}

macro_rules! key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn key(self) -> Option<i32> {
                i32::try_from(self.get()).ok().filter(|&k| k > 0)
            }
        }
    )*};
}

key!(UserId, GroupId, MembershipId, ApiKeyId);

/// The keys of `ids` that can be keys (the others name nothing).
pub(crate) fn keys<K: Key>(ids: &[K]) -> Vec<i32> {
    ids.iter().filter_map(|id| id.key()).collect()
}

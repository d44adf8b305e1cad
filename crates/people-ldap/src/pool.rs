//! Idle connections kept between calls, for one set of connection settings at a time.
//!
//! A connection is taken out for the length of one call (so a call never waits behind another's
//! operations) and put back afterwards unless it broke. Only the settings of the last call are kept: when
//! they change (the administrator saved new ones), the old connections are closed.

use std::sync::{Mutex, MutexGuard};

use ldap3::Ldap;

/// How many idle connections are kept; more may be open while calls run.
pub(crate) const MAX_IDLE: usize = 4;

/// Idle connections for one key (the connection settings, bind identity included).
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    key: String,
    connections: Vec<Ldap>,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Idle> {
        // A panic while holding the lock cannot leave the list inconsistent: keep using it.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection made with `key`'s settings, if there is one.
    pub(crate) fn take(&self, key: &str) -> Option<Ldap> {
        let mut idle = self.lock();
        if idle.key != key {
            return None;
        }
        while let Some(mut ldap) = idle.connections.pop() {
            if !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    /// Keeps `ldap`, made with `key`'s settings, for a later call (unless enough are kept already).
    pub(crate) fn put(&self, key: &str, ldap: Ldap) {
        let mut idle = self.lock();
        if idle.key != key {
            idle.key = key.to_string();
            idle.connections.clear();
        }
        if idle.connections.len() < MAX_IDLE {
            idle.connections.push(ldap);
        }
    }

    /// Closes every idle connection (the directory went away, or broke one of them).
    pub(crate) fn clear(&self) {
        self.lock().connections.clear();
    }
}

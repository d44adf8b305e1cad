//! Work done off the request path: answering password-reset asks (so that the request takes the same time
//! for every address), forgetting expired throttle keys, and blanking queued emails whose link has died.
//! The server runs [`People::background_pass`] on a thread of its own when told that work is waiting and
//! every few seconds; an embedding program calls it itself.

use crate::error::Result;
use crate::service::People;

/// Password-reset asks answered in one transaction.
const ASKS_PER_BATCH: i64 = 100;

/// What one background pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundPass {
    /// Password-reset asks answered.
    pub reset_requests: usize,
    /// Throttle keys whose attempts had all expired, deleted.
    pub throttle_keys_pruned: usize,
    /// Unsent emails blanked because their link expired or was superseded.
    pub links_voided: usize,
}

impl People {
    /// Does the waiting background work once (every ask waiting, in batches).
    pub fn background_pass(&self) -> Result<BackgroundPass> {
        let mut pass = BackgroundPass::default();
        loop {
            let n = self.handle_reset_requests(ASKS_PER_BATCH)?;
            pass.reset_requests += n;
            if n < ASKS_PER_BATCH as usize {
                break;
            }
        }
        let now = self.clock.now();
        pass.throttle_keys_pruned = self.store.write(|r| r.prune_attempts(now))?;
        pass.links_voided = self.store.write(|r| r.void_dead_links(now))?;
        Ok(pass)
    }

    /// Tells the background worker that work is waiting.
    pub(crate) fn work_queued(&self) {
        self.work.notify();
    }
}

//! Password hashing on a small pool of its own.
//!
//! bcrypt costs ~80 ms of CPU per password at cost 10. Run on request threads, a burst of 64 logins would
//! put 64 CPU-bound threads in front of every other request; here at most one hash per core runs at a time,
//! so other requests compete with a bounded amount of hashing, and waiting callers queue in arrival order
//! (the latency of a burst of logins is fair instead of random). docs/performance.md ("Bcrypt storm") has
//! what this does and does not buy for reads during 64 concurrent logins.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use people_domain::password::{Bcrypt, PasswordHash, PasswordHasher};
use people_domain::{DomainError, Result};

type Job = Box<dyn FnOnce(&Bcrypt) + Send>;

/// A [`PasswordHasher`] that hands every hash to the pool and waits for the result.
pub struct HashPool {
    jobs: Mutex<Sender<Job>>,
}

impl HashPool {
    /// Starts `threads` hashing threads using `cost`.
    pub fn start(cost: u32, threads: usize) -> Result<HashPool> {
        let (tx, rx): (Sender<Job>, Receiver<Job>) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let bcrypt = Bcrypt::new(cost)?;
            std::thread::Builder::new()
                .name(format!("people-bcrypt-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(&bcrypt),
                            Err(_) => return, // the pool was dropped
                        }
                    }
                })
                .map_err(|e| {
                    DomainError::Internal(format!("cannot start a hashing thread: {e}"))
                })?;
        }
        Ok(HashPool {
            jobs: Mutex::new(tx),
        })
    }

    /// Runs `f` on a hashing thread and waits for its result.
    fn run<T: Send + 'static>(&self, f: impl FnOnce(&Bcrypt) -> T + Send + 'static) -> Option<T> {
        let (reply, result): (SyncSender<T>, Receiver<T>) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |b| {
            let _ = reply.send(f(b));
        });
        let sent = match self.jobs.lock() {
            Ok(tx) => tx.send(job).is_ok(),
            Err(poisoned) => poisoned.into_inner().send(job).is_ok(),
        };
        if !sent {
            return None;
        }
        result.recv().ok()
    }
}

impl PasswordHasher for HashPool {
    fn hash(&self, password: &str) -> Result<PasswordHash> {
        let password = password.to_string();
        self.run(move |b| b.hash(&password))
            .unwrap_or_else(|| Err(DomainError::Internal("the hashing pool is gone".into())))
    }

    fn verify(&self, password: &str, salt: &str, hash: &str) -> bool {
        let (password, salt, hash) = (password.to_string(), salt.to_string(), hash.to_string());
        self.run(move |b| b.verify(&password, &salt, &hash))
            .unwrap_or(false)
    }

    fn dummy_verify(&self, password: &str) {
        let password = password.to_string();
        self.run(move |b| b.dummy_verify(&password));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies_on_the_pool() {
        let pool = HashPool::start(4, 2).unwrap();
        let h = pool.hash("unc0mmonpw").unwrap();
        assert!(pool.verify("unc0mmonpw", &h.salt, &h.hash));
        assert!(!pool.verify("other", &h.salt, &h.hash));
        pool.dummy_verify("x");
        let pool = Arc::new(pool);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || pool.hash(&format!("pw{i}-unc0mmon")).is_ok())
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }
}

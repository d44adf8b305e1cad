//! Password hashing on a small pool of its own, at the lowest CPU priority.
//!
//! bcrypt costs ~80 ms of CPU per password at cost 10. Run on request threads, a burst of 64 logins would
//! put 64 CPU-bound threads in front of every other request; here at most one hash per core runs at a time
//! and waiting callers queue in arrival order (the latency of a burst of logins is fair instead of random).
//!
//! The hashing threads also run under `SCHED_IDLE` on Linux: the kernel then gives a core to any waking
//! request thread (or database backend) at once instead of letting a hash finish its time slice, so a burst
//! of logins only uses the CPU that requests leave idle and reads keep their latency. On a host saturated by
//! other work such threads could wait for a very long time, so a guard thread at normal priority takes
//! queued hashes itself whenever the hashing threads have made no progress for ten hashes' worth of time:
//! logins slow down, they never stop. docs/performance.md ("Bcrypt storm") has the measurements.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use people_domain::password::{Bcrypt, PasswordHash, PasswordHasher};
use people_domain::{DomainError, Result};

type Job = Box<dyn FnOnce(&Bcrypt) + Send>;

/// What the hashing threads, the guard and the callers share.
struct Shared {
    /// Jobs in arrival order, each with the time it was queued.
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the pool closes.
    ready: Condvar,
    /// Jobs finished by the hashing threads (not by the guard): how the guard sees progress.
    done: AtomicU64,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<(Instant, Job)>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A job never runs under the lock, so a poisoned lock still guards a consistent queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A [`PasswordHasher`] that hands every hash to the pool and waits for the result.
pub struct HashPool {
    shared: Arc<Shared>,
    /// Dropped with the pool: wakes the guard so that it ends.
    _guard_stop: Sender<()>,
}

impl HashPool {
    /// Starts `threads` low-priority hashing threads and the guard, all using `cost`.
    pub fn start(cost: u32, threads: usize) -> Result<HashPool> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            done: AtomicU64::new(0),
        });
        for i in 0..threads {
            let shared = Arc::clone(&shared);
            let bcrypt = Bcrypt::new(cost)?;
            spawn(format!("people-bcrypt-{i}"), move || {
                lower_priority();
                hashing_thread(&shared, &bcrypt)
            })?;
        }
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let bcrypt = Bcrypt::new(cost)?;
        let stall = stall_after(cost);
        let guard_shared = Arc::clone(&shared);
        spawn("people-bcrypt-guard".into(), move || {
            guard_thread(&guard_shared, &bcrypt, stall, &stop_rx)
        })?;
        Ok(HashPool {
            shared,
            _guard_stop: stop_tx,
        })
    }

    /// Runs `f` on the pool and waits for its result.
    fn run<T: Send + 'static>(&self, f: impl FnOnce(&Bcrypt) -> T + Send + 'static) -> Option<T> {
        let (reply, result) = mpsc::sync_channel::<T>(1);
        let job: Job = Box::new(move |b| reply_with(&reply, f(b)));
        {
            let mut q = self.shared.lock();
            if q.closed {
                return None;
            }
            q.jobs.push_back((Instant::now(), job));
        }
        self.shared.ready.notify_one();
        result.recv().ok()
    }
}

fn reply_with<T>(reply: &SyncSender<T>, value: T) {
    // The caller may have gone (its request was dropped); the result is then of no use to anyone.
    let _ = reply.send(value);
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map(drop)
        .map_err(|e| DomainError::Internal(format!("cannot start a hashing thread: {e}")))
}

/// Takes jobs in order until the pool closes and its queue is empty.
fn hashing_thread(shared: &Shared, bcrypt: &Bcrypt) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if let Some((_, job)) = q.jobs.pop_front() {
                    break job;
                }
                if q.closed {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        job(bcrypt);
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs queued jobs at normal priority while the hashing threads make no progress and the oldest job has
/// waited `stall`; otherwise only looks, four times per `stall`.
fn guard_thread(shared: &Shared, bcrypt: &Bcrypt, stall: Duration, stop: &mpsc::Receiver<()>) {
    let mut seen = shared.done.load(Ordering::Relaxed);
    let mut progress_at = Instant::now();
    loop {
        let done = shared.done.load(Ordering::Relaxed);
        if done != seen {
            seen = done;
            progress_at = Instant::now();
        }
        let starved = if progress_at.elapsed() >= stall {
            let mut q = shared.lock();
            match q.jobs.front() {
                Some((queued, _)) if queued.elapsed() >= stall => q.jobs.pop_front(),
                _ => None,
            }
        } else {
            None
        };
        match starved {
            Some((_, job)) => {
                log::debug!("hashing threads starved for {stall:?}: the guard hashes");
                job(bcrypt);
            }
            None => match stop.recv_timeout(stall / 4) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            },
        }
    }
}

/// Ten hashes' worth of time at `cost` (one hash at cost 10 is ~80 ms), at least 50 ms.
fn stall_after(cost: u32) -> Duration {
    let one_hash_us = 80_000u64 >> 10u32.saturating_sub(cost).min(20);
    let one_hash_us = one_hash_us << cost.saturating_sub(10).min(20);
    Duration::from_micros(one_hash_us.saturating_mul(10)).max(Duration::from_millis(50))
}

/// Moves the calling thread to `SCHED_IDLE` where the platform has it; hashing still works without.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            log::debug!("hashing thread stays at normal priority: {e:?}");
        }
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

    /// With no hashing thread able to run (here: none at all), the guard still serves every caller.
    #[test]
    fn the_guard_hashes_when_the_hashing_threads_make_no_progress() {
        let pool = Arc::new(HashPool::start(4, 0).unwrap());
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || {
                    let h = pool.hash(&format!("pw{i}-unc0mmon")).unwrap();
                    pool.verify(&format!("pw{i}-unc0mmon"), &h.salt, &h.hash)
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
        assert_eq!(pool.shared.done.load(Ordering::Relaxed), 0);
    }

    /// The hashing threads really run under `SCHED_IDLE` (policy 5 in `/proc/<pid>/task/<tid>/stat`).
    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_run_at_idle_priority() {
        let pool = HashPool::start(4, 1).unwrap();
        // Once the hashing thread has finished a job it has set its policy.
        let started = Instant::now();
        while pool.shared.done.load(Ordering::Relaxed) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no job finished"
            );
            pool.dummy_verify("x");
        }
        let mut policies = vec![];
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap();
            if comm.trim() == "people-bcrypt-0" {
                let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
                // Fields after the parenthesised name; `policy` is field 41 of stat, the 39th after it.
                let after_name = stat.rsplit_once(") ").unwrap().1;
                policies.push(after_name.split(' ').nth(38).unwrap().to_string());
            }
        }
        assert!(!policies.is_empty(), "no hashing thread found");
        assert!(policies.iter().all(|p| p == "5"), "{policies:?}");
    }

    #[test]
    fn a_closed_pool_answers_instead_of_hanging() {
        let pool = HashPool::start(4, 1).unwrap();
        pool.shared.lock().closed = true;
        assert!(pool.hash("unc0mmonpw").is_err());
        assert!(!pool.verify("x", "y", "z"));
    }

    #[test]
    fn the_guard_waits_ten_hashes_worth_of_time() {
        assert_eq!(stall_after(10), Duration::from_millis(800));
        assert_eq!(stall_after(12), Duration::from_millis(3200));
        assert_eq!(stall_after(4), Duration::from_millis(50));
        assert_eq!(stall_after(31), Duration::from_micros(80_000 << 20) * 10);
    }
}

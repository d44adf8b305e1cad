//! The outbox worker: claims due emails, delivers them, marks them sent; on failure records the error and
//! tries again later with exponential back-off, forever. Several workers (replicas) may share one database:
//! a claim leases the email so no other worker takes it meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use people_domain::clock::{Clock, SystemClock};
use people_domain::mail::OutboxSignal;
use people_domain::store::Store;

use crate::smtp::Deliver;

/// Timing of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Emails claimed at once.
    pub batch: i64,
    /// How long a claim keeps other workers away (longer than a batch's worst-case delivery time).
    pub lease: Duration,
    /// How often to look for due email when nobody signals.
    pub poll: Duration,
    /// Delay after the first failure; doubles with each further one.
    pub backoff_base: Duration,
    /// Longest delay between attempts.
    pub backoff_cap: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch: 10,
            lease: Duration::from_secs(300),
            poll: Duration::from_secs(5),
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(3600),
        }
    }
}

impl WorkerConfig {
    /// Delay before attempt `attempts + 1`, after `attempts` failures.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exp = attempts.saturating_sub(1).clamp(0, 30) as u32;
        self.backoff_base
            .checked_mul(1u32 << exp.min(20))
            .unwrap_or(self.backoff_cap)
            .min(self.backoff_cap)
    }
}

/// Wakes a waiting worker; given to people-domain as its [`OutboxSignal`].
#[derive(Debug, Default)]
pub struct Wakeup {
    pending: Mutex<bool>,
    cond: Condvar,
}

impl Wakeup {
    /// Waits until signalled or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        let guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |pending| !*pending)
            .unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }
}

impl OutboxSignal for Wakeup {
    fn notify(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_all();
    }
}

/// Delivers the outbox.
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    deliver: Arc<dyn Deliver>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    wakeup: Arc<Wakeup>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Emails delivered.
    pub sent: usize,
    /// Emails that failed and wait for another attempt.
    pub failed: usize,
}

fn chrono(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::hours(1))
}

impl OutboxWorker {
    /// A worker over `store` delivering with `deliver`.
    pub fn new(store: Arc<dyn Store>, deliver: Arc<dyn Deliver>, config: WorkerConfig) -> Self {
        OutboxWorker {
            store,
            deliver,
            clock: Arc::new(SystemClock),
            config,
            wakeup: Arc::new(Wakeup::default()),
        }
    }

    /// Replaces the clock (tests of leases and back-off).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The signal that wakes this worker when mail is queued.
    pub fn signal(&self) -> Arc<Wakeup> {
        Arc::clone(&self.wakeup)
    }

    /// Claims one batch of due emails and tries each once. A database failure ends the pass early; the
    /// emails it claimed come back when their lease ends.
    pub fn run_once(&self) -> Result<Pass, people_domain::DomainError> {
        let now = self.clock.now();
        let lease_until = now + chrono(self.config.lease);
        let batch = self
            .store
            .write(|r| r.claim_emails(now, lease_until, self.config.batch))?;
        let mut pass = Pass::default();
        for email in batch {
            let to = email.recipients.join(", ");
            match self.deliver.deliver(&email) {
                Ok(()) => {
                    log::info!(
                        "email {} ({:?} to {to}): sent on attempt {}",
                        email.id,
                        email.subject,
                        email.attempts
                    );
                    let at = self.clock.now();
                    self.store.write(|r| r.mark_email_sent(email.id, at))?;
                    metrics::counter!("people_outbox_sent_total").increment(1);
                    pass.sent += 1;
                }
                Err(error) => {
                    let reason = error.to_string();
                    let delay = self.config.backoff(email.attempts);
                    log::warn!(
                        "email {} ({:?} to {to}): attempt {} failed: {reason}; next attempt in {}s",
                        email.id,
                        email.subject,
                        email.attempts,
                        delay.as_secs()
                    );
                    let next = self.clock.now() + chrono(delay);
                    self.store
                        .write(|r| r.mark_email_failed(email.id, &reason, next))?;
                    metrics::counter!("people_outbox_failed_total").increment(1);
                    pass.failed += 1;
                }
            }
        }
        Ok(pass)
    }

    /// Runs passes on a thread of its own until [`WorkerHandle::stop`]: at once when signalled, else every
    /// `poll`.
    pub fn spawn(self) -> std::io::Result<WorkerHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let wakeup = self.signal();
        let flag = Arc::clone(&stop);
        // Shown at zero from the start, so that rates and alerts have a series before the first email.
        metrics::counter!("people_outbox_sent_total").increment(0);
        metrics::counter!("people_outbox_failed_total").increment(0);
        let thread = std::thread::Builder::new()
            .name("people-outbox".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    match self.run_once() {
                        // A full batch may mean more is due: go again without waiting.
                        Ok(pass) if (pass.sent + pass.failed) as i64 >= self.config.batch => {
                            continue
                        }
                        Ok(_) => {}
                        Err(e) => log::warn!("outbox: {e}"),
                    }
                    self.wakeup.wait(self.config.poll);
                }
            })?;
        Ok(WorkerHandle {
            stop,
            wakeup,
            thread: Some(thread),
        })
    }
}

/// A running worker.
pub struct WorkerHandle {
    stop: Arc<AtomicBool>,
    wakeup: Arc<Wakeup>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Stops after the current pass and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wakeup.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WorkerConfig {
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(100),
            ..WorkerConfig::default()
        };
        let secs: Vec<u64> = (1..=6).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![10, 20, 40, 80, 100, 100]);
        assert_eq!(c.backoff(1_000_000).as_secs(), 100);
    }
}

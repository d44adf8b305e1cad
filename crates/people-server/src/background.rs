//! The background worker: runs [`People::background_pass`] (password-reset asks, expired throttle keys,
//! dead links in the outbox) when the use cases say work is waiting, and every few seconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use people_domain::People;
use people_mailer::Wakeup;

/// How often a pass runs when nobody signals.
pub const PERIOD: Duration = Duration::from_secs(5);

/// A running background worker; stops (after its current pass) when stopped or dropped.
pub struct Background {
    stop: Arc<AtomicBool>,
    wakeup: Arc<Wakeup>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts the worker over `people`, woken by `wakeup` (given to `people` as its work signal).
    pub fn spawn(people: Arc<People>, wakeup: Arc<Wakeup>) -> std::io::Result<Background> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let signal = Arc::clone(&wakeup);
        let thread = std::thread::Builder::new()
            .name("people-background".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    match people.background_pass() {
                        Ok(pass) if pass.reset_requests + pass.links_voided > 0 => {
                            log::debug!("background: {pass:?}")
                        }
                        Ok(_) => {}
                        Err(e) => log::warn!("background work: {e}"),
                    }
                    signal.wait(PERIOD);
                }
            })?;
        Ok(Background {
            stop,
            wakeup,
            thread: Some(thread),
        })
    }

    /// Stops after the current pass and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        people_domain::mail::OutboxSignal::notify(&*self.wakeup);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown();
    }
}

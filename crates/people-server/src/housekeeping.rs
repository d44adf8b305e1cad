//! The housekeeping runner: a thread that offers to run [`People::housekeeping`] about once a minute. The
//! lease in the database decides whether this replica runs it (at most once per
//! `PEOPLE_HOUSEKEEPING_INTERVAL_SECONDS` across every replica), so replicas need no coordination of their
//! own.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use people_domain::housekeeping::{HousekeepingPolicy, HousekeepingRun};
use people_domain::People;

/// How often a runner asks for the lease at most (more often when the interval is shorter).
pub const CHECK_PERIOD: Duration = Duration::from_secs(60);

/// A name for this runner that no other process shares: the process id and a random part.
pub fn holder_name() -> String {
    format!(
        "pid {} {}",
        std::process::id(),
        people_domain::group::new_entity_id()
    )
}

/// The counter of rows housekeeping deleted, labelled by `kind` (`sessions`, `login_history`,
/// `sent_emails`, `throttle_keys`).
pub const REMOVED_METRIC: &str = "people_housekeeping_removed_total";

/// Runs housekeeping once as `holder`, counts the rows it removed in [`REMOVED_METRIC`] and logs a failure.
/// What every runner does each time it looks.
pub fn run_once(
    people: &People,
    holder: &str,
    policy: &HousekeepingPolicy,
    stop: &dyn Fn() -> bool,
) -> Option<HousekeepingRun> {
    match people.housekeeping_until(holder, policy, stop) {
        Ok(run) => {
            let removed = run.removed();
            for (kind, n) in [
                ("sessions", removed.sessions),
                ("login_history", removed.login_history),
                ("sent_emails", removed.sent_emails),
                ("throttle_keys", removed.throttle_keys),
            ] {
                ::metrics::counter!(REMOVED_METRIC, "kind" => kind).increment(n as u64);
            }
            Some(run)
        }
        Err(e) => {
            log::warn!("housekeeping: {e}");
            None
        }
    }
}

/// A running housekeeping thread; stops (between two batches) when stopped or dropped.
pub struct Housekeeping {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Housekeeping {
    /// Starts the runner over `people` with `policy`; the first look is at once.
    pub fn spawn(people: Arc<People>, policy: HousekeepingPolicy) -> std::io::Result<Housekeeping> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let period = policy
            .interval
            .to_std()
            .unwrap_or(CHECK_PERIOD)
            .clamp(Duration::from_millis(100), CHECK_PERIOD);
        let holder = holder_name();
        ::metrics::describe_counter!(
            REMOVED_METRIC,
            ::metrics::Unit::Count,
            "Rows deleted by housekeeping runs of this instance, by kind"
        );
        let thread = std::thread::Builder::new()
            .name("people-housekeeping".into())
            .spawn(move || {
                let stopped = || *flag.0.lock().unwrap_or_else(|p| p.into_inner());
                while !stopped() {
                    run_once(&people, &holder, &policy, &stopped);
                    let guard = flag.0.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = flag
                        .1
                        .wait_timeout_while(guard, period, |stop| !*stop)
                        .unwrap_or_else(|p| p.into_inner());
                }
            })?;
        Ok(Housekeeping {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops after the current batch and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        self.shutdown();
    }
}

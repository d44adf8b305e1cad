//! Brute-force throttling exactly as Metabase's throttle library behaves (spec §3.5).
//!
//! Two styles share one attempt log: *failure counting* (login: only failed attempts are recorded, and a
//! refused attempt counts as a failure) and *rate checking* (password reset: every accepted request is
//! recorded, refused ones are not). Attempts live in an [`AttemptLog`]; the in-memory one is per process, and
//! a shared store can replace it behind the trait.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::Duration;

use crate::clock::Timestamp;

/// Where attempts are remembered.
pub trait AttemptLog: Send + Sync {
    /// Attempts recorded for `key` at or after `since`, newest first.
    fn attempts(&self, key: &str, since: Timestamp) -> Vec<Timestamp>;
    /// Records an attempt for `key`.
    fn record(&self, key: &str, at: Timestamp);
}

/// Keys longer than this are cut, so that a huge user name cannot grow the log without bound.
const MAX_KEY_CHARS: usize = 256;
/// Past this many keys, keys with no recent attempt are dropped on the next write.
const PRUNE_ABOVE_KEYS: usize = 10_000;

/// An in-process attempt log.
#[derive(Debug)]
pub struct MemoryAttemptLog {
    window: Duration,
    entries: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl MemoryAttemptLog {
    /// A log that forgets attempts older than `window`.
    pub fn new(window: Duration) -> Self {
        MemoryAttemptLog {
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

fn cut(key: &str) -> &str {
    match key.char_indices().nth(MAX_KEY_CHARS) {
        Some((i, _)) => &key[..i],
        None => key,
    }
}

impl AttemptLog for MemoryAttemptLog {
    fn attempts(&self, key: &str, since: Timestamp) -> Vec<Timestamp> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(cut(key))
            .map(|q| q.iter().rev().copied().filter(|t| *t >= since).collect())
            .unwrap_or_default()
    }

    fn record(&self, key: &str, at: Timestamp) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let horizon = at - self.window;
        if map.len() > PRUNE_ABOVE_KEYS {
            map.retain(|_, q| q.back().is_some_and(|t| *t >= horizon));
        }
        let q = map.entry(cut(key).to_string()).or_default();
        while q.front().is_some_and(|t| *t < horizon) {
            q.pop_front();
        }
        q.push_back(at);
    }
}

/// How a throttler counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Only failures are recorded; at `threshold` failures every attempt is refused until they age out.
    FailureCounting,
    /// Every accepted request is recorded; past `threshold`, requests are refused for a back-off delay.
    RateCheck,
}

/// One throttle: a threshold of attempts per key within a window.
pub struct Throttler {
    threshold: usize,
    window: Duration,
    style: Style,
    log: Arc<dyn AttemptLog>,
}

/// Metabase's initial delay: 15 s, growing as k^1.5.
const INITIAL_DELAY_MS: f64 = 15_000.0;
const DELAY_EXPONENT: f64 = 1.5;

/// Text of a refusal whose delay has passed while old attempts are still within the window.
pub const TRY_LATER: &str = "Too many attempts! Please try again later.";

/// The refusal text for a remaining wait of `ms` milliseconds.
pub fn must_wait(ms: f64) -> String {
    format!(
        "Too many attempts! You must wait {} seconds before trying again.",
        (ms / 1000.0).round() as i64
    )
}

impl Throttler {
    /// A throttler with an in-memory log.
    pub fn new(style: Style, threshold: usize, window: Duration) -> Self {
        Throttler {
            threshold,
            window,
            style,
            log: Arc::new(MemoryAttemptLog::new(window)),
        }
    }

    /// The same throttler over another log (a store shared by replicas).
    pub fn with_log(mut self, log: Arc<dyn AttemptLog>) -> Self {
        self.log = log;
        self
    }

    /// `Err(message)` when an attempt for `key` must be refused now.
    pub fn check(&self, key: &str, now: Timestamp) -> Result<(), String> {
        let attempts = self.log.attempts(key, now - self.window);
        let n = attempts.len();
        if n < self.threshold {
            return Ok(());
        }
        let k = (n + 1 - self.threshold) as f64;
        let delay_ms = INITIAL_DELAY_MS * k.powf(DELAY_EXPONENT);
        let latest = attempts.first().copied().unwrap_or(now);
        let remaining_ms = (latest - now).num_milliseconds() as f64 + delay_ms;
        match self.style {
            Style::FailureCounting if remaining_ms > 0.0 => Err(must_wait(remaining_ms)),
            Style::FailureCounting => Err(TRY_LATER.to_string()),
            Style::RateCheck if remaining_ms > 0.0 => Err(must_wait(remaining_ms)),
            Style::RateCheck => Ok(()),
        }
    }

    /// Records an attempt for `key` (a failure, or for rate checks an accepted request).
    pub fn record(&self, key: &str, now: Timestamp) {
        self.log.record(key, now);
    }

    /// The style.
    pub fn style(&self) -> Style {
        self.style
    }
}

/// Every throttle people applies (spec §3.5).
pub struct Throttles {
    /// Login failures per client address (50 per hour).
    pub login_ip: Throttler,
    /// Login failures per user name (10 per hour).
    pub login_username: Throttler,
    /// Forgot-password requests per client address (50 per hour).
    pub forgot_ip: Throttler,
    /// Forgot-password requests per email (3 per second).
    pub forgot_email: Throttler,
    /// Reset-password requests per client address (10 per hour).
    pub reset_ip: Throttler,
    /// False when throttling is turned off (`MB_DISABLE_SESSION_THROTTLE`).
    pub enabled: bool,
}

impl Throttles {
    /// Metabase's thresholds and windows.
    pub fn metabase(enabled: bool) -> Self {
        let hour = Duration::hours(1);
        Throttles {
            login_ip: Throttler::new(Style::FailureCounting, 50, hour),
            login_username: Throttler::new(Style::FailureCounting, 10, hour),
            forgot_ip: Throttler::new(Style::RateCheck, 50, hour),
            forgot_email: Throttler::new(Style::RateCheck, 3, Duration::seconds(1)),
            reset_ip: Throttler::new(Style::RateCheck, 10, hour),
            enabled,
        }
    }

    /// Checks `pairs` in order; the first refusal wins.
    pub fn check(&self, pairs: &[(&Throttler, &str)], now: Timestamp) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        for (t, key) in pairs {
            t.check(key, now)?;
        }
        Ok(())
    }

    /// Records an attempt on every pair.
    pub fn record(&self, pairs: &[(&Throttler, &str)], now: Timestamp) {
        if !self.enabled {
            return;
        }
        for (t, key) in pairs {
            t.record(key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn failure_counting_blocks_at_the_threshold_with_growing_delays() {
        let t = Throttler::new(Style::FailureCounting, 10, Duration::hours(1));
        let now = t0();
        for _ in 0..9 {
            t.record("ann", now);
        }
        assert!(t.check("ann", now).is_ok(), "9 failures: still allowed");
        t.record("ann", now);
        assert_eq!(t.check("ann", now).unwrap_err(), must_wait(15_000.0));
        assert_eq!(
            must_wait(15_000.0),
            "Too many attempts! You must wait 15 seconds before trying again."
        );
        t.record("ann", now); // the refusal counts
        assert_eq!(
            t.check("ann", now).unwrap_err(),
            "Too many attempts! You must wait 42 seconds before trying again."
        );
        t.record("ann", now);
        assert_eq!(
            t.check("ann", now).unwrap_err(),
            "Too many attempts! You must wait 78 seconds before trying again."
        );
        let later = now + Duration::seconds(10);
        assert_eq!(
            t.check("ann", later).unwrap_err(),
            "Too many attempts! You must wait 68 seconds before trying again."
        );
        let much_later = now + Duration::minutes(30);
        assert_eq!(
            t.check("ann", much_later).unwrap_err(),
            TRY_LATER,
            "blocked until failures age out"
        );
        assert!(
            t.check("ann", now + Duration::minutes(61)).is_ok(),
            "an hour later the key is free"
        );
        assert!(t.check("bob", now).is_ok(), "keys are independent");
    }

    #[test]
    fn rate_check_refuses_only_during_the_delay() {
        let t = Throttler::new(Style::RateCheck, 3, Duration::seconds(1));
        let now = t0();
        for _ in 0..3 {
            assert!(t.check("a@x.com", now).is_ok());
            t.record("a@x.com", now);
        }
        assert_eq!(t.check("a@x.com", now).unwrap_err(), must_wait(15_000.0));
        assert!(
            t.check("a@x.com", now + Duration::seconds(2)).is_ok(),
            "the 1 s window forgot them"
        );

        let ip = Throttler::new(Style::RateCheck, 10, Duration::hours(1));
        for _ in 0..10 {
            ip.record("1.2.3.4", now);
        }
        assert!(ip.check("1.2.3.4", now + Duration::seconds(5)).is_err());
        assert!(
            ip.check("1.2.3.4", now + Duration::seconds(16)).is_ok(),
            "after the delay it is allowed again"
        );
    }

    #[test]
    fn disabled_throttles_never_refuse() {
        let th = Throttles::metabase(false);
        let now = t0();
        for _ in 0..100 {
            th.record(&[(&th.login_username, "x")], now);
        }
        assert!(th.check(&[(&th.login_username, "x")], now).is_ok());
    }

    #[test]
    fn memory_log_bounds_keys() {
        let log = MemoryAttemptLog::new(Duration::hours(1));
        let now = t0();
        let long = "k".repeat(10_000);
        log.record(&long, now);
        assert_eq!(log.attempts(&long, now - Duration::hours(1)).len(), 1);
        for i in 0..(PRUNE_ABOVE_KEYS + 5) {
            log.record(&format!("old{i}"), now);
        }
        log.record("fresh", now + Duration::hours(2));
        let size = log.entries.lock().unwrap().len();
        assert!(size < 10, "stale keys were pruned: {size}");
    }
}

//! Time as a port: use cases ask a `Clock` for "now" so that expiry and throttling can be tested.

use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// A point in time, UTC. Stored without a zone and rendered with `Z`.
pub type Timestamp = DateTime<Utc>;

/// Source of the current time.
pub trait Clock: Send + Sync {
    /// Now, truncated to microseconds (what both databases keep).
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate_micros(Utc::now())
    }
}

/// Drops sub-microsecond precision so that a value survives a round trip through either database unchanged.
pub fn truncate_micros(t: Timestamp) -> Timestamp {
    t.duration_trunc(Duration::microseconds(1)).unwrap_or(t)
}

/// A clock that only moves when told to; for tests of expiry and throttling.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Mutex::new(truncate_micros(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

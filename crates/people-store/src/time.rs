//! Timestamps are stored as UTC without a zone.

use chrono::{NaiveDateTime, TimeZone, Utc};
use people_domain::clock::Timestamp;

/// Stored form of a timestamp.
pub(crate) fn naive(t: Timestamp) -> NaiveDateTime {
    t.naive_utc()
}

/// Domain form of a stored timestamp.
pub(crate) fn utc(n: NaiveDateTime) -> Timestamp {
    Utc.from_utc_datetime(&n)
}

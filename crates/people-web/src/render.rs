//! Domain values as Metabase's JSON.

use chrono::SecondsFormat;
use people_domain::clock::Timestamp;
use people_domain::session::LoginRecord;
use serde_json::{json, Value};

/// ISO-8601 with `Z`, as many fractional digits as needed (`2024-03-01T10:00:00.123456Z`).
pub fn ts(t: Timestamp) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Optional timestamp.
pub fn ts_opt(t: Option<Timestamp>) -> Value {
    t.map(ts).unwrap_or(Value::Null)
}

/// A login-history entry (spec A.7).
pub fn login(l: &LoginRecord) -> Value {
    json!({
        "timestamp": ts(l.timestamp),
        "device_id": l.device_id,
        "device_description": l.device_description,
        "ip_address": l.ip_address,
        "active": l.active,
    })
}

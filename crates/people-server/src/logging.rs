//! Logging (docs/operations.md, "Logs"): the `log` facade written by env_logger to stderr, filtered by
//! `RUST_LOG`, as text lines or, with `MB_LOG_FORMAT=json`, one JSON object per line.
//!
//! A line logged while a request is handled carries the request's id (`request_id`), read from
//! [`people_web::request_id::current`] when the line is formatted: the HTTP layer makes the id current for
//! the request's future and for the work it hands to other threads, so the use cases log as they always
//! have and their lines are tagged all the same.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use env_logger::fmt::Formatter;
use log::kv::{Key, VisitSource};
use log::Record;
use people_web::request_id;
use serde::Serialize;
use serde_json::{Map, Value};

/// How log lines are written (`MB_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `[timestamp LEVEL target] message request_id=…`, for people.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message`, `request_id` when known, and the
    /// record's fields such as the access log's), for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    /// `text` or `json`, in any case, surrounding blanks ignored; blank is `text`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" | "" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("expected text or json, got {other:?}")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Installs the logger for the process (`RUST_LOG`, default `info`) in `format`. With JSON, a panic is
/// logged as an error line too, so that every line on stderr stays JSON.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        LogFormat::Text => builder.format(text_line),
        LogFormat::Json => builder.format(json_line),
    };
    // Another logger may already be installed (a program embedding people's server); it stays.
    if builder.try_init().is_ok() && format == LogFormat::Json {
        std::panic::set_hook(Box::new(|info| {
            log::error!(target: "panic", "{info}");
        }));
    }
}

/// One text line: env_logger's usual `[timestamp LEVEL target] message`, then ` request_id=…` when the line
/// belongs to a request.
pub fn text_line(buf: &mut Formatter, record: &Record<'_>) -> std::io::Result<()> {
    let style = buf.default_level_style(record.level());
    let timestamp = buf.timestamp_millis();
    write!(
        buf,
        "[{timestamp} {style}{:<5}{style:#} {}] {}",
        record.level(),
        record.target(),
        record.args()
    )?;
    request_id::with_current(|id| match id {
        Some(id) => writeln!(buf, " request_id={id}"),
        None => writeln!(buf),
    })
}

/// A JSON log line.
#[derive(Serialize)]
struct JsonLine<'a> {
    timestamp: String,
    level: &'a str,
    target: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// Keys of [`JsonLine`] that a record's field may not take.
const RESERVED: [&str; 5] = ["timestamp", "level", "target", "message", "request_id"];

/// A record's key-values as JSON values: numbers and booleans as themselves, anything else as text.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(
        &mut self,
        key: Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let json = if let Some(n) = value.to_u64() {
            Value::from(n)
        } else if let Some(n) = value.to_i64() {
            Value::from(n)
        } else if let Some(x) = value.to_f64() {
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        } else if let Some(b) = value.to_bool() {
            Value::Bool(b)
        } else {
            Value::String(value.to_string())
        };
        let key = key.as_str();
        let key = if RESERVED.contains(&key) {
            format!("field_{key}")
        } else {
            key.to_string()
        };
        self.0.insert(key, json);
        Ok(())
    }
}

/// One JSON object on one line (serde_json escapes the newlines of a multi-line message).
pub fn json_line(buf: &mut Formatter, record: &Record<'_>) -> std::io::Result<()> {
    let mut fields = Fields::default();
    // A field that cannot be read is left out; the line itself is still written.
    let _ = record.key_values().visit(&mut fields);
    let line = request_id::with_current(|id| {
        serde_json::to_vec(&JsonLine {
            timestamp: buf.timestamp_millis().to_string(),
            level: record.level().as_str(),
            target: record.target(),
            message: record.args().to_string(),
            request_id: id,
            fields: fields.0,
        })
    })
    .map_err(std::io::Error::other)?;
    buf.write_all(&line)?;
    writeln!(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(" JSON ".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
        assert_eq!(LogFormat::Json.to_string(), "json");
    }
}

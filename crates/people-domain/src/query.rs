//! Query-string input: the parameters of a request as a client sent them, and Metabase's paging.
//!
//! Commands that come from a URL (`UserListQuery`, the group list's page) are parsed from [`QueryParams`],
//! so that every message about a bad parameter is written here or in `validate.rs`, never in a front end.

use crate::error::{DomainError, Result};
use crate::store::Page;

/// Query parameters of a request, decoded, in the order given (a repeated key: the last one counts).
pub type QueryParams = [(String, String)];

/// The last value of `key`.
pub fn param<'a>(params: &'a QueryParams, key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The largest page a client may ask for: a bigger one would hold a whole large directory in memory at once.
pub const MAX_LIMIT: i64 = 10_000;

impl Page {
    /// Metabase's paging parameters: none → no paging; either → both, `limit` 50 and `offset` 0 by
    /// default; anything but a non-negative integer (and a `limit` over [`MAX_LIMIT`]) is 400 under its
    /// name.
    pub fn parse(params: &QueryParams) -> Result<Option<Page>> {
        let limit = param(params, "limit");
        let offset = param(params, "offset");
        if limit.is_none() && offset.is_none() {
            return Ok(None);
        }
        let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let limit = match limit {
            None => 50,
            Some(v) if digits(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n <= MAX_LIMIT)
                .ok_or_else(|| {
                    DomainError::rule(
                        "limit",
                        format!("value must be an integer between 0 and {MAX_LIMIT}."),
                    )
                })?,
            Some(_) => {
                return Err(DomainError::rule(
                    "limit",
                    "value must be an integer greater than or equal to zero.",
                ))
            }
        };
        let offset = match offset {
            None => 0,
            // Beyond i64 is simply past the end.
            Some(v) if digits(v) => v.parse::<i64>().unwrap_or(i64::MAX),
            Some(_) => {
                return Err(DomainError::rule(
                    "offset",
                    "value must be an integer greater than or equal to zero.",
                ))
            }
        };
        Ok(Some(Page { limit, offset }))
    }
}

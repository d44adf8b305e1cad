//! The parameters of a SCIM list (RFC 7644 §3.4.2): `filter`, `sortBy`/`sortOrder`, `startIndex`/`count`,
//! and `attributes`/`excludedAttributes`, from a query string (`GET /Users`) or a `SearchRequest` body
//! (`POST /.search`), the same for every resource type.

use serde_json::{Map, Value};

use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{ScimFilter, SortAttr};
use crate::scim::user::{attr, invalid, require_schema, Missing};

/// Most resources one list answer holds (`count` above it is capped, as ServiceProviderConfig declares).
pub const MAX_RESULTS: i64 = 200;
/// The `SearchRequest` message's URN (`POST /.search`).
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `ascending` (the default).
    Ascending,
    /// `descending`.
    Descending,
}

/// `sortBy` and `sortOrder`: results ordered by `attr` (then by creation, so that pages are stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<A> {
    /// The attribute.
    pub attr: A,
    /// The direction.
    pub order: SortOrder,
}

/// The parameters of a list of resources whose attributes are `A`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery<A> {
    /// Only resources matching this.
    pub filter: Option<ScimFilter<A>>,
    /// The order (creation order when absent).
    pub sort: Option<Sort<A>>,
    /// 1-based index of the first result (below 1 is 1, as RFC 7644 §3.4.2.4 says).
    pub start_index: i64,
    /// Results per page, 0 to [`MAX_RESULTS`] (0: only `totalResults`).
    pub count: i64,
    /// `attributes`: when not empty, only these (and `id`, `schemas`) are returned.
    pub attributes: Vec<String>,
    /// `excludedAttributes`: these are left out.
    pub excluded_attributes: Vec<String>,
}

fn integer_param(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim().parse::<i64>().map_err(|_| {
        ScimError::new(
            ScimType::InvalidValue,
            format!("{name} must be an integer, not {raw:?}"),
        )
    })
}

/// A comma-separated list of attribute paths.
pub fn attribute_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl<A: SortAttr> ListQuery<A> {
    /// Reads the parameters from a query string (parameter names ignoring case).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ScimError> {
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let filter = match get("filter") {
            Some(raw) if !raw.trim().is_empty() => Some(A::filter(raw)?),
            _ => None,
        };
        let order = match get("sortOrder").map(|s| s.trim().to_ascii_lowercase()) {
            None => SortOrder::Ascending,
            Some(o) if o.is_empty() || o == "ascending" => SortOrder::Ascending,
            Some(o) if o == "descending" => SortOrder::Descending,
            Some(o) => {
                return Err(invalid(format!(
                    "sortOrder must be ascending or descending, not {o:?}"
                )))
            }
        };
        let sort = match get("sortBy") {
            Some(raw) if !raw.trim().is_empty() => Some(Sort {
                attr: A::sort_attr(raw)?,
                order,
            }),
            _ => None,
        };
        let start_index = match get("startIndex") {
            Some(raw) => integer_param("startIndex", raw)?.max(1),
            None => 1,
        };
        let count = match get("count") {
            Some(raw) => integer_param("count", raw)?.clamp(0, MAX_RESULTS),
            None => MAX_RESULTS,
        };
        Ok(ListQuery {
            filter,
            sort,
            start_index,
            count,
            attributes: get("attributes").map(attribute_list).unwrap_or_default(),
            excluded_attributes: get("excludedAttributes")
                .map(attribute_list)
                .unwrap_or_default(),
        })
    }

    /// Reads a `SearchRequest` body (RFC 7644 §3.4.3): the same parameters, numbers as numbers or text,
    /// attribute lists as arrays or comma-separated text.
    pub fn from_search(body: &Map<String, Value>) -> Result<Self, ScimError> {
        require_schema(body, SEARCH_SCHEMA, Missing::Forgiven)?;
        let mut pairs = Vec::new();
        for name in [
            "filter",
            "sortBy",
            "sortOrder",
            "startIndex",
            "count",
            "attributes",
            "excludedAttributes",
        ] {
            let list = name.ends_with("ttributes");
            let numeric = matches!(name, "startIndex" | "count");
            match attr(body, name) {
                None => {}
                Some(Value::String(s)) => pairs.push((name.to_string(), s.clone())),
                Some(Value::Number(n)) if numeric => pairs.push((name.to_string(), n.to_string())),
                Some(Value::Array(items)) if list => {
                    let mut names = Vec::new();
                    for item in items {
                        match item.as_str() {
                            Some(s) => names.push(s.to_string()),
                            None => return Err(invalid(format!("{name} must hold strings"))),
                        }
                    }
                    pairs.push((name.to_string(), names.join(",")));
                }
                Some(_) => return Err(invalid(format!("{name} has the wrong type"))),
            }
        }
        Self::parse(&pairs)
    }
}

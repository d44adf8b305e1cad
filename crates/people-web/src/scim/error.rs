//! Failures under `/api/ee/scim/v2` as SCIM Errors (RFC 7644 §3.12): `application/scim+json`, `status` as a
//! JSON string, `scimType` where the RFC names one. This is the one place that maps a domain or transport
//! failure to a SCIM status.

use std::fmt;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use people_domain::scim::{ScimError, ScimType};
use people_domain::{DomainError, StoreFailure};
use serde::Serialize;

use super::{scim_json, ERROR_URN};
use crate::error::ApiError;

/// Detail of a 401: no token, a wrong token, or SCIM switched off (one answer, so nothing is learnt).
pub const UNAUTHENTICATED: &str = "Unauthenticated";
/// Detail of a 500 (the cause is logged, never sent).
pub const INTERNAL: &str = "Internal server error.";
/// Detail of a 503 for an unreachable database.
pub const UNAVAILABLE: &str = "The service is unavailable; try again shortly.";
/// Detail of a body that is not a JSON object.
pub const NOT_AN_OBJECT: &str = "The request body must be a JSON object.";

/// A request under `/v2` that failed, rendered as a SCIM Error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimFailure {
    /// Status, `scimType` and detail.
    pub error: ScimError,
    /// Seconds for `Retry-After` (503 when busy).
    pub retry_after: Option<u64>,
}

impl fmt::Display for ScimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.error.status, self.error.detail)
    }
}

impl ScimFailure {
    /// A failure with `status`, no `scimType`, and `detail`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        ScimFailure {
            error: ScimError {
                status,
                scim_type: None,
                detail: detail.into(),
            },
            retry_after: None,
        }
    }

    /// A failure of `scim_type` (400, 409, …) with `detail`.
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError::new(scim_type, detail).into()
    }

    /// 401: no valid SCIM token, or SCIM is switched off.
    pub fn unauthenticated() -> Self {
        Self::status(401, UNAUTHENTICATED)
    }

    /// 404 for the resource named `id`.
    pub fn not_found(id: &str) -> Self {
        Self::status(404, format!("Resource {id} not found"))
    }

    /// 404 for a path under `/v2` that names no endpoint.
    pub fn no_endpoint() -> Self {
        Self::status(404, "No such endpoint.")
    }

    /// 500 with the generic detail; `why` is logged.
    pub fn internal(why: &str) -> Self {
        log::error!("SCIM: internal error: {why}");
        Self::status(500, INTERNAL)
    }

    /// `e`, with a 404 naming `id` when `e` is "not found" (the domain's errors do not know the id asked for).
    pub fn for_resource(e: DomainError, id: &str) -> Self {
        match e {
            DomainError::NotFound => Self::not_found(id),
            other => other.into(),
        }
    }

    /// A SCIM Error answering a response of `status` that something other than the SCIM layer produced
    /// (actix's own answers): the status kept, a detail from its reason phrase.
    pub fn for_status(status: StatusCode) -> Self {
        Self::status(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Request failed."),
        )
    }
}

impl From<ScimError> for ScimFailure {
    fn from(error: ScimError) -> Self {
        ScimFailure {
            error,
            retry_after: None,
        }
    }
}

impl From<DomainError> for ScimFailure {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Scim(e) => e.into(),
            DomainError::NotFound => Self::status(404, "Resource not found"),
            DomainError::Unauthenticated | DomainError::LoginFailed { .. } => {
                Self::unauthenticated()
            }
            DomainError::Forbidden(m) => Self::status(403, m),
            DomainError::Disallowed(m) if m == people_domain::membership::LAST_ADMIN_RULE => {
                Self::typed(ScimType::Mutability, m)
            }
            DomainError::Disallowed(message)
            | DomainError::Rule { message, .. }
            | DomainError::Invalid { message, .. } => Self::typed(ScimType::InvalidValue, message),
            DomainError::AlreadyActive => {
                Self::typed(ScimType::InvalidValue, people_domain::user::ALREADY_ACTIVE)
            }
            DomainError::Fields { message, errors } => {
                let detail = message.unwrap_or_else(|| {
                    errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                });
                Self::typed(ScimType::InvalidValue, detail)
            }
            DomainError::Busy { retry_after_secs } => ScimFailure {
                retry_after: Some(retry_after_secs),
                ..Self::status(503, crate::error::BUSY)
            },
            DomainError::Store(StoreFailure::Unavailable(reason)) => {
                log::warn!("SCIM: database unavailable: {reason}");
                Self::status(503, UNAVAILABLE)
            }
            e @ (DomainError::Store(_) | DomainError::Internal(_)) => {
                Self::internal(&e.to_string())
            }
        }
    }
}

impl From<ApiError> for ScimFailure {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Domain(d) => d.into(),
            ApiError::MalformedJson => Self::typed(
                ScimType::InvalidSyntax,
                "The request body is not valid JSON.",
            ),
            ApiError::TooLarge => Self::status(
                413,
                format!(
                    "The request body is larger than {} bytes.",
                    crate::body::MAX_BODY_BYTES
                ),
            ),
            ApiError::NoEndpoint => Self::no_endpoint(),
            ApiError::UnsupportedMediaType => Self::status(
                415,
                "Content-Type must be application/scim+json or application/json.",
            ),
            ApiError::CrossSite => Self::status(403, crate::error::CROSS_SITE),
        }
    }
}

/// The body of a SCIM Error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorJson<'a> {
    schemas: [&'static str; 1],
    /// The HTTP status as a JSON string (RFC 7644 §3.12).
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scim_type: Option<&'static str>,
    detail: &'a str,
}

impl ResponseError for ScimFailure {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = ErrorJson {
            schemas: [ERROR_URN],
            status: status.as_u16().to_string(),
            scim_type: self.error.scim_type.map(ScimType::as_str),
            detail: &self.error.detail,
        };
        let mut r = scim_json(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            // RFC 7235 §3.1: a 401 names the scheme to use.
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"SCIM\""),
            );
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use serde_json::{json, Value};

    fn render(f: ScimFailure) -> (u16, String, Value) {
        let r = f.error_response();
        let ct = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let status = r.status().as_u16();
        let body = r.into_body().try_into_bytes().unwrap_or_default();
        (
            status,
            ct,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn errors_are_scim_errors_with_a_string_status() {
        let (s, ct, b) = render(ScimFailure::typed(ScimType::Uniqueness, "taken"));
        assert_eq!((s, ct.as_str()), (409, "application/scim+json"));
        assert_eq!(
            b,
            json!({"schemas": [ERROR_URN], "status": "409", "scimType": "uniqueness", "detail": "taken"})
        );
        let (s, _, b) = render(ScimFailure::not_found("abc"));
        assert_eq!(s, 404);
        assert_eq!(
            b,
            json!({"schemas": [ERROR_URN], "status": "404", "detail": "Resource abc not found"})
        );
    }

    #[test]
    fn domain_errors_map_to_scim_statuses() {
        let cases: Vec<(DomainError, u16, Option<&str>)> = vec![
            (DomainError::NotFound, 404, None),
            (DomainError::Unauthenticated, 401, None),
            (DomainError::forbidden(), 403, None),
            (DomainError::rule("email", "bad"), 400, Some("invalidValue")),
            (
                DomainError::invalid("email", "bad", "x"),
                400,
                Some("invalidValue"),
            ),
            (
                DomainError::Disallowed("no".into()),
                400,
                Some("invalidValue"),
            ),
            (
                DomainError::Disallowed(people_domain::membership::LAST_ADMIN_RULE.into()),
                400,
                Some("mutability"),
            ),
            (
                DomainError::Busy {
                    retry_after_secs: 2,
                },
                503,
                None,
            ),
            (
                DomainError::Store(StoreFailure::Unavailable("down".into())),
                503,
                None,
            ),
            (
                DomainError::Store(StoreFailure::Other("secret".into())),
                500,
                None,
            ),
            (DomainError::Internal("secret".into()), 500, None),
            (
                DomainError::Scim(ScimError::new(ScimType::InvalidFilter, "f")),
                400,
                Some("invalidFilter"),
            ),
        ];
        for (e, status, scim_type) in cases {
            let (s, ct, b) = render(e.clone().into());
            assert_eq!(s, status, "{e:?}");
            assert_eq!(ct, "application/scim+json", "{e:?}");
            assert_eq!(b["status"], json!(status.to_string()), "{e:?}");
            assert_eq!(b["scimType"].as_str(), scim_type, "{e:?}");
            assert!(!b.to_string().contains("secret"), "{b}");
        }
        let busy = ScimFailure::from(DomainError::Busy {
            retry_after_secs: 2,
        })
        .error_response();
        assert_eq!(
            busy.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("2")
        );
        let unauth = ScimFailure::unauthenticated().error_response();
        assert!(unauth.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn transport_errors_map_to_scim_statuses() {
        assert_eq!(
            render(ApiError::MalformedJson.into()).2["scimType"],
            "invalidSyntax"
        );
        assert_eq!(render(ApiError::TooLarge.into()).0, 413);
        assert_eq!(render(ApiError::UnsupportedMediaType.into()).0, 415);
        assert_eq!(render(ApiError::NoEndpoint.into()).0, 404);
    }
}

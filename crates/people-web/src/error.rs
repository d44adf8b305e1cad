//! `ApiError`: a domain error or a transport problem, rendered in Metabase's shapes. This is the
//! one place that chooses status codes.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use people_domain::{DomainError, StoreFailure};
use serde_json::{json, Value};

/// Plain-text body of an unmatched `/api/…` path.
pub const NO_ENDPOINT: &str = "API endpoint does not exist.";
/// Plain-text body of a body that is not JSON.
pub const MALFORMED_JSON: &str = "Malformed JSON in request body.";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A use case refused the request.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The body could not be parsed as JSON.
    #[error("malformed JSON body")]
    MalformedJson,
    /// The body is over the size limit.
    #[error("request body too large")]
    TooLarge,
    /// No route matches an `/api/…` path.
    #[error("no such endpoint")]
    NoEndpoint,
    /// A non-empty body that is not declared as JSON (415, before anything else).
    #[error("request body is not JSON-typed")]
    UnsupportedMediaType,
    /// A state-changing request from another site, authenticated only by the session cookie (403).
    #[error("cross-site request refused")]
    CrossSite,
}

/// 503 text when the password-hashing queue is full.
pub const BUSY: &str = "Too many sign-in attempts in progress; try again shortly.";
/// 415 text for a body that is not declared as JSON.
pub const NOT_JSON: &str = "Content-Type must be application/json.";
/// 403 text for a cross-site request authenticated by the session cookie.
pub const CROSS_SITE: &str = "Cross-site request refused.";

impl ApiError {
    /// A broken invariant in the web layer.
    pub fn internal(what: impl Into<String>) -> Self {
        ApiError::Domain(DomainError::Internal(what.into()))
    }
}

/// A `text/plain` response.
pub fn plain(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .body(text.to_string())
}

/// An `application/json` response of any serializable value.
pub fn json_of<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            ))
            .body(bytes),
        Err(e) => ApiError::internal(format!("cannot render JSON: {e}")).error_response(),
    }
}

/// An `application/json` response.
pub fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        ))
        .body(body.to_string())
}

fn field_errors(field: &str, message: &str) -> Value {
    json!({ "errors": { field: message } })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Domain(d) => match d {
                DomainError::Invalid { .. }
                | DomainError::Rule { .. }
                | DomainError::Fields { .. }
                | DomainError::Disallowed(_)
                | DomainError::AlreadyActive => StatusCode::BAD_REQUEST,
                DomainError::LoginFailed { .. } | DomainError::Unauthenticated => {
                    StatusCode::UNAUTHORIZED
                }
                DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
                DomainError::NotFound => StatusCode::NOT_FOUND,
                DomainError::Scim(e) => {
                    StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                }
                DomainError::Store(StoreFailure::Unavailable(_)) | DomainError::Busy { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                DomainError::Store(_) | DomainError::Internal(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::MalformedJson => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NoEndpoint => StatusCode::NOT_FOUND,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::CrossSite => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Domain(d) => match d {
                DomainError::Invalid {
                    param,
                    message,
                    specific,
                } => json_response(
                    status,
                    &json!({
                        "errors": { param: message },
                        "specific-errors": { param: [specific] },
                    }),
                ),
                DomainError::Rule { field, message }
                | DomainError::LoginFailed { field, message } => {
                    json_response(status, &field_errors(field, message))
                }
                DomainError::Fields { message, errors } => {
                    let mut body = serde_json::Map::new();
                    if let Some(m) = message {
                        body.insert("message".into(), json!(m));
                    }
                    if !errors.is_empty() {
                        body.insert("errors".into(), json!(errors));
                    }
                    json_response(status, &Value::Object(body))
                }
                DomainError::Disallowed(m) | DomainError::Forbidden(m) => plain(status, m),
                DomainError::AlreadyActive => json_response(
                    status,
                    &json!({ "message": people_domain::user::ALREADY_ACTIVE }),
                ),
                DomainError::Unauthenticated => plain(status, "Unauthenticated"),
                DomainError::NotFound => plain(status, "Not found."),
                // A SCIM refusal reaching an ordinary endpoint: its detail as text, with its status (under
                // /api/ee/scim/v2 the SCIM layer renders it as a SCIM Error instead).
                DomainError::Scim(e) => plain(status, &e.detail),
                DomainError::Busy { retry_after_secs } => {
                    let mut r = json_response(status, &json!({ "message": BUSY }));
                    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    r
                }
                DomainError::Store(StoreFailure::Unavailable(reason)) => {
                    log::warn!("database unavailable: {reason}");
                    json_response(
                        status,
                        &json!({ "message": "Unable to get app-db connection" }),
                    )
                }
                DomainError::Store(_) | DomainError::Internal(_) => {
                    log::error!("internal error: {d}");
                    json_response(status, &json!({ "message": "Internal server error." }))
                }
            },
            ApiError::MalformedJson => plain(status, MALFORMED_JSON),
            ApiError::TooLarge => plain(status, "Request body too large."),
            ApiError::NoEndpoint => plain(status, NO_ENDPOINT),
            ApiError::UnsupportedMediaType => {
                json_response(status, &json!({ "message": NOT_JSON }))
            }
            ApiError::CrossSite => plain(status, CROSS_SITE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn render(e: ApiError) -> (u16, String, String) {
        let r = e.error_response();
        let ct = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let status = r.status().as_u16();
        let body = r
            .into_body()
            .try_into_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        (status, ct, body)
    }

    #[test]
    fn every_variant_has_its_metabase_shape() {
        let (s, ct, b) = render(
            DomainError::invalid("email", "value must be a valid email address.", "x").into(),
        );
        assert_eq!((s, ct.as_str()), (400, "application/json; charset=utf-8"));
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(
            v["errors"],
            json!({"email": "value must be a valid email address."})
        );
        assert_eq!(v["specific-errors"], json!({"email": ["x"]}));

        let (s, _, b) = render(DomainError::rule("email", "Email address already in use.").into());
        assert_eq!(
            (s, b.as_str()),
            (
                400,
                r#"{"errors":{"email":"Email address already in use."}}"#
            )
        );
        let (s, _, b) = render(
            DomainError::LoginFailed {
                field: "password".into(),
                message: "did not match stored password".into(),
            }
            .into(),
        );
        assert_eq!(
            (s, b.as_str()),
            (
                401,
                r#"{"errors":{"password":"did not match stored password"}}"#
            )
        );
        let (s, ct, b) = render(DomainError::Disallowed("Invalid Request.".into()).into());
        assert_eq!(
            (s, ct.as_str(), b.as_str()),
            (400, "text/plain; charset=utf-8", "Invalid Request.")
        );
        let (s, _, b) = render(DomainError::AlreadyActive.into());
        assert_eq!(
            (s, b.as_str()),
            (
                400,
                r#"{"message":"Not able to reactivate an active user"}"#
            )
        );
        assert_eq!(render(DomainError::Unauthenticated.into()).0, 401);
        assert_eq!(
            render(DomainError::Unauthenticated.into()).2,
            "Unauthenticated"
        );
        assert_eq!(
            render(DomainError::forbidden().into()).2,
            "You don't have permissions to do that."
        );
        assert_eq!(render(DomainError::NotFound.into()).2, "Not found.");
        let (s, _, b) = render(DomainError::Store(StoreFailure::Unavailable("down".into())).into());
        assert_eq!(
            (s, b.as_str()),
            (503, r#"{"message":"Unable to get app-db connection"}"#)
        );
        let busy = ApiError::from(DomainError::Busy {
            retry_after_secs: 3,
        })
        .error_response();
        assert_eq!(busy.status(), 503);
        assert_eq!(
            busy.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("3")
        );
        let (_, _, b) = render(
            DomainError::Busy {
                retry_after_secs: 3,
            }
            .into(),
        );
        assert_eq!(
            b,
            r#"{"message":"Too many sign-in attempts in progress; try again shortly."}"#
        );
        let (s, _, b) = render(DomainError::Internal("secret detail".into()).into());
        assert_eq!(
            (s, b.as_str()),
            (500, r#"{"message":"Internal server error."}"#)
        );
        assert_eq!(
            render(DomainError::Store(StoreFailure::Other("x".into())).into()).0,
            500
        );
        let (s, ct, b) = render(
            DomainError::Scim(people_domain::scim::ScimError::new(
                people_domain::scim::ScimType::Uniqueness,
                "userName is taken",
            ))
            .into(),
        );
        assert_eq!(
            (s, ct.as_str(), b.as_str()),
            (409, "text/plain; charset=utf-8", "userName is taken")
        );
        assert_eq!(render(ApiError::MalformedJson).0, 400);
        assert_eq!(render(ApiError::TooLarge).0, 413);
        assert_eq!(render(ApiError::NoEndpoint).2, NO_ENDPOINT);
        assert_eq!(
            render(ApiError::UnsupportedMediaType),
            (
                415,
                "application/json; charset=utf-8".to_string(),
                r#"{"message":"Content-Type must be application/json."}"#.to_string()
            )
        );
        assert_eq!(
            render(ApiError::CrossSite),
            (
                403,
                "text/plain; charset=utf-8".to_string(),
                CROSS_SITE.to_string()
            )
        );
    }
}

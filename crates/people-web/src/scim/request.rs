//! What a SCIM request carries: the bearer token, the query, and a JSON-object body.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use people_domain::scim::ScimType;
use serde_json::{Map, Value};

use super::error::{ScimFailure, NOT_AN_OBJECT};
use crate::body::MAX_BODY_BYTES;

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1): the scheme in any case, the token after
/// the spaces that follow it. `None` without the header, with another scheme, or with an empty token.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The query string as pairs; one that cannot be decoded is `invalidValue`.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ScimFailure> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| {
            ScimFailure::typed(
                ScimType::InvalidValue,
                "The query string cannot be decoded.",
            )
        })
}

/// A request body that must be a JSON object (a SCIM resource or message). Anything else is a SCIM Error:
/// over [`MAX_BODY_BYTES`] 413, no body or not JSON or not an object 400 `invalidSyntax`. The media type has
/// been checked before (415 for a body that is not JSON-typed; `application/scim+json` and
/// `application/json` both are).
#[derive(Debug, Clone, Default)]
pub struct ScimBody(pub Map<String, Value>);

impl FromRequest for ScimBody {
    type Error = ScimFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let too_large = || ScimFailure::from(crate::error::ApiError::TooLarge);
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ScimFailure::typed(ScimType::InvalidSyntax, "The request body was cut short.")
                })?;
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(ScimBody(map)),
                Ok(_) => Err(ScimFailure::typed(ScimType::InvalidSyntax, NOT_AN_OBJECT)),
                Err(_) if bytes.iter().all(u8::is_ascii_whitespace) => {
                    Err(ScimFailure::typed(ScimType::InvalidSyntax, NOT_AN_OBJECT))
                }
                Err(_) => Err(crate::error::ApiError::MalformedJson.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(&auth("Bearer mb_abc")), Some("mb_abc"));
        assert_eq!(bearer(&auth("bearer mb_abc")), Some("mb_abc"));
        assert_eq!(bearer(&auth("BEARER   mb_abc ")), Some("mb_abc"));
        assert_eq!(bearer(&auth("Basic mb_abc")), None);
        assert_eq!(bearer(&auth("Bearer")), None);
        assert_eq!(bearer(&auth("Bearer   ")), None);
        assert_eq!(bearer(&auth("Bearermb_abc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}

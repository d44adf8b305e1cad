//! `JsonBody`: a request body read as a JSON object, with a size limit, as Metabase's ring-json does it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The parameters of a JSON body. A body that is absent, empty, or JSON but not an object has no parameters
/// (each required one then fails its validation, as in Metabase); unparsable JSON is 400; a non-empty body
/// that is not declared as JSON is 415 (a browser can send such a body cross-site without asking first).
#[derive(Debug, Clone, Default)]
pub struct JsonBody(pub Map<String, Value>);

impl JsonBody {
    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// True when `key` is present (even as `null`).
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let json = crate::guard::declares_json(req.headers());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(ApiError::TooLarge);
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::MalformedJson)?;
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            if bytes.is_empty() {
                return Ok(JsonBody::default());
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody::default());
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(JsonBody(map)),
                Ok(_) => Ok(JsonBody::default()),
                Err(_) => Err(ApiError::MalformedJson),
            }
        })
    }
}

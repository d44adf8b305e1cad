//! Who is calling: the session token (cookie `metabase.SESSION`, else header `X-Metabase-Session`) or API key
//! (`X-Api-Key`), the client
//! address and device, and the `metabase.DEVICE` cookie every response without one gets.

use std::future::{ready, Ready};

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use people_domain::session::ClientInfo;

use crate::client::Origin;
use crate::error::ApiError;
use crate::Api;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "metabase.SESSION";
/// Session header name.
pub const SESSION_HEADER: &str = "X-Metabase-Session";
/// Device cookie name.
pub const DEVICE_COOKIE: &str = "metabase.DEVICE";

/// The credentials a request presents (not yet checked): a session token (cookie `metabase.SESSION`, else
/// header `X-Metabase-Session`) and an API key (header `X-Api-Key`, any case). A valid session wins; the key
/// is looked at only without one.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    session: Option<String>,
    api_key: Option<String>,
}

impl Credentials {
    /// Reads the cookie first, then the session header (Metabase's order), and the key header; empty values
    /// and values that are not text count as absent.
    pub fn from_request(req: &HttpRequest) -> Self {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let cookie = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty());
        Credentials {
            session: cookie.or_else(|| header(SESSION_HEADER)),
            api_key: header(crate::guard::API_KEY_HEADER),
        }
    }

    /// The session token, if one was presented.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// The API key, if one was presented.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }
}

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Credentials::from_request(req)))
    }
}

/// A device id issued with this response because the request had none.
#[derive(Debug, Clone)]
struct IssuedDevice(String);

/// Where the request came from, read with this API's forwarding header and trusted proxies.
pub fn origin(req: &HttpRequest, api: &Api) -> Origin {
    Origin::of(
        req,
        &api.config.source_address_header,
        &api.config.trusted_proxies,
    )
}

/// True when the request came over HTTPS (directly, or as a trusted proxy reports with `X-Forwarded-Proto`).
pub fn is_https(req: &HttpRequest, api: &Api) -> bool {
    origin(req, api).https
}

/// What login history and throttling need to know about the client.
pub fn client_info(req: &HttpRequest, api: &Api) -> ClientInfo {
    let device_id = req
        .cookie(DEVICE_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
        .or_else(|| req.extensions().get::<IssuedDevice>().map(|d| d.0.clone()))
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| String::from_utf8(v.as_bytes().to_vec()).ok())
        .unwrap_or_default();
    ClientInfo {
        ip: origin(req, api).ip_text(),
        user_agent,
        device_id,
    }
}

/// Middleware body: gives a request without a device cookie a new device id, and its response the cookie.
pub(crate) fn device_cookie_for(req: &HttpRequest, api: &Api) -> Option<Cookie<'static>> {
    if req.cookie(DEVICE_COOKIE).is_some() {
        return None;
    }
    let id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(IssuedDevice(id.clone()));
    let secure = is_https(req, api);
    Some(
        Cookie::build(DEVICE_COOKIE, id)
            .path("/")
            .http_only(true)
            .max_age(CookieDuration::days(365 * 20))
            .same_site(if secure {
                SameSite::None
            } else {
                SameSite::Lax
            })
            .secure(secure)
            .finish(),
    )
}

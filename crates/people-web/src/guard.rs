//! What every request passes before its handler, and what every response carries (docs/api.md, "Refusals
//! before any handler"):
//!
//! - a non-empty body that is not JSON-typed is refused with 415, before anything else: a browser may send a
//!   `text/plain` or untyped cross-site POST without asking first, so such a body must never be read as JSON;
//! - a state-changing request authenticated only by the session cookie that a browser marks as cross-site,
//!   or whose `Origin` is neither the request's own origin nor `site-url`, is refused with 403;
//! - responses carry `nosniff`, `X-Frame-Options`, `Referrer-Policy`, `Cache-Control: no-store` under `/api`,
//!   HSTS over HTTPS, and a Content-Security-Policy on HTML.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, ResponseError};

use crate::auth::{self, SESSION_COOKIE, SESSION_HEADER};
use crate::client::Origin;
use crate::error::ApiError;
use crate::Api;

/// Header of an API key (a request carrying one is not cookie-authenticated).
pub const API_KEY_HEADER: &str = "X-Api-Key";

/// The Content-Security-Policy of HTML pages: everything from this origin only, never framed. Inline styles
/// and scripts are allowed for the API browser (Swagger UI), which needs them.
pub const HTML_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// True for `application/json` and `application/<anything>+json`, ignoring case and parameters.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.split_once('/') {
        Some(("application", sub)) => {
            (sub == "json" || sub.ends_with("+json"))
                && !sub.is_empty()
                && sub
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        }
        _ => false,
    }
}

/// True when the request declares a JSON body.
pub fn declares_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_media_type)
}

/// A body is announced: a `Content-Length` above zero, or chunked transfer.
fn announces_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim() != "0");
    length.unwrap_or_else(|| headers.contains_key(header::TRANSFER_ENCODING))
}

/// `scheme://host[:port]`, lower-cased, without the scheme's default port; `None` when it is not one.
fn normalized_origin(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return Some(format!("{scheme}://{authority}")),
    };
    let authority = authority
        .strip_suffix(default_port)
        .unwrap_or(&authority)
        .to_string();
    Some(format!("{scheme}://{authority}"))
}

/// True when the request carries a credential other than the session cookie.
fn has_header_credential(headers: &HeaderMap) -> bool {
    [SESSION_HEADER, API_KEY_HEADER].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty())
    })
}

/// The cross-site rule (docs/api.md): only state-changing methods authenticated by the cookie alone.
fn is_cross_site(req: &HttpRequest, api: &Api, origin: &Origin) -> bool {
    let unsafe_method = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let cookie = req
        .cookie(SESSION_COOKIE)
        .is_some_and(|c| !c.value().is_empty());
    if !unsafe_method || !cookie || has_header_credential(req.headers()) {
        return false;
    }
    let headers = req.headers();
    let site = headers
        .get("Sec-Fetch-Site")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if site.is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return true;
    }
    let Some(sent) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(sent) = sent.to_str().ok().and_then(normalized_origin) else {
        return true;
    };
    let own = origin.host.as_deref().and_then(|host| {
        normalized_origin(&format!(
            "{}://{host}",
            if origin.https { "https" } else { "http" }
        ))
    });
    if own.as_deref() == Some(sent.as_str()) {
        return false;
    }
    // Only now, for the rare request from another origin, read the configured site URL.
    match api.people.site_url() {
        Ok(url) => normalized_origin(&url).as_deref() != Some(sent.as_str()),
        Err(e) => {
            log::warn!("cross-site check: cannot read site-url: {e}");
            true
        }
    }
}

/// The refusals of every `/api` request, in order: a body that is not JSON, then a cross-site request.
fn refusal(req: &HttpRequest, api: Option<&Api>, origin: Option<&Origin>) -> Option<ApiError> {
    if announces_body(req.headers()) && !declares_json(req.headers()) {
        return Some(ApiError::UnsupportedMediaType);
    }
    match (api, origin) {
        (Some(api), Some(origin)) if is_cross_site(req, api, origin) => Some(ApiError::CrossSite),
        _ => None,
    }
}

fn set_if_absent(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// The headers of every response: no MIME sniffing, no framing, no full referrer to other sites, a
/// Content-Security-Policy on HTML, and HSTS when the request came over HTTPS.
pub fn add_security_headers(headers: &mut HeaderMap, https: bool) {
    set_if_absent(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_if_absent(headers, header::X_FRAME_OPTIONS, "DENY");
    set_if_absent(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    if https {
        set_if_absent(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000",
        );
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    if html {
        set_if_absent(headers, header::CONTENT_SECURITY_POLICY, HTML_CSP);
    }
}

fn https_of(req: &HttpRequest) -> (Option<web::Data<Api>>, Option<Origin>) {
    let api = req.app_data::<web::Data<Api>>().cloned();
    let origin = api.as_ref().map(|a| auth::origin(req, a));
    (api, origin)
}

/// Middleware for a whole app: the security headers of every response (see [`add_security_headers`]).
/// `people` wraps its app in it; an app that mounts the API should too, for its own routes.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let (_, origin) = https_of(req.request());
    let mut res = next.call(req).await?;
    add_security_headers(res.headers_mut(), origin.is_some_and(|o| o.https));
    Ok(res)
}

/// Middleware of the `/api` scope: the refusals, the device cookie, and the headers of API responses.
pub(crate) async fn api_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let (api, origin) = https_of(req.request());
    let https = origin.as_ref().is_some_and(|o| o.https);
    if let Some(refused) = refusal(
        req.request(),
        api.as_ref().map(|a| a.get_ref()),
        origin.as_ref(),
    ) {
        let mut res = req.into_response(refused.error_response());
        api_headers(res.headers_mut(), https);
        return Ok(res.map_into_right_body());
    }
    let device = api
        .as_ref()
        .and_then(|a| auth::device_cookie_for(req.request(), a));
    let mut res = next.call(req).await?;
    if let Some(cookie) = device {
        let _ = res.response_mut().add_cookie(&cookie);
    }
    api_headers(res.headers_mut(), https);
    Ok(res.map_into_left_body())
}

/// API responses are never cached: they may carry a session id or personal data.
fn api_headers(headers: &mut HeaderMap, https: bool) {
    add_security_headers(headers, https);
    set_if_absent(headers, header::CACHE_CONTROL, "no-store");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
            "application/merge-patch+json;q=1",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/plain; x=+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=+json",
            "application/jsonp",
            "application/json5",
            "text/json",
            "application/ +json",
            "",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalized_origin("HTTPS://Example.com:443").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            normalized_origin("http://example.com:8080/path").as_deref(),
            Some("http://example.com:8080")
        );
        assert_eq!(
            normalized_origin("http://example.com:80").as_deref(),
            Some("http://example.com")
        );
        assert_eq!(normalized_origin("null"), None);
        assert_eq!(normalized_origin("http://u@evil.com"), None);
    }
}

//! SCIM 2.0 (RFC 7643, RFC 7644) at Metabase's paths.
//!
//! - `/api/ee/scim/api_key` ([`token`]): the SCIM token, managed by superusers under the ordinary `/api`
//!   authentication (session or API key), registered in the `/api` scope.
//! - `/api/ee/scim/v2/…` ([`v2_scope`]): the protocol itself, a scope of its own registered before `/api`.
//!   It never looks at sessions or API keys: every request needs `Authorization: Bearer <SCIM token>` while
//!   `scim-enabled` is on (discovery included; the domain says no to anything else with one 401). Every
//!   answer with a body, errors included, is `application/scim+json` (a 204 has neither body nor media
//!   type), and every error a SCIM Error ([`error`]).

pub(crate) mod discovery;
pub mod error;
pub(crate) mod group;
pub mod project;
pub mod request;
pub(crate) mod token;
pub(crate) mod user;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next, NormalizePath, TrailingSlash};
use actix_web::{web, HttpRequest, HttpResponse, Resource, ResponseError, Route, Scope};
use people_domain::scim::list::attribute_list;
use people_domain::scim::version::Precondition;
use people_domain::{DomainError, People};
use serde::Serialize;
use serde_json::Value;

use self::error::ScimFailure;
use crate::Api;

/// SCIM's media type (RFC 7644 §8.1), on every response under `/v2`.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
/// URN of an error message.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// URN of a list message.
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// URN of the core User schema.
pub const USER_URN: &str = people_domain::scim::user::USER_SCHEMA;
/// Path of the protocol's scope.
pub const V2_PATH: &str = "/api/ee/scim/v2";

/// An `application/scim+json` response of any serializable value.
pub fn scim_json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_CONTENT_TYPE),
            ))
            .body(bytes),
        Err(e) => ScimFailure::internal(&format!("cannot render JSON: {e}")).error_response(),
    }
}

/// 200 with `body`.
pub(crate) fn ok<T: Serialize + ?Sized>(body: &T) -> HttpResponse {
    scim_json(StatusCode::OK, body)
}

/// A ListResponse message (RFC 7644 §3.4.2).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<'a, T> {
    schemas: [&'static str; 1],
    total_results: i64,
    start_index: i64,
    items_per_page: usize,
    #[serde(rename = "Resources")]
    resources: &'a [T],
}

/// `resources`, the page at 1-based `start_index` of `total` matches.
pub fn list_response<T: Serialize>(
    resources: &[T],
    total: i64,
    start_index: i64,
) -> ListResponse<'_, T> {
    ListResponse {
        schemas: [LIST_RESPONSE_URN],
        total_results: total,
        start_index,
        items_per_page: resources.len(),
        resources,
    }
}

/// `If-Match` of a write.
pub(crate) fn precondition(req: &HttpRequest) -> Precondition {
    let raw = req
        .headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    Precondition::from_if_match(raw)
}

/// Whether `If-None-Match` of a read names `version` (or is `*`): the client's copy is current.
pub(crate) fn not_modified(req: &HttpRequest, version: &str) -> bool {
    let Some(raw) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    Precondition::from_if_match(Some(raw))
        .check(version)
        .is_ok()
}

/// 304 for a current copy, with its ETag.
pub(crate) fn not_modified_response(version: &str) -> HttpResponse {
    let mut r = HttpResponse::NotModified().finish();
    if let Ok(v) = HeaderValue::from_str(version) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// One resource: `status`, its `ETag`, and its `Location` on a 201.
pub(crate) fn resource(
    status: StatusCode,
    json: &Value,
    version: &str,
    location: Option<&str>,
) -> HttpResponse {
    let mut r = scim_json(status, json);
    if let Ok(v) = HeaderValue::from_str(version) {
        r.headers_mut().insert(header::ETAG, v);
    }
    if let Some(Ok(v)) = location.map(HeaderValue::from_str) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `attributes` / `excludedAttributes` of a request that returns one resource.
pub(crate) struct Shape {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl Shape {
    /// Reads the two parameters from the query string.
    pub(crate) fn of(req: &HttpRequest) -> Result<Self, ScimFailure> {
        let pairs = request::query_pairs(req)?;
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| attribute_list(v))
                .unwrap_or_default()
        };
        Ok(Shape {
            attributes: get("attributes"),
            excluded: get("excludedAttributes"),
        })
    }

    /// `resource` rendered and cut to shape.
    pub(crate) fn apply<T: Serialize>(
        &self,
        resource: &T,
        urn: &str,
    ) -> Result<Value, ScimFailure> {
        shaped(resource, &self.attributes, &self.excluded, urn)
    }
}

/// `resource` as JSON, with only `attributes` (when any) and without `excluded`.
pub(crate) fn shaped<T: Serialize>(
    resource: &T,
    attributes: &[String],
    excluded: &[String],
    urn: &str,
) -> Result<Value, ScimFailure> {
    match serde_json::to_value(resource) {
        Ok(Value::Object(mut m)) => {
            project::project(&mut m, attributes, excluded, urn);
            Ok(Value::Object(m))
        }
        Ok(other) => Ok(other),
        Err(e) => Err(ScimFailure::internal(&format!("cannot render JSON: {e}"))),
    }
}

/// Runs a SCIM use case on the request's worker (they hash nothing; see [`crate::run`]).
pub(crate) fn run_scim<T>(
    api: &web::Data<Api>,
    f: impl FnOnce(&People) -> Result<T, DomainError>,
) -> Result<T, ScimFailure> {
    f(&api.people).map_err(ScimFailure::from)
}

/// The base of SCIM locations: `<site-url>/api/ee/scim/v2`; while `site-url` is unset, the origin this
/// request was sent to (so that `meta.location` and `Location` are absolute URIs, as RFC 7643 §3.1 wants).
pub(crate) fn base_url(
    people: &People,
    req: &HttpRequest,
    api: &Api,
) -> Result<String, DomainError> {
    let base = people.scim_base_url()?;
    if base.contains("://") {
        return Ok(base);
    }
    let origin = crate::auth::origin(req, api);
    Ok(match origin.host {
        Some(host) => format!(
            "{}://{host}{base}",
            if origin.https { "https" } else { "http" }
        ),
        None => base,
    })
}

/// The `/api/ee/scim/v2` scope: discovery and Users. Register it before the `/api` scope, whose default
/// service would otherwise answer for these paths.
pub fn v2_scope() -> Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope(V2_PATH)
        .wrap(from_fn(v2_guard))
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        .service(get_only(
            "/ServiceProviderConfig",
            web::get().to(discovery::get_service_provider_config),
        ))
        .service(get_only(
            "/ResourceTypes",
            web::get().to(discovery::list_resource_types),
        ))
        .service(get_only(
            "/ResourceTypes/{name}",
            web::get().to(discovery::get_resource_type),
        ))
        .service(get_only("/Schemas", web::get().to(discovery::list_schemas)))
        .service(get_only(
            "/Schemas/{urn}",
            web::get().to(discovery::get_schema),
        ))
        .service(
            web::resource("/Users")
                .route(web::get().to(user::list))
                .route(web::post().to(user::create))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/Users/.search")
                .route(web::post().to(user::search))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/Users/{id}")
                .route(web::get().to(user::get))
                .route(web::put().to(user::replace))
                .route(web::patch().to(user::patch))
                .route(web::delete().to(user::delete))
                .default_service(web::to(user_default)),
        )
        .service(
            web::resource("/Groups")
                .route(web::get().to(group::list))
                .route(web::post().to(group::create))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/Groups/.search")
                .route(web::post().to(group::search))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/Groups/{id}")
                .route(web::get().to(group::get))
                .route(web::put().to(group::replace))
                .route(web::patch().to(group::patch))
                .route(web::delete().to(group::delete))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/.search")
                .route(web::post().to(group::search_all))
                .default_service(web::to(method_not_allowed)),
        )
        .default_service(web::to(no_endpoint))
}

/// A resource answering `GET` only (405 for other methods).
fn get_only(path: &str, get: Route) -> Resource {
    web::resource(path)
        .route(get)
        .default_service(web::to(method_not_allowed))
}

/// A path under `/v2` that names nothing (answered after authentication).
async fn no_endpoint() -> Result<HttpResponse, ScimFailure> {
    Err(ScimFailure::no_endpoint())
}

/// A method the resource does not have.
async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ScimFailure> {
    Err(ScimFailure::status(
        405,
        format!("{} is not allowed here.", req.method()),
    ))
}

/// Other methods on `/Users/{id}`: 405.
async fn user_default(req: HttpRequest) -> Result<HttpResponse, ScimFailure> {
    method_not_allowed(req).await
}

/// A body is announced: a `Content-Length` above zero, or chunked transfer.
fn announces_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim() != "0");
    length.unwrap_or_else(|| headers.contains_key(header::TRANSFER_ENCODING))
}

/// The discovery documents: readable without the token while SCIM is on (RFC 7644 §4 lets them be public,
/// and provisioning agents probe them before they use a token).
fn is_discovery(path: &str) -> bool {
    let rest = path
        .split_once("/api/ee/scim/v2")
        .map_or(path, |(_, rest)| rest)
        .trim_start_matches('/');
    let first = rest.split('/').next().unwrap_or("");
    ["ServiceProviderConfig", "ResourceTypes", "Schemas"]
        .iter()
        .any(|d| first.eq_ignore_ascii_case(d))
}

/// Whether the request may reach a handler: the SCIM token while SCIM is on (401 otherwise, before
/// anything else; the discovery documents only need SCIM to be on), then a body only if it is JSON-typed
/// (415).
fn admit(req: &HttpRequest, api: &Api) -> Result<(), ScimFailure> {
    let public = req.method() == actix_web::http::Method::GET
        && is_discovery(req.path())
        && api.people.scim_enabled().map_err(ScimFailure::from)?;
    if !public {
        api.people
            .authorize_scim(request::bearer(req.headers()))
            .map_err(|e| match e {
                DomainError::Unauthenticated => ScimFailure::unauthenticated(),
                other => other.into(),
            })?;
    }
    if announces_body(req.headers()) && !crate::guard::declares_json(req.headers()) {
        return Err(crate::error::ApiError::UnsupportedMediaType.into());
    }
    Ok(())
}

/// True when the response is declared as SCIM JSON.
fn is_scim_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(SCIM_CONTENT_TYPE))
}

/// Middleware of the `/v2` scope: authentication, the media-type refusal, and what every answer carries
/// (SCIM content type unless it is a 204, the security headers, `no-store`, the version header). An error that something else
/// answered (actix's own) is re-rendered as a SCIM Error of the same status.
async fn v2_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = req.app_data::<web::Data<Api>>().cloned();
    let https = api
        .as_ref()
        .is_some_and(|a| crate::auth::is_https(req.request(), a));
    let refused = match &api {
        None => Some(ScimFailure::internal("the app has no web::Data<Api>")),
        Some(api) => admit(req.request(), api).err(),
    };
    // Handlers' and extractors' errors arrive here as responses; an `Err` would only come from a failing
    // middleware inside the scope, of which there is none.
    let mut res = match refused {
        Some(f) => req.into_response(f.error_response()),
        None => next.call(req).await?.map_into_boxed_body(),
    };
    if !is_scim_json(res.headers()) {
        let status = res.status();
        if status.is_client_error() || status.is_server_error() {
            let (http, _) = res.into_parts();
            res = ServiceResponse::new(http, ScimFailure::for_status(status).error_response());
        } else if status != StatusCode::NO_CONTENT {
            // A 204 (DELETE) has no body, so no media type either.
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_CONTENT_TYPE),
            );
        }
    }
    let headers = res.headers_mut();
    crate::guard::add_security_headers(headers, https);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::HeaderName::from_static("x-metabase-version"),
        HeaderValue::from_static(crate::VERSION_TAG),
    );
    Ok(res)
}

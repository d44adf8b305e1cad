//! people-web: Metabase's user-management API over HTTP (actix-web).
//!
//! Handlers only parse the request into people-domain's typed commands, call one use case of
//! [`people_domain::People`] (on the request's worker; on the blocking pool when the command hashes a
//! password), and render the result as Metabase's JSON. Mount the API into any actix `App`
//! with [`Api::mount`], or register `web::Data<Api>` yourself and call [`configure`].

#![warn(missing_docs)]

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::middleware::{from_fn, DefaultHeaders, NormalizePath, TrailingSlash};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use people_domain::password::HashesPassword;
use people_domain::session::Caller;
use people_domain::{DomainError, People};

mod api_key;
pub mod auth;
pub mod body;
pub mod client;
pub mod cookies;
pub mod error;
mod group;
pub mod guard;
mod health;
mod ldap;
pub mod openapi;
mod query;
pub mod render;
pub mod request_id;
pub mod scim;
mod session;
mod setting;
mod setup;
mod user;

use auth::Credentials;

pub use client::TrustedProxies;
pub use error::ApiError;
pub use guard::security_headers;

/// The version tag people reports (`X-Metabase-Version`, the `version` property).
pub const VERSION_TAG: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Header naming the client address (`MB_SOURCE_ADDRESS_HEADER`, default `X-Forwarded-For`).
    pub source_address_header: String,
    /// Peers whose forwarding headers are believed (`PEOPLE_TRUSTED_PROXIES`, default this machine).
    pub trusted_proxies: TrustedProxies,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            source_address_header: "X-Forwarded-For".to_string(),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// What every handler needs: the directory and the HTTP settings.
pub struct Api {
    /// The use cases.
    pub people: Arc<People>,
    /// HTTP settings.
    pub config: WebConfig,
}

impl Api {
    /// An API over `people`.
    pub fn new(people: Arc<People>, config: WebConfig) -> Arc<Api> {
        Arc::new(Api { people, config })
    }

    /// A configuration function for `App::configure` that registers this API's state and routes.
    pub fn mount(self: &Arc<Self>) -> impl Fn(&mut ServiceConfig) + Clone + 'static {
        let data = web::Data::from(Arc::clone(self));
        move |cfg: &mut ServiceConfig| {
            cfg.app_data(data.clone());
            configure(cfg);
        }
    }
}

/// Registers every route under `/api`. Needs `web::Data<Api>` in the app (see [`Api::mount`]).
pub fn configure(cfg: &mut ServiceConfig) {
    // The API description and Swagger UI (assets compiled in: no network at build or run time). Registered
    // before the /api scope, whose default service would otherwise answer for them.
    // The description is served from one serialised copy: utoipa's in-memory form is ~2 MB, and a copy per
    // worker (what `SwaggerUi::url` keeps) cost ~28 MiB of idle RSS.
    cfg.route(
        "/api/docs/openapi.json",
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(openapi::document_json())
        }),
    );
    cfg.service(
        utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::from("/api/docs/openapi.json")),
    );
    cfg.route(
        "/api/docs",
        web::get().to(|| async {
            HttpResponse::Found()
                .insert_header(("Location", "/api/docs/"))
                .finish()
        }),
    );
    // SCIM's protocol scope: its own authentication (the SCIM token) and error shape. Registered before the
    // /api scope, which would otherwise take every /api/… path.
    cfg.service(scim::v2_scope());
    cfg.service(
        web::scope("/api")
            .wrap(from_fn(guard::api_guard))
            .wrap(DefaultHeaders::new().add(("X-Metabase-Version", VERSION_TAG)))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .route("/health", web::get().to(health::health))
            .route("/session", web::post().to(session::login))
            .route("/session", web::delete().to(session::logout))
            .route("/session/properties", web::get().to(session::properties))
            .route(
                "/session/forgot_password",
                web::post().to(session::forgot_password),
            )
            .route(
                "/session/reset_password",
                web::post().to(session::reset_password),
            )
            .route(
                "/session/password_reset_token_valid",
                web::get().to(session::reset_token_valid),
            )
            .route(
                "/login-history/current",
                web::get().to(session::login_history),
            )
            .route("/setup", web::post().to(setup::setup))
            .route("/user", web::get().to(user::list))
            .route("/user", web::post().to(user::create))
            .route("/user/current", web::get().to(user::current))
            .route("/user/recipients", web::get().to(user::recipients))
            .route("/user/{id:[0-9]+}", web::get().to(user::get))
            .route("/user/{id:[0-9]+}", web::put().to(user::update))
            .route("/user/{id:[0-9]+}", web::delete().to(user::deactivate))
            .route("/user/{id:[0-9]+}/password", web::put().to(user::password))
            .route(
                "/user/{id:[0-9]+}/reactivate",
                web::put().to(user::reactivate),
            )
            .route(
                "/user/{id:[0-9]+}/modal/{modal}",
                web::put().to(user::modal),
            )
            .route(
                "/user/{id:[0-9]+}/send_invite",
                web::post().to(user::send_invite),
            )
            .route(
                "/user/{id:[0-9]+}/send_invite",
                web::put().to(user::send_invite_put),
            )
            .route(
                "/user/{id:[0-9]+}/invite_link",
                web::post().to(user::invite_link),
            )
            .route("/permissions/group", web::get().to(group::list))
            .route("/permissions/group", web::post().to(group::create))
            .route("/permissions/group/{id:[0-9]+}", web::get().to(group::get))
            .route(
                "/permissions/group/{id:[0-9]+}",
                web::put().to(group::rename),
            )
            .route(
                "/permissions/group/{id:[0-9]+}",
                web::delete().to(group::delete),
            )
            .route("/permissions/membership", web::get().to(group::memberships))
            .route("/permissions/membership", web::post().to(group::add))
            .route(
                "/permissions/membership/{id:[0-9]+}",
                web::put().to(group::set_manager),
            )
            .route(
                "/permissions/membership/{id:[0-9]+}",
                web::delete().to(group::remove),
            )
            .route(
                "/permissions/membership/{id:[0-9]+}/clear",
                web::put().to(group::clear),
            )
            .route("/api-key", web::get().to(api_key::list))
            .route("/api-key", web::post().to(api_key::create))
            .route("/api-key/count", web::get().to(api_key::count))
            .route("/api-key/{id:[0-9]+}", web::put().to(api_key::update))
            .route("/api-key/{id:[0-9]+}", web::delete().to(api_key::delete))
            .route(
                "/api-key/{id:[0-9]+}/regenerate",
                web::put().to(api_key::regenerate),
            )
            .route("/ee/scim/api_key", web::get().to(scim::token::get))
            .route("/ee/scim/api_key", web::post().to(scim::token::refresh))
            .route("/setting", web::get().to(setting::list))
            .route("/setting/{key}", web::get().to(setting::get))
            .route("/setting/{key}", web::put().to(setting::put))
            .route("/ldap/settings", web::put().to(ldap::update))
            .route(
                "/{tail:.*}",
                web::method(Method::OPTIONS).to(HttpResponse::Ok),
            )
            .default_service(web::to(not_found)),
    );
}

/// Paths under these prefixes need a session (or an API key) before anything else.
const PROTECTED: [&str; 4] = [
    "/api/user",
    "/api/permissions",
    "/api/api-key",
    "/api/ee/scim",
];

fn is_protected(path: &str) -> bool {
    PROTECTED.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// An unmatched `/api/…` path: 401 without a session under a protected prefix, else 404.
async fn not_found(
    api: web::Data<Api>,
    req: HttpRequest,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    if is_protected(req.path()) {
        run_as(&api, token, |_, _| Ok(())).await?;
    }
    Err(ApiError::NoEndpoint)
}

/// Authenticates the request's session or API key and runs a use case as that caller. No valid credential
/// is 401 before anything else happens. See [`run`] for where it runs.
pub(crate) async fn run_as<T, F>(
    api: &web::Data<Api>,
    token: Credentials,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&People, &Caller) -> Result<T, DomainError> + Send + 'static,
{
    run(api, as_caller(token, f)).await
}

/// Where a use case runs: on the request's worker, or on the blocking pool when its input makes it hash a
/// password (see [`run_hashing`]). The use case's input says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// On the worker that received the request.
    Inline,
    /// On the blocking pool.
    Blocking,
}

impl Placement {
    /// Where a use case with this input runs; input that did not parse is refused at once, inline.
    pub(crate) fn of<C: HashesPassword>(command: &Result<C, DomainError>) -> Self {
        if command.as_ref().is_ok_and(HashesPassword::hashes_password) {
            Placement::Blocking
        } else {
            Placement::Inline
        }
    }
}

/// [`run_as`] or [`run_as_hashing`], as `placement` says.
pub(crate) async fn run_as_placed<T, F>(
    api: &web::Data<Api>,
    token: Credentials,
    placement: Placement,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&People, &Caller) -> Result<T, DomainError> + Send + 'static,
{
    match placement {
        Placement::Inline => run_as(api, token, f).await,
        Placement::Blocking => run_as_hashing(api, token, f).await,
    }
}

/// [`run_as`] for use cases that hash a password (see [`run_hashing`]).
pub(crate) async fn run_as_hashing<T, F>(
    api: &web::Data<Api>,
    token: Credentials,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&People, &Caller) -> Result<T, DomainError> + Send + 'static,
{
    run_hashing(api, as_caller(token, f)).await
}

/// `f` preceded by authenticating the request's credentials: the caller it needs, or `Unauthenticated`.
fn as_caller<T, F>(token: Credentials, f: F) -> impl FnOnce(&People) -> Result<T, DomainError>
where
    F: FnOnce(&People, &Caller) -> Result<T, DomainError>,
{
    move |p| {
        let caller = p.identify(token.session(), token.api_key())?;
        f(p, &caller)
    }
}

/// Runs a use case on the worker thread that received the request. Its database work takes well under a
/// millisecond, and handing it to another thread costs more than it saves; the server runs as many
/// workers as it has database connections, so a waiting worker never starves the others.
pub(crate) async fn run<T, F>(api: &web::Data<Api>, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&People) -> Result<T, DomainError>,
{
    f(&api.people).map_err(ApiError::from)
}

/// Runs a use case that hashes or verifies a password on the blocking pool: the hash itself runs on the
/// hashing pool and may wait there for its turn, which must not hold up a request worker.
pub(crate) async fn run_hashing<T, F>(api: &web::Data<Api>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&People) -> Result<T, DomainError> + Send + 'static,
{
    let people = Arc::clone(&api.people);
    // The blocking thread logs under the request's id too.
    let id = request_id::current();
    web::block(move || request_id::in_thread(id, || f(&people)))
        .await
        .map_err(|_| ApiError::internal("a blocking task was cancelled"))?
        .map_err(ApiError::from)
}

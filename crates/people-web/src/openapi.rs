//! The OpenAPI 3.1 description of the API (served at `/api/docs/openapi.json`, browsable at `/api/docs`).
//!
//! Response schemas are the structs in `render.rs` that the handlers really serialise; the types here
//! describe what has no struct of its own: request bodies (handlers read them as raw JSON, because
//! validation order and messages are part of the contract), error bodies, and the responses whose shape
//! depends on who asks.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::render;

/// Every JSON error body: schema failures have `errors` and `specific-errors`, rule failures `errors`, the
/// rest `message`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Message per field.
    pub errors: Option<HashMap<String, String>>,
    /// Detail per field (wording not part of the contract).
    #[serde(rename = "specific-errors")]
    pub specific_errors: Option<HashMap<String, Vec<String>>>,
    /// A message without a field.
    pub message: Option<String>,
}

/// `{"message": …}` (503 and 500).
#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    /// What happened.
    pub message: String,
}

/// `/api/health`.
#[derive(Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`, or why not.
    pub status: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    /// The session id (send it back as `X-Metabase-Session` or the `metabase.SESSION` cookie).
    pub id: String,
}

/// `{"success": true}`.
#[derive(Serialize, ToSchema)]
pub struct SuccessBody {
    /// Always true.
    pub success: bool,
}

/// `{"invite_url": "<site-url>/auth/reset_password/<token>#new"}`.
#[derive(Serialize, ToSchema)]
pub struct InviteLinkBody {
    /// The link of an invite email: the person opens it, chooses a password and is signed in.
    pub invite_url: String,
}

/// A password change or reset that signs the user in.
#[derive(Serialize, ToSchema)]
pub struct NewSessionBody {
    /// Always true.
    pub success: bool,
    /// The new session.
    pub session_id: String,
}

/// `{"valid": …}`.
#[derive(Serialize, ToSchema)]
pub struct ValidBody {
    /// Whether the reset token can be used.
    pub valid: bool,
}

/// `POST /api/session`.
#[derive(Serialize, ToSchema)]
pub struct LoginBody {
    /// Email address.
    pub username: String,
    /// Password.
    pub password: String,
    /// A persistent cookie.
    pub remember: Option<bool>,
}

/// `POST /api/setup`.
#[derive(Serialize, ToSchema)]
pub struct SetupBody {
    /// The setup token from `/api/session/properties`.
    pub token: String,
    /// The first administrator.
    pub user: SetupUser,
    /// A second administrator to invite.
    pub invite: Option<SetupInvite>,
    /// Instance preferences.
    pub prefs: SetupPrefs,
}

/// The first administrator.
#[derive(Serialize, ToSchema)]
pub struct SetupUser {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: String,
    /// Password (password policy).
    pub password: String,
}

/// An invited second administrator.
#[derive(Serialize, ToSchema)]
pub struct SetupInvite {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// Instance preferences.
#[derive(Serialize, ToSchema)]
pub struct SetupPrefs {
    /// `site-name`.
    pub site_name: String,
    /// `site-locale` (`en`, `es-MX`, …).
    pub site_locale: Option<String>,
    /// Accepted and ignored.
    pub allow_tracking: Option<bool>,
}

/// `POST /api/session/forgot_password`.
#[derive(Serialize, ToSchema)]
pub struct ForgotBody {
    /// The account's email.
    #[schema(format = Email)]
    pub email: String,
}

/// `POST /api/session/reset_password`.
#[derive(Serialize, ToSchema)]
pub struct ResetBody {
    /// `<user id>_<UUID>` from the email.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// One entry of `user_group_memberships`.
#[derive(Serialize, ToSchema)]
pub struct MembershipInput {
    /// Group id.
    pub id: i64,
    /// Manager of the group (kept as is when absent).
    pub is_group_manager: Option<bool>,
}

/// `POST /api/user`.
#[derive(Serialize, ToSchema)]
pub struct CreateUserBody {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    #[schema(format = Email)]
    pub email: String,
    /// Memberships (must include All Users, id 1).
    pub user_group_memberships: Option<Vec<MembershipInput>>,
    /// Legacy form of the memberships.
    pub group_ids: Option<Vec<i64>>,
    /// Free-form attributes.
    #[schema(value_type = Option<Object>)]
    pub login_attributes: Option<Value>,
    /// Initial password (password policy); without it the user sets one through the invite.
    pub password: Option<String>,
}

/// `PUT /api/user/:id` (every key optional; `null` clears a name or the locale).
#[derive(Serialize, ToSchema)]
pub struct UpdateUserBody {
    /// Email.
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Memberships (superusers and group managers).
    pub user_group_memberships: Option<Vec<MembershipInput>>,
    /// Legacy form of the memberships.
    pub group_ids: Option<Vec<i64>>,
    /// Superuser (superusers only).
    pub is_superuser: Option<bool>,
    /// Accepted and ignored.
    pub is_group_manager: Option<bool>,
    /// Free-form attributes (superusers only).
    #[schema(value_type = Option<Object>)]
    pub login_attributes: Option<Value>,
    /// `en`, `es_MX`, …
    pub locale: Option<String>,
}

/// `PUT /api/user/:id/password`.
#[derive(Serialize, ToSchema)]
pub struct PasswordBody {
    /// The new password.
    pub password: String,
    /// The current password (not needed by superusers).
    pub old_password: Option<String>,
}

/// `POST`/`PUT /api/permissions/group…`.
#[derive(Serialize, ToSchema)]
pub struct GroupBody {
    /// Name, unique ignoring case.
    pub name: String,
}

/// `POST /api/permissions/membership`.
#[derive(Serialize, ToSchema)]
pub struct AddMembershipBody {
    /// Group.
    pub group_id: i64,
    /// User.
    pub user_id: i64,
    /// Manager of the group.
    pub is_group_manager: Option<bool>,
}

/// `PUT /api/permissions/membership/:id`.
#[derive(Serialize, ToSchema)]
pub struct ManagerBody {
    /// Manager of the group.
    pub is_group_manager: bool,
}

/// A membership as `GET /api/permissions/membership` and `PUT …/membership/:id` give it.
#[derive(Serialize, ToSchema)]
pub struct MembershipEntry {
    /// Membership id (`id` in the PUT response).
    pub membership_id: Option<i64>,
    /// Membership id (PUT response).
    pub id: Option<i64>,
    /// Group.
    pub group_id: i64,
    /// User.
    pub user_id: i64,
    /// Manager flag.
    pub is_group_manager: bool,
}

/// `PUT /api/setting/:key`.
#[derive(Serialize, ToSchema)]
pub struct SettingBody {
    /// The new value; `null` returns to the default.
    pub value: Value,
}

/// `PUT /api/ldap/settings`: any of the `ldap-*` settings.
#[derive(Serialize, ToSchema)]
pub struct LdapSettingsBody {
    /// Turn LDAP sign-in on or off.
    #[serde(rename = "ldap-enabled")]
    pub ldap_enabled: Option<bool>,
    /// Host name, without a scheme.
    #[serde(rename = "ldap-host")]
    pub ldap_host: Option<String>,
    /// Port (1–65535; empty: 389).
    #[serde(rename = "ldap-port")]
    pub ldap_port: Option<Value>,
    /// `none`, `ssl` or `starttls`.
    #[serde(rename = "ldap-security")]
    pub ldap_security: Option<String>,
    /// DN to bind as for lookups.
    #[serde(rename = "ldap-bind-dn")]
    pub ldap_bind_dn: Option<String>,
    /// Its password (the masked value keeps the stored one).
    #[serde(rename = "ldap-password")]
    pub ldap_password: Option<String>,
    /// Search base for users.
    #[serde(rename = "ldap-user-base")]
    pub ldap_user_base: Option<String>,
    /// User filter with `{login}`.
    #[serde(rename = "ldap-user-filter")]
    pub ldap_user_filter: Option<String>,
    /// Group sync on login.
    #[serde(rename = "ldap-group-sync")]
    pub ldap_group_sync: Option<bool>,
    /// Search base for groups.
    #[serde(rename = "ldap-group-base")]
    pub ldap_group_base: Option<String>,
    /// Group DNs to arrays of group ids.
    #[serde(rename = "ldap-group-mappings")]
    pub ldap_group_mappings: Option<Value>,
}

/// An entry of `GET /api/setting`.
#[derive(Serialize, ToSchema)]
pub struct SettingEntry {
    /// Key.
    pub key: String,
    /// Stored value (`null` when the default applies).
    pub value: Value,
    /// What it is for.
    pub description: String,
    /// The value without a stored one.
    pub default: Value,
    /// Environment variable of the default.
    pub env_name: String,
    /// The environment variable overrides the setting, which cannot be changed through the API.
    pub is_env_setting: bool,
}

/// A user in a list: the admin view has every key; group managers get fewer (see the spec's views).
#[derive(Serialize, ToSchema)]
pub struct ListedUser {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// "first last", or the email.
    pub common_name: String,
    /// Creation time (admins).
    pub date_joined: Option<render::Ts>,
    /// Last login (admins and group managers).
    pub last_login: Option<render::Ts>,
    /// Superuser (admins and group managers).
    pub is_superuser: Option<bool>,
    /// (admins)
    pub is_qbnewb: Option<bool>,
    /// (admins)
    pub sso_source: Option<String>,
    /// (admins)
    pub is_active: Option<bool>,
    /// (admins)
    pub updated_at: Option<render::Ts>,
    /// (admins)
    #[schema(value_type = Option<Object>)]
    pub login_attributes: Option<Value>,
    /// (admins)
    pub locale: Option<String>,
    /// Groups (lists of `GET /api/user`).
    pub group_ids: Option<Vec<i64>>,
    /// Always null (admins, `GET /api/user`).
    pub personal_collection_id: Option<i64>,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// The users.
    pub data: Vec<ListedUser>,
    /// All matching users.
    pub total: i64,
    /// Echo of `limit`, or null without paging.
    pub limit: Option<i64>,
    /// Echo of `offset`, or null without paging.
    pub offset: Option<i64>,
}

/// The session header.
struct SessionHeader;

impl Modify for SessionHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Metabase-Session"))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "people",
        description = "Metabase's user-management API: users, sessions, setup, groups, memberships and settings.",
        license(name = "MIT")
    ),
    paths(
        crate::health::health,
        crate::session::login,
        crate::session::logout,
        crate::session::properties,
        crate::session::forgot_password,
        crate::session::reset_password,
        crate::session::reset_token_valid,
        crate::session::login_history,
        crate::setup::setup,
        crate::user::list,
        crate::user::create,
        crate::user::current,
        crate::user::recipients,
        crate::user::get,
        crate::user::update,
        crate::user::deactivate,
        crate::user::password,
        crate::user::reactivate,
        crate::user::modal,
        crate::user::send_invite,
        crate::user::send_invite_put,
        crate::user::invite_link,
        crate::group::list,
        crate::group::create,
        crate::group::get,
        crate::group::rename,
        crate::group::delete,
        crate::group::memberships,
        crate::group::add,
        crate::group::set_manager,
        crate::group::clear,
        crate::group::remove,
        crate::setting::list,
        crate::setting::get,
        crate::setting::put,
        crate::ldap::update,
        crate::api_key::create,
        crate::api_key::list,
        crate::api_key::count,
        crate::api_key::update,
        crate::api_key::regenerate,
        crate::api_key::delete,
        crate::scim::token::get,
        crate::scim::token::refresh,
    ),
    components(schemas(ErrorBody, MessageBody)),
    modifiers(&SessionHeader),
    security(("session" = []), ("api_key" = [])),
    tags(
        (name = "user", description = "Users"),
        (name = "session", description = "Sign-in, sessions and password resets"),
        (name = "setup", description = "The first administrator"),
        (name = "permissions", description = "Groups and memberships"),
        (name = "setting", description = "Settings"),
        (name = "ldap", description = "LDAP sign-in settings"),
        (name = "api-key", description = "API keys for services and scripts (header X-Api-Key)"),
        (name = "scim", description = "SCIM token (the protocol under /api/ee/scim/v2 is described by its own discovery documents)"),
        (name = "health", description = "Health")
    )
)]
pub struct ApiDoc;

/// The API description, built afresh (for tools and tests; the server serves [`document_json`]).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The API description as served at `/api/docs/openapi.json`: serialised once, shared by every worker.
pub fn document_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        // Serialising plain data (string keys, no non-finite floats) cannot fail.
        serde_json::to_string(&document()).unwrap_or_default()
    })
}

/// The documented answer for an error status: its meaning and body.
fn error_response(status: u16) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let text = || {
        ContentBuilder::new()
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String),
            ))
            .build()
    };
    let json = |name: &str| {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(name)))
            .build()
    };
    let r = match status {
        400 => ResponseBuilder::new()
            .description("Invalid parameters or a broken rule: JSON `errors` (schema failures add `specific-errors`), or a plain-text message")
            .content("application/json", json("ErrorBody"))
            .content("text/plain", text()),
        401 => ResponseBuilder::new().description("No valid session: `Unauthenticated`").content("text/plain", text()),
        403 => ResponseBuilder::new().description("Not allowed (`You don't have permissions to do that.`), or `Cross-site request refused.` for a cookie-authenticated write from another site").content("text/plain", text()),
        404 => ResponseBuilder::new().description("No such object (`Not found.`), or no such endpoint").content("text/plain", text()),
        413 => ResponseBuilder::new().description("Body over 1 MiB").content("text/plain", text()),
        415 => ResponseBuilder::new().description("A body that is not declared as JSON: `Content-Type must be application/json.`").content("application/json", json("MessageBody")),
        503 => ResponseBuilder::new().description("The database is unavailable; or, for sign-in and password changes, too many password checks are waiting (`Retry-After` says when to try again)").content("application/json", json("MessageBody")),
        _ => ResponseBuilder::new().description("Unexpected failure").content("application/json", json("MessageBody")),
    };
    r.build().into()
}

/// Declares error-answer sets for `#[utoipa::path(responses(…))]`: each endpoint names the set its
/// failures fall into instead of repeating them.
macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident => [$($status:literal),*];)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl utoipa::IntoResponses for $name {
                fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
                    [$($status),*].into_iter().map(|s| (s.to_string(), error_response(s))).collect()
                }
            }
        )*
    };
}

error_sets! {
    /// Endpoints behind a session without a body.
    ApiErrors => [400, 401, 403, 404, 503, 500];
    /// Endpoints behind a session with a JSON body.
    ApiBodyErrors => [400, 401, 403, 404, 413, 415, 503, 500];
    /// Admin-only reads that take no parameters.
    ReadErrors => [401, 403, 404, 503, 500];
    /// Reads of the caller's own data: any session may make them.
    SessionErrors => [401, 404, 503, 500];
    /// Public endpoints without a body.
    PublicErrors => [400, 503, 500];
    /// Public endpoints with a JSON body (a cross-site request carrying the session cookie is refused).
    PublicBodyErrors => [400, 403, 413, 415, 503, 500];
    /// Endpoints that only need the database.
    StoreErrors => [403, 404, 503, 500];
}

//! `/api/ldap/settings`: the LDAP settings, tested against the directory before they are saved.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use people_domain::ldap::UpdateLdapSettings;
use people_domain::session::Caller;
use people_domain::People;
use serde_json::Value;

use crate::auth::Credentials;
use crate::body::JsonBody;
use crate::error::{json_response, ApiError};
use crate::{run_as_hashing, Api};

/// `PUT /api/ldap/settings`. The connection test waits on the network, so the use case runs on the
/// blocking pool, like the ones that wait on a password hash.
#[utoipa::path(
    put,
    path = "/api/ldap/settings",
    tag = "ldap",
    summary = "Test and save the LDAP settings (superusers)",
    description = "Any subset of the ldap-* settings; keys left out keep their values and the masked \
        password sent back keeps the stored one. The settings are checked, tested against the directory, \
        then saved together or not at all. A refusal names each field: \
        {\"errors\": {\"ldap-host\": \"Wrong host or port\", …}} or {\"message\": …}.",
    request_body(content = crate::openapi::LdapSettingsBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "Tested and saved", body = bool)
    ),
)]
pub(crate) async fn update(
    api: web::Data<Api>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let command = UpdateLdapSettings::parse(&body.0);
    run_as_hashing(&api, token, move |p: &People, caller: &Caller| {
        caller.require_superuser()?;
        p.update_ldap_settings(caller, command?)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &Value::Bool(true)))
}

//! `/api/setting`: the settings people owns (superusers only).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use people_domain::setting::PutSetting;
use serde_json::{json, Value};

use crate::auth::Credentials;
use crate::body::JsonBody;
use crate::error::{json_response, ApiError};
use crate::{run_as, run_as_placed, Api, Placement};

/// `GET /api/setting`.
#[utoipa::path(
    get,
    path = "/api/setting",
    tag = "setting",
    summary = "Every setting (superusers)",
    responses(
        crate::openapi::ReadErrors,
        (status = 200, description = "OK", body = Vec<crate::openapi::SettingEntry>)
    ),
)]
pub(crate) async fn list(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let all = run_as(&api, token, |p, caller| p.list_settings(caller)).await?;
    let list: Vec<Value> = all
        .iter()
        .map(|s| {
            json!({
                "key": s.key,
                "value": s.value,
                "description": s.description,
                "default": s.default,
                "env_name": s.env_name,
                "is_env_setting": s.is_env_setting,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

/// `GET /api/setting/:key`.
#[utoipa::path(
    get,
    path = "/api/setting/{key}",
    tag = "setting",
    summary = "One setting's value (superusers)",
    params(("key" = String, Path, description = "Setting key")),
    responses(
        crate::openapi::ReadErrors,
        (status = 200, description = "The value (string, number, boolean or null)", body = serde_json::Value)
    ),
)]
pub(crate) async fn get(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let value = run_as(&api, token, move |p, caller| p.get_setting(caller, &key)).await?;
    Ok(json_response(StatusCode::OK, &value))
}

/// `PUT /api/setting/:key` with `{"value": …}`.
#[utoipa::path(
    put,
    path = "/api/setting/{key}",
    tag = "setting",
    summary = "Set a setting (superusers)",
    params(("key" = String, Path, description = "Setting key")),
    request_body(content = crate::openapi::SettingBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 204, description = "Stored")
    ),
)]
pub(crate) async fn put(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    // Turning LDAP on tests the directory first: that waits on the network, off the request's worker.
    let placement = if key == "ldap-enabled" {
        Placement::Blocking
    } else {
        Placement::Inline
    };
    run_as_placed(&api, token, placement, move |p, caller| {
        p.put_setting(caller, &key, PutSetting::parse(&body.0))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

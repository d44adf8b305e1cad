//! `/api/api-key`: API keys for services and scripts, managed by superusers (docs/api-keys.md).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use people_domain::api_key::{ApiKeyView, CreateApiKey, UpdateApiKey};
use people_domain::ApiKeyId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Credentials;
use crate::body::JsonBody;
use crate::error::{json_of, ApiError};
use crate::render::Ts;
use crate::{run_as, Api};

/// A key's group: `{id, name}`.
#[derive(Serialize, ToSchema)]
pub struct KeyGroupJson<'a> {
    #[schema(value_type = i32)]
    id: people_domain::GroupId,
    name: &'a str,
}

/// Who changed a key last: `{id, common_name}`.
#[derive(Serialize, ToSchema)]
pub struct UpdatedByJson<'a> {
    #[schema(value_type = i32)]
    id: people_domain::UserId,
    common_name: &'a str,
}

/// A key as Metabase shows it; `unmasked_key` only in the answers of create and regenerate.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyJson<'a> {
    #[schema(value_type = i32)]
    id: ApiKeyId,
    name: &'a str,
    group: KeyGroupJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unmasked_key: Option<&'a str>,
    masked_key: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Ts,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Ts,
    updated_by: Option<UpdatedByJson<'a>>,
}

fn render(v: &ApiKeyView) -> ApiKeyJson<'_> {
    ApiKeyJson {
        id: v.key.id,
        name: &v.key.name,
        group: KeyGroupJson {
            id: v.group.id,
            name: &v.group.name,
        },
        unmasked_key: v.unmasked_key.as_ref().map(|k| k.expose()),
        masked_key: v.masked_key(),
        created_at: Ts(v.key.created_at),
        updated_at: Ts(v.key.updated_at),
        updated_by: v.updated_by.as_ref().map(|(id, name)| UpdatedByJson {
            id: *id,
            common_name: name,
        }),
    }
}

/// `POST /api/api-key` and `PUT /api/api-key/:id` bodies.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyBody {
    /// Unique, non-blank, at most 254 characters (optional on PUT).
    pub name: String,
    /// The group the key's user joins besides All Users; Administrators makes it a superuser (optional on
    /// PUT).
    pub group_id: i32,
}

/// `POST /api/api-key`.
#[utoipa::path(
    post,
    path = "/api/api-key",
    tag = "api-key",
    summary = "Create an API key (the key is shown only in this answer)",
    request_body(content = ApiKeyBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "The key, with unmasked_key", body = ApiKeyJson)
    ),
)]
pub(crate) async fn create(
    api: web::Data<Api>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let command = CreateApiKey::parse(&body.0);
    let view = run_as(&api, token, move |p, caller| {
        p.create_api_key(caller, command?)
    })
    .await?;
    Ok(json_of(StatusCode::OK, &render(&view)))
}

/// `GET /api/api-key`.
#[utoipa::path(
    get,
    path = "/api/api-key",
    tag = "api-key",
    summary = "List API keys (not paginated)",
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "Every key, by id", body = Vec<ApiKeyJson>)
    ),
)]
pub(crate) async fn list(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let views = run_as(&api, token, move |p, caller| p.list_api_keys(caller)).await?;
    let list: Vec<_> = views.iter().map(render).collect();
    Ok(json_of(StatusCode::OK, &list))
}

/// `GET /api/api-key/count`.
#[utoipa::path(
    get,
    path = "/api/api-key/count",
    tag = "api-key",
    summary = "How many API keys exist",
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "A bare integer", body = i64, content_type = "application/json")
    ),
)]
pub(crate) async fn count(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let n = run_as(&api, token, move |p, caller| p.count_api_keys(caller)).await?;
    Ok(json_of(StatusCode::OK, &n))
}

/// `PUT /api/api-key/:id`.
#[utoipa::path(
    put,
    path = "/api/api-key/{id}",
    tag = "api-key",
    summary = "Rename an API key and/or move it to another group",
    params(("id" = i64, Path, description = "Key id")),
    request_body(content = ApiKeyBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "The key", body = ApiKeyJson)
    ),
)]
pub(crate) async fn update(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::parse_path("id", &path);
    let command = UpdateApiKey::parse(&body.0);
    let view = run_as(&api, token, move |p, caller| {
        p.update_api_key(caller, id?, command?)
    })
    .await?;
    Ok(json_of(StatusCode::OK, &render(&view)))
}

/// `PUT /api/api-key/:id/regenerate`.
#[utoipa::path(
    put,
    path = "/api/api-key/{id}/regenerate",
    tag = "api-key",
    summary = "Replace an API key with a new one (shown only in this answer)",
    params(("id" = i64, Path, description = "Key id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "The key, with the new unmasked_key", body = ApiKeyJson)
    ),
)]
pub(crate) async fn regenerate(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::parse_path("id", &path);
    let view = run_as(&api, token, move |p, caller| {
        p.regenerate_api_key(caller, id?)
    })
    .await?;
    Ok(json_of(StatusCode::OK, &render(&view)))
}

/// `DELETE /api/api-key/:id`.
#[utoipa::path(
    delete,
    path = "/api/api-key/{id}",
    tag = "api-key",
    summary = "Delete an API key (its user is deactivated)",
    params(("id" = i64, Path, description = "Key id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 204, description = "Deleted")
    ),
)]
pub(crate) async fn delete(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::parse_path("id", &path);
    run_as(&api, token, move |p, caller| p.delete_api_key(caller, id?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

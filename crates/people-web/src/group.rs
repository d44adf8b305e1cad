//! `/api/permissions/group` and `/api/permissions/membership`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::group::{AddMembership, CreateGroup, RenameGroup, SetGroupRole};
use people_domain::store::Page;
use people_domain::{GroupId, MembershipId};
use serde_json::{json, Map, Value};

use crate::auth::Credentials;
use crate::body::JsonBody;
use crate::error::{json_of, ApiError};
use crate::query::query_pairs;
use crate::{render, run_as, Api};

fn ok<T: serde::Serialize + ?Sized>(body: &T) -> HttpResponse {
    json_of(StatusCode::OK, body)
}

/// `GET /api/permissions/group`.
#[utoipa::path(
    get,
    path = "/api/permissions/group",
    tag = "permissions",
    summary = "List groups",
    params(("limit" = Option<i64>, Query, description = "Page size (0-10000); with offset"), ("offset" = Option<i64>, Query, description = "Rows skipped")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "Groups with member_count", body = Vec<crate::render::GroupJson>)
    ),
)]
pub(crate) async fn list(
    api: web::Data<Api>,
    req: HttpRequest,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let page = query_pairs(&req).and_then(|q| Page::parse(&q));
    let groups = run_as(&api, token, move |p, caller| p.list_groups(caller, page?)).await?;
    let list: Vec<_> = groups
        .iter()
        .map(|g| render::group_with_count(&g.group, g.member_count))
        .collect();
    Ok(ok(&list))
}

/// `GET /api/permissions/group/:id`.
#[utoipa::path(
    get,
    path = "/api/permissions/group/{id}",
    tag = "permissions",
    summary = "One group with its members",
    params(("id" = i64, Path, description = "Group id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "The group with members", body = crate::render::GroupJson)
    ),
)]
pub(crate) async fn get(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = GroupId::parse_path("id", &path);
    let d = run_as(&api, token, move |p, caller| p.get_group(caller, id?)).await?;
    Ok(ok(&render::group_with_members(&d.group, &d.members)))
}

/// `POST /api/permissions/group`.
#[utoipa::path(
    post,
    path = "/api/permissions/group",
    tag = "permissions",
    summary = "Create a group",
    request_body(content = crate::openapi::GroupBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "OK", body = crate::render::GroupJson)
    ),
)]
pub(crate) async fn create(
    api: web::Data<Api>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let command = CreateGroup::parse(&body.0);
    let g = run_as(&api, token, move |p, caller| {
        p.create_group(caller, command?)
    })
    .await?;
    Ok(ok(&render::group(&g)))
}

/// `PUT /api/permissions/group/:id`.
#[utoipa::path(
    put,
    path = "/api/permissions/group/{id}",
    tag = "permissions",
    summary = "Rename a group",
    params(("id" = i64, Path, description = "Group id")),
    request_body(content = crate::openapi::GroupBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "OK", body = crate::render::GroupJson)
    ),
)]
pub(crate) async fn rename(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = GroupId::parse_path("group-id", &path);
    let command = RenameGroup::parse(&body.0);
    let g = run_as(&api, token, move |p, caller| {
        p.rename_group(caller, id?, command?)
    })
    .await?;
    Ok(ok(&render::group(&g)))
}

/// `DELETE /api/permissions/group/:id`.
#[utoipa::path(
    delete,
    path = "/api/permissions/group/{id}",
    tag = "permissions",
    summary = "Delete a group and its memberships",
    params(("id" = i64, Path, description = "Group id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 204, description = "Deleted (or did not exist)")
    ),
)]
pub(crate) async fn delete(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = GroupId::parse_path("group-id", &path);
    run_as(&api, token, move |p, caller| p.delete_group(caller, id?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/permissions/membership`: `{"<user id>": [membership…]}`.
#[utoipa::path(
    get,
    path = "/api/permissions/membership",
    tag = "permissions",
    summary = "Memberships by user id",
    responses(
        crate::openapi::ReadErrors,
        (status = 200, description = "OK", body = HashMap<String, Vec<crate::openapi::MembershipEntry>>)
    ),
)]
pub(crate) async fn memberships(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let all = run_as(&api, token, |p, caller| p.list_memberships(caller)).await?;
    let mut by_user: Map<String, Value> = Map::new();
    for m in &all {
        let entry = json!({
            "membership_id": m.id,
            "group_id": m.group_id,
            "user_id": m.user_id,
            "is_group_manager": m.is_group_manager,
        });
        match by_user
            .entry(m.user_id.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(entry),
            _ => return Err(ApiError::internal("membership map entry is not a list")),
        }
    }
    Ok(ok(&by_user))
}

/// `POST /api/permissions/membership`: the group's members afterwards.
#[utoipa::path(
    post,
    path = "/api/permissions/membership",
    tag = "permissions",
    summary = "Add a user to a group",
    request_body(content = crate::openapi::AddMembershipBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "The group's members", body = Vec<crate::render::Member>)
    ),
)]
pub(crate) async fn add(
    api: web::Data<Api>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let command = AddMembership::parse(&body.0);
    let d = run_as(&api, token, move |p, caller| {
        p.add_membership(caller, command?)
    })
    .await?;
    Ok(ok(&render::members(&d.members)))
}

/// `PUT /api/permissions/membership/:id`.
#[utoipa::path(
    put,
    path = "/api/permissions/membership/{id}",
    tag = "permissions",
    summary = "Make a member a group manager or not",
    params(("id" = i64, Path, description = "Membership id")),
    request_body(content = crate::openapi::ManagerBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "OK", body = crate::openapi::MembershipEntry)
    ),
)]
pub(crate) async fn set_manager(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = MembershipId::parse_path("id", &path);
    let command = SetGroupRole::parse(&body.0);
    let m = run_as(&api, token, move |p, caller| {
        p.set_group_role(caller, id?, command?)
    })
    .await?;
    Ok(ok(&json!({
        "id": m.id,
        "user_id": m.user_id,
        "group_id": m.group_id,
        "is_group_manager": m.is_group_manager,
    })))
}

/// `PUT /api/permissions/membership/:group-id/clear`.
#[utoipa::path(
    put,
    path = "/api/permissions/membership/{id}/clear",
    tag = "permissions",
    summary = "Remove every member of a group",
    params(("id" = i64, Path, description = "Group id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 204, description = "Cleared")
    ),
)]
pub(crate) async fn clear(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = GroupId::parse_path("group-id", &path);
    run_as(&api, token, move |p, caller| p.clear_group(caller, id?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/permissions/membership/:id`.
#[utoipa::path(
    delete,
    path = "/api/permissions/membership/{id}",
    tag = "permissions",
    summary = "Remove a membership",
    params(("id" = i64, Path, description = "Membership id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 204, description = "Removed")
    ),
)]
pub(crate) async fn remove(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = MembershipId::parse_path("id", &path);
    run_as(&api, token, move |p, caller| {
        p.delete_membership(caller, id?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

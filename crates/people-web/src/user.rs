//! `/api/user`: list, current, recipients, read, create, update, password, reactivate, deactivate, modals,
//! invites.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::user::{ListView, PasswordChanged, RecipientView};
use serde_json::json;

use crate::auth::{client_info, SessionToken};
use crate::body::JsonBody;
use crate::error::{json_of, ApiError};
use crate::render;
use crate::session::session_response;
use crate::{run_as, run_as_hashing, Api};

fn ok<T: serde::Serialize>(body: &T) -> HttpResponse {
    json_of(StatusCode::OK, body)
}

/// Query parameters as pairs; an undecodable query string is a bad request (reported after authentication).
pub(crate) fn query_pairs(
    req: &HttpRequest,
) -> Result<Vec<(String, String)>, people_domain::DomainError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| people_domain::DomainError::Refused("Invalid Request.".into()))
}

/// `GET /api/user`.
#[utoipa::path(
    get,
    path = "/api/user",
    tag = "user",
    summary = "List users (superusers and group managers)",
    params(("status" = Option<String>, Query, description = "active (default), deactivated or all"), ("query" = Option<String>, Query, description = "Substring of first name, last name or email"), ("group_id" = Option<i64>, Query, description = "Only members of this group"), ("include_deactivated" = Option<String>, Query, description = "true or false"), ("limit" = Option<i64>, Query, description = "Page size (0-10000); with offset"), ("offset" = Option<i64>, Query, description = "Rows skipped")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::UserPage)
    ),
)]
pub(crate) async fn list(
    api: web::Data<Api>,
    req: HttpRequest,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let params = query_pairs(&req);
    let page = run_as(&api, token, move |p, caller| p.list_users(caller, &params?)).await?;
    Ok(match page.view {
        ListView::Admin => {
            let data = page
                .users
                .iter()
                .map(|u| render::admin_list_item(&u.user, &u.memberships))
                .collect();
            ok(&render::paged(data, page.total, page.page))
        }
        ListView::GroupManager => {
            let data = page
                .users
                .iter()
                .map(|u| render::manager_list_item(&u.user, &u.memberships))
                .collect();
            ok(&render::paged(data, page.total, page.page))
        }
    })
}

/// `GET /api/user/current`.
#[utoipa::path(
    get,
    path = "/api/user/current",
    tag = "user",
    summary = "The caller",
    responses(
        crate::openapi::SessionErrors,
        (status = 200, description = "OK", body = crate::render::CurrentUser)
    ),
)]
pub(crate) async fn current(
    api: web::Data<Api>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let cur = run_as(&api, token, |p, caller| p.current_user(caller.clone())).await?;
    Ok(ok(&render::current_user(&cur)))
}

/// `GET /api/user/recipients`.
#[utoipa::path(
    get,
    path = "/api/user/recipients",
    tag = "user",
    summary = "Users the caller may pick as email recipients",
    params(("limit" = Option<i64>, Query, description = "Page size (0-10000); with offset"), ("offset" = Option<i64>, Query, description = "Rows skipped")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::UserPage)
    ),
)]
pub(crate) async fn recipients(
    api: web::Data<Api>,
    req: HttpRequest,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let params = query_pairs(&req);
    let r = run_as(&api, token, move |p, caller| p.recipients(caller, &params?)).await?;
    let users = &r.users;
    Ok(match r.view {
        RecipientView::Admin | RecipientView::JustMe => ok(&render::paged(
            users.iter().map(render::user_admin).collect(),
            r.total,
            r.page,
        )),
        RecipientView::GroupManager => ok(&render::paged(
            users.iter().map(render::user_group_manager).collect(),
            r.total,
            r.page,
        )),
        RecipientView::NonAdmin => ok(&render::paged(
            users.iter().map(render::user_non_admin).collect(),
            r.total,
            r.page,
        )),
    })
}

/// `GET /api/user/:id`.
#[utoipa::path(
    get,
    path = "/api/user/{id}",
    tag = "user",
    summary = "One user",
    params(("id" = i64, Path, description = "Id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::render::UserDetail)
    ),
)]
pub(crate) async fn get(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let u = run_as(&api, token, move |p, caller| p.get_user(caller, &id)).await?;
    Ok(ok(&render::user_with_memberships(&u.user, &u.memberships)))
}

/// `POST /api/user`.
#[utoipa::path(
    post,
    path = "/api/user",
    tag = "user",
    summary = "Create (invite) a user",
    request_body(content = crate::openapi::CreateUserBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "OK", body = crate::render::UserDetail)
    ),
)]
pub(crate) async fn create(
    api: web::Data<Api>,
    token: SessionToken,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let u = if body.get("password").is_some_and(|p| !p.is_null()) {
        run_as_hashing(&api, token, move |p, caller| p.create_user(caller, &body.0)).await?
    } else {
        run_as(&api, token, move |p, caller| p.create_user(caller, &body.0)).await?
    };
    Ok(ok(&render::user_with_memberships(&u.user, &u.memberships)))
}

/// `PUT /api/user/:id`.
#[utoipa::path(
    put,
    path = "/api/user/{id}",
    tag = "user",
    summary = "Update a user",
    params(("id" = i64, Path, description = "Id")),
    request_body(content = crate::openapi::UpdateUserBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "OK", body = crate::render::UserDetail)
    ),
)]
pub(crate) async fn update(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let u = run_as(&api, token, move |p, caller| {
        p.update_user(caller, &id, &body.0)
    })
    .await?;
    Ok(ok(&render::user_with_memberships(&u.user, &u.memberships)))
}

/// `PUT /api/user/:id/password`.
#[utoipa::path(
    put,
    path = "/api/user/{id}/password",
    tag = "user",
    summary = "Change a password",
    params(("id" = i64, Path, description = "Id")),
    request_body(content = crate::openapi::PasswordBody, content_type = "application/json"),
    responses(
        crate::openapi::ApiBodyErrors,
        (status = 200, description = "Own password changed; signed in again", body = crate::openapi::NewSessionBody),
        (status = 204, description = "Another user's password changed")
    ),
)]
pub(crate) async fn password(
    api: web::Data<Api>,
    req: HttpRequest,
    path: web::Path<String>,
    token: SessionToken,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = client_info(&req, &api);
    let outcome = run_as_hashing(&api, token, move |p, caller| {
        p.change_password(caller, &id, &body.0, &client)
    })
    .await?;
    Ok(match outcome {
        PasswordChanged::Own(grant) => {
            let id = grant.token.expose().to_string();
            session_response(
                &api,
                &req,
                &grant,
                json!({"success": true, "session_id": id}),
            )
        }
        PasswordChanged::Other => HttpResponse::NoContent().finish(),
    })
}

/// `PUT /api/user/:id/reactivate`.
#[utoipa::path(
    put,
    path = "/api/user/{id}/reactivate",
    tag = "user",
    summary = "Reactivate a user",
    params(("id" = i64, Path, description = "Id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::render::AdminUser)
    ),
)]
pub(crate) async fn reactivate(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let u = run_as(&api, token, move |p, caller| p.reactivate_user(caller, &id)).await?;
    Ok(ok(&render::user_admin(&u)))
}

/// `DELETE /api/user/:id`.
#[utoipa::path(
    delete,
    path = "/api/user/{id}",
    tag = "user",
    summary = "Deactivate a user",
    params(("id" = i64, Path, description = "Id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::SuccessBody)
    ),
)]
pub(crate) async fn deactivate(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    run_as(&api, token, move |p, caller| p.deactivate_user(caller, &id)).await?;
    Ok(ok(&json!({"success": true})))
}

/// `PUT /api/user/:id/modal/:modal`.
#[utoipa::path(
    put,
    path = "/api/user/{id}/modal/{modal}",
    tag = "user",
    summary = "Dismiss a modal (qbnewb or datasetnewb)",
    params(("id" = i64, Path, description = "Id"), ("modal" = String, Path, description = "qbnewb or datasetnewb")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::SuccessBody)
    ),
)]
pub(crate) async fn modal(
    api: web::Data<Api>,
    path: web::Path<(String, String)>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let (id, modal) = path.into_inner();
    run_as(&api, token, move |p, caller| {
        p.dismiss_modal(caller, &id, &modal)
    })
    .await?;
    Ok(ok(&json!({"success": true})))
}

/// `POST` (and `PUT`) `/api/user/:id/send_invite`.
#[utoipa::path(
    post,
    path = "/api/user/{id}/send_invite",
    tag = "user",
    summary = "Send the invite email again",
    params(("id" = i64, Path, description = "Id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::SuccessBody)
    ),
)]
pub(crate) async fn send_invite(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    run_as(&api, token, move |p, caller| p.send_invite(caller, &id)).await?;
    Ok(ok(&json!({"success": true})))
}

#[utoipa::path(
    put,
    path = "/api/user/{id}/send_invite",
    tag = "user",
    summary = "Send the invite email again (PUT alias)",
    params(("id" = i64, Path, description = "Id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::SuccessBody)
    ),
)]
/// `PUT /api/user/:id/send_invite`: the alias some clients use.
pub(crate) async fn send_invite_put(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    send_invite(api, path, token).await
}

//! `/api/user`: list, current, recipients, read, create, update, password, reactivate, deactivate, modals,
//! invites.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::store::Page;
use people_domain::user::{
    ChangePassword, CreateUser, ListView, PasswordChanged, RecipientView, UpdateUser, UserListQuery,
};
use people_domain::UserId;
use serde_json::json;

use crate::auth::{client_info, Credentials};
use crate::body::JsonBody;
use crate::error::{json_of, ApiError};
use crate::query::query_pairs;
use crate::render;
use crate::session::session_response;
use crate::{run_as, run_as_hashing, run_as_placed, Api, Placement};

fn ok<T: serde::Serialize>(body: &T) -> HttpResponse {
    json_of(StatusCode::OK, body)
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let query = query_pairs(&req).and_then(|q| UserListQuery::parse(&q));
    let page = run_as(&api, token, move |p, caller| p.list_users(caller, query?)).await?;
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
    token: Credentials,
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let page = query_pairs(&req).and_then(|q| Page::parse(&q));
    let r = run_as(&api, token, move |p, caller| p.recipients(caller, page?)).await?;
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    let u = run_as(&api, token, move |p, caller| p.get_user(caller, id?)).await?;
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
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let command = CreateUser::parse(&body.0);
    let placement = Placement::of(&command);
    let u = run_as_placed(&api, token, placement, move |p, caller| {
        p.create_user(caller, command?)
    })
    .await?;
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
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    let command = UpdateUser::parse(&body.0);
    let u = run_as(&api, token, move |p, caller| {
        p.update_user(caller, id?, command?)
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
    token: Credentials,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    let command = ChangePassword::parse(&body.0);
    let client = client_info(&req, &api);
    let outcome = run_as_hashing(&api, token, move |p, caller| {
        p.change_password(caller, id?, command?, &client)
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    let u = run_as(&api, token, move |p, caller| p.reactivate_user(caller, id?)).await?;
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    run_as(&api, token, move |p, caller| p.deactivate_user(caller, id?)).await?;
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let (id, modal) = path.into_inner();
    let id = UserId::parse_path("id", &id);
    run_as(&api, token, move |p, caller| {
        p.dismiss_modal(caller, id?, &modal)
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    run_as(&api, token, move |p, caller| p.send_invite(caller, id?)).await?;
    Ok(ok(&json!({"success": true})))
}

/// `POST /api/user/:id/invite_link`.
#[utoipa::path(
    post,
    path = "/api/user/{id}/invite_link",
    tag = "user",
    summary = "A fresh invite link, for an administrator to hand over (people's own)",
    description = "For instances without email: the link an invite email would carry, returned to a \
        superuser instead of sent. It replaces the person's earlier reset or invite link. 404 for an unknown \
        or inactive person.",
    params(("id" = i64, Path, description = "Id")),
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "OK", body = crate::openapi::InviteLinkBody)
    ),
)]
pub(crate) async fn invite_link(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse_path("id", &path);
    let url = run_as(&api, token, move |p, caller| p.invite_link(caller, id?)).await?;
    Ok(ok(&json!({ "invite_url": url })))
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
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    send_invite(api, path, token).await
}

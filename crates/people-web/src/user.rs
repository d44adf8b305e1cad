//! `/api/user`: list, current, recipients, read, create, update, password, reactivate, deactivate, modals,
//! invites.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::user::{ListView, PasswordChanged, RecipientView};
use serde_json::{json, Map, Value};

use crate::auth::{client_info, SessionToken};
use crate::body::JsonBody;
use crate::error::{json_response, ApiError};
use crate::render;
use crate::session::session_response;
use crate::{run_as, Api};

fn ok(body: Value) -> HttpResponse {
    json_response(StatusCode::OK, &body)
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
pub(crate) async fn list(
    api: web::Data<Api>,
    req: HttpRequest,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let params = query_pairs(&req);
    let page = run_as(&api, token, move |p, caller| p.list_users(caller, &params?)).await?;
    let data: Vec<Value> = page
        .users
        .iter()
        .map(|u| {
            let mut m = match page.view {
                ListView::Admin => {
                    let mut m = render::user_admin(&u.user);
                    m.insert("personal_collection_id".into(), Value::Null);
                    m
                }
                ListView::GroupManager => render::user_group_manager(&u.user),
            };
            m.insert("group_ids".into(), render::group_ids(&u.memberships));
            Value::Object(m)
        })
        .collect();
    let mut body = Map::new();
    body.insert("data".into(), Value::Array(data));
    body.insert("total".into(), json!(page.total));
    render::page_fields(&mut body, page.page);
    Ok(ok(Value::Object(body)))
}

/// `GET /api/user/current`.
pub(crate) async fn current(
    api: web::Data<Api>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let cur = run_as(&api, token, |p, caller| p.current_user(caller.clone())).await?;
    let c = &cur.caller;
    let mut m = render::user_admin(&c.user);
    m.insert("personal_collection_id".into(), Value::Null);
    m.insert("group_ids".into(), render::group_ids(&c.memberships));
    m.insert("is_installer".into(), json!(c.user.id == 1));
    m.insert(
        "has_invited_second_user".into(),
        json!(cur.has_invited_second_user),
    );
    m.insert("has_question_and_dashboard".into(), json!(false));
    m.insert("has_model".into(), json!(false));
    m.insert("first_login".into(), render::ts(cur.first_login));
    m.insert("custom_homepage".into(), Value::Null);
    m.insert("permissions".into(), render::permissions(c));
    Ok(ok(Value::Object(m)))
}

/// `GET /api/user/recipients`.
pub(crate) async fn recipients(
    api: web::Data<Api>,
    req: HttpRequest,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let params = query_pairs(&req);
    let r = run_as(&api, token, move |p, caller| p.recipients(caller, &params?)).await?;
    let data: Vec<Value> = r
        .users
        .iter()
        .map(|u| {
            Value::Object(match r.view {
                RecipientView::Admin | RecipientView::JustMe => render::user_admin(u),
                RecipientView::GroupManager => render::user_group_manager(u),
                RecipientView::NonAdmin => render::user_non_admin(u),
            })
        })
        .collect();
    let mut body = Map::new();
    body.insert("data".into(), Value::Array(data));
    body.insert("total".into(), json!(r.total));
    render::page_fields(&mut body, r.page);
    Ok(ok(Value::Object(body)))
}

/// `GET /api/user/:id`.
pub(crate) async fn get(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let u = run_as(&api, token, move |p, caller| p.get_user(caller, &id)).await?;
    Ok(ok(render::user_with_memberships(&u.user, &u.memberships)))
}

/// `POST /api/user`.
pub(crate) async fn create(
    api: web::Data<Api>,
    token: SessionToken,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let u = run_as(&api, token, move |p, caller| p.create_user(caller, &body.0)).await?;
    Ok(ok(render::user_with_memberships(&u.user, &u.memberships)))
}

/// `PUT /api/user/:id`.
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
    Ok(ok(render::user_with_memberships(&u.user, &u.memberships)))
}

/// `PUT /api/user/:id/password`.
pub(crate) async fn password(
    api: web::Data<Api>,
    req: HttpRequest,
    path: web::Path<String>,
    token: SessionToken,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = client_info(&req, &api);
    let outcome = run_as(&api, token, move |p, caller| {
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
pub(crate) async fn reactivate(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let u = run_as(&api, token, move |p, caller| p.reactivate_user(caller, &id)).await?;
    Ok(ok(Value::Object(render::user_admin(&u))))
}

/// `DELETE /api/user/:id`.
pub(crate) async fn deactivate(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    run_as(&api, token, move |p, caller| p.deactivate_user(caller, &id)).await?;
    Ok(ok(json!({"success": true})))
}

/// `PUT /api/user/:id/modal/:modal`.
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
    Ok(ok(json!({"success": true})))
}

/// `POST` (and `PUT`) `/api/user/:id/send_invite`.
pub(crate) async fn send_invite(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    run_as(&api, token, move |p, caller| p.send_invite(caller, &id)).await?;
    Ok(ok(json!({"success": true})))
}

//! `/api/session` (log in, log out, properties) and `/api/login-history/current`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::reset::{ForgotPassword, ResetPassword};
use people_domain::session::Login;
use serde_json::{json, Value};

use crate::auth::{client_info, is_https, Credentials};
use crate::body::JsonBody;
use crate::cookies::{clear_session_cookies, set_session_cookies};
use crate::error::{json_response, ApiError};
use crate::{render, run, run_as, run_hashing, Api};

/// A session grant as `{"id": …}` with its cookies (login and setup).
pub(crate) fn session_response(
    api: &Api,
    req: &HttpRequest,
    grant: &people_domain::session::SessionGrant,
    body: Value,
) -> HttpResponse {
    let config = api.people.config();
    let mut resp = HttpResponse::Ok();
    set_session_cookies(
        &mut resp,
        grant,
        is_https(req, api),
        config.max_session_age.num_minutes(),
        config.session_cookies,
    );
    resp.content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// `POST /api/session`.
#[utoipa::path(
    post,
    path = "/api/session",
    tag = "session",
    summary = "Log in",
    request_body(content = crate::openapi::LoginBody, content_type = "application/json"),
    responses(
        crate::openapi::PublicBodyErrors,
        (status = 200, description = "Signed in; cookies metabase.SESSION and metabase.TIMEOUT are set", body = crate::openapi::SessionBody),
        (status = 401, description = "Wrong password, disabled account, or throttled", body = crate::openapi::ErrorBody)
    ),
    security(()),
)]
pub(crate) async fn login(
    api: web::Data<Api>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req, &api);
    let command = Login::parse(&body.0);
    let grant = run_hashing(&api, move |p| p.login(command?, &client)).await?;
    let id = grant.token.expose().to_string();
    Ok(session_response(&api, &req, &grant, json!({ "id": id })))
}

/// `DELETE /api/session`.
#[utoipa::path(
    delete,
    path = "/api/session",
    tag = "session",
    summary = "Log out",
    responses(
        crate::openapi::StoreErrors,
        (status = 204, description = "Signed out; session cookies cleared")
    ),
    security(()),
)]
pub(crate) async fn logout(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    run(&api, move |p| p.logout(token.session())).await?;
    let mut resp = HttpResponse::NoContent();
    clear_session_cookies(&mut resp);
    Ok(resp.finish())
}

/// `GET /api/session/properties`.
#[utoipa::path(
    get,
    path = "/api/session/properties",
    tag = "session",
    summary = "Public settings, plus user-visibility when signed in",
    responses(
        crate::openapi::StoreErrors,
        (status = 200, description = "Settings by key", body = HashMap<String, serde_json::Value>)
    ),
    security(()),
)]
pub(crate) async fn properties(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let props = run(&api, move |p| {
        let caller = p.try_identify(token.session(), token.api_key())?;
        p.properties(caller.as_ref())
    })
    .await?;
    Ok(json_response(StatusCode::OK, &Value::Object(props)))
}

/// `GET /api/login-history/current`.
#[utoipa::path(
    get,
    path = "/api/login-history/current",
    tag = "session",
    summary = "The caller's logins, newest first",
    responses(
        crate::openapi::SessionErrors,
        (status = 200, description = "OK", body = Vec<crate::render::Login>)
    ),
)]
pub(crate) async fn login_history(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let logins = run_as(&api, token, |p, caller| p.login_history(caller)).await?;
    let list: Vec<_> = logins.iter().map(render::login).collect();
    Ok(crate::error::json_of(StatusCode::OK, &list))
}

/// `POST /api/session/forgot_password`: always 204 (unless throttled or invalid).
#[utoipa::path(
    post,
    path = "/api/session/forgot_password",
    tag = "session",
    summary = "Email a password-reset link",
    request_body(content = crate::openapi::ForgotBody, content_type = "application/json"),
    responses(
        crate::openapi::PublicBodyErrors,
        (status = 204, description = "Done, whether or not the address has an account")
    ),
    security(()),
)]
pub(crate) async fn forgot_password(
    api: web::Data<Api>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req, &api);
    let command = ForgotPassword::parse(&body.0);
    run(&api, move |p| p.forgot_password(command?, &client)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/session/reset_password`.
#[utoipa::path(
    post,
    path = "/api/session/reset_password",
    tag = "session",
    summary = "Set a new password with a reset token",
    request_body(content = crate::openapi::ResetBody, content_type = "application/json"),
    responses(
        crate::openapi::PublicBodyErrors,
        (status = 200, description = "Password set and signed in", body = crate::openapi::NewSessionBody)
    ),
    security(()),
)]
pub(crate) async fn reset_password(
    api: web::Data<Api>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req, &api);
    let command = ResetPassword::parse(&body.0);
    let grant = run_hashing(&api, move |p| p.reset_password(command?, &client)).await?;
    let id = grant.token.expose().to_string();
    Ok(session_response(
        &api,
        &req,
        &grant,
        json!({"success": true, "session_id": id}),
    ))
}

/// `GET /api/session/password_reset_token_valid?token=…`.
#[utoipa::path(
    get,
    path = "/api/session/password_reset_token_valid",
    tag = "session",
    summary = "Whether a reset token can be used",
    params(("token" = String, Query, description = "The token")),
    responses(
        crate::openapi::PublicErrors,
        (status = 200, description = "OK", body = crate::openapi::ValidBody)
    ),
    security(()),
)]
pub(crate) async fn reset_token_valid(
    api: web::Data<Api>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = crate::query::query_pairs(&req)?;
    let token = params
        .into_iter()
        .rev()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v);
    let valid = run(&api, move |p| p.reset_token_valid(token.as_deref())).await?;
    Ok(json_response(StatusCode::OK, &json!({ "valid": valid })))
}

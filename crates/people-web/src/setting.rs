//! `/api/setting`: the settings people owns (superusers only).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::auth::SessionToken;
use crate::body::JsonBody;
use crate::error::{json_response, ApiError};
use crate::{run_as, Api};

/// `GET /api/setting`.
pub(crate) async fn list(
    api: web::Data<Api>,
    token: SessionToken,
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
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

/// `GET /api/setting/:key`.
pub(crate) async fn get(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let value = run_as(&api, token, move |p, caller| p.get_setting(caller, &key)).await?;
    Ok(json_response(StatusCode::OK, &value))
}

/// `PUT /api/setting/:key` with `{"value": …}`.
pub(crate) async fn put(
    api: web::Data<Api>,
    path: web::Path<String>,
    token: SessionToken,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    run_as(&api, token, move |p, caller| {
        p.put_setting(caller, &key, &body.0)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

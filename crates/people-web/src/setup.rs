//! `POST /api/setup`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::client_info;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::session::session_response;
use crate::{run_hashing, Api};

/// `POST /api/setup`: the first administrator, signed in.
pub(crate) async fn setup(
    api: web::Data<Api>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req, &api);
    let grant = run_hashing(&api, move |p| p.setup(&body.0, &client)).await?;
    let id = grant.token.expose().to_string();
    Ok(session_response(&api, &req, &grant, json!({ "id": id })))
}

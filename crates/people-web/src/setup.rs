//! `POST /api/setup`.

use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::setup::Setup;
use serde_json::json;

use crate::auth::client_info;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::session::session_response;
use crate::{run_hashing, Api};

/// `POST /api/setup`: the first administrator, signed in.
#[utoipa::path(
    post,
    path = "/api/setup",
    tag = "setup",
    summary = "Create the first administrator",
    request_body(content = crate::openapi::SetupBody, content_type = "application/json"),
    responses(
        crate::openapi::PublicBodyErrors,
        (status = 200, description = "Created and signed in", body = crate::openapi::SessionBody),
        (status = 403, description = "A user exists already", body = String, content_type = "text/plain")
    ),
    security(()),
)]
pub(crate) async fn setup(
    api: web::Data<Api>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req, &api);
    let grant = run_hashing(&api, move |p| {
        let command = Setup::parse(&body.0, &p.open_setup()?)?;
        p.setup(command, &client)
    })
    .await?;
    let id = grant.token.expose().to_string();
    Ok(session_response(&api, &req, &grant, json!({ "id": id })))
}

//! `GET /api/health`: 200 when the application database answers, 503 otherwise.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::json_response;
use crate::{run, Api};

#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    summary = "Whether the application database answers",
    responses(
        (status = 200, description = "The database answers", body = crate::openapi::HealthBody),
        (status = 503, description = "The database does not answer", body = crate::openapi::HealthBody),
        (status = 500, description = "Unexpected failure", body = crate::openapi::MessageBody)
    ),
    security(()),
)]
pub(crate) async fn health(api: web::Data<Api>) -> HttpResponse {
    match run(&api, |p| p.health()).await {
        Ok(()) => json_response(StatusCode::OK, &json!({"status": "ok"})),
        Err(e) => {
            log::warn!("health check failed: {e}");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "Unable to get app-db connection"}),
            )
        }
    }
}

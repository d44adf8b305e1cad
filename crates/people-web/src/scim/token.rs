//! `/api/ee/scim/api_key`: the SCIM token, read and replaced by superusers (session or API key). Metabase's
//! row shape, without the stored digest (`key`), which people never returns.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use people_domain::scim::token::ScimToken;
use people_domain::{ApiKeyId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Credentials;
use crate::error::{json_of, ApiError};
use crate::render::Ts;
use crate::{run_as, Api};

/// The SCIM token's record; `unmasked_key` only in the answer of `POST`.
#[derive(Serialize, ToSchema)]
pub struct ScimTokenJson<'a> {
    #[schema(value_type = i32)]
    id: ApiKeyId,
    /// Always null: the SCIM token acts as no user.
    #[schema(value_type = Option<i32>)]
    user_id: Option<UserId>,
    /// `mb_` and the next 4 characters of the token.
    key_prefix: &'a str,
    #[schema(value_type = i32)]
    creator_id: UserId,
    #[schema(value_type = i32)]
    updated_by_id: UserId,
    #[schema(value_type = String, format = DateTime)]
    created_at: Ts,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Ts,
    /// `Metabase SCIM API Key - <UUID>`.
    name: &'a str,
    /// Always `scim`.
    scope: &'static str,
    /// The prefix and `*`s.
    masked_key: String,
    /// The whole token (only when it was just made).
    #[serde(skip_serializing_if = "Option::is_none")]
    unmasked_key: Option<&'a str>,
}

fn render(t: &ScimToken) -> ScimTokenJson<'_> {
    ScimTokenJson {
        id: t.key.id,
        user_id: t.key.user_id,
        key_prefix: &t.key.key_prefix,
        creator_id: t.key.creator_id,
        updated_by_id: t.key.updated_by_id,
        created_at: Ts(t.key.created_at),
        updated_at: Ts(t.key.updated_at),
        name: &t.key.name,
        scope: "scim",
        masked_key: t.masked_key(),
        unmasked_key: t.unmasked_key.as_ref().map(|k| k.expose()),
    }
}

/// `GET /api/ee/scim/api_key`.
#[utoipa::path(
    get,
    path = "/api/ee/scim/api_key",
    tag = "scim",
    summary = "The SCIM token's record (never the token itself); 404 when there is none",
    responses(
        crate::openapi::ReadErrors,
        (status = 200, description = "The SCIM token's record", body = ScimTokenJson)
    ),
)]
pub(crate) async fn get(api: web::Data<Api>, token: Credentials) -> Result<HttpResponse, ApiError> {
    let t = run_as(&api, token, |p, caller| p.scim_token(caller)).await?;
    Ok(json_of(StatusCode::OK, &render(&t)))
}

/// `POST /api/ee/scim/api_key`.
#[utoipa::path(
    post,
    path = "/api/ee/scim/api_key",
    tag = "scim",
    summary = "Make a new SCIM token, replacing any other (shown only in this answer)",
    responses(
        crate::openapi::ApiErrors,
        (status = 200, description = "The record, with unmasked_key", body = ScimTokenJson)
    ),
)]
pub(crate) async fn refresh(
    api: web::Data<Api>,
    token: Credentials,
) -> Result<HttpResponse, ApiError> {
    let t = run_as(&api, token, |p, caller| p.refresh_scim_token(caller)).await?;
    Ok(json_of(StatusCode::OK, &render(&t)))
}

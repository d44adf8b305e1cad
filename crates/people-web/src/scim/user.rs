//! `/v2/Users`: people as SCIM User resources (RFC 7643 §4.1), listed with filters and paging, read by id,
//! created, replaced (`PUT`), patched (`PATCH`) and deprovisioned (`DELETE`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::group::Group;
use people_domain::scim::filter::derived_display_name;
use people_domain::scim::user::{NewScimUser, ScimPatch, ScimUser, UserListQuery};
use people_domain::user::User;
use people_domain::{DomainError, People};
use serde::Serialize;
use serde_json::Value;

use super::error::ScimFailure;
use super::request::{query_pairs, ScimBody};
use super::{base_url, list_response, ok, run_scim, shaped, USER_URN};
use crate::render::Ts;
use crate::Api;

/// `name`: the parts that are set.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NameJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
}

/// The one entry of `emails`.
#[derive(Serialize)]
struct EmailJson<'a> {
    value: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    primary: bool,
}

/// An entry of `groups`.
#[derive(Serialize)]
struct GroupRefJson<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    display: &'a str,
}

/// `meta` (RFC 7643 §3.1).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetaJson {
    resource_type: &'static str,
    created: Ts,
    last_modified: Ts,
    location: String,
    version: String,
}

/// A User resource as people returns it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserJson<'a> {
    schemas: [&'static str; 1],
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    user_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<NameJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    emails: [EmailJson<'a>; 1],
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    groups: Vec<GroupRefJson<'a>>,
    meta: MetaJson,
}

/// A locale as BCP 47 (RFC 5646), from people's Java-style form: `en_US` → `en-US`, and Java's legacy
/// language codes to their current ones (`iw` → `he`, `in` → `id`, `ji` → `yi`), as Java's
/// `Locale.toLanguageTag` writes them.
pub fn bcp47(locale: &str) -> String {
    let mut parts = locale.split(['_', '-']);
    let language = match parts.next().unwrap_or_default() {
        "iw" => "he",
        "in" => "id",
        "ji" => "yi",
        other => other,
    };
    std::iter::once(language)
        .chain(parts)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The SCIM id of a user or group (their `entity_id`; every row SCIM sees has one).
fn entity_id(id: &Option<String>) -> &str {
    id.as_deref().unwrap_or_default()
}

/// `user` with `groups` as a User resource under `base` (`…/api/ee/scim/v2`), at `version`.
fn render<'a>(user: &'a User, groups: &'a [Group], base: &str, version: String) -> UserJson<'a> {
    let id = entity_id(&user.entity_id);
    let given = user.first_name.as_deref();
    let family = user.last_name.as_deref();
    UserJson {
        schemas: [USER_URN],
        id,
        external_id: user.external_id.as_deref(),
        user_name: user.scim_user_name.as_deref().unwrap_or(&user.email),
        name: (given.is_some() || family.is_some()).then_some(NameJson {
            given_name: given,
            family_name: family,
        }),
        // An empty stored displayName is one the client removed: absent, not derived.
        display_name: match user.display_name.as_deref() {
            Some("") => None,
            Some(d) => Some(d.to_string()),
            None => derived_display_name(given, family),
        },
        emails: [EmailJson {
            value: &user.email,
            kind: "work",
            primary: true,
        }],
        active: user.is_active,
        locale: user.locale.as_deref().map(bcp47),
        groups: groups
            .iter()
            .filter_map(|g| {
                let gid = g.entity_id.as_deref()?;
                Some(GroupRefJson {
                    value: gid,
                    reference: format!("{base}/Groups/{gid}"),
                    display: &g.name,
                })
            })
            .collect(),
        meta: MetaJson {
            resource_type: "User",
            created: Ts(user.date_joined),
            last_modified: Ts(user.updated_at),
            location: format!("{base}/Users/{id}"),
            version,
        },
    }
}

/// `u` as JSON under `base`, cut to `attributes` / `excluded`.
pub(crate) fn render_value(
    u: &ScimUser,
    base: &str,
    attributes: &[String],
    excluded: &[String],
) -> Result<Value, ScimFailure> {
    shaped(&render_one(u, base), attributes, excluded, USER_URN)
}

fn render_one<'a>(u: &'a ScimUser, base: &str) -> UserJson<'a> {
    render(&u.user, &u.groups, base, u.version())
}

/// `GET /v2/Users`: `filter`, `startIndex`, `count` (capped at the declared maxResults).
pub(crate) async fn list(
    api: web::Data<Api>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimFailure> {
    let query = UserListQuery::parse(&query_pairs(&req)?)?;
    list_page(&api, &req, query)
}

/// The ListResponse of the users `query` selects.
fn list_page(
    api: &web::Data<Api>,
    req: &HttpRequest,
    query: UserListQuery,
) -> Result<HttpResponse, ScimFailure> {
    let (page, base) = run_scim(api, |p| {
        let page = p.scim_list_users(query.clone())?;
        Ok((page, base_url(p, req, api)?))
    })?;
    let resources: Vec<Value> = page
        .users
        .iter()
        .map(|u| {
            shaped(
                &render_one(u, &base),
                &query.attributes,
                &query.excluded_attributes,
                USER_URN,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(ok(&list_response(&resources, page.total, page.start_index)))
}

/// `POST /v2/Users/.search` (RFC 7644 §3.4.3): the list of `GET /Users`, its parameters in the body.
pub(crate) async fn search(
    api: web::Data<Api>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let query = UserListQuery::from_search(&body.0)?;
    list_page(&api, &req, query)
}

/// `GET /v2/Users/{id}`.
pub(crate) async fn get(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let shape = super::Shape::of(&req)?;
    let (user, base) = run_scim(&api, |p| {
        let user = p.scim_get_user(&id)?;
        Ok((user, base_url(p, &req, &api)?))
    })
    .map_err(|e| for_user(e, &id))?;
    let version = user.version();
    if super::not_modified(&req, &version) {
        return Ok(super::not_modified_response(&version));
    }
    let json = shape.apply(&render_one(&user, &base), USER_URN)?;
    Ok(super::resource(StatusCode::OK, &json, &version, None))
}

/// Runs `f` on the user named `id` and answers 200 with the user it returns; a 404 names `id`.
fn one_user(
    api: &web::Data<Api>,
    req: &HttpRequest,
    id: &str,
    f: impl FnOnce(&People) -> Result<ScimUser, DomainError>,
) -> Result<HttpResponse, ScimFailure> {
    let (user, base) = run_scim(api, |p| {
        let user = f(p)?;
        Ok((user, base_url(p, req, api)?))
    })
    .map_err(|e| for_user(e, id))?;
    let json = super::Shape::of(req)?.apply(&render_one(&user, &base), USER_URN)?;
    Ok(super::resource(
        StatusCode::OK,
        &json,
        &user.version(),
        None,
    ))
}

/// `e`, with a 404 naming the user `id` asked for.
fn for_user(e: ScimFailure, id: &str) -> ScimFailure {
    match e.error.status {
        404 => ScimFailure::not_found(id),
        _ => e,
    }
}

/// `POST /v2/Users`: 201 with the new user and its `Location`.
pub(crate) async fn create(
    api: web::Data<Api>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let new = NewScimUser::parse(&body.0)?;
    let (user, base) = run_scim(&api, |p| {
        let user = p.scim_create_user(new)?;
        Ok((user, base_url(p, &req, &api)?))
    })?;
    let rendered = render_one(&user, &base);
    let location = rendered.meta.location.clone();
    let json = super::Shape::of(&req)?.apply(&rendered, USER_URN)?;
    Ok(super::resource(
        StatusCode::CREATED,
        &json,
        &user.version(),
        Some(&location),
    ))
}

/// `PUT /v2/Users/{id}`: the body is a whole User resource (as for `POST`) that replaces the mutable
/// attributes; 200 with the user.
pub(crate) async fn replace(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let new = NewScimUser::parse(&body.0)?;
    let pre = super::precondition(&req);
    one_user(&api, &req, &id, |p| p.scim_replace_user(&id, new, &pre))
}

/// `PATCH /v2/Users/{id}`: a PatchOp message; 200 with the user (RFC 7644 §3.5.2 allows 204, but Okta and
/// Entra ID read the resource back from the answer).
pub(crate) async fn patch(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let patch = ScimPatch::parse(&body.0)?;
    let pre = super::precondition(&req);
    one_user(&api, &req, &id, |p| p.scim_patch_user(&id, patch, &pre))
}

/// `DELETE /v2/Users/{id}`: deprovisions the person (deactivated, sessions ended, hidden from SCIM; the row
/// is kept); 204 with no body.
pub(crate) async fn delete(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let pre = super::precondition(&req);
    run_scim(&api, |p| p.scim_delete_user(&id, &pre)).map_err(|e| for_user(e, &id))?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_are_bcp47() {
        assert_eq!(bcp47("en_US"), "en-US");
        assert_eq!(bcp47("pt_BR"), "pt-BR");
        assert_eq!(bcp47("en"), "en");
        assert_eq!(bcp47("iw_IL"), "he-IL");
        assert_eq!(bcp47("in"), "id");
        assert_eq!(bcp47("ji"), "yi");
        assert_eq!(bcp47("sr_CS"), "sr-CS");
    }
}

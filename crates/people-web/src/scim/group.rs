//! `/v2/Groups`: people's groups as SCIM Group resources (RFC 7643 §4.2) — every group but All Users and
//! Administrators — listed with filters and paging, read, created, replaced, patched (members added and
//! removed as Okta's group push and Entra ID send them) and deleted; and the root `/.search` over both
//! resource types.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use people_domain::scim::group::{
    GroupListQuery, GroupPatch, NewScimGroup, ScimGroup, GROUP_SCHEMA,
};
use people_domain::scim::user::UserListQuery;
use people_domain::{DomainError, People};
use serde::Serialize;
use serde_json::Value;

use super::error::ScimFailure;
use super::request::{query_pairs, ScimBody};
use super::{base_url, list_response, ok, run_scim, shaped, Shape};
use crate::render::Ts;
use crate::Api;

/// An entry of `members`.
#[derive(Serialize)]
struct MemberJson<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    display: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
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

/// A Group resource as people returns it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupJson<'a> {
    schemas: [&'static str; 1],
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    display_name: &'a str,
    members: Vec<MemberJson<'a>>,
    meta: MetaJson,
}

fn render<'a>(g: &'a ScimGroup, base: &str) -> GroupJson<'a> {
    let id = g.record.group.entity_id.as_deref().unwrap_or_default();
    GroupJson {
        schemas: [GROUP_SCHEMA],
        id,
        external_id: g.record.external_id.as_deref(),
        display_name: &g.record.group.name,
        members: g
            .members
            .iter()
            .map(|m| MemberJson {
                value: &m.entity_id,
                reference: format!("{base}/Users/{}", m.entity_id),
                display: &m.display,
                kind: "User",
            })
            .collect(),
        meta: MetaJson {
            resource_type: "Group",
            created: Ts(g.record.created_at),
            last_modified: Ts(g.record.updated_at),
            location: format!("{base}/Groups/{id}"),
            version: g.version(),
        },
    }
}

/// `GET /v2/Groups`.
pub(crate) async fn list(
    api: web::Data<Api>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimFailure> {
    let query = GroupListQuery::parse(&query_pairs(&req)?)?;
    list_page(&api, &req, query)
}

/// `POST /v2/Groups/.search`.
pub(crate) async fn search(
    api: web::Data<Api>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let query = GroupListQuery::from_search(&body.0)?;
    list_page(&api, &req, query)
}

fn list_page(
    api: &web::Data<Api>,
    req: &HttpRequest,
    query: GroupListQuery,
) -> Result<HttpResponse, ScimFailure> {
    let (page, base) = run_scim(api, |p| {
        let page = p.scim_list_groups(query.clone())?;
        Ok((page, base_url(p, req, api)?))
    })?;
    let resources: Vec<Value> = page
        .groups
        .iter()
        .map(|g| {
            shaped(
                &render(g, &base),
                &query.attributes,
                &query.excluded_attributes,
                GROUP_SCHEMA,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(ok(&list_response(&resources, page.total, page.start_index)))
}

/// `e`, with a 404 naming the group `id` asked for.
fn for_group(e: ScimFailure, id: &str) -> ScimFailure {
    match e.error.status {
        404 => ScimFailure::status(404, format!("Group {id} not found")),
        _ => e,
    }
}

/// Runs `f` on the group `id` and answers `status` with the group it returns.
fn one_group(
    api: &web::Data<Api>,
    req: &HttpRequest,
    id: &str,
    status: StatusCode,
    f: impl FnOnce(&People) -> Result<ScimGroup, DomainError>,
) -> Result<HttpResponse, ScimFailure> {
    let shape = Shape::of(req)?;
    let (group, base) = run_scim(api, |p| {
        let group = f(p)?;
        Ok((group, base_url(p, req, api)?))
    })
    .map_err(|e| for_group(e, id))?;
    let version = group.version();
    if status == StatusCode::OK
        && req.method() == actix_web::http::Method::GET
        && super::not_modified(req, &version)
    {
        return Ok(super::not_modified_response(&version));
    }
    let rendered = render(&group, &base);
    let location = rendered.meta.location.clone();
    let json = shape.apply(&rendered, GROUP_SCHEMA)?;
    let location = (status == StatusCode::CREATED).then_some(location);
    Ok(super::resource(
        status,
        &json,
        &version,
        location.as_deref(),
    ))
}

/// `GET /v2/Groups/{id}`.
pub(crate) async fn get(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    one_group(&api, &req, &id, StatusCode::OK, |p| p.scim_get_group(&id))
}

/// `POST /v2/Groups`: 201 with the group and its `Location`.
pub(crate) async fn create(
    api: web::Data<Api>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let new = NewScimGroup::parse(&body.0)?;
    one_group(&api, &req, "", StatusCode::CREATED, |p| {
        p.scim_create_group(new)
    })
}

/// `PUT /v2/Groups/{id}`.
pub(crate) async fn replace(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let new = NewScimGroup::parse(&body.0)?;
    let pre = super::precondition(&req);
    one_group(&api, &req, &id, StatusCode::OK, |p| {
        p.scim_replace_group(&id, new, &pre)
    })
}

/// `PATCH /v2/Groups/{id}`: 200 with the group (Okta and Entra ID accept either 200 or 204).
pub(crate) async fn patch(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let patch = GroupPatch::parse(&body.0)?;
    let pre = super::precondition(&req);
    one_group(&api, &req, &id, StatusCode::OK, |p| {
        p.scim_patch_group(&id, patch, &pre)
    })
}

/// `DELETE /v2/Groups/{id}`: 204.
pub(crate) async fn delete(
    api: web::Data<Api>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let pre = super::precondition(&req);
    run_scim(&api, |p| p.scim_delete_group(&id, &pre)).map_err(|e| for_group(e, &id))?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v2/.search` (RFC 7644 §3.4.3): users then groups, as one list. The filter applies to the resource
/// types it can be read for (a filter on `userName` finds only users); paging runs over the whole list.
pub(crate) async fn search_all(
    api: web::Data<Api>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimFailure> {
    let users = UserListQuery::from_search(&body.0);
    let groups = GroupListQuery::from_search(&body.0);
    let (users, groups) = match (users, groups) {
        (Err(e), Err(_)) => return Err(e.into()),
        (u, g) => (u.ok(), g.ok()),
    };
    let (start_index, count) = users
        .as_ref()
        .map(|q| (q.start_index, q.count))
        .or_else(|| groups.as_ref().map(|q| (q.start_index, q.count)))
        .unwrap_or((1, 0));
    let (resources, total) = run_scim(&api, |p| {
        let base = base_url(p, &req, &api)?;
        let mut resources: Vec<Value> = Vec::new();
        let mut total = 0;
        let mut skip = start_index - 1;
        let mut room = count;
        if let Some(mut q) = users {
            // First only the count, then the rows of the page that are users.
            q.start_index = skip + 1;
            q.count = room;
            let page = p.scim_list_users(q.clone())?;
            total += page.total;
            for u in &page.users {
                let json =
                    super::user::render_value(u, &base, &q.attributes, &q.excluded_attributes);
                resources.push(json.map_err(|e| DomainError::Internal(e.to_string()))?);
            }
            room -= page.users.len() as i64;
            skip = (skip - page.total).max(0);
        }
        if let Some(mut q) = groups {
            q.start_index = skip + 1;
            q.count = room.max(0);
            let page = p.scim_list_groups(q.clone())?;
            total += page.total;
            for g in &page.groups {
                let json = shaped(
                    &render(g, &base),
                    &q.attributes,
                    &q.excluded_attributes,
                    GROUP_SCHEMA,
                );
                resources.push(json.map_err(|e| DomainError::Internal(e.to_string()))?);
            }
        }
        Ok((resources, total))
    })?;
    Ok(ok(&list_response(&resources, total, start_index)))
}

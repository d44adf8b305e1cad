//! SCIM discovery (RFC 7644 §4; RFC 7643 §5–7): `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`.
//! Static documents that declare what people's SCIM service does today, and nothing more: an IdP reads
//! them to decide what to send (PATCH, sorting, ETags; no bulk, no password change), so an overstatement here
//! would turn into failed provisioning runs. When a feature lands, its flag here changes with it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::ScimFailure;
use super::request::query_pairs;
use super::{base_url, list_response, ok, run_scim, USER_URN};
use crate::Api;
use people_domain::scim::group::GROUP_SCHEMA as GROUP_URN;

/// URN of the ServiceProviderConfig resource.
pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of a ResourceType resource.
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of a Schema resource.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The most resources a list answers with (`filter.maxResults`).
pub const MAX_RESULTS: i64 = people_domain::scim::user::MAX_RESULTS;

/// RFC 7644 §4: discovery ignores paging and sorting, but a `filter` is refused with 403 so that a client
/// never takes the unfiltered list for a filtered one.
fn refuse_filter(req: &HttpRequest) -> Result<(), ScimFailure> {
    if query_pairs(req)?
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("filter"))
    {
        return Err(ScimFailure::status(
            403,
            "Discovery endpoints do not support filtering.",
        ));
    }
    Ok(())
}

/// The ServiceProviderConfig document (RFC 7643 §5).
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The SCIM token an administrator creates in people (POST /api/ee/scim/api_key), \
                sent as `Authorization: Bearer <token>`. SCIM requests are accepted only while the \
                scim-enabled setting is on.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

/// The resource types people serves (RFC 7643 §6).
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person in the directory",
            "schema": USER_URN,
            "schemaExtensions": [],
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base}/ResourceTypes/User")
            }
        }),
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of people (All Users and Administrators are not shown)",
            "schema": GROUP_URN,
            "schemaExtensions": [],
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base}/ResourceTypes/Group")
            }
        }),
    ]
}

/// One attribute definition (RFC 7643 §7) of a string attribute.
fn string_attr(
    name: &str,
    description: &str,
    case_exact: bool,
    mutability: &str,
    returned: &str,
    uniqueness: &str,
    required: bool,
) -> Value {
    json!({
        "name": name,
        "type": "string",
        "multiValued": false,
        "description": description,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness
    })
}

/// `locale`: the locales people knows, as BCP 47 tags, are its canonical values (any other is refused).
fn locale_attr() -> Value {
    let mut tags: Vec<String> = people_domain::locale::known()
        .map(super::user::bcp47)
        .filter(|tag| people_domain::locale::parse(tag).is_some())
        .collect();
    tags.sort();
    tags.dedup();
    let mut a = string_attr(
        "locale",
        "Preferred language for the user interface (BCP 47, such as en-US); one of the canonical values.",
        false,
        "readWrite",
        "default",
        "none",
        false,
    );
    a["canonicalValues"] = json!(tags);
    a
}

/// The core User schema (RFC 7643 §4.1, §8.7.1) restricted to the attributes people stores and returns,
/// with their real characteristics. Other attributes an IdP sends are accepted and ignored.
pub fn user_schema(base: &str) -> Value {
    let rw = "readWrite";
    let ro = "readOnly";
    json!({
        "schemas": [SCHEMA_URN],
        "id": USER_URN,
        "name": "User",
        "description": "User Account",
        "attributes": [
            string_attr("id", "Unique, stable identifier of the user, assigned by people.", true, ro, "always", "server", false),
            string_attr("externalId", "The identity provider's own identifier of the user.", true, rw, "default", "none", false),
            string_attr("userName", "The user's login name, unique ignoring case; when it is an email address it is also the user's email.", false, rw, "default", "server", true),
            {
                "name": "name",
                "type": "complex",
                "multiValued": false,
                "description": "The user's names.",
                "required": false,
                "mutability": rw,
                "returned": "default",
                "uniqueness": "none",
                "subAttributes": [
                    string_attr("givenName", "Given name.", false, rw, "default", "none", false),
                    string_attr("familyName", "Family name.", false, rw, "default", "none", false)
                ]
            },
            string_attr("displayName", "The name to show; \"<givenName> <familyName>\" when none was given.", false, rw, "default", "none", false),
            {
                "name": "emails",
                "type": "complex",
                "multiValued": true,
                "description": "The user's one email address (type work, primary). Required: when userName is not an email address, the primary (or first) value is the user's email.",
                "required": true,
                "mutability": rw,
                "returned": "default",
                "uniqueness": "none",
                "subAttributes": [
                    string_attr("value", "Email address.", false, rw, "default", "none", true),
                    {
                        "name": "type",
                        "type": "string",
                        "multiValued": false,
                        "description": "Always work.",
                        "required": false,
                        "caseExact": false,
                        "canonicalValues": ["work"],
                        "mutability": rw,
                        "returned": "default",
                        "uniqueness": "none"
                    },
                    {
                        "name": "primary",
                        "type": "boolean",
                        "multiValued": false,
                        "description": "Always true: people keeps one address.",
                        "required": false,
                        "mutability": "readOnly",
                        "returned": "default"
                    }
                ]
            },
            {
                "name": "active",
                "type": "boolean",
                "multiValued": false,
                "description": "False once the user is deactivated: they can no longer sign in. True when a new user is created without it.",
                "required": true,
                "mutability": rw,
                "returned": "default"
            },
            locale_attr(),
            {
                "name": "groups",
                "type": "complex",
                "multiValued": true,
                "description": "The groups the user is a member of (All Users and Administrators are never shown).",
                "required": false,
                "mutability": ro,
                "returned": "default",
                "subAttributes": [
                    string_attr("value", "The group's id.", true, ro, "default", "none", false),
                    {
                        "name": "$ref",
                        "type": "reference",
                        "referenceTypes": ["Group"],
                        "multiValued": false,
                        "description": "The group's URI.",
                        "required": false,
                        "caseExact": true,
                        "mutability": ro,
                        "returned": "default",
                        "uniqueness": "none"
                    },
                    string_attr("display", "The group's name.", false, ro, "default", "none", false)
                ]
            }
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{USER_URN}")
        }
    })
}

/// The core Group schema (RFC 7643 §4.2, §8.7.1) as people serves it.
pub fn group_schema(base: &str) -> Value {
    let rw = "readWrite";
    json!({
        "schemas": [SCHEMA_URN],
        "id": GROUP_URN,
        "name": "Group",
        "description": "Group",
        "attributes": [
            string_attr("id", "Unique, stable identifier of the group, assigned by people.", true, "readOnly", "always", "server", false),
            string_attr("externalId", "The identity provider's own identifier of the group.", true, rw, "default", "none", false),
            string_attr("displayName", "The group's name; unique, compared ignoring case.", false, rw, "default", "server", true),
            {
                "name": "members",
                "type": "complex",
                "multiValued": true,
                "description": "The group's members (users).",
                "required": false,
                "mutability": rw,
                "returned": "default",
                "uniqueness": "none",
                "subAttributes": [
                    string_attr("value", "The member's user id.", true, "immutable", "default", "none", false),
                    {
                        "name": "$ref",
                        "type": "reference",
                        "referenceTypes": ["User"],
                        "multiValued": false,
                        "description": "The member's URI.",
                        "required": false,
                        "caseExact": true,
                        "mutability": "immutable",
                        "returned": "default",
                        "uniqueness": "none"
                    },
                    string_attr("display", "The member's email address.", false, "readOnly", "default", "none", false),
                    {
                        "name": "type",
                        "type": "string",
                        "multiValued": false,
                        "description": "Always User.",
                        "required": false,
                        "caseExact": false,
                        "canonicalValues": ["User"],
                        "mutability": "immutable",
                        "returned": "default",
                        "uniqueness": "none"
                    }
                ]
            }
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{GROUP_URN}")
        }
    })
}

/// Every schema people serves, in `/Schemas` order.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![user_schema(base), group_schema(base)]
}

/// `GET /v2/ServiceProviderConfig`.
pub(crate) async fn get_service_provider_config(
    api: web::Data<Api>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimFailure> {
    refuse_filter(&req)?;
    let base = run_scim(&api, |p| base_url(p, &req, &api))?;
    Ok(ok(&service_provider_config(&base)))
}

/// `GET /v2/ResourceTypes`.
pub(crate) async fn list_resource_types(
    api: web::Data<Api>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimFailure> {
    refuse_filter(&req)?;
    let base = run_scim(&api, |p| base_url(p, &req, &api))?;
    let all = resource_types(&base);
    Ok(ok(&list_response(&all, all.len() as i64, 1)))
}

/// `GET /v2/ResourceTypes/{name}`.
pub(crate) async fn get_resource_type(
    api: web::Data<Api>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    refuse_filter(&req)?;
    let base = run_scim(&api, |p| base_url(p, &req, &api))?;
    resource_types(&base)
        .into_iter()
        .find(|t| t["id"] == name.as_str())
        .map(|t| ok(&t))
        .ok_or_else(|| ScimFailure::not_found(&name))
}

/// `GET /v2/Schemas`.
pub(crate) async fn list_schemas(
    api: web::Data<Api>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimFailure> {
    refuse_filter(&req)?;
    let base = run_scim(&api, |p| base_url(p, &req, &api))?;
    let all = schemas(&base);
    Ok(ok(&list_response(&all, all.len() as i64, 1)))
}

/// `GET /v2/Schemas/{urn}`.
pub(crate) async fn get_schema(
    api: web::Data<Api>,
    req: HttpRequest,
    urn: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    refuse_filter(&req)?;
    let base = run_scim(&api, |p| base_url(p, &req, &api))?;
    schemas(&base)
        .into_iter()
        .find(|s| s["id"] == urn.as_str())
        .map(|s| ok(&s))
        .ok_or_else(|| ScimFailure::not_found(&urn))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute definition carries the characteristics RFC 7643 §7 requires of it.
    fn check_attr(a: &Value) {
        let name = a["name"].as_str().unwrap_or_default();
        assert!(!name.is_empty(), "{a}");
        for key in ["type", "multiValued", "required", "mutability", "returned"] {
            assert!(a.get(key).is_some(), "{name} lacks {key}");
        }
        if a["type"] == "string" || a["type"] == "reference" {
            assert!(a.get("caseExact").is_some(), "{name} lacks caseExact");
            assert!(a.get("uniqueness").is_some(), "{name} lacks uniqueness");
        }
        if let Some(subs) = a["subAttributes"].as_array() {
            subs.iter().for_each(check_attr);
        }
    }

    #[test]
    fn the_user_schema_declares_what_people_stores() {
        let s = user_schema("https://x/api/ee/scim/v2");
        let attrs = s["attributes"].as_array().cloned().unwrap_or_default();
        attrs.iter().for_each(check_attr);
        let names: Vec<_> = attrs.iter().filter_map(|a| a["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "externalId",
                "userName",
                "name",
                "displayName",
                "emails",
                "active",
                "locale",
                "groups"
            ]
        );
        let user_name = &attrs[2];
        assert_eq!(
            (
                &user_name["required"],
                &user_name["caseExact"],
                &user_name["uniqueness"]
            ),
            (&json!(true), &json!(false), &json!("server"))
        );
        assert_eq!(attrs[8]["mutability"], "readOnly");
        assert_eq!(attrs[5]["multiValued"], true);
        assert_eq!(
            s["meta"]["location"],
            format!("https://x/api/ee/scim/v2/Schemas/{USER_URN}")
        );
    }

    #[test]
    fn the_config_declares_only_what_exists() {
        let c = service_provider_config("https://x/api/ee/scim/v2");
        assert_eq!(c["patch"], json!({"supported": true}));
        for feature in ["bulk", "changePassword"] {
            assert_eq!(c[feature]["supported"], false, "{feature}");
        }
        for feature in ["sort", "etag"] {
            assert_eq!(c[feature]["supported"], true, "{feature}");
        }
        assert_eq!(c["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert!(c.get("documentationUri").is_none());
    }
}

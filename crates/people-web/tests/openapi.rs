//! The OpenAPI description: served, valid 3.1, complete, browsable offline; and docs/api.md generated from it.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod apidoc;
mod common;

use std::collections::BTreeSet;

use actix_web::test::TestRequest;
use common::TestApp;
use people_store::testing::Backend;
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::start(Backend::Sqlite).await.unwrap()
}

#[actix_rt::test]
async fn the_description_is_openapi_3_1_and_covers_every_route() {
    let t = app().await;
    let r = t.get("/api/docs/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    // Not listed, and not documented here: /api/ee/scim/v2/* — SCIM has its own discovery documents
    // (ServiceProviderConfig, ResourceTypes, Schemas), and is outside Metabase's API.
    let routes = [
        "GET /api/health",
        "POST /api/session",
        "DELETE /api/session",
        "GET /api/session/properties",
        "POST /api/session/forgot_password",
        "POST /api/session/reset_password",
        "GET /api/session/password_reset_token_valid",
        "GET /api/login-history/current",
        "POST /api/setup",
        "GET /api/user",
        "POST /api/user",
        "GET /api/user/current",
        "GET /api/user/recipients",
        "GET /api/user/{id}",
        "PUT /api/user/{id}",
        "DELETE /api/user/{id}",
        "PUT /api/user/{id}/password",
        "PUT /api/user/{id}/reactivate",
        "PUT /api/user/{id}/modal/{modal}",
        "POST /api/user/{id}/send_invite",
        "PUT /api/user/{id}/send_invite",
        "POST /api/user/{id}/invite_link",
        "GET /api/permissions/group",
        "POST /api/permissions/group",
        "GET /api/permissions/group/{id}",
        "PUT /api/permissions/group/{id}",
        "DELETE /api/permissions/group/{id}",
        "GET /api/permissions/membership",
        "POST /api/permissions/membership",
        "PUT /api/permissions/membership/{id}",
        "DELETE /api/permissions/membership/{id}",
        "PUT /api/permissions/membership/{id}/clear",
        "POST /api/api-key",
        "GET /api/api-key",
        "GET /api/api-key/count",
        "PUT /api/api-key/{id}",
        "PUT /api/api-key/{id}/regenerate",
        "DELETE /api/api-key/{id}",
        "GET /api/ee/scim/api_key",
        "POST /api/ee/scim/api_key",
        "GET /api/setting",
        "GET /api/setting/{key}",
        "PUT /api/setting/{key}",
        "PUT /api/ldap/settings",
    ];
    let expected: BTreeSet<String> = routes.iter().map(|s| s.to_string()).collect();
    assert_eq!(documented, expected);
    // Every $ref points at a schema that exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "missing schema {name}");
    }
    assert!(doc["components"]["securitySchemes"]["session"].is_object());
}

#[actix_rt::test]
async fn swagger_ui_loads_without_any_external_request() {
    let t = app().await;
    let r = t.get("/api/docs", None).await;
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (302, Some("/api/docs/"))
    );
    let r = t.send(TestRequest::get().uri("/api/docs/")).await;
    assert_eq!(r.status, 200);
    let html = r.text();
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            assets.push(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(assets.len() >= 3, "{html}");
    for a in &assets {
        assert!(
            !a.starts_with("http://") && !a.starts_with("https://") && !a.starts_with("//"),
            "external asset {a}"
        );
        let path = format!("/api/docs/{}", a.trim_start_matches("./"));
        let r = t.send(TestRequest::get().uri(&path)).await;
        assert_eq!(r.status, 200, "{path}");
        let body = r.text();
        assert!(
            !body.contains("unpkg.com") && !body.contains("cdn.jsdelivr"),
            "{path} loads from a CDN"
        );
    }
    let init = t
        .send(TestRequest::get().uri("/api/docs/swagger-initializer.js"))
        .await
        .text();
    assert!(init.contains("/api/docs/openapi.json"), "{init}");
}

/// docs/api.md is rendered from the description; `UPDATE_DOCS=1 cargo test` rewrites it.
#[actix_rt::test]
async fn api_md_is_generated_from_the_description() {
    let doc = serde_json::to_value(people_web::openapi::document()).unwrap();
    let rendered = apidoc::markdown(&doc);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    if std::env::var("UPDATE_DOCS").is_ok() {
        std::fs::write(path, &rendered).unwrap();
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == rendered,
        "docs/api.md is stale: run `UPDATE_DOCS=1 cargo test -p people-web --test openapi`"
    );
    let _: Value = doc;
}

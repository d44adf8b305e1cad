//! The SCIM settings over HTTP, on SQLite and PostgreSQL: `scim-base-url` is listed and read like any setting,
//! follows `site-url` (stored or from the environment), is refused on `PUT` as every read-only setting is, and
//! is the base of the locations SCIM answers with; people provisioned through SCIM carry `sso_source` `scim`
//! in the user list the console marks them from.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use actix_web::test::TestRequest;
use common::{keys, TestApp};
use serde_json::{json, Value};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The `GET /api/setting` entry of `key`.
async fn listed(t: &TestApp, s: &str, key: &str) -> Value {
    let r = t.get("/api/setting", Some(s)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == json!(key))
        .cloned()
        .unwrap_or_else(|| panic!("{key} is not listed"))
}

/// Turns SCIM on and makes a token; returns the token.
async fn scim_ready(t: &TestApp, s: &str) -> String {
    let r = t
        .put("/api/setting/scim-enabled", Some(s), json!({"value": true}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = t.post("/api/ee/scim/api_key", Some(s), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["unmasked_key"].as_str().unwrap().to_string()
}

/// `POST /api/ee/scim/v2/Users` of `email` with the SCIM token: the created resource.
async fn provision(t: &TestApp, token: &str, email: &str) -> Value {
    let body = json!({
        "schemas": [USER_URN],
        "userName": email,
        "name": {"givenName": "Sam", "familyName": "Scim"},
        "active": true
    });
    let req = TestRequest::post()
        .uri("/api/ee/scim/v2/Users")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/scim+json"))
        .set_payload(body.to_string());
    let r = t.send(req).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

web_tests! {
    /// Listed and read by superusers only, with the value it follows; the list's shape is every setting's.
    async fn the_scim_base_url_is_listed_and_read(t) {
        let s = t.setup().await;
        let entry = listed(&t, &s, "scim-base-url").await;
        assert_eq!(
            entry,
            json!({
                "key": "scim-base-url",
                "value": null,
                "description": entry["description"].clone(),
                "default": "http://localhost:3000/api/ee/scim/v2",
                "env_name": "MB_SCIM_BASE_URL",
                "is_env_setting": false,
            })
        );
        assert!(entry["description"].as_str().unwrap().contains("/api/ee/scim/v2"), "{entry}");
        assert_eq!(keys(&entry), keys(&listed(&t, &s, "site-url").await));
        let r = t.get("/api/setting/scim-base-url", Some(&s)).await;
        assert_eq!((r.status, r.json()), (200, json!("http://localhost:3000/api/ee/scim/v2")));

        // It follows site-url, and goes back with it.
        let r = t.put("/api/setting/site-url", Some(&s), json!({"value": "https://people.example/"})).await;
        assert_eq!(r.status, 204, "{}", r.text());
        assert_eq!(
            t.get("/api/setting/scim-base-url", Some(&s)).await.json(),
            json!("https://people.example/api/ee/scim/v2")
        );
        assert_eq!(
            listed(&t, &s, "scim-base-url").await["default"],
            json!("https://people.example/api/ee/scim/v2")
        );
        t.put("/api/setting/site-url", Some(&s), json!({"value": null})).await;
        assert_eq!(
            t.get("/api/setting/scim-base-url", Some(&s)).await.json(),
            json!("http://localhost:3000/api/ee/scim/v2")
        );

        t.add_user("p@x.com", None, None, false);
        let ps = t.login("p@x.com").await;
        assert_eq!(t.get("/api/setting/scim-base-url", Some(&ps)).await.status, 403);
        assert_eq!(t.get("/api/setting/scim-base-url", None).await.status, 401);
    }

    /// `PUT` is refused as for the other read-only setting: 400 naming it, whatever the value, nothing stored;
    /// a caller who may not change settings hears that first.
    async fn the_scim_base_url_cannot_be_set(t) {
        let s = t.setup().await;
        let other = t.put("/api/setting/enable-password-login", Some(&s), json!({"value": false})).await;
        assert_eq!((other.status, other.text()), (400, "Setting enable-password-login is read-only.".to_string()));
        for value in [json!("https://elsewhere.example/api/ee/scim/v2"), json!(null), json!(""), json!(true)] {
            let r = t.put("/api/setting/scim-base-url", Some(&s), json!({ "value": value })).await;
            assert_eq!(
                (r.status, r.text(), r.content_type()),
                (400, "Setting scim-base-url is read-only.".to_string(), other.content_type()),
                "{value}"
            );
        }
        assert_eq!(t.store().read(|r| r.setting("scim-base-url")).unwrap(), None, "nothing stored");
        assert_eq!(
            t.get("/api/setting/scim-base-url", Some(&s)).await.json(),
            json!("http://localhost:3000/api/ee/scim/v2")
        );
        t.add_user("p@x.com", None, None, false);
        let ps = t.login("p@x.com").await;
        let r = t.put("/api/setting/scim-base-url", Some(&ps), json!({"value": "x"})).await;
        assert_eq!(r.status, 403, "{}", r.text());
        let r = t.put("/api/setting/scim-base-url", None, json!({"value": "x"})).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }

    /// The setting is the base SCIM itself answers with: a created person's `meta.location` is under it.
    async fn scim_locations_are_under_the_scim_base_url(t) {
        let s = t.setup().await;
        t.put("/api/setting/site-url", Some(&s), json!({"value": "https://people.example"})).await;
        let token = scim_ready(&t, &s).await;
        let base = t.get("/api/setting/scim-base-url", Some(&s)).await.json();
        let base = base.as_str().unwrap();
        let made = provision(&t, &token, "sam@example.com").await;
        let id = made["id"].as_str().unwrap();
        assert_eq!(made["meta"]["location"], json!(format!("{base}/Users/{id}")), "{made}");
    }

    /// `MB_SCIM_BASE_URL` sets nothing: the base follows `MB_SITE_URL`.
    async fn the_environment_cannot_set_the_scim_base_url(t) {
        drop(t);
        let settings = people_domain::setting::EnvDefaults::from_lookup(|k| match k {
            "MB_SITE_URL" => Some("https://env.example/".to_string()),
            "MB_SCIM_BASE_URL" => Some("https://elsewhere.example/scim".to_string()),
            _ => None,
        })
        .unwrap();
        let config = people_domain::Config { settings, ..common::test_config() };
        let t = TestApp::start_with(BACKEND, config, people_web::WebConfig::default()).await.unwrap();
        let s = t.setup().await;
        assert_eq!(
            t.get("/api/setting/scim-base-url", Some(&s)).await.json(),
            json!("https://env.example/api/ee/scim/v2")
        );
    }

    /// `GET /api/user` gives each person's `sso_source`: `scim` for someone SCIM provisioned, null for someone
    /// an administrator added; `GET /api/user/:id` the same.
    async fn people_provisioned_by_scim_are_marked_in_the_user_list(t) {
        let s = t.setup().await;
        let token = scim_ready(&t, &s).await;
        provision(&t, &token, "sam@example.com").await;
        let r = t
            .post("/api/user", Some(&s), json!({"email": "ann@example.com", "first_name": "Ann"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = t.get("/api/user", Some(&s)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let list = r.json();
        let source = |email: &str| {
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["email"] == json!(email))
                .map(|u| u["sso_source"].clone())
                .unwrap_or_else(|| panic!("{email} is not listed: {list}"))
        };
        assert_eq!(source("sam@example.com"), json!("scim"));
        assert_eq!(source("ann@example.com"), Value::Null);
        assert_eq!(source("admin@example.com"), Value::Null);
        let sam = list["data"].as_array().unwrap().iter().find(|u| u["email"] == json!("sam@example.com")).unwrap();
        let one = t.get(&format!("/api/user/{}", sam["id"]), Some(&s)).await.json();
        assert_eq!(one["sso_source"], json!("scim"));
    }
}

//! SCIM over HTTP, on SQLite and PostgreSQL: the SCIM token endpoints (`/api/ee/scim/api_key`), the
//! protocol's authentication (the SCIM token only, only while `scim-enabled`), discovery documents, and
//! `/v2/Users` as Okta drives it; every `/v2` answer is `application/scim+json` and every error a SCIM Error.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use std::collections::BTreeSet;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::{keys, Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The default `site-url` and the SCIM base built on it.
const BASE: &str = "http://localhost:3000/api/ee/scim/v2";

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Checks what every `/v2` answer must be: SCIM JSON (a 204 has no body and no media type), and a SCIM
/// Error with a string status when it fails; the security headers and `no-store` always.
fn checked(r: Resp, what: &str) -> Resp {
    let all = format!("{what}: {} {} {:?}", r.status, r.text(), r.headers);
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{all}"
    );
    assert_eq!(
        r.header("x-frame-options").as_deref(),
        Some("DENY"),
        "{all}"
    );
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("no-store"),
        "{all}"
    );
    if r.status == 204 {
        assert!(r.body.is_empty(), "{all}");
        assert_eq!(r.header("content-type"), None, "{all}");
        return r;
    }
    assert_eq!(r.content_type(), "application/scim+json", "{all}");
    if r.status >= 400 {
        let e = r.json();
        assert_eq!(e["schemas"], json!([ERROR_URN]), "{what}: {e}");
        assert_eq!(e["status"], json!(r.status.to_string()), "{what}: {e}");
        assert!(e["detail"].is_string(), "{what}: {e}");
    }
    r
}

/// A request under `/api/ee/scim/v2` with `Authorization: Bearer <token>` and a SCIM JSON body.
async fn scim(
    t: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let uri = format!("/api/ee/scim/v2{path}");
    let mut req = TestRequest::default().method(method.clone()).uri(&uri);
    if let Some(tok) = token {
        req = req.insert_header(("Authorization", format!("Bearer {tok}")));
    }
    if let Some(b) = body {
        req = req
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    checked(t.send(req).await, &format!("{method} {uri}"))
}

async fn get(t: &TestApp, path: &str, token: &str) -> Resp {
    scim(t, Method::GET, path, Some(token), None).await
}

async fn enable(t: &TestApp, s: &str, on: bool) {
    let r = t
        .put("/api/setting/scim-enabled", Some(s), json!({ "value": on }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
}

async fn new_token(t: &TestApp, s: &str) -> String {
    let r = t.post("/api/ee/scim/api_key", Some(s), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["unmasked_key"].as_str().unwrap().to_string()
}

/// Set up, SCIM on, a token: (admin session, SCIM token).
async fn ready(t: &TestApp) -> (String, String) {
    let s = t.setup().await;
    enable(t, &s, true).await;
    let token = new_token(t, &s).await;
    (s, token)
}

fn okta_user(email: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": email,
        "name": {"givenName": "Okta", "familyName": "User"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": "Okta User",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "not-used-1A!",
        "active": true
    })
}

async fn by_user_name(t: &TestApp, token: &str, user_name: &str) -> Value {
    let filter = enc(&format!("userName eq \"{user_name}\""));
    let r = get(t, &format!("/Users?filter={filter}"), token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Creates `email` through SCIM: its SCIM id.
async fn provision(t: &TestApp, token: &str, email: &str) -> String {
    let r = scim(
        t,
        Method::POST,
        "/Users",
        Some(token),
        Some(okta_user(email)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// `PATCH /Users/{id}` with a PatchOp message of `ops`.
async fn patch(t: &TestApp, token: &str, id: &str, ops: Value) -> Resp {
    let body = json!({"schemas": [PATCH_URN], "Operations": ops});
    scim(
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

/// The people id of `email`.
fn user_id(t: &TestApp, email: &str) -> i64 {
    t.store()
        .read(|r| r.user_by_email(email))
        .unwrap()
        .unwrap()
        .id
        .0
}

/// (status, scimType) of a failed answer.
fn refusal(r: &Resp) -> (u16, Value) {
    (r.status, r.json()["scimType"].clone())
}

web_tests! {
    async fn the_token_is_made_shown_once_and_replaced(t) {
        let s = t.setup().await;
        let r = t.get("/api/ee/scim/api_key", Some(&s)).await;
        assert_eq!((r.status, r.text()), (404, "Not found.".to_string()));

        let r = t.post("/api/ee/scim/api_key", Some(&s), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let made = r.json();
        assert_eq!(
            keys(&made),
            set(&["id", "user_id", "key_prefix", "creator_id", "updated_by_id", "created_at", "updated_at",
                "name", "scope", "masked_key", "unmasked_key"])
        );
        let token = made["unmasked_key"].as_str().unwrap().to_string();
        assert_eq!(token.len(), 47);
        assert!(token.starts_with("mb_"));
        assert_eq!(made["user_id"], Value::Null);
        assert_eq!(made["scope"], json!("scim"));
        assert_eq!(made["creator_id"], json!(1));
        assert_eq!(made["updated_by_id"], json!(1));
        assert_eq!(made["key_prefix"], json!(&token[..7]));
        assert_eq!(made["masked_key"], json!(format!("{}{}", &token[..7], "*".repeat(40))));
        assert!(made["name"].as_str().unwrap().starts_with("Metabase SCIM API Key - "), "{made}");

        let r = t.get("/api/ee/scim/api_key", Some(&s)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let read = r.json();
        assert_eq!(
            keys(&read),
            set(&["id", "user_id", "key_prefix", "creator_id", "updated_by_id", "created_at", "updated_at",
                "name", "scope", "masked_key"])
        );
        assert_eq!((&read["id"], &read["masked_key"]), (&made["id"], &made["masked_key"]));
        assert!(!r.text().contains(&token));
        assert_eq!(t.get("/api/ee/scim/api_key/", Some(&s)).await.status, 200, "trailing slash");
        // Not an ordinary API key.
        assert_eq!(t.get("/api/api-key/count", Some(&s)).await.json(), json!(0));

        enable(&t, &s, true).await;
        assert_eq!(get(&t, "/Users", &token).await.status, 200);
        let second = new_token(&t, &s).await;
        assert_ne!(second, token);
        let r = get(&t, "/Users", &token).await;
        assert_eq!(r.status, 401, "the replaced token no longer works");
        assert_eq!(get(&t, "/Users", &second).await.status, 200);
        let read = t.get("/api/ee/scim/api_key", Some(&s)).await.json();
        assert_ne!(read["id"], made["id"]);
        assert_eq!(read["key_prefix"], json!(&second[..7]));
    }

    async fn only_superusers_handle_the_token(t) {
        let admin = t.setup().await;
        t.add_user("pat@example.com", Some("Pat"), Some("Plain"), false);
        let pat = t.login("pat@example.com").await;
        for method in [Method::GET, Method::POST] {
            let r = t.call(method.clone(), "/api/ee/scim/api_key", Some(&pat), None).await;
            assert_eq!((r.status, r.text()), (403, "You don't have permissions to do that.".to_string()), "{method}");
            let r = t.call(method.clone(), "/api/ee/scim/api_key", None, None).await;
            assert_eq!((r.status, r.text()), (401, "Unauthenticated".to_string()), "{method}");
        }
        // Unknown paths under /api/ee/scim need a session first (but not /v2, which has its own answer).
        let r = t.get("/api/ee/scim/nothing", None).await;
        assert_eq!((r.status, r.text()), (401, "Unauthenticated".to_string()));
        let r = t.get("/api/ee/scim/nothing", Some(&admin)).await;
        assert_eq!((r.status, r.text()), (404, "API endpoint does not exist.".to_string()));
        // An API key in Administrators may handle it, as a superuser session may.
        let r = t.post("/api/api-key", Some(&admin), json!({"name": "ops", "group_id": 2})).await;
        let key = r.json()["unmasked_key"].as_str().unwrap().to_string();
        let r = t.send(TestRequest::post().uri("/api/ee/scim/api_key").insert_header(("X-Api-Key", key))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["creator_id"], json!(1 + 2), "the key's own user (admin, pat, key user)");
    }

    async fn v2_is_closed_while_scim_is_disabled(t) {
        let s = t.setup().await;
        let token = new_token(&t, &s).await;
        for path in ["/Users", "/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Users/abc", "/nothing", ""] {
            let r = get(&t, path, &token).await;
            assert_eq!(r.status, 401, "{path}");
            assert_eq!(
                r.json(),
                json!({"schemas": [ERROR_URN], "status": "401", "detail": "Unauthenticated"}),
                "{path}"
            );
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"), "{path}");
        }
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("a@example.com"))).await;
        assert_eq!(r.status, 401);
        enable(&t, &s, true).await;
        assert_eq!(get(&t, "/Users", &token).await.status, 200);
        // While SCIM is on, the discovery documents answer without the token (provisioning agents probe
        // them first); resources still need it.
        for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
            let r = checked(t.send(TestRequest::get().uri(&format!("/api/ee/scim/v2{path}"))).await, path);
            assert_eq!(r.status, 200, "{path}");
        }
        let r = checked(t.send(TestRequest::get().uri("/api/ee/scim/v2/Users")).await, "anonymous users");
        assert_eq!(r.status, 401);
        enable(&t, &s, false).await;
        assert_eq!(get(&t, "/Users", &token).await.status, 401);
        let r = t.send(TestRequest::get().uri("/api/ee/scim/v2/ServiceProviderConfig")).await;
        assert_eq!(r.status, 401, "closed again");
    }

    async fn v2_takes_only_the_scim_token_and_the_token_nothing_else(t) {
        let (s, token) = ready(&t).await;
        let uri = "/api/ee/scim/v2/Users";
        // No credential, a session, an ordinary API key (as a header or as the bearer), another scheme.
        let r = checked(t.send(TestRequest::get().uri(uri)).await, "anonymous");
        assert_eq!(r.status, 401);
        let r = checked(t.get(uri, Some(&s)).await, "session");
        assert_eq!(r.status, 401);
        let admin_key = t.post("/api/api-key", Some(&s), json!({"name": "ops", "group_id": 2})).await.json()
            ["unmasked_key"].as_str().unwrap().to_string();
        let r = checked(t.send(TestRequest::get().uri(uri).insert_header(("X-Api-Key", admin_key.clone()))).await, "x-api-key");
        assert_eq!(r.status, 401);
        assert_eq!(get(&t, "/Users", &admin_key).await.status, 401, "an API key as the bearer");
        let r = checked(t.send(TestRequest::get().uri(uri).insert_header(("X-Api-Key", token.clone()))).await, "token as key");
        assert_eq!(r.status, 401);
        let r = checked(t.send(TestRequest::get().uri(uri).insert_header(("Authorization", format!("Basic {token}")))).await, "basic");
        assert_eq!(r.status, 401);
        // The scheme in any case, the header name in any case.
        for (name, scheme) in [("Authorization", "bearer"), ("authorization", "BEARER"), ("AUTHORIZATION", "Bearer")] {
            let r = checked(
                t.send(TestRequest::get().uri(uri).insert_header((name, format!("{scheme} {token}")))).await,
                scheme,
            );
            assert_eq!(r.status, 200, "{name}: {scheme}");
        }
        // The SCIM token opens nothing outside /v2.
        for req in [
            TestRequest::get().uri("/api/user").insert_header(("Authorization", format!("Bearer {token}"))),
            TestRequest::get().uri("/api/user").insert_header(("X-Api-Key", token.clone())),
            TestRequest::get().uri("/api/ee/scim/api_key").insert_header(("X-Api-Key", token.clone())),
            TestRequest::get().uri("/api/user/current").insert_header(("Authorization", format!("Bearer {token}"))),
        ] {
            let r = t.send(req).await;
            assert_eq!((r.status, r.text()), (401, "Unauthenticated".to_string()));
        }
    }

    async fn discovery_declares_what_people_does(t) {
        let (_, token) = ready(&t).await;
        let r = get(&t, "/ServiceProviderConfig", &token).await;
        assert_eq!(r.status, 200);
        let c = r.json();
        assert_eq!(c["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
        assert_eq!(c["patch"], json!({"supported": true}));
        assert_eq!(c["bulk"], json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}));
        assert_eq!(c["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(c["changePassword"], json!({"supported": false}));
        for f in ["sort", "etag"] {
            assert_eq!(c[f], json!({"supported": true}), "{f}");
        }
        let schemes = c["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 1);
        assert_eq!(
            (&schemes[0]["type"], &schemes[0]["name"], &schemes[0]["primary"]),
            (&json!("oauthbearertoken"), &json!("OAuth Bearer Token"), &json!(true))
        );
        assert!(schemes[0]["description"].is_string());
        assert!(c.get("documentationUri").is_none());
        assert_eq!(c["meta"]["location"], json!(format!("{BASE}/ServiceProviderConfig")));

        let r = get(&t, "/ResourceTypes", &token).await;
        let list = r.json();
        assert_eq!(list["schemas"], json!([LIST_URN]));
        assert_eq!((&list["totalResults"], &list["itemsPerPage"], &list["startIndex"]), (&json!(2), &json!(2), &json!(1)));
        let user_type = &list["Resources"][0];
        assert_eq!(
            (&user_type["id"], &user_type["endpoint"], &user_type["schema"]),
            (&json!("User"), &json!("/Users"), &json!(USER_URN))
        );
        assert_eq!(get(&t, "/ResourceTypes/User", &token).await.json(), *user_type);
        assert_eq!(user_type["meta"]["location"], json!(format!("{BASE}/ResourceTypes/User")));
        let group_type = get(&t, "/ResourceTypes/Group", &token).await.json();
        assert_eq!((&group_type["id"], &group_type["endpoint"]), (&json!("Group"), &json!("/Groups")));
        assert_eq!(get(&t, "/ResourceTypes/Nope", &token).await.status, 404);

        let list = get(&t, "/Schemas", &token).await.json();
        assert_eq!(list["schemas"], json!([LIST_URN]));
        assert_eq!(list["totalResults"], json!(2));
        let schema = &list["Resources"][0];
        assert_eq!(get(&t, &format!("/Schemas/{USER_URN}"), &token).await.json(), *schema);
        assert_eq!(schema["id"], json!(USER_URN));
        assert_eq!(schema["meta"]["location"], json!(format!("{BASE}/Schemas/{USER_URN}")));
        let attrs = schema["attributes"].as_array().unwrap();
        let attr = |name: &str| attrs.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("{name}")).clone();
        let names: BTreeSet<String> = attrs.iter().map(|a| a["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names, set(&["id", "externalId", "userName", "name", "displayName", "emails", "active", "locale", "groups"]));
        let user_name = attr("userName");
        assert_eq!(
            (&user_name["required"], &user_name["caseExact"], &user_name["uniqueness"], &user_name["mutability"]),
            (&json!(true), &json!(false), &json!("server"), &json!("readWrite"))
        );
        assert_eq!((attr("id")["mutability"].clone(), attr("id")["returned"].clone()), (json!("readOnly"), json!("always")));
        assert_eq!((attr("groups")["mutability"].clone(), attr("groups")["multiValued"].clone()), (json!("readOnly"), json!(true)));
        assert_eq!(attr("emails")["multiValued"], json!(true));
        let email_subs: BTreeSet<String> = attr("emails")["subAttributes"].as_array().unwrap().iter()
            .map(|a| a["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(email_subs, set(&["value", "type", "primary"]));
        assert_eq!(get(&t, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", &token).await.json()["name"], json!("Group"));
        assert_eq!(get(&t, "/Schemas/nonsense", &token).await.status, 404);

        // RFC 7644 §4: a filter on discovery is refused; other methods are not allowed.
        let r = get(&t, &format!("/Schemas?filter={}", enc("id eq \"x\"")), &token).await;
        assert_eq!(r.status, 403);
        let r = scim(&t, Method::DELETE, "/ServiceProviderConfig", Some(&token), None).await;
        assert_eq!(r.status, 405);
    }

    async fn locations_follow_the_site_url(t) {
        let (s, token) = ready(&t).await;
        let r = t.put("/api/setting/site-url", Some(&s), json!({"value": "https://people.example.com/"})).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let c = get(&t, "/ServiceProviderConfig", &token).await.json();
        assert_eq!(
            c["meta"]["location"],
            json!("https://people.example.com/api/ee/scim/v2/ServiceProviderConfig")
        );
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("loc@example.com"))).await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(
            r.header("location").unwrap(),
            format!("https://people.example.com/api/ee/scim/v2/Users/{id}")
        );
    }

    async fn okta_creates_a_user_after_looking_for_it(t) {
        let (_, token) = ready(&t).await;
        let empty = by_user_name(&t, &token, "okta.user@example.com").await;
        assert_eq!(
            empty,
            json!({"schemas": [LIST_URN], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );

        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("Okta.User@example.com"))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let u = r.json();
        let id = u["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 21);
        assert_eq!(r.header("location").unwrap(), format!("{BASE}/Users/{id}"));
        assert_eq!(
            keys(&u),
            set(&["schemas", "id", "externalId", "userName", "name", "displayName", "emails", "active", "locale",
                "groups", "meta"])
        );
        assert_eq!(u["schemas"], json!([USER_URN]));
        assert_eq!(u["userName"], json!("Okta.User@example.com"), "stored as sent");
        assert_eq!(u["emails"][0]["value"], json!("okta.user@example.com"));
        assert_eq!(u["externalId"], json!("00u1abcd"));
        assert_eq!(u["name"], json!({"givenName": "Okta", "familyName": "User"}));
        assert_eq!(u["displayName"], json!("Okta User"));
        assert_eq!(u["emails"], json!([{"value": "okta.user@example.com", "type": "work", "primary": true}]));
        assert_eq!(u["active"], json!(true));
        assert_eq!(u["locale"], json!("en-US"));
        assert_eq!(u["groups"], json!([]));
        let meta = &u["meta"];
        assert_eq!(keys(meta), set(&["resourceType", "created", "lastModified", "location", "version"]));
        assert_eq!(meta["resourceType"], json!("User"));
        assert_eq!(meta["location"], json!(format!("{BASE}/Users/{id}")));
        for ts in ["created", "lastModified"] {
            let text = meta[ts].as_str().unwrap();
            assert!(text.ends_with('Z'), "{text}");
            chrono::DateTime::parse_from_rfc3339(text).unwrap();
        }
        let version = meta["version"].as_str().unwrap();
        assert!(version.starts_with("W/\"") && version.ends_with('"'), "{version}");

        let found = by_user_name(&t, &token, "OKTA.USER@example.com").await;
        assert_eq!((&found["totalResults"], &found["itemsPerPage"]), (&json!(1), &json!(1)));
        assert_eq!(found["Resources"][0], u);
        let r = get(&t, &format!("/Users/{id}"), &token).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), u);
        assert_eq!(get(&t, &format!("/Users/{id}/"), &token).await.json(), u, "trailing slash");

        // The person exists in people: no password, provisioned by SCIM.
        let user = t.store().read(|r| r.user_by_email("okta.user@example.com")).unwrap().unwrap();
        assert!(user.password_hash.is_none());
        assert_eq!(user.entity_id.as_deref(), Some(id.as_str()));

        // Again: taken, whatever the case.
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("OKTA.user@example.com"))).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.json()["scimType"], json!("uniqueness"));
        // A person made through /api/user is taken as well.
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("admin@example.com"))).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));
    }

    async fn a_user_without_optional_attributes_omits_them(t) {
        let (_, token) = ready(&t).await;
        let r = scim(&t, Method::POST, "/Users", Some(&token),
            Some(json!({"schemas": [USER_URN], "userName": "bare@example.com", "active": false}))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let u = r.json();
        assert_eq!(
            keys(&u),
            set(&["schemas", "id", "userName", "emails", "active", "groups", "meta"])
        );
        assert_eq!(u["active"], json!(false));
        let r = scim(&t, Method::POST, "/Users", Some(&token),
            Some(json!({"schemas": [USER_URN], "userName": "half@example.com", "name": {"familyName": "Lee"}, "locale": "pt_BR"}))).await;
        let u = r.json();
        assert_eq!(u["name"], json!({"familyName": "Lee"}));
        assert_eq!(u["displayName"], json!("Lee"));
        assert_eq!(u["locale"], json!("pt-BR"));
    }

    async fn lists_page_and_cap(t) {
        let (_, token) = ready(&t).await;
        for i in 0..201 {
            t.add_user(&format!("u{i:03}@example.com"), Some("U"), Some(&format!("{i}")), false);
        }
        // 201 + the administrator.
        let r = get(&t, "/Users?count=1000000000", &token).await;
        let page = r.json();
        assert_eq!((&page["totalResults"], &page["itemsPerPage"], &page["startIndex"]), (&json!(202), &json!(200), &json!(1)));
        assert_eq!(page["Resources"].as_array().unwrap().len(), 200);
        let page = get(&t, "/Users", &token).await.json();
        assert_eq!(page["itemsPerPage"], json!(200), "the default is maxResults");
        let page = get(&t, "/Users?startIndex=-5&count=2", &token).await.json();
        assert_eq!((&page["startIndex"], &page["itemsPerPage"]), (&json!(1), &json!(2)));
        let first_two: Vec<Value> = page["Resources"].as_array().unwrap().clone();
        let page = get(&t, "/Users?startIndex=2&count=2", &token).await.json();
        assert_eq!(page["startIndex"], json!(2));
        assert_eq!(page["Resources"][0], first_two[1]);
        let page = get(&t, "/Users?startIndex=201&count=10", &token).await.json();
        assert_eq!((&page["itemsPerPage"], &page["totalResults"]), (&json!(2), &json!(202)));
        let page = get(&t, "/Users?count=0", &token).await.json();
        assert_eq!((&page["itemsPerPage"], &page["totalResults"], &page["Resources"]), (&json!(0), &json!(202), &json!([])));
        let page = get(&t, &format!("/Users?filter={}", enc("name.familyName sw \"19\"")), &token).await.json();
        assert_eq!(page["totalResults"], json!(11), "19 and 190-199");
        let r = get(&t, "/Users?count=many", &token).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
    }

    async fn refusals_are_scim_errors(t) {
        let (_, token) = ready(&t).await;
        let r = get(&t, "/Users/no-such-user", &token).await;
        assert_eq!(
            (r.status, r.json()),
            (404, json!({"schemas": [ERROR_URN], "status": "404", "detail": "Resource no-such-user not found"}))
        );
        for filter in ["userName eq", "nickName eq \"x\"", "userName zz \"x\"", "(userName eq \"x\""] {
            let r = get(&t, &format!("/Users?filter={}", enc(filter)), &token).await;
            assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidFilter")), "{filter}");
        }
        // Bodies: not JSON, not an object, empty, not a User, a bad value.
        let post_raw = |body: &'static str, content_type: &'static str| {
            TestRequest::post()
                .uri("/api/ee/scim/v2/Users")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", content_type))
                .set_payload(body)
        };
        for body in ["{\"schemas\": [", "[1, 2]", "\"text\"", "", "   "] {
            let r = checked(t.send(post_raw(body, "application/scim+json")).await, body);
            assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidSyntax")), "{body:?}");
        }
        let r = checked(t.send(post_raw("{\"userName\": \"x@example.com\"}", "application/json")).await, "no schemas");
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidSyntax")));
        let r = checked(t.send(post_raw("userName=x", "text/plain")).await, "text/plain");
        assert_eq!(r.status, 415);
        let mut bad = okta_user("bad@example.com");
        bad["locale"] = json!("xx-nowhere");
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(bad)).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(json!({"schemas": [USER_URN], "userName": "not an email"}))).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
        let mut huge = okta_user("huge@example.com");
        huge["padding"] = json!("x".repeat(1 << 20));
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(huge)).await;
        assert_eq!(r.status, 413);
        // Paths and methods that do not exist.
        assert_eq!(get(&t, "/Groupz", &token).await.status, 404);
        assert_eq!(get(&t, "/nothing/at/all", &token).await.status, 404);
        assert_eq!(get(&t, "", &token).await.status, 404);
        let r = scim(&t, Method::DELETE, "/Users", Some(&token), None).await;
        assert_eq!(r.status, 405);
        let r = scim(&t, Method::POST, "/Users/abc", Some(&token), Some(json!({}))).await;
        assert_eq!(r.status, 405);
        // Searching by POST: the list of GET /Users, its parameters in the body.
        let r = scim(&t, Method::POST, "/Users/.search", Some(&token),
            Some(json!({"schemas": [SEARCH_URN], "filter": "userName eq \"admin@example.com\"", "count": 10}))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["totalResults"], json!(1));
        assert_eq!(r.json()["Resources"][0]["userName"], json!("admin@example.com"));
        let r = scim(&t, Method::POST, "/Users/.search", Some(&token), Some(json!({"filter": "bogus xx"}))).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidFilter")));
        let r = scim(&t, Method::GET, "/Users/.search", Some(&token), None).await;
        assert_eq!(r.status, 405);
    }

    async fn the_magic_groups_never_appear(t) {
        let (s, token) = ready(&t).await;
        let admin = by_user_name(&t, &token, "admin@example.com").await;
        assert_eq!(admin["totalResults"], json!(1));
        assert_eq!(admin["Resources"][0]["groups"], json!([]), "Administrators and All Users are hidden");

        let g = t.post("/api/permissions/group", Some(&s), json!({"name": "Sales"})).await.json()["id"].as_i64().unwrap();
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("seller@example.com"))).await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        let user_id = t.store().read(|r| r.user_by_email("seller@example.com")).unwrap().unwrap().id;
        for (user, group) in [(user_id.0, g), (1, g)] {
            let r = t.post("/api/permissions/membership", Some(&s), json!({"user_id": user, "group_id": group})).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let entity = t.store().read(|r| r.group_by_id(people_domain::GroupId(g))).unwrap().unwrap().entity_id.unwrap();
        let expected = json!([{"value": entity, "$ref": format!("{BASE}/Groups/{entity}"), "display": "Sales"}]);
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.json()["groups"], expected);
        let admin = by_user_name(&t, &token, "admin@example.com").await;
        assert_eq!(admin["Resources"][0]["groups"], expected);
        let all = get(&t, "/Users", &token).await.json();
        for u in all["Resources"].as_array().unwrap() {
            for grp in u["groups"].as_array().unwrap() {
                assert_eq!(grp["display"], json!("Sales"), "{u}");
            }
        }
    }

    async fn api_key_users_are_invisible(t) {
        let (s, token) = ready(&t).await;
        t.post("/api/api-key", Some(&s), json!({"name": "ops", "group_id": 2})).await;
        let all = get(&t, "/Users", &token).await.json();
        assert_eq!(all["totalResults"], json!(1), "{all}");
        assert_eq!(all["Resources"][0]["userName"], json!("admin@example.com"));
    }

    async fn okta_deactivates_and_reactivates_and_ends_sessions(t) {
        let (admin, token) = ready(&t).await;
        let id = provision(&t, &token, "okta.off@example.com").await;
        // A password set by an administrator lets them sign in.
        let uid = user_id(&t, "okta.off@example.com");
        let r = t.put(&format!("/api/user/{uid}/password"), Some(&admin), json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let session = t.login("okta.off@example.com").await;
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 200);

        let r = patch(&t, &token, &id, json!([{"op": "replace", "value": {"active": false}}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!((&u["id"], &u["active"]), (&json!(id), &json!(false)));
        assert_eq!(u["userName"], json!("okta.off@example.com"), "nothing else changed");
        assert_eq!(u["name"], json!({"givenName": "Okta", "familyName": "User"}));
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.json(), u);
        let r = t.get("/api/user/current", Some(&session)).await;
        assert_eq!(r.status, 401, "deactivation ended the session: {}", r.text());
        let r = t.post("/api/session", None, json!({"username": "okta.off@example.com", "password": PASSWORD})).await;
        assert_ne!(r.status, 200, "an inactive person cannot sign in");
        assert_eq!(t.get(&format!("/api/user/{uid}"), Some(&admin)).await.json()["is_active"], json!(false));

        let r = patch(&t, &token, &id, json!([{"op": "replace", "value": {"active": true}}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["active"], json!(true));
        let session = t.login("okta.off@example.com").await;
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 200);
    }

    async fn entra_patches_as_entra_sends_them(t) {
        let (admin, token) = ready(&t).await;
        let id = provision(&t, &token, "entra@example.com").await;
        let uid = user_id(&t, "entra@example.com");

        let r = patch(&t, &token, &id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["active"], json!(false));
        let r = patch(&t, &token, &id, json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
        assert_eq!(r.json()["active"], json!(true));

        let r = patch(&t, &token, &id, json!([{"op": "Add", "path": "name.givenName", "value": "Ann"}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["name"], json!({"givenName": "Ann", "familyName": "User"}));
        assert_eq!(r.json()["displayName"], json!("Okta User"), "the displayName sent is kept");

        let r = patch(&t, &token, &id,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!(u["userName"], json!("new@example.com"));
        assert_eq!(u["emails"], json!([{"value": "new@example.com", "type": "work", "primary": true}]));
        assert_eq!(u["id"], json!(id), "the same resource");
        assert_eq!(t.get(&format!("/api/user/{uid}"), Some(&admin)).await.json()["email"], json!("new@example.com"));
        assert_eq!(by_user_name(&t, &token, "entra@example.com").await["totalResults"], json!(0));
        assert_eq!(by_user_name(&t, &token, "new@example.com").await["Resources"][0], u);

        let r = patch(&t, &token, &id, json!([{"op": "remove", "path": "externalId"}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert!(u.get("externalId").is_none(), "{u}");
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.json(), u);

        // Several operations at once, as Entra batches them.
        let r = patch(&t, &token, &id, json!([
            {"op": "Replace", "path": "name.familyName", "value": "Lee"},
            {"op": "Add", "path": "externalId", "value": "entra-object-id"},
            {"op": "Replace", "path": "active", "value": "False"}
        ])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!((&u["name"]["familyName"], &u["externalId"], &u["active"]),
            (&json!("Lee"), &json!("entra-object-id"), &json!(false)));
    }

    async fn put_replaces_the_user(t) {
        let (_, token) = ready(&t).await;
        let id = provision(&t, &token, "put@example.com").await;
        let created = get(&t, &format!("/Users/{id}"), &token).await.json();
        let body = json!({
            "schemas": [USER_URN],
            "id": id,
            "userName": "Put@Example.com",
            "name": {"givenName": "Pia", "familyName": "Ut"},
            "emails": [{"primary": true, "value": "put@example.com", "type": "work"}],
            "externalId": "00u2put",
            "active": false
        });
        let r = scim(&t, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!(u["id"], json!(id));
        assert_eq!(u["userName"], json!("Put@Example.com"), "its own userName, as sent");
        assert_eq!(u["emails"][0]["value"], json!("put@example.com"));
        assert_eq!(u["name"], json!({"givenName": "Pia", "familyName": "Ut"}));
        assert_eq!(u["displayName"], json!("Pia Ut"));
        assert_eq!((&u["externalId"], &u["active"]), (&json!("00u2put"), &json!(false)));
        assert_eq!(u["meta"]["created"], created["meta"]["created"]);
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.json(), u);

        let mut renamed = okta_user("put.renamed@example.com");
        renamed["active"] = json!(true);
        let r = scim(&t, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(renamed)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!((&r.json()["userName"], &r.json()["active"]), (&json!("put.renamed@example.com"), &json!(true)));

        // Another person's userName, whatever the case.
        let before = get(&t, &format!("/Users/{id}"), &token).await.json();
        for taken in ["admin@example.com", "ADMIN@example.com"] {
            let r = scim(&t, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(okta_user(taken))).await;
            assert_eq!(refusal(&r), (409, json!("uniqueness")), "{taken}");
        }
        let r = patch(&t, &token, &id, json!([{"op": "replace", "path": "userName", "value": "admin@example.com"}])).await;
        assert_eq!(refusal(&r), (409, json!("uniqueness")));
        // A body that is not a User.
        let r = scim(&t, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(json!({"userName": "x@example.com"}))).await;
        assert_eq!(refusal(&r), (400, json!("invalidSyntax")));
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.json(), before, "nothing changed");
    }

    async fn bad_patches_are_refused_and_change_nothing(t) {
        let (_, token) = ready(&t).await;
        let id = provision(&t, &token, "bad.patch@example.com").await;
        let before = get(&t, &format!("/Users/{id}"), &token).await.json();
        let path = format!("/Users/{id}");

        let r = patch(&t, &token, &id, json!([{"op": "replace", "path": "nickName.foo", "value": 1}])).await;
        assert_eq!(refusal(&r), (400, json!("invalidPath")));
        let r = scim(&t, Method::PATCH, &path, Some(&token), Some(json!({"schemas": [PATCH_URN]}))).await;
        assert_eq!(refusal(&r), (400, json!("invalidSyntax")), "no Operations");
        let r = patch(&t, &token, &id, json!([{"op": "frobnicate", "path": "active", "value": false}])).await;
        assert_eq!(refusal(&r), (400, json!("invalidSyntax")), "an unknown op");
        for schemas in [json!([USER_URN]), json!([])] {
            let body = json!({"schemas": schemas, "Operations": [{"op": "replace", "path": "active", "value": false}]});
            let r = scim(&t, Method::PATCH, &path, Some(&token), Some(body)).await;
            assert_eq!(refusal(&r), (400, json!("invalidSyntax")), "schemas {schemas}");
        }
        let r = patch(&t, &token, &id, json!([{"op": "replace", "path": "active", "value": "maybe"}])).await;
        assert_eq!(refusal(&r), (400, json!("invalidValue")));
        // One bad operation among good ones: none applies.
        let r = patch(&t, &token, &id, json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "nickName.foo", "value": 1}
        ])).await;
        assert_eq!(refusal(&r), (400, json!("invalidPath")));
        assert_eq!(get(&t, &path, &token).await.json(), before, "nothing changed");

        // An unknown id, with bodies that would otherwise do.
        let ops = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]});
        for (method, body) in [
            (Method::PUT, Some(okta_user("nobody@example.com"))),
            (Method::PATCH, Some(ops)),
            (Method::DELETE, None),
        ] {
            let r = scim(&t, method.clone(), "/Users/no-such-user", Some(&token), body).await;
            assert_eq!(
                (r.status, r.json()),
                (404, json!({"schemas": [ERROR_URN], "status": "404", "detail": "Resource no-such-user not found"})),
                "{method}"
            );
        }
        // Without the token, nothing.
        let r = scim(&t, Method::DELETE, &path, None, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(get(&t, &path, &token).await.json(), before);
    }

    async fn delete_deprovisions_and_post_revives(t) {
        let (admin, token) = ready(&t).await;
        let id = provision(&t, &token, "gone@example.com").await;
        let uid = user_id(&t, "gone@example.com");
        let r = t.put(&format!("/api/user/{uid}/password"), Some(&admin), json!({"password": PASSWORD})).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let session = t.login("gone@example.com").await;

        let r = scim(&t, Method::DELETE, &format!("/Users/{id}"), Some(&token), None).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let r = get(&t, &format!("/Users/{id}"), &token).await;
        assert_eq!(r.status, 404);
        let r = scim(&t, Method::DELETE, &format!("/Users/{id}"), Some(&token), None).await;
        assert_eq!(r.status, 404, "deleted once");
        let r = patch(&t, &token, &id, json!([{"op": "replace", "path": "active", "value": true}])).await;
        assert_eq!(r.status, 404, "a deleted person cannot be patched back");
        let r = scim(&t, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(okta_user("gone@example.com"))).await;
        assert_eq!(r.status, 404);
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 401, "sessions ended");
        // The row is kept, inactive, for people's own API.
        let r = t.get(&format!("/api/user/{uid}"), Some(&admin)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!((&r.json()["email"], &r.json()["is_active"]), (&json!("gone@example.com"), &json!(false)));
        assert_eq!(by_user_name(&t, &token, "gone@example.com").await["totalResults"], json!(0));
        let all = get(&t, "/Users", &token).await.json();
        assert_eq!(all["totalResults"], json!(1), "{all}");
        assert_eq!(all["Resources"][0]["userName"], json!("admin@example.com"));

        // Provisioned again: the same person, a new SCIM id.
        let r = scim(&t, Method::POST, "/Users", Some(&token), Some(okta_user("gone@example.com"))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let back = r.json();
        let new_id = back["id"].as_str().unwrap().to_string();
        assert_ne!(new_id, id);
        assert_eq!(back["active"], json!(true));
        assert_eq!(user_id(&t, "gone@example.com"), uid, "the row revived");
        assert_eq!(get(&t, &format!("/Users/{new_id}"), &token).await.json(), back);
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.status, 404, "the old id stays gone");
        assert_eq!(t.get(&format!("/api/user/{uid}"), Some(&admin)).await.json()["is_active"], json!(true));
    }

    async fn the_last_administrator_stays(t) {
        let (admin, token) = ready(&t).await;
        let found = by_user_name(&t, &token, "admin@example.com").await;
        let id = found["Resources"][0]["id"].as_str().unwrap().to_string();
        let before = get(&t, &format!("/Users/{id}"), &token).await.json();
        assert_eq!(before["active"], json!(true));

        let r = patch(&t, &token, &id, json!([{"op": "replace", "value": {"active": false}}])).await;
        assert_eq!(refusal(&r), (400, json!("mutability")), "{}", r.text());
        let r = patch(&t, &token, &id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
        assert_eq!(refusal(&r), (400, json!("mutability")));
        let mut off = okta_user("admin@example.com");
        off["active"] = json!(false);
        let r = scim(&t, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(off)).await;
        assert_eq!(refusal(&r), (400, json!("mutability")));
        let r = scim(&t, Method::DELETE, &format!("/Users/{id}"), Some(&token), None).await;
        assert_eq!(refusal(&r), (400, json!("mutability")));

        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.json(), before, "nothing changed");
        let r = t.get("/api/user/current", Some(&admin)).await;
        assert_eq!(r.status, 200, "the administrator's session lives");
        assert_eq!(r.json()["is_superuser"], json!(true));
    }
}

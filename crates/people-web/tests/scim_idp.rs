//! SCIM as the identity providers drive it, on SQLite and PostgreSQL: the request sequences Okta and
//! Microsoft Entra ID send, taken from their own documentation (each test names its source), replayed against
//! `/api/ee/scim/v2` with the bodies those pages show, plus concurrent group-membership changes.
//!
//! Sources:
//! - Okta, "SCIM 2.0 protocol reference" ("Okta and SCIM Version 2.0"):
//!   <https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20>
//! - Microsoft, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID":
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups>
//! - Microsoft, "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra user
//!   provisioning service" (the string booleans, capitalised ops and the `aadOptscim062020` forms):
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility>

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use std::collections::BTreeSet;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::{Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The default `site-url` and the SCIM base built on it.
const BASE: &str = "http://localhost:3000/api/ee/scim/v2";

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
async fn scim(t: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    let uri = format!("/api/ee/scim/v2{path}");
    let mut req = TestRequest::default()
        .method(method.clone())
        .uri(&uri)
        .insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(b) = body {
        req = req
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    checked(t.send(req).await, &format!("{method} {uri}"))
}

async fn get(t: &TestApp, path: &str, token: &str) -> Resp {
    scim(t, Method::GET, path, token, None).await
}

/// `GET <path>` that must answer 200: its body.
async fn read(t: &TestApp, path: &str, token: &str) -> Value {
    let r = get(t, path, token).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

async fn post(t: &TestApp, path: &str, token: &str, body: Value) -> Resp {
    scim(t, Method::POST, path, token, Some(body)).await
}

/// `PATCH <path>` with a PatchOp message of `ops`.
async fn patch(t: &TestApp, path: &str, token: &str, ops: Value) -> Resp {
    let body = json!({"schemas": [PATCH_URN], "Operations": ops});
    scim(t, Method::PATCH, path, token, Some(body)).await
}

/// Set up, SCIM on, a token: (admin session, SCIM token).
async fn ready(t: &TestApp) -> (String, String) {
    let s = t.setup().await;
    let r = t
        .put(
            "/api/setting/scim-enabled",
            Some(&s),
            json!({"value": true}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = t.post("/api/ee/scim/api_key", Some(&s), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["unmasked_key"].as_str().unwrap().to_string();
    (s, token)
}

/// The body Okta's page shows for "Create the User" (its `password` is never used by people).
fn okta_user(email: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": email,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// The body Entra's tutorial shows for "Create User".
fn entra_user(user_name: &str, email: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

/// Creates `email` the way Okta does (look up, then POST): its SCIM id.
async fn provision(t: &TestApp, token: &str, email: &str) -> String {
    let r = post(t, "/Users", token, okta_user(email, &format!("00u{email}"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// The list answer of `filter` on `/Users` or `/Groups`.
async fn filtered(t: &TestApp, token: &str, resource: &str, filter: &str) -> Value {
    read(t, &format!("/{resource}?filter={}", enc(filter)), token).await
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

/// Gives the SCIM-made `email` a password through the admin API and signs them in: the session.
async fn sign_in(t: &TestApp, admin: &str, email: &str) -> String {
    let uid = user_id(t, email);
    let r = t
        .put(
            &format!("/api/user/{uid}/password"),
            Some(admin),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let session = t.login(email).await;
    assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 200);
    session
}

/// Whether `email` can sign in with PASSWORD.
async fn can_sign_in(t: &TestApp, email: &str) -> bool {
    let body = json!({"username": email, "password": PASSWORD});
    t.post("/api/session", None, body).await.status == 200
}

/// The `value`s of a group's `members`.
fn member_values(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members: {group}"))
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect()
}

fn ids(items: &[&String]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The members of group `gid` as `GET /Groups/{id}` shows them.
async fn members(t: &TestApp, token: &str, gid: &str) -> BTreeSet<String> {
    member_values(&read(t, &format!("/Groups/{gid}"), token).await)
}

/// A group PATCH as the identity providers expect it to answer: 200 with the group (then the same as a
/// GET) or 204 with nothing. The group as a GET shows it afterwards.
async fn patch_group(t: &TestApp, token: &str, gid: &str, ops: Value) -> Value {
    let path = format!("/Groups/{gid}");
    let r = patch(t, &path, token, ops.clone()).await;
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH {path} {ops}: {} {}",
        r.status,
        r.text()
    );
    let now = read(t, &path, token).await;
    if r.status == 200 {
        let answered = r.json();
        assert_eq!(answered["id"], json!(gid), "{answered}");
        assert_eq!(answered["displayName"], now["displayName"], "{answered}");
        assert_eq!(member_values(&answered), member_values(&now), "{answered}");
    }
    now
}

/// The `display`s of a user's `groups`.
async fn group_names_of(t: &TestApp, token: &str, uid: &str) -> BTreeSet<String> {
    read(t, &format!("/Users/{uid}"), token).await["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap().to_string())
        .collect()
}

web_tests! {
    // Okta, "Create Users" → "Determine if the User already exists" and "Create the User"; "Retrieve Users"
    // (the import pages with startIndex/count=100):
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    async fn okta_looks_up_then_creates_the_user(t) {
        let (_, token) = ready(&t).await;
        // Okta's exact look-up: percent-encoded filter, startIndex=1, count=100. No match → an empty list.
        let lookup = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
        assert_eq!(
            read(&t, lookup, &token).await,
            json!({"schemas": [LIST_URN], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );
        let r = post(&t, "/Users", &token, okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7")).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let u = r.json();
        let id = u["id"].as_str().unwrap().to_string();
        assert_eq!(r.header("location").unwrap(), format!("{BASE}/Users/{id}"));
        assert_eq!(u["schemas"], json!([USER_URN]));
        assert_eq!(u["userName"], json!("test.user@okta.local"));
        assert_eq!(u["name"], json!({"givenName": "Test", "familyName": "User"}));
        assert_eq!(u["emails"], json!([{"value": "test.user@okta.local", "type": "work", "primary": true}]));
        assert_eq!(u["displayName"], json!("Test User"));
        assert_eq!((&u["locale"], &u["externalId"], &u["active"]), (&json!("en-US"), &json!("00ujl29u0le5T6Aj10h7"), &json!(true)));
        assert_eq!(u["groups"], json!([]));
        assert_eq!(u["meta"]["resourceType"], json!("User"));
        assert!(u.get("password").is_none(), "{u}");
        // Okta's password is not kept: the person sets one through a reset link.
        let stored = t.store().read(|r| r.user_by_email("test.user@okta.local")).unwrap().unwrap();
        assert!(stored.password_hash.is_none());

        // Looked up again (a re-assignment): found, the same resource; the integers are numbers.
        let found = read(&t, lookup, &token).await;
        assert_eq!((&found["totalResults"], &found["startIndex"], &found["itemsPerPage"]), (&json!(1), &json!(1), &json!(1)));
        assert_eq!(found["Resources"][0], u);
        assert_eq!(read(&t, &format!("/Users/{id}"), &token).await, u);
        // Okta's import: page by page with count=100; its connection test asks for two.
        let page = read(&t, "/Users?startIndex=1&count=100", &token).await;
        assert_eq!(page["totalResults"], json!(2), "the administrator and the new person: {page}");
        assert!(page["Resources"].as_array().unwrap().contains(&u));
        let page = read(&t, "/Users?startIndex=1&count=2", &token).await;
        assert_eq!(page["itemsPerPage"], json!(2));
        // Okta's "already exists" case: a 409 stops the job.
        let r = post(&t, "/Users", &token, okta_user("Test.User@okta.local", "00uother")).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));
    }

    // Okta, "Update a specific User (PATCH)": deactivation is a path-less replace whose value is
    // {"active": false}; the answer must be the updated User.
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    // The same replace with "path": "active" (RFC 7644 §3.5.2.3; also Entra's flagged "Disable User" body):
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    async fn okta_deactivates_with_and_without_path(t) {
        let (_, token) = ready(&t).await;
        let id = provision(&t, &token, "okta.off@example.com").await;
        let path = format!("/Users/{id}");
        let before = read(&t, &path, &token).await;

        let r = patch(&t, &path, &token, json!([{"op": "replace", "value": {"active": false}}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let off = r.json();
        assert_eq!(off["active"], json!(false));
        for attr in ["id", "userName", "name", "emails", "externalId", "displayName", "locale"] {
            assert_eq!(off[attr], before[attr], "{attr} unchanged");
        }
        assert_eq!(read(&t, &path, &token).await, off);
        // Deactivated people stay visible to SCIM (Okta reads them back).
        assert_eq!(filtered(&t, &token, "Users", "userName eq \"okta.off@example.com\"").await["Resources"][0], off);
        let r = patch(&t, &path, &token, json!([{"op": "replace", "value": {"active": true}}])).await;
        assert_eq!(r.json()["active"], json!(true), "reactivated");

        let r = patch(&t, &path, &token, json!([{"op": "replace", "path": "active", "value": false}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["active"], json!(false));
        let r = patch(&t, &path, &token, json!([{"op": "replace", "path": "active", "value": true}])).await;
        assert_eq!(r.json()["active"], json!(true));
        assert_eq!(read(&t, &path, &token).await["userName"], json!("okta.off@example.com"));
    }

    // Okta, "Update a specific User (PUT)": GET the user, change attributes, PUT the whole body back (id,
    // middleName, emails[].display, meta and groups included); AIW apps deactivate with the same PUT and
    // "active": false.
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    async fn okta_puts_the_whole_user(t) {
        let (admin, token) = ready(&t).await;
        let id = provision(&t, &token, "test.put@okta.local").await;
        let path = format!("/Users/{id}");
        let session = sign_in(&t, &admin, "test.put@okta.local").await;
        let mut body = read(&t, &path, &token).await;
        body["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
        body["emails"] = json!([{"primary": true, "value": "test.put@okta.local", "type": "work", "display": "test.put@okta.local"}]);
        body["groups"] = json!([]);
        body["meta"] = json!({"resourceType": "User"});
        let r = scim(&t, Method::PUT, &path, &token, Some(body.clone())).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!(u["id"], json!(id));
        assert_eq!(u["name"], json!({"givenName": "Another", "familyName": "User"}), "middleName is not kept");
        assert_eq!((&u["userName"], &u["active"]), (&json!("test.put@okta.local"), &json!(true)));
        assert_eq!(read(&t, &path, &token).await, u);
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 200, "an update keeps the session");

        // AIW deactivation: the same PUT with active false ends the sessions; true again lets them sign in.
        body["active"] = json!(false);
        let r = scim(&t, Method::PUT, &path, &token, Some(body.clone())).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)), "{}", r.text());
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 401);
        assert!(!can_sign_in(&t, "test.put@okta.local").await);
        body["active"] = json!(true);
        let r = scim(&t, Method::PUT, &path, &token, Some(body)).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(true)));
        assert!(can_sign_in(&t, "test.put@okta.local").await);
    }

    // Entra, "Get User by query - Zero results", "Create User", "Get User by query" (userName eq, sent with
    // form-encoded spaces), "Update User [Single-valued properties]"; Entra's connection test fetches a random
    // user ("Microsoft Entra ID makes requests to fetch a random user and group").
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    async fn entra_filters_on_user_name_then_creates(t) {
        let (_, token) = ready(&t).await;
        let random = read(&t, "/Users?filter=userName+eq+%2200aa00aa-bb11-cc22-dd33-44ee44ee44ee%22", &token).await;
        assert_eq!((&random["totalResults"], &random["Resources"]), (&json!(0), &json!([])));
        let lookup = "/Users?filter=userName+eq+%22Ann.Lee%40contoso.com%22";
        assert_eq!(read(&t, lookup, &token).await["totalResults"], json!(0));

        let body = entra_user("Ann.Lee@contoso.com", "ann.lee@contoso.com", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
        let r = post(&t, "/Users", &token, body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let u = r.json();
        let id = u["id"].as_str().unwrap().to_string();
        assert_eq!(u["externalId"], json!("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"));
        assert_eq!(u["name"], json!({"givenName": "givenName", "familyName": "familyName"}));
        assert_eq!(u["emails"][0]["value"], json!("ann.lee@contoso.com"));
        assert_eq!(u["active"], json!(true));
        let found = read(&t, lookup, &token).await;
        assert_eq!(found["totalResults"], json!(1), "{found}");
        assert_eq!(found["Resources"][0]["id"], json!(id));
        assert_eq!(found["Resources"][0], read(&t, &format!("/Users/{id}"), &token).await);

        // A new UPN: "Replace" of userName.
        let r = patch(&t, &format!("/Users/{id}"), &token,
            json!([{"op": "Replace", "path": "userName", "value": "ann.lee2@contoso.com"}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["userName"], json!("ann.lee2@contoso.com"));
        assert_eq!(read(&t, "/Users?filter=userName+eq+%22ann.lee2%40contoso.com%22", &token).await["Resources"][0]["id"], json!(id));
        assert_eq!(read(&t, lookup, &token).await["totalResults"], json!(0));
    }

    // Entra, "Create User" exactly as the tutorial shows it: a userName that is not an email address
    // ("Test_User_<guid>") and the address in emails[type eq "work"]; Entra then finds the user again with
    // `userName eq "<that userName>"`. people keeps userName as given (docs/scim.md).
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    async fn entra_user_name_that_is_not_an_address_is_kept(t) {
        let (_, token) = ready(&t).await;
        let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
        let email = "test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com";
        let r = post(&t, "/Users", &token, entra_user(user_name, email, "ext-1")).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let u = r.json();
        assert_eq!(u["emails"][0]["value"], json!(email));
        assert_eq!(u["userName"], json!(user_name), "userName as Entra sent it: {u}");
        let found = filtered(&t, &token, "Users", &format!("userName eq \"{user_name}\"")).await;
        assert_eq!(found["totalResults"], json!(1), "Entra finds what it made: {found}");
        assert_eq!(found["Resources"][0]["id"], u["id"]);
        // Another person may not take that userName, in any case.
        let r = post(&t, "/Users", &token, entra_user(&user_name.to_uppercase(), "other@testuser.com", "ext-2")).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));
    }

    // Entra's PATCH forms: capitalised ops ("Replace", "Add", "Remove"), "active": "False"/"True" strings
    // (without the aadOptscim062020 flag), "Update User [Multi-valued properties]" with
    // `emails[type eq "work"].value`, and the flagged form that replaces several attributes in one path-less
    // operation whose value object has dotted keys and an extension attribute.
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
    async fn entra_patches_as_entra_sends_them(t) {
        let (_, token) = ready(&t).await;
        let id = provision(&t, &token, "entra.patch@testuser.com").await;
        let path = format!("/Users/{id}");

        let r = patch(&t, &path, &token, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)), "{}", r.text());
        let r = patch(&t, &path, &token, json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(true)));

        // Multi-valued: the work email and the family name in one request.
        let r = patch(&t, &path, &token, json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@testuser.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!(u["emails"], json!([{"value": "updatedemail@testuser.com", "type": "work", "primary": true}]));
        assert_eq!(u["name"]["familyName"], json!("updatedFamilyName"));
        assert_eq!(u["id"], json!(id));

        // Without the flag: one "Replace" per attribute, an extension attribute among them (ignored); "Add" of
        // an attribute people does not keep; "Remove" of externalId.
        let r = patch(&t, &path, &token, json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@testuser.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": format!("{ENTERPRISE_URN}:employeeNumber"), "value": "Eqpj"},
            {"op": "Add", "path": "nickName", "value": "Babs"}
        ])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!((&u["userName"], &u["externalId"]), (&json!("testbcwqnm@testuser.com"), &json!("Eqpj")));
        assert_eq!(u["name"], json!({"givenName": "Gtfd", "familyName": "Pkqf"}));
        assert!(u.get("nickName").is_none() && u.get(ENTERPRISE_URN).is_none(), "{u}");
        let r = patch(&t, &path, &token, json!([{"op": "Remove", "path": "externalId"}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json().get("externalId").is_none(), "{}", r.json());

        // With the flag: a path-less replace whose value holds attribute paths.
        let r = patch(&t, &path, &token, json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@testuser.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                format!("{ENTERPRISE_URN}:employeeNumber"): "Aklq"
            }}
        ])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!(u["userName"], json!("testmhvaes@testuser.com"));
        assert_eq!(u["name"], json!({"givenName": "Kkom", "familyName": "Unua"}));
        assert_eq!(read(&t, &path, &token).await, u);
        // A path-less "Replace" of active with Entra's string, in an object.
        let r = patch(&t, &path, &token, json!([{"op": "Replace", "value": {"active": "False"}}])).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)));
        // people keeps a displayName the provider sends (docs/scim.md).
        assert_eq!(u["displayName"], json!("Bjfe"), "{u}");
    }

    // Entra queries users by `externalId` when that is the matching attribute ("Example 1. Query the service
    // for a matching user": externalId eq <mailNickname>), then provisions on no match ("Example 2"); it uses
    // only `eq` and `and` ("Retrieving Resources").
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    async fn entra_correlates_on_external_id(t) {
        let (_, token) = ready(&t).await;
        let none = read(&t, "/Users?filter=externalId+eq+%22jyoung%22", &token).await;
        assert_eq!((&none["totalResults"], &none["Resources"]), (&json!(0), &json!([])));
        let r = post(&t, "/Users", &token, entra_user("jyoung@contoso.com", "jyoung@contoso.com", "jyoung")).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].clone();
        // Another person with an externalId that only starts the same.
        provision(&t, &token, "jyoungster@contoso.com").await;
        let found = read(&t, "/Users?filter=externalId+eq+%22jyoung%22", &token).await;
        assert_eq!(found["totalResults"], json!(1), "{found}");
        assert_eq!(found["Resources"][0]["id"], id);
        let both = filtered(&t, &token, "Users", "externalId eq \"jyoung\" and userName eq \"jyoung@contoso.com\"").await;
        assert_eq!(both["Resources"][0]["id"], id);
        let neither = filtered(&t, &token, "Users", "externalId eq \"jyoung\" and userName eq \"x@contoso.com\"").await;
        assert_eq!(neither["totalResults"], json!(0));
        // externalId is the provider's, exact: another case is another value.
        assert_eq!(filtered(&t, &token, "Users", "externalId eq \"JYOUNG\"").await["totalResults"], json!(0));
    }

    // Entra "Disable User" (and Okta's deactivation) then re-enable: sessions end on disable and stay ended;
    // the person signs in again after "active" is true. Entra sends the string form without the flag.
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
    async fn disable_revokes_sessions_and_reenable_lets_them_back(t) {
        let (admin, token) = ready(&t).await;
        let id = provision(&t, &token, "leaver@contoso.com").await;
        let path = format!("/Users/{id}");
        let first = sign_in(&t, &admin, "leaver@contoso.com").await;
        let second = t.login("leaver@contoso.com").await;

        let r = patch(&t, &path, &token, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)), "{}", r.text());
        for s in [&first, &second] {
            assert_eq!(t.get("/api/user/current", Some(s)).await.status, 401, "the session ended");
        }
        assert!(!can_sign_in(&t, "leaver@contoso.com").await);
        let uid = user_id(&t, "leaver@contoso.com");
        assert_eq!(t.get(&format!("/api/user/{uid}"), Some(&admin)).await.json()["is_active"], json!(false));

        let r = patch(&t, &path, &token, json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(true)));
        for s in [&first, &second] {
            assert_eq!(t.get("/api/user/current", Some(s)).await.status, 401, "revoked, not suspended");
        }
        let fresh = t.login("leaver@contoso.com").await;
        assert_eq!(t.get("/api/user/current", Some(&fresh)).await.status, 200);
        assert_eq!(t.get(&format!("/api/user/{uid}"), Some(&admin)).await.json()["is_active"], json!(true));
    }

    // Entra "Delete User" (204), then "Get User" of that id → 404 with a SCIM Error whose status is "404";
    // a later assignment makes Entra look the user up (no match) and POST it again → 201.
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    async fn delete_then_404_then_post_revives(t) {
        let (admin, token) = ready(&t).await;
        let body = entra_user("gone@contoso.com", "gone@contoso.com", "e-gone");
        let r = post(&t, "/Users", &token, body.clone()).await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        let session = sign_in(&t, &admin, "gone@contoso.com").await;

        let r = scim(&t, Method::DELETE, &format!("/Users/{id}"), &token, None).await;
        assert_eq!(r.status, 204);
        let r = get(&t, &format!("/Users/{id}"), &token).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.json()["status"], json!("404"));
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 401);
        let lookup = filtered(&t, &token, "Users", "userName eq \"gone@contoso.com\"").await;
        assert_eq!(lookup["totalResults"], json!(0));
        assert_eq!(filtered(&t, &token, "Users", "externalId eq \"e-gone\"").await["totalResults"], json!(0));

        let r = post(&t, "/Users", &token, body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let back = r.json();
        let new_id = back["id"].as_str().unwrap().to_string();
        assert_ne!(new_id, id);
        assert_eq!((&back["active"], &back["externalId"]), (&json!(true), &json!("e-gone")));
        assert_eq!(read(&t, &format!("/Users/{new_id}"), &token).await, back);
        assert_eq!(get(&t, &format!("/Users/{id}"), &token).await.status, 404, "the old id stays gone");
        assert_eq!(filtered(&t, &token, "Users", "userName eq \"gone@contoso.com\"").await["Resources"][0], back);
        assert_eq!(t.get("/api/user/current", Some(&session)).await.status, 401, "the old session stays ended");
    }

    // Okta group push: "Create Groups" (POST with empty members), "Retrieve specific Groups", "Update specific
    // Group membership" (add with a value list; remove with `members[value eq "…"]`, in one request),
    // "Update a specific Group name" (path-less replace whose value carries the id), the full push with
    // replace on members, "Retrieve Groups" (count=100), "Delete a specific Group" (204).
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    async fn okta_pushes_a_group(t) {
        let (_, token) = ready(&t).await;
        let a = provision(&t, &token, "a@okta.local").await;
        let b = provision(&t, &token, "b@okta.local").await;
        let c = provision(&t, &token, "c@okta.local").await;

        let r = post(&t, "/Groups", &token, json!({"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []})).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let g = r.json();
        let gid = g["id"].as_str().unwrap().to_string();
        assert_eq!(r.header("location").unwrap(), format!("{BASE}/Groups/{gid}"));
        assert_eq!((&g["schemas"], &g["displayName"]), (&json!([GROUP_URN]), &json!("Test SCIMv2")));
        assert_eq!(g["meta"]["resourceType"], json!("Group"));
        assert!(member_values(&g).is_empty());
        let fetched = read(&t, &format!("/Groups/{gid}"), &token).await;
        assert_eq!((&fetched["id"], &fetched["displayName"]), (&json!(gid), &json!("Test SCIMv2")));

        let g = patch_group(&t, &token, &gid, json!([{"op": "add", "path": "members", "value": [
            {"value": a, "display": "a@okta.local"},
            {"value": b, "display": "b@okta.local"}
        ]}])).await;
        assert_eq!(member_values(&g), ids(&[&a, &b]));
        assert_eq!(group_names_of(&t, &token, &a).await, BTreeSet::from(["Test SCIMv2".to_string()]));
        // Okta's membership request: remove one by filter, add another.
        let g = patch_group(&t, &token, &gid, json!([
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            {"op": "add", "path": "members", "value": [{"value": c, "display": "c@okta.local"}]}
        ])).await;
        assert_eq!(member_values(&g), ids(&[&b, &c]));
        assert!(group_names_of(&t, &token, &a).await.is_empty(), "a left the group");
        // Adding someone already there changes nothing.
        let g = patch_group(&t, &token, &gid, json!([{"op": "add", "path": "members", "value": [{"value": b}]}])).await;
        assert_eq!(member_values(&g), ids(&[&b, &c]));

        // The rename Okta sends with each membership update: the id inside the value.
        let g = patch_group(&t, &token, &gid, json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv20"}}])).await;
        assert_eq!(g["displayName"], json!("Test SCIMv20"));
        assert_eq!(member_values(&g), ids(&[&b, &c]), "a rename keeps the members");
        assert_eq!(group_names_of(&t, &token, &b).await, BTreeSet::from(["Test SCIMv20".to_string()]));
        let found = filtered(&t, &token, "Groups", "displayName eq \"Test SCIMv20\"").await;
        assert_eq!((&found["totalResults"], &found["Resources"][0]["id"]), (&json!(1), &json!(gid)));
        assert_eq!(filtered(&t, &token, "Groups", "displayName eq \"Test SCIMv2\"").await["totalResults"], json!(0));

        // The full push: replace members with exactly these.
        let g = patch_group(&t, &token, &gid, json!([{"op": "replace", "path": "members", "value": [
            {"value": a, "display": "a@okta.local"}, {"value": c, "display": "c@okta.local"}
        ]}])).await;
        assert_eq!(member_values(&g), ids(&[&a, &c]));

        // Okta's import, and a second group name that is taken.
        let page = read(&t, "/Groups?startIndex=1&count=100", &token).await;
        assert_eq!((&page["schemas"], &page["totalResults"]), (&json!([LIST_URN]), &json!(1)), "{page}");
        assert_eq!(page["Resources"][0]["id"], json!(gid));
        let r = post(&t, "/Groups", &token, json!({"schemas": [GROUP_URN], "displayName": "test scimv20", "members": []})).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));

        // Unlink with "Delete the group in the target app".
        let r = scim(&t, Method::DELETE, &format!("/Groups/{gid}"), &token, None).await;
        assert_eq!(r.status, 204);
        assert_eq!(get(&t, &format!("/Groups/{gid}"), &token).await.status, 404);
        assert_eq!(read(&t, "/Groups", &token).await["totalResults"], json!(0));
        for u in [&a, &b, &c] {
            let user = read(&t, &format!("/Users/{u}"), &token).await;
            assert_eq!((&user["active"], &user["groups"]), (&json!(true), &json!([])), "the people stay");
        }
    }

    // Okta apps made with the App Integration Wizard update groups with PUT ("Update specific Group
    // membership": "sent through a PUT request"); people makes PUT a replacement, members included.
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    async fn okta_puts_a_group(t) {
        let (_, token) = ready(&t).await;
        let a = provision(&t, &token, "pa@okta.local").await;
        let b = provision(&t, &token, "pb@okta.local").await;
        let r = post(&t, "/Groups", &token, json!({"schemas": [GROUP_URN], "displayName": "Put", "members": [{"value": a}]})).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let gid = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(member_values(&r.json()), ids(&[&a]));

        let body = json!({"schemas": [GROUP_URN], "id": gid, "displayName": "Put Renamed", "members": [{"value": b, "display": "pb@okta.local"}]});
        let r = scim(&t, Method::PUT, &format!("/Groups/{gid}"), &token, Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!((&r.json()["displayName"], member_values(&r.json())), (&json!("Put Renamed"), ids(&[&b])));
        assert_eq!(members(&t, &token, &gid).await, ids(&[&b]));
        let body = json!({"schemas": [GROUP_URN], "displayName": "Put Renamed", "members": []});
        let r = scim(&t, Method::PUT, &format!("/Groups/{gid}"), &token, Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(members(&t, &token, &gid).await.is_empty(), "PUT replaces: no members left");
    }

    // A PUT is a replacement (docs/scim.md: omitted mutable attributes are cleared),
    // so a Group PUT without `members` leaves none (RFC 7644 §3.5.1 lets a server keep them; people
    // chose to clear). Okta's wizard-made apps update groups with PUT.
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    async fn a_group_put_without_members_clears_them(t) {
        let (_, token) = ready(&t).await;
        let a = provision(&t, &token, "keep@okta.local").await;
        let r = post(&t, "/Groups", &token, json!({"schemas": [GROUP_URN], "displayName": "Omit", "externalId": "e1", "members": [{"value": a}]})).await;
        let gid = r.json()["id"].as_str().unwrap().to_string();
        let body = json!({"schemas": [GROUP_URN], "displayName": "Omit"});
        let r = scim(&t, Method::PUT, &format!("/Groups/{gid}"), &token, Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let g = r.json();
        assert!(g.get("externalId").is_none(), "externalId cleared: {g}");
        assert!(member_values(&g).is_empty(), "members cleared: {g}");
    }

    // meta.created and meta.lastModified of a group (RFC 7643 §3.1) come from one clock: a group is never
    // modified before it was created, whatever the request (Entra's create carries an externalId).
    async fn a_group_is_never_modified_before_it_was_created(t) {
        let (_, token) = ready(&t).await;
        let r = post(&t, "/Groups", &token, json!({"schemas": [GROUP_URN], "displayName": "Clock", "externalId": "x"})).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let g = r.json();
        let gid = g["id"].as_str().unwrap().to_string();
        let at = |v: &Value, k: &str| chrono::DateTime::parse_from_rfc3339(v["meta"][k].as_str().unwrap()).unwrap();
        assert!(at(&g, "lastModified") >= at(&g, "created"), "{}", g["meta"]);
        let body = json!({"schemas": [GROUP_URN], "displayName": "Clock", "externalId": "y", "members": []});
        let g = scim(&t, Method::PUT, &format!("/Groups/{gid}"), &token, Some(body)).await.json();
        assert!(at(&g, "lastModified") >= at(&g, "created"), "{}", g["meta"]);
    }

    // Entra groups: the connection test ("fetch a random user and group"), "Create Group" (the ADSCIM schema,
    // externalId, meta), "Get Group" and "Get Group by displayName" with excludedAttributes=members, "Update
    // Group [Non-member attributes]" ("Replace" displayName), "Update Group [Add Members]" ("Add" with
    // "$ref": null), "Update Group [Remove Members]" ("Remove" on members with a value list: only those go),
    // the flagged `members[value eq "…"]` removal, "Delete Group".
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
    async fn entra_provisions_a_group(t) {
        let (_, token) = ready(&t).await;
        let random = read(&t, "/Groups?excludedAttributes=members&filter=displayName+eq+%2200aa00aa-bb11%22", &token).await;
        assert_eq!((&random["schemas"], &random["totalResults"]), (&json!([LIST_URN]), &json!(0)));
        let a = provision(&t, &token, "ga@contoso.com").await;
        let b = provision(&t, &token, "gb@contoso.com").await;
        let c = provision(&t, &token, "gc@contoso.com").await;
        let d = provision(&t, &token, "gd@contoso.com").await;

        let r = post(&t, "/Groups", &token, json!({
            "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        })).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let g = r.json();
        let gid = g["id"].as_str().unwrap().to_string();
        assert_eq!(g["externalId"], json!("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"));
        assert!(member_values(&g).is_empty(), "groups are created with an empty members list");
        let slim = read(&t, &format!("/Groups/{gid}?excludedAttributes=members"), &token).await;
        assert!(slim.get("members").is_none(), "{slim}");
        assert_eq!((&slim["id"], &slim["displayName"]), (&json!(gid), &json!("displayName")));
        let by_name = read(&t, "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22", &token).await;
        assert_eq!((&by_name["totalResults"], &by_name["Resources"][0]["id"]), (&json!(1), &json!(gid)));
        assert!(by_name["Resources"][0].get("members").is_none());

        let g = patch_group(&t, &token, &gid, json!([{"op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName"}])).await;
        assert_eq!(g["displayName"], json!("1879db59updatedDisplayName"));
        let g = patch_group(&t, &token, &gid, json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": a}, {"$ref": null, "value": b}, {"$ref": null, "value": c}, {"$ref": null, "value": d}
        ]}])).await;
        assert_eq!(member_values(&g), ids(&[&a, &b, &c, &d]));
        // "Remove" with a value list removes only those members.
        let g = patch_group(&t, &token, &gid, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a}]}])).await;
        assert_eq!(member_values(&g), ids(&[&b, &c, &d]));
        let g = patch_group(&t, &token, &gid, json!([{"op": "Remove", "path": "members", "value": [{"value": b}, {"value": c}]}])).await;
        assert_eq!(member_values(&g), ids(&[&d]));
        // The flagged form.
        let g = patch_group(&t, &token, &gid, json!([{"op": "remove", "path": format!("members[value eq \"{d}\"]")}])).await;
        assert!(member_values(&g).is_empty());
        // A remove on members with neither value nor filter removes them all (people's rule, docs/scim.md).
        patch_group(&t, &token, &gid, json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}])).await;
        let g = patch_group(&t, &token, &gid, json!([{"op": "Remove", "path": "members"}])).await;
        assert!(member_values(&g).is_empty());
        let filter = "externalId eq \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\"";
        assert_eq!(filtered(&t, &token, "Groups", filter).await["Resources"][0]["id"], json!(gid));

        let r = scim(&t, Method::DELETE, &format!("/Groups/{gid}"), &token, None).await;
        assert_eq!(r.status, 204);
        assert_eq!(get(&t, &format!("/Groups/{gid}"), &token).await.status, 404);
        assert_eq!(patch(&t, &format!("/Groups/{gid}"), &token, json!([{"op": "Add", "path": "members", "value": [{"value": a}]}])).await.status, 404);
    }

    // The magic groups stay out of reach of a provider's group requests (docs/scim.md: SCIM can
    // never grant or remove admin rights), whatever id it tries.
    async fn administrators_cannot_be_reached_through_groups(t) {
        let (_, token) = ready(&t).await;
        let a = provision(&t, &token, "climber@contoso.com").await;
        let list = read(&t, "/Groups", &token).await;
        assert_eq!(list["totalResults"], json!(0), "{list}");
        for gid in [people_domain::group::ADMINISTRATORS_ID, people_domain::group::ALL_USERS_ID] {
            let entity = t.store().read(|r| r.group_by_id(gid)).unwrap().unwrap().entity_id.unwrap();
            let path = format!("/Groups/{entity}");
            assert_eq!(get(&t, &path, &token).await.status, 404);
            let r = patch(&t, &path, &token, json!([{"op": "add", "path": "members", "value": [{"value": a}]}])).await;
            assert_eq!(r.status, 404);
            let body = json!({"schemas": [GROUP_URN], "displayName": "Administrators", "members": [{"value": a}]});
            assert_eq!(scim(&t, Method::PUT, &path, &token, Some(body)).await.status, 404);
            assert_eq!(scim(&t, Method::DELETE, &path, &token, None).await.status, 404);
        }
        let uid = user_id(&t, "climber@contoso.com");
        let u = t.store().read(|r| r.user_by_id(people_domain::UserId(uid))).unwrap().unwrap();
        assert!(!u.is_superuser);
    }

    // Eight provisioning requests at once against one group (Okta and Entra both send one PATCH per change,
    // and an agent may run several): adds of different members, and adds with removes. Nothing is lost.
    async fn concurrent_member_patches_lose_nothing(t) {
        let (_, token) = ready(&t).await;
        let mut people = Vec::new();
        for i in 0..12 {
            people.push(provision(&t, &token, &format!("c{i:02}@contoso.com")).await);
        }
        // c00-c03 start in the group; c04-c11 are added, one per request; two requests also remove c00, c01.
        let initial: Vec<Value> = people[..4].iter().map(|v| json!({"value": v})).collect();
        let r = post(&t, "/Groups", &token, json!({"schemas": [GROUP_URN], "displayName": "Race", "members": initial})).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let gid = r.json()["id"].as_str().unwrap().to_string();
        let path = format!("/Groups/{gid}");
        let requests: Vec<Value> = (0..8)
            .map(|i| {
                let mut ops = vec![json!({"op": "add", "path": "members", "value": [{"value": people[4 + i]}]})];
                if i < 2 {
                    ops.push(json!({"op": "remove", "path": format!("members[value eq \"{}\"]", people[i])}));
                }
                json!(ops)
            })
            .collect();
        let results = futures_util::future::join_all(requests.into_iter().map(|ops| patch(&t, &path, &token, ops))).await;
        for r in &results {
            assert!(r.status == 200 || r.status == 204, "{} {}", r.status, r.text());
        }
        let expected: BTreeSet<String> = people[2..].iter().cloned().collect();
        assert_eq!(members(&t, &token, &gid).await, expected);

        // And the other way: eight removes at once (Entra's value-list form) leave exactly the rest.
        let results = futures_util::future::join_all((2..10).map(|i| {
            patch(&t, &path, &token, json!([{"op": "Remove", "path": "members", "value": [{"value": people[i]}]}]))
        })).await;
        for r in &results {
            assert!(r.status == 200 || r.status == 204, "{} {}", r.status, r.text());
        }
        let expected: BTreeSet<String> = people[10..].iter().cloned().collect();
        assert_eq!(members(&t, &token, &gid).await, expected);
        for (i, u) in people.iter().enumerate() {
            let names = group_names_of(&t, &token, u).await;
            assert_eq!(names.contains("Race"), i >= 10, "{u}: {names:?}");
        }
    }
}

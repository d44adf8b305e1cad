//! SCIM groups and the protocol's list and version features over HTTP, on SQLite and PostgreSQL: Groups
//! CRUD and PATCH, group filters, `sortBy`, `attributes`/`excludedAttributes`, the root `/.search`, ETags
//! with `If-Match` / `If-None-Match`, and userNames that are not addresses.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::{Resp, TestApp};
use serde_json::{json, Value};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

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

/// A `/v2` request with the token, optional body and extra headers; checks SCIM JSON and error shape.
async fn call(
    t: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = TestRequest::default()
        .method(method.clone())
        .uri(&format!("/api/ee/scim/v2{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    if let Some(b) = body {
        req = req
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    let r = t.send(req).await;
    if r.status >= 400 {
        assert_eq!(r.content_type(), "application/scim+json", "{method} {path}");
        let e = r.json();
        assert_eq!(e["schemas"], json!([ERROR_URN]), "{method} {path}: {e}");
        assert_eq!(e["status"], json!(r.status.to_string()), "{e}");
    }
    r
}

async fn get(t: &TestApp, path: &str, token: &str) -> Resp {
    call(t, Method::GET, path, token, None, &[]).await
}

/// Set up, SCIM on, a token.
async fn ready(t: &TestApp) -> String {
    let s = t.setup().await;
    let r = t
        .put(
            "/api/setting/scim-enabled",
            Some(&s),
            json!({"value": true}),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = t.post("/api/ee/scim/api_key", Some(&s), json!({})).await;
    r.json()["unmasked_key"].as_str().unwrap().to_string()
}

/// Creates a user over SCIM; returns their id.
async fn user(t: &TestApp, token: &str, user_name: &str, email: &str) -> String {
    let body = json!({
        "schemas": [USER_URN], "userName": user_name,
        "name": {"givenName": user_name, "familyName": "Test"},
        "emails": [{"value": email, "primary": true}]
    });
    let r = call(t, Method::POST, "/Users", token, Some(body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// Creates a group with these members; returns it.
async fn group(t: &TestApp, token: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let body = json!({"schemas": [GROUP_URN], "displayName": name, "externalId": format!("ext-{name}"), "members": members});
    let r = call(t, Method::POST, "/Groups", token, Some(body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    assert_eq!(
        r.header("location").as_deref(),
        g["meta"]["location"].as_str()
    );
    assert_eq!(r.header("etag").as_deref(), g["meta"]["version"].as_str());
    g
}

async fn patch_group(
    t: &TestApp,
    token: &str,
    id: &str,
    ops: Value,
    headers: &[(&str, &str)],
) -> Resp {
    call(
        t,
        Method::PATCH,
        &format!("/Groups/{id}"),
        token,
        Some(json!({"schemas": [PATCH_URN], "Operations": ops})),
        headers,
    )
    .await
}

fn member_ids(g: &Value) -> Vec<String> {
    let mut v: Vec<String> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

web_tests! {
    async fn groups_are_created_read_patched_replaced_and_deleted(t) {
        let token = ready(&t).await;
        let ann = user(&t, &token, "ann@example.com", "ann@example.com").await;
        let bob = user(&t, &token, "bob@example.com", "bob@example.com").await;
        let cy = user(&t, &token, "cy@example.com", "cy@example.com").await;
        let g = group(&t, &token, "Sales", &[&ann]).await;
        let id = g["id"].as_str().unwrap().to_string();
        assert_eq!(g["schemas"], json!([GROUP_URN]));
        assert_eq!(g["displayName"], json!("Sales"));
        assert_eq!(g["externalId"], json!("ext-Sales"));
        assert_eq!(g["members"][0]["value"], json!(ann));
        assert_eq!(g["members"][0]["display"], json!("ann@example.com"));
        assert_eq!(g["meta"]["resourceType"], json!("Group"));
        assert!(g["meta"]["created"].is_string() && g["meta"]["lastModified"].is_string());

        // The member sees the group among theirs.
        let u = get(&t, &format!("/Users/{ann}"), &token).await.json();
        assert_eq!(u["groups"][0]["value"], json!(id));

        // Okta group push: add two, remove one by a value filter, rename.
        let r = patch_group(&t, &token, &id, json!([
            {"op": "add", "path": "members", "value": [{"value": bob}, {"value": cy}]}
        ]), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(member_ids(&r.json()), sorted(&[&ann, &bob, &cy]));
        let r = patch_group(&t, &token, &id, json!([
            {"op": "remove", "path": format!("members[value eq \"{bob}\"]")},
            {"op": "replace", "path": "displayName", "value": "Sales EMEA"}
        ]), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(member_ids(&r.json()), sorted(&[&ann, &cy]));
        assert_eq!(r.json()["displayName"], json!("Sales EMEA"));
        // Entra ID: capitalised op, remove with a value list removes only those.
        let r = patch_group(&t, &token, &id, json!([
            {"op": "Remove", "path": "members", "value": [{"value": ann}]}
        ]), &[]).await;
        assert_eq!(member_ids(&r.json()), sorted(&[&cy]));
        // Path-less replace of the name (Entra ID).
        let r = patch_group(&t, &token, &id, json!([
            {"op": "Replace", "value": {"id": id, "displayName": "Sales"}}
        ]), &[]).await;
        assert_eq!(r.json()["displayName"], json!("Sales"));
        // people's own API sees what SCIM did.
        let s = t.login("admin@example.com").await;
        let all = t.get("/api/permissions/group", Some(&s)).await.json();
        assert!(all.as_array().unwrap().iter().any(|g| g["name"] == "Sales"));

        // PUT replaces the members.
        let r = call(&t, Method::PUT, &format!("/Groups/{id}"), &token,
            Some(json!({"schemas": [GROUP_URN], "displayName": "Sales", "members": [{"value": ann}, {"value": bob}]})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(member_ids(&r.json()), sorted(&[&ann, &bob]));
        assert_eq!(r.json().get("externalId"), None, "PUT clears what it omits");
        // Remove all members.
        let r = patch_group(&t, &token, &id, json!([{"op": "remove", "path": "members"}]), &[]).await;
        assert_eq!(member_ids(&r.json()), Vec::<String>::new());

        // Refusals.
        let other = group(&t, &token, "Ops", &[]).await;
        let r = patch_group(&t, &token, other["id"].as_str().unwrap(), json!([
            {"op": "replace", "path": "displayName", "value": "SALES"}
        ]), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));
        let r = call(&t, Method::POST, "/Groups", &token,
            Some(json!({"schemas": [GROUP_URN], "displayName": "sales"})), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));
        let r = patch_group(&t, &token, &id, json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
        let r = patch_group(&t, &token, &id, json!([{"op": "add", "path": "owners", "value": "x"}]), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidPath")));
        let r = patch_group(&t, &token, &id, json!([{"op": "remove", "path": "members[display eq \"x\"]"}]), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidPath")));
        let r = call(&t, Method::POST, "/Groups", &token,
            Some(json!({"schemas": [USER_URN], "displayName": "Wrong"})), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidSyntax")));
        let r = call(&t, Method::POST, "/Groups", &token,
            Some(json!({"schemas": [GROUP_URN], "displayName": "  "})), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
        // A refused operation changes nothing, even after good ones.
        let r = patch_group(&t, &token, &id, json!([
            {"op": "add", "path": "members", "value": [{"value": cy}]},
            {"op": "add", "path": "members", "value": [{"value": "nobody"}]}
        ]), &[]).await;
        assert_eq!(r.status, 400);
        assert_eq!(member_ids(&get(&t, &format!("/Groups/{id}"), &token).await.json()), Vec::<String>::new());

        // The magic groups stay out of reach.
        let admins = t.store().read(|r| r.group_by_id(people_domain::group::ADMINISTRATORS_ID)).unwrap().unwrap();
        let admins_id = admins.entity_id.unwrap();
        assert_eq!(get(&t, &format!("/Groups/{admins_id}"), &token).await.status, 404);
        let r = patch_group(&t, &token, &admins_id, json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]), &[]).await;
        assert_eq!(r.status, 404);
        let list = get(&t, "/Groups", &token).await.json();
        assert_eq!(list["totalResults"], json!(2));

        // DELETE, then 404.
        let r = call(&t, Method::DELETE, &format!("/Groups/{id}"), &token, None, &[]).await;
        assert_eq!(r.status, 204);
        assert_eq!(get(&t, &format!("/Groups/{id}"), &token).await.status, 404);
        assert_eq!(call(&t, Method::DELETE, &format!("/Groups/{id}"), &token, None, &[]).await.status, 404);
    }

    async fn group_filters_run_in_the_database(t) {
        let token = ready(&t).await;
        let ann = user(&t, &token, "ann@example.com", "ann@example.com").await;
        let bob = user(&t, &token, "bob@example.com", "bob@example.com").await;
        group(&t, &token, "Sales", &[&ann]).await;
        group(&t, &token, "Sales EMEA", &[&ann, &bob]).await;
        group(&t, &token, "Ops", &[]).await;
        let names = |v: &Value| -> Vec<String> {
            v["Resources"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_string()).collect()
        };
        for (filter, expected) in [
            ("displayName eq \"sales\"", vec!["Sales"]),
            ("DISPLAYNAME sw \"Sales\"", vec!["Sales", "Sales EMEA"]),
            (&*format!("members.value eq \"{bob}\""), vec!["Sales EMEA"]),
            (&*format!("members[value eq \"{ann}\"]"), vec!["Sales", "Sales EMEA"]),
            ("members pr", vec!["Sales", "Sales EMEA"]),
            ("not (members pr)", vec!["Ops"]),
            ("externalId eq \"ext-Ops\"", vec!["Ops"]),
            ("displayName co \"EMEA\" or displayName eq \"Ops\"", vec!["Sales EMEA", "Ops"]),
            ("meta.created gt \"2000-01-01T00:00:00Z\" and displayName ew \"s\"", vec!["Sales", "Ops"]),
        ] {
            let r = get(&t, &format!("/Groups?filter={}", enc(filter)), &token).await;
            assert_eq!(r.status, 200, "{filter}: {}", r.text());
            assert_eq!(names(&r.json()), expected, "{filter}");
        }
        for bad in ["userName eq \"x\"", "members.display eq \"x\"", "displayName eq", "active eq true"] {
            let r = get(&t, &format!("/Groups?filter={}", enc(bad)), &token).await;
            assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidFilter")), "{bad}");
        }
        // Sorting, paging, and a count of a billion capped.
        let r = get(&t, "/Groups?sortBy=displayName&sortOrder=descending&count=1000000000&startIndex=-5", &token).await;
        assert_eq!(names(&r.json()), vec!["Sales EMEA", "Sales", "Ops"]);
        let r = get(&t, "/Groups?sortBy=displayName&startIndex=2&count=1", &token).await.json();
        assert_eq!((names(&r), &r["totalResults"], &r["startIndex"]), (vec!["Sales".to_string()], &json!(3), &json!(2)));
        let r = get(&t, "/Groups?sortBy=members", &token).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
        let r = get(&t, "/Groups?sortOrder=sideways&sortBy=displayName", &token).await;
        assert_eq!(r.status, 400);
        // Attributes: only what is asked (and id, schemas); excluded ones go.
        let r = get(&t, "/Groups?attributes=displayName&sortBy=displayName", &token).await.json();
        let first = r["Resources"][0].as_object().unwrap();
        let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, vec!["displayName", "id", "schemas"]);
        let r = get(&t, "/Groups?excludedAttributes=members,meta", &token).await.json();
        assert!(r["Resources"][0].get("members").is_none() && r["Resources"][0].get("meta").is_none());
        // POST /Groups/.search and the root /.search.
        let r = call(&t, Method::POST, "/Groups/.search", &token,
            Some(json!({"schemas": [SEARCH_URN], "filter": "displayName sw \"sales\"", "sortBy": "displayName", "attributes": ["displayName"]})), &[]).await;
        assert_eq!(names(&r.json()), vec!["Sales", "Sales EMEA"]);
        let r = call(&t, Method::POST, "/.search", &token,
            Some(json!({"schemas": [SEARCH_URN], "count": 10})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let all = r.json();
        // The admin made by setup, two users, three groups.
        assert_eq!(all["totalResults"], json!(6));
        let kinds: Vec<&str> = all["Resources"].as_array().unwrap().iter().map(|x| x["meta"]["resourceType"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["User", "User", "User", "Group", "Group", "Group"]);
        let r = call(&t, Method::POST, "/.search", &token,
            Some(json!({"schemas": [SEARCH_URN], "startIndex": 3, "count": 2})), &[]).await.json();
        let kinds: Vec<&str> = r["Resources"].as_array().unwrap().iter().map(|x| x["meta"]["resourceType"].as_str().unwrap()).collect();
        assert_eq!((kinds, &r["totalResults"]), (vec!["User", "Group"], &json!(6)));
        let r = call(&t, Method::POST, "/.search", &token,
            Some(json!({"schemas": [SEARCH_URN], "filter": "userName sw \"ann\""})), &[]).await.json();
        assert_eq!(r["totalResults"], json!(1));
        let r = call(&t, Method::POST, "/.search", &token,
            Some(json!({"schemas": [SEARCH_URN], "filter": "nonsense eq 1"})), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidFilter")));
    }

    async fn versions_guard_writes(t) {
        let token = ready(&t).await;
        let ann = user(&t, &token, "ann@example.com", "ann@example.com").await;
        let r = get(&t, &format!("/Users/{ann}"), &token).await;
        let etag = r.header("etag").unwrap();
        assert!(etag.starts_with("W/\""), "{etag}");
        assert_eq!(r.json()["meta"]["version"], json!(etag));
        // A current copy: 304 without a body.
        let r = call(&t, Method::GET, &format!("/Users/{ann}"), &token, None, &[("If-None-Match", &etag)]).await;
        assert_eq!(r.status, 304);
        // A write with the current version passes and changes it; the old one is then stale (412).
        let ops = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "name.familyName", "value": "New"}]});
        let r = call(&t, Method::PATCH, &format!("/Users/{ann}"), &token, Some(ops.clone()), &[("If-Match", &etag)]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let newer = r.header("etag").unwrap();
        assert_ne!(newer, etag);
        let r = call(&t, Method::PATCH, &format!("/Users/{ann}"), &token, Some(ops.clone()), &[("If-Match", &etag)]).await;
        assert_eq!(r.status, 412);
        for garbage in ["garbage", "W/", "\"\"", "W/\"0000000000000000\""] {
            let r = call(&t, Method::PATCH, &format!("/Users/{ann}"), &token, Some(ops.clone()), &[("If-Match", garbage)]).await;
            assert_eq!(r.status, 412, "{garbage}");
        }
        let r = call(&t, Method::DELETE, &format!("/Users/{ann}"), &token, None, &[("If-Match", &etag)]).await;
        assert_eq!(r.status, 412);
        assert_eq!(get(&t, &format!("/Users/{ann}"), &token).await.status, 200, "nothing deleted");
        let r = call(&t, Method::PATCH, &format!("/Users/{ann}"), &token, Some(ops.clone()), &[("If-Match", "*")]).await;
        assert_eq!(r.status, 200);
        // The strong form of a weak tag matches too.
        let cur = get(&t, &format!("/Users/{ann}"), &token).await.header("etag").unwrap();
        let strong = cur.trim_start_matches("W/").to_string();
        let r = call(&t, Method::PUT, &format!("/Users/{ann}"), &token,
            Some(json!({"schemas": [USER_URN], "userName": "ann@example.com"})), &[("If-Match", &strong)]).await;
        assert_eq!(r.status, 200, "{}", r.text());

        // Groups: a membership change moves the version.
        let g = group(&t, &token, "Sales", &[]).await;
        let id = g["id"].as_str().unwrap();
        let v1 = g["meta"]["version"].as_str().unwrap().to_string();
        let r = patch_group(&t, &token, id, json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]), &[("If-Match", &v1)]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = patch_group(&t, &token, id, json!([{"op": "remove", "path": "members"}]), &[("If-Match", &v1)]).await;
        assert_eq!(r.status, 412);
        assert_eq!(member_ids(&get(&t, &format!("/Groups/{id}"), &token).await.json()), vec![ann.clone()]);
    }

    async fn user_names_need_not_be_addresses(t) {
        let token = ready(&t).await;
        let r = call(&t, Method::POST, "/Users", &token, Some(json!({
            "schemas": [USER_URN], "userName": "ann.lee", "displayName": "Dr. Ann Lee",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "Ann.Lee@Example.com", "type": "work", "primary": true}]
        })), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let u = r.json();
        assert_eq!((&u["userName"], &u["displayName"]), (&json!("ann.lee"), &json!("Dr. Ann Lee")));
        assert_eq!(u["emails"][0]["value"], json!("ann.lee@example.com"));
        let id = u["id"].as_str().unwrap().to_string();
        // Found by its userName in any case, and by its email.
        let r = get(&t, &format!("/Users?filter={}", enc("userName eq \"ANN.LEE\"")), &token).await.json();
        assert_eq!(r["totalResults"], json!(1));
        let r = get(&t, &format!("/Users?filter={}", enc("emails.value eq \"ann.lee@example.com\"")), &token).await.json();
        assert_eq!(r["Resources"][0]["id"], json!(id));
        let r = get(&t, &format!("/Users?filter={}", enc("displayName co \"Dr.\"")), &token).await.json();
        assert_eq!(r["totalResults"], json!(1));
        // Unique ignoring case.
        let r = call(&t, Method::POST, "/Users", &token, Some(json!({
            "schemas": [USER_URN], "userName": "ANN.LEE", "emails": [{"value": "other@example.com"}]
        })), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (409, json!("uniqueness")));
        // Without any address: invalidValue.
        let r = call(&t, Method::POST, "/Users", &token, Some(json!({"schemas": [USER_URN], "userName": "nobody"})), &[]).await;
        assert_eq!((r.status, r.json()["scimType"].clone()), (400, json!("invalidValue")));
        // The person signs in with the email (people's own API shows the email).
        let s = t.login("admin@example.com").await;
        let list = t.get("/api/user?query=ann.lee", Some(&s)).await.json();
        assert_eq!(list["data"][0]["email"], json!("ann.lee@example.com"));
        // Sorting by userName puts the admin (a@…) before ann.lee.
        let r = get(&t, "/Users?sortBy=userName&attributes=userName", &token).await.json();
        let names: Vec<&str> = r["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["admin@example.com", "ann.lee"]);
        let r = get(&t, "/Users?sortBy=userName&sortOrder=descending", &token).await.json();
        assert_eq!(r["Resources"][0]["userName"], json!("ann.lee"));
        let r = get(&t, &format!("/Users/{id}?excludedAttributes=groups,name"), &token).await.json();
        assert!(r.get("groups").is_none() && r.get("name").is_none() && r.get("id").is_some());
    }
}

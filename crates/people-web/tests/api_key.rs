//! `/api/api-key` and `X-Api-Key` over HTTP, on SQLite and PostgreSQL: the six endpoints with Metabase's
//! shapes and people's answers where Metabase fails, authentication by key and its precedence, and where key
//! users appear (and do not).

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::{keys, Resp, TestApp};
use serde_json::{json, Value};

/// A request authenticated by `key` alone (header name as given).
async fn with_key(
    t: &TestApp,
    method: Method,
    path: &str,
    header: &str,
    key: &[u8],
    body: Option<Value>,
) -> Resp {
    let mut req = TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header((
            header,
            actix_web::http::header::HeaderValue::from_bytes(key).unwrap(),
        ));
    if let Some(b) = body {
        req = req.set_json(b);
    }
    t.send(req).await
}

async fn current_with(t: &TestApp, key: &str) -> Resp {
    with_key(
        t,
        Method::GET,
        "/api/user/current",
        "X-Api-Key",
        key.as_bytes(),
        None,
    )
    .await
}

async fn new_group(t: &TestApp, s: &str, name: &str) -> i64 {
    let r = t
        .post("/api/permissions/group", Some(s), json!({ "name": name }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

async fn new_key(t: &TestApp, s: &str, name: &str, group_id: i64) -> Value {
    let r = t
        .post(
            "/api/api-key",
            Some(s),
            json!({"name": name, "group_id": group_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn set(names: &[&str]) -> std::collections::BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

web_tests! {
    async fn create_and_use_a_key(t) {
        let s = t.setup().await;
        let g = new_group(&t, &s, "Cool Friends").await;
        let k = new_key(&t, &s, "CI exporter", g).await;
        assert_eq!(
            keys(&k),
            set(&["id", "name", "group", "unmasked_key", "masked_key", "created_at", "updated_at", "updated_by"])
        );
        let key = k["unmasked_key"].as_str().unwrap().to_string();
        assert_eq!(key.len(), 47);
        assert!(key.starts_with("mb_"));
        assert_eq!(k["masked_key"], json!(format!("{}{}", &key[..7], "*".repeat(40))));
        assert_eq!(k["group"], json!({"id": g, "name": "Cool Friends"}));
        assert_eq!(k["name"], json!("CI exporter"));
        assert_eq!(k["updated_by"], json!({"id": 1, "common_name": "Ada Admin"}));

        // The key acts as its own user; the header name is case-insensitive.
        for header in ["X-Api-Key", "x-api-key", "X-API-KEY"] {
            let r = with_key(&t, Method::GET, "/api/user/current", header, key.as_bytes(), None).await;
            assert_eq!(r.status, 200, "{header}: {}", r.text());
            let me = r.json();
            assert!(me["email"].as_str().unwrap().starts_with("api-key-user-"), "{me}");
            assert!(me["email"].as_str().unwrap().ends_with("@api-key.invalid"), "{me}");
            assert_eq!((me["first_name"].clone(), me["last_name"].clone()), (json!("CI exporter"), json!("")));
            assert_eq!(me["common_name"], json!("CI exporter"));
            assert_eq!(me["is_superuser"], json!(false));
        }
        // A key in a plain group cannot manage keys.
        let r = with_key(&t, Method::GET, "/api/api-key", "X-Api-Key", key.as_bytes(), None).await;
        assert_eq!((r.status, r.text()), (403, "You don't have permissions to do that.".to_string()));

        // List and count show it without the key.
        let list = t.get("/api/api-key", Some(&s)).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(
            keys(&list[0]),
            set(&["id", "name", "group", "masked_key", "created_at", "updated_at", "updated_by"])
        );
        assert_eq!(t.get("/api/api-key/count", Some(&s)).await.json(), json!(1));
        assert_eq!(t.get("/api/api-key/", Some(&s)).await.status, 200, "trailing slash");
    }

    async fn an_admin_key_manages_keys_but_is_not_the_last_admin(t) {
        let s = t.setup().await;
        let k = new_key(&t, &s, "ops", 2).await;
        let key = k["unmasked_key"].as_str().unwrap().to_string();
        let me = current_with(&t, &key).await.json();
        assert_eq!(me["is_superuser"], json!(true));
        let r = with_key(&t, Method::POST, "/api/api-key", "X-Api-Key", key.as_bytes(),
            Some(json!({"name": "made by a key", "group_id": 1}))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["updated_by"]["common_name"], json!("ops"));
        // The only human administrator stays one, whatever admin keys exist.
        let r = with_key(&t, Method::DELETE, "/api/user/1", "X-Api-Key", key.as_bytes(), None).await;
        assert_eq!(r.status, 400, "{}", r.text());
        let r = with_key(&t, Method::PUT, "/api/user/1", "X-Api-Key", key.as_bytes(),
            Some(json!({"is_superuser": false}))).await;
        assert_eq!(r.status, 400, "{}", r.text());
        // A cross-site-looking request with a key is not a cookie request: not refused as cross-site.
        let req = TestRequest::post()
            .uri("/api/api-key")
            .insert_header(("X-Api-Key", key.clone()))
            .insert_header(("Origin", "https://evil.example"))
            .insert_header(("Sec-Fetch-Site", "cross-site"))
            .set_json(json!({"name": "third", "group_id": 1}));
        assert_eq!(t.send(req).await.status, 200);
    }

    async fn bad_input_is_a_400_never_a_500(t) {
        let s = t.setup().await;
        let post = |b: Value| { let t = &t; let s = s.clone(); async move { t.post("/api/api-key", Some(&s), b).await } };
        let r = post(json!({"name": "k", "group_id": null})).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["errors"], json!({"group_id": "value must be an integer greater than zero."}));
        assert!(r.json()["specific-errors"]["group_id"].is_array());
        for name in [json!(""), json!("   "), json!(null)] {
            let r = post(json!({"name": name, "group_id": 1})).await;
            assert_eq!(r.json()["errors"], json!({"name": "value must be a non-blank string."}), "{name}");
        }
        let r = post(json!({"name": "k", "group_id": 4242})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"group_id": "value must be the id of an existing group."}})));
        let r = post(json!({"name": "k".repeat(255), "group_id": 1})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"name": "value must be a string with at most 254 characters."}})));
        let k = new_key(&t, &s, "k", 1).await;
        let other = new_key(&t, &s, "other", 1).await;
        let r = post(json!({"name": "k", "group_id": 1})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"name": "An API key with this name already exists."}})));
        let id = k["id"].as_i64().unwrap();
        let r = t.put(&format!("/api/api-key/{id}"), Some(&s), json!({"name": "other"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"name": "An API key with this name already exists."}})));
        let r = t.put(&format!("/api/api-key/{id}"), Some(&s), json!({"name": "x".repeat(255)})).await;
        assert_eq!(r.status, 400);
        let r = t.put(&format!("/api/api-key/{id}"), Some(&s), json!({"group_id": 4242})).await;
        assert_eq!(r.json(), json!({"errors": {"group_id": "value must be the id of an existing group."}}));
        for (method, path) in [
            (Method::PUT, "/api/api-key/4242"),
            (Method::PUT, "/api/api-key/4242/regenerate"),
            (Method::DELETE, "/api/api-key/4242"),
            (Method::PUT, "/api/api-key/99999999999999999999"),
        ] {
            let r = t.call(method.clone(), path, Some(&s), Some(json!({}))).await;
            assert_eq!((r.status, r.text()), (404, "Not found.".to_string()), "{method} {path}");
        }
        assert_eq!(t.put("/api/api-key/0", Some(&s), json!({})).await.status, 400);
        let _ = other;
        // Without a session: 401 first; as a plain user: 403.
        assert_eq!(t.post("/api/api-key", None, json!({"name": "", "group_id": null})).await.status, 401);
        t.add_user("pat@x.com", Some("Pat"), None, false);
        let plain = t.login("pat@x.com").await;
        assert_eq!(t.get("/api/api-key", Some(&plain)).await.status, 403);
        assert_eq!(t.get("/api/api-key/count", Some(&plain)).await.status, 403);
        assert_eq!(t.put(&format!("/api/api-key/{id}/regenerate"), Some(&plain), json!({})).await.status, 403);
    }

    async fn rename_regroup_regenerate_and_delete(t) {
        let s = t.setup().await;
        let g = new_group(&t, &s, "Readers").await;
        let k = new_key(&t, &s, "k", 1).await;
        let id = k["id"].as_i64().unwrap();
        let old = k["unmasked_key"].as_str().unwrap().to_string();
        let r = t.put(&format!("/api/api-key/{id}"), Some(&s), json!({"name": "renamed", "group_id": g})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            keys(&r.json()),
            set(&["id", "name", "group", "masked_key", "created_at", "updated_at", "updated_by"])
        );
        assert_eq!((r.json()["name"].clone(), r.json()["group"]["name"].clone()), (json!("renamed"), json!("Readers")));
        assert_eq!(current_with(&t, &old).await.json()["common_name"], json!("renamed"));

        let r = t.put(&format!("/api/api-key/{id}/regenerate"), Some(&s), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            keys(&r.json()),
            set(&["id", "name", "group", "unmasked_key", "masked_key", "created_at", "updated_at", "updated_by"])
        );
        let new = r.json()["unmasked_key"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        assert_eq!((current_with(&t, &old).await.status, current_with(&t, &new).await.status), (401, 200));
        let user_id = current_with(&t, &new).await.json()["id"].as_i64().unwrap();

        let r = t.delete(&format!("/api/api-key/{id}"), Some(&s)).await;
        assert_eq!((r.status, r.text()), (204, String::new()));
        let r = current_with(&t, &new).await;
        assert_eq!((r.status, r.text()), (401, "Unauthenticated".to_string()));
        assert_eq!(t.get("/api/api-key", Some(&s)).await.json(), json!([]));
        assert_eq!(t.get("/api/api-key/count", Some(&s)).await.json(), json!(0));
        let user = t.get(&format!("/api/user/{user_id}"), Some(&s)).await.json();
        assert_eq!(user["is_active"], json!(false), "the key's user stays, deactivated");
        // A key whose group was deleted still works, shown in All Users, and can be deleted.
        let g2 = new_group(&t, &s, "Doomed").await;
        let k2 = new_key(&t, &s, "k2", g2).await;
        assert_eq!(t.delete(&format!("/api/permissions/group/{g2}"), Some(&s)).await.status, 204);
        let key2 = k2["unmasked_key"].as_str().unwrap();
        assert_eq!(current_with(&t, key2).await.status, 200);
        assert_eq!(t.get("/api/api-key", Some(&s)).await.json()[0]["group"], json!({"id": 1, "name": "All Users"}));
        let id2 = k2["id"].as_i64().unwrap();
        assert_eq!(t.delete(&format!("/api/api-key/{id2}"), Some(&s)).await.status, 204);
    }

    async fn a_valid_session_wins_and_a_bad_key_is_anonymous(t) {
        let s = t.setup().await;
        let key = new_key(&t, &s, "k", 1).await["unmasked_key"].as_str().unwrap().to_string();
        // Session and key: the session's user.
        let req = TestRequest::get().uri("/api/user/current")
            .insert_header(("X-Metabase-Session", s.clone()))
            .insert_header(("X-Api-Key", key.clone()));
        assert_eq!(t.send(req).await.json()["id"], json!(1));
        // An invalid session falls through to the key.
        let req = TestRequest::get().uri("/api/user/current")
            .insert_header(("X-Metabase-Session", "00000000-0000-4000-8000-000000000000"))
            .insert_header(("X-Api-Key", key.clone()));
        assert_ne!(t.send(req).await.json()["id"], json!(1));
        // A valid session with a bad key: still the session.
        let req = TestRequest::get().uri("/api/user/current")
            .insert_header(("X-Metabase-Session", s.clone()))
            .insert_header(("X-Api-Key", "mb_not_an_api_key"));
        assert_eq!(t.send(req).await.json()["id"], json!(1));
        // Keys that cannot be keys: anonymous, never an error page.
        let long = format!("mb_{}", "A".repeat(300));
        let bad: [&[u8]; 6] = [b"", b"mb_not_an_api_key", b"Bearer mb_xxxxxxxxxxxxxxxxxxxx", long.as_bytes(), b"mb_\xff\xfe\xfdxxxxxxxxxxxxxx", &key.as_bytes()[3..]];
        for value in bad {
            let r = with_key(&t, Method::GET, "/api/user/current", "X-Api-Key", value, None).await;
            assert_eq!((r.status, r.text()), (401, "Unauthenticated".to_string()), "{value:?}");
            let r = with_key(&t, Method::GET, "/api/session/properties", "X-Api-Key", value, None).await;
            assert_eq!(r.status, 200);
        }
        // Using a key writes nothing: no session, no login history, no last_login.
        let before = t.get("/api/user?status=all", Some(&s)).await.json()["total"].clone();
        let r = current_with(&t, &key).await.json();
        assert_eq!(r["last_login"], json!(null));
        assert_eq!(t.get("/api/user?status=all", Some(&s)).await.json()["total"], before);
    }

    async fn key_users_are_not_people(t) {
        let s = t.setup().await;
        let key = new_key(&t, &s, "k", 1).await["unmasked_key"].as_str().unwrap().to_string();
        let kid = current_with(&t, &key).await.json()["id"].as_i64().unwrap();
        let list = t.get("/api/user?status=all", Some(&s)).await.json();
        assert!(list["data"].as_array().unwrap().iter().all(|u| u["id"] != json!(kid)), "{list}");
        assert_eq!(list["total"], json!(1));
        let recipients = t.get("/api/user/recipients", Some(&s)).await.json();
        assert!(recipients["data"].as_array().unwrap().iter().all(|u| u["id"] != json!(kid)));
        // Admins can read a key's user, but not change it through the user API.
        assert_eq!(t.get(&format!("/api/user/{kid}"), Some(&s)).await.status, 200);
        for (method, path, body) in [
            (Method::PUT, format!("/api/user/{kid}"), Some(json!({"first_name": "x"}))),
            (Method::PUT, format!("/api/user/{kid}/password"), Some(json!({"password": "n3w-Secret!"}))),
            (Method::DELETE, format!("/api/user/{kid}"), None),
            (Method::PUT, format!("/api/user/{kid}/modal/qbnewb"), None),
            (Method::PUT, format!("/api/user/{kid}/reactivate"), None),
            (Method::POST, format!("/api/user/{kid}/send_invite"), Some(json!({}))),
            (Method::POST, format!("/api/user/{kid}/invite_link"), Some(json!({}))),
        ] {
            let r = t.call(method.clone(), &path, Some(&s), body).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        }
        // Nor can it sign in or be sent a reset link.
        let email = current_with(&t, &key).await.json()["email"].as_str().unwrap().to_string();
        let r = t.post("/api/session", None, json!({"username": email, "password": "whatever1"})).await;
        assert_eq!(r.status, 401);
    }
}

//! `/api/user` over HTTP: every endpoint's shape and every error.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use std::collections::BTreeSet;

use common::{keys, TestApp, PASSWORD};
use people_domain::group::{GroupRole, ALL_USERS_ID};
use people_domain::store::NewMembership;
use people_domain::{GroupId, UserId};
use serde_json::{json, Value};

const ADMIN_OR_SELF: [&str; 14] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "common_name",
    "date_joined",
    "last_login",
    "is_superuser",
    "is_qbnewb",
    "sso_source",
    "is_active",
    "updated_at",
    "login_attributes",
    "locale",
];
const GROUP_MANAGER: [&str; 7] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "common_name",
    "is_superuser",
    "last_login",
];
const NON_ADMIN: [&str; 5] = ["id", "email", "first_name", "last_name", "common_name"];

fn set(base: &[&str], extra: &[&str]) -> BTreeSet<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect()
}

fn errors(r: &common::Resp) -> Value {
    r.json()["errors"].clone()
}

/// An admin session plus plain users: returns (admin session, admin id).
async fn admin(t: &TestApp) -> (String, i64) {
    let s = t.setup().await;
    let id = t.get("/api/user/current", Some(&s)).await.json()["id"]
        .as_i64()
        .unwrap();
    (s, id)
}

/// Creates a group directly in the store.
fn group(t: &TestApp, name: &str) -> GroupId {
    let entity = people_domain::group::new_entity_id();
    t.store()
        .write(|r| r.insert_group(name, &entity))
        .unwrap()
        .id
}

fn join(t: &TestApp, user: UserId, group: GroupId, manager: bool) {
    let membership = NewMembership {
        user_id: user,
        group_id: group,
        role: GroupRole::from_manager_flag(manager),
    };
    t.store()
        .write(|r| r.insert_membership(&membership))
        .unwrap();
}

web_tests! {
    async fn every_user_endpoint_is_401_before_anything(t) {
        t.setup().await;
        let calls: Vec<(&str, &str)> = vec![
            ("GET", "/api/user"), ("GET", "/api/user?group_id=abc&limit=-1"), ("POST", "/api/user"),
            ("GET", "/api/user/current"), ("GET", "/api/user/recipients"), ("GET", "/api/user/1"),
            ("GET", "/api/user/0"), ("PUT", "/api/user/1"), ("DELETE", "/api/user/1"),
            ("PUT", "/api/user/1/password"), ("PUT", "/api/user/1/reactivate"), ("PUT", "/api/user/1/modal/qbnewb"),
            ("POST", "/api/user/1/send_invite"), ("PUT", "/api/user/1/send_invite"), ("GET", "/api/user/abc"),
        ];
        for (method, path) in calls {
            let m = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
            let body = if method == "GET" || method == "DELETE" { None } else { Some(json!({"email": "bad", "password": "1"})) };
            let r = t.call(m, path, None, body).await;
            assert_eq!((r.status, r.text().as_str()), (401, "Unauthenticated"), "{method} {path}");
        }
    }

    async fn admin_list_shape_order_and_totals(t) {
        let (s, admin_id) = admin(&t).await;
        let b = t.add_user("b@x.com", Some("bob"), Some("Zed"), false);
        let a = t.add_user("a@x.com", Some("Amy"), Some("Young"), false);
        let n = t.add_user("n@x.com", None, None, false);
        let off = t.add_user("off@x.com", Some("Carl"), None, false);
        t.update_user(off.id, |u| u.is_active = false);
        let r = t.get("/api/user", Some(&s)).await;
        assert_eq!(r.status, 200);
        let body = r.json();
        assert_eq!(keys(&body), set(&["data", "total", "limit", "offset"], &[]));
        assert_eq!((body["limit"].clone(), body["offset"].clone()), (Value::Null, Value::Null));
        assert_eq!(body["total"], json!(4));
        assert_eq!(ids(&body), vec![admin_id, a.id.get(), b.id.get(), n.id.get()], "Ada, Amy, bob, then no name");
        let first = &body["data"][0];
        assert_eq!(keys(first), set(&ADMIN_OR_SELF, &["group_ids", "personal_collection_id"]));
        assert_eq!(keys(first).len(), 16);
        assert_eq!(first["group_ids"], json!([1, 2]));
        assert_eq!(first["personal_collection_id"], Value::Null);
        assert_eq!(body["data"][3]["common_name"], json!("n@x.com"), "no names: the email");
        assert_eq!(body["data"][1]["common_name"], json!("Amy Young"));
        assert_eq!(t.get("/api/user/", Some(&s)).await.json()["total"], json!(4), "trailing slash");
    }

    async fn list_activity_filters_follow_metabase_precedence(t) {
        let (s, _) = admin(&t).await;
        let off = t.add_user("off@x.com", Some("Off"), None, false);
        t.update_user(off.id, |u| u.is_active = false);
        t.add_user("on@x.com", Some("On"), None, false);
        let total = |q: &'static str| {
            let s = s.clone();
            let t = &t;
            async move { t.get(&format!("/api/user{q}"), Some(&s)).await.json()["total"].as_i64().unwrap() }
        };
        assert_eq!(total("").await, 2);
        assert_eq!(total("?status=active").await, 2);
        assert_eq!(total("?status=deactivated").await, 1);
        assert_eq!(total("?status=all").await, 3);
        assert_eq!(total("?status=whatever").await, 2);
        assert_eq!(total("?include_deactivated=true").await, 3);
        assert_eq!(total("?include_deactivated=true&status=deactivated").await, 3, "include_deactivated wins");
        assert_eq!(total("?include_deactivated=false").await, 2);
        assert_eq!(total("?include_deactivated=false&status=deactivated").await, 1, "false falls back to status");
        let r = t.get("/api/user?include_deactivated=yes", Some(&s)).await;
        assert_eq!((r.status, errors(&r)), (400, json!({"include_deactivated": "nullable value must be a valid boolean string ('true' or 'false')."})));
    }

    async fn list_query_matches_names_and_email_literally(t) {
        let (s, _) = admin(&t).await;
        let z = t.add_user("zed@x.com", Some("Zoe"), Some("ZEBRA"), false);
        let e = t.add_user("zebra.fan@x.com", Some("Eve"), None, false);
        let p = t.add_user("p@x.com", Some("100%_real"), None, false);
        t.add_user("q@x.com", Some("1000 real"), None, false);
        let found = |q: &str| {
            let s = s.clone();
            let t = &t;
            let q = q.to_string();
            async move { ids(&t.get(&format!("/api/user?query={q}"), Some(&s)).await.json()) }
        };
        assert_eq!(found("zebra").await, vec![e.id.get(), z.id.get()]);
        assert_eq!(found("ZeBrA").await.len(), 2);
        assert_eq!(found("zebra.fan%40").await, vec![e.id.get()], "email matches");
        assert_eq!(found("%25").await, vec![p.id.get()], "% is literal");
        assert_eq!(found("_real").await, vec![p.id.get()], "_ is literal (it would match \"0 real\" as a wildcard)");
        assert_eq!(found("nothing-here").await, Vec::<i64>::new());
    }

    async fn list_pagination_edges(t) {
        let (s, _) = admin(&t).await;
        for i in 0..4 {
            t.add_user(&format!("u{i}@x.com"), Some(&format!("U{i}")), None, false);
        }
        let get = |q: &'static str| {
            let s = s.clone();
            let t = &t;
            async move { t.get(&format!("/api/user{q}"), Some(&s)).await }
        };
        let r = get("?limit=2").await.json();
        assert_eq!((r["limit"].clone(), r["offset"].clone(), r["total"].clone()), (json!(2), json!(0), json!(5)));
        assert_eq!(r["data"].as_array().unwrap().len(), 2);
        let r = get("?offset=4").await.json();
        assert_eq!((r["limit"].clone(), r["offset"].clone()), (json!(50), json!(4)));
        assert_eq!(r["data"].as_array().unwrap().len(), 1);
        let r = get("?limit=0").await.json();
        assert_eq!((r["data"].clone(), r["total"].clone()), (json!([]), json!(5)));
        let r = get("?limit=10&offset=99").await.json();
        assert_eq!((r["data"].clone(), r["total"].clone()), (json!([]), json!(5)));
        let r = get("?limit=10000").await.json();
        assert_eq!(r["data"].as_array().unwrap().len(), 5);
        let r = get("?limit=999999999").await;
        assert_eq!((r.status, errors(&r)), (400, json!({"limit": "value must be an integer between 0 and 10000."})), "pages are bounded");
        let r = get("?limit=5&offset=99999999999999999999999").await.json();
        assert_eq!((r["data"].clone(), r["total"].clone()), (json!([]), json!(5)), "an offset beyond i64 is past the end");
        for (q, field) in [("?limit=-1", "limit"), ("?offset=-5", "offset"), ("?limit=abc", "limit"), ("?limit=1.5", "limit"), ("?limit=", "limit")] {
            let r = get(q).await;
            assert_eq!(r.status, 400, "{q}");
            assert!(errors(&r)[field].is_string(), "{q}: {}", r.text());
        }
    }

    async fn list_by_group_ranks_admins_then_managers(t) {
        let (s, admin_id) = admin(&t).await;
        let g = group(&t, "Team");
        let a = t.add_user("a@x.com", Some("Aaron"), None, false);
        let m = t.add_user("m@x.com", Some("Zack"), None, false);
        let x = t.add_user("x@x.com", Some("Mia"), None, false);
        let _outsider = t.add_user("o@x.com", Some("Out"), None, false);
        join(&t, a.id, g, false);
        join(&t, m.id, g, true);
        join(&t, x.id, g, false);
        join(&t, UserId(admin_id), g, false);
        let r = t.get(&format!("/api/user?group_id={g}"), Some(&s)).await.json();
        assert_eq!(ids(&r), vec![admin_id, m.id.get(), a.id.get(), x.id.get()]);
        assert_eq!(r["total"], json!(4));
        assert_eq!(t.get("/api/user?group_id=9999", Some(&s)).await.json()["total"], json!(0));
        let r = t.get("/api/user?group_id=0", Some(&s)).await;
        assert_eq!((r.status, errors(&r)), (400, json!({"group_id": "nullable value must be an integer greater than zero."})));
    }

    async fn list_permissions_for_non_admins_and_group_managers(t) {
        t.setup().await;
        let g = group(&t, "Sales");
        let h = group(&t, "Hidden");
        let mgr = t.add_user("mgr@x.com", Some("Mgr"), None, false);
        let plain = t.add_user("plain@x.com", Some("Plain"), None, false);
        join(&t, mgr.id, g, true);
        join(&t, plain.id, g, false);
        let ms = t.login("mgr@x.com").await;
        let ps = t.login("plain@x.com").await;
        let r = t.get("/api/user", Some(&ps)).await;
        assert_eq!((r.status, r.text().as_str()), (403, "You don't have permissions to do that."));
        assert_eq!(t.get("/api/user?query=a", Some(&ps)).await.status, 403);
        let r = t.get("/api/user", Some(&ms)).await;
        assert_eq!(r.status, 200);
        let body = r.json();
        assert_eq!(body["total"], json!(3), "0.50: all users without group_id");
        assert_eq!(keys(&body["data"][0]), set(&GROUP_MANAGER, &["group_ids"]));
        let r = t.get(&format!("/api/user?group_id={g}"), Some(&ms)).await;
        assert_eq!((r.status, r.json()["total"].clone()), (200, json!(2)));
        assert_eq!(t.get(&format!("/api/user?group_id={h}"), Some(&ms)).await.status, 403);
        let r = t.get("/api/user?group_id=abc", Some(&ps)).await;
        assert_eq!(r.status, 400, "400 before 403");
    }

    async fn current_user_shape_and_derived_fields(t) {
        let (s, admin_id) = admin(&t).await;
        assert_eq!(admin_id, 1);
        let r = t.get("/api/user/current", Some(&s)).await;
        assert_eq!(r.status, 200);
        let c = r.json();
        let extra = ["personal_collection_id", "group_ids", "is_installer", "has_invited_second_user",
            "has_question_and_dashboard", "has_model", "first_login", "custom_homepage", "permissions"];
        assert_eq!(keys(&c), set(&ADMIN_OR_SELF, &extra));
        assert_eq!(c["is_installer"], json!(true));
        assert_eq!(c["has_invited_second_user"], json!(false));
        assert_eq!(c["group_ids"], json!([1, 2]));
        assert_eq!(c["permissions"], json!({"can_access_setting": true, "can_access_subscription": true,
            "can_access_monitoring": true, "can_access_data_model": true, "can_access_db_details": true, "is_group_manager": true}));
        assert_eq!((c["has_model"].clone(), c["custom_homepage"].clone()), (json!(false), Value::Null));
        assert_eq!(c["email"], json!("admin@example.com"));
        assert!(c["first_login"].is_string());
        t.add_user("two@x.com", Some("Two"), None, false);
        assert_eq!(t.get("/api/user/current", Some(&s)).await.json()["has_invited_second_user"], json!(true));

        let g = group(&t, "G");
        let mgr = t.add_user("m@x.com", None, None, false);
        join(&t, mgr.id, g, true);
        let ms = t.login("m@x.com").await;
        let login_time = t.now();
        t.clock.advance(chrono::Duration::minutes(3));
        let c = t.get("/api/user/current", Some(&ms)).await.json();
        assert_eq!(c["is_installer"], json!(false));
        assert_eq!(c["first_login"], people_web::render::ts(login_time));
        assert_eq!(c["permissions"], json!({"can_access_setting": false, "can_access_subscription": true,
            "can_access_monitoring": false, "can_access_data_model": false, "can_access_db_details": false, "is_group_manager": true}));
        let before = t.db.db.statements();
        t.get("/api/user/current", Some(&ms)).await;
        assert_eq!(t.db.db.statements() - before, 1, "one query for /current (authentication included)");
    }

    async fn get_user_by_id(t) {
        let (s, _) = admin(&t).await;
        let me = t.add_user("me@x.com", Some("Me"), None, false);
        let other = t.add_user("other@x.com", Some("Other"), None, false);
        let off = t.add_user("off@x.com", Some("Off"), None, false);
        t.update_user(off.id, |u| u.is_active = false);
        let mine = t.login("me@x.com").await;
        let r = t.get(&format!("/api/user/{}", me.id), Some(&mine)).await;
        assert_eq!(r.status, 200);
        let u = r.json();
        assert_eq!(keys(&u), set(&ADMIN_OR_SELF, &["user_group_memberships"]));
        assert_eq!(u["user_group_memberships"], json!([{"id": 1, "is_group_manager": false}]));
        let r = t.get(&format!("/api/user/{}", other.id), Some(&mine)).await;
        assert_eq!((r.status, r.text().as_str()), (403, "You don't have permissions to do that."));
        let r = t.get(&format!("/api/user/{}", off.id), Some(&s)).await;
        assert_eq!((r.status, r.json()["is_active"].clone()), (200, json!(false)), "inactive users are returned");
        for path in ["/api/user/4242", "/api/user/13371338", "/api/user/99999999999999999999999"] {
            let r = t.get(path, Some(&s)).await;
            assert_eq!((r.status, r.text().as_str()), (404, "Not found."), "{path}");
        }
        let r = t.get("/api/user/0", Some(&s)).await;
        assert_eq!((r.status, errors(&r)), (400, json!({"id": "value must be an integer greater than zero."})));
        let r = t.get("/api/user/abc", Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (404, "API endpoint does not exist."));
        // A manager of any group may read anyone.
        let g = group(&t, "G");
        join(&t, me.id, g, true);
        assert_eq!(t.get(&format!("/api/user/{}", other.id), Some(&mine)).await.status, 200);
        let before = t.db.db.statements();
        t.get(&format!("/api/user/{}", other.id), Some(&s)).await;
        assert_eq!(t.db.db.statements() - before, 2, "two queries, authentication included");
    }

    async fn create_user_success_and_memberships(t) {
        let (s, _) = admin(&t).await;
        let g = group(&t, "Sales");
        let r = t.post("/api/user", Some(&s), json!({"first_name": "Ann", "last_name": "Lee", "email": "Ann@X.com",
            "login_attributes": {"test": "value"}, "user_group_memberships": [{"id": 1}, {"id": g, "is_group_manager": true}]})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let u = r.json();
        assert_eq!(keys(&u), set(&ADMIN_OR_SELF, &["user_group_memberships"]));
        assert_eq!(u["email"], json!("ann@x.com"));
        assert_eq!(u["common_name"], json!("Ann Lee"));
        assert_eq!((u["last_login"].clone(), u["is_superuser"].clone(), u["is_active"].clone()), (Value::Null, json!(false), json!(true)));
        assert_eq!(u["login_attributes"], json!({"test": "value"}));
        assert_eq!(u["user_group_memberships"], json!([{"id": 1, "is_group_manager": false}, {"id": g, "is_group_manager": true}]));

        let r = t.post("/api/user", Some(&s), json!({"email": "boss@x.com", "user_group_memberships": [{"id": 1}, {"id": 2}]})).await;
        assert_eq!((r.status, r.json()["is_superuser"].clone()), (200, json!(true)), "Administrators makes a superuser");
        let r = t.post("/api/user", Some(&s), json!({"email": "legacy@x.com", "group_ids": [1, g]})).await;
        assert_eq!(r.json()["user_group_memberships"], json!([{"id": 1, "is_group_manager": false}, {"id": g, "is_group_manager": false}]));
        let r = t.post("/api/user", Some(&s), json!({"email": "plain@x.com"})).await;
        assert_eq!(r.json()["user_group_memberships"], json!([{"id": 1, "is_group_manager": false}]));
        // Created without a password: no password login.
        let r = t.post("/api/session", None, json!({"username": "plain@x.com", "password": PASSWORD})).await;
        assert_eq!(r.json(), json!({"errors": {"password": "did not match stored password"}}));
        let r = t.post("/api/user", Some(&s), json!({"email": "pw@x.com", "password": "s6n!8z-6.gcJe"})).await;
        assert_eq!(r.status, 200);
        let r = t.post("/api/session", None, json!({"username": "pw@x.com", "password": "s6n!8z-6.gcJe"})).await;
        assert_eq!(r.status, 200, "a given password works");
    }

    async fn create_user_errors(t) {
        let (s, _) = admin(&t).await;
        t.add_user("taken@x.com", None, None, false);
        let off = t.add_user("gone@x.com", None, None, false);
        t.update_user(off.id, |u| u.is_active = false);
        let plain = t.add_user("plain@x.com", None, None, false);
        let ps = t.login("plain@x.com").await;
        let count = || t.store().read(|r| r.count_users(1000)).unwrap();
        let before = count();
        let cases: Vec<(Value, u16, Value)> = vec![
            (json!({}), 400, json!({"errors": {"email": "value must be a valid email address."}})),
            (json!({"email": "nope"}), 400, json!({"errors": {"email": "value must be a valid email address."}})),
            (json!({"email": "n@x.com", "first_name": ""}), 400, json!({"errors": {"first_name": "nullable value must be a non-blank string."}})),
            (json!({"email": "n@x.com", "last_name": 5}), 400, json!({"errors": {"last_name": "nullable value must be a non-blank string."}})),
            (json!({"email": "n@x.com", "login_attributes": ["a"]}), 400, json!({"errors": {"login_attributes": "nullable login attribute keys must be a keyword or string"}})),
            (json!({"email": "n@x.com", "user_group_memberships": [{"id": "x"}]}), 400, json!({"errors": {"user_group_memberships": "nullable sequence of map where {:id -> <value must be an integer greater than zero.>, :is_group_manager (optional) -> <boolean>}"}})),
            (json!({"email": "TAKEN@x.com"}), 400, json!({"errors": {"email": "Email address already in use."}})),
            (json!({"email": "gone@x.com"}), 400, json!({"errors": {"email": "Email address already in use."}})),
            (json!({"email": "n@x.com", "password": "passw0rd"}), 400, json!({"errors": {"password": "password is too common."}})),
            (json!({"email": "n@x.com", "user_group_memberships": [{"id": 999}]}), 400, json!({"errors": {"user_group_memberships": "Group 999 does not exist."}})),
            (json!({"email": format!("{}@x.com", "a".repeat(250))}), 400, json!({"errors": {"email": "value must be at most 254 characters long."}})),
        ];
        for (body, status, expected) in cases {
            let r = t.post("/api/user", Some(&s), body.clone()).await;
            assert_eq!((r.status, r.json()["errors"].clone()), (status, expected["errors"].clone()), "{body}");
        }
        for body in [json!({"email": "n@x.com", "user_group_memberships": []}), json!({"email": "n@x.com", "user_group_memberships": [{"id": 2}]})] {
            let r = t.post("/api/user", Some(&s), body.clone()).await;
            assert_eq!((r.status, r.text().as_str()), (400, "You cannot add or remove users to/from the 'All Users' group."), "{body}");
        }
        assert_eq!(count(), before, "failed creations leave no user behind");
        let r = t.post("/api/user", Some(&ps), json!({"email": "n@x.com"})).await;
        assert_eq!(r.status, 403);
        let r = t.post("/api/user", Some(&ps), json!({"email": "bad"})).await;
        assert_eq!(r.status, 400, "validation before permission");
        let _ = plain;
    }

    async fn update_profile_fields(t) {
        let (s, _) = admin(&t).await;
        let u = t.add_user("u@x.com", Some("Old"), Some("Name"), false);
        let path = format!("/api/user/{}", u.id);
        let r = t.put(&path, Some(&s), json!({"first_name": "New", "last_name": null, "locale": "es-MX",
            "email": "U2@X.com", "login_attributes": {"k": 1}})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(keys(&v), set(&ADMIN_OR_SELF, &["user_group_memberships"]));
        assert_eq!((v["first_name"].clone(), v["last_name"].clone(), v["common_name"].clone()), (json!("New"), Value::Null, json!("New")));
        assert_eq!((v["locale"].clone(), v["email"].clone(), v["login_attributes"].clone()), (json!("es_MX"), json!("u2@x.com"), json!({"k": 1})));
        let r = t.put(&path, Some(&s), json!({"locale": null})).await;
        assert_eq!((r.json()["locale"].clone(), r.json()["first_name"].clone()), (Value::Null, json!("New")), "absent keys stay");
        let r = t.put(&path, Some(&s), json!({"email": null})).await;
        assert_eq!(r.json()["email"], json!("u2@x.com"), "a null email changes nothing");
        for (body, field, message) in [
            (json!({"email": "bad"}), "email", "nullable value must be a valid email address."),
            (json!({"first_name": ""}), "first_name", "nullable value must be a non-blank string."),
            (json!({"locale": "xx_YY"}), "locale", "nullable String must be a valid two-letter ISO language or language-country code e.g. 'en' or 'en_US'."),
            (json!({"is_superuser": "yes"}), "is_superuser", "nullable boolean"),
        ] {
            let r = t.put(&path, Some(&s), body.clone()).await;
            assert_eq!((r.status, errors(&r)), (400, json!({ field: message })), "{body}");
        }
        for p in ["/api/user/4242", "/api/user/13371338"] {
            assert_eq!(t.put(p, Some(&s), json!({"first_name": "X"})).await.status, 404);
        }
        t.update_user(u.id, |x| x.is_active = false);
        assert_eq!(t.put(&path, Some(&s), json!({"first_name": "X"})).await.status, 404, "inactive target");
    }

    async fn update_email_uniqueness(t) {
        let (s, _) = admin(&t).await;
        let a = t.add_user("a@x.com", None, None, false);
        let off = t.add_user("off@x.com", None, None, false);
        t.update_user(off.id, |u| u.is_active = false);
        let path = format!("/api/user/{}", a.id);
        for email in ["ADMIN@example.com", "off@x.com"] {
            let r = t.put(&path, Some(&s), json!({"email": email})).await;
            assert_eq!((r.status, r.json()), (400, json!({"errors": {"email": "Email address already associated to another user."}})));
        }
        assert_eq!(t.put(&path, Some(&s), json!({"email": "A@X.com"})).await.status, 200, "one's own email");
    }

    async fn non_admin_self_update_limits(t) {
        t.setup().await;
        let me = t.add_user("me@x.com", Some("Me"), None, false);
        let other = t.add_user("other@x.com", Some("Other"), None, false);
        let g = group(&t, "G");
        let ms = t.login("me@x.com").await;
        let path = format!("/api/user/{}", me.id);
        let r = t.put(&path, Some(&ms), json!({"first_name": "Myself", "is_superuser": true, "login_attributes": {"x": 1}})).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!((v["first_name"].clone(), v["is_superuser"].clone(), v["login_attributes"].clone()), (json!("Myself"), json!(false), Value::Null));
        let r = t.put(&path, Some(&ms), json!({"user_group_memberships": [{"id": 1}]})).await;
        assert_eq!(r.status, 200, "the same set is no change");
        let r = t.put(&path, Some(&ms), json!({"first_name": "Sneaky", "user_group_memberships": [{"id": 1}, {"id": g}]})).await;
        assert_eq!((r.status, r.text().as_str()), (403, "You don't have permissions to do that."));
        let now = t.get(&path, Some(&ms)).await.json();
        assert_eq!(now["first_name"], json!("Myself"), "the name change was rolled back");
        let r = t.put(&format!("/api/user/{}", other.id), Some(&ms), json!({"first_name": "X"})).await;
        assert_eq!(r.status, 403);
        let r = t.put(&format!("/api/user/{}", other.id), Some(&ms), json!({"email": "bad"})).await;
        assert_eq!(r.status, 400, "validation before permission");
    }

    async fn sso_users_keep_their_names_and_email(t) {
        let (s, _) = admin(&t).await;
        let u = t.add_user("g@x.com", Some("Goo"), Some("Gle"), false);
        t.update_user(u.id, |x| x.sso_source = Some("google".into()));
        let us = t.login("g@x.com").await;
        let path = format!("/api/user/{}", u.id);
        let r = t.put(&path, Some(&us), json!({"email": "new@x.com"})).await;
        assert_eq!(r.status, 403, "a Google user cannot change their email");
        assert_eq!(t.put(&path, Some(&us), json!({"email": "g@x.com", "locale": "fr"})).await.status, 200);
        assert_eq!(t.put(&path, Some(&us), json!({"locale": "de"})).await.status, 200, "no email, no guard");
        for (who, session) in [("self", &us), ("admin", &s)] {
            let r = t.put(&path, Some(session), json!({"first_name": "Other"})).await;
            assert_eq!((r.status, r.json()), (400, json!({"errors": {"first_name": "Editing first name is not allowed for SSO users."}})), "{who}");
            let r = t.put(&path, Some(session), json!({"last_name": null})).await;
            assert_eq!((r.status, r.json()), (400, json!({"errors": {"last_name": "Editing last name is not allowed for SSO users."}})), "{who}");
        }
        assert_eq!(t.put(&path, Some(&us), json!({"first_name": "Goo", "last_name": "Gle"})).await.status, 200, "unchanged names are fine");
        assert_eq!(t.put(&path, Some(&s), json!({"email": "new@x.com"})).await.status, 200, "admins may");
    }

    async fn update_memberships_as_admin(t) {
        let (s, admin_id) = admin(&t).await;
        let g = group(&t, "G");
        let u = t.add_user("u@x.com", None, None, false);
        let path = format!("/api/user/{}", u.id);
        let r = t.put(&path, Some(&s), json!({"user_group_memberships": [{"id": 1}, {"id": g, "is_group_manager": true}]})).await;
        assert_eq!(r.json()["user_group_memberships"], json!([{"id": 1, "is_group_manager": false}, {"id": g, "is_group_manager": true}]));
        let r = t.put(&path, Some(&s), json!({"user_group_memberships": [{"id": 1}, {"id": g}]})).await;
        assert_eq!(r.json()["user_group_memberships"][1], json!({"id": g, "is_group_manager": true}), "an entry without the flag keeps it");
        let r = t.put(&path, Some(&s), json!({"user_group_memberships": [{"id": g}]})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot add or remove users to/from the 'All Users' group."));
        let r = t.put(&path, Some(&s), json!({"user_group_memberships": [{"id": 1}, {"id": 2}], "is_superuser": false})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"is_superuser": "Value of is_superuser must correspond to presence of Admin group ID in group_ids."}})));
        let r = t.put(&path, Some(&s), json!({"user_group_memberships": [{"id": 1}, {"id": 999}], "first_name": "Changed"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"user_group_memberships": "Group 999 does not exist."}})));
        assert_eq!(t.get(&path, Some(&s)).await.json()["first_name"], Value::Null, "nothing changed");
        let r = t.put(&path, Some(&s), json!({"user_group_memberships": [{"id": 1}, {"id": 2}], "is_superuser": true})).await;
        assert_eq!((r.status, r.json()["is_superuser"].clone()), (200, json!(true)));
        let r = t.put(&path, Some(&s), json!({"group_ids": [1]})).await;
        assert_eq!((r.json()["is_superuser"].clone(), r.json()["user_group_memberships"].clone()), (json!(false), json!([{"id": 1, "is_group_manager": false}])), "legacy group_ids");
        // The last active admin cannot be demoted through memberships or is_superuser.
        let me = format!("/api/user/{admin_id}");
        let r = t.put(&me, Some(&s), json!({"user_group_memberships": [{"id": 1}]})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot remove the last member of the 'Admin' group!"));
        let r = t.put(&me, Some(&s), json!({"is_superuser": false})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot remove the last member of the 'Admin' group!"));
        // is_superuser alone promotes and demotes.
        let r = t.put(&path, Some(&s), json!({"is_superuser": true})).await;
        assert_eq!((r.json()["is_superuser"].clone(), r.json()["user_group_memberships"].clone()), (json!(true), json!([{"id": 1, "is_group_manager": false}, {"id": 2, "is_group_manager": false}])));
        let r = t.put(&me, Some(&s), json!({"is_superuser": false})).await;
        assert_eq!((r.status, r.json()["is_superuser"].clone()), (200, json!(false)), "with a second admin it is allowed");
    }

    async fn group_managers_edit_only_their_groups(t) {
        let (s, _) = admin(&t).await;
        let g = group(&t, "Mine");
        let h = group(&t, "Theirs");
        let mgr = t.add_user("mgr@x.com", Some("Mgr"), None, false);
        let u = t.add_user("u@x.com", Some("Target"), None, false);
        join(&t, mgr.id, g, true);
        join(&t, u.id, h, false);
        let ms = t.login("mgr@x.com").await;
        let path = format!("/api/user/{}", u.id);
        let r = t.put(&path, Some(&ms), json!({"first_name": "Renamed", "user_group_memberships": [{"id": 1}, {"id": h}, {"id": g}]})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["first_name"], json!("Target"), "profile fields of others are ignored");
        assert_eq!(v["user_group_memberships"], json!([{"id": 1, "is_group_manager": false}, {"id": g, "is_group_manager": false}, {"id": h, "is_group_manager": false}]));
        let r = t.put(&path, Some(&ms), json!({"user_group_memberships": [{"id": 1}, {"id": g}]})).await;
        assert_eq!((r.status, r.text().as_str()), (403, "Not allowed to edit group memberships"), "removing from a group they do not manage");
        let r = t.put(&path, Some(&ms), json!({"user_group_memberships": [{"id": 1}, {"id": h}]})).await;
        assert_eq!(r.status, 200, "removing from their own group");
        let _ = s;
    }

    async fn change_password_rules(t) {
        let (s, _) = admin(&t).await;
        let me = t.add_user("me@x.com", None, None, false);
        let other = t.add_user("other@x.com", None, None, false);
        let old = t.login("me@x.com").await;
        let second = t.login("me@x.com").await;
        let path = format!("/api/user/{}/password", me.id);
        let r = t.put(&path, Some(&old), json!({"password": "123456", "old_password": PASSWORD})).await;
        assert_eq!((r.status, errors(&r)), (400, json!({"password": "password is too common."})));
        let r = t.put(&path, Some(&old), json!({"password": "n3w-Secret!", "old_password": "wrong"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"old_password": "Invalid password"}})));
        let r = t.put(&format!("/api/user/{}/password", other.id), Some(&old), json!({"password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 403);
        let r = t.put(&path, Some(&old), json!({"password": "n3w-Secret!", "old_password": PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["success"], json!(true));
        let new = body["session_id"].as_str().unwrap().to_string();
        assert!(r.cookie("metabase.SESSION").unwrap().contains(&new));
        assert_eq!(t.get("/api/user/current", Some(&old)).await.status, 401, "every old session is gone");
        assert_eq!(t.get("/api/user/current", Some(&second)).await.status, 401);
        assert_eq!(t.get("/api/user/current", Some(&new)).await.status, 200);
        let r = t.post("/api/session", None, json!({"username": "me@x.com", "password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 200);
        // An admin sets someone else's password without the old one: 204, their sessions dropped.
        let theirs = t.login("other@x.com").await;
        let r = t.put(&format!("/api/user/{}/password", other.id), Some(&s), json!({"password": "an0ther-Pass"})).await;
        assert_eq!((r.status, r.body.len()), (204, 0));
        assert_eq!(t.get("/api/user/current", Some(&theirs)).await.status, 401);
        t.update_user(other.id, |u| u.is_active = false);
        assert_eq!(t.put(&format!("/api/user/{}/password", other.id), Some(&s), json!({"password": "an0ther-Pass"})).await.status, 404);
        assert_eq!(t.put("/api/user/4242/password", Some(&s), json!({"password": "an0ther-Pass"})).await.status, 404);
    }

    async fn deactivate_and_reactivate(t) {
        let (s, admin_id) = admin(&t).await;
        let u = t.add_user("u@x.com", Some("U"), None, true);
        let us = t.login("u@x.com").await;
        let plain = t.add_user("p@x.com", None, None, false);
        let ps = t.login("p@x.com").await;
        assert_eq!(t.delete(&format!("/api/user/{}", u.id), Some(&ps)).await.status, 403);
        assert_eq!(t.put(&format!("/api/user/{}/reactivate", u.id), Some(&ps), json!({})).await.status, 403);
        let r = t.delete(&format!("/api/user/{}", u.id), Some(&s)).await;
        assert_eq!((r.status, r.json()), (200, json!({"success": true})));
        assert_eq!(t.get("/api/user/current", Some(&us)).await.status, 401);
        let r = t.delete(&format!("/api/user/{}", u.id), Some(&s)).await;
        assert_eq!((r.status, r.json()), (200, json!({"success": true})), "already inactive");
        let r = t.delete("/api/user/4242", Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (404, "Not found."));
        let r = t.delete(&format!("/api/user/{admin_id}"), Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot remove the last member of the 'Admin' group!"));

        let r = t.put(&format!("/api/user/{}/reactivate", u.id), Some(&s), json!({"ignored": true})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(keys(&v), set(&ADMIN_OR_SELF, &[]));
        assert_eq!((v["is_active"].clone(), v["is_superuser"].clone()), (json!(true), json!(false)), "reactivated admins lose admin rights");
        let groups = t.get(&format!("/api/user/{}", u.id), Some(&s)).await.json()["user_group_memberships"].clone();
        assert_eq!(groups, json!([{"id": 1, "is_group_manager": false}]));
        assert_eq!(t.get("/api/user/current", Some(&us)).await.status, 401, "sessions do not come back");
        let r = t.put(&format!("/api/user/{}/reactivate", u.id), Some(&s), json!({})).await;
        assert_eq!((r.status, r.json()["message"].clone()), (400, json!("Not able to reactivate an active user")));
        assert_eq!(t.put("/api/user/4242/reactivate", Some(&s), json!({})).await.status, 404);
        let _ = plain;
    }

    async fn modals_and_invites(t) {
        let (s, _) = admin(&t).await;
        let me = t.add_user("me@x.com", None, None, false);
        let other = t.add_user("o@x.com", None, None, false);
        let ms = t.login("me@x.com").await;
        let path = format!("/api/user/{}/modal/qbnewb", me.id);
        for _ in 0..2 {
            let r = t.put(&path, Some(&ms), json!({})).await;
            assert_eq!((r.status, r.json()), (200, json!({"success": true})));
        }
        assert_eq!(t.get("/api/user/current", Some(&ms)).await.json()["is_qbnewb"], json!(false));
        assert_eq!(t.put(&format!("/api/user/{}/modal/datasetnewb", me.id), Some(&ms), json!({})).await.status, 200);
        let r = t.put(&format!("/api/user/{}/modal/unknown", me.id), Some(&ms), json!({})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Unrecognized modal: unknown"));
        assert!(r.content_type().starts_with("text/plain"));
        assert_eq!(t.put(&format!("/api/user/{}/modal/qbnewb", other.id), Some(&ms), json!({})).await.status, 403);
        assert_eq!(t.put("/api/user/4242/modal/qbnewb", Some(&s), json!({})).await.status, 404);

        for method in [actix_web::http::Method::POST, actix_web::http::Method::PUT] {
            let r = t.call(method.clone(), &format!("/api/user/{}/send_invite", other.id), Some(&s), None).await;
            assert_eq!((r.status, r.json()), (200, json!({"success": true})), "{method}");
        }
        assert_eq!(t.post("/api/user/4242/send_invite", Some(&s), json!({})).await.status, 200);
        assert_eq!(t.post(&format!("/api/user/{}/send_invite", other.id), Some(&ms), json!({})).await.status, 403);
    }

    async fn recipients_follow_user_visibility(t) {
        let (s, admin_id) = admin(&t).await;
        let g = group(&t, "Team");
        let a = t.add_user("a@x.com", Some("Zed"), Some("Alpha"), false);
        let b = t.add_user("b@x.com", Some("Amy"), Some("Beta"), false);
        let c = t.add_user("c@x.com", Some("Cy"), Some("Gamma"), false);
        join(&t, a.id, g, false);
        join(&t, b.id, g, false);
        let sa = t.login("a@x.com").await;
        let sc = t.login("c@x.com").await;
        let r = t.get("/api/user/recipients", Some(&sa)).await.json();
        assert_eq!(ids(&r), vec![admin_id, a.id.get(), b.id.get(), c.id.get()], "by last name: Admin, Alpha, Beta, Gamma");
        assert_eq!(keys(&r["data"][0]), set(&NON_ADMIN, &[]));
        assert_eq!((r["total"].clone(), r["limit"].clone()), (json!(4), Value::Null));
        let r = t.get("/api/user/recipients", Some(&s)).await.json();
        assert_eq!(keys(&r["data"][0]), set(&ADMIN_OR_SELF, &[]));
        let r = t.get("/api/user/recipients?limit=2&offset=1", Some(&sa)).await.json();
        assert_eq!((ids(&r), r["total"].clone()), (vec![a.id.get(), b.id.get()], json!(4)));

        t.store().write(|r| r.put_setting("user-visibility", Some("group"))).unwrap();
        let r = t.get("/api/user/recipients", Some(&sa)).await.json();
        assert_eq!(ids(&r), vec![a.id.get(), b.id.get()], "only people sharing a group");
        let r = t.get("/api/user/recipients", Some(&sc)).await.json();
        assert_eq!(r["total"], json!(4), "no group but All Users: no restriction");
        assert_eq!(t.get("/api/user/recipients", Some(&s)).await.json()["total"], json!(4), "superusers see all");

        t.store().write(|r| r.put_setting("user-visibility", Some("none"))).unwrap();
        let r = t.get("/api/user/recipients", Some(&sa)).await.json();
        assert_eq!((ids(&r), r["total"].clone()), (vec![a.id.get()], json!(1)));
        assert_eq!(keys(&r["data"][0]), set(&ADMIN_OR_SELF, &[]), "just me, in full");

        t.store().write(|r| r.put_setting("user-visibility", None)).unwrap();
        join(&t, c.id, g, true);
        let r = t.get("/api/user/recipients", Some(&sc)).await.json();
        assert_eq!(keys(&r["data"][0]), set(&GROUP_MANAGER, &[]), "group managers see their columns");
    }

    async fn query_over_10_000_users(t) {
        let (s, _) = admin(&t).await;
        let hash = people_domain::password::PasswordHash { salt: "s".into(), hash: "$2a$04$x".into() };
        let now = t.now();
        t.store().write(|r| {
            for i in 1..=10_000 {
                let last = if i % 100 == 7 { "Zebra".to_string() } else { format!("Last{i:05}") };
                let u = r.insert_user(&people_domain::user::NewUser {
                    email: format!("user{i:05}@example.com"),
                    first_name: Some(format!("First{i:05}")),
                    last_name: Some(last),
                    password: Some(hash.clone()),
                    is_superuser: false,
                    login_attributes: None,
                    locale: None,
                    sso_source: None,
                    date_joined: now,
                    user_type: people_domain::user::UserType::Personal,
                    entity_id: None,
                    external_id: None,
                })?;
                r.insert_membership(&NewMembership {
                    user_id: u.id,
                    group_id: ALL_USERS_ID,
                    role: GroupRole::Member,
                })?;
            }
            Ok(())
        }).unwrap();
        let r = t.get("/api/user?query=zebra&limit=50", Some(&s)).await.json();
        assert_eq!(r["total"], json!(100));
        let data = r["data"].as_array().unwrap();
        assert_eq!(data.len(), 50);
        assert!(data.iter().all(|u| u["last_name"] == json!("Zebra")));
        assert_eq!(data[0]["first_name"], json!("First00007"));
        let r = t.get("/api/user?query=user0999&limit=50", Some(&s)).await.json();
        assert_eq!(r["total"], json!(10), "user09990 … user09999");
        let r = t.get("/api/user?limit=50&offset=9990", Some(&s)).await.json();
        assert_eq!((r["total"].clone(), r["data"].as_array().unwrap().len()), (json!(10_001), 11));
    }
}

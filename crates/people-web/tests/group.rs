//! Groups, memberships, group managers and settings over HTTP.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use std::collections::BTreeSet;

use common::{keys, TestApp};
use people_domain::{GroupId, MembershipId, UserId};
use serde_json::json;

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| s.to_string()).collect()
}

async fn create(t: &TestApp, s: &str, name: &str) -> i64 {
    let r = t
        .post("/api/permissions/group", Some(s), json!({"name": name}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

async fn add(t: &TestApp, s: &str, user: UserId, group: i64, manager: bool) -> common::Resp {
    t.post(
        "/api/permissions/membership",
        Some(s),
        json!({"user_id": user, "group_id": group, "is_group_manager": manager}),
    )
    .await
}

fn membership_id(t: &TestApp, user: UserId, group: i64) -> MembershipId {
    t.store()
        .read(|r| r.memberships_of(&[user]))
        .unwrap()
        .into_iter()
        .find(|m| m.group_id == GroupId(group))
        .unwrap()
        .id
}

web_tests! {
    async fn group_list_detail_and_counts(t) {
        let s = t.setup().await;
        let sales = create(&t, &s, "sales").await;
        let beta = create(&t, &s, "Beta").await;
        let a = t.add_user("a@x.com", Some("Zoe"), Some("A"), false);
        let b = t.add_user("b@x.com", Some("amy"), Some("B"), false);
        let off = t.add_user("off@x.com", Some("Off"), None, false);
        for u in [a.id, b.id, off.id] {
            assert_eq!(add(&t, &s, u, sales, false).await.status, 200);
        }
        t.update_user(off.id, |u| u.is_active = false);
        let r = t.get("/api/permissions/group", Some(&s)).await;
        assert_eq!(r.status, 200);
        let list = r.json();
        let rows: Vec<(String, i64)> = list.as_array().unwrap().iter()
            .map(|g| (g["name"].as_str().unwrap().to_string(), g["member_count"].as_i64().unwrap())).collect();
        assert_eq!(rows, vec![("Administrators".into(), 1), ("All Users".into(), 3), ("Beta".into(), 0), ("sales".into(), 2)]);
        assert_eq!(keys(&list[0]), set(&["id", "name", "entity_id", "member_count"]));
        assert_eq!(list[0]["entity_id"].as_str().unwrap().len(), 21);
        let page = t.get("/api/permissions/group?limit=2&offset=1", Some(&s)).await.json();
        assert_eq!(page.as_array().unwrap().iter().map(|g| g["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![1, beta]);

        let r = t.get(&format!("/api/permissions/group/{sales}"), Some(&s)).await;
        assert_eq!(r.status, 200);
        let d = r.json();
        assert_eq!(keys(&d), set(&["id", "name", "entity_id", "members"]));
        let members = d["members"].as_array().unwrap();
        assert_eq!(members.iter().map(|m| m["user_id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![b.id.get(), a.id.get()], "active only, by first name");
        assert_eq!(keys(&members[0]), set(&["first_name", "last_name", "email", "user_id", "membership_id", "is_group_manager"]));
        let r = t.get("/api/permissions/group/9999", Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (404, "Not found."));
    }

    async fn create_and_rename_groups(t) {
        let s = t.setup().await;
        let plain = t.add_user("p@x.com", None, None, false);
        let ps = t.login("p@x.com").await;
        let r = t.post("/api/permissions/group", Some(&s), json!({"name": "Sales"})).await;
        assert_eq!(r.status, 200);
        let g = r.json();
        assert_eq!(keys(&g), set(&["id", "name", "entity_id"]));
        let id = g["id"].as_i64().unwrap();
        for (body, status, text) in [
            (json!({"name": "SALES"}), 400, "A group with that name already exists."),
            (json!({"name": "all users"}), 400, "A group with that name already exists."),
        ] {
            let r = t.post("/api/permissions/group", Some(&s), body).await;
            assert_eq!((r.status, r.text().as_str()), (status, text));
        }
        for body in [json!({"name": null}), json!({}), json!({"name": "  "}), json!({"name": 4})] {
            let r = t.post("/api/permissions/group", Some(&s), body.clone()).await;
            assert_eq!((r.status, r.json()["errors"].clone()), (400, json!({"name": "value must be a non-blank string."})), "{body}");
        }
        let r = t.post("/api/permissions/group", Some(&s), json!({"name": "n".repeat(256)})).await;
        assert_eq!(r.status, 400);
        assert_eq!(t.post("/api/permissions/group", Some(&ps), json!({"name": "Mine"})).await.status, 403);
        assert_eq!(t.post("/api/permissions/group", Some(&ps), json!({"name": ""})).await.status, 400, "400 before 403");

        let path = format!("/api/permissions/group/{id}");
        let r = t.put(&path, Some(&s), json!({"name": "Sales & Co"})).await;
        assert_eq!((r.status, r.json()["name"].clone()), (200, json!("Sales & Co")));
        assert_eq!(t.put(&path, Some(&s), json!({"name": "sales & co"})).await.status, 200, "a case change of its own name");
        let r = t.put(&path, Some(&s), json!({"name": "Administrators"})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "A group with that name already exists."));
        for (gid, name) in [(1, "All Users"), (2, "Administrators")] {
            let r = t.put(&format!("/api/permissions/group/{gid}"), Some(&s), json!({"name": "X"})).await;
            assert_eq!((r.status, r.text()), (400, format!("You cannot edit or delete the '{name}' permissions group!")));
        }
        assert_eq!(t.put("/api/permissions/group/9999", Some(&s), json!({"name": "X"})).await.status, 404);
        assert_eq!(t.put(&path, Some(&ps), json!({"name": "X"})).await.status, 403);
        let _ = plain;
    }

    async fn delete_groups_with_their_memberships(t) {
        let s = t.setup().await;
        let g = create(&t, &s, "Temp").await;
        let u = t.add_user("u@x.com", None, None, false);
        add(&t, &s, u.id, g, false).await;
        let r = t.delete(&format!("/api/permissions/group/{g}"), Some(&s)).await;
        assert_eq!((r.status, r.body.len()), (204, 0));
        assert!(t.store().read(|r| r.all_memberships(Some(&[GroupId(g)]))).unwrap().is_empty());
        assert_eq!(t.delete(&format!("/api/permissions/group/{g}"), Some(&s)).await.status, 204, "unknown id: no-op");
        for gid in [1, 2] {
            assert_eq!(t.delete(&format!("/api/permissions/group/{gid}"), Some(&s)).await.status, 400);
        }
    }

    async fn membership_map_and_adds(t) {
        let s = t.setup().await;
        let g = create(&t, &s, "Team").await;
        let u = t.add_user("u@x.com", Some("U"), None, false);
        let off = t.add_user("off@x.com", None, None, false);
        t.update_user(off.id, |x| x.is_active = false);
        let r = add(&t, &s, u.id, g, true).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let members = r.json();
        assert_eq!(members.as_array().unwrap().len(), 1);
        assert_eq!(members[0]["user_id"], json!(u.id));
        assert_eq!(members[0]["is_group_manager"], json!(true));
        let map = t.get("/api/permissions/membership", Some(&s)).await.json();
        assert_eq!(keys(&map), set(&["1", &u.id.to_string(), &off.id.to_string()]), "inactive users included");
        let mine = map[u.id.to_string()].as_array().unwrap();
        assert_eq!(mine.len(), 2);
        assert_eq!(keys(&mine[0]), set(&["membership_id", "group_id", "user_id", "is_group_manager"]));

        let r = add(&t, &s, u.id, g, false).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"user_id": "User is already a member of that group."}})));
        let r = add(&t, &s, u.id, 999, false).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"group_id": "Group 999 does not exist."}})));
        let r = add(&t, &s, UserId(4242), g, false).await;
        assert_eq!((r.status, r.text().as_str()), (404, "Not found."));
        let r = add(&t, &s, off.id, 1, false).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot add or remove users to/from the 'All Users' group."));
        let r = add(&t, &s, UserId(1), g, true).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Admin cant be a group manager."));
        for (body, field, message) in [
            (json!({"user_id": u.id}), "group_id", "value must be an integer greater than zero."),
            (json!({"group_id": g}), "user_id", "value must be an integer greater than zero."),
            (json!({"group_id": g, "user_id": u.id, "is_group_manager": "x"}), "is_group_manager", "nullable boolean"),
        ] {
            let r = t.post("/api/permissions/membership", Some(&s), body.clone()).await;
            assert_eq!((r.status, r.json()["errors"].clone()), (400, json!({ field: message })), "{body}");
        }
        // Administrators membership is superuser status.
        let r = add(&t, &s, u.id, 2, false).await;
        assert_eq!(r.status, 200);
        assert_eq!(t.get(&format!("/api/user/{}", u.id), Some(&s)).await.json()["is_superuser"], json!(true));
    }

    async fn set_manager_flag(t) {
        let s = t.setup().await;
        let g = create(&t, &s, "Team").await;
        let u = t.add_user("u@x.com", None, None, false);
        add(&t, &s, u.id, g, false).await;
        let mid = membership_id(&t, u.id, g);
        let path = format!("/api/permissions/membership/{mid}");
        let r = t.put(&path, Some(&s), json!({"is_group_manager": true})).await;
        assert_eq!((r.status, r.json()), (200, json!({"id": mid, "user_id": u.id, "group_id": g, "is_group_manager": true})));
        let r = t.put(&path, Some(&s), json!({})).await;
        assert_eq!((r.status, r.json()["errors"].clone()), (400, json!({"is_group_manager": "boolean"})));
        assert_eq!(t.put("/api/permissions/membership/9999", Some(&s), json!({"is_group_manager": true})).await.status, 404);
        let admin_mid = membership_id(&t, UserId(1), 2);
        let r = t.put(&format!("/api/permissions/membership/{admin_mid}"), Some(&s), json!({"is_group_manager": true})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Admin cant be a group manager."));
        let ps = t.login("u@x.com").await;
        let other = create(&t, &s, "Other").await;
        let v = t.add_user("v@x.com", None, None, false);
        add(&t, &s, v.id, other, false).await;
        let r = t.put(&format!("/api/permissions/membership/{}", membership_id(&t, v.id, other)), Some(&ps), json!({"is_group_manager": true})).await;
        assert_eq!(r.status, 403, "a manager of Team cannot touch Other");
    }

    async fn clear_and_delete_memberships(t) {
        let s = t.setup().await;
        let g = create(&t, &s, "Team").await;
        let u = t.add_user("u@x.com", None, None, false);
        let v = t.add_user("v@x.com", None, None, false);
        add(&t, &s, u.id, g, false).await;
        add(&t, &s, v.id, g, false).await;
        let r = t.put(&format!("/api/permissions/membership/{g}/clear"), Some(&s), json!({})).await;
        assert_eq!(r.status, 204);
        assert_eq!(t.get(&format!("/api/permissions/group/{g}"), Some(&s)).await.json()["members"], json!([]));
        let r = t.put("/api/permissions/membership/2/clear", Some(&s), json!({})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Invalid Request."));
        let r = t.put("/api/permissions/membership/1/clear", Some(&s), json!({})).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot add or remove users to/from the 'All Users' group."));
        assert_eq!(t.put("/api/permissions/membership/9999/clear", Some(&s), json!({})).await.status, 404);

        add(&t, &s, u.id, g, false).await;
        let r = t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, u.id, g)), Some(&s)).await;
        assert_eq!(r.status, 204);
        let r = t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, u.id, 1)), Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot add or remove users to/from the 'All Users' group."));
        let r = t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, UserId(1), 2)), Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot remove the last member of the 'Admin' group!"));
        assert_eq!(t.delete("/api/permissions/membership/9999", Some(&s)).await.status, 404);
        // With a second admin, removing an Administrators membership demotes the user.
        add(&t, &s, v.id, 2, false).await;
        let r = t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, v.id, 2)), Some(&s)).await;
        assert_eq!(r.status, 204);
        assert_eq!(t.get(&format!("/api/user/{}", v.id), Some(&s)).await.json()["is_superuser"], json!(false));
    }

    async fn last_admin_counts_only_active_admins(t) {
        let s = t.setup().await;
        let gone = t.add_user("gone@x.com", None, None, true);
        t.update_user(gone.id, |u| u.is_active = false);
        let r = t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, gone.id, 2)), Some(&s)).await;
        assert_eq!((r.status, r.text().as_str()), (400, "You cannot remove the last member of the 'Admin' group!"), "one active admin left");
    }

    async fn group_manager_scope(t) {
        let s = t.setup().await;
        let a = create(&t, &s, "A").await;
        let b = create(&t, &s, "B").await;
        let mgr = t.add_user("mgr@x.com", None, None, false);
        let u = t.add_user("u@x.com", None, None, false);
        add(&t, &s, mgr.id, a, true).await;
        add(&t, &s, u.id, b, false).await;
        let ms = t.login("mgr@x.com").await;
        let list = t.get("/api/permissions/group", Some(&ms)).await.json();
        assert_eq!(list.as_array().unwrap().iter().map(|g| g["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![a]);
        assert_eq!(t.get(&format!("/api/permissions/group/{a}"), Some(&ms)).await.status, 200);
        assert_eq!(add(&t, &ms, u.id, a, false).await.status, 200, "adds to the group they manage");
        let r = add(&t, &ms, mgr.id, b, false).await;
        assert_eq!((r.status, r.text().as_str()), (403, "You don't have permissions to do that."), "not to B");
        let map = t.get("/api/permissions/membership", Some(&ms)).await.json();
        assert!(map.as_object().unwrap().values().flat_map(|l| l.as_array().unwrap()).all(|m| m["group_id"] == json!(a)));
        assert_eq!(t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, u.id, b)), Some(&ms)).await.status, 403);
        assert_eq!(t.delete(&format!("/api/permissions/membership/{}", membership_id(&t, u.id, a)), Some(&ms)).await.status, 204);
        assert_eq!(t.put(&format!("/api/permissions/group/{b}"), Some(&ms), json!({"name": "Bee"})).await.status, 403);
        assert_eq!(t.put(&format!("/api/permissions/group/{a}"), Some(&ms), json!({"name": "Ay"})).await.status, 200);
        assert_eq!(t.put(&format!("/api/permissions/membership/{b}/clear"), Some(&ms), json!({})).await.status, 403);
        assert_eq!(t.post("/api/permissions/group", Some(&ms), json!({"name": "New"})).await.status, 403);
        // A plain user manages nothing.
        let ps = t.login("u@x.com").await;
        for path in ["/api/permissions/group", "/api/permissions/membership", "/api/permissions/group/1"] {
            assert_eq!(t.get(path, Some(&ps)).await.status, 403, "{path}");
        }
        assert_eq!(t.get("/api/permissions/group", None).await.status, 401);
    }

    async fn concurrent_adds_of_one_membership(t) {
        let s = t.setup().await;
        let g = create(&t, &s, "Race").await;
        let u = t.add_user("u@x.com", None, None, false);
        let results = futures_util::future::join_all((0..10).map(|_| add(&t, &s, u.id, g, false))).await;
        let ok = results.iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, 1, "exactly one succeeds: {:?}", results.iter().map(|r| (r.status, r.text())).collect::<Vec<_>>());
        for r in results.iter().filter(|r| r.status != 200) {
            assert_eq!((r.status, r.json()), (400, json!({"errors": {"user_id": "User is already a member of that group."}})));
        }
    }

    async fn settings_api(t) {
        let s = t.setup().await;
        t.add_user("p@x.com", None, None, false);
        let ps = t.login("p@x.com").await;
        let r = t.get("/api/setting", Some(&s)).await;
        assert_eq!(r.status, 200);
        let list = r.json();
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|x| x["key"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["site-name", "site-url", "site-locale", "admin-email", "user-visibility",
            "reset-token-ttl-hours", "session-cookie-samesite", "enable-password-login", "application-name",
            "scim-enabled", "scim-base-url", "ldap-enabled", "ldap-host", "ldap-port", "ldap-security",
            "ldap-bind-dn", "ldap-password", "ldap-user-base", "ldap-user-filter", "ldap-attribute-email",
            "ldap-attribute-firstname", "ldap-attribute-lastname", "ldap-group-sync", "ldap-group-base",
            "ldap-group-mappings", "ldap-group-membership-filter", "ldap-sync-user-attributes",
            "ldap-sync-user-attributes-blacklist", "ldap-user-provisioning-enabled?", "ldap-timeout-seconds",
            "ldap-configured?"]);
        assert_eq!(keys(&list[0]), set(&["key", "value", "description", "default", "env_name", "is_env_setting"]));
        assert_eq!(list[0]["value"], json!("Acme"), "stored by setup");
        assert_eq!(list[5]["default"], json!(48));
        assert_eq!(t.get("/api/setting/reset-token-ttl-hours", Some(&s)).await.json(), json!(48));
        let r = t.put("/api/setting/reset-token-ttl-hours", Some(&s), json!({"value": 12})).await;
        assert_eq!((r.status, r.body.len()), (204, 0));
        assert_eq!(t.get("/api/setting/reset-token-ttl-hours", Some(&s)).await.json(), json!(12));
        assert_eq!(t.put("/api/setting/site-locale", Some(&s), json!({"value": "pt-br"})).await.status, 204);
        assert_eq!(t.get("/api/setting/site-locale", Some(&s)).await.json(), json!("pt_BR"));
        assert_eq!(t.put("/api/setting/site-name", Some(&s), json!({"value": null})).await.status, 204);
        assert_eq!(t.get("/api/setting/site-name", Some(&s)).await.json(), json!("people"), "back to the default");
        for key in ["nope", "setup-token"] {
            assert_eq!(t.get(&format!("/api/setting/{key}"), Some(&s)).await.status, 404);
            assert_eq!(t.put(&format!("/api/setting/{key}"), Some(&s), json!({"value": "x"})).await.status, 404);
        }
        assert_eq!(t.get("/api/setting/scim-enabled", Some(&s)).await.json(), json!(false));
        for on in [json!(true), json!("TRUE"), json!(false), json!("false")] {
            assert_eq!(t.put("/api/setting/scim-enabled", Some(&s), json!({"value": on})).await.status, 204, "{on}");
        }
        assert_eq!(t.get("/api/setting/scim-enabled", Some(&s)).await.json(), json!(false));
        for (key, value) in [("scim-enabled", json!("yes")), ("scim-enabled", json!(1)), ("enable-password-login", json!(false)), ("user-visibility", json!("everyone")), ("reset-token-ttl-hours", json!(-1)), ("site-url", json!("not a url"))] {
            let r = t.put(&format!("/api/setting/{key}"), Some(&s), json!({"value": value})).await;
            assert_eq!(r.status, 400, "{key}");
            assert!(r.text().contains(key), "the message names the setting: {}", r.text());
        }
        assert_eq!(t.get("/api/setting", Some(&ps)).await.status, 403);
        assert_eq!(t.get("/api/setting/site-name", Some(&ps)).await.status, 403);
        assert_eq!(t.put("/api/setting/site-name", Some(&ps), json!({"value": "x"})).await.status, 403);
        assert_eq!(t.get("/api/setting", None).await.status, 401);
    }
}

#[actix_rt::test]
async fn environment_defaults_apply_until_a_value_is_stored() {
    let settings = people_domain::setting::EnvDefaults::from_lookup(|k| match k {
        "MB_SITE_URL" => Some("https://people.example.com/".to_string()),
        "MB_USER_VISIBILITY" => Some("group".to_string()),
        _ => None,
    })
    .unwrap();
    let config = people_domain::Config {
        settings,
        ..common::test_config()
    };
    let t = TestApp::start_with(
        people_store::testing::Backend::Sqlite,
        config,
        people_web::WebConfig::default(),
    )
    .await
    .unwrap();
    let s = t.setup().await;
    assert_eq!(
        t.get("/api/setting/site-url", Some(&s)).await.json(),
        json!("https://people.example.com")
    );
    assert_eq!(
        t.get("/api/session/properties", Some(&s)).await.json()["user-visibility"],
        json!("group")
    );
    t.put(
        "/api/setting/user-visibility",
        Some(&s),
        json!({"value": "none"}),
    )
    .await;
    assert_eq!(
        t.get("/api/setting/user-visibility", Some(&s)).await.json(),
        json!("none"),
        "the stored value wins"
    );
}

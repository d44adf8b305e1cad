//! LDAP sign-in over HTTP against a real OpenLDAP (people-ldap's test slapd, loaded with Metabase's fixture),
//! on SQLite and PostgreSQL: Metabase's scenarios for `PUT /api/ldap/settings` (A1), turning `ldap-enabled`
//! on (A2), sign-in (S1), provisioning and name updates (L3), group sync (C1) including Active Directory's
//! `memberOf`, plus filter injection, a directory that never answers, one that goes away between two
//! sign-ins, TLS, and bad input refused field by field with nothing saved.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestApp, PASSWORD};
use people_domain::group::ADMINISTRATORS_ID;
use people_ldap::testing::{self, Slapd, Variant, ACCOUNTING, ADMIN_DN, ADMIN_PASSWORD, BASE};
use people_ldap::LdapDirectory;
use people_store::testing::Backend;
use serde_json::{json, Value};

/// An app with people-ldap's client (trusting `ca`), a started test directory, and its admin's session.
struct Ldap {
    t: TestApp,
    slapd: Slapd,
    admin: String,
}

async fn start(backend: Backend, variant: Variant, ca: Option<&std::path::Path>) -> Option<Ldap> {
    let slapd = testing::start_or_skip(variant)?;
    let directory = Arc::new(LdapDirectory::new(ca).unwrap());
    let Some(t) = TestApp::start_with_directory(backend, directory).await else {
        eprintln!("postgres ldap test not run: PEOPLE_TEST_POSTGRES_URL is not set");
        return None;
    };
    let admin = t.setup().await;
    Some(Ldap { t, slapd, admin })
}

impl Ldap {
    /// Metabase's test settings for this directory (group sync on, both bases the directory's root).
    fn settings(&self) -> Value {
        json!({
            "ldap-host": self.slapd.host(),
            "ldap-port": self.slapd.port(),
            "ldap-bind-dn": ADMIN_DN,
            "ldap-password": ADMIN_PASSWORD,
            "ldap-user-base": BASE,
            "ldap-group-base": BASE,
            "ldap-group-sync": true,
            "ldap-enabled": true,
        })
    }

    async fn put_settings(&self, body: Value) -> common::Resp {
        self.t
            .put("/api/ldap/settings", Some(&self.admin), body)
            .await
    }

    async fn enable(&self) {
        let r = self.put_settings(self.settings()).await;
        assert_eq!((r.status, r.json()), (200, json!(true)), "{}", r.text());
    }

    async fn login(&self, username: &str, password: &str) -> common::Resp {
        self.t
            .post(
                "/api/session",
                None,
                json!({"username": username, "password": password}),
            )
            .await
    }

    async fn setting(&self, key: &str) -> Value {
        self.t
            .get(&format!("/api/setting/{key}"), Some(&self.admin))
            .await
            .json()
    }

    fn store_setting(&self, key: &str, value: &str) {
        self.t
            .store()
            .write(|r| r.put_setting(key, Some(value)))
            .unwrap();
    }

    async fn user(&self, email: &str) -> Value {
        let u = self
            .t
            .store()
            .read(|r| r.user_by_email(email))
            .unwrap()
            .expect(email);
        self.t
            .get(&format!("/api/user/{}", u.id.0), Some(&self.admin))
            .await
            .json()
    }

    fn group_ids(&self, email: &str) -> Vec<i64> {
        let u = self
            .t
            .store()
            .read(|r| r.user_by_email(email))
            .unwrap()
            .unwrap();
        let mut ids: Vec<i64> = self
            .t
            .store()
            .read(|r| r.memberships_of(&[u.id]))
            .unwrap()
            .iter()
            .map(|m| m.group_id.0)
            .collect();
        ids.sort();
        ids
    }
}

fn bad_password() -> Value {
    json!({"errors": {"password": "did not match stored password"}})
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

macro_rules! ldap_tests {
    ($( async fn $name:ident($backend:ident) $body:block )*) => {
        mod sqlite {
            use super::*;
            $(
                #[actix_rt::test]
                async fn $name() {
                    let $backend = Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[actix_rt::test]
                async fn $name() {
                    let $backend = Backend::Postgres;
                    $body
                }
            )*
        }
    };
}

ldap_tests! {
    async fn settings_are_tested_then_saved(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        let props = l.t.get("/api/session/properties", None).await.json();
        assert_eq!((props["ldap-enabled"].clone(), props["ldap-configured?"].clone()), (json!(false), json!(false)));
        // A1: valid details.
        l.enable().await;
        assert_eq!(l.setting("ldap-password").await, json!("**********rd"));
        assert_eq!(l.setting("ldap-port").await, json!(l.slapd.port()));
        let props = l.t.get("/api/session/properties", None).await.json();
        assert_eq!((props["ldap-enabled"].clone(), props["ldap-configured?"].clone()), (json!(true), json!(true)));
        // Wrong password, wrong port, no user base: 400 with Metabase's field errors, nothing saved.
        let mut wrong = l.settings();
        wrong["ldap-password"] = json!("wrong");
        let r = l.put_settings(wrong).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-password": "Password was incorrect"}})));
        let mut wrong = l.settings();
        wrong["ldap-port"] = json!(closed_port());
        let r = l.put_settings(wrong).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-host": "Wrong host or port", "ldap-port": "Wrong host or port"}})));
        let r = l.put_settings(json!({"ldap-user-base": null})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-user-base": "User search base does not exist or is unreadable"}})));
        let r = l.put_settings(json!({"ldap-user-base": "dc=example,dc=com"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-user-base": "User search base does not exist or is unreadable"}})));
        let r = l.put_settings(json!({"ldap-group-base": "dc=example,dc=com"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-group-base": "Group search base does not exist or is unreadable"}})));
        let r = l.put_settings(json!({"ldap-bind-dn": "cn=Not Directory Manager"})).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json()["errors"].get("ldap-password").is_some() || r.json()["errors"].get("ldap-bind-dn").is_some(), "{}", r.text());
        assert_eq!(l.setting("ldap-password").await, json!("**********rd"));
        assert_eq!(l.setting("ldap-user-base").await, json!(BASE));
        // The masked password and an integer port as a string round-trip; omitted keys keep their values.
        let r = l.put_settings(json!({"ldap-password": "**********rd", "ldap-port": l.slapd.port().to_string()})).await;
        assert_eq!((r.status, r.json()), (200, json!(true)), "{}", r.text());
        assert_eq!(l.setting("ldap-host").await, json!(l.slapd.host()));
        // Disabling is a save like the others; with a wrong password it still fails the test.
        let mut off = l.settings();
        off["ldap-enabled"] = json!(false);
        off["ldap-password"] = json!("wrong");
        assert_eq!(l.put_settings(off.clone()).await.status, 400);
        off["ldap-password"] = json!(ADMIN_PASSWORD);
        assert_eq!(l.put_settings(off).await.status, 200);
        assert_eq!(l.setting("ldap-enabled").await, json!(false));
        // Not an administrator.
        l.t.add_user("rasta@metabase.com", Some("Rasta"), Some("Toucan"), false);
        let rasta = l.t.login("rasta@metabase.com").await;
        let r = l.t.put("/api/ldap/settings", Some(&rasta), l.settings()).await;
        assert_eq!((r.status, r.text()), (403, "You don't have permissions to do that.".to_string()));
    }

    async fn bad_input_names_each_field_and_saves_nothing(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.enable().await;
        let r = l.put_settings(json!({
            "site-name": "x",
            "ldap-port": -1,
            "ldap-host": "ldap://localhost",
            "ldap-group-mappings": {"Accounting": [1]},
            "ldap-user-filter": "(uid={login})".repeat(8 * 1024),
            "ldap-security": "tls",
            "ldap-group-sync": "sometimes",
        })).await;
        assert_eq!(r.status, 400);
        let errors = r.json()["errors"].clone();
        assert_eq!(errors["site-name"], json!("Unknown LDAP setting."));
        assert_eq!(errors["ldap-port"], json!("Must be a port number between 1 and 65535."));
        assert_eq!(errors["ldap-host"], json!("Invalid hostname, do not add the 'ldap://' or 'ldaps://' prefix"));
        assert_eq!(errors["ldap-group-mappings"], json!("Accounting is not a valid DN."));
        assert_eq!(errors["ldap-user-filter"], json!("Must be at most 4096 characters."));
        assert!(errors["ldap-security"].is_string(), "{errors}");
        assert_eq!(errors["ldap-group-sync"], json!("nullable boolean"));
        let r = l.put_settings(json!({"ldap-group-mappings": {ACCOUNTING: [4242]}, "ldap-port": 1})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-group-mappings": "Group 4242 does not exist."}})));
        let r = l.put_settings(json!({"ldap-port": 70000})).await;
        assert_eq!(r.status, 400);
        // Nothing of any refused body was saved.
        assert_eq!(l.setting("ldap-port").await, json!(l.slapd.port()));
        assert_eq!(l.setting("ldap-group-mappings").await, json!({}));
        assert_eq!(l.setting("ldap-user-filter").await, json!("(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))"));
    }

    async fn enabling_alone_tests_the_saved_settings(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.store_setting("ldap-host", "localhost");
        l.store_setting("ldap-port", &closed_port().to_string());
        l.store_setting("ldap-user-base", BASE);
        let r = l.t.put("/api/setting/ldap-enabled", Some(&l.admin), json!({"value": true})).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json(), json!({"message": "Unable to connect to LDAP server with current settings",
            "errors": {"ldap-host": "Wrong host or port", "ldap-port": "Wrong host or port"}}));
        assert_eq!(l.setting("ldap-enabled").await, json!(false));
        l.store_setting("ldap-port", &l.slapd.port().to_string());
        let r = l.t.put("/api/setting/ldap-enabled", Some(&l.admin), json!({"value": true})).await;
        assert_eq!(r.status, 204, "{}", r.text());
        assert_eq!(l.setting("ldap-enabled").await, json!(true));
        let r = l.t.put("/api/setting/ldap-enabled", Some(&l.admin), json!({"value": false})).await;
        assert_eq!(r.status, 204);
    }

    async fn sign_in_follows_metabase_order(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.t.add_user("ngoc@metabase.com", Some("Ngoc"), None, false);
        l.t.add_user("lucky@metabase.com", Some("Lucky"), Some("Pigeon"), false);
        let inactive = l.t.add_user("inactive@metabase.com", None, None, false);
        l.t.update_user(inactive.id, |u| u.is_active = false);
        let accounting = l.t.post("/api/permissions/group", Some(&l.admin), json!({"name": "Accounting"})).await.json()["id"].as_i64().unwrap();
        l.enable().await;
        // Not in the directory: the local password.
        assert_eq!(l.login("ngoc@metabase.com", PASSWORD).await.status, 200);
        assert_eq!(l.login("admin@example.com", PASSWORD).await.status, 200);
        let r = l.login("inactive@metabase.com", PASSWORD).await;
        assert_eq!((r.status, r.json()), (401, json!({"errors": {"_error": "Your account is disabled."}})));
        // Known to the directory with another password: refused, no local fallback.
        let r = l.login("lucky@metabase.com", PASSWORD).await;
        assert_eq!((r.status, r.json()), (401, bad_password()));
        assert_eq!(l.login("lucky", "notalmonds").await.status, 200);
        // A new person by uid; John by his mixed-case address, twice.
        let r = l.login("sbrown20", "1234").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["id"].as_str().is_some_and(|id| id.len() == 36));
        let sally = l.user("sally.brown@metabase.com").await;
        assert_eq!(sally["sso_source"], json!("ldap"));
        for _ in 0..2 {
            assert_eq!(l.login("John.Smith@metabase.com", "strongpassword").await.status, 200);
        }
        let john = l.user("john.smith@metabase.com").await;
        assert_eq!((john["first_name"].clone(), john["last_name"].clone(), john["common_name"].clone()),
            (json!("John"), json!("Smith"), json!("John Smith")));
        let stored = l.t.store().read(|r| r.user_by_email("john.smith@metabase.com")).unwrap().unwrap();
        assert_eq!(stored.password_hash, None, "no password stored for a directory user");
        assert_eq!(stored.login_attributes.unwrap()["uid"], json!("jsmith1"));
        // Fred's odd-case attributes; a mapping gives him Accounting (a regression Metabase tests for).
        let r = l.put_settings(json!({"ldap-group-mappings": {ACCOUNTING: [accounting]}})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(l.login("fred.taylor@metabase.com", "pa$$word").await.status, 200);
        assert!(l.group_ids("fred.taylor@metabase.com").contains(&accounting));
        let fred = l.user("fred.taylor@metabase.com").await;
        assert_eq!((fred["first_name"].clone(), fred["last_name"].clone()), (json!("Fred"), json!("Taylor")));
        // Jane has no given name.
        assert_eq!(l.login("jmiller", testing::JANE_PASSWORD).await.status, 200);
        assert_eq!(l.user("jane.miller@metabase.com").await["common_name"], json!("Miller"));
        // A broken user base: everyone falls back to local passwords.
        l.store_setting("ldap-user-base", "cn=wrong,cn=com");
        assert_eq!(l.login("ngoc@metabase.com", PASSWORD).await.status, 200);
        assert_eq!(l.login("lucky@metabase.com", PASSWORD).await.status, 200);
        assert_eq!((l.login("jsmith1", "strongpassword").await.json()), bad_password());
    }

    async fn directory_people_are_kept_in_step(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.enable().await;
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
        let id = l.user("john.smith@metabase.com").await["id"].as_i64().unwrap();
        // Metabase: names of SSO users are the directory's.
        let r = l.t.put(&format!("/api/user/{id}"), Some(&l.admin), json!({"first_name": "Jon"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"first_name": "Editing first name is not allowed for SSO users."}})));
        l.slapd.modify(
            "dn: cn=John Smith,ou=People,dc=metabase,dc=com\nchangetype: modify\nreplace: givenName\ngivenName: Jonathan\n-\nreplace: sn\nsn: Smythe\n",
        ).unwrap();
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
        let john = l.user("john.smith@metabase.com").await;
        assert_eq!((john["first_name"].clone(), john["last_name"].clone()), (json!("Jonathan"), json!("Smythe")));
        l.slapd.modify(
            "dn: cn=John Smith,ou=People,dc=metabase,dc=com\nchangetype: modify\ndelete: givenName\n",
        ).unwrap();
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
        let john = l.user("john.smith@metabase.com").await;
        assert_eq!((john["first_name"].clone(), john["common_name"].clone()), (Value::Null, json!("Smythe")));
        // Deactivated in people: the directory's password no longer signs in.
        l.t.delete(&format!("/api/user/{id}"), Some(&l.admin)).await;
        let r = l.login("jsmith1", "strongpassword").await;
        assert_eq!((r.status, r.json()), (401, json!({"errors": {"_error": "Your account is disabled."}})));
        // Reactivated while LDAP is on: still a directory user.
        assert_eq!(l.t.put(&format!("/api/user/{id}/reactivate"), Some(&l.admin), json!({})).await.status, 200);
        assert_eq!(l.user("john.smith@metabase.com").await["sso_source"], json!("ldap"));
        // Provisioning off: unknown directory people are refused, known ones still sign in.
        l.store_setting("ldap-user-provisioning-enabled?", "false");
        let r = l.login("sbrown20", "1234").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["errors"]["_error"], json!("Sorry, but you'll need a acme account to view this page. Please contact your administrator."));
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
    }

    async fn injection_and_empty_passwords_match_nobody(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.enable().await;
        for login in ["*)(uid=*", "*", "jsmith1)(|(uid=*", "*)(objectClass=*"] {
            let r = l.login(login, "strongpassword").await;
            assert_eq!((r.status, r.json()), (401, bad_password()), "{login}");
        }
        let r = l.t.post("/api/session", None, json!({"username": "jsmith1", "password": ""})).await;
        assert_eq!(r.status, 400, "a blank password never reaches the directory");
        assert!(l.t.store().read(|r| r.user_by_email("john.smith@metabase.com")).unwrap().is_none());
    }

    async fn a_hung_directory_costs_at_most_the_timeout(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.enable().await;
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
        // A server that accepts connections and never answers.
        let hung = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = hung.local_addr().unwrap().port();
        let held = std::thread::spawn(move || {
            let mut open = Vec::new();
            for s in hung.incoming().take(8).flatten() {
                open.push(s);
            }
            std::thread::sleep(Duration::from_secs(30));
        });
        l.store_setting("ldap-port", &port.to_string());
        l.store_setting("ldap-timeout-seconds", "1.0");
        let started = Instant::now();
        assert_eq!(l.login("admin@example.com", PASSWORD).await.status, 200);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "{took:?}");
        let started = Instant::now();
        let r = l.login("jsmith1", "strongpassword").await;
        assert_eq!((r.status, r.json()), (401, bad_password()), "no local password for a directory user");
        assert!(started.elapsed() < Duration::from_secs(4));
        drop(held);
    }

    async fn a_directory_that_goes_away(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.t.add_user("lucky@metabase.com", Some("Lucky"), Some("Pigeon"), false);
        l.enable().await;
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
        assert_eq!(l.login("lucky@metabase.com", PASSWORD).await.status, 401);
        l.slapd.stop();
        let started = Instant::now();
        let r = l.login("jsmith1", "strongpassword").await;
        assert_eq!((r.status, r.json()), (401, bad_password()));
        assert_eq!(l.login("lucky@metabase.com", PASSWORD).await.status, 200, "local password while the directory is down");
        assert_eq!(l.login("admin@example.com", PASSWORD).await.status, 200);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    async fn active_directory_groups_and_the_last_admin(backend) {
        let Some(l) = start(backend, Variant::ActiveDirectory, None).await else { return };
        let engineering = l.t.post("/api/permissions/group", Some(&l.admin), json!({"name": "Engineering"})).await.json()["id"].as_i64().unwrap();
        let unmapped = l.t.post("/api/permissions/group", Some(&l.admin), json!({"name": "Unmapped"})).await.json()["id"].as_i64().unwrap();
        let mut body = l.settings();
        body["ldap-group-base"] = Value::Null;
        body["ldap-group-mappings"] = json!({
            "CN=Accounting,OU=Groups,DC=metabase,DC=com": [ADMINISTRATORS_ID.0],
            "cn=engineering,ou=groups,dc=metabase,dc=com": [engineering],
        });
        let r = l.put_settings(body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // Sally is in both directory groups (memberOf): administrator and engineer.
        assert_eq!(l.login("sbrown20", "1234").await.status, 200);
        let sally = l.user("sally.brown@metabase.com").await;
        assert_eq!(sally["is_superuser"], json!(true));
        let ids = l.group_ids("sally.brown@metabase.com");
        assert!(ids.contains(&ADMINISTRATORS_ID.0) && ids.contains(&engineering), "{ids:?}");
        // Someone adds her to an unmapped group: sync leaves it alone.
        let sally_id = sally["id"].as_i64().unwrap();
        let r = l.t.post("/api/permissions/membership", Some(&l.admin), json!({"group_id": unmapped, "user_id": sally_id})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // The directory takes her out of Accounting: Administrators goes (another admin exists).
        l.slapd.modify(
            "dn: cn=Accounting,ou=Groups,dc=metabase,dc=com\nchangetype: modify\ndelete: member\nmember: cn=Sally Brown,ou=People,dc=metabase,dc=com\n",
        ).unwrap();
        assert_eq!(l.login("sbrown20", "1234").await.status, 200);
        let ids = l.group_ids("sally.brown@metabase.com");
        assert!(!ids.contains(&ADMINISTRATORS_ID.0) && ids.contains(&engineering) && ids.contains(&unmapped), "{ids:?}");
        assert_eq!(l.user("sally.brown@metabase.com").await["is_superuser"], json!(false));
        // John becomes the only administrator through the mapping, then leaves Accounting: he stays admin.
        assert_eq!(l.login("jsmith1", "strongpassword").await.status, 200);
        let john = l.user("john.smith@metabase.com").await;
        assert_eq!(john["is_superuser"], json!(true));
        let admin_id = l.t.get("/api/user/current", Some(&l.admin)).await.json()["id"].as_i64().unwrap();
        assert_eq!(l.t.delete(&format!("/api/user/{admin_id}"), Some(&l.admin)).await.status, 200);
        l.slapd.modify(
            "dn: cn=Accounting,ou=Groups,dc=metabase,dc=com\nchangetype: modify\nadd: member\nmember: cn=Rasta Toucan,ou=Birds,dc=metabase,dc=com\n-\ndelete: member\nmember: cn=John Smith,ou=People,dc=metabase,dc=com\n",
        ).unwrap();
        let johns_session = l.login("jsmith1", "strongpassword").await.json()["id"].as_str().unwrap().to_string();
        let john = l.t.store().read(|r| r.user_by_email("john.smith@metabase.com")).unwrap().unwrap();
        assert!(john.is_superuser, "the last administrator is kept");
        assert!(l.group_ids("john.smith@metabase.com").contains(&ADMINISTRATORS_ID.0));
        // Deleting a mapped group unmaps it.
        assert_eq!(l.t.delete(&format!("/api/permissions/group/{engineering}"), Some(&johns_session)).await.status, 204);
        let mappings = l.t.get("/api/setting/ldap-group-mappings", Some(&johns_session)).await.json();
        assert_eq!(mappings["cn=engineering,ou=groups,dc=metabase,dc=com"], json!([]));
    }

    async fn concurrent_first_sign_ins_create_one_person(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.enable().await;
        let logins = (0..8).map(|i| {
            let username = if i % 2 == 0 { "jsmith1" } else { "John.Smith@metabase.com" };
            l.login(username, "strongpassword")
        });
        let answers = futures_util::future::join_all(logins).await;
        for r in &answers {
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let people = l.t.get("/api/user?query=john.smith", Some(&l.admin)).await.json();
        assert_eq!(people["total"], json!(1), "{people}");
    }

    async fn directory_refusals_are_throttled_like_local_ones(backend) {
        let Some(l) = start(backend, Variant::Plain, None).await else { return };
        l.enable().await;
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let r = l.login("lucky", "not-his-password").await;
            statuses.push((r.status, r.json()["errors"].as_object().map(|e| e.keys().cloned().collect::<Vec<_>>())));
        }
        assert!(statuses.iter().all(|(s, _)| *s == 401), "{statuses:?}");
        // After Metabase's ten failures for one user name, the throttle answers under `username`.
        let throttled = statuses.iter().filter(|(_, keys)| keys.as_deref() == Some(&["username".to_string()][..])).count();
        assert!(throttled >= 1, "{statuses:?}");
        let r = l.login("lucky", "notalmonds").await;
        assert_eq!(r.status, 401, "the right password waits out the throttle too: {}", r.text());
    }

    async fn tls_is_verified(backend) {
        let Some(trusting) = start(backend, Variant::Tls, None).await else { return };
        let ldaps = trusting.slapd.ldaps_port().unwrap();
        // Without the test's CA, the certificate does not verify: the security setting is to blame.
        let mut body = trusting.settings();
        body["ldap-security"] = json!("starttls");
        let r = trusting.put_settings(body).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"ldap-port": "Wrong port or security setting", "ldap-security": "Wrong port or security setting"}})));
        // With it: StartTLS on the plain port, LDAPS on its own; then sign in over TLS.
        let ca = trusting.slapd.ca_file();
        let directory = Arc::new(LdapDirectory::new(Some(&ca)).unwrap());
        let Some(t) = TestApp::start_with_directory(backend, directory).await else { return };
        let admin = t.setup().await;
        let mut body = trusting.settings();
        body["ldap-security"] = json!("starttls");
        let r = t.put("/api/ldap/settings", Some(&admin), body.clone()).await;
        assert_eq!((r.status, r.text()), (200, "true".to_string()));
        body["ldap-security"] = json!("ssl");
        body["ldap-port"] = json!(ldaps);
        let r = t.put("/api/ldap/settings", Some(&admin), body.clone()).await;
        assert_eq!((r.status, r.text()), (200, "true".to_string()));
        let r = t.post("/api/session", None, json!({"username": "jsmith1", "password": "strongpassword"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // Plain LDAP against the LDAPS port.
        body["ldap-security"] = json!("none");
        let r = t.put("/api/ldap/settings", Some(&admin), body).await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
}

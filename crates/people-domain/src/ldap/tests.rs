//! The LDAP rules against a directory fake and the in-memory store: Metabase's sign-in order, provisioning,
//! name updates, group sync and the settings endpoint. The real directory is exercised by people-ldap's and
//! people-web's tests against OpenLDAP.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::error::DomainError;
use crate::group::{ADMINISTRATORS_ID, ALL_USERS_ID};
use crate::session::{BAD_PASSWORD, DISABLED};
use crate::setting::PutSetting;
use crate::testing::{body, Fixture, UserSpec};
use crate::user::SsoSource;

/// A directory in memory: entries with their passwords; `down` makes every call fail as a hung server would.
#[derive(Default)]
struct FakeDirectory {
    entries: Mutex<Vec<(DirectoryEntry, String)>>,
    down: AtomicBool,
    check_fails: Mutex<Option<DirectoryError>>,
}

impl FakeDirectory {
    fn person(
        &self,
        uid: &str,
        mail: &str,
        given: Option<&str>,
        sn: &str,
        password: &str,
        groups: &[&str],
    ) {
        let mut attributes = BTreeMap::from([
            ("uid".to_string(), vec![uid.to_string()]),
            ("mail".to_string(), vec![mail.to_string()]),
            ("sn".to_string(), vec![sn.to_string()]),
            ("objectclass".to_string(), vec!["inetOrgPerson".to_string()]),
            ("userpassword".to_string(), vec!["{SSHA}x".to_string()]),
        ]);
        if let Some(g) = given {
            attributes.insert("givenname".to_string(), vec![g.to_string()]);
        }
        let entry = DirectoryEntry {
            dn: format!("cn={uid},ou=People,dc=metabase,dc=com"),
            attributes,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|(e, _)| e.first("uid") != Some(uid));
        entries.push((entry, password.to_string()));
    }
}

impl Directory for FakeDirectory {
    fn check(&self, _config: &LdapConfig) -> Result<(), DirectoryError> {
        match self.check_fails.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn authenticate(
        &self,
        config: &LdapConfig,
        login: &str,
        password: &str,
    ) -> Result<Authentication, DirectoryError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(DirectoryError::Timeout(config.timeout));
        }
        let entries = self.entries.lock().unwrap();
        let Some((entry, pw)) = entries.iter().find(|(e, _)| {
            e.first("uid") == Some(login)
                || e.first("mail")
                    .is_some_and(|m| m.eq_ignore_ascii_case(login))
        }) else {
            return Ok(Authentication::NotFound);
        };
        if pw != password || password.is_empty() {
            return Ok(Authentication::WrongPassword);
        }
        let mut entry = entry.clone();
        if !config.group_sync {
            entry.groups.clear();
        }
        Ok(Authentication::Verified(entry))
    }
}

const ACCOUNTING: &str = "cn=Accounting,ou=Groups,dc=metabase,dc=com";

struct Ldap {
    f: Fixture,
    dir: Arc<FakeDirectory>,
}

impl Ldap {
    fn new() -> Ldap {
        let mut f = Fixture::new();
        let dir = Arc::new(FakeDirectory::default());
        f.people = f.people.with_directory(dir.clone());
        dir.person(
            "jsmith1",
            "John.Smith@metabase.com",
            Some("John"),
            "Smith",
            "strongpassword",
            &[ACCOUNTING],
        );
        dir.person(
            "jmiller",
            "jane.miller@metabase.com",
            None,
            "Miller",
            "janepassword",
            &[],
        );
        dir.person(
            "lucky",
            "lucky@metabase.com",
            Some("Lucky"),
            "Pigeon",
            "notalmonds",
            &[],
        );
        Ldap { f, dir }
    }

    /// John Smith as the fixture has him, in `groups`.
    fn john_in(&self, groups: &[&str]) {
        self.dir.person(
            "jsmith1",
            "John.Smith@metabase.com",
            Some("John"),
            "Smith",
            "strongpassword",
            groups,
        );
    }

    fn admin(&self) -> crate::session::Caller {
        let admin = self.f.admin("crowberto@metabase.com");
        self.f.caller(admin.id)
    }

    fn set(&self, key: &str, value: serde_json::Value) {
        self.f
            .people
            .store()
            .write(|r| {
                r.put_setting(
                    key,
                    Some(&match value {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    }),
                )
            })
            .unwrap();
    }

    fn enable(&self) {
        self.set("ldap-host", json!("localhost"));
        self.set("ldap-user-base", json!("dc=metabase,dc=com"));
        self.set("ldap-enabled", json!("true"));
    }

    fn user(&self, email: &str) -> crate::user::User {
        self.f
            .people
            .store()
            .write(|r| r.user_by_email(email))
            .unwrap()
            .expect("user exists")
    }
}

fn login_failed(field: &str, message: &str) -> DomainError {
    DomainError::LoginFailed {
        field: field.into(),
        message: message.into(),
    }
}

#[test]
fn directory_users_are_created_without_a_password_and_kept_in_step() {
    let t = Ldap::new();
    t.f.admin("crowberto@metabase.com");
    assert_eq!(
        t.f.login("jsmith1", "strongpassword").unwrap_err(),
        login_failed("password", BAD_PASSWORD),
        "LDAP off"
    );
    t.enable();
    t.f.login("jsmith1", "strongpassword").unwrap();
    let john = t.user("john.smith@metabase.com");
    assert_eq!(
        (john.first_name.as_deref(), john.last_name.as_deref()),
        (Some("John"), Some("Smith"))
    );
    assert_eq!(john.sso_source, Some(SsoSource::Ldap));
    assert_eq!(john.password_hash, None, "no random password is stored");
    let attrs = john.login_attributes.clone().unwrap();
    assert_eq!(attrs["uid"], json!("jsmith1"));
    assert!(
        !attrs.contains_key("objectclass") && !attrs.contains_key("userpassword"),
        "{attrs:?}"
    );
    // By address in any case, twice (a regression Metabase tests for).
    t.f.login("John.Smith@metabase.com", "strongpassword")
        .unwrap();
    t.f.login("John.Smith@metabase.com", "strongpassword")
        .unwrap();
    assert_eq!(t.user("john.smith@metabase.com").id, john.id);
    // Names follow the directory, a removed one is cleared.
    t.dir.person(
        "jsmith1",
        "John.Smith@metabase.com",
        Some("Johnny"),
        "Smythe",
        "strongpassword",
        &[],
    );
    t.f.login("jsmith1", "strongpassword").unwrap();
    let u = t.user("john.smith@metabase.com");
    assert_eq!(
        (u.first_name.as_deref(), u.last_name.as_deref()),
        (Some("Johnny"), Some("Smythe"))
    );
    t.dir.person(
        "jsmith1",
        "John.Smith@metabase.com",
        None,
        " ",
        "strongpassword",
        &[],
    );
    t.f.login("jsmith1", "strongpassword").unwrap();
    let u = t.user("john.smith@metabase.com");
    assert_eq!((u.first_name, u.last_name), (None, None));
    // Jane has no given name.
    t.f.login("jane.miller@metabase.com", "janepassword")
        .unwrap();
    assert_eq!(t.user("jane.miller@metabase.com").first_name, None);
}

#[test]
fn the_directory_decides_when_it_knows_the_login() {
    let t = Ldap::new();
    t.f.admin("crowberto@metabase.com");
    // Lucky has a local password too, different from the directory's.
    t.f.user(UserSpec {
        email: "lucky@metabase.com",
        password: Some("local-pass-1"),
        ..Default::default()
    });
    t.f.user(UserSpec {
        email: "ngoc@metabase.com",
        password: Some("local-pass-2"),
        ..Default::default()
    });
    t.enable();
    assert_eq!(
        t.f.login("lucky@metabase.com", "local-pass-1").unwrap_err(),
        login_failed("password", BAD_PASSWORD)
    );
    t.f.login("lucky@metabase.com", "notalmonds").unwrap();
    assert_eq!(
        t.user("lucky@metabase.com").sso_source,
        None,
        "an existing local user keeps its source"
    );
    // Unknown to the directory: the local password.
    t.f.login("ngoc@metabase.com", "local-pass-2").unwrap();
    // Directory down: local passwords work, directory-only people cannot sign in.
    t.f.login("jsmith1", "strongpassword").unwrap();
    t.dir.down.store(true, Ordering::SeqCst);
    t.f.login("lucky@metabase.com", "local-pass-1").unwrap();
    assert_eq!(
        t.f.login("john.smith@metabase.com", "strongpassword")
            .unwrap_err(),
        login_failed("password", BAD_PASSWORD)
    );
}

#[test]
fn deactivated_and_unprovisioned_people_are_refused() {
    let t = Ldap::new();
    let admin = t.admin();
    t.enable();
    t.f.login("jsmith1", "strongpassword").unwrap();
    let john = t.user("john.smith@metabase.com");
    t.f.people.deactivate_user(&admin, john.id).unwrap();
    assert_eq!(
        t.f.login("jsmith1", "strongpassword").unwrap_err(),
        login_failed("_error", DISABLED)
    );
    t.set("ldap-user-provisioning-enabled?", json!("false"));
    t.set("site-name", json!("Acme Corp"));
    assert_eq!(
        t.f.login("jmiller", "janepassword").unwrap_err(),
        login_failed("_error", "Sorry, but you'll need a acme_corp account to view this page. Please contact your administrator.")
    );
    assert!(t
        .f
        .people
        .store()
        .write(|r| r.user_by_email("jane.miller@metabase.com"))
        .unwrap()
        .is_none());
    // An entry without a usable address cannot sign in.
    t.dir
        .person("nomail", "not-an-address", Some("N"), "M", "pw", &[]);
    assert_eq!(
        t.f.login("nomail", "pw").unwrap_err(),
        login_failed("password", BAD_PASSWORD)
    );
}

#[test]
fn group_sync_follows_the_mappings_only() {
    let t = Ldap::new();
    let admin = t.admin();
    let accounting = t.f.group("Accounting");
    let unmapped = t.f.group("Unmapped");
    let other = t.f.group("Other mapped");
    t.enable();
    t.set("ldap-group-sync", json!("true"));
    t.set(
        "ldap-group-mappings",
        json!({"CN=accounting, OU=groups,dc=metabase,dc=com": [accounting.id.0], "cn=Other,dc=x": [other.id.0, 999]}),
    );
    t.f.login("jsmith1", "strongpassword").unwrap();
    let john = t.user("john.smith@metabase.com");
    assert_eq!(
        t.f.store.group_ids(john.id),
        vec![ALL_USERS_ID, accounting.id]
    );
    // Someone puts John in an unmapped group and a mapped one he is not in the directory's group of.
    for group in [unmapped.id, other.id] {
        let add = json!({"group_id": group.0, "user_id": john.id.0});
        let command = crate::group::AddMembership::parse(&body(add)).unwrap();
        t.f.people.add_membership(&admin, command).unwrap();
    }
    // The directory takes him out of Accounting.
    t.john_in(&[]);
    t.f.login("jsmith1", "strongpassword").unwrap();
    assert_eq!(
        t.f.store.group_ids(john.id),
        vec![ALL_USERS_ID, unmapped.id]
    );
}

#[test]
fn administrators_can_be_mapped_but_the_last_one_stays() {
    let t = Ldap::new();
    t.enable();
    t.set("ldap-group-sync", json!("true"));
    t.set(
        "ldap-group-mappings",
        json!({ACCOUNTING: [ADMINISTRATORS_ID.0]}),
    );
    t.f.login("jsmith1", "strongpassword").unwrap();
    let john = t.user("john.smith@metabase.com");
    assert!(john.is_superuser, "mapped into Administrators");
    assert!(t.f.store.group_ids(john.id).contains(&ADMINISTRATORS_ID));
    // John is the only administrator: leaving the directory group does not remove him.
    t.john_in(&[]);
    t.f.login("jsmith1", "strongpassword").unwrap();
    assert!(
        t.user("john.smith@metabase.com").is_superuser,
        "last admin kept"
    );
    // With another administrator he is removed.
    t.f.admin("crowberto@metabase.com");
    t.f.login("jsmith1", "strongpassword").unwrap();
    let john = t.user("john.smith@metabase.com");
    assert!(!john.is_superuser);
    assert_eq!(t.f.store.group_ids(john.id), vec![ALL_USERS_ID]);
}

#[test]
fn the_settings_endpoint_tests_then_saves_everything_or_nothing() {
    let t = Ldap::new();
    let admin = t.admin();
    let group = t.f.group("Accounting");
    let update = |v: serde_json::Value| {
        let command = UpdateLdapSettings::parse(v.as_object().unwrap());
        command.and_then(|c| t.f.people.update_ldap_settings(&admin, c))
    };
    let good = json!({
        "ldap-host": "localhost", "ldap-port": 389, "ldap-bind-dn": "cn=Directory Manager,dc=metabase,dc=com",
        "ldap-password": "password", "ldap-user-base": "dc=metabase,dc=com",
        "ldap-group-mappings": {ACCOUNTING: [group.id.0]}, "ldap-enabled": true,
    });
    update(good.clone()).unwrap();
    assert_eq!(t.f.store.setting("ldap-enabled").as_deref(), Some("true"));
    assert_eq!(
        t.f.store.setting("ldap-password").as_deref(),
        Some("password")
    );
    // The masked password keeps the stored one; omitted keys keep theirs.
    update(json!({"ldap-password": "**********rd", "ldap-port": 1389})).unwrap();
    assert_eq!(
        t.f.store.setting("ldap-password").as_deref(),
        Some("password")
    );
    assert_eq!(t.f.store.setting("ldap-host").as_deref(), Some("localhost"));
    assert_eq!(t.f.store.setting("ldap-port").as_deref(), Some("1389"));
    assert_eq!(
        t.f.people.get_setting(&admin, "ldap-password").unwrap(),
        json!("**********rd")
    );
    assert_eq!(
        t.f.people.get_setting(&admin, "ldap-configured?").unwrap(),
        json!(true)
    );
    // A failing test saves nothing and names the fields.
    *t.dir.check_fails.lock().unwrap() = Some(DirectoryError::InvalidCredentials {
        detail: String::new(),
    });
    let e = update(json!({"ldap-password": "wrong", "ldap-port": 2389})).unwrap_err();
    assert_eq!(
        e,
        DomainError::Fields {
            message: None,
            errors: BTreeMap::from([("ldap-password".into(), "Password was incorrect".into())])
        }
    );
    assert_eq!(t.f.store.setting("ldap-port").as_deref(), Some("1389"));
    // Turning LDAP on by itself tests the saved settings.
    t.f.people
        .put_setting(
            &admin,
            "ldap-enabled",
            PutSetting::parse(&body(json!({"value": false}))),
        )
        .unwrap();
    let e =
        t.f.people
            .put_setting(
                &admin,
                "ldap-enabled",
                PutSetting::parse(&body(json!({"value": true}))),
            )
            .unwrap_err();
    assert!(
        matches!(&e, DomainError::Fields { message: Some(m), .. } if m == CANNOT_CONNECT),
        "{e:?}"
    );
    assert_eq!(t.f.store.setting("ldap-enabled").as_deref(), Some("false"));
    *t.dir.check_fails.lock().unwrap() = None;
    // A mapping to a group that does not exist.
    let e = update(json!({"ldap-group-mappings": {ACCOUNTING: [4242]}})).unwrap_err();
    assert_eq!(
        e,
        DomainError::rule("ldap-group-mappings", "Group 4242 does not exist.")
    );
    // Deleting a mapped group unmaps it.
    t.f.people.delete_group(&admin, group.id).unwrap();
    assert_eq!(
        t.f.store.setting("ldap-group-mappings").as_deref(),
        Some(r#"{"cn=Accounting,ou=Groups,dc=metabase,dc=com":[]}"#)
    );
    // Only superusers.
    let someone = t.f.user(UserSpec {
        email: "x@y.com",
        password: Some("pw-pw-pw-1"),
        ..Default::default()
    });
    let caller = t.f.caller(someone.id);
    let command = UpdateLdapSettings::parse(good.as_object().unwrap()).unwrap();
    assert!(matches!(
        t.f.people.update_ldap_settings(&caller, command),
        Err(DomainError::Forbidden(_))
    ));
}

#[test]
fn environment_variables_win_and_lock_the_ldap_settings() {
    use crate::service::Config;
    use crate::setting::EnvDefaults;
    let env = |name: &str| match name {
        "MB_LDAP_HOST" => Some("ldap.example.org".to_string()),
        "MB_LDAP_PORT" => Some("636".to_string()),
        "MB_LDAP_PASSWORD" => Some("from-env-pw".to_string()),
        "MB_SITE_NAME" => Some("Env site".to_string()),
        _ => None,
    };
    let config = Config {
        settings: EnvDefaults::from_lookup(env).unwrap(),
        ..Config::default()
    };
    let mut f = Fixture::with_config(config);
    let dir = Arc::new(FakeDirectory::default());
    f.people = f.people.with_directory(dir);
    let admin = f.admin("crowberto@metabase.com");
    let admin = f.caller(admin.id);
    f.people
        .store()
        .write(|r| r.put_setting("ldap-host", Some("stored.example.org")))
        .unwrap();
    assert_eq!(
        f.people.get_setting(&admin, "ldap-host").unwrap(),
        json!("ldap.example.org")
    );
    assert_eq!(
        f.people.get_setting(&admin, "ldap-password").unwrap(),
        json!("**********pw")
    );
    let listed = f.people.list_settings(&admin).unwrap();
    let host = listed.iter().find(|s| s.key == "ldap-host").unwrap();
    assert!(host.is_env_setting);
    assert!(
        !listed
            .iter()
            .find(|s| s.key == "site-name")
            .unwrap()
            .is_env_setting,
        "MB_SITE_NAME only gives a default"
    );
    let e = f
        .people
        .put_setting(
            &admin,
            "ldap-port",
            PutSetting::parse(&body(json!({"value": 389}))),
        )
        .unwrap_err();
    assert!(matches!(e, DomainError::Disallowed(m) if m.contains("MB_LDAP_PORT")));
    // The settings form sends the variables' own values back (the password masked): no change, no refusal.
    let same = UpdateLdapSettings::parse(
        json!({"ldap-host": "ldap.example.org", "ldap-port": 636, "ldap-password": "**********pw",
               "ldap-user-base": "dc=example,dc=org"})
        .as_object()
        .unwrap(),
    )
    .unwrap();
    f.people.update_ldap_settings(&admin, same).unwrap();
    let other =
        UpdateLdapSettings::parse(json!({"ldap-host": "elsewhere"}).as_object().unwrap()).unwrap();
    match f.people.update_ldap_settings(&admin, other).unwrap_err() {
        DomainError::Fields { errors, .. } => {
            assert_eq!(
                errors["ldap-host"],
                "Set by MB_LDAP_HOST; it cannot be changed here."
            )
        }
        e => panic!("{e:?}"),
    }
    let c = f.people.ldap_config().unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.password.as_deref()),
        ("ldap.example.org", 636, Some("from-env-pw"))
    );
}

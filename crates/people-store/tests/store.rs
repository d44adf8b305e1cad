//! What only the Diesel store has: migrations, statement counts, connection URLs and the pool. SQLite
//! always, PostgreSQL when PEOPLE_TEST_POSTGRES_URL is set; each test gets its own fresh database. The
//! `Repo` semantics every store shares are checked by the contract (`tests/contract.rs`).

#![allow(clippy::unwrap_used)] // tests unwrap freely

use chrono::{TimeZone, Utc};
use people_domain::group::{GroupRole, ADMINISTRATORS_ID, ALL_USERS_ID};
use people_domain::session::NewSession;
use people_domain::store::{NewMembership, Store};
use people_domain::user::{NewUser, User};
use people_store::backend_tests;
use people_store::testing::TestDb;

/// A user in All Users and, as a manager, Administrators.
fn admin(t: &TestDb) -> User {
    let new = NewUser {
        email: "admin@x.com".into(),
        first_name: None,
        last_name: None,
        password: None,
        is_superuser: true,
        login_attributes: None,
        locale: None,
        sso_source: None,
        date_joined: Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap(),
        user_type: people_domain::user::UserType::Personal,
        entity_id: None,
        external_id: None,
    };
    let store: &dyn Store = &t.db;
    store
        .write(|r| {
            let u = r.insert_user(&new)?;
            for (group_id, role) in [
                (ALL_USERS_ID, GroupRole::Member),
                (ADMINISTRATORS_ID, GroupRole::Manager),
            ] {
                r.insert_membership(&NewMembership {
                    user_id: u.id,
                    group_id,
                    role,
                })?;
            }
            r.insert_session(&NewSession {
                id_hash: "h1".into(),
                user_id: u.id,
                created_at: new.date_joined,
            })?;
            Ok(u)
        })
        .unwrap()
}

/// Runs `sql` on the test database directly, as a tool that bypasses people would.
fn raw(t: &TestDb, sql: &str) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    if let Some(dir) = t.sqlite_dir() {
        let path = dir.join("people.db").display().to_string();
        let mut c = diesel::SqliteConnection::establish(&path).unwrap();
        c.batch_execute(sql).unwrap();
    } else {
        let mut c = diesel::PgConnection::establish(&t.url).unwrap();
        c.batch_execute(sql).unwrap();
    }
}

backend_tests! {
    fn migrations_are_idempotent(t) {
        assert!(t.db.migrate().unwrap().is_empty(), "second run applies nothing");
        let store: &dyn Store = &t.db;
        assert_eq!(store.read(|r| r.groups_by_ids(&[ALL_USERS_ID, ADMINISTRATORS_ID])).unwrap().len(), 2);
    }

    fn a_user_and_the_memberships_are_one_statement(t) {
        let u = admin(&t);
        let store: &dyn Store = &t.db;
        let before = t.db.statements();
        let (user, memberships) = store.read(|r| r.user_with_memberships(u.id)).unwrap().unwrap();
        assert_eq!(t.db.statements() - before, 1);
        assert_eq!((user.id, memberships.len()), (u.id, 2));
    }

    fn the_caller_is_one_statement(t) {
        let u = admin(&t);
        let store: &dyn Store = &t.db;
        let before = t.db.statements();
        let caller = store.read(|r| r.caller_by_session("h1")).unwrap().unwrap();
        assert_eq!(t.db.statements() - before, 1, "one statement finds the caller");
        assert_eq!((caller.user.id, caller.memberships.len()), (u.id, 2));
    }

    /// With MB_ENCRYPTION_SECRET_KEY, the LDAP service account's password is sealed at rest: read back with the
    /// key, unreadable without it or with another; other settings stay plain, and a password stored before the
    /// key was set stays readable.
    fn the_ldap_password_is_sealed_with_the_encryption_key(t) {
        let keyless: &dyn Store = &t.db;
        keyless.write(|r| r.put_setting("ldap-password", Some("before-the-key"))).unwrap();
        let keyed_db = t.db.clone().with_encryption_key("0123456789abcdef-secret");
        let keyed: &dyn Store = &keyed_db;
        assert_eq!(keyed.read(|r| r.setting("ldap-password")).unwrap().as_deref(), Some("before-the-key"));
        keyed.write(|r| {
            r.put_setting("ldap-password", Some("s3cret pass"))?;
            r.put_setting("ldap-host", Some("ldap.example.org"))
        })
        .unwrap();
        assert_eq!(keyed.read(|r| r.setting("ldap-password")).unwrap().as_deref(), Some("s3cret pass"));
        let all = keyed.read(|r| r.settings()).unwrap();
        assert!(all.contains(&("ldap-password".to_string(), "s3cret pass".to_string())), "{all:?}");
        // Without the key, or with another, the sealed value is not the password.
        assert_eq!(keyless.read(|r| r.setting("ldap-password")).unwrap(), None);
        assert!(!keyless.read(|r| r.settings()).unwrap().iter().any(|(k, _)| k == "ldap-password"));
        let other_db = t.db.clone().with_encryption_key("another-secret-of-16+");
        let other: &dyn Store = &other_db;
        assert_eq!(other.read(|r| r.setting("ldap-password")).unwrap(), None);
        assert_eq!(keyless.read(|r| r.setting("ldap-host")).unwrap().as_deref(), Some("ldap.example.org"));
    }

    /// Rows written by SQL without an entity id (users and groups) get one from the back-fill, once; a short
    /// id a tool wrote reads back as written and is found exactly.
    fn backfill_fills_groups_and_users_written_by_sql(t) {
        raw(&t, "INSERT INTO permissions_group (name) VALUES ('tool1'), ('tool2');
                 INSERT INTO permissions_group (name, entity_id) VALUES ('kept', 'kept00000000000000000');
                 INSERT INTO core_user (email, date_joined, updated_at) VALUES
                   ('a@x.com', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
                   ('b@x.com', '2024-01-01 00:00:00', '2024-01-01 00:00:00');");
        let s: &dyn Store = &t.db;
        assert_eq!(s.write(|r| r.backfill_entity_ids()).unwrap(), 4);
        assert_eq!(s.write(|r| r.backfill_entity_ids()).unwrap(), 0);
        let groups = s.read(|r| r.list_groups(None, None)).unwrap();
        assert!(groups.iter().all(|g| g.group.entity_id.as_ref().unwrap().len() == 21));
        assert!(groups.iter().any(|g| g.group.entity_id.as_deref() == Some("kept00000000000000000")));
        raw(&t, "INSERT INTO core_user (email, date_joined, updated_at, entity_id) VALUES ('c@x.com', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 'short');");
        let c = s.read(|r| r.user_by_entity_id("short")).unwrap().unwrap();
        assert_eq!(c.entity_id.as_deref(), Some("short"));
        assert!(s.read(|r| r.user_by_entity_id("short ")).unwrap().is_none());
    }
}

#[test]
fn unknown_url_schemes_are_refused() {
    for url in ["mysql://x", "postgress:db", "people.db"] {
        let err =
            people_store::Db::connect(url, &people_store::PoolOptions::default()).unwrap_err();
        assert!(
            matches!(err, people_store::StoreError::BadUrl(_)),
            "{url}: {err}"
        );
    }
}

#[test]
fn in_memory_sqlite_keeps_its_data_between_checkouts() {
    let db = people_store::Db::connect("sqlite::memory:", &people_store::PoolOptions::default())
        .unwrap();
    db.migrate().unwrap();
    let s: &dyn Store = &db;
    s.write(|r| r.put_setting("k", Some("v"))).unwrap();
    assert_eq!(s.read(|r| r.setting("k")).unwrap().as_deref(), Some("v"));
}

#[test]
fn unreachable_postgres_fails_fast_with_the_reason() {
    let started = std::time::Instant::now();
    let err = people_store::Db::connect(
        "postgres://postgres@127.0.0.1:1/none",
        &people_store::PoolOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, people_store::StoreError::Connect(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A throttle key a sign-in holds locked is skipped by the prune, never waited for: the sign-in locks its
/// keys one after the other, so a prune waiting on one while holding another deadlocked with it. (SQLite has
/// a single writer and cannot deadlock.)
#[test]
fn the_throttle_prune_skips_keys_a_sign_in_holds() {
    use people_domain::store::ThrottleKey;
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};
    let Some(t) = TestDb::new(people_store::testing::Backend::Postgres) else {
        eprintln!("postgres::the_throttle_prune_skips_keys_a_sign_in_holds not run: PEOPLE_TEST_POSTGRES_URL is not set");
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let key = |k: &'static str| ThrottleKey {
        throttle: "login-ip",
        key: k,
    };
    let s: &dyn Store = &t.db;
    // Two keys whose rows are due for pruning.
    s.write(|r| r.lock_attempts(&[key("10.0.0.1"), key("10.0.0.2")], now))
        .unwrap();
    let held = Arc::new(Barrier::new(2));
    let db = t.db.clone();
    let holder = {
        let held = Arc::clone(&held);
        std::thread::spawn(move || {
            let s: &dyn Store = &db;
            s.write(|r| {
                r.lock_attempts(&[key("10.0.0.1")], now)?;
                held.wait();
                std::thread::sleep(Duration::from_millis(1500));
                Ok(())
            })
            .unwrap();
        })
    };
    held.wait();
    let started = Instant::now();
    let pruned = s
        .write(|r| r.prune_attempts(now + chrono::Duration::hours(2)))
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the prune waited: {:?}",
        started.elapsed()
    );
    assert_eq!(pruned, 1, "the free key is pruned, the held one skipped");
    holder.join().unwrap();
    assert_eq!(
        s.write(|r| r.prune_attempts(now + chrono::Duration::hours(2)))
            .unwrap(),
        1,
        "pruned later"
    );
}

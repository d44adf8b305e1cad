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

//! Every `Repo` method against a real database: SQLite always, PostgreSQL when PEOPLE_TEST_POSTGRES_URL is
//! set. Each test gets its own fresh database.

#![allow(clippy::unwrap_used)] // tests unwrap freely

use chrono::{Duration, TimeZone, Utc};
use people_domain::clock::Timestamp;
use people_domain::group::{ADMINISTRATORS_ID, ALL_USERS_ID};
use people_domain::password::PasswordHash;
use people_domain::session::{NewLogin, NewSession};
use people_domain::store::{Activity, NewEmail, Page, Store, UserOrder, UserQuery};
use people_domain::user::{NewUser, User};
use people_domain::{DomainError, StoreFailure};
use people_store::backend_tests;
use people_store::testing::TestDb;
use serde_json::json;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap() + Duration::microseconds(123_456)
}

fn new_user(email: &str, first: Option<&str>, last: Option<&str>) -> NewUser {
    NewUser {
        email: email.to_string(),
        first_name: first.map(str::to_string),
        last_name: last.map(str::to_string),
        password: None,
        is_superuser: false,
        login_attributes: None,
        locale: None,
        sso_source: None,
        date_joined: t0(),
    }
}

fn store(t: &TestDb) -> &dyn Store {
    &t.db
}

fn add(t: &TestDb, email: &str, first: Option<&str>, last: Option<&str>) -> User {
    store(t)
        .write(|r| {
            let u = r.insert_user(&new_user(email, first, last))?;
            r.insert_membership(u.id, ALL_USERS_ID, false)?;
            Ok(u)
        })
        .unwrap()
}

/// Runs a `SELECT count(*) AS n …` on a connection of its own.
fn raw_count(t: &TestDb, sql: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let q = diesel::sql_query(sql);
    let rows: Vec<N> = match t.url.strip_prefix("sqlite:") {
        Some(path) => q
            .load(&mut diesel::SqliteConnection::establish(path).unwrap())
            .unwrap(),
        None => q
            .load(&mut diesel::PgConnection::establish(&t.url).unwrap())
            .unwrap(),
    };
    rows[0].n
}

fn ids(users: &[User]) -> Vec<i32> {
    users.iter().map(|u| u.id).collect()
}

backend_tests! {
    fn migrations_seed_the_magic_groups_and_are_idempotent(t) {
        assert!(t.db.migrate().unwrap().is_empty(), "second run applies nothing");
        let groups = store(&t).read(|r| r.groups_by_ids(&[1, 2, 3])).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].name, "All Users");
        assert_eq!(groups[1].name, "Administrators");
        assert_eq!(groups[0].entity_id.as_deref().map(str::len), Some(21));
        store(&t).read(|r| r.ping()).unwrap();
    }

    fn insert_and_find_users(t) {
        let mut nu = new_user("ann@x.com", Some("Ann"), None);
        nu.password = Some(PasswordHash { salt: "s".into(), hash: "$2a$04$h".into() });
        nu.login_attributes = Some(json!({"k": [1, "two"]}).as_object().unwrap().clone());
        nu.locale = Some("es_MX".into());
        let u = store(&t).write(|r| r.insert_user(&nu)).unwrap();
        assert!(u.id > 0);
        assert_eq!(u.email, "ann@x.com");
        assert_eq!(u.first_name.as_deref(), Some("Ann"));
        assert_eq!(u.last_name, None);
        assert_eq!(u.password_hash.as_deref(), Some("$2a$04$h"));
        assert_eq!(u.password_salt.as_deref(), Some("s"));
        assert_eq!(u.date_joined, t0(), "microseconds survive the round trip");
        assert_eq!(u.updated_at, t0());
        assert!(u.is_active && !u.is_superuser && u.is_qbnewb && u.is_datasetnewb);
        assert_eq!(u.login_attributes.as_ref().unwrap()["k"], json!([1, "two"]));
        assert_eq!(u.locale.as_deref(), Some("es_MX"));
        assert_eq!(u.user_type, "personal");
        let by_id = store(&t).read(|r| r.user_by_id(u.id as i64)).unwrap().unwrap();
        assert_eq!(by_id, u);
        let by_email = store(&t).read(|r| r.user_by_email("ANN@X.com")).unwrap().unwrap();
        assert_eq!(by_email.id, u.id);
        assert_eq!(store(&t).read(|r| r.user_by_id(999)).unwrap(), None);
        assert_eq!(store(&t).read(|r| r.user_by_id(1 << 40)).unwrap(), None, "ids beyond the column name nothing");
        assert_eq!(store(&t).read(|r| r.user_by_email("nobody@x.com")).unwrap(), None);
    }

    fn case_variant_duplicate_email_is_refused_by_the_database(t) {
        add(&t, "dup@x.com", None, None);
        // Bypass the domain's lower-casing: the unique index on lower(email) must refuse it by itself.
        let err = store(&t).write(|r| r.insert_user(&new_user("DUP@X.COM", None, None))).unwrap_err();
        assert!(err.is_unique_violation(), "{err:?}");
        assert_eq!(store(&t).read(|r| r.count_users(10)).unwrap(), 1);
    }

    fn update_writes_every_column(t) {
        let mut u = add(&t, "b@x.com", Some("B"), Some("One"));
        let later = t0() + Duration::hours(1);
        u.email = "b2@x.com".into();
        u.first_name = None;
        u.last_name = Some("Two".into());
        u.password_hash = Some("$2a$h2".into());
        u.password_salt = Some("s2".into());
        u.last_login = Some(later);
        u.is_superuser = true;
        u.is_active = false;
        u.reset_token = Some("abc".into());
        u.reset_triggered = Some(1_700_000_000_000);
        u.is_qbnewb = false;
        u.is_datasetnewb = false;
        u.login_attributes = Some(json!({"a": 1}).as_object().unwrap().clone());
        u.updated_at = later;
        u.sso_source = Some("google".into());
        u.locale = Some("en".into());
        u.settings = Some("{}".into());
        store(&t).write(|r| r.update_user(&u)).unwrap();
        let back = store(&t).read(|r| r.user_by_id(u.id as i64)).unwrap().unwrap();
        assert_eq!(back, u);
        let other = add(&t, "c@x.com", None, None);
        let mut clash = other.clone();
        clash.email = "b2@x.com".into();
        assert!(store(&t).write(|r| r.update_user(&clash)).unwrap_err().is_unique_violation());
    }

    fn user_with_memberships_in_one_query(t) {
        let u = add(&t, "wm@x.com", None, None);
        store(&t).write(|r| r.insert_membership(u.id, ADMINISTRATORS_ID, true)).unwrap();
        let before = t.db.statements();
        let (user, ms) = store(&t).read(|r| r.user_with_memberships(u.id as i64)).unwrap().unwrap();
        assert_eq!(t.db.statements() - before, 1);
        assert_eq!(user.id, u.id);
        assert_eq!(ms.iter().map(|m| (m.group_id, m.is_group_manager)).collect::<Vec<_>>(), vec![(ALL_USERS_ID, false), (ADMINISTRATORS_ID, true)]);
        let lone = store(&t).write(|r| r.insert_user(&new_user("lone@x.com", None, None))).unwrap();
        let (_, ms) = store(&t).read(|r| r.user_with_memberships(lone.id as i64)).unwrap().unwrap();
        assert!(ms.is_empty());
        assert_eq!(store(&t).read(|r| r.user_with_memberships(999)).unwrap(), None);
    }

    fn lock_user_reads_inside_a_transaction(t) {
        let u = add(&t, "l@x.com", None, None);
        let got = store(&t).write(|r| r.lock_user(u.id as i64)).unwrap().unwrap();
        assert_eq!(got.id, u.id);
        assert_eq!(store(&t).write(|r| r.lock_user(4242)).unwrap(), None);
    }

    fn last_login_and_counts(t) {
        let u = add(&t, "ll@x.com", None, None);
        let at = t0() + Duration::minutes(5);
        store(&t).read(|r| r.set_last_login(u.id, at)).unwrap();
        assert_eq!(store(&t).read(|r| r.user_by_id(u.id as i64)).unwrap().unwrap().last_login, Some(at));
        add(&t, "ll2@x.com", None, None);
        add(&t, "ll3@x.com", None, None);
        assert_eq!(store(&t).read(|r| r.count_users(10)).unwrap(), 3);
        assert_eq!(store(&t).read(|r| r.count_users(2)).unwrap(), 2, "counting stops at the cap");
    }

    fn active_superusers_only(t) {
        let a = add(&t, "a@x.com", None, None);
        let b = add(&t, "b@x.com", None, None);
        add(&t, "c@x.com", None, None);
        for (u, active) in [(&a, true), (&b, false)] {
            let mut u = u.clone();
            u.is_superuser = true;
            u.is_active = active;
            store(&t).write(|r| r.update_user(&u)).unwrap();
        }
        assert_eq!(ids(&store(&t).read(|r| r.active_superusers()).unwrap()), vec![a.id]);
    }

    fn list_filters_orders_and_pages(t) {
        let zed = add(&t, "zed@x.com", Some("zed"), Some("Alpha"));
        let amy = add(&t, "amy@x.com", Some("Amy"), Some("Zebra"));
        let bob = add(&t, "bob@x.com", Some("bob"), Some("Beta"));
        let nul = add(&t, "nul@x.com", None, None);
        let pct = add(&t, "pct@x.com", Some("50%_off"), None);
        let gone = add(&t, "gone@x.com", Some("Aaron"), None);
        let mut g = gone.clone();
        g.is_active = false;
        store(&t).write(|r| r.update_user(&g)).unwrap();

        let all = |q: UserQuery| store(&t).read(|r| r.list_users(&q)).unwrap();
        let (users, total) = all(UserQuery::default());
        assert_eq!(total, 5);
        assert_eq!(ids(&users), vec![pct.id, amy.id, bob.id, zed.id, nul.id], "lower(first), NULLs last");
        let (users, total) = all(UserQuery { activity: Activity::Inactive, ..Default::default() });
        assert_eq!((ids(&users), total), (vec![gone.id], 1));
        assert_eq!(all(UserQuery { activity: Activity::Any, ..Default::default() }).1, 6);

        let (users, _) = all(UserQuery { order: UserOrder::LastName, ..Default::default() });
        assert_eq!(ids(&users), vec![zed.id, bob.id, amy.id, pct.id, nul.id], "lower(last), then first");

        let q = |s: &str| all(UserQuery { text: Some(s.into()), ..Default::default() });
        assert_eq!(ids(&q("ZEB").0), vec![amy.id]);
        assert_eq!(ids(&q("bob@").0), vec![bob.id], "email matches");
        assert_eq!(ids(&q("%").0), vec![pct.id], "% matches itself only");
        assert_eq!(ids(&q("_").0), vec![pct.id], "_ matches itself only");
        assert_eq!(q("nomatch").1, 0);

        let page = |limit, offset| all(UserQuery { page: Some(Page { limit, offset }), ..Default::default() });
        let (users, total) = page(2, 1);
        assert_eq!((ids(&users), total), (vec![amy.id, bob.id], 5));
        assert_eq!(page(0, 0), (vec![], 5));
        assert_eq!(page(10, 99), (vec![], 5));

        // Group filter and ranking: superusers first, then the group's managers, then names.
        let grp = store(&t).write(|r| r.insert_group("Team", "entity-team-000000001")).unwrap();
        store(&t).write(|r| {
            r.insert_membership(zed.id, grp.id, false)?;
            r.insert_membership(bob.id, grp.id, true)?;
            r.insert_membership(amy.id, grp.id, false)?;
            Ok(())
        }).unwrap();
        let mut z = zed.clone();
        z.is_superuser = true;
        store(&t).write(|r| r.update_user(&z)).unwrap();
        let (users, total) = all(UserQuery {
            group_id: Some(grp.id as i64),
            order: UserOrder::GroupRank(grp.id),
            ..Default::default()
        });
        assert_eq!((ids(&users), total), (vec![zed.id, bob.id, amy.id], 3));
        assert_eq!(all(UserQuery { group_id: Some(9999), ..Default::default() }).1, 0);

        // Sharing a group other than All Users.
        let (users, _) = all(UserQuery { shares_group_with: Some(amy.id), ..Default::default() });
        assert_eq!(ids(&users), vec![amy.id, bob.id, zed.id]);
        assert_eq!(all(UserQuery { shares_group_with: Some(nul.id), ..Default::default() }).1, 0);
    }

    fn groups_and_their_members(t) {
        let s = store(&t);
        let sales = s.write(|r| r.insert_group("Sales", "sales-entity-00000001")).unwrap();
        assert_eq!(sales.name, "Sales");
        let err = s.write(|r| r.insert_group("SALES", "sales-entity-00000002")).unwrap_err();
        assert!(err.is_unique_violation(), "names are unique ignoring case: {err:?}");
        let alpha = s.write(|r| r.insert_group("alpha", "alpha-entity-00000001")).unwrap();
        assert_eq!(s.read(|r| r.group_by_id(sales.id as i64)).unwrap(), Some(sales.clone()));
        assert_eq!(s.read(|r| r.group_by_id(77)).unwrap(), None);
        assert_eq!(s.read(|r| r.group_by_name("SALES")).unwrap(), Some(sales.clone()), "by name ignoring case");
        assert_eq!(s.read(|r| r.group_by_name("nope")).unwrap(), None);
        assert_eq!(s.read(|r| r.groups_by_ids(&[sales.id as i64, 77, -1])).unwrap(), vec![sales.clone()]);

        let u1 = add(&t, "m1@x.com", Some("b"), Some("z"));
        let u2 = add(&t, "m2@x.com", Some("A"), Some("y"));
        let u3 = add(&t, "m3@x.com", Some("c"), None);
        s.write(|r| {
            r.insert_membership(u1.id, sales.id, true)?;
            r.insert_membership(u2.id, sales.id, false)?;
            r.insert_membership(u3.id, sales.id, false)?;
            Ok(())
        }).unwrap();
        let mut off = u3.clone();
        off.is_active = false;
        s.write(|r| r.update_user(&off)).unwrap();

        let members = s.read(|r| r.group_members(sales.id)).unwrap();
        assert_eq!(members.iter().map(|m| m.user_id).collect::<Vec<_>>(), vec![u2.id, u1.id], "active only, by name");
        assert!(members[1].is_group_manager);
        assert_eq!(members[1].email, "m1@x.com");
        assert_eq!(s.read(|r| r.count_active_members(sales.id)).unwrap(), 2);

        let list = s.read(|r| r.list_groups(None, None)).unwrap();
        let names: Vec<_> = list.iter().map(|g| (g.group.name.as_str(), g.member_count)).collect();
        assert_eq!(names, vec![("Administrators", 0), ("All Users", 2), ("alpha", 0), ("Sales", 2)]);
        let only = s.read(|r| r.list_groups(Some(&[sales.id, alpha.id]), Some(Page { limit: 1, offset: 1 }))).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].group.id, sales.id);

        s.write(|r| r.lock_group(sales.id)).unwrap();
        s.write(|r| r.rename_group(alpha.id, "Beta")).unwrap();
        assert_eq!(s.read(|r| r.group_by_id(alpha.id as i64)).unwrap().unwrap().name, "Beta");
        assert!(s.write(|r| r.rename_group(alpha.id, "sales")).unwrap_err().is_unique_violation());

        assert!(s.write(|r| r.delete_group(sales.id)).unwrap());
        assert!(!s.write(|r| r.delete_group(sales.id)).unwrap());
        assert!(s.read(|r| r.all_memberships(Some(&[sales.id]))).unwrap().is_empty(), "memberships go with the group");
    }

    fn memberships(t) {
        let s = store(&t);
        let u = add(&t, "mm@x.com", None, None);
        let v = add(&t, "vv@x.com", None, None);
        let m = s.write(|r| r.insert_membership(u.id, ADMINISTRATORS_ID, false)).unwrap();
        assert_eq!((m.user_id, m.group_id, m.is_group_manager), (u.id, ADMINISTRATORS_ID, false));
        let dup = s.write(|r| r.insert_membership(u.id, ADMINISTRATORS_ID, true)).unwrap_err();
        assert!(dup.is_unique_violation(), "{dup:?}");
        let fk = s.write(|r| r.insert_membership(u.id, 999, false)).unwrap_err();
        assert!(matches!(fk, DomainError::Store(StoreFailure::ForeignKey(_))), "{fk:?}");
        let fk = s.write(|r| r.insert_membership(999, ALL_USERS_ID, false)).unwrap_err();
        assert!(matches!(fk, DomainError::Store(StoreFailure::ForeignKey(_))), "{fk:?}");

        let mine = s.read(|r| r.memberships_of(&[u.id])).unwrap();
        assert_eq!(mine.iter().map(|m| m.group_id).collect::<Vec<_>>(), vec![ALL_USERS_ID, ADMINISTRATORS_ID]);
        assert_eq!(s.read(|r| r.memberships_of(&[u.id, v.id])).unwrap().len(), 3);
        assert!(s.read(|r| r.memberships_of(&[])).unwrap().is_empty());
        assert_eq!(s.read(|r| r.all_memberships(None)).unwrap().len(), 3);
        assert_eq!(s.read(|r| r.all_memberships(Some(&[ADMINISTRATORS_ID]))).unwrap(), vec![m]);

        s.write(|r| r.set_group_manager(m.id, true)).unwrap();
        assert!(s.read(|r| r.membership_by_id(m.id as i64)).unwrap().unwrap().is_group_manager);
        assert_eq!(s.read(|r| r.membership_by_id(5555)).unwrap(), None);
        assert!(s.write(|r| r.delete_membership(m.id)).unwrap());
        assert!(!s.write(|r| r.delete_membership(m.id)).unwrap());
        assert_eq!(s.write(|r| r.delete_group_memberships(ALL_USERS_ID)).unwrap(), 2);
    }

    fn sessions_and_the_one_query_caller_lookup(t) {
        let s = store(&t);
        let u = add(&t, "s@x.com", Some("S"), None);
        s.write(|r| r.insert_membership(u.id, ADMINISTRATORS_ID, true)).unwrap();
        let created = t0();
        s.write(|r| r.insert_session(&NewSession { id_hash: "h1".into(), user_id: u.id, created_at: created })).unwrap();
        s.write(|r| r.insert_session(&NewSession { id_hash: "h2".into(), user_id: u.id, created_at: created })).unwrap();

        let before = t.db.statements();
        let c = s.read(|r| r.caller_by_session("h1")).unwrap().unwrap();
        assert_eq!(t.db.statements() - before, 1, "one statement finds the caller");
        assert_eq!(c.user.id, u.id);
        assert_eq!(c.session_created_at, created);
        assert_eq!(c.memberships.iter().map(|m| (m.group_id, m.is_group_manager)).collect::<Vec<_>>(),
                   vec![(ALL_USERS_ID, false), (ADMINISTRATORS_ID, true)]);
        assert_eq!(c.first_login, None);
        assert_eq!(s.read(|r| r.caller_by_session("nope")).unwrap(), None);

        let login = |at: Timestamp, session: Option<&str>| NewLogin {
            timestamp: at,
            user_id: u.id,
            session_hash: session.map(str::to_string),
            device_id: "dev".into(),
            device_description: "curl".into(),
            ip_address: "127.0.0.1".into(),
        };
        for (minutes, session) in [(1, "h1"), (2, "h2")] {
            let at = t0() + Duration::minutes(minutes);
            s.write(|r| {
                r.insert_login(&login(at, Some(session)))?;
                r.set_last_login(u.id, at)
            })
            .unwrap();
        }
        let c = s.read(|r| r.caller_by_session("h2")).unwrap().unwrap();
        assert_eq!(c.first_login, Some(t0() + Duration::minutes(1)), "the first login stays; last_login moves");
        assert_eq!(c.user.last_login, Some(t0() + Duration::minutes(2)));

        assert_eq!(s.write(|r| r.delete_user_sessions(u.id, Some("h2"))).unwrap(), 1);
        assert!(s.read(|r| r.caller_by_session("h1")).unwrap().is_none());
        let logins = s.read(|r| r.logins_of(u.id)).unwrap();
        assert_eq!(logins.len(), 2);
        assert_eq!(logins[0].timestamp, t0() + Duration::minutes(2), "newest first");
        assert!(logins[0].active);
        assert!(!logins[1].active, "a deleted session leaves its login inactive");
        assert!(s.write(|r| r.delete_session("h2")).unwrap());
        assert!(!s.write(|r| r.delete_session("h2")).unwrap());
        assert_eq!(s.write(|r| r.delete_user_sessions(u.id, None)).unwrap(), 0);
    }

    fn caller_without_memberships(t) {
        let s = store(&t);
        let u = s.write(|r| r.insert_user(&new_user("lone@x.com", None, None))).unwrap();
        s.write(|r| r.insert_session(&NewSession { id_hash: "x".into(), user_id: u.id, created_at: t0() })).unwrap();
        let c = s.read(|r| r.caller_by_session("x")).unwrap().unwrap();
        assert!(c.memberships.is_empty());
    }

    fn settings(t) {
        let s = store(&t);
        assert_eq!(s.read(|r| r.setting("site-name")).unwrap(), None);
        s.write(|r| r.put_setting("site-name", Some("Acme"))).unwrap();
        s.write(|r| r.put_setting("site-name", Some("Acme 2"))).unwrap();
        assert_eq!(s.read(|r| r.setting("site-name")).unwrap().as_deref(), Some("Acme 2"));
        assert!(s.write(|r| r.insert_setting_if_absent("setup-token", "t1")).unwrap());
        assert!(!s.write(|r| r.insert_setting_if_absent("setup-token", "t2")).unwrap());
        assert_eq!(
            s.read(|r| r.settings()).unwrap(),
            vec![("setup-token".to_string(), "t1".to_string()), ("site-name".to_string(), "Acme 2".to_string())]
        );
        assert!(!s.write(|r| r.take_setting("setup-token", "wrong")).unwrap());
        assert!(s.write(|r| r.take_setting("setup-token", "t1")).unwrap());
        assert!(!s.write(|r| r.take_setting("setup-token", "t1")).unwrap(), "only one caller takes it");
        s.write(|r| r.put_setting("site-name", None)).unwrap();
        assert_eq!(s.read(|r| r.setting("site-name")).unwrap(), None);
    }

    fn outbox_claims_leases_and_marks(t) {
        let s = store(&t);
        let mail = |subject: &str| NewEmail {
            recipients: vec!["a@x.com".into(), "b@x.com".into()],
            subject: subject.into(),
            body_text: "text".into(),
            body_html: "<p>html</p>".into(),
            created_at: t0(),
            link: None,
        };
        let id1 = s.write(|r| r.enqueue_email(&mail("one"))).unwrap();
        let id2 = s.write(|r| r.enqueue_email(&mail("two"))).unwrap();
        assert!(id2 > id1);
        let now = t0() + Duration::seconds(1);
        let lease = now + Duration::seconds(60);
        let first = s.write(|r| r.claim_emails(now, lease, 1)).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].id, id1);
        assert_eq!(first[0].recipients, vec!["a@x.com", "b@x.com"]);
        assert_eq!((first[0].subject.as_str(), first[0].attempts), ("one", 1));
        let second = s.write(|r| r.claim_emails(now, lease, 10)).unwrap();
        assert_eq!(second.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id2], "a leased email is not claimed twice");
        assert!(s.write(|r| r.claim_emails(now, lease, 10)).unwrap().is_empty());

        s.write(|r| r.mark_email_sent(id1, now)).unwrap();
        assert_eq!(raw_count(&t, &format!("SELECT count(*) AS n FROM email_outbox WHERE id = {id1} AND body_text = '' AND body_html = '' AND sent_at IS NOT NULL")), 1, "sent bodies are blanked");
        s.write(|r| r.mark_email_failed(id2, "smtp down", now + Duration::seconds(5))).unwrap();
        let later = now + Duration::seconds(10);
        let again = s.write(|r| r.claim_emails(later, later + Duration::seconds(60), 10)).unwrap();
        assert_eq!(again.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(), vec![(id2, 2)], "sent mail stays sent; failed mail comes back");
        let after_lease = later + Duration::seconds(61);
        let expired = s.write(|r| r.claim_emails(after_lease, after_lease + Duration::seconds(60), 10)).unwrap();
        assert_eq!(expired.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id2], "an expired lease makes the email due again");
    }

    fn a_failed_unit_of_work_rolls_back(t) {
        let s = store(&t);
        let err = s.write(|r| -> people_domain::Result<()> {
            let u = r.insert_user(&new_user("rb@x.com", None, None))?;
            r.insert_membership(u.id, ALL_USERS_ID, false)?;
            r.put_setting("site-name", Some("changed"))?;
            Err(DomainError::Disallowed("rule failed".into()))
        }).unwrap_err();
        assert_eq!(err, DomainError::Disallowed("rule failed".into()));
        assert_eq!(s.read(|r| r.user_by_email("rb@x.com")).unwrap(), None);
        assert_eq!(s.read(|r| r.setting("site-name")).unwrap(), None);
        assert!(s.read(|r| r.all_memberships(None)).unwrap().is_empty());
        // The connection is usable afterwards.
        add(&t, "after@x.com", None, None);
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

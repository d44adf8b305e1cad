//! One contract for the storage ports, run against every implementation: the in-memory [`MemoryStore`]
//! (through `tests/contract.rs`) and people-store's Diesel store on SQLite and PostgreSQL. Each check gets a
//! freshly migrated, empty store and tests one behaviour the use cases rely on, through the [`Repo`] port
//! alone, plus one look the port does not give: the outbox bodies as stored.
//!
//! [`repo_contract_tests!`](crate::repo_contract_tests) makes one `#[test]` of each check, so that every
//! back end reports every check by name. The checks are listed once, in `__repo_contract_checks!`; a check
//! left out of that list is dead code, which the lints refuse.
//!
//! The differences the contract accepts are said where they apply: case folding beyond ASCII
//! (`case_folding_beyond_ascii_follows_the_database`, which also names a flaw of people-store's search on
//! SQLite), and a link naming a user id no key can hold (`dead_links_are_blanked_and_never_claimed`).

#![allow(clippy::unwrap_used)] // a check that fails panics, like a test

use chrono::Duration;
use serde_json::json;

use super::{t0, MemoryStore};
use crate::api_key::{ApiKey, ApiKeyChange, KeyHolder, KeyScope, NewApiKey};
use crate::clock::Timestamp;
use crate::error::{DomainError, StoreFailure};
use crate::group::{
    Group, GroupMember, GroupRole, GroupWithCount, Membership, ADMINISTRATORS_ID,
    ADMINISTRATORS_NAME, ALL_USERS_ID, ALL_USERS_NAME,
};
use crate::id::{ApiKeyId, EmailId, GroupId, MembershipId, UserId};
use crate::password::PasswordHash;
use crate::session::{LoginRecord, NewLogin, NewSession};
use crate::store::{
    Activity, EmailLink, NewEmail, NewMembership, Page, QueuedEmail, Repo, SavedAttempts, Store,
    ThrottleKey, UserOrder, UserQuery,
};
use crate::user::{NewUser, User, UserType};

/// What a check runs against: a freshly migrated store holding nothing but the two magic groups.
pub trait Subject {
    /// The store under test.
    fn store(&self) -> &dyn Store;
    /// Every outbox row as stored, by id: (id, plain-text body, HTML body). Sent and voided emails must keep
    /// no body, and the port never returns them.
    fn outbox_bodies(&self) -> Vec<(EmailId, String, String)>;
}

impl Subject for MemoryStore {
    fn store(&self) -> &dyn Store {
        self
    }

    fn outbox_bodies(&self) -> Vec<(EmailId, String, String)> {
        self.outbox()
            .into_iter()
            .map(|e| (e.id, e.email.body_text, e.email.body_html))
            .collect()
    }
}

/// A contract check.
pub type Check = fn(&dyn Subject);

/// Runs the check named `name` on `subject`; panics when it fails or no check has that name.
pub fn run(name: &str, subject: &dyn Subject) {
    let Some((_, check)) = CHECKS.iter().find(|(n, _)| *n == name) else {
        panic!("no contract check is named {name}");
    };
    check(subject);
}

/// Calls `__repo_contract_expand!` with `$args` and the name of every check: the one list of the checks.
#[doc(hidden)]
#[macro_export]
macro_rules! __repo_contract_checks {
    ($($args:tt)*) => {
        $crate::__repo_contract_expand! { ($($args)*) [
            magic_groups_exist_from_the_start,
            users_keep_every_column,
            emails_are_unique_ignoring_case,
            updates_write_every_column_but_id_date_joined_and_type,
            unknown_ids_name_nothing,
            users_come_with_their_memberships_by_group,
            last_login_moves_and_first_login_stays,
            counting_users_stops_at_the_cap,
            active_superusers_by_id,
            users_are_found_by_their_exact_entity_id,
            entity_ids_are_unique_among_users,
            backfilling_gives_entity_ids_only_to_rows_without_one,
            user_lists_order_by_lower_names_nulls_last_then_id,
            user_lists_filter_by_activity,
            user_search_ignores_case_and_takes_wildcards_literally,
            user_lists_page_and_count_every_match,
            scim_users_are_the_visible_people_by_id_paged,
            scim_filters_select_the_same_people_everywhere,
            scim_user_names_are_found_ignoring_case,
            scim_groups_and_members_are_the_same_everywhere,
            group_lists_of_users_rank_superusers_then_managers,
            users_sharing_a_group_other_than_all_users,
            group_names_and_entity_ids_are_unique,
            groups_list_by_name_with_active_member_counts,
            group_members_are_the_active_ones_by_name,
            deleting_a_group_deletes_its_memberships,
            memberships_are_unique_and_need_their_user_and_group,
            memberships_list_by_user_then_group_and_change,
            caller_lookup_brings_the_session_user_and_memberships,
            deleting_sessions_keeps_the_one_asked_for,
            login_history_is_newest_first_and_outlives_its_session,
            api_keys_keep_every_column,
            api_key_names_prefixes_and_digests_are_unique,
            api_keys_list_by_id_and_count_by_scope,
            locking_an_api_key_reads_it,
            api_key_names_are_taken_exactly_except_by_one_key,
            api_key_prefixes_are_taken_exactly,
            api_keys_are_found_by_exact_digest_of_any_scope,
            api_key_updates_write_the_name_and_maybe_a_new_secret,
            deleting_an_api_key_says_whether_it_existed,
            key_holders_are_the_users_of_ordinary_keys_with_memberships,
            personal_member_counts_leave_out_api_key_users,
            a_failed_unit_of_work_leaves_nothing,
            a_unit_without_transaction_keeps_each_statement,
            settings_are_put_replaced_deleted_and_listed_by_key,
            setting_claims_succeed_once,
            throttle_attempts_are_kept_per_throttle_and_key_ignoring_case,
            saving_attempts_of_a_key_never_locked_stores_nothing,
            pruning_deletes_the_throttle_keys_that_expired,
            reset_requests_are_taken_oldest_first_and_once,
            outbox_claims_the_earliest_due_first_under_a_lease,
            sent_email_is_blanked_and_failed_email_comes_back,
            replacing_a_token_voids_the_users_unsent_links,
            dead_links_are_blanked_and_never_claimed,
            link_expiry_can_be_retimed,
            leases_are_held_by_one_holder_until_they_expire,
            housekeeping_deletes_only_what_expired_a_batch_at_a_time,
            case_folding_beyond_ascii_follows_the_database,
        ] }
    };
}

/// Expands a list of checks (from `__repo_contract_checks!`) into the table of checks or into tests.
#[doc(hidden)]
#[macro_export]
macro_rules! __repo_contract_expand {
    ((table) [$($name:ident,)*]) => {
        /// Every check, by name.
        pub const CHECKS: &[(&str, Check)] = &[$((stringify!($name), $name as Check),)*];
    };
    ((optional $make:expr, $why:expr) [$($name:ident,)*]) => {
        $(
            #[test]
            fn $name() {
                let Some(subject) = $make else {
                    eprintln!("{}::{} not run: {}", module_path!(), stringify!($name), $why);
                    return;
                };
                $crate::testing::contract::run(stringify!($name), &subject);
            }
        )*
    };
    ((always $make:expr) [$($name:ident,)*]) => {
        $(
            #[test]
            fn $name() {
                $crate::testing::contract::run(stringify!($name), &$make);
            }
        )*
    };
}

/// Defines one `#[test]` per contract check, named after it, each on a fresh
/// [`Subject`](crate::testing::contract::Subject) made by the expression given:
///
/// * `repo_contract_tests!(MemoryStore::new())`: the expression makes the subject;
/// * `repo_contract_tests!(optional TestDb::postgres().map(Pg), "why")`: the expression gives an
///   `Option`; for `None` (a back end that is not configured) each test prints that it did not run, and why.
#[macro_export]
macro_rules! repo_contract_tests {
    (optional $make:expr, $why:expr) => {
        $crate::__repo_contract_checks! { optional $make, $why }
    };
    ($make:expr) => {
        $crate::__repo_contract_checks! { always $make }
    };
}

crate::__repo_contract_checks! { table }

// ----- helpers -----

/// A user with just an email, joined at [`t0`].
fn new_user(email: &str) -> NewUser {
    named(email, None, None)
}

/// A user with names.
fn named(email: &str, first: Option<&str>, last: Option<&str>) -> NewUser {
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
        user_type: crate::user::UserType::Personal,
        entity_id: None,
        external_id: None,
    }
}

/// Inserts a user and their All Users membership, as the use cases do.
fn add(s: &dyn Store, user: NewUser) -> User {
    s.write(|r| {
        let u = r.insert_user(&user)?;
        r.insert_membership(&joins(u.id, ALL_USERS_ID, GroupRole::Member))?;
        Ok(u)
    })
    .unwrap()
}

/// Inserts a user with no membership.
fn insert(s: &dyn Store, user: NewUser) -> User {
    s.write(|r| r.insert_user(&user)).unwrap()
}

/// A membership to insert.
fn joins(user_id: UserId, group_id: GroupId, role: GroupRole) -> NewMembership {
    NewMembership {
        user_id,
        group_id,
        role,
    }
}

/// Adds memberships in one unit of work.
fn join(s: &dyn Store, memberships: &[(UserId, GroupId, GroupRole)]) -> Vec<Membership> {
    s.write(|r| {
        memberships
            .iter()
            .map(|&(u, g, role)| r.insert_membership(&joins(u, g, role)))
            .collect()
    })
    .unwrap()
}

/// Writes `change` into the stored user.
fn change(s: &dyn Store, user: &User, change: impl FnOnce(&mut User)) -> User {
    let mut u = user.clone();
    change(&mut u);
    s.write(|r| r.update_user(&u)).unwrap();
    u
}

/// Inserts a group with a fresh entity id.
fn group(s: &dyn Store, name: &str) -> Group {
    s.write(|r| r.insert_group(name, &crate::group::new_entity_id()))
        .unwrap()
}

/// The ids of `users`, in order.
fn user_ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

/// The ids and total of a user list.
fn list(s: &dyn Store, query: UserQuery) -> (Vec<UserId>, i64) {
    let (users, total) = s.read(|r| r.list_users(&query)).unwrap();
    (user_ids(&users), total)
}

/// The active users matching `text`, by first name.
fn search(s: &dyn Store, text: &str) -> (Vec<UserId>, i64) {
    list(
        s,
        UserQuery {
            text: Some(text.to_string()),
            ..UserQuery::default()
        },
    )
}

/// A page of a list.
fn page(limit: i64, offset: i64) -> Option<Page> {
    Some(Page { limit, offset })
}

/// True for a foreign-key violation.
fn is_foreign_key(result: crate::Result<impl std::fmt::Debug>) -> bool {
    matches!(result, Err(DomainError::Store(StoreFailure::ForeignKey(_))))
}

/// A session of `user_id` created at [`t0`].
fn session(user_id: UserId, id_hash: &str) -> NewSession {
    NewSession {
        id_hash: id_hash.to_string(),
        user_id,
        created_at: t0(),
    }
}

/// A login of `user_id` through `session` at `at`.
fn login(user_id: UserId, session: Option<&str>, at: Timestamp) -> NewLogin {
    NewLogin {
        timestamp: at,
        user_id,
        session_hash: session.map(str::to_string),
        device_id: "device".into(),
        device_description: "curl".into(),
        ip_address: "10.0.0.1".into(),
    }
}

/// A plain email (no link) queued at `created_at`.
fn email(subject: &str, created_at: Timestamp) -> NewEmail {
    NewEmail {
        recipients: vec!["a@x.com".into(), "b@x.com".into()],
        subject: subject.into(),
        body_text: "text".into(),
        body_html: "<p>html</p>".into(),
        created_at,
        link: None,
    }
}

/// An email carrying a link with `user_id`'s token hash `token_hash`.
fn link_email(user_id: UserId, token_hash: &str, expires_at: Option<Timestamp>) -> NewEmail {
    NewEmail {
        link: Some(EmailLink {
            user_id,
            token_hash: token_hash.into(),
            expires_at,
        }),
        ..email(token_hash, t0())
    }
}

/// Queues `e` in a unit of its own.
fn enqueue(s: &dyn Store, e: NewEmail) -> EmailId {
    s.write(|r| r.enqueue_email(&e)).unwrap()
}

/// Claims up to `limit` emails due at `now`, leased for a minute.
fn claim(s: &dyn Store, now: Timestamp, limit: i64) -> Vec<QueuedEmail> {
    s.write(|r| r.claim_emails(now, now + Duration::minutes(1), limit))
        .unwrap()
}

/// The ids of `emails`, in order.
fn email_ids(emails: &[QueuedEmail]) -> Vec<EmailId> {
    emails.iter().map(|e| e.id).collect()
}

/// The ids of the outbox rows whose bodies are both blank.
fn blanked(subject: &dyn Subject) -> Vec<EmailId> {
    subject
        .outbox_bodies()
        .into_iter()
        .filter(|(_, text, html)| text.is_empty() && html.is_empty())
        .map(|(id, ..)| id)
        .collect()
}

/// The ids of the unsent links, ascending (the port lists them in any order).
fn unsent_links(s: &dyn Store) -> Vec<EmailId> {
    let mut links = s.read(|r| r.unsent_links()).unwrap();
    links.sort();
    links.into_iter().map(|(id, _)| id).collect()
}

fn key<'a>(throttle: &'a str, key: &'a str) -> ThrottleKey<'a> {
    ThrottleKey { throttle, key }
}

fn saved<'a>(key: ThrottleKey<'a>, attempts: &[i64], expires_at: Timestamp) -> SavedAttempts<'a> {
    SavedAttempts {
        key,
        attempts: attempts.to_vec(),
        expires_at,
    }
}

/// Locks `keys` in a unit of its own; each key's attempts sorted (the port returns them in any order).
fn attempts(s: &dyn Store, keys: &[ThrottleKey<'_>], now: Timestamp) -> Vec<Vec<i64>> {
    let mut all = s.write(|r| r.lock_attempts(keys, now)).unwrap();
    for a in &mut all {
        a.sort_unstable();
    }
    all
}

/// A user of type `api-key`, as a key's own user is made: first name the key's name, last name empty; in All
/// Users.
fn key_user(s: &dyn Store, name: &str) -> User {
    let email = format!("api-key-user-{}@api-key.invalid", name.to_lowercase());
    add(
        s,
        NewUser {
            user_type: UserType::ApiKey,
            entity_id: None,
            external_id: None,
            ..named(&email, Some(name), Some(""))
        },
    )
}

/// The digest of key number `n`: 64 lower-case hex digits.
fn digest(n: u32) -> String {
    format!("{n:064x}")
}

/// Ordinary key number `n` (digest [`digest`]`(n)`, prefix `mb_` and `n` in four decimal digits) acting as
/// `user_id`, made by `creator` at [`t0`].
fn new_key(name: &str, user_id: Option<UserId>, creator: UserId, n: u32) -> NewApiKey {
    NewApiKey {
        user_id,
        name: name.to_string(),
        digest: digest(n),
        key_prefix: format!("mb_{n:04}"),
        creator_id: creator,
        created_at: t0(),
        scope: KeyScope::Default,
    }
}

/// A SCIM token (no user), number `n` as in [`new_key`].
fn scim_token(creator: UserId, n: u32) -> NewApiKey {
    NewApiKey {
        scope: KeyScope::Scim,
        ..new_key(&format!("Metabase SCIM API Key - {n}"), None, creator, n)
    }
}

/// Stores `key` in a unit of its own.
fn insert_key(s: &dyn Store, key: &NewApiKey) -> ApiKey {
    s.write(|r| r.insert_api_key(key)).unwrap()
}

/// The ids of `keys`, in order.
fn key_ids(keys: &[ApiKey]) -> Vec<ApiKeyId> {
    keys.iter().map(|k| k.id).collect()
}

/// The id of the user the key with digest `digest` acts as, if any.
fn holder_of(s: &dyn Store, digest: &str) -> Option<UserId> {
    s.read(|r| r.key_holder(digest)).unwrap().map(|h| h.user.id)
}

// ----- users -----

/// A fresh database holds the two magic groups with Metabase's ids, names and entity ids, and no user; the
/// next group gets id 3.
fn magic_groups_exist_from_the_start(subject: &dyn Subject) {
    let s = subject.store();
    s.read(|r| r.ping()).unwrap();
    let ids = [GroupId(3), ADMINISTRATORS_ID, ALL_USERS_ID];
    let magic = vec![
        Group {
            id: ALL_USERS_ID,
            name: ALL_USERS_NAME.into(),
            entity_id: Some("allusers0000000000001".into()),
        },
        Group {
            id: ADMINISTRATORS_ID,
            name: ADMINISTRATORS_NAME.into(),
            entity_id: Some("administrators0000002".into()),
        },
    ];
    assert_eq!(s.read(|r| r.groups_by_ids(&ids)).unwrap(), magic);
    assert_eq!(s.read(|r| r.count_users(10)).unwrap(), 0);
    assert!(s.read(|r| r.all_memberships(None)).unwrap().is_empty());
    assert_eq!(group(s, "Sales").id, GroupId(3));
}

/// A user reads back exactly as inserted, microseconds included, with the defaults of a new row.
fn users_keep_every_column(subject: &dyn Subject) {
    let s = subject.store();
    let joined = t0() + Duration::microseconds(123_456);
    let new = NewUser {
        password: Some(PasswordHash {
            salt: "salt".into(),
            hash: "$2a$04$hash".into(),
        }),
        is_superuser: true,
        login_attributes: json!({"k": [1, "two"]}).as_object().cloned(),
        locale: Some("es_MX".into()),
        sso_source: Some("google".into()),
        date_joined: joined,
        entity_id: Some("ann0000000000000000_-".into()),
        external_id: Some("00u1ann".into()),
        ..named("ann@x.com", Some("Ann"), None)
    };
    let u = insert(s, new.clone());
    let expected = User {
        id: u.id,
        email: new.email,
        first_name: new.first_name,
        last_name: None,
        password_hash: Some("$2a$04$hash".into()),
        password_salt: Some("salt".into()),
        date_joined: joined,
        last_login: None,
        is_superuser: true,
        is_active: true,
        reset_token: None,
        reset_triggered: None,
        is_qbnewb: true,
        is_datasetnewb: true,
        login_attributes: new.login_attributes,
        updated_at: joined,
        sso_source: new.sso_source,
        locale: new.locale,
        settings: None,
        user_type: UserType::Personal,
        entity_id: new.entity_id,
        external_id: new.external_id,
        scim_deleted_at: None,
        scim_user_name: None,
        display_name: None,
    };
    assert!(u.id.get() > 0);
    assert_eq!(u, expected);
    assert_eq!(s.read(|r| r.user_by_id(u.id)).unwrap(), Some(expected));
}

/// Emails are unique ignoring case, on insert and on update, and found ignoring case.
fn emails_are_unique_ignoring_case(subject: &dyn Subject) {
    let s = subject.store();
    let ann = insert(s, new_user("ann@x.com"));
    // The domain lower-cases emails; the database must refuse a case variant by itself.
    let dup = s
        .write(|r| r.insert_user(&new_user("ANN@X.com")))
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    let bob = insert(s, new_user("bob@x.com"));
    let mut clash = bob.clone();
    clash.email = "Ann@x.COM".into();
    let dup = s.write(|r| r.update_user(&clash)).unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    assert_eq!(s.read(|r| r.user_by_id(bob.id)).unwrap(), Some(bob));
    assert_eq!(s.read(|r| r.count_users(10)).unwrap(), 2);
    let found = s.read(|r| r.user_by_email("ANN@X.COM")).unwrap();
    assert_eq!(found, Some(ann));
    assert_eq!(s.read(|r| r.user_by_email("nobody@x.com")).unwrap(), None);
}

/// `update_user` writes every column but id, `date_joined` and the user type; naming no user, it changes
/// nothing.
fn updates_write_every_column_but_id_date_joined_and_type(subject: &dyn Subject) {
    let s = subject.store();
    let u = insert(s, named("b@x.com", Some("B"), Some("One")));
    let later = t0() + Duration::hours(1);
    let changed = User {
        email: "b2@x.com".into(),
        first_name: None,
        last_name: Some("Two".into()),
        password_hash: Some("$2a$04$h2".into()),
        password_salt: Some("s2".into()),
        date_joined: later,
        last_login: Some(later),
        is_superuser: true,
        is_active: false,
        reset_token: Some("abc".into()),
        reset_triggered: Some(1_700_000_000_000),
        is_qbnewb: false,
        is_datasetnewb: false,
        login_attributes: json!({"a": 1}).as_object().cloned(),
        updated_at: later,
        sso_source: Some("google".into()),
        locale: Some("en".into()),
        settings: Some("{}".into()),
        user_type: UserType::ApiKey,
        entity_id: Some("b2_0000000000000000-x".into()),
        external_id: Some("00u2b".into()),
        scim_deleted_at: Some(later + Duration::microseconds(654_321)),
        scim_user_name: Some("Ann.Lee".into()),
        display_name: Some("Ann L.".into()),
        ..u.clone()
    };
    s.write(|r| r.update_user(&changed)).unwrap();
    let expected = User {
        date_joined: u.date_joined,
        user_type: u.user_type,
        ..changed.clone()
    };
    assert_eq!(
        s.read(|r| r.user_by_id(u.id)).unwrap(),
        Some(expected.clone())
    );
    // And back to NULL.
    let cleared = User {
        entity_id: None,
        external_id: None,
        scim_deleted_at: None,
        scim_user_name: None,
        display_name: None,
        ..expected
    };
    s.write(|r| r.update_user(&cleared)).unwrap();
    assert_eq!(s.read(|r| r.user_by_id(u.id)).unwrap(), Some(cleared));
    s.write(|r| r.update_user(&changed)).unwrap();
    let nobody = User {
        id: UserId(u.id.get() + 1),
        email: "c@x.com".into(),
        ..changed
    };
    s.write(|r| r.update_user(&nobody)).unwrap();
    assert_eq!(s.read(|r| r.count_users(10)).unwrap(), 1);
    assert_eq!(s.read(|r| r.user_by_email("c@x.com")).unwrap(), None);
}

/// Ids no row has (absent, negative, or beyond what a table's key holds) find nothing and change nothing;
/// a row referring to one is a foreign-key violation.
fn unknown_ids_name_nothing(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("a@x.com"));
    let before = s.read(|r| r.all_memberships(None)).unwrap();
    for id in [999, -1, 1 << 40, i64::MAX] {
        let (user, grp, membership) = (UserId(id), GroupId(id), MembershipId(id));
        s.write(|r| {
            assert_eq!(r.user_by_id(user)?, None);
            assert_eq!(r.user_with_memberships(user)?, None);
            assert_eq!(r.lock_user(user)?, None);
            r.set_last_login(user, t0())?;
            assert!(r.memberships_of(&[user])?.is_empty());
            assert!(r.logins_of(user)?.is_empty());
            assert_eq!(r.delete_user_sessions(user, None)?, 0);
            assert_eq!(r.void_links(user, t0())?, 0);
            assert_eq!(r.group_by_id(grp)?, None);
            assert!(r.groups_by_ids(&[grp])?.is_empty());
            r.lock_group(grp)?;
            r.rename_group(grp, "Renamed")?;
            assert!(r.list_groups(Some(&[grp]), None)?.is_empty());
            assert!(r.group_members(grp)?.is_empty());
            assert_eq!(r.count_active_members(grp)?, 0);
            assert!(r.all_memberships(Some(&[grp]))?.is_empty());
            assert_eq!(r.delete_group_memberships(grp)?, 0);
            assert!(!r.delete_group(grp)?);
            assert_eq!(r.membership_by_id(membership)?, None);
            r.set_group_role(membership, GroupRole::Manager)?;
            assert!(!r.delete_membership(membership)?);
            assert_eq!(r.count_active_personal_members(grp)?, 0);
            let key = ApiKeyId(id);
            assert_eq!(r.lock_api_key(key)?, None);
            assert!(!r.delete_api_key(key)?);
            let change = ApiKeyChange {
                name: "Nobody".into(),
                secret: Some(crate::api_key::KeySecret {
                    digest: digest(9),
                    prefix: "mb_0009".into(),
                }),
                updated_by_id: u.id,
                updated_at: t0(),
            };
            r.update_api_key(key, &change)?;
            r.set_link_expiry(EmailId(id), None)?;
            r.mark_email_failed(EmailId(id), "smtp down", t0())?;
            r.mark_email_sent(EmailId(id), t0())?;
            Ok(())
        })
        .unwrap();
        let by_group = UserQuery {
            group_id: Some(grp),
            order: UserOrder::GroupRank(grp),
            ..UserQuery::default()
        };
        assert_eq!(list(s, by_group), (vec![], 0));
        let sharing = UserQuery {
            shares_group_with: Some(user),
            ..UserQuery::default()
        };
        assert_eq!(list(s, sharing), (vec![], 0));
        for m in [
            joins(user, ALL_USERS_ID, GroupRole::Member),
            joins(u.id, grp, GroupRole::Member),
        ] {
            assert!(
                is_foreign_key(s.write(|r| r.insert_membership(&m))),
                "{m:?}"
            );
        }
        let orphan = session(user, "orphan");
        assert!(is_foreign_key(s.write(|r| r.insert_session(&orphan))));
        let orphan = login(user, None, t0());
        assert!(is_foreign_key(s.write(|r| r.insert_login(&orphan))));
        for orphan in [
            new_key("K", Some(user), u.id, 1),
            new_key("K", None, user, 1),
        ] {
            assert!(
                is_foreign_key(s.write(|r| r.insert_api_key(&orphan))),
                "{orphan:?}"
            );
        }
    }
    assert!(s
        .read(|r| r.api_keys(KeyScope::Default))
        .unwrap()
        .is_empty());
    assert_eq!(s.read(|r| r.all_memberships(None)).unwrap(), before);
    assert_eq!(s.read(|r| r.group_by_name("Renamed")).unwrap(), None);
    assert_eq!(s.read(|r| r.user_by_id(u.id)).unwrap(), Some(u));
}

/// A user comes with every membership of theirs, by group id; `lock_user` reads the user in a transaction.
fn users_come_with_their_memberships_by_group(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("a@x.com"));
    let g = group(s, "Sales");
    join(
        s,
        &[
            (u.id, g.id, GroupRole::Member),
            (u.id, ADMINISTRATORS_ID, GroupRole::Manager),
        ],
    );
    let (user, memberships) = s.read(|r| r.user_with_memberships(u.id)).unwrap().unwrap();
    assert_eq!(user, u);
    let groups: Vec<_> = memberships
        .iter()
        .map(|m| (m.user_id, m.group_id, m.is_group_manager))
        .collect();
    assert_eq!(
        groups,
        vec![
            (u.id, ALL_USERS_ID, false),
            (u.id, ADMINISTRATORS_ID, true),
            (u.id, g.id, false)
        ]
    );
    let lone = insert(s, new_user("lone@x.com"));
    let (_, none) = s
        .read(|r| r.user_with_memberships(lone.id))
        .unwrap()
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(s.write(|r| r.lock_user(u.id)).unwrap(), Some(u));
}

/// `set_last_login` moves `last_login`; the first login is kept and comes with the caller.
fn last_login_moves_and_first_login_stays(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("a@x.com"));
    s.write(|r| r.insert_session(&session(u.id, "h"))).unwrap();
    let caller = s.read(|r| r.caller_by_session("h")).unwrap().unwrap();
    assert_eq!((caller.user.last_login, caller.first_login), (None, None));
    let (first, second) = (t0() + Duration::minutes(1), t0() + Duration::minutes(2));
    for at in [first, second] {
        s.read(|r| r.set_last_login(u.id, at)).unwrap();
    }
    let caller = s.read(|r| r.caller_by_session("h")).unwrap().unwrap();
    assert_eq!(caller.user.last_login, Some(second));
    assert_eq!(caller.first_login, Some(first));
    let stored = s.read(|r| r.user_by_id(u.id)).unwrap().unwrap();
    assert_eq!(stored.last_login, Some(second));
}

/// Users of any status are counted, up to the cap.
fn counting_users_stops_at_the_cap(subject: &dyn Subject) {
    let s = subject.store();
    for e in ["a@x.com", "b@x.com", "c@x.com"] {
        add(s, new_user(e));
    }
    let a = s.read(|r| r.user_by_email("a@x.com")).unwrap().unwrap();
    change(s, &a, |u| u.is_active = false);
    let counts = s
        .read(|r| {
            [-1, 0, 2, 3, 100]
                .into_iter()
                .map(|cap| r.count_users(cap))
                .collect::<crate::Result<Vec<_>>>()
        })
        .unwrap();
    assert_eq!(counts, vec![0, 0, 2, 3, 3]);
}

/// Only active superusers, by id.
fn active_superusers_by_id(subject: &dyn Subject) {
    let s = subject.store();
    let a = add(s, new_user("a@x.com"));
    let b = add(s, new_user("b@x.com"));
    add(s, new_user("c@x.com"));
    let d = add(
        s,
        NewUser {
            is_superuser: true,
            ..new_user("d@x.com")
        },
    );
    change(s, &a, |u| u.is_superuser = true);
    change(s, &b, |u| (u.is_superuser, u.is_active) = (true, false));
    let supers = s.read(|r| r.active_superusers()).unwrap();
    assert_eq!(user_ids(&supers), vec![a.id, d.id]);
}

/// `user_by_entity_id` finds a user of any type or status by exactly their `entity_id` (case matters; no
/// prefix, longer value or trailing space matches), and finds nothing for an unknown one.
fn users_are_found_by_their_exact_entity_id(subject: &dyn Subject) {
    let s = subject.store();
    let with_id = |email: &str, entity_id: &str| NewUser {
        entity_id: Some(entity_id.into()),
        external_id: Some(format!("ext-{email}")),
        ..new_user(email)
    };
    let ann = insert(s, with_id("ann@x.com", "annAnn0000000000000_-"));
    // Differs from Ann's only in case: a different id.
    let bob = insert(s, with_id("bob@x.com", "ANNANN0000000000000_-"));
    let key = insert(
        s,
        NewUser {
            user_type: UserType::ApiKey,
            ..with_id("key@api-key.invalid", "key000000000000000000")
        },
    );
    let key = change(s, &key, |u| u.is_active = false);
    insert(s, new_user("none@x.com"));
    let find = |entity_id: &str| s.read(|r| r.user_by_entity_id(entity_id)).unwrap();
    assert_eq!(find("annAnn0000000000000_-"), Some(ann.clone()));
    assert_eq!(find("ANNANN0000000000000_-"), Some(bob));
    assert_eq!(find("key000000000000000000"), Some(key));
    for unknown in [
        "annann0000000000000_-",
        "annAnn0000000000000_",
        "annAnn0000000000000_-x",
        "annAnn0000000000000_- ",
        " annAnn0000000000000_-",
        "zzzzzzzzzzzzzzzzzzzzz",
        "",
    ] {
        assert_eq!(find(unknown), None, "{unknown:?}");
    }
    // A new id is found at once; the old one names nobody.
    let ann = change(s, &ann, |u| {
        u.entity_id = Some("ann1111111111111111_-".into())
    });
    assert_eq!(find("ann1111111111111111_-"), Some(ann));
    assert_eq!(find("annAnn0000000000000_-"), None);
}

/// Two users cannot share an `entity_id` (on insert and on update: a unique violation, nothing written),
/// while any number of users may lack one.
fn entity_ids_are_unique_among_users(subject: &dyn Subject) {
    let s = subject.store();
    let with_id = |email: &str, entity_id: Option<&str>| NewUser {
        entity_id: entity_id.map(str::to_string),
        ..new_user(email)
    };
    let ann = insert(s, with_id("ann@x.com", Some("ann0000000000000000_-")));
    let dup = s
        .write(|r| r.insert_user(&with_id("bob@x.com", Some("ann0000000000000000_-"))))
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    assert_eq!(s.read(|r| r.user_by_email("bob@x.com")).unwrap(), None);
    let bob = insert(s, with_id("bob@x.com", Some("bob0000000000000000_-")));
    let mut clash = bob.clone();
    clash.entity_id = ann.entity_id.clone();
    let dup = s.write(|r| r.update_user(&clash)).unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    assert_eq!(s.read(|r| r.user_by_id(bob.id)).unwrap(), Some(bob));
    let find = s
        .read(|r| r.user_by_entity_id("ann0000000000000000_-"))
        .unwrap();
    assert_eq!(find, Some(ann));
    // NULLs do not clash, on insert or on update.
    let c = insert(s, with_id("c@x.com", None));
    insert(s, with_id("d@x.com", None));
    let e = insert(s, with_id("e@x.com", Some("e000000000000000000_-")));
    change(s, &e, |u| u.entity_id = None);
    change(s, &c, |u| u.email = "c2@x.com".into());
    assert_eq!(s.read(|r| r.count_users(10)).unwrap(), 5);
}

/// `backfill_entity_ids` gives every user without an `entity_id` a fresh one (21 characters of the NanoID
/// alphabet, all different), leaves the others alone and returns how many it filled; a second call fills
/// none. (A group without an `entity_id` cannot be made through the port; the stores back-fill those too.)
fn backfilling_gives_entity_ids_only_to_rows_without_one(subject: &dyn Subject) {
    let s = subject.store();
    let ann = insert(
        s,
        NewUser {
            entity_id: Some("ann0000000000000000_-".into()),
            ..new_user("ann@x.com")
        },
    );
    let bob = insert(s, new_user("bob@x.com"));
    let key = insert(
        s,
        NewUser {
            user_type: UserType::ApiKey,
            ..new_user("key@api-key.invalid")
        },
    );
    let carl = insert(s, new_user("carl@x.com"));
    let carl = change(s, &carl, |u| u.is_active = false);
    let groups = s.read(|r| r.list_groups(None, None)).unwrap();
    assert_eq!(s.write(|r| r.backfill_entity_ids()).unwrap(), 3);
    assert_eq!(s.write(|r| r.backfill_entity_ids()).unwrap(), 0);
    assert_eq!(s.read(|r| r.user_by_id(ann.id)).unwrap(), Some(ann));
    assert_eq!(s.read(|r| r.list_groups(None, None)).unwrap(), groups);
    let mut ids = Vec::new();
    for u in [bob, key, carl] {
        let stored = s.read(|r| r.user_by_id(u.id)).unwrap().unwrap();
        let id = stored.entity_id.clone().unwrap();
        assert_eq!(id.len(), 21, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{id}"
        );
        // Nothing but the entity_id changed.
        let expected = User {
            entity_id: Some(id.clone()),
            ..u.clone()
        };
        assert_eq!(stored, expected);
        let found = s.read(|r| r.user_by_entity_id(&id)).unwrap();
        assert_eq!(found.map(|f| f.id), Some(u.id));
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

// ----- user lists -----

/// Lists order by lower-cased first (or last) name, then the other name, then id; missing names last.
fn user_lists_order_by_lower_names_nulls_last_then_id(subject: &dyn Subject) {
    let s = subject.store();
    let mk = |email, first, last| add(s, named(email, first, last)).id;
    let zed = mk("zed@x.com", Some("zed"), Some("Alpha"));
    let amy = mk("amy@x.com", Some("Amy"), Some("Zebra"));
    let ann = mk("ann@x.com", Some("ann"), None);
    let ann2 = mk("ann2@x.com", Some("Ann"), None);
    let bob = mk("bob@x.com", Some("bob"), Some("Beta"));
    let nul = mk("nul@x.com", None, None);
    let aard = mk("aard@x.com", None, Some("Aardvark"));
    let by_first = list(s, UserQuery::default());
    assert_eq!(by_first, (vec![amy, ann, ann2, bob, zed, aard, nul], 7));
    let by_last = UserQuery {
        order: UserOrder::LastName,
        ..UserQuery::default()
    };
    let by_last = list(s, by_last).0;
    assert_eq!(by_last, vec![aard, zed, bob, amy, ann, ann2, nul]);
}

/// Lists hold active users, inactive ones, or both.
fn user_lists_filter_by_activity(subject: &dyn Subject) {
    let s = subject.store();
    let on = add(s, named("on@x.com", Some("On"), None));
    let off = add(s, named("off@x.com", Some("Off"), None));
    change(s, &off, |u| u.is_active = false);
    let of = |activity| {
        list(
            s,
            UserQuery {
                activity,
                ..UserQuery::default()
            },
        )
    };
    assert_eq!(of(Activity::Active), (vec![on.id], 1));
    assert_eq!(of(Activity::Inactive), (vec![off.id], 1));
    assert_eq!(of(Activity::Any), (vec![off.id, on.id], 2));
    assert_eq!(search(s, "off").1, 0, "searches list active users");
}

/// A search matches a substring of first name, last name or email ignoring case; `%`, `_` and `\` match
/// themselves only, and no match spans two fields.
fn user_search_ignores_case_and_takes_wildcards_literally(subject: &dyn Subject) {
    let s = subject.store();
    let mk = |email, first, last| add(s, named(email, first, last)).id;
    let zed = mk("zed@x.com", Some("Zed"), Some("Alpha"));
    let amy = mk("amy@x.com", Some("Amy"), Some("Zebra"));
    let pct = mk("pct@x.com", Some("50%_off"), Some("Deal"));
    let bsl = mk("bsl@x.com", Some("back\\slash"), None);
    let nul = mk("none@x.com", None, None);
    assert_eq!(search(s, "x.COM"), (vec![pct, amy, bsl, zed, nul], 5));
    assert_eq!(search(s, "ZEB"), (vec![amy], 1));
    assert_eq!(search(s, "zed@").0, vec![zed], "emails match");
    assert_eq!(search(s, "NONE@").0, vec![nul]);
    assert_eq!(search(s, "%").0, vec![pct]);
    assert_eq!(search(s, "_").0, vec![pct]);
    assert_eq!(search(s, "%_O").0, vec![pct]);
    assert_eq!(search(s, "\\").0, vec![bsl]);
    assert_eq!(search(s, "K\\S").0, vec![bsl]);
    assert_eq!(search(s, "z_d").1, 0, "_ is no wildcard");
    assert_eq!(search(s, "z%a").1, 0, "% is no wildcard");
    assert_eq!(search(s, "zedalpha").1, 0, "no match spans two fields");
    assert_eq!(
        search(s, "zed\u{1f}alpha").1,
        0,
        "not even with the separator"
    );
    assert_eq!(search(s, "\u{1f}").1, 0);
    assert_eq!(search(s, "nomatch"), (vec![], 0));
}

/// A page holds `limit` rows from `offset`; the total counts every match, also past the end, with and
/// without a search.
fn user_lists_page_and_count_every_match(subject: &dyn Subject) {
    let s = subject.store();
    let ids: Vec<UserId> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|n| add(s, named(&format!("{n}@x.com"), Some(n), None)).id)
        .collect();
    for text in [None, Some("x.com")] {
        let paged = |page| {
            list(
                s,
                UserQuery {
                    text: text.map(str::to_string),
                    page,
                    ..UserQuery::default()
                },
            )
        };
        assert_eq!(paged(None), (ids.clone(), 5), "{text:?}");
        assert_eq!(paged(page(2, 1)), (ids[1..3].to_vec(), 5), "{text:?}");
        assert_eq!(paged(page(10, 3)), (ids[3..].to_vec(), 5), "{text:?}");
        for (limit, offset) in [(0, 0), (0, 2), (10, 5), (10, 99)] {
            assert_eq!(paged(page(limit, offset)), (vec![], 5), "{text:?}");
        }
    }
    let none = UserQuery {
        text: Some("nomatch".into()),
        page: page(10, 1),
        ..UserQuery::default()
    };
    assert_eq!(list(s, none), (vec![], 0));
}

/// A group's users list superusers first, then the group's managers, then the others, each by name.
fn group_lists_of_users_rank_superusers_then_managers(subject: &dyn Subject) {
    let s = subject.store();
    let mk = |email, first| add(s, named(email, Some(first), None));
    let (amy, bob, carl) = (
        mk("amy@x.com", "amy"),
        mk("bob@x.com", "bob"),
        mk("c@x.com", "carl"),
    );
    let (dan, zed, eve) = (
        mk("dan@x.com", "dan"),
        mk("zed@x.com", "zed"),
        mk("eve@x.com", "eve"),
    );
    let g = group(s, "Team");
    let other = group(s, "Other");
    use GroupRole::{Manager, Member};
    join(
        s,
        &[
            (amy.id, g.id, Member),
            (bob.id, g.id, Manager),
            (carl.id, g.id, Manager),
            (dan.id, g.id, Member),
            (zed.id, g.id, Member),
            (dan.id, other.id, Manager),
            (eve.id, other.id, Member),
        ],
    );
    change(s, &zed, |u| u.is_superuser = true);
    change(s, &eve, |u| u.is_superuser = true);
    let ranked = UserQuery {
        group_id: Some(g.id),
        order: UserOrder::GroupRank(g.id),
        ..UserQuery::default()
    };
    assert_eq!(
        list(s, ranked),
        (vec![zed.id, bob.id, carl.id, amy.id, dan.id], 5)
    );
}

/// "Users sharing a group with me" counts every group but All Users, and includes me.
fn users_sharing_a_group_other_than_all_users(subject: &dyn Subject) {
    let s = subject.store();
    let mk = |email, first| add(s, named(email, Some(first), None));
    let (amy, bob, zed, nul) = (
        mk("amy@x.com", "amy"),
        mk("bob@x.com", "bob"),
        mk("zed@x.com", "zed"),
        mk("nul@x.com", "nul"),
    );
    let (g1, g2) = (group(s, "One"), group(s, "Two"));
    join(
        s,
        &[
            (amy.id, g1.id, GroupRole::Member),
            (bob.id, g1.id, GroupRole::Member),
            (bob.id, g2.id, GroupRole::Manager),
            (zed.id, g2.id, GroupRole::Member),
        ],
    );
    let sharing = |me: &User| {
        list(
            s,
            UserQuery {
                shares_group_with: Some(me.id),
                ..UserQuery::default()
            },
        )
    };
    assert_eq!(sharing(&amy), (vec![amy.id, bob.id], 2));
    assert_eq!(sharing(&bob), (vec![amy.id, bob.id, zed.id], 3));
    assert_eq!(sharing(&nul), (vec![], 0));
}

// ----- SCIM user names and groups -----

/// A userName of its own (`scim_user_name`) is found ignoring case, matches `userName` filters instead of
/// the email, and is unique ignoring case.
fn scim_user_names_are_found_ignoring_case(subject: &dyn Subject) {
    let s = subject.store();
    let ann = scim_person(s, "ann", ("ann@example.com", Some("Ann"), None), None, t0());
    let ann = change(s, &ann, |u| {
        u.scim_user_name = Some("Ann.Lee".into());
        u.display_name = Some("Dr. Ann".into());
    });
    let bob = scim_person(s, "bob", ("bob@example.com", None, None), None, t0());
    let found = s.read(|r| r.user_by_scim_user_name("ANN.LEE")).unwrap();
    assert_eq!(found.as_ref(), Some(&ann));
    assert_eq!(
        s.read(|r| r.user_by_scim_user_name("ann@example.com"))
            .unwrap(),
        None
    );
    let ids = |filter: &str| -> Vec<UserId> {
        let f = crate::scim::filter::parse_user_filter(filter).unwrap();
        s.read(|r| r.scim_users(Some(&f), None, ALL))
            .unwrap()
            .0
            .iter()
            .map(|u| u.id)
            .collect()
    };
    assert_eq!(ids(r#"userName eq "ann.lee""#), vec![ann.id]);
    assert_eq!(
        ids(r#"userName eq "ann@example.com""#),
        Vec::<UserId>::new()
    );
    assert_eq!(ids(r#"userName eq "BOB@example.com""#), vec![bob.id]);
    assert_eq!(ids(r#"userName sw "ann""#), vec![ann.id]);
    assert_eq!(ids(r#"emails.value eq "ann@example.com""#), vec![ann.id]);
    assert_eq!(ids(r#"displayName eq "dr. ann""#), vec![ann.id]);
    assert_eq!(ids(r#"userName ne "ann.lee""#), vec![bob.id]);
    let taken = s
        .write(|r| {
            let mut b = bob.clone();
            b.scim_user_name = Some("ann.LEE".into());
            r.update_user(&b)
        })
        .unwrap_err();
    assert!(taken.is_unique_violation(), "{taken:?}");
    // Sorted by userName: "Ann.Lee" before "bob@…", both ways.
    let sorted = |order: crate::scim::list::SortOrder| -> Vec<UserId> {
        let sort = crate::scim::list::Sort {
            attr: crate::scim::filter::UserAttr::UserName,
            order,
        };
        s.read(|r| r.scim_users(None, Some(sort), ALL))
            .unwrap()
            .0
            .iter()
            .map(|u| u.id)
            .collect()
    };
    assert_eq!(
        sorted(crate::scim::list::SortOrder::Ascending),
        vec![ann.id, bob.id]
    );
    assert_eq!(
        sorted(crate::scim::list::SortOrder::Descending),
        vec![bob.id, ann.id]
    );
    let found = s
        .read(|r| r.users_by_entity_ids(&[bob.entity_id.clone().unwrap(), "nobody".into()]))
        .unwrap();
    assert_eq!(found, vec![bob]);
}

/// SCIM's groups: every group but the magic ones, filtered the same on every back end (`displayName`
/// ignoring case, `externalId` and `members.value` exactly, a member being a person SCIM sees), sorted and
/// paged; their SCIM members by entity id; `externalId` kept and membership changes dated.
fn scim_groups_and_members_are_the_same_everywhere(subject: &dyn Subject) {
    let s = subject.store();
    let ann = scim_person(s, "ann", ("ann@example.com", None, None), None, t0());
    let bob = scim_person(s, "bob", ("bob@example.com", None, None), None, t0());
    let gone = scim_person(s, "del", ("del@example.com", None, None), None, t0());
    change(s, &gone, |u| u.scim_deleted_at = Some(t0()));
    let sales = group(s, "Sales");
    let emea = group(s, "Sales EMEA");
    let ops = group(s, "Ops");
    let join = |u: &User, g: &Group| {
        s.write(|r| {
            r.insert_membership(&NewMembership {
                user_id: u.id,
                group_id: g.id,
                role: GroupRole::Member,
            })
        })
        .unwrap()
    };
    join(&ann, &sales);
    join(&ann, &emea);
    join(&bob, &emea);
    join(&gone, &ops);
    join(
        &ann,
        &Group {
            id: crate::group::ADMINISTRATORS_ID,
            name: String::new(),
            entity_id: None,
        },
    );
    let before = s
        .read(|r| r.scim_group_by_entity_id(ops.entity_id.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    s.write(|r| r.set_group_external_id(ops.id, Some("00gOps"), t0() + Duration::days(1)))
        .unwrap();
    let after = s
        .read(|r| r.scim_group_by_entity_id(ops.entity_id.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(after.external_id.as_deref(), Some("00gOps"));
    assert_eq!(after.group, before.group);
    assert_ne!(after.updated_at, before.updated_at);
    let names = |filter: Option<&str>,
                 sort: Option<crate::scim::list::Sort<crate::scim::filter::GroupAttr>>,
                 page: Page| {
        let f = filter.map(|f| crate::scim::filter::GroupFilter::parse(f).unwrap());
        let (groups, total) = s.read(|r| r.scim_groups(f.as_ref(), sort, page)).unwrap();
        (
            groups.into_iter().map(|g| g.group.name).collect::<Vec<_>>(),
            total,
        )
    };
    let all = |filter: &str| names(Some(filter), None, ALL).0;
    assert_eq!(
        names(None, None, ALL),
        (
            vec!["Sales".to_string(), "Sales EMEA".into(), "Ops".into()],
            3
        )
    );
    assert_eq!(
        names(
            None,
            None,
            Page {
                limit: 1,
                offset: 1
            }
        ),
        (vec!["Sales EMEA".to_string()], 3)
    );
    assert_eq!(
        names(
            None,
            None,
            Page {
                limit: 0,
                offset: 0
            }
        ),
        (vec![], 3)
    );
    assert_eq!(all(r#"displayName eq "SALES""#), vec!["Sales"]);
    assert_eq!(all(r#"displayName sw "sales ""#), vec!["Sales EMEA"]);
    assert_eq!(all(r#"externalId eq "00gOps""#), vec!["Ops"]);
    assert_eq!(all(r#"externalId eq "00gops""#), Vec::<String>::new());
    let bob_id = bob.entity_id.clone().unwrap();
    assert_eq!(
        all(&format!(r#"members.value eq "{bob_id}""#)),
        vec!["Sales EMEA"]
    );
    assert_eq!(
        all(&format!(r#"members[value eq "{bob_id}"]"#)),
        vec!["Sales EMEA"]
    );
    assert_eq!(
        all(r#"members.value sw "ann""#),
        vec!["Sales", "Sales EMEA"]
    );
    // The deleted person is no member SCIM sees: Ops has none.
    assert_eq!(all("members pr"), vec!["Sales", "Sales EMEA"]);
    assert_eq!(all("not (members pr)"), vec!["Ops"]);
    assert_eq!(
        all(r#"members.value eq "deldel000000000000000""#),
        Vec::<String>::new()
    );
    assert_eq!(all(r#"id eq "nope""#), Vec::<String>::new());
    let sales_id = sales.entity_id.clone().unwrap();
    assert_eq!(all(&format!(r#"id eq "{sales_id}""#)), vec!["Sales"]);
    let by_name = |order| {
        Some(crate::scim::list::Sort {
            attr: crate::scim::filter::GroupAttr::DisplayName,
            order,
        })
    };
    assert_eq!(
        names(None, by_name(crate::scim::list::SortOrder::Descending), ALL).0,
        vec!["Sales EMEA", "Sales", "Ops"]
    );
    assert_eq!(
        names(None, by_name(crate::scim::list::SortOrder::Ascending), ALL).0,
        vec!["Ops", "Sales", "Sales EMEA"]
    );
    // Members SCIM sees, by group then entity id; the magic groups have none here.
    let members = s
        .read(|r| {
            r.scim_group_members(&[sales.id, emea.id, ops.id, crate::group::ADMINISTRATORS_ID])
        })
        .unwrap();
    let seen: Vec<(GroupId, String, String)> = members
        .into_iter()
        .map(|m| (m.group_id, m.entity_id, m.display))
        .collect();
    let ann_id = ann.entity_id.clone().unwrap();
    assert_eq!(
        seen,
        vec![
            (
                crate::group::ADMINISTRATORS_ID,
                ann_id.clone(),
                "ann@example.com".to_string()
            ),
            (sales.id, ann_id.clone(), "ann@example.com".to_string()),
            (emea.id, ann_id, "ann@example.com".to_string()),
            (emea.id, bob_id, "bob@example.com".to_string()),
        ]
    );
    // A membership change moves the group's lastModified; the magic groups are never looked up by SCIM.
    let emea_before = s
        .read(|r| r.scim_group_by_entity_id(emea.entity_id.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let m = s.read(|r| r.all_memberships(Some(&[emea.id]))).unwrap();
    s.write(|r| r.delete_membership(m[0].id)).unwrap();
    let emea_after = s
        .read(|r| r.scim_group_by_entity_id(emea.entity_id.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    assert!(emea_after.updated_at > emea_before.updated_at);
}

// ----- SCIM user lists -----

/// A SCIM person: `label` makes the `entity_id` (`label` twice, then zeros, 21 characters).
fn scim_person(
    s: &dyn Store,
    label: &str,
    names: (&str, Option<&str>, Option<&str>),
    external_id: Option<&str>,
    date_joined: Timestamp,
) -> User {
    let (email, first, last) = names;
    insert(
        s,
        NewUser {
            entity_id: Some(format!(
                "{label}{label}{}",
                "0".repeat(21 - 2 * label.len())
            )),
            external_id: external_id.map(str::to_string),
            date_joined,
            ..named(email, first, last)
        },
    )
}

/// The people of the SCIM checks, by label, in id order: five SCIM sees, after three it cannot see (an API
/// key's user, a user SCIM deleted, a user without an `entity_id`), all three named so that they would
/// match the filters if seen.
fn scim_people(s: &dyn Store) -> Vec<(&'static str, User)> {
    let hour = Duration::hours(1);
    let ann_lee = ("ann.other@example.com", Some("Ann"), Some("Lee"));
    let key = NewUser {
        user_type: UserType::ApiKey,
        entity_id: Some("key000000000000000000".into()),
        external_id: Some("00uANN".into()),
        ..named("ann@api-key.invalid", Some("Ann"), Some("Lee"))
    };
    insert(s, key);
    let gone = scim_person(s, "del", ann_lee, Some("00uANN"), t0());
    change(s, &gone, |u| u.scim_deleted_at = Some(t0() + hour));
    insert(s, named("ann.no.id@example.com", Some("Ann"), Some("Lee")));

    let ann = ("ann.lee@example.com", Some("Ann"), Some("Lee"));
    let ann = scim_person(s, "Ann", ann, Some("00uANN"), t0());
    let ann = change(s, &ann, |u| u.updated_at = t0() + Duration::days(1));
    let bob = ("bob@example.org", Some("Bob"), Some("O'Malley"));
    let bob = scim_person(s, "bob", bob, Some("00ubob"), t0() + hour);
    let bob = change(s, &bob, |u| {
        u.is_active = false;
        u.updated_at = t0() + Duration::days(2);
    });
    let cat = ("cat@x.com", Some("Cat"), None);
    let joined = t0() + hour * 2 + Duration::milliseconds(250);
    let cat = scim_person(s, "cat", cat, Some("a_b%c*"), joined);
    let dan = ("dan@example.com", None, None);
    let dan = scim_person(s, "dan", dan, Some("axbycz"), t0() + hour * 3);
    let eve = ("eve@x.com", Some(""), Some("Smith_100%"));
    let eve = scim_person(s, "eve", eve, None, t0() + hour * 4);
    vec![
        ("ann", ann),
        ("bob", bob),
        ("cat", cat),
        ("dan", dan),
        ("eve", eve),
    ]
}

/// The users `filter` selects through `scim_users`, by label, and the total.
fn scim_list(
    s: &dyn Store,
    people: &[(&'static str, User)],
    filter: Option<&str>,
    page: Page,
) -> (Vec<&'static str>, i64) {
    let filter = filter.map(|f| crate::scim::filter::parse_user_filter(f).unwrap());
    let (users, total) = s
        .read(|r| r.scim_users(filter.as_ref(), None, page))
        .unwrap();
    let labels = users
        .iter()
        .map(|u| {
            let (label, known) = people
                .iter()
                .find(|(_, p)| p.id == u.id)
                .unwrap_or_else(|| panic!("SCIM sees {u:?}"));
            assert_eq!(u, known);
            *label
        })
        .collect();
    (labels, total)
}

/// Every page a filter could need.
const ALL: Page = Page {
    limit: 100,
    offset: 0,
};

/// SCIM sees only personal users with an `entity_id` whom SCIM has not deleted, active or not, by id; the
/// page is `limit` rows from `offset` and the total counts every match, also past the end.
fn scim_users_are_the_visible_people_by_id_paged(subject: &dyn Subject) {
    let s = subject.store();
    let people = scim_people(s);
    let list = |filter: Option<&str>, limit: i64, offset: i64| {
        scim_list(s, &people, filter, Page { limit, offset })
    };
    let everyone = vec!["ann", "bob", "cat", "dan", "eve"];
    assert_eq!(list(None, 100, 0), (everyone.clone(), 5));
    assert_eq!(list(None, 2, 0), (vec!["ann", "bob"], 5));
    assert_eq!(list(None, 2, 4), (vec!["eve"], 5));
    assert_eq!(list(None, 2, 5), (vec![], 5));
    assert_eq!(list(None, 0, 0), (vec![], 5));
    let active = Some("active eq true");
    assert_eq!(list(active, 2, 1), (vec!["cat", "dan"], 4));
    assert_eq!(list(active, 10, 3), (vec!["eve"], 4));
    assert_eq!(list(active, 10, 4), (vec![], 4));
    assert_eq!(list(active, 0, 0), (vec![], 4));
    let nobody = Some(r#"userName eq "nobody@x.com""#);
    assert_eq!(list(nobody, 10, 0), (vec![], 0));
    assert_eq!(list(nobody, 10, 3), (vec![], 0));
    // The invisible ones stay invisible to a filter that names them exactly.
    for filter in [
        r#"userName eq "ann@api-key.invalid""#,
        r#"userName eq "ann.other@example.com""#,
        r#"userName eq "ann.no.id@example.com""#,
        r#"id eq "key000000000000000000""#,
        r#"id eq "deldel000000000000000""#,
    ] {
        assert_eq!(list(Some(filter), 10, 0), (vec![], 0), "{filter}");
    }
    // A SCIM-deleted user revived is seen again.
    let gone = s
        .read(|r| r.user_by_email("ann.other@example.com"))
        .unwrap()
        .unwrap();
    let back = change(s, &gone, |u| u.scim_deleted_at = None);
    let (users, total) = s.read(|r| r.scim_users(None, None, ALL)).unwrap();
    assert_eq!(total, 6);
    assert_eq!(users[0], back);
}

/// Filters select the same people on every back end. The semantics (the fake store's `scim_matches`):
/// `userName`, names, `displayName` and emails ignore case, `id` and `externalId` do not; `co`/`sw`/`ew`
/// take `%`, `_`, `*`, `?` and `\` literally; comparisons on an absent value are false (`ne` too) while
/// `not` is the complement; `pr` is a non-empty value, `eq null` its negation; times compare as instants.
fn scim_filters_select_the_same_people_everywhere(subject: &dyn Subject) {
    let s = subject.store();
    let people = scim_people(s);
    let at = |t: Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let hour = Duration::hours(1);
    let ann_id = people[0].1.entity_id.clone().unwrap();
    let cases: Vec<(String, Vec<&str>)> = vec![
        // userName: case-insensitive, the index's expression.
        (r#"userName eq "ANN.LEE@EXAMPLE.COM""#.into(), vec!["ann"]),
        (r#"UserName EQ "bob@Example.ORG""#.into(), vec!["bob"]),
        (r#"userName eq "ann.lee@example.co""#.into(), vec![]),
        (
            r#"userName ne "bob@example.org""#.into(),
            vec!["ann", "cat", "dan", "eve"],
        ),
        (r#"userName sw "ANN.""#.into(), vec!["ann"]),
        (r#"userName gt "c""#.into(), vec!["cat", "dan", "eve"]),
        (r#"userName lt "B""#.into(), vec!["ann"]),
        (
            r#"userName le "bob@example.org""#.into(),
            vec!["ann", "bob"],
        ),
        (r#"userName co "\\""#.into(), vec![]),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "dan@example.com""#.into(),
            vec!["dan"],
        ),
        // Emails.
        (
            r#"emails.value ew "@EXAMPLE.com""#.into(),
            vec!["ann", "dan"],
        ),
        (
            r#"emails[type eq "work" and value co "@X.COM"]"#.into(),
            vec!["cat", "eve"],
        ),
        (r#"emails[type eq "home"]"#.into(), vec![]),
        (
            r#"emails[primary eq true]"#.into(),
            vec!["ann", "bob", "cat", "dan", "eve"],
        ),
        (
            r#"emails pr"#.into(),
            vec!["ann", "bob", "cat", "dan", "eve"],
        ),
        // Names: case-insensitive; NULL and "" are not present, but "" is a value to compare.
        (r#"name.familyName co "o'mal""#.into(), vec!["bob"]),
        (r#"name.givenName sw "a""#.into(), vec!["ann"]),
        (r#"name.givenName pr"#.into(), vec!["ann", "bob", "cat"]),
        (r#"name.givenName eq null"#.into(), vec!["dan", "eve"]),
        (
            r#"name.givenName ne null"#.into(),
            vec!["ann", "bob", "cat"],
        ),
        (r#"name.givenName eq """#.into(), vec!["eve"]),
        (
            r#"name.givenName ne "ann""#.into(),
            vec!["bob", "cat", "eve"],
        ),
        (
            r#"not (name.givenName eq "ann")"#.into(),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (
            r#"name.givenName eq "ANN" or name.givenName eq "bob""#.into(),
            vec!["ann", "bob"],
        ),
        (
            r#"name[givenName eq "cat" or familyName eq "lee"]"#.into(),
            vec!["ann", "cat"],
        ),
        // Wildcards are literal.
        (r#"name.familyName co "_""#.into(), vec!["eve"]),
        (r#"name.familyName co "h_1""#.into(), vec!["eve"]),
        (r#"name.familyName ew "0%""#.into(), vec!["eve"]),
        (r#"name.familyName co "%""#.into(), vec!["eve"]),
        // displayName: the non-empty names joined by a space; absent without names.
        (r#"displayName eq "ann lee""#.into(), vec!["ann"]),
        (r#"displayName eq "smith_100%""#.into(), vec!["eve"]),
        (r#"displayName eq "Cat""#.into(), vec!["cat"]),
        (r#"displayName co "n l""#.into(), vec!["ann"]),
        (r#"displayName co "mall""#.into(), vec!["bob"]),
        (r#"displayName pr"#.into(), vec!["ann", "bob", "cat", "eve"]),
        (r#"displayName eq null"#.into(), vec!["dan"]),
        (r#"displayName ne "cat""#.into(), vec!["ann", "bob", "eve"]),
        // externalId: case-exact; absent for eve.
        (r#"externalId eq "00uANN""#.into(), vec!["ann"]),
        (r#"externalId eq "00uann""#.into(), vec![]),
        (r#"externalId co "ANN""#.into(), vec!["ann"]),
        (r#"externalId co "ann""#.into(), vec![]),
        (r#"externalId sw "00u""#.into(), vec!["ann", "bob"]),
        (r#"externalId sw "00U""#.into(), vec![]),
        (r#"externalId co "_b%""#.into(), vec!["cat"]),
        (r#"externalId ew "c*""#.into(), vec!["cat"]),
        (r#"externalId co "?""#.into(), vec![]),
        (r#"externalId co "[""#.into(), vec![]),
        (r#"externalId gt "00uZ""#.into(), vec!["bob", "cat", "dan"]),
        (r#"externalId pr"#.into(), vec!["ann", "bob", "cat", "dan"]),
        (r#"externalId eq null"#.into(), vec!["eve"]),
        (
            r#"externalId ne "00uANN""#.into(),
            vec!["bob", "cat", "dan"],
        ),
        (
            r#"not (externalId eq "00uANN")"#.into(),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (r#"not (externalId ne "00uANN")"#.into(), vec!["ann", "eve"]),
        // id: case-exact, whole.
        (format!(r#"id eq "{ann_id}""#), vec!["ann"]),
        (format!(r#"id eq "{}""#, ann_id.to_lowercase()), vec![]),
        (format!(r#"id eq "{ann_id} ""#), vec![]),
        (format!(r#"id eq "{ann_id}x""#), vec![]),
        (format!(r#"id eq "{}""#, &ann_id[..20]), vec![]),
        (
            format!(r#"id ne "{ann_id}""#),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (
            format!(r#"id ne "{ann_id} ""#),
            vec!["ann", "bob", "cat", "dan", "eve"],
        ),
        (r#"id sw "Ann""#.into(), vec!["ann"]),
        (r#"id sw "ann""#.into(), vec![]),
        (
            r#"id ew "000""#.into(),
            vec!["ann", "bob", "cat", "dan", "eve"],
        ),
        (r#"id gt "c""#.into(), vec!["cat", "dan", "eve"]),
        (r#"id pr"#.into(), vec!["ann", "bob", "cat", "dan", "eve"]),
        // active.
        (r#"active eq false"#.into(), vec!["bob"]),
        (r#"active ne true"#.into(), vec!["bob"]),
        (
            r#"not(active eq false)"#.into(),
            vec!["ann", "cat", "dan", "eve"],
        ),
        (
            r#"active pr"#.into(),
            vec!["ann", "bob", "cat", "dan", "eve"],
        ),
        (r#"active eq null"#.into(), vec![]),
        // Times, in any offset and with fractions.
        (
            format!(r#"meta.created gt "{}""#, at(t0() + hour)),
            vec!["cat", "dan", "eve"],
        ),
        (
            format!(r#"meta.created ge "{}""#, at(t0() + hour)),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (
            r#"meta.created lt "2024-01-01T15:00:00+01:00""#.into(),
            vec!["ann", "bob"],
        ),
        (
            r#"meta.created le "2024-01-01T14:00:00+01:00""#.into(),
            vec!["ann", "bob"],
        ),
        (
            r#"meta.created eq "2024-01-01T14:00:00.250Z""#.into(),
            vec!["cat"],
        ),
        (
            r#"meta.created eq "2024-01-01T14:00:00.25Z""#.into(),
            vec!["cat"],
        ),
        (
            r#"meta.created gt "2024-01-01T14:00:00.2500001Z""#.into(),
            vec!["dan", "eve"],
        ),
        (
            r#"meta.created ge "2024-01-01T14:00:00.2499999Z""#.into(),
            vec!["cat", "dan", "eve"],
        ),
        (
            r#"meta.created le "2024-01-01T14:00:00.2500001Z""#.into(),
            vec!["ann", "bob", "cat"],
        ),
        (
            r#"meta.created eq "2024-01-01T14:00:00.2500001Z""#.into(),
            vec![],
        ),
        (
            r#"meta.created ne "2024-01-01T14:00:00.250Z""#.into(),
            vec!["ann", "bob", "dan", "eve"],
        ),
        (
            format!(r#"meta.lastModified gt "{}""#, at(t0() + hour * 12)),
            vec!["ann", "bob"],
        ),
        (
            format!(r#"meta.lastModified lt "{}""#, at(t0() + Duration::days(2))),
            vec!["ann", "cat", "dan", "eve"],
        ),
        // Combinations.
        (
            r#"userName eq "bob@example.org" or (name.givenName sw "c" and active eq true)"#.into(),
            vec!["bob", "cat"],
        ),
        (
            r#"not (not (userName eq "cat@x.com") and active eq true)"#.into(),
            vec!["bob", "cat"],
        ),
        (
            r#"not (name.givenName pr or displayName pr)"#.into(),
            vec!["dan"],
        ),
        (
            r#"not (externalId co "u" and not (name.familyName ew "y"))"#.into(),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (
            r#"(active eq true and externalId pr) and not (emails.value co "example")"#.into(),
            vec!["cat"],
        ),
        (
            r#"emails[type eq "work"] and name.familyName eq null"#.into(),
            vec!["cat", "dan"],
        ),
    ];
    for (filter, expected) in cases {
        let (labels, total) = scim_list(s, &people, Some(&filter), ALL);
        assert_eq!(labels, expected, "{filter}");
        assert_eq!(total, expected.len() as i64, "{filter}");
    }
}

// ----- groups -----

/// Group names are unique ignoring case (on insert and rename) and found ignoring case; entity ids are
/// unique.
fn group_names_and_entity_ids_are_unique(subject: &dyn Subject) {
    let s = subject.store();
    let sales = s.write(|r| r.insert_group("Sales", "e1")).unwrap();
    assert_eq!(
        (sales.name.as_str(), sales.entity_id.as_deref()),
        ("Sales", Some("e1"))
    );
    for (name, entity_id) in [("sALES", "e2"), ("all users", "e3"), ("Other", "e1")] {
        let dup = s.write(|r| r.insert_group(name, entity_id)).unwrap_err();
        assert!(dup.is_unique_violation(), "{name} {entity_id}: {dup:?}");
    }
    let mkt = s.write(|r| r.insert_group("Marketing", "e4")).unwrap();
    let dup = s.write(|r| r.rename_group(mkt.id, "SALES")).unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    s.write(|r| r.rename_group(mkt.id, "MARKETING")).unwrap();
    let found = s.read(|r| r.group_by_name("marketing")).unwrap().unwrap();
    assert_eq!((found.id, found.name.as_str()), (mkt.id, "MARKETING"));
    assert_eq!(
        s.read(|r| r.group_by_name("SALES")).unwrap(),
        Some(sales.clone())
    );
    assert_eq!(s.read(|r| r.group_by_id(sales.id)).unwrap(), Some(sales));
    assert_eq!(s.read(|r| r.group_by_name("nope")).unwrap(), None);
    s.write(|r| r.lock_group(mkt.id)).unwrap();
}

/// Groups list by lower-cased name with their active members counted; `only` and a page narrow the list.
fn groups_list_by_name_with_active_member_counts(subject: &dyn Subject) {
    let s = subject.store();
    let a = add(s, new_user("a@x.com"));
    let b = add(s, new_user("b@x.com"));
    change(s, &b, |u| u.is_active = false);
    let beta = group(s, "beta");
    let alpha = group(s, "Alpha");
    join(
        s,
        &[
            (a.id, beta.id, GroupRole::Member),
            (b.id, beta.id, GroupRole::Manager),
            (b.id, alpha.id, GroupRole::Member),
        ],
    );
    let counted = |groups: Vec<GroupWithCount>| -> Vec<(GroupId, i64)> {
        groups
            .iter()
            .map(|g| (g.group.id, g.member_count))
            .collect()
    };
    let all = s.read(|r| r.list_groups(None, None)).unwrap();
    assert_eq!(
        counted(all),
        vec![
            (ADMINISTRATORS_ID, 0),
            (ALL_USERS_ID, 1),
            (alpha.id, 0),
            (beta.id, 1)
        ]
    );
    let only = [beta.id, alpha.id, GroupId(999)];
    let some = s.read(|r| r.list_groups(Some(&only), page(1, 1))).unwrap();
    assert_eq!(some[0].group, beta);
    assert_eq!(counted(some), vec![(beta.id, 1)]);
    assert!(s
        .read(|r| r.list_groups(Some(&[]), None))
        .unwrap()
        .is_empty());
    let counts = s
        .read(|r| {
            Ok((
                r.count_active_members(beta.id)?,
                r.count_active_members(alpha.id)?,
            ))
        })
        .unwrap();
    assert_eq!(counts, (1, 0));
}

/// A group's members are its active users, by lower-cased first then last name (missing names last).
fn group_members_are_the_active_ones_by_name(subject: &dyn Subject) {
    let s = subject.store();
    let g = group(s, "Sales");
    let mk = |email, first, last| add(s, named(email, first, last));
    let b = mk("b@x.com", Some("b"), Some("z"));
    let a = mk("a@x.com", Some("A"), Some("y"));
    let gone = mk("c@x.com", Some("c"), None);
    let nameless = mk("n@x.com", None, Some("a"));
    let ms = join(
        s,
        &[
            (b.id, g.id, GroupRole::Manager),
            (a.id, g.id, GroupRole::Member),
            (gone.id, g.id, GroupRole::Member),
            (nameless.id, g.id, GroupRole::Member),
        ],
    );
    change(s, &gone, |u| u.is_active = false);
    let members = s.read(|r| r.group_members(g.id)).unwrap();
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
    assert_eq!(ids, vec![a.id, b.id, nameless.id]);
    let manager = GroupMember {
        user_id: b.id,
        membership_id: ms[0].id,
        first_name: Some("b".into()),
        last_name: Some("z".into()),
        email: "b@x.com".into(),
        is_group_manager: true,
    };
    assert_eq!(members[1], manager);
}

/// Deleting a group deletes its memberships and no other; deleting it again finds nothing.
fn deleting_a_group_deletes_its_memberships(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("a@x.com"));
    let v = add(s, new_user("b@x.com"));
    let (doomed, kept) = (group(s, "Doomed"), group(s, "Kept"));
    join(
        s,
        &[
            (u.id, doomed.id, GroupRole::Manager),
            (v.id, doomed.id, GroupRole::Member),
            (u.id, kept.id, GroupRole::Member),
        ],
    );
    assert!(s.write(|r| r.delete_group(doomed.id)).unwrap());
    assert!(!s.write(|r| r.delete_group(doomed.id)).unwrap());
    assert_eq!(s.read(|r| r.group_by_id(doomed.id)).unwrap(), None);
    let left: Vec<(UserId, GroupId)> = s
        .read(|r| r.all_memberships(None))
        .unwrap()
        .iter()
        .map(|m| (m.user_id, m.group_id))
        .collect();
    assert_eq!(
        left,
        vec![(u.id, ALL_USERS_ID), (u.id, kept.id), (v.id, ALL_USERS_ID)]
    );
}

// ----- memberships -----

/// A user is in a group at most once, and only an existing user in an existing group.
fn memberships_are_unique_and_need_their_user_and_group(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("a@x.com"));
    let m = join(s, &[(u.id, ADMINISTRATORS_ID, GroupRole::Member)])[0];
    assert!(m.id.get() > 0);
    assert_eq!(
        (m.user_id, m.group_id, m.is_group_manager),
        (u.id, ADMINISTRATORS_ID, false)
    );
    let again = joins(u.id, ADMINISTRATORS_ID, GroupRole::Manager);
    let dup = s.write(|r| r.insert_membership(&again)).unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    let g = group(s, "Sales");
    assert!(s.write(|r| r.delete_group(g.id)).unwrap());
    let gone_group = joins(u.id, g.id, GroupRole::Member);
    assert!(is_foreign_key(
        s.write(|r| r.insert_membership(&gone_group))
    ));
    let gone_user = joins(UserId(u.id.get() + 1), ALL_USERS_ID, GroupRole::Member);
    assert!(is_foreign_key(s.write(|r| r.insert_membership(&gone_user))));
    assert_eq!(s.read(|r| r.all_memberships(None)).unwrap().len(), 2);
}

/// Memberships list by user then group, are found by id, change role, and are deleted one by one or by
/// group.
fn memberships_list_by_user_then_group_and_change(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    let v = add(s, new_user("v@x.com"));
    let g = group(s, "Sales");
    let ms = join(
        s,
        &[
            (v.id, g.id, GroupRole::Member),
            (u.id, ADMINISTRATORS_ID, GroupRole::Member),
        ],
    );
    let pairs = |ms: Vec<Membership>| -> Vec<(UserId, GroupId)> {
        ms.iter().map(|m| (m.user_id, m.group_id)).collect()
    };
    let both = s.read(|r| r.memberships_of(&[v.id, u.id])).unwrap();
    assert_eq!(
        pairs(both),
        vec![
            (u.id, ALL_USERS_ID),
            (u.id, ADMINISTRATORS_ID),
            (v.id, ALL_USERS_ID),
            (v.id, g.id)
        ]
    );
    assert!(s.read(|r| r.memberships_of(&[])).unwrap().is_empty());
    assert_eq!(s.read(|r| r.all_memberships(None)).unwrap().len(), 4);
    let admins = s
        .read(|r| r.all_memberships(Some(&[ADMINISTRATORS_ID, g.id])))
        .unwrap();
    assert_eq!(admins, vec![ms[1], ms[0]]);

    s.write(|r| r.set_group_role(ms[0].id, GroupRole::Manager))
        .unwrap();
    let promoted = s.read(|r| r.membership_by_id(ms[0].id)).unwrap();
    assert_eq!(
        promoted,
        Some(Membership {
            is_group_manager: true,
            ..ms[0]
        })
    );
    s.write(|r| r.set_group_role(ms[0].id, GroupRole::Member))
        .unwrap();
    assert_eq!(
        s.read(|r| r.membership_by_id(ms[0].id)).unwrap(),
        Some(ms[0])
    );

    assert!(s.write(|r| r.delete_membership(ms[1].id)).unwrap());
    assert!(!s.write(|r| r.delete_membership(ms[1].id)).unwrap());
    assert_eq!(s.read(|r| r.membership_by_id(ms[1].id)).unwrap(), None);
    assert_eq!(
        s.write(|r| r.delete_group_memberships(ALL_USERS_ID))
            .unwrap(),
        2
    );
    assert_eq!(
        pairs(s.read(|r| r.all_memberships(None)).unwrap()),
        vec![(v.id, g.id)]
    );
}

// ----- sessions and logins -----

/// A session is found by its hash together with its user and the user's memberships (by group id); a hash is
/// unique, and a session needs its user.
fn caller_lookup_brings_the_session_user_and_memberships(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, named("s@x.com", Some("S"), None));
    join(s, &[(u.id, ADMINISTRATORS_ID, GroupRole::Manager)]);
    let created = t0() + Duration::microseconds(7);
    let new = NewSession {
        created_at: created,
        ..session(u.id, "h1")
    };
    s.write(|r| r.insert_session(&new)).unwrap();
    let dup = s
        .write(|r| r.insert_session(&session(u.id, "h1")))
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup:?}");
    let caller = s.read(|r| r.caller_by_session("h1")).unwrap().unwrap();
    assert_eq!(caller.user, u);
    assert_eq!(caller.session_created_at, created);
    let groups: Vec<_> = caller
        .memberships
        .iter()
        .map(|m| (m.group_id, m.is_group_manager))
        .collect();
    assert_eq!(
        groups,
        vec![(ALL_USERS_ID, false), (ADMINISTRATORS_ID, true)]
    );
    assert_eq!(s.read(|r| r.caller_by_session("nope")).unwrap(), None);

    let lone = insert(s, new_user("lone@x.com"));
    s.write(|r| r.insert_session(&session(lone.id, "h2")))
        .unwrap();
    let caller = s.read(|r| r.caller_by_session("h2")).unwrap().unwrap();
    assert_eq!(caller.user.id, lone.id);
    assert!(caller.memberships.is_empty());
}

/// Sessions are deleted one by one, or all of a user's but the one kept.
fn deleting_sessions_keeps_the_one_asked_for(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    let v = add(s, new_user("v@x.com"));
    s.write(|r| {
        for h in ["a", "b", "c"] {
            r.insert_session(&session(u.id, h))?;
        }
        r.insert_session(&session(v.id, "d"))
    })
    .unwrap();
    assert_eq!(
        s.write(|r| r.delete_user_sessions(u.id, Some("b")))
            .unwrap(),
        2
    );
    let alive = |h: &str| s.read(|r| r.caller_by_session(h)).unwrap().is_some();
    assert_eq!(["a", "b", "c", "d"].map(alive), [false, true, false, true]);
    assert!(s.write(|r| r.delete_session("b")).unwrap());
    assert!(!s.write(|r| r.delete_session("b")).unwrap());
    assert_eq!(s.write(|r| r.delete_user_sessions(u.id, None)).unwrap(), 0);
    assert_eq!(s.write(|r| r.delete_user_sessions(v.id, None)).unwrap(), 1);
}

/// A user's logins come newest first (ties: the later recorded first); a login outlives its session
/// (`ON DELETE SET NULL`) as an inactive one, and can only name an existing session.
fn login_history_is_newest_first_and_outlives_its_session(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    let v = add(s, new_user("v@x.com"));
    let unknown = login(u.id, Some("unknown"), t0());
    assert!(is_foreign_key(s.write(|r| r.insert_login(&unknown))));
    let later = t0() + Duration::seconds(1);
    s.write(|r| {
        for h in ["a", "b", "c"] {
            r.insert_session(&session(u.id, h))?;
        }
        r.insert_session(&session(v.id, "v"))?;
        r.insert_login(&login(u.id, Some("a"), t0()))?;
        r.insert_login(&login(u.id, Some("b"), t0()))?;
        r.insert_login(&login(u.id, Some("c"), later))?;
        r.insert_login(&login(u.id, None, t0() - Duration::seconds(1)))?;
        r.insert_login(&login(v.id, Some("v"), t0()))
    })
    .unwrap();
    s.write(|r| r.delete_user_sessions(u.id, Some("b")))
        .unwrap();
    let logins = s.read(|r| r.logins_of(u.id)).unwrap();
    let seen: Vec<(Timestamp, bool)> = logins.iter().map(|l| (l.timestamp, l.active)).collect();
    assert_eq!(
        seen,
        vec![
            (later, false),
            (t0(), true),
            (t0(), false),
            (t0() - Duration::seconds(1), false)
        ]
    );
    let record = LoginRecord {
        timestamp: t0(),
        device_id: "device".into(),
        device_description: "curl".into(),
        ip_address: "10.0.0.1".into(),
        active: true,
    };
    assert_eq!(logins[1], record);
    assert_eq!(s.read(|r| r.logins_of(v.id)).unwrap(), vec![record]);
}

// ----- API keys -----

/// A key reads back as inserted, microseconds included, with `updated_by_id` and `updated_at` those of its
/// creation; the SCIM token has no user.
fn api_keys_keep_every_column(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let bot = key_user(s, "Bot");
    let created = t0() + Duration::microseconds(654_321);
    let new = NewApiKey {
        created_at: created,
        ..new_key("Bot", Some(bot.id), admin.id, 1)
    };
    let stored = insert_key(s, &new);
    let expected = ApiKey {
        id: stored.id,
        user_id: Some(bot.id),
        name: "Bot".into(),
        key_prefix: "mb_0001".into(),
        creator_id: admin.id,
        updated_by_id: admin.id,
        created_at: created,
        updated_at: created,
        scope: KeyScope::Default,
    };
    assert!(stored.id.get() > 0);
    assert_eq!(stored, expected);
    let listed = s.read(|r| r.api_keys(KeyScope::Default)).unwrap();
    assert_eq!(listed, vec![expected.clone()]);

    let token = insert_key(s, &scim_token(admin.id, 2));
    let expected_token = ApiKey {
        id: token.id,
        user_id: None,
        name: "Metabase SCIM API Key - 2".into(),
        key_prefix: "mb_0002".into(),
        creator_id: admin.id,
        updated_by_id: admin.id,
        created_at: t0(),
        updated_at: t0(),
        scope: KeyScope::Scim,
    };
    assert_eq!(token, expected_token);
    assert!(token.id > stored.id);
    assert_eq!(
        s.read(|r| r.api_keys(KeyScope::Scim)).unwrap(),
        vec![expected_token]
    );
}

/// Names (exactly, case-sensitively), prefixes and digests are unique; a key needs its user and creator.
fn api_key_names_prefixes_and_digests_are_unique(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let bot = key_user(s, "Bot");
    let first = insert_key(s, &new_key("Bot", Some(bot.id), admin.id, 1));
    let clashes = [
        new_key("Bot", Some(bot.id), admin.id, 2),
        NewApiKey {
            key_prefix: first.key_prefix.clone(),
            ..new_key("Other", Some(bot.id), admin.id, 3)
        },
        NewApiKey {
            digest: digest(1),
            ..new_key("Third", Some(bot.id), admin.id, 4)
        },
        scim_token(admin.id, 1),
    ];
    for clash in &clashes {
        let dup = s.write(|r| r.insert_api_key(clash)).unwrap_err();
        assert!(dup.is_unique_violation(), "{clash:?}: {dup:?}");
    }
    let case = insert_key(s, &new_key("BOT", Some(bot.id), admin.id, 5));
    let nobody = UserId(bot.id.get() + 100);
    for orphan in [
        new_key("Orphan", Some(nobody), admin.id, 6),
        new_key("Orphan", Some(bot.id), nobody, 6),
    ] {
        assert!(
            is_foreign_key(s.write(|r| r.insert_api_key(&orphan))),
            "{orphan:?}"
        );
    }
    let all = s.read(|r| r.api_keys(KeyScope::Default)).unwrap();
    assert_eq!(key_ids(&all), vec![first.id, case.id]);
    assert_eq!(s.read(|r| r.count_api_keys(KeyScope::Scim)).unwrap(), 0);
}

/// Keys list by id and count per scope: ordinary keys and the SCIM token never mix.
fn api_keys_list_by_id_and_count_by_scope(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let counts = |s: &dyn Store| {
        s.read(|r| {
            Ok((
                r.count_api_keys(KeyScope::Default)?,
                r.count_api_keys(KeyScope::Scim)?,
            ))
        })
        .unwrap()
    };
    assert_eq!(counts(s), (0, 0));
    assert!(s
        .read(|r| r.api_keys(KeyScope::Default))
        .unwrap()
        .is_empty());
    assert!(s.read(|r| r.api_keys(KeyScope::Scim)).unwrap().is_empty());
    let (one, two, three) = (key_user(s, "One"), key_user(s, "Two"), key_user(s, "Three"));
    let a = insert_key(s, &new_key("One", Some(one.id), admin.id, 1));
    let token = insert_key(s, &scim_token(admin.id, 2));
    let b = insert_key(s, &new_key("Two", Some(two.id), admin.id, 3));
    let c = insert_key(s, &new_key("Three", Some(three.id), admin.id, 4));
    let listed = |scope| key_ids(&s.read(|r| r.api_keys(scope)).unwrap());
    assert_eq!(listed(KeyScope::Default), vec![a.id, b.id, c.id]);
    assert_eq!(listed(KeyScope::Scim), vec![token.id]);
    assert_eq!(counts(s), (3, 1));
    assert!(s.write(|r| r.delete_api_key(b.id)).unwrap());
    assert_eq!(listed(KeyScope::Default), vec![a.id, c.id]);
    assert_eq!(counts(s), (2, 1));
}

/// `lock_api_key` reads a key of either scope inside a transaction, as it is at that point of it; an unknown
/// id finds nothing.
fn locking_an_api_key_reads_it(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let bot = key_user(s, "Bot");
    let key = insert_key(s, &new_key("Bot", Some(bot.id), admin.id, 1));
    let token = insert_key(s, &scim_token(admin.id, 2));
    let renamed = s
        .write(|r| {
            assert_eq!(r.lock_api_key(key.id)?, Some(key.clone()));
            assert_eq!(r.lock_api_key(token.id)?, Some(token.clone()));
            let change = ApiKeyChange {
                name: "Renamed".into(),
                secret: None,
                updated_by_id: admin.id,
                updated_at: t0(),
            };
            r.update_api_key(key.id, &change)?;
            r.lock_api_key(key.id)
        })
        .unwrap();
    assert_eq!(renamed.map(|k| k.name).as_deref(), Some("Renamed"));
    let unknown = ApiKeyId(token.id.get() + 1);
    assert_eq!(s.write(|r| r.lock_api_key(unknown)).unwrap(), None);
}

/// A name is taken only by exactly that name (case and spaces count), and not by the key excepted.
fn api_key_names_are_taken_exactly_except_by_one_key(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let taken = |name: &str, except: Option<ApiKeyId>| {
        s.read(|r| r.api_key_name_taken(name, except)).unwrap()
    };
    assert!(!taken("Bot", None));
    let (bot, other) = (key_user(s, "Bot"), key_user(s, "Other"));
    let a = insert_key(s, &new_key("Bot", Some(bot.id), admin.id, 1));
    let b = insert_key(s, &new_key("Other", Some(other.id), admin.id, 2));
    let token = insert_key(s, &scim_token(admin.id, 3));
    assert!(taken("Bot", None));
    assert!(!taken("bot", None));
    assert!(!taken("BOT", None));
    assert!(!taken("Bot ", None));
    assert!(!taken("Bo", None));
    assert!(!taken("Bot", Some(a.id)));
    assert!(taken("Bot", Some(b.id)));
    assert!(taken("Bot", Some(ApiKeyId(999))));
    assert!(taken("Bot", Some(ApiKeyId(1 << 40))));
    assert!(taken(&token.name, None), "the SCIM token's name counts too");
}

/// A prefix is taken only by exactly that prefix (Base64 is case-sensitive).
fn api_key_prefixes_are_taken_exactly(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let taken = |prefix: &str| s.read(|r| r.api_key_prefix_taken(prefix)).unwrap();
    assert!(!taken("mb_AbCd"));
    let bot = key_user(s, "Bot");
    insert_key(
        s,
        &NewApiKey {
            key_prefix: "mb_AbCd".into(),
            ..new_key("Bot", Some(bot.id), admin.id, 1)
        },
    );
    insert_key(s, &scim_token(admin.id, 2));
    assert!(taken("mb_AbCd"));
    assert!(!taken("mb_abcd"));
    assert!(!taken("MB_AbCd"));
    assert!(!taken("mb_AbC"));
    assert!(taken("mb_0002"), "the SCIM token's prefix counts too");
}

/// A key of any scope is found by its exact digest; another digest (or its upper case) finds nothing.
fn api_keys_are_found_by_exact_digest_of_any_scope(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let bot = key_user(s, "Bot");
    let key = insert_key(s, &new_key("Bot", Some(bot.id), admin.id, 1));
    let token = insert_key(s, &scim_token(admin.id, 2));
    let find = |d: &str| s.read(|r| r.api_key_by_digest(d)).unwrap();
    assert_eq!(find(&digest(1)), Some(key));
    assert_eq!(find(&digest(2)), Some(token));
    assert_eq!(find(&digest(3)), None);
    assert_eq!(find(&digest(10).to_uppercase()), None);
    assert_eq!(find(""), None);
}

/// An update writes the name, who and when; a new secret also replaces digest and prefix, and the old
/// digest finds nothing from then on. A name or prefix of another key is a unique violation.
fn api_key_updates_write_the_name_and_maybe_a_new_secret(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let other_admin = add(s, new_user("other@x.com"));
    let bot = key_user(s, "Bot");
    let key = insert_key(s, &new_key("Bot", Some(bot.id), admin.id, 1));
    let second = insert_key(s, &new_key("Second", Some(bot.id), admin.id, 2));
    let later = t0() + Duration::hours(1) + Duration::microseconds(3);
    let rename = ApiKeyChange {
        name: "Renamed".into(),
        secret: None,
        updated_by_id: other_admin.id,
        updated_at: later,
    };
    s.write(|r| r.update_api_key(key.id, &rename)).unwrap();
    let renamed = ApiKey {
        name: "Renamed".into(),
        updated_by_id: other_admin.id,
        updated_at: later,
        ..key.clone()
    };
    assert_eq!(
        s.read(|r| r.lock_api_key(key.id)).unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(holder_of(s, &digest(1)), Some(bot.id));

    let latest = later + Duration::minutes(1);
    let regenerate = ApiKeyChange {
        name: "Renamed".into(),
        secret: Some(crate::api_key::KeySecret {
            digest: digest(3),
            prefix: "mb_0003".into(),
        }),
        updated_by_id: admin.id,
        updated_at: latest,
    };
    s.write(|r| r.update_api_key(key.id, &regenerate)).unwrap();
    let regenerated = ApiKey {
        key_prefix: "mb_0003".into(),
        updated_by_id: admin.id,
        updated_at: latest,
        ..renamed
    };
    assert_eq!(
        s.read(|r| r.lock_api_key(key.id)).unwrap(),
        Some(regenerated.clone())
    );
    assert_eq!(holder_of(s, &digest(1)), None, "the old key stops working");
    assert_eq!(holder_of(s, &digest(3)), Some(bot.id));
    assert!(!s.read(|r| r.api_key_prefix_taken("mb_0001")).unwrap());

    let clashes = [
        ApiKeyChange {
            name: "Renamed".into(),
            ..rename.clone()
        },
        ApiKeyChange {
            name: "Second".into(),
            secret: Some(crate::api_key::KeySecret {
                digest: digest(4),
                prefix: "mb_0003".into(),
            }),
            ..rename.clone()
        },
    ];
    for clash in &clashes {
        let dup = s.write(|r| r.update_api_key(second.id, clash)).unwrap_err();
        assert!(dup.is_unique_violation(), "{clash:?}: {dup:?}");
    }
    let same_name = ApiKeyChange {
        name: "Second".into(),
        ..rename
    };
    s.write(|r| r.update_api_key(second.id, &same_name))
        .unwrap();
    let keys = s.read(|r| r.api_keys(KeyScope::Default)).unwrap();
    let second = ApiKey {
        updated_by_id: other_admin.id,
        updated_at: later,
        ..second
    };
    assert_eq!(keys, vec![regenerated, second]);
}

/// Deleting a key says whether there was one; the key's user stays, and the key finds no holder any more.
fn deleting_an_api_key_says_whether_it_existed(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let (bot, kept) = (key_user(s, "Bot"), key_user(s, "Kept"));
    let key = insert_key(s, &new_key("Bot", Some(bot.id), admin.id, 1));
    let other = insert_key(s, &new_key("Kept", Some(kept.id), admin.id, 2));
    let token = insert_key(s, &scim_token(admin.id, 3));
    assert!(s.write(|r| r.delete_api_key(key.id)).unwrap());
    assert!(!s.write(|r| r.delete_api_key(key.id)).unwrap());
    assert_eq!(s.read(|r| r.lock_api_key(key.id)).unwrap(), None);
    assert_eq!(holder_of(s, &digest(1)), None);
    assert_eq!(s.read(|r| r.user_by_id(bot.id)).unwrap(), Some(bot));
    assert!(!s.read(|r| r.api_key_name_taken("Bot", None)).unwrap());
    assert!(s.write(|r| r.delete_api_key(token.id)).unwrap());
    assert_eq!(
        s.read(|r| r.api_keys(KeyScope::Default)).unwrap(),
        vec![other]
    );
    assert_eq!(s.read(|r| r.count_api_keys(KeyScope::Scim)).unwrap(), 0);
}

/// An ordinary key's digest finds its user, active or not, with every membership by group id; an unknown
/// digest (also in another case) and a key of another scope find nobody.
fn key_holders_are_the_users_of_ordinary_keys_with_memberships(subject: &dyn Subject) {
    let s = subject.store();
    let admin = add(s, new_user("admin@x.com"));
    let bot = key_user(s, "Bot");
    let g = group(s, "Sales");
    // Joined in another order than by group id.
    join(
        s,
        &[
            (bot.id, g.id, GroupRole::Member),
            (bot.id, ADMINISTRATORS_ID, GroupRole::Manager),
        ],
    );
    let memberships = s.read(|r| r.memberships_of(&[bot.id])).unwrap();
    assert_eq!(
        memberships.iter().map(|m| m.group_id).collect::<Vec<_>>(),
        vec![ALL_USERS_ID, ADMINISTRATORS_ID, g.id]
    );
    let n = 0xabc;
    insert_key(s, &new_key("Bot", Some(bot.id), admin.id, n));
    let holder = s.read(|r| r.key_holder(&digest(n))).unwrap();
    let expected = KeyHolder {
        user: bot.clone(),
        memberships,
    };
    assert_eq!(holder, Some(expected.clone()));

    assert_eq!(holder_of(s, &digest(99)), None);
    assert_eq!(holder_of(s, &digest(n).to_uppercase()), None);
    assert_eq!(holder_of(s, ""), None);
    insert_key(s, &scim_token(admin.id, 2));
    assert_eq!(holder_of(s, &digest(2)), None, "the SCIM token has no user");
    let scoped = NewApiKey {
        scope: KeyScope::Scim,
        ..new_key("Scoped", Some(admin.id), admin.id, 3)
    };
    insert_key(s, &scoped);
    assert_eq!(
        holder_of(s, &digest(3)),
        None,
        "a scoped key is no X-Api-Key"
    );

    let lone = insert(
        s,
        NewUser {
            user_type: UserType::ApiKey,
            entity_id: None,
            external_id: None,
            ..new_user("lone@api-key.invalid")
        },
    );
    insert_key(s, &new_key("Lone", Some(lone.id), admin.id, 4));
    let alone = s.read(|r| r.key_holder(&digest(4))).unwrap().unwrap();
    assert_eq!((alone.user, alone.memberships), (lone, vec![]));

    let inactive = change(s, &bot, |u| u.is_active = false);
    let holder = s.read(|r| r.key_holder(&digest(n))).unwrap();
    assert_eq!(
        holder,
        Some(KeyHolder {
            user: inactive,
            ..expected
        })
    );
}

/// The personal-member count leaves out API-key users (and inactive users); the type a user is inserted with
/// is stored, and only personal users are listed.
fn personal_member_counts_leave_out_api_key_users(subject: &dyn Subject) {
    let s = subject.store();
    let person = add(s, new_user("person@x.com"));
    let gone = add(s, new_user("gone@x.com"));
    let bot = key_user(s, "Bot");
    let internal = add(
        s,
        NewUser {
            user_type: UserType::Internal,
            ..new_user("internal@metabase.local")
        },
    );
    assert_eq!(bot.user_type, UserType::ApiKey);
    let stored = s.read(|r| r.user_by_id(bot.id)).unwrap().unwrap();
    assert_eq!(stored.user_type, UserType::ApiKey);
    let stored = s.read(|r| r.user_by_id(internal.id)).unwrap().unwrap();
    assert_eq!(stored.user_type, UserType::Internal);
    join(
        s,
        &[
            (person.id, ADMINISTRATORS_ID, GroupRole::Member),
            (gone.id, ADMINISTRATORS_ID, GroupRole::Member),
            (bot.id, ADMINISTRATORS_ID, GroupRole::Member),
            (internal.id, ADMINISTRATORS_ID, GroupRole::Member),
        ],
    );
    change(s, &gone, |u| u.is_active = false);
    let counts = |g| {
        s.read(|r| {
            Ok((
                r.count_active_members(g)?,
                r.count_active_personal_members(g)?,
            ))
        })
        .unwrap()
    };
    assert_eq!(counts(ADMINISTRATORS_ID), (3, 1));
    assert_eq!(counts(ALL_USERS_ID), (3, 1));
    change(s, &person, |u| u.is_active = false);
    assert_eq!(counts(ADMINISTRATORS_ID), (2, 0));
    let everyone = UserQuery {
        activity: Activity::Any,
        ..UserQuery::default()
    };
    assert_eq!(list(s, everyone), (vec![person.id, gone.id], 2));
}

// ----- units of work -----

/// Everything a unit of work that fails did is rolled back, whatever the failure; the error comes back as
/// it was and the store serves on.
fn a_failed_unit_of_work_leaves_nothing(subject: &dyn Subject) {
    let s = subject.store();
    let existing = add(s, new_user("taken@x.com"));
    let failures: [fn(&mut dyn Repo) -> crate::Result<()>; 2] = [
        |_| Err(DomainError::Disallowed("a rule failed".into())),
        |r| r.insert_user(&new_user("TAKEN@x.com")).map(drop),
    ];
    for fail in failures {
        let result = s.write(|r| {
            let u = r.insert_user(&new_user("new@x.com"))?;
            r.insert_membership(&joins(u.id, ALL_USERS_ID, GroupRole::Member))?;
            r.insert_session(&session(u.id, "h"))?;
            r.set_last_login(existing.id, t0())?;
            r.insert_group("New", "e1")?;
            r.put_setting("site-name", Some("changed"))?;
            r.insert_reset_request("new@x.com", t0())?;
            r.enqueue_email(&email("hi", t0()))?;
            fail(r)
        });
        match result.unwrap_err() {
            DomainError::Disallowed(m) => assert_eq!(m, "a rule failed"),
            other => assert!(other.is_unique_violation(), "{other:?}"),
        }
        s.read(|r| {
            assert_eq!(r.user_by_email("new@x.com")?, None);
            assert_eq!(r.count_users(10)?, 1);
            assert_eq!(r.all_memberships(None)?.len(), 1);
            assert_eq!(r.caller_by_session("h")?, None);
            assert_eq!(r.user_by_id(existing.id)?, Some(existing.clone()));
            assert_eq!(r.group_by_name("New")?, None);
            assert_eq!(r.setting("site-name")?, None);
            Ok(())
        })
        .unwrap();
        assert!(s.write(|r| r.take_reset_requests(10)).unwrap().is_empty());
        assert!(claim(s, t0(), 10).is_empty());
    }
    add(s, new_user("after@x.com"));
}

/// Outside a transaction each statement stands on its own: one failing undoes none before it.
fn a_unit_without_transaction_keeps_each_statement(subject: &dyn Subject) {
    let s = subject.store();
    let err = s
        .read(|r| {
            r.put_setting("k", Some("v"))?;
            r.insert_user(&new_user("a@x.com"))?;
            r.insert_user(&new_user("A@x.com"))
        })
        .unwrap_err();
    assert!(err.is_unique_violation(), "{err:?}");
    assert_eq!(s.read(|r| r.setting("k")).unwrap().as_deref(), Some("v"));
    assert_eq!(s.read(|r| r.count_users(10)).unwrap(), 1);
}

// ----- settings -----

/// Settings are stored, replaced and deleted by key, and listed by key.
fn settings_are_put_replaced_deleted_and_listed_by_key(subject: &dyn Subject) {
    let s = subject.store();
    assert_eq!(s.read(|r| r.setting("site-name")).unwrap(), None);
    s.write(|r| {
        r.put_setting("site-name", Some("Acme"))?;
        r.put_setting("site-name", Some("Acme 2"))?;
        r.put_setting("admin-email", Some("a@x.com"))?;
        r.put_setting("gone", Some("x"))?;
        r.put_setting("gone", None)?;
        r.put_setting("never-set", None)
    })
    .unwrap();
    assert_eq!(
        s.read(|r| r.setting("site-name")).unwrap().as_deref(),
        Some("Acme 2")
    );
    assert_eq!(s.read(|r| r.setting("gone")).unwrap(), None);
    let all = s.read(|r| r.settings()).unwrap();
    let expected = [("admin-email", "a@x.com"), ("site-name", "Acme 2")];
    assert_eq!(all, expected.map(|(k, v)| (k.to_string(), v.to_string())));
}

/// `insert_setting_if_absent` stores only the first value, and `take_setting` deletes the expected value
/// only once: both are claims.
fn setting_claims_succeed_once(subject: &dyn Subject) {
    let s = subject.store();
    assert!(s
        .write(|r| r.insert_setting_if_absent("setup-token", "t1"))
        .unwrap());
    assert!(!s
        .write(|r| r.insert_setting_if_absent("setup-token", "t2"))
        .unwrap());
    assert_eq!(
        s.read(|r| r.setting("setup-token")).unwrap().as_deref(),
        Some("t1")
    );
    assert!(!s.write(|r| r.take_setting("setup-token", "t2")).unwrap());
    assert!(s.write(|r| r.take_setting("setup-token", "t1")).unwrap());
    assert!(!s.write(|r| r.take_setting("setup-token", "t1")).unwrap());
    assert!(!s.write(|r| r.take_setting("never-set", "t1")).unwrap());
    assert_eq!(s.read(|r| r.setting("setup-token")).unwrap(), None);
    assert!(s
        .write(|r| r.insert_setting_if_absent("setup-token", "t3"))
        .unwrap());
}

// ----- throttles -----

/// Locking keys creates them empty; saved attempts come back for the same throttle and key in any (ASCII)
/// case, in the order the keys are asked for, and never for another throttle or key.
fn throttle_attempts_are_kept_per_throttle_and_key_ignoring_case(subject: &dyn Subject) {
    let s = subject.store();
    let now = t0();
    let expires = now + Duration::minutes(1);
    let (user, ip) = (key("login", "Ann@X.com"), key("ip", "10.0.0.1"));
    assert_eq!(attempts(s, &[user, ip], now), vec![Vec::<i64>::new(); 2]);
    s.write(|r| {
        r.save_attempts(&[
            saved(key("login", "ANN@x.com"), &[3, -2, 1], expires),
            saved(ip, &[5], expires),
        ])
    })
    .unwrap();
    let again = attempts(s, &[ip, key("login", "ann@x.COM")], now);
    assert_eq!(again, vec![vec![5], vec![-2, 1, 3]]);
    // Two keys of one throttle, and one key in two throttles.
    let (bob, ip_bob) = (key("login", "bob@x.com"), key("ip", "bob@x.com"));
    let three = [user, bob, ip_bob];
    assert_eq!(
        attempts(s, &three, now),
        vec![vec![-2, 1, 3], vec![], vec![]]
    );
    s.write(|r| {
        r.save_attempts(&[
            saved(user, &[], expires),
            saved(bob, &[7], expires),
            saved(ip_bob, &[8, 9], expires),
        ])
    })
    .unwrap();
    s.write(|r| r.save_attempts(&[])).unwrap();
    assert_eq!(attempts(s, &three, now), vec![vec![], vec![7], vec![8, 9]]);
    assert_eq!(attempts(s, &[ip], now), vec![vec![5]]);
}

/// Saving replaces the attempts of locked keys only: a key never locked gets no row.
fn saving_attempts_of_a_key_never_locked_stores_nothing(subject: &dyn Subject) {
    let s = subject.store();
    let k = key("login", "a@x.com");
    let expires = t0() + Duration::minutes(1);
    s.write(|r| r.save_attempts(&[saved(k, &[1, 2], expires)]))
        .unwrap();
    assert_eq!(attempts(s, &[k], t0()), vec![Vec::<i64>::new()]);
}

/// Pruning deletes the keys that expired before now (not at now) and counts them; a pruned key starts
/// again empty.
fn pruning_deletes_the_throttle_keys_that_expired(subject: &dyn Subject) {
    let s = subject.store();
    let now = t0();
    let (a, b, c) = (key("login", "a"), key("login", "b"), key("ip", "c"));
    attempts(s, &[a, b, c], now);
    let minute = Duration::minutes(1);
    s.write(|r| {
        r.save_attempts(&[
            saved(a, &[1], now + minute),
            saved(b, &[2], now + minute * 2),
        ])
    })
    .unwrap();
    let prune = |at| s.write(|r| r.prune_attempts(at)).unwrap();
    assert_eq!(prune(now), 0, "c expires at now");
    assert_eq!(prune(now + Duration::microseconds(1)), 1, "c");
    assert_eq!(prune(now + minute), 0);
    assert_eq!(prune(now + minute + Duration::seconds(1)), 1, "a");
    assert_eq!(attempts(s, &[a, b], now), vec![vec![], vec![2]]);
}

// ----- password-reset asks -----

/// Asks are taken oldest first, each once; asks taken by a unit of work that fails are taken again.
fn reset_requests_are_taken_oldest_first_and_once(subject: &dyn Subject) {
    let s = subject.store();
    for (i, e) in ["a@x.com", "b@x.com", "c@x.com", "a@x.com"]
        .iter()
        .enumerate()
    {
        let at = t0() + Duration::seconds(i as i64);
        s.write(|r| r.insert_reset_request(e, at)).unwrap();
    }
    let take = |limit| s.write(|r| r.take_reset_requests(limit)).unwrap();
    assert!(take(0).is_empty());
    assert_eq!(take(2), vec!["a@x.com", "b@x.com"]);
    let failed = s.write(|r| {
        assert_eq!(r.take_reset_requests(1)?, vec!["c@x.com"]);
        Err::<(), _>(DomainError::Internal("the worker failed".into()))
    });
    assert!(failed.is_err());
    assert_eq!(take(10), vec!["c@x.com", "a@x.com"]);
    assert!(take(10).is_empty());
}

// ----- the email outbox -----

/// Claims take the emails due, earliest due first (then by id), up to the limit, and return them by id
/// with their attempt counted; a claimed email is not due again before its lease ends.
fn outbox_claims_the_earliest_due_first_under_a_lease(subject: &dyn Subject) {
    let s = subject.store();
    let one = enqueue(s, email("one", t0()));
    let two = enqueue(s, email("two", t0() - Duration::seconds(5)));
    let three = enqueue(s, email("three", t0() + Duration::hours(1)));
    let four = enqueue(s, email("four", t0()));
    assert!(one < two && two < three && three < four);
    let first = claim(s, t0(), 1);
    let expected = QueuedEmail {
        id: two,
        recipients: vec!["a@x.com".into(), "b@x.com".into()],
        subject: "two".into(),
        body_text: "text".into(),
        body_html: "<p>html</p>".into(),
        attempts: 1,
    };
    assert_eq!(first, vec![expected]);
    assert_eq!(email_ids(&claim(s, t0(), 1)), vec![one], "ties by id");
    assert_eq!(email_ids(&claim(s, t0(), 10)), vec![four]);
    assert!(
        claim(s, t0(), 10).is_empty(),
        "leased emails are not claimed"
    );
    let lease_end = t0() + Duration::minutes(1);
    let again = claim(s, lease_end, 10);
    let seen: Vec<(EmailId, i32)> = again.iter().map(|e| (e.id, e.attempts)).collect();
    assert_eq!(seen, vec![(one, 2), (two, 2), (four, 2)]);
    let due_later = claim(s, t0() + Duration::hours(1), 10);
    assert_eq!(email_ids(&due_later), vec![one, two, three, four]);
}

/// A sent email's bodies are blanked and it is never claimed again; a failed one is due again at the time
/// given.
fn sent_email_is_blanked_and_failed_email_comes_back(subject: &dyn Subject) {
    let s = subject.store();
    let sent = enqueue(s, email("sent", t0()));
    let failed = enqueue(s, email("failed", t0()));
    assert_eq!(claim(s, t0(), 10).len(), 2);
    s.write(|r| {
        r.mark_email_sent(sent, t0())?;
        r.mark_email_failed(failed, "smtp down", t0() + Duration::seconds(10))
    })
    .unwrap();
    assert_eq!(blanked(subject), vec![sent]);
    assert!(claim(s, t0() + Duration::seconds(5), 10).is_empty());
    let retried = claim(s, t0() + Duration::seconds(10), 10);
    assert_eq!(
        (retried[0].id, retried[0].attempts, retried.len()),
        (failed, 2, 1)
    );
    assert_eq!(retried[0].body_text, "text");
    let later = claim(s, t0() + Duration::hours(1), 10);
    assert_eq!(email_ids(&later), vec![failed]);
}

/// `void_links` blanks every unsent email carrying a link of that user, and no other: they are never
/// claimed and no longer listed as unsent links.
fn replacing_a_token_voids_the_users_unsent_links(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    let v = add(s, new_user("v@x.com"));
    change(s, &u, |u| u.reset_token = Some("hu".into()));
    change(s, &v, |u| u.reset_token = Some("hv".into()));
    let mine = enqueue(s, link_email(u.id, "hu", None));
    let delivered = enqueue(s, link_email(u.id, "hu", None));
    let theirs = enqueue(s, link_email(v.id, "hv", None));
    let plain = enqueue(s, email("plain", t0()));
    let sent = claim(s, t0(), 2);
    assert_eq!(email_ids(&sent), vec![mine, delivered]);
    s.write(|r| r.mark_email_sent(delivered, t0())).unwrap();
    assert_eq!(unsent_links(s), vec![mine, theirs]);
    assert_eq!(s.write(|r| r.void_links(u.id, t0())).unwrap(), 1);
    assert_eq!(s.write(|r| r.void_links(u.id, t0())).unwrap(), 0);
    assert_eq!(blanked(subject), vec![mine, delivered]);
    assert_eq!(unsent_links(s), vec![theirs]);
    let later = t0() + Duration::hours(1);
    assert_eq!(email_ids(&claim(s, later, 10)), vec![theirs, plain]);
}

/// A link dies when it expires (at its expiry) or when its token is no longer its user's (replaced,
/// cleared, or no such user): `void_dead_links` blanks such emails, and a claim blanks them rather than
/// returning them.
fn dead_links_are_blanked_and_never_claimed(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    let w = add(s, new_user("w@x.com"));
    change(s, &u, |u| u.reset_token = Some("hu".into()));
    let w = change(s, &w, |u| u.reset_token = Some("hw".into()));
    let hour = Duration::hours(1);
    let live = enqueue(s, link_email(u.id, "hu", Some(t0() + hour)));
    let forever = enqueue(s, link_email(u.id, "hu", None));
    let expired = enqueue(s, link_email(u.id, "hu", Some(t0())));
    let replaced = enqueue(s, link_email(u.id, "old", None));
    let cleared = enqueue(s, link_email(w.id, "hw", None));
    // Not checked, a difference accepted because no use case queues a link for a user it has not just read:
    // a link naming a user id beyond the table's key makes people-store keep the email as a plain one
    // (sent), where the fake voids it like any link of no user.
    let nobodys = enqueue(s, link_email(UserId(w.id.get() + 1), "hx", None));
    let plain = enqueue(s, email("plain", t0()));
    change(s, &w, |u| u.reset_token = None);
    assert_eq!(s.write(|r| r.void_dead_links(t0())).unwrap(), 4);
    assert_eq!(s.write(|r| r.void_dead_links(t0())).unwrap(), 0);
    assert_eq!(blanked(subject), vec![expired, replaced, cleared, nobodys]);
    assert_eq!(unsent_links(s), vec![live, forever]);

    // A claim does not wait for the sweep: the live link expires, and the token of the other is replaced.
    change(s, &u, |u| u.reset_token = Some("hu2".into()));
    let fresh = enqueue(s, link_email(u.id, "hu2", None));
    let claimed = claim(s, t0() + hour, 10);
    assert_eq!(email_ids(&claimed), vec![plain, fresh]);
    let dead = vec![live, forever, expired, replaced, cleared, nobodys];
    assert_eq!(blanked(subject), dead);
}

/// Unsent links are listed with when they were queued; their expiry can be moved or removed.
fn link_expiry_can_be_retimed(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    change(s, &u, |u| u.reset_token = Some("hu".into()));
    let hour = Duration::hours(1);
    let sooner = enqueue(s, link_email(u.id, "hu", Some(t0() + hour)));
    let never = enqueue(s, link_email(u.id, "hu", Some(t0() + hour)));
    let plain = enqueue(s, email("plain", t0()));
    let mut links = s.read(|r| r.unsent_links()).unwrap();
    links.sort();
    assert_eq!(links, vec![(sooner, t0()), (never, t0())]);
    s.write(|r| {
        r.set_link_expiry(sooner, Some(t0() + Duration::minutes(1)))?;
        r.set_link_expiry(never, None)?;
        r.set_link_expiry(plain, Some(t0()))
    })
    .unwrap();
    let claimed = claim(s, t0() + Duration::minutes(2), 10);
    assert_eq!(email_ids(&claimed), vec![never, plain]);
    assert_eq!(blanked(subject), vec![sooner]);
    let much_later = t0() + Duration::days(30);
    assert_eq!(email_ids(&claim(s, much_later, 10)), vec![never, plain]);
}

// ----- housekeeping -----

/// A lease is claimed by one holder at a time, only once it expired; only its holder renews it, and a
/// renewal inside a failed unit of work is undone with it.
fn leases_are_held_by_one_holder_until_they_expire(subject: &dyn Subject) {
    let s = subject.store();
    let claim = |holder: &str, now: Timestamp, until: Timestamp| {
        s.write(|r| r.claim_lease("housekeeping", holder, now, until))
            .unwrap()
    };
    let renew = |holder: &str, until: Timestamp| {
        s.write(|r| r.renew_lease("housekeeping", holder, until))
            .unwrap()
    };
    let minute = Duration::minutes(1);
    assert!(!renew("a", t0()), "nobody holds it yet");
    assert!(
        claim("a", t0(), t0() + minute),
        "a fresh database's lease is free"
    );
    assert!(!claim("b", t0(), t0() + minute));
    assert!(
        !claim("a", t0(), t0() + minute),
        "not twice, even by its holder"
    );
    assert!(!renew("b", t0() + minute));
    assert!(renew("a", t0() + minute * 2));
    assert!(!claim("b", t0() + minute, t0() + minute * 3), "renewed");
    assert!(claim("b", t0() + minute * 2, t0() + minute * 3), "expired");
    assert!(!renew("a", t0() + minute * 9), "fenced: the lease is b's");
    let failed = s.write(|r| {
        assert!(r.renew_lease("housekeeping", "b", t0())?);
        Err::<(), _>(DomainError::Internal("roll back".into()))
    });
    assert!(failed.is_err());
    assert!(
        !claim("c", t0() + minute * 2, t0() + minute * 3),
        "the renewal was rolled back"
    );
    assert!(claim("c", t0() + minute * 3, t0() + minute * 4));
    assert!(
        s.write(|r| r.claim_lease("other", "a", t0(), t0() + minute))
            .unwrap(),
        "another name is a lease of its own, free until claimed"
    );
}

/// Expired sessions, old login history and done emails go at most `limit` at a time; a cutoff is
/// inclusive; live sessions, recent logins and unsent emails stay; logins of a deleted session stay.
fn housekeeping_deletes_only_what_expired_a_batch_at_a_time(subject: &dyn Subject) {
    let s = subject.store();
    let u = add(s, new_user("u@x.com"));
    let old = t0() - Duration::days(400);
    s.write(|r| {
        for i in 0..5 {
            r.insert_session(&NewSession {
                created_at: old + Duration::seconds(i),
                ..session(u.id, &format!("old{i}"))
            })?;
        }
        r.insert_session(&NewSession {
            created_at: t0() + Duration::microseconds(1),
            ..session(u.id, "live")
        })?;
        r.insert_login(&login(u.id, Some("old0"), old))?;
        r.insert_login(&login(u.id, Some("old1"), t0()))?;
        r.insert_login(&login(u.id, Some("live"), t0() + Duration::seconds(1)))
    })
    .unwrap();
    let sessions = |cutoff, limit| {
        s.write(|r| r.delete_sessions_created_by(cutoff, limit))
            .unwrap()
    };
    assert_eq!(sessions(t0(), 2), 2);
    assert_eq!(sessions(t0(), 2), 2);
    assert_eq!(sessions(t0(), 2), 1);
    assert_eq!(sessions(t0(), 2), 0);
    let alive = |h: &str| s.read(|r| r.caller_by_session(h)).unwrap().is_some();
    assert!(alive("live"));
    assert_eq!(
        s.read(|r| r.logins_of(u.id)).unwrap().len(),
        3,
        "logins outlive their session"
    );
    let logins = |cutoff, limit| {
        s.write(|r| r.delete_logins_recorded_by(cutoff, limit))
            .unwrap()
    };
    assert_eq!(logins(t0(), 1), 1);
    assert_eq!(logins(t0(), 5), 1, "the cutoff itself is included");
    assert_eq!(logins(t0(), 5), 0);
    let left = s.read(|r| r.logins_of(u.id)).unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].active);

    let sent = enqueue(s, email("sent", old));
    let recent = enqueue(s, email("recent", t0()));
    let waiting = enqueue(s, email("waiting", old));
    enqueue(s, link_email(u.id, "h", None));
    s.write(|r| {
        r.mark_email_sent(sent, old)?;
        r.mark_email_sent(recent, t0() + Duration::seconds(1))?;
        r.mark_email_failed(waiting, "refused", old)?;
        r.void_links(u.id, t0())
    })
    .unwrap();
    let emails = |cutoff, limit| s.write(|r| r.delete_emails_done_by(cutoff, limit)).unwrap();
    assert_eq!(emails(t0(), 1), 1);
    assert_eq!(emails(t0(), 5), 1, "the voided one");
    assert_eq!(emails(t0(), 5), 0);
    let mut left: Vec<EmailId> = subject.outbox_bodies().into_iter().map(|e| e.0).collect();
    left.sort();
    assert_eq!(left, vec![recent, waiting]);
}

// ----- the accepted difference -----

/// Case folding of letters beyond ASCII is the database's `lower()`: PostgreSQL folds them as its locale
/// says (C.UTF-8 and the usual locales fold them all), SQLite's built-in `lower()` folds ASCII only, and the
/// fake folds like PostgreSQL, the production database. The difference is accepted because the domain
/// lower-cases emails itself before they reach the store, and group names, throttle keys and searches
/// beyond ASCII are rare. What every back end must do: an exact (same-case) lookup finds the row.
fn case_folding_beyond_ascii_follows_the_database(subject: &dyn Subject) {
    let s = subject.store();
    let folds = s.backend() != "sqlite";
    let elodie = add(s, named("ÉLODIE@x.com", Some("Élodie"), Some("Ÿ")));
    let g = group(s, "Équipe");
    assert_eq!(search(s, "lodie").0, vec![elodie.id]);
    if folds {
        // Not on SQLite, a flaw of people-store rather than an accepted difference: it lower-cases the
        // search text in Rust (all of Unicode) but SQLite lower-cases the searched column (ASCII only), so
        // a name with a capital beyond ASCII is not found even when typed exactly.
        assert_eq!(search(s, "Élodie").0, vec![elodie.id], "the exact name");
        assert_eq!(search(s, "élodie").0, vec![elodie.id]);
        assert_eq!(search(s, "ÿ").0, vec![elodie.id]);
    }
    let exact = s.read(|r| r.user_by_email("ÉLODIE@x.com")).unwrap();
    assert_eq!(exact.map(|u| u.id), Some(elodie.id));
    assert_eq!(
        s.read(|r| r.group_by_name("Équipe")).unwrap(),
        Some(g.clone())
    );
    let folded = s.read(|r| r.user_by_email("élodie@x.com")).unwrap();
    assert_eq!(folded.map(|u| u.id), folds.then_some(elodie.id));
    let folded = s.read(|r| r.group_by_name("équipe")).unwrap();
    assert_eq!(folded, folds.then_some(g));
    let variant = s.write(|r| r.insert_user(&new_user("élodie@x.com")));
    assert_eq!(variant.is_err(), folds, "{variant:?}");
    let variant = s.write(|r| r.insert_group("éQUIPE", "e1"));
    assert_eq!(variant.is_err(), folds, "{variant:?}");
    let expires = t0() + Duration::minutes(1);
    attempts(s, &[key("login", "É@x.com")], t0());
    s.write(|r| r.save_attempts(&[saved(key("login", "é@x.com"), &[1], expires)]))
        .unwrap();
    let shared = attempts(s, &[key("login", "É@x.com")], t0());
    assert_eq!(shared == vec![vec![1]], folds, "{shared:?}");
}

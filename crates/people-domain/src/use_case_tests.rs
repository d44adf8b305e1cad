//! Unit tests of the use cases against the in-memory fakes of [`crate::testing`]: no database, no I/O.

use chrono::Duration;
use serde_json::{json, Map, Value};

use crate::error::{DomainError, StoreFailure, FORBIDDEN};
use crate::group::{
    AddMembership, CreateGroup, GroupRole, RenameGroup, SetGroupRole, ADMINISTRATORS_ID,
    ADMIN_NOT_MANAGER, ALL_USERS_ID, DUPLICATE_NAME,
};
use crate::id::{GroupId, MembershipId, UserId};
use crate::membership::{ALL_USERS_RULE, DUPLICATE_MEMBERSHIP, LAST_ADMIN_RULE};
use crate::permission::NOT_ALLOWED_MEMBERSHIPS;
use crate::reset::{ForgotPassword, ResetPassword, INVALID_TOKEN};
use crate::service::Config;
use crate::session::{
    sha256_hex, Caller, Login, LoginRecord, Persistence, Secret, SessionGrant, BAD_PASSWORD,
    DISABLED,
};
use crate::setting::{PutSetting, SettingValue, SETUP_TOKEN_KEY};
use crate::setup::{AdminSpec, Setup, SETUP_DONE};
use crate::store::Page;
use crate::testing::{body, client, t0, token_in_link, Fixture, UserSpec, PASSWORD};
use crate::throttle::TRY_LATER;
use crate::user::{
    ChangePassword, CreateUser, ListView, PasswordChanged, RecipientView, UpdateUser, User,
    UserListQuery, UserWithMemberships, ALREADY_ACTIVE, EMAIL_IN_USE, EMAIL_TAKEN,
    SUPERUSER_MISMATCH,
};
use crate::validate::{msg, MembershipSpec};
use crate::Result;

// ----- helpers -----

fn rule(field: &str, message: &str) -> DomainError {
    DomainError::rule(field, message)
}

fn refused(message: &str) -> DomainError {
    DomainError::Disallowed(message.to_string())
}

fn forbidden() -> DomainError {
    DomainError::Forbidden(FORBIDDEN.to_string())
}

fn login_failed(field: &str, message: &str) -> DomainError {
    DomainError::LoginFailed {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Asserts a schema failure of `param` with its fixed message.
fn assert_invalid<T: std::fmt::Debug>(r: Result<T>, param: &str, message: &str) {
    match r {
        Err(DomainError::Invalid {
            param: p,
            message: m,
            ..
        }) => assert_eq!((p.as_str(), m.as_str()), (param, message)),
        other => panic!("expected Invalid {param}: {message}, got {other:?}"),
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A user's id as a path segment, for the helpers below that take the request as a client sends it.
fn id(u: &User) -> String {
    u.id.to_string()
}

/// `POST /api/setup` as people-web runs it: refused once a user exists, then the body, then the use case.
fn setup(f: &Fixture, b: &Map<String, Value>) -> Result<SessionGrant> {
    let command = Setup::parse(b, &f.people.open_setup()?)?;
    f.people.setup(command, &client("1.1.1.1"))
}

/// `POST /api/session` with a JSON body.
fn login_with(f: &Fixture, b: Value, ip: &str) -> Result<SessionGrant> {
    f.people.login(Login::parse(&body(b))?, &client(ip))
}

/// `POST /api/user` with a JSON body.
fn create(f: &Fixture, caller: &Caller, b: Value) -> Result<UserWithMemberships> {
    f.people.create_user(caller, CreateUser::parse(&body(b))?)
}

/// `PUT /api/user/:id` with a path segment and a JSON body: the id is checked before the body.
fn update(f: &Fixture, caller: &Caller, id: &str, b: Value) -> Result<UserWithMemberships> {
    let id = UserId::parse_path("id", id);
    let command = UpdateUser::parse(&body(b));
    f.people.update_user(caller, id?, command?)
}

/// A `CreateUser` with only the email, as a Rust caller of people-domain writes it.
fn invite(email: &str) -> CreateUser {
    CreateUser {
        first_name: None,
        last_name: None,
        email: email.to_string(),
        password: None,
        memberships: None,
        login_attributes: None,
    }
}

/// A membership entry that keeps (or, for a new one, leaves unset) the manager flag.
fn member_of(group_id: GroupId) -> MembershipSpec {
    MembershipSpec {
        group_id,
        is_group_manager: None,
    }
}

/// The first admin (id 1) and a session of theirs.
fn with_admin(f: &Fixture) -> (User, Caller) {
    let admin = f.admin("admin@x.com");
    let caller = f.caller(admin.id);
    (admin, caller)
}

fn user_by_email(f: &Fixture, email: &str) -> Option<User> {
    f.store
        .snapshot()
        .users
        .values()
        .find(|u| u.user.email == email)
        .map(|u| u.user.clone())
}

fn setup_body(token: &str, email: &str) -> Map<String, Value> {
    body(json!({
        "token": token,
        "user": {"first_name": "Ada", "last_name": "Lovelace", "email": email, "password": PASSWORD},
        "prefs": {"site_name": "Acme", "site_locale": "es-mx"}
    }))
}

// ----- setup -----

#[test]
fn setup_requires_the_setup_token() {
    let f = Fixture::new();
    // Without a stored token no value is right.
    assert_invalid(
        setup(&f, &setup_body("anything", "ada@x.com")),
        "token",
        msg::SETUP_TOKEN,
    );
    let token = f.people.ensure_setup_token().unwrap().unwrap();
    assert_eq!(
        f.people.ensure_setup_token().unwrap().as_deref(),
        Some(token.as_str()),
        "the token is stable"
    );
    for bad in [json!("wrong"), json!(""), json!(null), json!(42)] {
        let mut b = setup_body(&token, "ada@x.com");
        b.insert("token".into(), bad);
        assert_invalid(setup(&f, &b), "token", msg::SETUP_TOKEN);
    }
    let mut b = setup_body(&token, "ada@x.com");
    b.remove("token");
    assert_invalid(setup(&f, &b), "token", msg::SETUP_TOKEN);
    // The token is checked before anything else.
    assert_invalid(
        setup(
            &f,
            &body(json!({"token": "wrong", "user": {"email": "not an email"}})),
        ),
        "token",
        msg::SETUP_TOKEN,
    );
    // A command built in Rust is checked by the use case itself: a wrong token is refused there too.
    let mut command = Setup::parse(
        &setup_body(&token, "ada@x.com"),
        &f.people.open_setup().unwrap(),
    )
    .unwrap();
    command.token = Secret::new("wrong");
    assert_invalid(
        f.people.setup(command, &client("1.1.1.1")),
        "token",
        msg::SETUP_TOKEN,
    );
    assert!(f.store.snapshot().users.is_empty());
    assert_eq!(f.store.setting(SETUP_TOKEN_KEY), Some(token));
}

#[test]
fn setup_creates_the_first_admin_and_signs_them_in() {
    let f = Fixture::new();
    let token = f.people.ensure_setup_token().unwrap().unwrap();
    let props = f.people.properties(None).unwrap();
    assert_eq!(props["setup-token"], json!(token));
    assert_eq!(props["has-user-setup"], json!(false));

    let grant = setup(&f, &setup_body(&token, "Ada@Example.com")).unwrap();
    assert_eq!(grant.same_site, "lax");
    assert_eq!(grant.persistence, Persistence::BrowserSession);
    let caller = f.people.authenticate(Some(grant.token.expose())).unwrap();
    assert_eq!(caller.user.id, UserId(1));
    assert_eq!(caller.user.email, "ada@example.com");
    assert_eq!(caller.user.first_name.as_deref(), Some("Ada"));
    assert!(caller.is_superuser());
    assert_eq!(caller.group_ids(), vec![ALL_USERS_ID, ADMINISTRATORS_ID]);
    assert_eq!(f.store.setting("site-name").as_deref(), Some("Acme"));
    assert_eq!(f.store.setting("site-locale").as_deref(), Some("es_MX"));
    assert_eq!(
        f.store.setting("admin-email").as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(
        f.store.setting(SETUP_TOKEN_KEY),
        None,
        "the token is retired"
    );
    // Setup's session sets last_login (and so first_login) but is no login-history entry.
    assert!(f.people.login_history(&caller).unwrap().is_empty());
    assert_eq!(caller.user.last_login, Some(t0()));
    assert!(f.store.outbox().is_empty(), "no invite, no email");

    // Once a user exists every call is 403, before validation.
    assert_eq!(
        setup(&f, &setup_body(&token, "b@x.com")),
        Err(DomainError::Forbidden(SETUP_DONE.to_string()))
    );
    assert_eq!(
        setup(&f, &Map::new()),
        Err(DomainError::Forbidden(SETUP_DONE.to_string()))
    );
    assert_eq!(f.people.ensure_setup_token().unwrap(), None);
    let props = f.people.properties(Some(&caller)).unwrap();
    assert_eq!(props["setup-token"], Value::Null);
    assert_eq!(props["has-user-setup"], json!(true));
    assert_eq!(props["site-name"], json!("Acme"));
    assert_eq!(props["user-visibility"], json!("all"));
    assert_eq!(f.store.snapshot().users.len(), 1);
}

#[test]
fn a_failed_setup_changes_nothing_and_keeps_the_token() {
    let f = Fixture::new();
    let token = f.people.ensure_setup_token().unwrap().unwrap();
    let assert_untouched = |f: &Fixture| {
        let s = f.store.snapshot();
        assert!(s.users.is_empty() && s.memberships.is_empty() && s.sessions.is_empty());
        assert!(s.outbox.is_empty());
        assert_eq!(f.store.setting(SETUP_TOKEN_KEY), Some(token.clone()));
        assert_eq!(f.store.setting("site-name"), None);
        assert_eq!(f.store.setting("admin-email"), None);
    };

    // The invited email is the admin's: the second insert fails after the first succeeded.
    let mut b = setup_body(&token, "ada@x.com");
    b.insert(
        "invite".into(),
        json!({"email": "ADA@x.com", "first_name": "Bob"}),
    );
    assert_eq!(setup(&f, &b), Err(rule("invited_email", EMAIL_IN_USE)));
    assert_untouched(&f);

    // A store failure at the very end (the session) undoes the user, the settings and the token's removal.
    f.store
        .fail_on("insert_session", StoreFailure::Unavailable("down".into()));
    assert_eq!(
        setup(&f, &setup_body(&token, "ada@x.com")),
        Err(DomainError::Store(StoreFailure::Unavailable("down".into())))
    );
    assert_untouched(&f);

    // Validation failures after the token.
    f.store.heal();
    assert_invalid(
        setup(&f, &setup_body(&token, "not-an-email")),
        "email",
        msg::EMAIL,
    );
    let mut weak = setup_body(&token, "ada@x.com");
    weak["user"]["password"] = json!("123456");
    assert_invalid(setup(&f, &weak), "password", msg::PASSWORD);
    assert_untouched(&f);

    // The same token still works.
    setup(&f, &setup_body(&token, "ada@x.com")).unwrap();
    assert_eq!(f.store.snapshot().users.len(), 1);
}

#[test]
fn setup_with_an_invite_creates_a_second_admin_and_queues_the_invite() {
    let f = Fixture::new();
    let token = f.people.ensure_setup_token().unwrap().unwrap();
    let mut b = setup_body(&token, "ada@x.com");
    b.insert(
        "invite".into(),
        json!({"email": "Bob@x.com", "first_name": "Bob", "last_name": "B"}),
    );
    setup(&f, &b).unwrap();
    let bob = user_by_email(&f, "bob@x.com").unwrap();
    assert!(bob.is_superuser && bob.is_active);
    assert!(bob.password_hash.is_none(), "invited users set their own");
    assert_eq!(f.store.group_ids(bob.id), vec![GroupId(1), GroupId(2)]);

    let outbox = f.store.outbox();
    assert_eq!(outbox.len(), 1);
    let invite = &outbox[0].email;
    assert_eq!(invite.recipients, vec!["bob@x.com".to_string()]);
    assert!(invite.subject.starts_with("Invite {"), "{}", invite.subject);
    assert!(invite.subject.contains("from_setup: true"));
    assert!(invite.subject.contains(r#"inviter: Some("Ada")"#));
    assert!(invite
        .body_text
        .starts_with("http://localhost:3000/auth/reset_password/"));
    assert!(invite.body_text.ends_with("#new"));
    let invite_token = token_in_link(&invite.body_text).unwrap();
    assert_eq!(bob.reset_token, Some(sha256_hex(&invite_token)));
    assert!(f.people.reset_token_valid(Some(&invite_token)).unwrap());
    assert!(f.store.units().1 >= 1);
}

#[test]
fn create_admin_is_setup_from_the_command_line() {
    let f = Fixture::new();
    f.people.ensure_setup_token().unwrap().unwrap();
    let spec = AdminSpec {
        email: "Root@X.com".into(),
        password: Secret::new(PASSWORD),
        first_name: Some("Root".into()),
        last_name: None,
    };
    let admin = f.people.create_admin(&spec).unwrap();
    assert!(admin.is_superuser);
    assert_eq!(admin.email, "root@x.com");
    assert_eq!(f.store.group_ids(admin.id), vec![GroupId(1), GroupId(2)]);
    assert_eq!(f.store.setting(SETUP_TOKEN_KEY), None);
    assert_eq!(
        f.store.setting("admin-email").as_deref(),
        Some("root@x.com")
    );
    assert_eq!(
        f.people.create_admin(&spec),
        Err(rule("email", EMAIL_IN_USE))
    );
    let grant = f
        .people
        .create_admin_signed_in(&AdminSpec {
            email: "second@x.com".into(),
            ..spec.clone()
        })
        .unwrap();
    assert!(f
        .people
        .authenticate(Some(grant.token.expose()))
        .unwrap()
        .is_superuser());
    assert_eq!(
        f.store.setting("admin-email").as_deref(),
        Some("root@x.com"),
        "admin-email is only set when unset"
    );
    assert_invalid(
        f.people.create_admin(&AdminSpec {
            email: "third@x.com".into(),
            password: Secret::new("password"),
            ..spec
        }),
        "password",
        msg::PASSWORD,
    );
}

// ----- sessions -----

#[test]
fn login_creates_a_session_and_a_login_history_entry() {
    let f = Fixture::new();
    let ann = f.member("ann@x.com", "Ann", &[]);
    let grant = login_with(
        &f,
        json!({"username": "ANN@x.com", "password": PASSWORD, "remember": true}),
        "10.1.1.1",
    )
    .unwrap();
    assert_eq!(grant.persistence, Persistence::Remember);
    assert_eq!(grant.user_id, ann.id);
    let token = grant.token.expose().to_string();
    assert!(uuid::Uuid::parse_str(&token).is_ok());
    let state = f.store.snapshot();
    assert!(state.sessions.contains_key(&sha256_hex(&token)));
    assert!(
        !state.sessions.contains_key(&token),
        "only the SHA-256 is stored"
    );

    let caller = f.people.authenticate(Some(&token)).unwrap();
    assert_eq!(caller.user.id, ann.id);
    assert_eq!(
        caller.credential,
        crate::session::Credential::Session(sha256_hex(&token))
    );
    assert_eq!(caller.user.last_login, Some(t0()));
    assert_eq!(caller.first_login, Some(t0()));
    assert_eq!(
        f.people.login_history(&caller).unwrap(),
        vec![LoginRecord {
            timestamp: t0(),
            device_id: "device-1".into(),
            device_description: "test-agent".into(),
            ip_address: "10.1.1.1".into(),
            active: true,
        }]
    );

    // A later login moves last_login; first_login stays.
    f.advance(Duration::minutes(5));
    let second = f.login("ann@x.com", PASSWORD).unwrap();
    let again = f.people.authenticate(Some(&second)).unwrap();
    assert_eq!(again.user.last_login, Some(t0() + Duration::minutes(5)));
    assert_eq!(again.first_login, Some(t0()));
    let current = f.people.current_user(again.clone()).unwrap();
    assert_eq!(current.first_login, t0());

    // Logout deletes the presented session only; its history entry becomes inactive.
    f.people.logout(Some(&token)).unwrap();
    assert_eq!(
        f.people.authenticate(Some(&token)),
        Err(DomainError::Unauthenticated)
    );
    assert_eq!(f.people.logout(Some(&token)), Err(DomainError::NotFound));
    assert_eq!(f.people.logout(None), Err(DomainError::NotFound));
    assert_eq!(f.people.logout(Some("")), Err(DomainError::NotFound));
    let history = f.people.login_history(&again).unwrap();
    assert_eq!(
        history.iter().map(|l| l.active).collect::<Vec<_>>(),
        vec![true, false],
        "newest first"
    );
}

#[test]
fn wrong_passwords_and_unknown_emails_fail_alike() {
    let f = Fixture::new();
    f.member("ann@x.com", "Ann", &[]);
    f.user(UserSpec {
        email: "invited@x.com",
        ..UserSpec::default()
    });
    let expected = Err(login_failed("password", BAD_PASSWORD));
    assert_eq!(f.login("ann@x.com", "wr0ngpassword"), expected);
    assert_eq!(f.login("nobody@x.com", PASSWORD), expected);
    assert_eq!(
        f.login("invited@x.com", PASSWORD),
        expected,
        "no password yet"
    );
    let s = f.store.snapshot();
    assert!(s.sessions.is_empty() && s.logins.is_empty());
    assert_invalid(
        login_with(&f, json!({"password": PASSWORD}), "10.0.0.1"),
        "username",
        msg::NON_BLANK,
    );
    assert_invalid(
        login_with(
            &f,
            json!({"username": "ann@x.com", "password": "  "}),
            "10.0.0.1",
        ),
        "password",
        msg::NON_BLANK,
    );
}

#[test]
fn a_disabled_account_is_told_so_only_with_the_right_password() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    f.people.deactivate_user(&admin, ann.id).unwrap();
    assert_eq!(
        f.login("ann@x.com", PASSWORD),
        Err(login_failed("_error", DISABLED))
    );
    assert_eq!(
        f.login("ann@x.com", "wr0ngpassword"),
        Err(login_failed("password", BAD_PASSWORD))
    );
    assert_eq!(f.store.session_count(ann.id), 0);
}

#[test]
fn login_is_throttled_after_ten_failures_per_user_name() {
    let f = Fixture::new();
    f.member("ann@x.com", "Ann", &[]);
    f.member("bob@x.com", "Bob", &[]);
    for _ in 0..10 {
        assert_eq!(
            f.login("ann@x.com", "wr0ngpassword"),
            Err(login_failed("password", BAD_PASSWORD))
        );
    }
    // Even the right password, in any case, is refused now.
    assert_eq!(
        f.login("ANN@x.com", PASSWORD),
        Err(login_failed(
            "username",
            "Too many attempts! You must wait 15 seconds before trying again."
        ))
    );
    // Other names are not affected.
    assert!(f.login("bob@x.com", PASSWORD).is_ok());
    // After the delay, while the failures are still within the hour, the refusal has no wait time.
    f.advance(Duration::minutes(30));
    assert_eq!(
        f.login("ann@x.com", PASSWORD),
        Err(login_failed("username", TRY_LATER))
    );
    // An hour after the failures they are forgotten.
    f.advance(Duration::minutes(31));
    assert!(f.login("ann@x.com", PASSWORD).is_ok());
}

#[test]
fn throttling_can_be_turned_off() {
    let f = Fixture::with_config(Config {
        throttle: false,
        ..Config::default()
    });
    f.member("ann@x.com", "Ann", &[]);
    for _ in 0..20 {
        assert_eq!(
            f.login("ann@x.com", "wr0ngpassword"),
            Err(login_failed("password", BAD_PASSWORD))
        );
    }
    assert!(f.login("ann@x.com", PASSWORD).is_ok());
}

#[test]
fn sessions_expire_after_the_max_session_age() {
    let f = Fixture::with_config(Config {
        max_session_age: Duration::minutes(60),
        ..Config::default()
    });
    let ann = f.member("ann@x.com", "Ann", &[]);
    let token = f.session(ann.id);
    f.advance(Duration::minutes(60) - Duration::seconds(1));
    assert!(f.people.authenticate(Some(&token)).is_ok());
    f.advance(Duration::seconds(1));
    assert_eq!(
        f.people.authenticate(Some(&token)),
        Err(DomainError::Unauthenticated)
    );
    assert_eq!(f.people.try_authenticate(None).unwrap(), None);
    assert_eq!(f.people.try_authenticate(Some("")).unwrap(), None);
    assert_eq!(f.people.try_authenticate(Some("no-such")).unwrap(), None);
    // An expired session can still be logged out of.
    f.people.logout(Some(&token)).unwrap();
}

#[test]
fn current_user_tells_the_installer_about_a_second_user() {
    let f = Fixture::new();
    let (admin, caller) = with_admin(&f);
    assert_eq!(admin.id, UserId(1));
    assert!(
        !f.people
            .current_user(caller.clone())
            .unwrap()
            .has_invited_second_user
    );
    let bob = f.member("bob@x.com", "Bob", &[]);
    assert!(
        f.people
            .current_user(caller)
            .unwrap()
            .has_invited_second_user
    );
    assert!(
        !f.people
            .current_user(f.caller(bob.id))
            .unwrap()
            .has_invited_second_user
    );
}

// ----- creating users -----

#[test]
fn create_user_refuses_a_taken_email_in_any_case() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    f.member("ann@x.com", "Ann", &[]);
    let before = f.store.snapshot();
    assert_eq!(
        create(&f, &admin, json!({"email": "ANN@X.com"})),
        Err(rule("email", EMAIL_IN_USE))
    );
    // A concurrent request that won the race surfaces as the unique index: the same message.
    f.store.fail_on(
        "insert_user",
        StoreFailure::Unique("idx_core_user_email_lower".into()),
    );
    assert_eq!(
        f.people.create_user(&admin, invite("new@x.com")),
        Err(rule("email", EMAIL_IN_USE))
    );
    let after = f.store.snapshot();
    assert_eq!(after.users, before.users);
    assert_eq!(after.memberships, before.memberships);
    assert!(after.outbox.is_empty());
}

#[test]
fn create_user_cannot_leave_out_all_users() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let before = f.store.snapshot();
    for memberships in [json!([{"id": sales.id}]), json!([])] {
        assert_eq!(
            create(
                &f,
                &admin,
                json!({"email": "bob@x.com", "user_group_memberships": memberships}),
            ),
            Err(refused(ALL_USERS_RULE))
        );
    }
    // The same rule for a command built in Rust.
    for memberships in [vec![member_of(sales.id)], vec![]] {
        assert_eq!(
            f.people.create_user(
                &admin,
                CreateUser {
                    memberships: Some(memberships),
                    ..invite("bob@x.com")
                },
            ),
            Err(refused(ALL_USERS_RULE))
        );
    }
    assert_eq!(
        create(&f, &admin, json!({"email": "bob@x.com", "group_ids": [2]})),
        Err(refused(ALL_USERS_RULE))
    );
    let after = f.store.snapshot();
    assert!(user_by_email(&f, "bob@x.com").is_none());
    assert_eq!(after.memberships, before.memberships);
    assert!(after.outbox.is_empty());
}

#[test]
fn create_user_with_administrators_makes_a_superuser_and_queues_an_invite() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let sales = f.group("Sales");
    // An administrator cannot be a group manager, on this path as on /api/permissions/membership.
    let refused = create(
        &f,
        &admin,
        json!({
            "email": "Bob@x.com",
            "user_group_memberships": [{"id": 1}, {"id": 2}, {"id": sales.id, "is_group_manager": true}]
        }),
    );
    assert_eq!(
        refused.unwrap_err(),
        DomainError::Disallowed("Admin cant be a group manager.".into())
    );
    assert!(user_by_email(&f, "bob@x.com").is_none());
    let created = create(
        &f,
        &admin,
        json!({
            "email": "Bob@x.com", "first_name": "Bob", "last_name": "B",
            "login_attributes": {"team": "red"},
            "user_group_memberships": [{"id": 1}, {"id": 2}, {"id": sales.id}]
        }),
    )
    .unwrap();
    let bob = &created.user;
    assert_eq!(bob.email, "bob@x.com");
    assert!(bob.is_superuser && bob.is_active);
    assert!(bob.password_hash.is_none());
    assert_eq!(
        bob.login_attributes.as_ref().unwrap().get("team"),
        Some(&json!("red"))
    );
    assert_eq!(
        created
            .memberships
            .iter()
            .map(|m| (m.group_id, m.is_group_manager))
            .collect::<Vec<_>>(),
        vec![(GroupId(1), false), (GroupId(2), false), (sales.id, false)]
    );
    assert!(f.store.user(bob.id).unwrap().is_superuser);

    // The invite: one email, a link with a `<id>_<uuid>` token whose SHA-256 alone is stored.
    let outbox = f.store.outbox();
    assert_eq!(outbox.len(), 1);
    let invite = &outbox[0].email;
    assert_eq!(invite.recipients, vec!["bob@x.com".to_string()]);
    assert!(invite.subject.starts_with("Invite {"));
    assert!(invite.subject.contains("from_setup: false"));
    assert!(invite.subject.contains(r#"inviter: Some("Admin")"#));
    let token = token_in_link(&invite.body_text).unwrap();
    let (uid, rest) = token.split_once('_').unwrap();
    assert_eq!(uid, bob.id.to_string());
    assert!(uuid::Uuid::parse_str(rest).is_ok());
    assert_eq!(bob.reset_token, Some(sha256_hex(&token)));
    assert_eq!(bob.reset_triggered, Some(t0().timestamp_millis()));

    // Legacy group_ids work too.
    let carl = create(
        &f,
        &admin,
        json!({"email": "carl@x.com", "group_ids": [1, 2]}),
    )
    .unwrap();
    assert!(carl.user.is_superuser);
    assert_eq!(f.store.outbox().len(), 2);
}

#[test]
fn create_user_checks_its_input_and_its_caller() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let plain = f.caller(ann.id);
    // Validation comes first, then the permission check.
    assert_invalid(
        create(&f, &plain, json!({"email": "nope"})),
        "email",
        msg::EMAIL,
    );
    assert_eq!(
        create(&f, &plain, json!({"email": "x@x.com"})),
        Err(forbidden())
    );
    assert_eq!(
        create(
            &f,
            &admin,
            json!({"email": "x@x.com", "user_group_memberships": [{"id": 1}, {"id": 99}]})
        ),
        Err(rule("user_group_memberships", "Group 99 does not exist."))
    );
    assert_eq!(
        create(
            &f,
            &admin,
            json!({"email": "x@x.com", "password": "password"})
        ),
        Err(rule("password", msg::PASSWORD))
    );
    assert!(user_by_email(&f, "x@x.com").is_none());
    // With a password the new user can sign in at once.
    let created = create(
        &f,
        &admin,
        json!({"email": "x@x.com", "password": "s0mething-new"}),
    )
    .unwrap();
    assert!(!created.user.is_superuser);
    assert_eq!(f.store.group_ids(created.user.id), vec![GroupId(1)]);
    assert!(f.login("x@x.com", "s0mething-new").is_ok());
}

#[test]
fn send_invite_replaces_the_outstanding_token() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let bob = f
        .people
        .create_user(&admin, invite("bob@x.com"))
        .unwrap()
        .user;
    let first = token_in_link(&f.store.outbox()[0].email.body_text).unwrap();
    f.advance(Duration::seconds(1));
    f.people.send_invite(&admin, bob.id).unwrap();
    let outbox = f.store.outbox();
    assert_eq!(outbox.len(), 2);
    let second = token_in_link(&outbox[1].email.body_text).unwrap();
    assert_ne!(first, second);
    assert!(!f.people.reset_token_valid(Some(&first)).unwrap());
    assert!(f.people.reset_token_valid(Some(&second)).unwrap());
    // Unknown ids are quietly nothing; non-superusers are refused.
    f.people.send_invite(&admin, UserId(999)).unwrap();
    assert_eq!(f.store.outbox().len(), 2);
    assert_eq!(
        f.people.send_invite(&f.caller(bob.id), bob.id),
        Err(forbidden())
    );
}

// ----- updating users -----

#[test]
fn users_edit_their_own_profile_but_not_their_groups_or_rights() {
    let f = Fixture::new();
    with_admin(&f);
    let sales = f.group("Sales");
    let ann = f.member("ann@x.com", "Ann", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    let me = f.caller(ann.id);
    let u = update(
        &f,
        &me,
        &id(&ann),
        json!({"first_name": "Annie", "last_name": "A", "locale": "es-mx", "email": "annie@x.com"}),
    )
    .unwrap();
    assert_eq!(u.user.first_name.as_deref(), Some("Annie"));
    assert_eq!(u.user.last_name.as_deref(), Some("A"));
    assert_eq!(u.user.locale.as_deref(), Some("es_MX"));
    assert_eq!(u.user.email, "annie@x.com");
    assert!(u.user.updated_at >= ann.updated_at);
    // Rights and attributes are for superusers: silently ignored.
    let u = update(
        &f,
        &me,
        &id(&ann),
        json!({"is_superuser": true, "login_attributes": {"a": 1}}),
    )
    .unwrap();
    assert!(!u.user.is_superuser);
    assert!(u.user.login_attributes.is_none());
    assert_eq!(f.store.group_ids(ann.id), vec![GroupId(1)]);
    // The same group set is no change; a different one is 403.
    update(
        &f,
        &me,
        &id(&ann),
        json!({"user_group_memberships": [{"id": 1}]}),
    )
    .unwrap();
    assert_eq!(
        update(
            &f,
            &me,
            &id(&ann),
            json!({"user_group_memberships": [{"id": 1}, {"id": sales.id}]})
        ),
        Err(forbidden())
    );
    // Others are out of reach.
    assert_eq!(
        update(&f, &me, &id(&bob), json!({"first_name": "X"})),
        Err(forbidden())
    );
    assert_eq!(
        f.store.user(bob.id).unwrap().first_name.as_deref(),
        Some("Bob")
    );
}

#[test]
fn superusers_edit_anyone_but_emails_stay_unique() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    f.member("bob@x.com", "Bob", &[]);
    f.advance(Duration::seconds(3));
    let u = update(
        &f,
        &admin,
        &id(&ann),
        json!({"email": "Annette@x.com", "last_name": "Smith", "login_attributes": {"team": "a"}}),
    )
    .unwrap();
    assert_eq!(u.user.email, "annette@x.com");
    assert_eq!(u.user.last_name.as_deref(), Some("Smith"));
    assert_eq!(u.user.updated_at, t0() + Duration::seconds(3));
    assert!(u.user.login_attributes.is_some());
    assert_eq!(
        update(&f, &admin, &id(&ann), json!({"email": "BOB@x.com"})),
        Err(rule("email", EMAIL_TAKEN))
    );
    // A concurrent request taking the address first: the unique index, the same message, nothing kept.
    f.store.fail_on(
        "update_user",
        StoreFailure::Unique("idx_core_user_email_lower".into()),
    );
    assert_eq!(
        update(
            &f,
            &admin,
            &id(&ann),
            json!({"email": "fresh@x.com", "first_name": "Z"})
        ),
        Err(rule("email", EMAIL_TAKEN))
    );
    f.store.heal();
    assert_eq!(f.store.user(ann.id).unwrap().email, "annette@x.com");
    assert_eq!(
        f.store.user(ann.id).unwrap().first_name.as_deref(),
        Some("Ann")
    );
    // Unknown or inactive users are 404; a zero id is invalid.
    assert_eq!(
        update(&f, &admin, "999", json!({"first_name": "X"})),
        Err(DomainError::NotFound)
    );
    assert_invalid(update(&f, &admin, "0", json!({})), "id", msg::POSITIVE_INT);
    f.people.deactivate_user(&admin, ann.id).unwrap();
    assert_eq!(
        update(&f, &admin, &id(&ann), json!({"first_name": "X"})),
        Err(DomainError::NotFound)
    );
}

#[test]
fn sso_users_keep_their_names_and_google_users_their_email() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let gina = f.user(UserSpec {
        email: "gina@x.com",
        first_name: Some("Gina"),
        last_name: Some("G"),
        password: Some(PASSWORD),
        sso_source: Some("google"),
        ..UserSpec::default()
    });
    assert_eq!(
        update(&f, &admin, &id(&gina), json!({"first_name": "Other"})),
        Err(rule(
            "first_name",
            "Editing first name is not allowed for SSO users."
        ))
    );
    assert_eq!(
        update(&f, &admin, &id(&gina), json!({"last_name": null})),
        Err(rule(
            "last_name",
            "Editing last name is not allowed for SSO users."
        ))
    );
    // Sending the current values is fine.
    let u = update(
        &f,
        &admin,
        &id(&gina),
        json!({"first_name": "Gina", "last_name": "G", "locale": "fr"}),
    )
    .unwrap();
    assert_eq!(u.user.locale.as_deref(), Some("fr"));
    // Only a superuser may change a Google user's email.
    let me = f.caller(gina.id);
    assert_eq!(
        update(&f, &me, &id(&gina), json!({"email": "gina2@x.com"})),
        Err(forbidden())
    );
    update(&f, &me, &id(&gina), json!({"email": "GINA@x.com"})).unwrap();
    let u = update(&f, &admin, &id(&gina), json!({"email": "gina2@x.com"})).unwrap();
    assert_eq!(u.user.email, "gina2@x.com");
}

#[test]
fn the_last_administrator_cannot_be_demoted() {
    let f = Fixture::new();
    let (admin_user, admin) = with_admin(&f);
    let me = admin_user.id;
    // Commands as a Rust caller writes them.
    let superuser = |flag: bool| UpdateUser {
        is_superuser: Some(flag),
        ..UpdateUser::default()
    };
    let groups = |ids: &[GroupId]| UpdateUser {
        memberships: Some(ids.iter().copied().map(member_of).collect()),
        ..UpdateUser::default()
    };
    // Stricter than Metabase, where demoting through `is_superuser: false` is not protected.
    assert_eq!(
        f.people.update_user(&admin, me, superuser(false)),
        Err(refused(LAST_ADMIN_RULE))
    );
    assert_eq!(
        f.people.update_user(&admin, me, groups(&[ALL_USERS_ID])),
        Err(refused(LAST_ADMIN_RULE))
    );
    assert_eq!(
        f.people.update_user(
            &admin,
            me,
            UpdateUser {
                is_superuser: Some(false),
                ..groups(&[ALL_USERS_ID, ADMINISTRATORS_ID])
            }
        ),
        Err(rule("is_superuser", SUPERUSER_MISMATCH))
    );
    // The same through the JSON body.
    assert_eq!(
        update(
            &f,
            &admin,
            &id(&admin_user),
            json!({"is_superuser": false, "user_group_memberships": [{"id": 1}, {"id": 2}]})
        ),
        Err(rule("is_superuser", SUPERUSER_MISMATCH))
    );
    assert!(f.store.user(admin_user.id).unwrap().is_superuser);
    assert_eq!(
        f.store.group_ids(admin_user.id),
        vec![GroupId(1), GroupId(2)]
    );

    // An inactive administrator does not count.
    let gone = f.admin("gone@x.com");
    f.people.deactivate_user(&admin, gone.id).unwrap();
    assert_eq!(
        update(&f, &admin, &id(&admin_user), json!({"is_superuser": false})),
        Err(refused(LAST_ADMIN_RULE))
    );

    // With a second active administrator, either way of demoting works, and promoting too.
    let second = f.admin("second@x.com");
    let u = f
        .people
        .update_user(&admin, second.id, superuser(false))
        .unwrap();
    assert!(!u.user.is_superuser);
    assert_eq!(
        u.memberships.iter().map(|m| m.group_id).collect::<Vec<_>>(),
        vec![GroupId(1)]
    );
    let u = f
        .people
        .update_user(&admin, second.id, superuser(true))
        .unwrap();
    assert!(u.user.is_superuser);
    assert_eq!(f.store.group_ids(second.id), vec![GroupId(1), GroupId(2)]);
    let u = update(
        &f,
        &admin,
        &id(&second),
        json!({"user_group_memberships": [{"id": 1}], "is_superuser": false}),
    )
    .unwrap();
    assert!(!u.user.is_superuser);
    assert_eq!(f.store.group_ids(second.id), vec![GroupId(1)]);
}

#[test]
fn group_managers_change_only_the_groups_they_manage() {
    let f = Fixture::new();
    with_admin(&f);
    let sales = f.group("Sales");
    let support = f.group("Support");
    let mgr = f.member("mgr@x.com", "Mgr", &[(sales.id, true), (support.id, false)]);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let m = f.caller(mgr.id);

    let u = update(
        &f,
        &m,
        &id(&ann),
        json!({"user_group_memberships": [{"id": 1}, {"id": sales.id}]}),
    )
    .unwrap();
    assert_eq!(
        u.memberships.iter().map(|m| m.group_id).collect::<Vec<_>>(),
        vec![GroupId(1), sales.id]
    );
    // A manager editing someone else changes memberships only: the name is ignored.
    let u = update(&f, &m, &id(&ann), json!({"first_name": "Changed"})).unwrap();
    assert_eq!(u.user.first_name.as_deref(), Some("Ann"));
    // Groups they do not manage, All Users included, are off limits.
    let not_allowed = Err(DomainError::Forbidden(NOT_ALLOWED_MEMBERSHIPS.to_string()));
    assert_eq!(
        update(
            &f,
            &m,
            &id(&ann),
            json!({"user_group_memberships": [{"id": 1}, {"id": sales.id}, {"id": support.id}]})
        ),
        not_allowed
    );
    assert_eq!(
        update(
            &f,
            &m,
            &id(&ann),
            json!({"user_group_memberships": [{"id": sales.id}]})
        ),
        not_allowed
    );
    assert_eq!(
        update(
            &f,
            &m,
            &id(&ann),
            json!({"user_group_memberships": [{"id": 1}, {"id": sales.id}, {"id": 2}]})
        ),
        not_allowed
    );
    assert_eq!(f.store.group_ids(ann.id), vec![GroupId(1), sales.id]);
    // The manager flag within a managed group may change; omitting it keeps it.
    update(
        &f,
        &m,
        &id(&ann),
        json!({"user_group_memberships": [{"id": 1}, {"id": sales.id, "is_group_manager": true}]}),
    )
    .unwrap();
    let u = update(
        &f,
        &m,
        &id(&ann),
        json!({"user_group_memberships": [{"id": 1}, {"id": sales.id}]}),
    )
    .unwrap();
    assert!(u
        .memberships
        .iter()
        .any(|m| m.group_id == sales.id && m.is_group_manager));
    // is_superuser is for superusers only.
    let u = update(&f, &m, &id(&ann), json!({"is_superuser": true})).unwrap();
    assert!(!u.user.is_superuser);
    // Removing from a managed group.
    update(
        &f,
        &m,
        &id(&ann),
        json!({"user_group_memberships": [{"id": 1}]}),
    )
    .unwrap();
    assert_eq!(f.store.group_ids(ann.id), vec![GroupId(1)]);
}

// ----- deactivation -----

#[test]
fn deactivation_ends_sessions_and_spares_the_last_admin() {
    let f = Fixture::new();
    let (admin_user, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    let t1 = f.session(ann.id);
    let t2 = f.login("ann@x.com", PASSWORD).unwrap();
    f.people.deactivate_user(&admin, ann.id).unwrap();
    for t in [&t1, &t2] {
        assert_eq!(
            f.people.authenticate(Some(t)),
            Err(DomainError::Unauthenticated)
        );
    }
    assert_eq!(f.store.session_count(ann.id), 0);
    let stored = f.store.user(ann.id).unwrap();
    assert!(!stored.is_active);
    assert_eq!(
        f.store.group_ids(ann.id),
        vec![GroupId(1)],
        "memberships are kept"
    );
    // Again is success; unknown is 404; non-superusers 403.
    f.people.deactivate_user(&admin, ann.id).unwrap();
    assert_eq!(
        f.people.deactivate_user(&admin, UserId(999)),
        Err(DomainError::NotFound)
    );
    assert_eq!(
        f.people.deactivate_user(&f.caller(bob.id), ann.id),
        Err(forbidden())
    );
    // The last active administrator stays.
    assert_eq!(
        f.people.deactivate_user(&admin, admin_user.id),
        Err(refused(LAST_ADMIN_RULE))
    );
    assert!(f.store.user(admin_user.id).unwrap().is_active);
    assert!(f.store.session_count(admin_user.id) > 0);
}

#[test]
fn reactivated_admins_come_back_without_admin_rights() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let second = f.user(UserSpec {
        email: "second@x.com",
        first_name: Some("Second"),
        password: Some(PASSWORD),
        groups: &[(ADMINISTRATORS_ID, false)],
        sso_source: Some("ldap"),
        ..UserSpec::default()
    });
    let their_session = f.session(second.id);
    f.people.deactivate_user(&admin, second.id).unwrap();
    assert_eq!(
        f.people.authenticate(Some(&their_session)),
        Err(DomainError::Unauthenticated)
    );
    let back = f.people.reactivate_user(&admin, second.id).unwrap();
    assert!(back.is_active && !back.is_superuser);
    assert_eq!(back.sso_source, None, "LDAP sign-in does not exist here");
    assert_eq!(f.store.group_ids(second.id), vec![GroupId(1)]);
    assert_eq!(f.store.user(second.id).unwrap(), back);
    assert_eq!(
        f.people.reactivate_user(&admin, second.id),
        Err(DomainError::AlreadyActive)
    );
    assert_eq!(DomainError::AlreadyActive.to_string(), ALREADY_ACTIVE);
    assert_eq!(
        f.people.reactivate_user(&admin, UserId(999)),
        Err(DomainError::NotFound)
    );
    let plain = f.caller(second.id);
    assert_eq!(
        f.people.reactivate_user(&plain, second.id),
        Err(forbidden())
    );
    assert!(f.login("second@x.com", PASSWORD).is_ok());
}

// ----- passwords -----

#[test]
fn changing_a_password_ends_the_other_sessions() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    let old = f.session(ann.id);
    let me = f.caller(ann.id);
    let change = |caller: &Caller, b: Value| {
        ChangePassword::parse(&body(b)).and_then(|c| {
            f.people
                .change_password(caller, ann.id, c, &client("3.3.3.3"))
        })
    };
    assert_eq!(
        change(
            &me,
            json!({"password": "n3w-secret", "old_password": "wrong"})
        ),
        Err(rule("old_password", "Invalid password"))
    );
    assert_invalid(
        change(
            &me,
            json!({"password": "password", "old_password": PASSWORD}),
        ),
        "password",
        msg::PASSWORD,
    );
    let PasswordChanged::Own(grant) = change(
        &me,
        json!({"password": "n3w-secret", "old_password": PASSWORD}),
    )
    .unwrap() else {
        panic!("own change gives a session")
    };
    assert_eq!(
        f.people.authenticate(Some(&old)),
        Err(DomainError::Unauthenticated)
    );
    assert_eq!(f.store.session_count(ann.id), 1);
    assert!(f.people.authenticate(Some(grant.token.expose())).is_ok());
    assert_eq!(
        f.login("ann@x.com", PASSWORD),
        Err(login_failed("password", BAD_PASSWORD))
    );
    assert!(f.login("ann@x.com", "n3w-secret").is_ok());
    // A superuser needs no old password and gets no session; all of the user's sessions end.
    assert_eq!(
        change(&admin, json!({"password": "an0ther-one"})),
        Ok(PasswordChanged::Other)
    );
    assert_eq!(f.store.session_count(ann.id), 0);
    // Others may not.
    assert_eq!(
        change(
            &f.caller(bob.id),
            json!({"password": "an0ther-one", "old_password": PASSWORD})
        ),
        Err(forbidden())
    );
}

// ----- groups and memberships -----

#[test]
fn groups_have_unique_names_and_the_magic_groups_are_fixed() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let named = |name: &str| CreateGroup {
        name: name.to_string(),
    };
    let sales = f.people.create_group(&admin, named("Sales")).unwrap();
    assert_eq!(sales.id, GroupId(3));
    assert_eq!(sales.entity_id.as_ref().map(String::len), Some(21));
    for name in ["SALES", "all users"] {
        assert_eq!(
            f.people.create_group(&admin, named(name)),
            Err(refused(DUPLICATE_NAME))
        );
    }
    f.store.fail_on(
        "insert_group",
        StoreFailure::Unique("idx_permissions_group_name_lower".into()),
    );
    assert_eq!(
        f.people.create_group(&admin, named("Racing")),
        Err(refused(DUPLICATE_NAME))
    );
    f.store.heal();
    // From a JSON body, as people-web reads it.
    let create_from =
        |b: Value| CreateGroup::parse(&body(b)).and_then(|c| f.people.create_group(&admin, c));
    assert_invalid(create_from(json!({"name": " "})), "name", msg::NON_BLANK);
    let mkt = create_from(json!({"name": "Marketing"})).unwrap();
    let rename = |id: GroupId, name: &str| {
        f.people.rename_group(
            &admin,
            id,
            RenameGroup {
                name: name.to_string(),
            },
        )
    };
    assert_eq!(rename(mkt.id, "sales"), Err(refused(DUPLICATE_NAME)));
    let renamed = RenameGroup::parse(&body(json!({"name": "SALES"})))
        .and_then(|c| f.people.rename_group(&admin, sales.id, c))
        .unwrap();
    assert_eq!(renamed.name, "SALES");
    let all_users = refused("You cannot edit or delete the 'All Users' permissions group!");
    let admins = refused("You cannot edit or delete the 'Administrators' permissions group!");
    assert_eq!(rename(ALL_USERS_ID, "Everyone"), Err(all_users.clone()));
    assert_eq!(rename(ADMINISTRATORS_ID, "Bosses"), Err(admins.clone()));
    assert_eq!(f.people.delete_group(&admin, GroupId(1)), Err(all_users));
    assert_eq!(f.people.delete_group(&admin, GroupId(2)), Err(admins));
    assert_eq!(rename(GroupId(999), "X"), Err(DomainError::NotFound));
    f.people.delete_group(&admin, GroupId(999)).unwrap();
    // Plain users may do none of it.
    let ann = f.member("ann@x.com", "Ann", &[]);
    let plain = f.caller(ann.id);
    assert_eq!(
        CreateGroup::parse(&body(json!({"name": "Mine"})))
            .and_then(|c| f.people.create_group(&plain, c)),
        Err(forbidden())
    );
    assert_eq!(f.people.list_groups(&plain, None), Err(forbidden()));
    assert_eq!(f.people.delete_group(&plain, mkt.id), Err(forbidden()));
}

#[test]
fn deleting_a_group_deletes_its_memberships() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let ann = f.member("ann@x.com", "Ann", &[(sales.id, true)]);
    f.people.delete_group(&admin, sales.id).unwrap();
    assert_eq!(f.store.group_ids(ann.id), vec![GroupId(1)]);
    assert_eq!(
        f.people.get_group(&admin, sales.id),
        Err(DomainError::NotFound)
    );
}

#[test]
fn memberships_follow_the_magic_group_rules() {
    let f = Fixture::new();
    let (admin_user, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let ann = f.member("ann@x.com", "Ann", &[]);
    let add =
        |b: Value| AddMembership::parse(&body(b)).and_then(|c| f.people.add_membership(&admin, c));

    let detail = add(json!({"group_id": sales.id, "user_id": ann.id})).unwrap();
    assert_eq!(detail.group, sales);
    assert_eq!(
        detail.members.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        vec![ann.id]
    );
    assert_eq!(
        add(json!({"group_id": sales.id, "user_id": ann.id})),
        Err(rule("user_id", DUPLICATE_MEMBERSHIP))
    );
    assert_eq!(
        add(json!({"group_id": ALL_USERS_ID, "user_id": ann.id})),
        Err(refused(ALL_USERS_RULE))
    );
    assert_eq!(
        add(json!({"group_id": 999, "user_id": ann.id})),
        Err(rule("group_id", "Group 999 does not exist."))
    );
    assert_eq!(
        add(json!({"group_id": sales.id, "user_id": 999})),
        Err(DomainError::NotFound)
    );
    assert_eq!(
        add(json!({"group_id": sales.id, "user_id": admin_user.id, "is_group_manager": true})),
        Err(refused(ADMIN_NOT_MANAGER))
    );
    assert_invalid(
        add(json!({"user_id": ann.id})),
        "group_id",
        msg::POSITIVE_INT,
    );

    // Administrators membership is superuser status.
    add(json!({"group_id": ADMINISTRATORS_ID, "user_id": ann.id})).unwrap();
    assert!(f.store.user(ann.id).unwrap().is_superuser);

    let memberships = f.people.list_memberships(&admin).unwrap();
    let find = |user: UserId, group: GroupId| -> MembershipId {
        memberships
            .iter()
            .find(|m| m.user_id == user && m.group_id == group)
            .unwrap()
            .id
    };
    let manager = SetGroupRole {
        role: GroupRole::Manager,
    };
    assert_eq!(
        f.people
            .delete_membership(&admin, find(ann.id, ALL_USERS_ID)),
        Err(refused(ALL_USERS_RULE))
    );
    assert_eq!(
        f.people
            .set_group_role(&admin, find(ann.id, sales.id), manager),
        Err(refused(ADMIN_NOT_MANAGER))
    );
    // Two administrators: one may go, and stops being a superuser.
    f.people
        .delete_membership(&admin, find(ann.id, ADMINISTRATORS_ID))
        .unwrap();
    assert!(!f.store.user(ann.id).unwrap().is_superuser);
    // Not the last.
    assert_eq!(
        f.people
            .delete_membership(&admin, find(admin_user.id, ADMINISTRATORS_ID)),
        Err(refused(LAST_ADMIN_RULE))
    );
    assert!(f.store.user(admin_user.id).unwrap().is_superuser);
    assert_eq!(
        f.people.delete_membership(&admin, MembershipId(999)),
        Err(DomainError::NotFound)
    );
    // Now ann (no longer a superuser) may manage sales; from a JSON body, as people-web reads it.
    let m = SetGroupRole::parse(&body(json!({"is_group_manager": true})))
        .and_then(|c| f.people.set_group_role(&admin, find(ann.id, sales.id), c))
        .unwrap();
    assert!(m.is_group_manager);

    // Clearing groups.
    assert_eq!(
        f.people.clear_group(&admin, ADMINISTRATORS_ID),
        Err(refused("Invalid Request."))
    );
    assert_eq!(
        f.people.clear_group(&admin, ALL_USERS_ID),
        Err(refused(ALL_USERS_RULE))
    );
    assert_eq!(
        f.people.clear_group(&admin, GroupId(999)),
        Err(DomainError::NotFound)
    );
    f.people.clear_group(&admin, sales.id).unwrap();
    assert!(f
        .people
        .get_group(&admin, sales.id)
        .unwrap()
        .members
        .is_empty());
}

#[test]
fn group_managers_see_and_manage_only_their_groups() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let support = f.group("support");
    let mgr = f.member("mgr@x.com", "Mgr", &[(sales.id, true)]);
    let ann = f.member("ann@x.com", "Ann", &[(support.id, false)]);
    let gone = f.member("gone@x.com", "Gone", &[(sales.id, false)]);
    f.people.deactivate_user(&admin, gone.id).unwrap();
    let m = f.caller(mgr.id);

    let groups = f.people.list_groups(&m, None).unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.group.name.as_str(), g.member_count))
            .collect::<Vec<_>>(),
        vec![("Sales", 1)],
        "inactive members are not counted"
    );
    let all = f.people.list_groups(&admin, None).unwrap();
    assert_eq!(
        all.iter()
            .map(|g| (g.group.name.as_str(), g.member_count))
            .collect::<Vec<_>>(),
        vec![
            ("Administrators", 1),
            ("All Users", 3),
            ("Sales", 1),
            ("support", 1)
        ]
    );
    let paged = f
        .people
        .list_groups(
            &admin,
            Page::parse(&params(&[("limit", "2"), ("offset", "1")])).unwrap(),
        )
        .unwrap();
    assert_eq!(paged.len(), 2);
    assert_eq!(paged[0].group.name, "All Users");

    let join = |group_id: GroupId, user_id: UserId| AddMembership {
        group_id,
        user_id,
        role: GroupRole::Member,
    };
    f.people.add_membership(&m, join(sales.id, ann.id)).unwrap();
    assert_eq!(
        f.people.add_membership(&m, join(support.id, mgr.id)),
        Err(forbidden())
    );
    let visible = f.people.list_memberships(&m).unwrap();
    assert!(visible.iter().all(|x| x.group_id == sales.id));
    assert_eq!(visible.len(), 3, "mgr, ann and the inactive member");
    let detail = f.people.get_group(&m, sales.id).unwrap();
    assert_eq!(
        detail
            .members
            .iter()
            .map(|x| x.first_name.as_deref().unwrap())
            .collect::<Vec<_>>(),
        vec!["Ann", "Mgr"]
    );
    let plain = f.caller(ann.id);
    assert_eq!(f.people.list_memberships(&plain), Err(forbidden()));
}

// ----- password reset -----

/// Asks for a reset link and lets the background worker answer.
fn forgot(f: &Fixture, email: &str) -> Result<()> {
    let command = ForgotPassword::parse(&body(json!({"email": email})))?;
    f.people.forgot_password(command, &client("2.2.2.2"))?;
    f.people.background_pass()?;
    Ok(())
}

fn reset(f: &Fixture, token: &str, password: &str) -> Result<SessionGrant> {
    let command = ResetPassword::parse(&body(json!({"token": token, "password": password})))?;
    f.people.reset_password(command, &client("4.4.4.4"))
}

fn last_token(f: &Fixture) -> String {
    token_in_link(&f.store.outbox().last().unwrap().email.body_text).unwrap()
}

#[test]
fn forgot_password_issues_a_hashed_single_use_token() {
    let f = Fixture::new();
    let ann = f.member("ann@x.com", "Ann", &[]);
    let old = f.session(ann.id);
    forgot(&f, "ANN@x.com").unwrap();
    let outbox = f.store.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].email.recipients, vec!["ann@x.com".to_string()]);
    assert!(outbox[0].email.subject.starts_with("PasswordReset {"));
    assert!(!outbox[0].email.body_text.ends_with("#new"));
    let token = last_token(&f);
    let (uid, rest) = token.split_once('_').unwrap();
    assert_eq!(uid, ann.id.to_string());
    assert_eq!(uuid::Uuid::parse_str(rest).unwrap().get_version_num(), 4);
    let stored = f.store.user(ann.id).unwrap();
    assert_eq!(stored.reset_token, Some(sha256_hex(&token)));
    assert_eq!(stored.reset_triggered, Some(t0().timestamp_millis()));
    assert!(f.people.reset_token_valid(Some(&token)).unwrap());

    let grant = reset(&f, &token, "n3w-secret").unwrap();
    assert_eq!(grant.user_id, ann.id);
    assert_eq!(
        f.people.authenticate(Some(&old)),
        Err(DomainError::Unauthenticated)
    );
    let caller = f.people.authenticate(Some(grant.token.expose())).unwrap();
    assert_eq!(caller.user.reset_token, None);
    assert_eq!(f.people.login_history(&caller).unwrap().len(), 2);
    assert!(f.login("ann@x.com", "n3w-secret").is_ok());
    // Single use.
    assert_eq!(
        reset(&f, &token, "an0ther-one").map(|_| ()),
        Err(rule("password", INVALID_TOKEN))
    );
    assert!(!f.people.reset_token_valid(Some(&token)).unwrap());
    // Ann had signed in before: no "accepted their invite" email.
    assert_eq!(f.store.outbox().len(), 1);
}

#[test]
fn reset_tokens_expire_after_reset_token_ttl_hours() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    f.people
        .put_setting(
            &admin,
            "reset-token-ttl-hours",
            PutSetting {
                value: SettingValue::integer(2),
            },
        )
        .unwrap();
    let ann = f.member("ann@x.com", "Ann", &[]);
    forgot(&f, "ann@x.com").unwrap();
    let token = last_token(&f);
    f.advance(Duration::hours(2) - Duration::milliseconds(1));
    assert!(f.people.reset_token_valid(Some(&token)).unwrap());
    f.advance(Duration::milliseconds(1));
    assert!(!f.people.reset_token_valid(Some(&token)).unwrap());
    assert_eq!(
        reset(&f, &token, "n3w-secret").map(|_| ()),
        Err(rule("password", INVALID_TOKEN))
    );
    assert!(f.store.user(ann.id).unwrap().reset_token.is_some());

    // The default is 48 hours.
    let g = Fixture::new();
    g.member("bob@x.com", "Bob", &[]);
    forgot(&g, "bob@x.com").unwrap();
    let token = last_token(&g);
    g.advance(Duration::hours(47));
    assert!(g.people.reset_token_valid(Some(&token)).unwrap());
    g.advance(Duration::hours(1));
    assert!(!g.people.reset_token_valid(Some(&token)).unwrap());
}

#[test]
fn malformed_foreign_and_inactive_tokens_are_invalid() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    forgot(&f, "ann@x.com").unwrap();
    let token = last_token(&f);
    let (_, uuid) = token.split_once('_').unwrap();
    for bad in [
        format!("{}_{uuid}", bob.id),
        format!("x{token}"),
        uuid.to_string(),
        "abc".to_string(),
        format!("{token}x"),
    ] {
        assert!(!f.people.reset_token_valid(Some(&bad)).unwrap(), "{bad}");
    }
    assert_invalid(f.people.reset_token_valid(None), "token", msg::NON_BLANK);
    assert_invalid(reset(&f, "", "n3w-secret"), "token", msg::NON_BLANK);
    assert_invalid(reset(&f, &token, "password"), "password", msg::PASSWORD);
    f.people.deactivate_user(&admin, ann.id).unwrap();
    assert!(!f.people.reset_token_valid(Some(&token)).unwrap());
}

#[test]
fn forgot_password_only_records_the_ask_whoever_it_names() {
    let f = Fixture::new();
    f.member("ann@x.com", "Ann", &[]);
    let ask = |email: &str| {
        let before = (f.store.units(), f.store.snapshot().reset_requests.len());
        f.people
            .forgot_password(
                ForgotPassword {
                    email: email.to_string(),
                },
                &client("2.2.2.2"),
            )
            .unwrap();
        let after = (f.store.units(), f.store.snapshot().reset_requests.len());
        (
            after.0 .0 - before.0 .0,
            after.0 .1 - before.0 .1,
            after.1 - before.1,
        )
    };
    let known = ask("ann@x.com");
    let unknown = ask("nobody@x.com");
    assert_eq!(
        known, unknown,
        "the same work for an account and for no account"
    );
    assert_eq!(known, (0, 1, 1), "one transaction that records the ask");
    assert!(
        f.store.outbox().is_empty(),
        "nothing is looked up or queued on the request path"
    );
    assert_eq!(f.store.user(UserId(1)).unwrap().reset_token, None);
    let pass = f.people.background_pass().unwrap();
    assert_eq!(pass.reset_requests, 2);
    assert_eq!(f.store.outbox().len(), 1, "only the account gets an email");
    assert!(f.store.snapshot().reset_requests.is_empty());
}

#[test]
fn forgot_password_reveals_nothing_and_respects_sso_and_deactivation() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    forgot(&f, "nobody@x.com").unwrap();
    assert!(f.store.outbox().is_empty());

    let gina = f.user(UserSpec {
        email: "gina@x.com",
        sso_source: Some("google"),
        ..UserSpec::default()
    });
    forgot(&f, "gina@x.com").unwrap();
    let sso = f.store.outbox().last().unwrap().email.clone();
    assert!(sso.subject.starts_with("ResetSso {"));
    assert!(sso.subject.contains(r#"sso_source: "google""#));
    assert!(sso.body_text.is_empty(), "no link");
    assert_eq!(f.store.user(gina.id).unwrap().reset_token, None);

    let ann = f.member("ann@x.com", "Ann", &[]);
    f.people.deactivate_user(&admin, ann.id).unwrap();
    forgot(&f, "ann@x.com").unwrap();
    let deactivated = f.store.outbox().last().unwrap().email.clone();
    assert!(deactivated.subject.starts_with("ResetDeactivated {"));
    assert!(deactivated.body_text.is_empty());
    assert!(f.store.user(ann.id).unwrap().reset_token.is_some());

    // Three requests per second per address.
    let bob = f.member("bob@x.com", "Bob", &[]);
    for _ in 0..3 {
        forgot(&f, "bob@x.com").unwrap();
    }
    assert_eq!(
        forgot(&f, "bob@x.com"),
        Err(rule(
            "email",
            "Too many attempts! You must wait 15 seconds before trying again."
        ))
    );
    f.advance(Duration::seconds(16));
    forgot(&f, "bob@x.com").unwrap();
    assert!(f.store.user(bob.id).unwrap().reset_token.is_some());
    assert_invalid(forgot(&f, "not-an-email"), "email", msg::EMAIL);
}

#[test]
fn accepting_an_invite_tells_the_administrators() {
    let f = Fixture::new();
    let (admin_user, admin) = with_admin(&f);
    let other_admin = f.admin("boss@x.com");
    f.people
        .put_setting(
            &admin,
            "admin-email",
            PutSetting::parse(&body(json!({"value": "Owner@x.com"}))),
        )
        .unwrap();
    let bob = f
        .people
        .create_user(
            &admin,
            CreateUser {
                first_name: Some("Bob".into()),
                last_name: Some("B".into()),
                ..invite("bob@x.com")
            },
        )
        .unwrap()
        .user;
    let token = last_token(&f);
    let grant = reset(&f, &token, "n3w-secret").unwrap();
    assert_eq!(grant.user_id, bob.id);
    let outbox = f.store.outbox();
    assert_eq!(outbox.len(), 2);
    let joined = &outbox[1].email;
    assert!(joined.subject.starts_with("UserJoined {"));
    assert!(joined.subject.contains(r#"name: "Bob B""#));
    assert_eq!(
        joined.recipients,
        vec![
            "owner@x.com".to_string(),
            admin_user.email.clone(),
            other_admin.email.clone()
        ]
    );
    assert_eq!(f.store.user(bob.id).unwrap().last_login, Some(t0()));
}

// ----- listing users -----

#[test]
fn list_users_pages_filters_and_orders() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f); // first name "Admin"
    let carl = f.member("carl@x.com", "Carl", &[]);
    let alice = f.member("alice@x.com", "alice", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    let nameless = f.user(UserSpec {
        email: "nameless@x.com",
        ..UserSpec::default()
    });
    let pct = f.member("pct@x.com", "100% Real", &[]);
    let dora = f.member("dora@x.com", "Dora", &[]);
    f.people.deactivate_user(&admin, dora.id).unwrap();

    let list = |pairs: &[(&str, &str)]| {
        UserListQuery::parse(&params(pairs)).and_then(|q| f.people.list_users(&admin, q))
    };
    let names = |page: &crate::user::UserPage| -> Vec<String> {
        page.users
            .iter()
            .map(|u| u.user.common_name())
            .collect::<Vec<_>>()
    };
    let all = list(&[]).unwrap();
    assert_eq!(all.view, ListView::Admin);
    assert_eq!(all.total, 6);
    assert_eq!(all.page, None);
    assert_eq!(
        names(&all),
        vec![
            "100% Real",
            "Admin",
            "alice",
            "Bob",
            "Carl",
            "nameless@x.com"
        ],
        "lower(first_name), NULLs last"
    );
    assert_eq!(
        all.users[0]
            .memberships
            .iter()
            .map(|m| m.group_id)
            .collect::<Vec<_>>(),
        vec![GroupId(1)]
    );
    assert_eq!(
        all.users[1]
            .memberships
            .iter()
            .map(|m| m.group_id)
            .collect::<Vec<_>>(),
        vec![GroupId(1), GroupId(2)]
    );

    let page = list(&[("limit", "2"), ("offset", "2")]).unwrap();
    assert_eq!(names(&page), vec!["alice", "Bob"]);
    assert_eq!(page.total, 6);
    assert_eq!(
        page.page,
        Some(Page {
            limit: 2,
            offset: 2
        })
    );
    let page = list(&[("offset", "5")]).unwrap();
    assert_eq!(
        page.page,
        Some(Page {
            limit: 50,
            offset: 5
        })
    );
    assert_eq!(page.users[0].user.id, nameless.id);
    let page = list(&[("limit", "1")]).unwrap();
    assert_eq!(page.users[0].user.id, pct.id);
    let page = list(&[("limit", "0")]).unwrap();
    assert!(page.users.is_empty());
    assert_eq!(page.total, 6);
    let page = list(&[("offset", "99999999999999999999")]).unwrap();
    assert!(page.users.is_empty());

    assert_eq!(
        names(&list(&[("status", "deactivated")]).unwrap()),
        vec!["Dora"]
    );
    assert_eq!(list(&[("status", "all")]).unwrap().total, 7);
    assert_eq!(list(&[("include_deactivated", "true")]).unwrap().total, 7);
    assert_eq!(list(&[("include_deactivated", "false")]).unwrap().total, 6);

    let search = |q: &str| names(&list(&[("query", q)]).unwrap());
    assert_eq!(search("ALI"), vec!["alice"]);
    assert_eq!(
        search("al"),
        vec!["100% Real", "alice"],
        "first or last name or email"
    );
    assert_eq!(search("%"), vec!["100% Real"]);
    assert_eq!(search("1%"), Vec::<String>::new());
    assert_eq!(search("_"), Vec::<String>::new());
    assert_eq!(search("b@X"), vec!["Bob"]);
    assert_eq!(search(""), names(&all), "an empty query is no query");

    assert_eq!(
        list(&[("limit", "-1")]),
        Err(rule(
            "limit",
            "value must be an integer greater than or equal to zero."
        ))
    );
    assert_eq!(
        list(&[("limit", "10001")]),
        Err(rule(
            "limit",
            "value must be an integer between 0 and 10000."
        ))
    );
    assert_eq!(
        list(&[("offset", "x")]),
        Err(rule(
            "offset",
            "value must be an integer greater than or equal to zero."
        ))
    );
    // Optional parameters carry malli's "nullable" prefix.
    assert_invalid(
        list(&[("group_id", "abc")]),
        "group_id",
        &format!("nullable {}", msg::POSITIVE_INT),
    );
    assert_invalid(
        list(&[("include_deactivated", "yes")]),
        "include_deactivated",
        &format!("nullable {}", msg::BOOLEAN_STRING),
    );
    let _ = (carl, alice, bob);
}

#[test]
fn group_managers_list_the_members_of_their_groups() {
    let f = Fixture::new();
    let (admin_user, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let support = f.group("Support");
    let ann = f.member("ann@x.com", "Ann", &[(sales.id, false)]);
    let zoe = f.member("zoe@x.com", "Zoe", &[(sales.id, true)]);
    f.member("out@x.com", "Out", &[(support.id, false)]);
    AddMembership::parse(&body(
        json!({"group_id": sales.id, "user_id": admin_user.id}),
    ))
    .and_then(|c| f.people.add_membership(&admin, c))
    .unwrap();
    let m = f.caller(zoe.id);
    let sales_id = sales.id.to_string();
    let page = UserListQuery::parse(&params(&[("group_id", sales_id.as_str())]))
        .and_then(|q| f.people.list_users(&m, q))
        .unwrap();
    assert_eq!(page.view, ListView::GroupManager);
    assert_eq!(
        page.users.iter().map(|u| u.user.id).collect::<Vec<_>>(),
        vec![admin_user.id, zoe.id, ann.id],
        "superusers, then managers, then by name"
    );
    assert_eq!(page.total, 3);
    // Queries as a Rust caller writes them; no parameters at all is the default query.
    assert_eq!(UserListQuery::parse(&[]), Ok(UserListQuery::default()));
    let of_group = |group_id: GroupId| UserListQuery {
        group_id: Some(group_id),
        ..UserListQuery::default()
    };
    assert_eq!(
        f.people.list_users(&m, of_group(support.id)),
        Err(forbidden())
    );
    assert_eq!(
        f.people
            .list_users(&m, UserListQuery::default())
            .unwrap()
            .total,
        4
    );
    assert_eq!(
        f.people
            .list_users(&f.caller(ann.id), UserListQuery::default()),
        Err(forbidden())
    );
    // A superuser filtering by group gets the same order.
    let page = f.people.list_users(&admin, of_group(sales.id)).unwrap();
    assert_eq!(page.view, ListView::Admin);
    assert_eq!(page.users.len(), 3);
}

#[test]
fn recipients_follow_user_visibility() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let ann = f.user(UserSpec {
        email: "ann@x.com",
        first_name: Some("Ann"),
        last_name: Some("Zed"),
        groups: &[(sales.id, false)],
        ..UserSpec::default()
    });
    let bob = f.user(UserSpec {
        email: "bob@x.com",
        first_name: Some("Bob"),
        last_name: Some("Adams"),
        groups: &[(sales.id, false)],
        ..UserSpec::default()
    });
    let carl = f.member("carl@x.com", "Carl", &[]);
    let ids = |r: crate::user::Recipients| r.users.iter().map(|u| u.id).collect::<Vec<_>>();

    let r = f.people.recipients(&f.caller(ann.id), None).unwrap();
    assert_eq!(r.view, RecipientView::NonAdmin);
    assert_eq!(r.total, 4);
    assert_eq!(ids(r)[0], bob.id, "by last name");

    f.people
        .put_setting(
            &admin,
            "user-visibility",
            PutSetting {
                value: SettingValue::text("group"),
            },
        )
        .unwrap();
    assert_eq!(
        ids(f.people.recipients(&f.caller(ann.id), None).unwrap()),
        vec![bob.id, ann.id]
    );
    assert_eq!(
        f.people.recipients(&f.caller(carl.id), None).unwrap().total,
        4,
        "in no group but All Users: everyone"
    );
    assert_eq!(f.people.recipients(&admin, None).unwrap().total, 4);

    f.people
        .put_setting(
            &admin,
            "user-visibility",
            PutSetting::parse(&body(json!({"value": "none"}))),
        )
        .unwrap();
    let r = f.people.recipients(&f.caller(ann.id), None).unwrap();
    assert_eq!(r.view, RecipientView::JustMe);
    assert_eq!(ids(r), vec![ann.id]);
}

// ----- settings and health -----

#[test]
fn settings_are_for_superusers_and_checked() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let put = |caller: &Caller, key: &str, b: Value| {
        f.people
            .put_setting(caller, key, PutSetting::parse(&body(b)))
    };
    put(&admin, "site-url", json!({"value": "https://x.io/"})).unwrap();
    assert_eq!(
        f.people.get_setting(&admin, "site-url").unwrap(),
        json!("https://x.io")
    );
    assert_eq!(
        f.people
            .get_setting(&admin, "reset-token-ttl-hours")
            .unwrap(),
        json!(48)
    );
    assert_eq!(
        put(&admin, "user-visibility", json!({"value": "bogus"})),
        Err(refused(
            "Invalid value for setting user-visibility: must be one of all, group, none."
        ))
    );
    assert_eq!(put(&admin, "nope", json!({})), Err(DomainError::NotFound));
    assert_eq!(
        put(&f.caller(ann.id), "site-url", json!({})),
        Err(forbidden())
    );
    // null returns to the default.
    put(&admin, "site-url", json!({"value": null})).unwrap();
    assert_eq!(f.store.setting("site-url"), None);
    assert_eq!(
        f.people.get_setting(&admin, "site-url").unwrap(),
        json!("http://localhost:3000")
    );
    let listed = f.people.list_settings(&admin).unwrap();
    assert!(listed.iter().any(|s| s.key == "site-name"));
}

#[test]
fn health_reports_the_store() {
    let f = Fixture::new();
    f.people.health().unwrap();
    f.store.fail_on(
        "ping",
        StoreFailure::Unavailable("connection refused".into()),
    );
    assert_eq!(
        f.people.health(),
        Err(DomainError::Store(StoreFailure::Unavailable(
            "connection refused".into()
        )))
    );
}

#[test]
fn modals_are_dismissed_by_their_owner() {
    let f = Fixture::new();
    with_admin(&f);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    let me = f.caller(ann.id);
    f.people.dismiss_modal(&me, ann.id, "qbnewb").unwrap();
    let stored = f.store.user(ann.id).unwrap();
    assert!(!stored.is_qbnewb && stored.is_datasetnewb);
    assert_eq!(
        f.people.dismiss_modal(&me, ann.id, "other"),
        Err(refused("Unrecognized modal: other"))
    );
    assert_eq!(
        f.people.dismiss_modal(&me, bob.id, "qbnewb"),
        Err(forbidden())
    );
}

#[test]
fn get_user_shows_inactive_users_to_those_allowed() {
    let f = Fixture::new();
    let (_, admin) = with_admin(&f);
    let sales = f.group("Sales");
    let mgr = f.member("mgr@x.com", "Mgr", &[(sales.id, true)]);
    let ann = f.member("ann@x.com", "Ann", &[]);
    let bob = f.member("bob@x.com", "Bob", &[]);
    f.people.deactivate_user(&admin, bob.id).unwrap();
    let got = f.people.get_user(&admin, bob.id).unwrap();
    assert!(!got.user.is_active);
    assert_eq!(
        got.memberships
            .iter()
            .map(|m| m.group_id)
            .collect::<Vec<_>>(),
        vec![GroupId(1)]
    );
    // Group managers may read anyone; plain users only themselves.
    assert!(f.people.get_user(&f.caller(mgr.id), bob.id).is_ok());
    let plain = f.caller(ann.id);
    assert!(f.people.get_user(&plain, ann.id).is_ok());
    assert_eq!(f.people.get_user(&plain, bob.id), Err(forbidden()));
    assert_eq!(
        f.people.get_user(&admin, UserId(999)),
        Err(DomainError::NotFound)
    );
    assert_eq!(
        UserId::parse_path("id", "99999999999999999999")
            .and_then(|id| f.people.get_user(&admin, id)),
        Err(DomainError::NotFound),
        "beyond i64 names nothing"
    );
}

//! The console end to end, in headless Chromium against the real binary and a real SMTP catcher, on SQLite
//! and PostgreSQL: first-run setup, an invite from the email to a signed-in person, a forgotten password,
//! the people list at 100,000 people, groups and the manager flag, deactivation ending a session, and what a
//! group manager and a plain user see. Each page visited is also checked by axe-core and for console errors.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

use std::time::Duration;

use serde_json::json;
use support::browser::Console;
use support::{Resp, PASSWORD};

/// Creates a person with PASSWORD through the API; returns their id.
fn add_person(c: &Console, admin: &str, email: &str, first: &str, last: &str) -> i64 {
    let r = c.api(
        "POST",
        "/api/user",
        Some(admin),
        Some(json!({"email": email, "first_name": first, "last_name": last, "password": PASSWORD})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

/// Creates a group through the API; returns its id.
fn add_group(c: &Console, admin: &str, name: &str) -> i64 {
    let r = c.api(
        "POST",
        "/api/permissions/group",
        Some(admin),
        Some(json!({ "name": name })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

fn add_member(c: &Console, admin: &str, group: i64, user: i64, manager: bool) {
    let body = json!({"group_id": group, "user_id": user, "is_group_manager": manager});
    let r = c.api(
        "POST",
        "/api/permissions/membership",
        Some(admin),
        Some(body),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn sign_out(c: &Console) {
    c.click_text("button", "Sign out");
    c.wait_url(|p| p.starts_with("/auth/login"));
    c.wait_for("input[name=username]");
}

/// The link of an email (`http://…/auth/reset_password/<token>` and, for an invite, `#new`).
fn link_in(text: &str, site: &str) -> String {
    let start = text
        .find(&format!("{site}/auth/reset_password/"))
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..]
        .split(|ch: char| ch.is_whitespace() || ch == '"' || ch == '<')
        .next()
        .unwrap()
        .to_string()
}

/// The email sent to `to` whose subject contains `subject`, waiting for it.
fn mail_to(c: &Console, to: &str, subject: &str) -> people_mailer::testing::Received {
    for _ in 0..100 {
        let found = c
            .mail
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.to.iter().any(|t| t == to) && m.subject().contains(subject));
        if let Some(m) = found {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen: Vec<_> = c
        .mail
        .messages()
        .iter()
        .map(|m| (m.to.clone(), m.subject()))
        .collect();
    panic!("no email to {to} about {subject:?}: {seen:?}");
}

/// `n` copies of the person `template` (same password), as the benchmark seeds them: 100 of them with the
/// first name Quokka, the rest First<n> Last<n>; all in All Users.
fn seed_people(c: &Console, template: i64, n: u32) {
    let cols =
        "password, password_salt, date_joined, last_login, is_superuser, is_active, is_qbnewb, \
        is_datasetnewb, login_attributes, updated_at, sso_source, locale, settings, type";
    let step = n / 100;
    let url = c.database_url.clone();
    let (series, pad, analyze) = if url.starts_with("postgres") {
        (
            format!("generate_series(1, {n}) AS s(g)"),
            "lpad(g::text, 7, '0')",
            "ANALYZE;",
        )
    } else {
        ("s".to_string(), "substr('0000000' || g, -7, 7)", "ANALYZE;")
    };
    let with = if url.starts_with("postgres") {
        String::new()
    } else {
        format!("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) ")
    };
    let sql = format!(
        "{with}INSERT INTO core_user (email, first_name, last_name, {cols}) \
         SELECT 'user' || {pad} || '@example.com', \
                CASE WHEN g % {step} = 3 THEN 'Quokka' ELSE 'First' || {pad} END, 'Last' || {pad}, {cols} \
         FROM core_user t CROSS JOIN {series} WHERE t.id = {template}; \
         INSERT INTO permissions_group_membership (user_id, group_id) \
         SELECT id, 1 FROM core_user WHERE email LIKE 'user%@example.com'; {analyze}"
    );
    if let Some(path) = url.strip_prefix("sqlite:") {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute("PRAGMA busy_timeout = 10000;").unwrap();
        conn.batch_execute(&sql).unwrap();
    } else {
        support::PgDb::sql(&url, &sql);
    }
}

/// A request with `X-Api-Key: key` (and no session), as a script holding the key would send it.
fn with_key(c: &Console, method: &str, path: &str, key: &str) -> Resp {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\nX-Api-Key: {key}\r\n\r\n"
    );
    support::raw(c.server.port, request.as_bytes(), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

crate::console_tests! {
    /// A new instance leads to setup; the form shows the API's and its own messages; the administrator lands
    /// on the people list, signed in.
    fn first_run_setup(c) {
        c.goto("/");
        c.wait_url(|p| p == "/setup");
        c.wait_for("input[name=email]");
        c.check_page("setup");
        c.fill("input[name=first_name]", "Ada");
        c.fill("input[name=last_name]", "Lovelace");
        c.fill("input[name=email]", "ada@example.com");
        c.fill("input[name=password]", "password1");
        c.fill("input[name=password_confirm]", "password1");
        c.fill("input[name=site_name]", "Acme");
        c.click("form button[type=submit]");
        // The API's policy answers, beside the field it names.
        c.wait_text(".field-error", "password is too common.");
        assert_eq!(c.attr("input[name=password]", "aria-invalid").as_deref(), Some("true"));
        c.fill("input[name=password]", PASSWORD);
        c.fill("input[name=password_confirm]", "something-else1");
        c.click("form button[type=submit]");
        c.wait_text(".field-error", "Passwords do not match.");
        c.fill("input[name=password_confirm]", PASSWORD);
        c.click("form button[type=submit]");
        c.wait_url(|p| p == "/admin/people");
        c.wait_text("main h1", "People");
        c.wait_text("#people-list", "ada@example.com");
        assert!(c.text("header .brand").contains("Acme"));
        let props = c.api("GET", "/api/session/properties", None, None).json();
        assert_eq!(props["has-user-setup"], json!(true));
        assert_eq!(props["site-name"], json!("Acme"));
        // Setup is over: its page leads home.
        c.goto("/setup");
        c.wait_url(|p| p == "/admin/people");
    }

    /// An administrator invites a person into a group as its manager; the person opens the email's link,
    /// chooses a password and arrives signed in.
    fn invite_to_signed_in(c) {
        let admin = c.server.setup("admin@example.com");
        let eng = add_group(&c, &admin, "Engineering");
        let sales = add_group(&c, &admin, "Sales");
        for (email, first, last, group) in [
            ("grace@example.com", "Grace", "Hopper", eng),
            ("alan@example.com", "Alan", "Turing", eng),
            ("katherine@example.com", "Katherine", "Johnson", sales),
            ("edsger@example.com", "Edsger", "Dijkstra", sales),
        ] {
            let id = add_person(&c, &admin, email, first, last);
            add_member(&c, &admin, group, id, first == "Grace");
        }
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.wait_text("main h1", "People");
        c.click_text("button", "Invite someone");
        c.wait_for("dialog input[name=email]");
        c.fill("dialog input[name=first_name]", "Nia");
        c.fill("dialog input[name=last_name]", "Lee");
        c.fill("dialog input[name=email]", "nia@example.com");
        c.click(&format!("dialog input[name=group-{eng}]"));
        c.click(&format!("dialog input[name=manager-{eng}]"));
        c.check_page("invite");
        c.click_text("button", "Invite");
        c.wait_gone("dialog");
        c.wait_text("#people-list", "nia@example.com");
        c.wait_text("#notice", "invited");
        c.check_page("people");

        let invite = mail_to(&c, "nia@example.com", "invited");
        assert_eq!(invite.subject(), "You're invited to join Acme's Metabase");
        let link = link_in(&invite.text(), &c.url);
        assert!(link.ends_with("#new"), "{link}");
        let id = c.api("GET", "/api/user?query=nia", Some(&admin), None).json()["data"][0]["id"].as_i64().unwrap();
        let user = c.api("GET", &format!("/api/user/{id}"), Some(&admin), None).json();
        let memberships = user["user_group_memberships"].as_array().unwrap();
        assert!(
            memberships.iter().any(|m| m["id"] == json!(eng) && m["is_group_manager"] == json!(true)),
            "{user}"
        );

        sign_out(&c);
        c.goto(&link);
        c.wait_text("main h1", "Welcome to Acme");
        c.check_page("welcome");
        c.fill("input[name=password]", "n3w-Secret!");
        c.fill("input[name=password_confirm]", "n3w-Secret!");
        c.click_text("button", "Save password and sign in");
        // A group manager lands on the people list, signed in as themselves.
        c.wait_url(|p| p == "/admin/people");
        c.wait_text("header .me", "Nia Lee");
        // The link worked once.
        c.goto(&link);
        c.wait_text("main h1", "This invitation has expired");
    }

    /// Forgot password: the email's link sets a new password, which then signs in; the old one does not.
    fn forgot_password(c) {
        let admin = c.server.setup("admin@example.com");
        add_person(&c, &admin, "rob@example.com", "Rob", "Roe");
        c.goto("/auth/login");
        c.wait_for("input[name=username]");
        c.check_page("login");
        c.click_text("a", "I seem to have forgotten my password");
        c.wait_url(|p| p == "/auth/forgot_password");
        c.check_page("forgot-password");
        c.fill("input[name=email]", "rob@example.com");
        c.click_text("button", "Send password reset email");
        c.wait_text("[role=status]", "Check your email");
        let link = link_in(&mail_to(&c, "rob@example.com", "Password Reset").text(), &c.url);
        assert!(!link.ends_with("#new"), "{link}");
        c.goto(&link);
        c.wait_text("main h1", "New password");
        c.check_page("reset-password");
        c.fill("input[name=password]", "n3w-Secret!");
        c.fill("input[name=password_confirm]", "n3w-Secret!");
        c.click_text("button", "Save new password");
        c.wait_url(|p| p == "/account/profile");
        sign_out(&c);
        c.fill("input[name=username]", "rob@example.com");
        c.fill("input[name=password]", PASSWORD);
        c.click("form button[type=submit]");
        c.wait_text(".field-error", "did not match stored password");
        c.sign_in("rob@example.com", "n3w-Secret!", "/account/profile");
    }

    /// Deactivating a person in the list ends their session at once; reactivating does not bring it back.
    fn deactivation_ends_their_session(c) {
        let admin = c.server.setup("admin@example.com");
        let sam = add_person(&c, &admin, "sam@example.com", "Sam", "Sole");
        let sams_session = c.server.login("sam@example.com");
        assert_eq!(c.api("GET", "/api/user/current", Some(&sams_session), None).status, 200);
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.wait_text("#people-list", "sam@example.com");
        c.click("button[aria-label='Deactivate Sam Sole']");
        c.wait_for("dialog");
        c.check_page("deactivate");
        c.click("dialog button.primary");
        c.wait_text("#notice", "Sam Sole was deactivated.");
        assert_eq!(c.api("GET", "/api/user/current", Some(&sams_session), None).status, 401);
        c.click("#tab-deactivated");
        c.wait_text("#people-list", "sam@example.com");
        c.click("button[aria-label='Reactivate Sam Sole']");
        c.wait_text("#notice", "Sam Sole was reactivated.");
        let user = c.api("GET", &format!("/api/user/{sam}"), Some(&admin), None).json();
        assert_eq!(user["is_active"], json!(true));
        assert_eq!(c.api("GET", "/api/user/current", Some(&sams_session), None).status, 401);
    }

    /// A group manager sees their group and its people but no settings and no invite; a plain user sees only
    /// their own account, and the API's refusal where they have no right.
    fn a_managers_and_a_plain_users_views(c) {
        let admin = c.server.setup("admin@example.com");
        let eng = add_group(&c, &admin, "Engineering");
        add_group(&c, &admin, "Sales");
        let mia = add_person(&c, &admin, "mia@example.com", "Mia", "Manager");
        let max = add_person(&c, &admin, "max@example.com", "Max", "Member");
        add_person(&c, &admin, "pat@example.com", "Pat", "Plain");
        add_member(&c, &admin, eng, mia, true);
        add_member(&c, &admin, eng, max, false);

        c.sign_in("mia@example.com", PASSWORD, "/admin/people");
        c.wait_text("main h1", "People");
        let nav = c.text("header nav");
        assert!(nav.contains("People") && nav.contains("Groups") && nav.contains("Account"), "{nav}");
        assert!(!nav.contains("Settings"), "{nav}");
        assert!(!c.exists("button[aria-label^='Deactivate']"), "a manager cannot deactivate");
        assert_eq!(c.count(".head button.primary"), 0, "a manager cannot invite");
        c.select("select[name=group_id]", "Engineering");
        c.wait_until("only Engineering's people", || {
            let rows = c.texts("#people-list tbody tr");
            rows.len() == 2 && rows.iter().any(|r| r.contains("max@example.com"))
        });
        c.check_page("manager-people");
        c.goto("/admin/people/groups");
        c.wait_for("main[data-ready]");
        c.wait_text("main", "Engineering");
        assert!(!c.text("main").contains("Sales"), "only the groups the API returns to a manager");
        sign_out(&c);

        c.sign_in("pat@example.com", PASSWORD, "/account/profile");
        let nav = c.text("header nav");
        assert_eq!(nav.split_whitespace().collect::<Vec<_>>(), vec!["Account"], "{nav}");
        c.goto("/admin/people");
        c.wait_text("main", "You don't have permissions to do that.");
    }

    /// The list of 100,000 people pages on the server: the first page, the next, a search, a tab. The time
    /// from the API's answer to the rendered first page is read from the browser's own performance marks and
    /// printed (a measurement, not a timed assertion).
    fn a_list_of_100000_people(c) {
        let admin = c.server.setup("admin@example.com");
        let template = add_person(&c, &admin, "template@example.com", "Tem", "Plate");
        seed_people(&c, template, 100_000);
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.wait_text(".pager", "1–50 of 100,002");
        assert_eq!(c.count("#people-list tbody tr"), 50);
        let timing = c.execute(
            "const m = performance.getEntriesByName('people-list:render').pop(); \
             const r = performance.getEntriesByType('resource') \
               .filter((e) => e.name.includes('/api/user?')).pop(); \
             return {render: m ? m.duration : null, api: r ? r.responseEnd - r.requestStart : null};",
            vec![],
        );
        let render = timing["render"].as_f64().expect("the page marks its render");
        eprintln!(
            "people list, 100,002 people ({}): API answered in {:.1} ms; first page rendered {render:.1} ms after",
            if c.database_url.starts_with("postgres") { "postgres" } else { "sqlite" },
            timing["api"].as_f64().unwrap_or(f64::NAN),
        );
        assert!(render >= 0.0);
        c.click_text("button", "Next");
        c.wait_text(".pager", "51–100 of 100,002");
        c.fill("input[name=query]", "Quokka");
        c.wait_text(".pager", "1–50 of 100");
        assert!(c.texts("#people-list tbody tr").iter().all(|r| r.contains("Quokka")));
        c.click_text("button", "Next");
        c.wait_text(".pager", "51–100 of 100");
        assert_eq!(c.attr("button.next", "disabled").as_deref(), Some("true"));
        // The filters live in the address: a reload shows the same page.
        let path = c.path();
        assert!(path.contains("query=Quokka") && path.contains("page=2"), "{path}");
        c.goto(&path);
        c.wait_text(".pager", "51–100 of 100");
        c.click("#tab-deactivated");
        c.wait_text("#people-list", "No one matches");
        c.assert_accessible("people-100k");
        c.assert_no_console_errors("people-100k");
    }

    /// Groups: create, rename, open, add a member, make them a manager, remove them, delete; and the groups
    /// and manager flag of a person from the people list's edit dialog.
    fn groups_and_the_manager_flag(c) {
        let admin = c.server.setup("admin@example.com");
        let max = add_person(&c, &admin, "max@example.com", "Max", "Member");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.click_text("a", "Groups");
        c.wait_text("main h1", "Groups");
        c.fill("form[aria-label='Create a group'] input[name=name]", "Engineering");
        c.click_text("button", "Create group");
        c.wait_text("main table", "Engineering");
        let gid = c.api("GET", "/api/permissions/group", Some(&admin), None).json()
            .as_array().unwrap().iter().find(|g| g["name"] == json!("Engineering")).unwrap()["id"]
            .as_i64().unwrap();
        c.check_page("groups");
        c.click("button[aria-label='Rename Engineering']");
        c.wait_for("dialog input[name=name]");
        c.fill("dialog input[name=name]", "Platform");
        c.click_text("button", "Rename group");
        c.wait_gone("dialog");
        c.wait_text("main table", "Platform");

        c.click_text("a", "Platform");
        c.wait_url(|p| p == format!("/admin/people/groups/{gid}"));
        c.wait_text("main h1", "Platform");
        c.fill("form[aria-label='Find people to add'] input[name=query]", "max");
        c.click("button[aria-label='Add Max Member']");
        c.wait_for(&format!("tr[data-user-id='{max}']"));
        c.check_page("group");
        c.click(&format!("tr[data-user-id='{max}'] input[name=is_group_manager]"));
        c.wait_text("#notice", "Max Member is now a manager of Platform.");
        let members = c.api("GET", &format!("/api/permissions/group/{gid}"), Some(&admin), None).json();
        assert_eq!(members["members"][0]["is_group_manager"], json!(true), "{members}");
        c.click("button[aria-label='Remove Max Member']");
        c.wait_gone(&format!("tr[data-user-id='{max}']"));
        let members = c.api("GET", &format!("/api/permissions/group/{gid}"), Some(&admin), None).json();
        assert_eq!(members["members"], json!([]));

        // The same from the people list: the edit dialog's group and manager boxes.
        c.click_text("a", "People");
        c.wait_text("#people-list", "max@example.com");
        c.click("button[aria-label='Edit Max Member']");
        c.wait_for(&format!("dialog input[name=group-{gid}]"));
        c.click(&format!("dialog input[name=group-{gid}]"));
        c.click(&format!("dialog input[name=manager-{gid}]"));
        c.fill("dialog input[name=first_name]", "Maxine");
        c.click_text("button", "Save");
        c.wait_gone("dialog");
        c.wait_text("#people-list", "Maxine Member");
        let user = c.api("GET", &format!("/api/user/{max}"), Some(&admin), None).json();
        assert!(
            user["user_group_memberships"].as_array().unwrap().iter()
                .any(|m| m["id"] == json!(gid) && m["is_group_manager"] == json!(true)),
            "{user}"
        );
        // The API's refusal shows by the field it names, and the dialog stays open.
        c.click("button[aria-label='Edit Maxine Member']");
        c.wait_for("dialog input[name=email]");
        c.fill("dialog input[name=email]", "admin@example.com");
        c.click_text("button", "Save");
        c.wait_text("dialog .field-error", "Email address already");
        c.press_escape();
        c.wait_gone("dialog");

        c.click_text("a", "Groups");
        c.click("button[aria-label='Delete Platform']");
        c.wait_for("dialog");
        c.click("dialog button.primary");
        c.wait_gone("dialog");
        c.wait_until("Platform gone", || !c.text("main").contains("Platform"));
        assert_eq!(c.api("GET", &format!("/api/permissions/group/{gid}"), Some(&admin), None).status, 404);
    }

    /// One's own account: names (the header follows), password, login history.
    fn own_account(c) {
        let admin = c.server.setup("admin@example.com");
        add_person(&c, &admin, "pat@example.com", "Pat", "Plain");
        c.sign_in("pat@example.com", PASSWORD, "/account/profile");
        c.wait_text("main h1", "Profile");
        c.check_page("account-profile");
        c.fill("input[name=first_name]", "Patricia");
        c.click_text("button", "Save");
        c.wait_text("header .me", "Patricia Plain");
        c.wait_text("#notice", "Your profile was saved.");
        c.click_text("a", "Password");
        c.wait_text("main h1", "Password");
        c.check_page("account-password");
        c.fill("input[name=old_password]", "not-my-password1");
        c.fill("input[name=password]", "n3w-Secret!");
        c.fill("input[name=password_confirm]", "n3w-Secret!");
        c.click_text("button", "Change password");
        c.wait_text(".field-error", "Invalid password");
        c.fill("input[name=old_password]", PASSWORD);
        c.click_text("button", "Change password");
        c.wait_text("#notice", "Your password was changed.");
        c.click_text("a", "Login history");
        c.wait_text("main h1", "Login history");
        c.wait_for("table.login-history tbody tr");
        assert!(c.count("table.login-history tbody tr") >= 2, "the sign-in and the password change");
        c.check_page("account-login-history");
        sign_out(&c);
        c.sign_in("pat@example.com", "n3w-Secret!", "/account/profile");
    }

    /// Settings: a new site name shows at once; a bad value gets the API's message by its field.
    fn settings(c) {
        c.server.setup("admin@example.com");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.click_text("a", "Settings");
        c.wait_text("main h1", "General settings");
        c.check_page("settings");
        c.fill("input[name='site-name']", "Initech");
        c.click("button[aria-label='Save Site name']");
        c.wait_text("header .brand", "Initech");
        c.fill("input[name='reset-token-ttl-hours']", "-1");
        c.click("form[data-key='reset-token-ttl-hours'] button[type=submit]");
        c.wait_for("form[data-key='reset-token-ttl-hours'] .field-error");
        let props = c.api("GET", "/api/session/properties", None, None).json();
        assert_eq!(props["site-name"], json!("Initech"));
    }

    /// A phone-sized window: the pages fit its width (no sideways scrolling of the page).
    fn narrow_window(c) {
        c.server.setup("admin@example.com");
        c.resize(support::browser::PHONE.0, support::browser::PHONE.1);
        c.goto("/auth/login");
        c.wait_for("input[name=username]");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.wait_text("#people-list", "admin@example.com");
        for path in [
            "/admin/people",
            "/admin/people/groups",
            "/account/profile",
            "/admin/settings",
            "/admin/settings/authentication/api-keys",
        ] {
            c.goto(path);
            c.wait_for("main[data-ready]");
            let overflow = c.execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            );
            assert!(overflow.as_i64().unwrap() <= 0, "{path} scrolls sideways by {overflow}px");
            c.assert_accessible(&format!("phone {path}"));
        }
        c.goto("/admin/people");
        c.wait_text("#people-list", "admin@example.com");
        c.screenshot("phone-people");
    }

    /// Reset links: by email when email is configured; without email, as a link the administrator copies,
    /// and an invite link for someone who never signed in, which the person then opens.
    fn reset_and_invite_links(c) {
        let mut c = c;
        let admin = c.server.setup("admin@example.com");
        add_person(&c, &admin, "rob@example.com", "Rob", "Roe");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.click("button[aria-label='Reset password of Rob Roe']");
        c.wait_for("dialog");
        c.click("dialog button.primary");
        c.wait_text("#notice", "A reset link is on its way to rob@example.com.");
        let link = link_in(&mail_to(&c, "rob@example.com", "Password Reset").text(), &c.url);
        assert!(!link.ends_with("#new"), "{link}");

        c.without_email();
        let admin = c.server.login("admin@example.com");
        let r = c.api("POST", "/api/user", Some(&admin), Some(json!({"email": "ivy@example.com", "first_name": "Ivy"})));
        assert_eq!(r.status, 200, "{}", r.body);
        // Cookies belong to the host, not the port: the browser is still signed in on the new server.
        c.goto("/admin/people");
        c.wait_text("#people-list", "ivy@example.com");
        c.click("button[aria-label='Invite link for Ivy']");
        c.wait_for("dialog input.secret");
        c.check_page("invite-link");
        let invite = c.value("dialog input.secret");
        assert!(invite.starts_with(&format!("{}/auth/reset_password/", c.url)) && invite.ends_with("#new"), "{invite}");
        c.click_text("button", "Done");
        c.wait_gone("dialog");
        c.click("button[aria-label='Reset password of Rob Roe']");
        c.wait_for("dialog input.secret");
        let reset = c.value("dialog input.secret");
        assert!(!reset.ends_with("#new"), "{reset}");
        c.click_text("button", "Done");
        // The link Rob was emailed earlier was replaced by this one.
        let valid = |link: &str| {
            let token = link.rsplit('/').next().unwrap().trim_end_matches("#new").to_string();
            c.api("GET", &format!("/api/session/password_reset_token_valid?token={token}"), None, None).json()["valid"].clone()
        };
        assert_eq!(valid(&link), json!(false));
        assert_eq!(valid(&reset), json!(true));

        sign_out(&c);
        c.goto(&invite);
        c.wait_text("main h1", "Welcome to Acme");
        c.fill("input[name=password]", "n3w-Secret!");
        c.fill("input[name=password_confirm]", "n3w-Secret!");
        c.click_text("button", "Save password and sign in");
        c.wait_url(|p| p == "/account/profile");
        c.wait_text("header .me", "Ivy");
    }

    /// Keyboard only: the sign-in form is reached with Tab, shows where focus is, and submits with Enter.
    fn keyboard_only_sign_in(c) {
        c.server.setup("admin@example.com");
        c.goto("/auth/login");
        c.wait_for("input[name=username]");
        // The page opens with focus in its first field; before it only the skip link, which leads to the
        // page's main part, and Tab goes on from there through the form.
        c.wait_until("focus in the first field", || c.is_focused("input[name=username]"));
        c.press_shift_tab();
        assert!(c.focused().contains("Skip to content"), "{}", c.focused());
        c.press_enter();
        c.wait_until("focus on the main part", || c.is_focused("main"));
        c.press_tab();
        assert!(c.is_focused("input[name=username]"), "{}", c.focused());
        let outline = c.execute(
            "return getComputedStyle(document.activeElement).outlineStyle;",
            vec![],
        );
        assert_ne!(outline, json!("none"), "focus is visible");
        c.type_text("admin@example.com");
        c.press_tab();
        c.type_text(PASSWORD);
        c.press_enter();
        c.wait_url(|p| p == "/admin/people");
    }

    /// API keys, from Settings: an administrator creates a key in a group and copies it from the dialog that
    /// shows it once; it works as `X-Api-Key`; a second key of the same name gets the API's message by the
    /// field; renamed, the key keeps working; regenerated, the old key stops and the new one works; deleted,
    /// it stops.
    fn api_key_lifecycle(c) {
        let admin = c.server.setup("admin@example.com");
        add_group(&c, &admin, "Exporters");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.click_text("a", "Settings");
        c.wait_text("main h1", "General settings");
        c.click_text("a", "API keys");
        c.wait_url(|p| p == "/admin/settings/authentication/api-keys");
        c.wait_text("#api-keys-list", "There are no API keys yet.");

        c.click_text("button", "Create API key");
        c.wait_for("dialog input[name=name]");
        c.fill("dialog input[name=name]", "CI exporter");
        c.select("dialog select[name=group_id]", "Exporters");
        c.click_text("button", "Create");
        c.wait_for("dialog input.secret");
        c.wait_text("dialog", "This is the only time the key is shown.");
        c.check_page("api-key-created");
        let key = c.value("dialog input.secret");
        assert!(key.starts_with("mb_") && key.len() == 47, "{key}");
        c.click_text("button", "Copy");
        c.wait_until("the copy's status", || !c.text("dialog [role=status]").is_empty());
        c.click_text("button", "Done");
        c.wait_gone("dialog");
        let row = c.wait_text("#api-keys-list tbody tr", "CI exporter");
        assert!(row.contains("Exporters") && row.contains(&key[..7]), "{row}");
        assert!(!c.text("main").contains(&key), "the whole key is not on the page");
        let id = c.api("GET", "/api/api-key", Some(&admin), None).json()[0]["id"].as_i64().unwrap();
        assert_eq!(c.count(&format!("tr[data-id='{id}']")), 1);
        c.check_page("api-keys");
        let me = with_key(&c, "GET", "/api/user/current", &key);
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.json()["common_name"], json!("CI exporter"));

        // The API's refusal, by the field it names; the dialog stays open.
        c.click_text("button", "Create API key");
        c.wait_for("dialog input[name=name]");
        c.fill("dialog input[name=name]", "CI exporter");
        c.click_text("button", "Create");
        c.wait_text("dialog .field-error", "An API key with this name already exists.");
        assert_eq!(c.attr("dialog input[name=name]", "aria-invalid").as_deref(), Some("true"));
        c.press_escape();
        c.wait_gone("dialog");

        c.click("button[aria-label='Edit CI exporter']");
        c.wait_for("dialog input[name=name]");
        c.fill("dialog input[name=name]", "Nightly exporter");
        c.select("dialog select[name=group_id]", "All Users");
        c.click_text("button", "Save");
        c.wait_gone("dialog");
        let row = c.wait_text(&format!("tr[data-id='{id}']"), "Nightly exporter");
        assert!(row.contains("All Users"), "{row}");
        c.wait_text("#notice", "Saved the API key Nightly exporter.");
        let me = with_key(&c, "GET", "/api/user/current", &key);
        assert_eq!(me.json()["common_name"], json!("Nightly exporter"));

        c.click("button[aria-label='Regenerate Nightly exporter']");
        c.wait_for("dialog");
        c.click("dialog button.primary");
        c.wait_for("dialog input.secret");
        let fresh = c.value("dialog input.secret");
        assert!(fresh.starts_with("mb_") && fresh.len() == 47 && fresh != key, "{fresh}");
        c.click_text("button", "Done");
        c.wait_gone("dialog");
        c.wait_text(&format!("tr[data-id='{id}']"), &fresh[..7]);
        assert_eq!(with_key(&c, "GET", "/api/user/current", &key).status, 401, "the old key stops");
        assert_eq!(with_key(&c, "GET", "/api/user/current", &fresh).status, 200);
        // On a phone each key stacks as a card; nothing scrolls sideways.
        c.set_phone();
        c.wait_for("main[data-ready]");
        let overflow = c.execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        );
        assert!(overflow.as_i64().unwrap() <= 0, "scrolls sideways by {overflow}px");
        c.assert_accessible("phone api-keys");
        c.set_wide();

        c.click("button[aria-label='Delete Nightly exporter']");
        c.wait_for("dialog");
        c.click("dialog button.primary");
        c.wait_text("#api-keys-list", "There are no API keys yet.");
        c.wait_text("#notice", "Deleted the API key Nightly exporter.");
        assert_eq!(with_key(&c, "GET", "/api/user/current", &fresh).status, 401);
        c.assert_no_console_errors("api-keys after delete");
    }
}

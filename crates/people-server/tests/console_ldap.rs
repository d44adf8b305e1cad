//! The console's LDAP page end to end, in headless Chromium against the real binary, on SQLite and PostgreSQL:
//! against Metabase's test directory (a throwaway OpenLDAP slapd), the form filled, a group mapping added,
//! LDAP switched on and saved, shown again with the password masked, and a directory user signing in with
//! their username through the sign-in page and marked LDAP in the people list; settings the connection test
//! refuses shown by their fields and nothing saved; a group mapping with a bad DN shown by its DN; mappings and
//! their groups added and removed; settings fixed by their environment variables shown read-only; a
//! phone-sized window. Each page visited is also checked by axe-core and for console errors.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

use people_ldap::testing::{self as directory, Variant};
use serde_json::{json, Value};
use support::browser::Console;
use support::{free_port, people, temp_dir, Server, PASSWORD};

const LDAP_PAGE: &str = "/admin/settings/authentication/ldap";

/// A boolean property (`checked`, `disabled`) of the first element matching `selector`.
fn flag(c: &Console, selector: &str, property: &str) -> bool {
    c.execute(
        "return Boolean(document.querySelector(arguments[0])[arguments[1]]);",
        vec![json!(selector), json!(property)],
    )
    .as_bool()
    .unwrap()
}

/// The message shown by the field named `name`, as a screen reader reaches it: the field is marked invalid
/// and describes itself by the message (empty when there is none).
fn field_error(c: &Console, name: &str) -> String {
    c.execute(
        "const input = document.querySelector(`[name=\"${arguments[0]}\"]`);
         if (!input || input.getAttribute('aria-invalid') !== 'true') return '';
         const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
         const found = ids.map((id) => document.getElementById(id))
           .find((e) => e && e.classList.contains('field-error'));
         return found ? found.textContent : '';",
        vec![json!(name)],
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Waits until the field named `name` shows a message containing `expected`; returns the message.
fn wait_field_error(c: &Console, name: &str, expected: &str) -> String {
    let mut last = String::new();
    c.wait_until(&format!("{name}'s error {expected:?}"), || {
        last = field_error(c, name);
        last.contains(expected)
    });
    last
}

/// The `ldap-*` settings as GET /api/setting lists them, by key.
fn ldap_settings(c: &Console, session: &str) -> serde_json::Map<String, Value> {
    let r = c.api("GET", "/api/setting", Some(session), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["key"].as_str().unwrap().starts_with("ldap-"))
        .map(|s| (s["key"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

/// Makes a group through the API; its id.
fn make_group(c: &Console, session: &str, name: &str) -> i64 {
    let r = c.api(
        "POST",
        "/api/permissions/group",
        Some(session),
        Some(json!({"name": name})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

/// Opens the LDAP page from Settings and waits for its form.
fn open_ldap_page(c: &Console) {
    c.goto("/admin/settings");
    c.wait_text("main h1", "General settings");
    // The LDAP settings live on their page, not among the general ones.
    assert_eq!(c.count("[data-key^='ldap-']"), 0);
    c.click_text("a", "LDAP");
    c.wait_url(|p| p == LDAP_PAGE);
    c.wait_text("main h1", "LDAP");
    c.wait_for("form[aria-label='LDAP settings'] input[name='ldap-host']");
    assert_eq!(
        c.attr("nav[aria-label=Settings] a[aria-current=page]", "href")
            .as_deref(),
        Some(LDAP_PAGE)
    );
}

/// Adds a mapping from `dn` to the group named `group` with the mapping editor (the last mapping).
fn add_mapping(c: &Console, dn: &str, group: &str) {
    let before = c.count(".mapping");
    c.click_text("button", "Add a mapping");
    c.wait_until("a new mapping", || c.count(".mapping") == before + 1);
    let last = format!(".mapping:nth-child({})", before + 1);
    assert!(
        c.is_focused(&format!("{last} input.mapping-dn")),
        "the new DN field has the focus"
    );
    c.fill(&format!("{last} input.mapping-dn"), dn);
    c.select(&format!("{last} select.mapping-add"), group);
    c.click(&format!("{last} .add-group button"));
    c.wait_text(&format!("{last} .mapped-groups"), group);
}

crate::console_tests! {
    /// With Metabase's test directory: the form filled with its settings and a mapping from its Accounting
    /// group, LDAP switched on and saved (the connection test passes); the page shows the saved values again
    /// with the password masked, and saving them unchanged keeps the password. John Smith then signs in as
    /// `jsmith1` on the sign-in page, which asks for a username or an email address, gets his account and the
    /// mapped group, and the people list marks him LDAP.
    fn ldap_sign_in_with_a_directory(c) {
        let Some(slapd) = directory::start_or_skip(Variant::Plain) else {
            return;
        };
        let admin = c.server.setup("admin@example.com");
        let accounting = make_group(&c, &admin, "Accounting");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        open_ldap_page(&c);

        c.click("[name='ldap-enabled']");
        c.fill("[name='ldap-host']", slapd.host());
        c.fill("[name='ldap-port']", &slapd.port().to_string());
        c.click("input[name='ldap-security'][value='none']");
        c.fill("[name='ldap-bind-dn']", directory::ADMIN_DN);
        c.fill("[name='ldap-password']", directory::ADMIN_PASSWORD);
        c.fill("[name='ldap-user-base']", directory::BASE);
        c.click("[name='ldap-group-sync']");
        c.fill("[name='ldap-group-base']", directory::BASE);
        add_mapping(&c, directory::ACCOUNTING, "Accounting");
        c.check_page("ldap-filled");

        // The directory refuses a wrong bind password and a search base it does not have: said by the field.
        c.fill("[name='ldap-password']", "not the password");
        c.click_text("button", "Save changes");
        wait_field_error(&c, "ldap-password", "Password was incorrect");
        assert_eq!(ldap_settings(&c, &admin)["ldap-host"]["value"], Value::Null);
        c.fill("[name='ldap-password']", directory::ADMIN_PASSWORD);
        c.fill("[name='ldap-user-base']", "ou=Nobody,dc=metabase,dc=com");
        c.click_text("button", "Save changes");
        wait_field_error(&c, "ldap-user-base", "User search base does not exist or is unreadable");
        assert_eq!(field_error(&c, "ldap-password"), "");
        c.assert_accessible("ldap-wrong-base");
        c.fill("[name='ldap-user-base']", directory::BASE);
        c.click_text("button", "Save changes");
        c.wait_text("#notice", "Saved the LDAP settings.");

        let saved = ldap_settings(&c, &admin);
        assert_eq!(saved["ldap-enabled"]["value"], json!(true), "{saved:?}");
        assert_eq!(saved["ldap-host"]["value"], json!(slapd.host()));
        assert_eq!(saved["ldap-port"]["value"], json!(slapd.port()));
        assert_eq!(saved["ldap-password"]["value"], json!("**********rd"));
        assert_eq!(saved["ldap-user-base"]["value"], json!(directory::BASE));
        assert_eq!(saved["ldap-group-sync"]["value"], json!(true));
        assert_eq!(saved["ldap-group-mappings"]["value"], json!({directory::ACCOUNTING: [accounting]}));
        let props = c.api("GET", "/api/session/properties", None, None).json();
        assert_eq!(props["ldap-enabled"], json!(true));
        assert_eq!(props["ldap-configured?"], json!(true));

        // Drawn again from the API: the values saved, the password masked.
        c.wait_for("input[name='ldap-host']");
        assert_eq!(c.value("[name='ldap-host']"), slapd.host());
        assert_eq!(c.value("[name='ldap-port']"), slapd.port().to_string());
        assert_eq!(c.value("[name='ldap-password']"), "**********rd");
        assert_eq!(c.attr("[name='ldap-password']", "type").as_deref(), Some("password"));
        assert!(flag(&c, "[name='ldap-enabled']", "checked"));
        assert_eq!(c.value(".mapping input.mapping-dn"), directory::ACCOUNTING);
        assert_eq!(c.texts(".mapping .mapped-groups li span"), ["Accounting"]);
        c.check_page("ldap-saved");
        // Saved again as shown: the masked password stands for the stored one, which still binds.
        c.goto(LDAP_PAGE);
        c.wait_for("input[name='ldap-host']");
        c.click_text("button", "Save changes");
        c.wait_text("#notice", "Saved the LDAP settings.");
        assert_eq!(ldap_settings(&c, &admin)["ldap-password"]["value"], json!("**********rd"));

        // John Smith signs in with his directory username.
        c.click_text("button", "Sign out");
        c.wait_url(|p| p.starts_with("/auth/login"));
        c.goto("/auth/login");
        c.wait_text("form .field label", "Username or email address");
        assert_eq!(c.attr("input[name=username]", "type").as_deref(), Some("text"));
        c.check_page("ldap-sign-in");
        c.sign_in("jsmith1", "strongpassword", "/account/profile");
        c.wait_text("header .me", "John Smith");
        c.assert_no_console_errors("ldap user signed in");
        c.click_text("button", "Sign out");
        c.wait_url(|p| p.starts_with("/auth/login"));

        let listed = c.api("GET", "/api/user", Some(&admin), None).json();
        let john = listed["data"].as_array().unwrap().iter()
            .find(|u| u["email"] == json!("john.smith@metabase.com")).unwrap_or_else(|| panic!("{listed}")).clone();
        assert_eq!(john["sso_source"], json!("ldap"), "{john}");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        let row = format!("tr[data-user-id='{}']", john["id"]);
        c.wait_text(&row, "John Smith");
        c.wait_for(&format!("{row} .badge.ldap"));
        let label = c.execute(
            "return document.querySelector(arguments[0]).textContent;",
            vec![json!(format!("{row} .badge.ldap .visually-hidden"))],
        );
        assert_eq!(label, json!("Signs in through LDAP"));
        assert!(c.text(&format!("{row} .badge.ldap")).starts_with("LDAP"));
        assert!(c.text(&row).contains("Accounting"), "the mapped group: {}", c.text(&row));
        assert_eq!(c.count("tr .badge.ldap"), 1, "only the directory's people are marked");
        c.check_page("ldap-people");
    }

    /// Without a directory: the sign-in page asks for an email address; the LDAP page's connection test fails
    /// on a closed port and says so by the host and the port, saving nothing; a mapping whose DN is not a DN is
    /// refused by that DN; groups and mappings are removed again in the editor.
    fn ldap_settings_refused(c) {
        let admin = c.server.setup("admin@example.com");
        make_group(&c, &admin, "Accounting");
        let before = ldap_settings(&c, &admin);
        assert_eq!(before["ldap-host"]["value"], Value::Null, "{before:?}");

        // LDAP is off: the sign-in page is unchanged.
        c.goto("/auth/login");
        c.wait_for("input[name=username]");
        assert_eq!(c.attr("input[name=username]", "type").as_deref(), Some("email"));
        assert_eq!(c.text("form .field label"), "Email address");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");

        open_ldap_page(&c);
        assert!(!flag(&c, "[name='ldap-enabled']", "checked"));
        assert_eq!(c.attr("[name='ldap-enabled']", "role").as_deref(), Some("switch"));
        assert_eq!(c.text(".mapping-list"), "There are no mappings.");
        // All Users is never synchronised, so it is not offered; Administrators is.
        c.click_text("button", "Add a mapping");
        c.wait_for(".mapping select.mapping-add");
        let offered: Vec<String> = serde_json::from_value(c.execute(
            "return [...document.querySelectorAll('.mapping select.mapping-add option')].map((o) => o.textContent);",
            vec![],
        ))
        .unwrap();
        assert!(offered.iter().any(|o| o == "Administrators"), "{offered:?}");
        assert!(offered.iter().any(|o| o == "Accounting"), "{offered:?}");
        assert!(!offered.iter().any(|o| o == "All Users"), "{offered:?}");
        c.click_text("button", "Remove mapping");
        c.wait_text(".mapping-list", "There are no mappings.");
        c.check_page("ldap-empty");

        // A closed port: the connection test fails, and says where.
        let closed = free_port();
        c.fill("[name='ldap-host']", "127.0.0.1");
        c.fill("[name='ldap-port']", &closed.to_string());
        c.click("input[name='ldap-security'][value='none']");
        c.fill("[name='ldap-bind-dn']", "cn=Directory Manager");
        c.fill("[name='ldap-password']", "password");
        c.fill("[name='ldap-user-base']", "dc=metabase,dc=com");
        c.click("[name='ldap-enabled']");
        c.wait_text("[name='ldap-enabled'] ~ .switch-state", "On");
        c.click_text("button", "Save changes");
        wait_field_error(&c, "ldap-host", "Wrong host or port");
        wait_field_error(&c, "ldap-port", "Wrong host or port");
        assert!(c.is_focused("[name='ldap-host']"), "the first field in error has the focus");
        // What was typed stays, to be corrected.
        assert_eq!(c.value("[name='ldap-host']"), "127.0.0.1");
        c.check_page("ldap-refused");
        let after = ldap_settings(&c, &admin);
        for key in ["ldap-host", "ldap-port", "ldap-bind-dn", "ldap-password", "ldap-user-base", "ldap-enabled"] {
            assert_eq!(after[key]["value"], before[key]["value"], "{key} was not saved: {after:?}");
        }

        // A mapping whose DN is not one: refused by that DN, before any connection is tried.
        add_mapping(&c, "cn=Accounting,ou=Groups,dc=metabase,dc=com", "Accounting");
        add_mapping(&c, "not a DN", "Administrators");
        c.check_page("ldap-mappings");
        c.click_text("button", "Save changes");
        let message = wait_field_error(&c, "mapping-dn-1", "not a DN");
        assert_eq!(field_error(&c, "mapping-dn-0"), "", "only the bad DN is marked ({message})");
        assert_eq!(field_error(&c, "ldap-host"), "", "the old errors are gone");
        c.assert_accessible("ldap-bad-mapping");
        let after = ldap_settings(&c, &admin);
        assert_eq!(after["ldap-group-mappings"]["value"], before["ldap-group-mappings"]["value"]);

        // A mapping's group removed, then the mapping itself.
        c.click("button[aria-label='Remove Administrators from mapping 2']");
        c.wait_text(".mapping:nth-child(2)", "No group yet.");
        assert!(c.is_focused(".mapping:nth-child(2) select.mapping-add"), "the focus stays in the mapping");
        c.click("button[aria-label='Remove mapping 2']");
        c.wait_until("one mapping", || c.count(".mapping") == 1);
        assert!(c.is_focused("button.add-mapping"));
        assert_eq!(c.value(".mapping input.mapping-dn"), "cn=Accounting,ou=Groups,dc=metabase,dc=com");
        c.assert_no_console_errors("ldap after the refusals");
    }

    /// Settings fixed by their environment variables are shown read-only, naming the variable, and are not
    /// sent; with MB_LDAP_ENABLED the sign-in page asks for a username or an email address, and a person the
    /// (unreachable) directory cannot check signs in with the password stored here.
    fn ldap_settings_from_the_environment(c) {
        let mut c = c;
        c.server.setup("admin@example.com");
        let closed = free_port();
        // The same database served again with MB_LDAP_* set.
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut cmd = people(&temp_dir());
        cmd.env("MB_JETTY_PORT", port.to_string())
            .env("MB_DB_CONNECTION_URI", &c.database_url)
            .env("MB_SITE_URL", &url)
            .env("MB_LDAP_ENABLED", "true")
            .env("MB_LDAP_HOST", "127.0.0.1")
            .env("MB_LDAP_PORT", closed.to_string())
            .env("MB_LDAP_USER_BASE", "dc=metabase,dc=com");
        let old = std::mem::replace(&mut c.server, Server { child: cmd.spawn().unwrap(), port });
        drop(old);
        c.server.wait_healthy();
        c.browser.set_base(&url);
        c.url = url;
        let props = c.api("GET", "/api/session/properties", None, None).json();
        assert_eq!(props["ldap-enabled"], json!(true), "{props}");

        c.goto("/auth/login");
        c.wait_for("input[name=username]");
        assert_eq!(c.text("form .field label"), "Username or email address");
        assert_eq!(c.attr("input[name=username]", "type").as_deref(), Some("text"));
        c.check_page("ldap-sign-in");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        let admin = c.server.login("admin@example.com");

        open_ldap_page(&c);
        let fixed = [
            ("ldap-host", "MB_LDAP_HOST"),
            ("ldap-port", "MB_LDAP_PORT"),
            ("ldap-user-base", "MB_LDAP_USER_BASE"),
            ("ldap-enabled", "MB_LDAP_ENABLED"),
        ];
        for (name, variable) in fixed {
            let selector = format!("[name='{name}']");
            assert!(flag(&c, &selector, "disabled"), "{name} is read-only");
            let hint = c.execute(
                "const i = document.querySelector(arguments[0]);
                 return (i.getAttribute('aria-describedby') || '').split(' ').map((id) => document.getElementById(id))
                   .filter(Boolean).map((e) => e.textContent).join(' ');",
                vec![json!(selector)],
            );
            assert!(hint.as_str().unwrap().contains(variable), "{name}: {hint}");
        }
        assert_eq!(c.value("[name='ldap-host']"), "127.0.0.1");
        assert_eq!(c.value("[name='ldap-port']"), closed.to_string());
        assert!(flag(&c, "[name='ldap-enabled']", "checked"));
        assert!(!flag(&c, "[name='ldap-bind-dn']", "disabled"));
        c.check_page("ldap-environment");

        // The rest is sent and tested with the environment's host and port, which the test cannot reach.
        c.fill("[name='ldap-bind-dn']", "cn=Directory Manager");
        c.click_text("button", "Save changes");
        wait_field_error(&c, "ldap-host", "Wrong host or port");
        let after = ldap_settings(&c, &admin);
        assert_eq!(after["ldap-bind-dn"]["value"], Value::Null, "{after:?}");
        c.assert_no_console_errors("ldap-environment after saving");
    }

    /// Someone who is not an administrator opening the page sees the API's refusal instead of the form.
    fn ldap_refused_to_others(c) {
        let admin = c.server.setup("admin@example.com");
        let body = json!({"email": "pat@example.com", "first_name": "Pat", "password": PASSWORD});
        let r = c.api("POST", "/api/user", Some(&admin), Some(body));
        assert_eq!(r.status, 200, "{}", r.body);
        c.sign_in("pat@example.com", PASSWORD, "/account/profile");
        c.goto(LDAP_PAGE);
        c.wait_text("main [role=alert]", "You don't have permissions to do that.");
        assert_eq!(c.count("form[aria-label='LDAP settings']"), 0);
        c.check_page("ldap refused");
    }

    /// A phone-sized window: the page with a mapping fits its width and axe finds nothing serious.
    fn ldap_on_a_phone(c) {
        let admin = c.server.setup("admin@example.com");
        make_group(&c, &admin, "Accounting with a rather long name for a phone");
        c.set_phone();
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.goto(LDAP_PAGE);
        c.wait_for("input[name='ldap-host']");
        add_mapping(&c, "cn=Accounting,ou=Groups,dc=metabase,dc=com", "Accounting with a rather long name for a phone");
        add_mapping(&c, "cn=Engineering,ou=Groups,dc=metabase,dc=com", "Administrators");
        assert!(c.overflow() <= 0, "scrolls sideways by {}px", c.overflow());
        c.fill("[name='ldap-host']", "127.0.0.1");
        c.fill("[name='ldap-port']", &free_port().to_string());
        c.fill("[name='ldap-user-base']", "dc=metabase,dc=com");
        c.click_text("button", "Save changes");
        wait_field_error(&c, "ldap-port", "Wrong host or port");
        assert!(c.overflow() <= 0, "with errors, scrolls sideways by {}px", c.overflow());
        c.check_page("phone ldap");
    }
}

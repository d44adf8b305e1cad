//! The console's SCIM provisioning page end to end, in headless Chromium against the real binary, on SQLite
//! and PostgreSQL: SCIM switched on, a token generated and read from the dialog that shows it once, used by an
//! identity provider's real HTTP requests, regenerated (the old token refused at once); a person the identity
//! provider creates marked SCIM in the people list; refusals shown in the API's words; a phone-sized window.
//! Each page visited is also checked by axe-core and for console errors.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::browser::Console;
use support::{Resp, PASSWORD};

const SCIM_PAGE: &str = "/admin/settings/authentication/scim";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A request under `/api/ee/scim/v2` with `Authorization: Bearer <token>`, as an identity provider sends it.
fn scim(c: &Console, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} /api/ee/scim/v2{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n\
         Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    support::raw(c.server.port, request.as_bytes(), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

/// Reads the token from the dialog that shows it once, and closes the dialog.
fn token_from_dialog(c: &Console) -> String {
    c.wait_for("dialog input.secret");
    c.wait_text("dialog", "This is the only time the token is shown.");
    let token = c.value("dialog input.secret");
    assert!(token.starts_with("mb_") && token.len() == 47, "{token}");
    token
}

fn close_dialog(c: &Console) {
    c.click_text("button", "Done");
    c.wait_gone("dialog");
}

crate::console_tests! {
    /// From Settings: SCIM switched on, a token generated and copied from the dialog, the identity provider's
    /// requests answered with it; regenerated after a confirmation, the old token refused and the new one
    /// answered; a person the provider creates is marked SCIM in the people list; switched off, the provider
    /// is refused.
    fn scim_provisioning(c) {
        let admin = c.server.setup("admin@example.com");
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.click_text("a", "Settings");
        c.wait_text("main h1", "General settings");
        // The SCIM settings live on their page, not among the general ones.
        assert_eq!(c.count("[data-key='scim-enabled'], [data-key='scim-base-url']"), 0);
        c.click_text("a", "SCIM provisioning");
        c.wait_url(|p| p == SCIM_PAGE);
        c.wait_text("main h1", "SCIM provisioning");
        c.wait_text(".scim-token", "There is no SCIM token yet.");
        assert_eq!(c.attr("nav[aria-label=Settings] a[aria-current=page]", "href").as_deref(), Some(SCIM_PAGE));
        let endpoint = c.value(".scim-page input.secret");
        assert_eq!(endpoint, format!("{}/api/ee/scim/v2", c.url));
        let setting = c.api("GET", "/api/setting/scim-base-url", Some(&admin), None).json();
        assert_eq!(setting, json!(endpoint));
        assert!(!c.execute("return document.querySelector('#scim-enabled').checked", vec![]).as_bool().unwrap());
        assert_eq!(c.attr("#scim-enabled", "role").as_deref(), Some("switch"));
        c.assert_accessible("scim-off");
        c.assert_no_console_errors("scim-off");

        c.click("#scim-enabled");
        c.wait_text("#notice", "SCIM provisioning is on.");
        c.wait_text(".switch-state", "On");
        let on = c.api("GET", "/api/setting/scim-enabled", Some(&admin), None).json();
        assert_eq!(on, json!(true));

        c.click_text("button", "Generate token");
        let token = token_from_dialog(&c);
        c.check_page("scim-token-created");
        c.click("dialog .field button");
        c.wait_until("the copy's status", || !c.text("dialog [role=status]").is_empty());
        close_dialog(&c);
        c.wait_text("#notice", "Generated the SCIM token.");
        let record = c.wait_text(".scim-token", &token[..7]);
        assert!(record.contains("Created"), "{record}");
        assert!(!c.text("main").contains(&token), "the whole token is not on the page");
        c.wait_for(".scim-token button");
        assert_eq!(c.text(".scim-token button"), "Regenerate token");
        c.check_page("scim");
        let users = scim(&c, "GET", "/Users", &token, None);
        assert_eq!(users.status, 200, "{}", users.body);
        assert_eq!(users.json()["totalResults"], json!(1), "{}", users.body);

        // Regenerating asks first; declined, nothing changes.
        c.click_text("button", "Regenerate token");
        c.wait_text("dialog", "stops working at once");
        c.click_text("button", "Cancel");
        c.wait_gone("dialog");
        assert_eq!(scim(&c, "GET", "/Users", &token, None).status, 200);
        c.click_text("button", "Regenerate token");
        c.wait_for("dialog");
        c.click("dialog button.primary");
        let fresh = token_from_dialog(&c);
        assert_ne!(fresh, token);
        close_dialog(&c);
        c.wait_text(".scim-token", &fresh[..7]);
        assert_eq!(scim(&c, "GET", "/Users", &token, None).status, 401, "the old token stops");
        assert_eq!(scim(&c, "GET", "/Users", &fresh, None).status, 200);

        // The identity provider creates someone: the people list marks them.
        let body = json!({
            "schemas": [USER_URN],
            "userName": "sam@example.com",
            "name": {"givenName": "Sam", "familyName": "Provisioned"},
            "externalId": "00u1sam",
            "active": true
        });
        let made = scim(&c, "POST", "/Users", &fresh, Some(body));
        assert_eq!(made.status, 201, "{}", made.body);
        let ann = c.api("POST", "/api/user", Some(&admin),
            Some(json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Added", "password": PASSWORD})));
        assert_eq!(ann.status, 200, "{}", ann.body);
        let listed = c.api("GET", "/api/user", Some(&admin), None).json();
        let sam = listed["data"].as_array().unwrap().iter().find(|u| u["email"] == json!("sam@example.com")).unwrap().clone();
        assert_eq!(sam["sso_source"], json!("scim"));
        c.click_text("a", "People");
        c.wait_text("#people-list", "sam@example.com");
        let row = format!("tr[data-user-id='{}']", sam["id"]);
        c.wait_for(&format!("{row} .badge.scim"));
        let label = c.execute(
            "return document.querySelector(arguments[0]).textContent;",
            vec![json!(format!("{row} .badge.scim .visually-hidden"))],
        );
        assert_eq!(label, json!("Managed by SCIM"));
        assert!(c.text(&format!("{row} .badge.scim")).starts_with("SCIM"));
        let ann_row = format!("tr[data-user-id='{}']", ann.json()["id"]);
        c.wait_text(&ann_row, "ann@example.com");
        assert_eq!(c.count(&format!("{ann_row} .badge.scim")), 0, "only SCIM's people are marked");
        c.check_page("scim-people");

        // Switched off: the provider is refused whatever it sends.
        c.goto(SCIM_PAGE);
        c.wait_text(".switch-state", "On");
        c.click("#scim-enabled");
        c.wait_text("#notice", "SCIM provisioning is off.");
        c.wait_text(".switch-state", "Off");
        assert_eq!(scim(&c, "GET", "/Users", &fresh, None).status, 401);
        assert_eq!(c.api("GET", "/api/setting/scim-enabled", Some(&admin), None).json(), json!(false));
        c.assert_no_console_errors("scim after switching off");
    }

    /// Refusals in the API's words: a plain user opening the page sees the API's refusal as the page; an
    /// administrator who loses the right while the page is open sees the API's text by the switch (put back)
    /// and by the token's button.
    fn scim_refusals(c) {
        let admin = c.server.setup("admin@example.com");
        let r = c.api("POST", "/api/user", Some(&admin), Some(json!({
            "email": "bo@example.com", "first_name": "Bo", "password": PASSWORD,
            "user_group_memberships": [{"id": 1}, {"id": 2}]
        })));
        assert_eq!(r.status, 200, "{}", r.body);
        let bo = r.json()["id"].as_i64().unwrap();
        let r = c.api("POST", "/api/user", Some(&admin),
            Some(json!({"email": "pat@example.com", "first_name": "Pat", "password": PASSWORD})));
        assert_eq!(r.status, 200, "{}", r.body);

        c.sign_in("pat@example.com", PASSWORD, "/account/profile");
        c.goto(SCIM_PAGE);
        c.wait_text("main [role=alert]", "You don't have permissions to do that.");
        c.assert_accessible("scim refused");
        c.click_text("button", "Sign out");
        c.wait_url(|p| p.starts_with("/auth/login"));
        c.wait_for("input[name=username]");

        c.sign_in("bo@example.com", PASSWORD, "/admin/people");
        c.goto(SCIM_PAGE);
        c.wait_text(".scim-token", "There is no SCIM token yet.");
        let r = c.api("PUT", &format!("/api/user/{bo}"), Some(&admin), Some(json!({"is_superuser": false})));
        assert_eq!(r.status, 200, "{}", r.body);

        c.click("#scim-enabled");
        c.wait_text(".scim-page .panel [role=alert]", "You don't have permissions to do that.");
        assert!(!c.execute("return document.querySelector('#scim-enabled').checked", vec![]).as_bool().unwrap(),
            "the switch is put back");
        assert_eq!(c.text(".switch-state"), "Off");
        c.click_text("button", "Generate token");
        c.wait_text(".scim-token [role=alert]", "You don't have permissions to do that.");
        c.assert_accessible("scim refusals");
        let r = c.api("GET", "/api/ee/scim/api_key", Some(&admin), None);
        assert_eq!(r.status, 404, "no token was made: {}", r.body);
        assert_eq!(c.api("GET", "/api/setting/scim-enabled", Some(&admin), None).json(), json!(false));
    }

    /// A phone-sized window: the page fits its width, the token dialog too, and axe finds nothing serious.
    fn scim_on_a_phone(c) {
        let admin = c.server.setup("admin@example.com");
        let r = c.api("POST", "/api/ee/scim/api_key", Some(&admin), Some(json!({})));
        assert_eq!(r.status, 200, "{}", r.body);
        c.set_phone();
        c.sign_in("admin@example.com", PASSWORD, "/admin/people");
        c.goto(SCIM_PAGE);
        c.wait_text(".scim-token", "Created");
        assert!(c.overflow() <= 0, "scrolls sideways by {}px", c.overflow());
        c.assert_accessible("phone scim");
        c.click_text("button", "Regenerate token");
        c.wait_for("dialog");
        c.click("dialog button.primary");
        token_from_dialog(&c);
        assert!(c.overflow() <= 0, "the dialog scrolls sideways by {}px", c.overflow());
        c.assert_accessible("phone scim token");
        close_dialog(&c);
        c.assert_no_console_errors("phone scim");
    }
}

//! The web console in a real browser: headless Chromium through chromedriver against the real binary, on
//! SQLite and PostgreSQL (`tests/support/browser.rs`). Screenshots for the docs:
//! `PEOPLE_CONSOLE_SCREENSHOTS=$PWD/docs/console cargo test -p people-server --test console`.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

console_tests! {
    /// The harness end to end: the binary serves the sign-in page, the browser renders it under the page's
    /// CSP without a console error, and axe finds nothing serious.
    fn console_smoke(c) {
        c.server.setup("admin@example.com");
        c.goto("/auth/login");
        c.wait_for("main h1");
        assert_eq!(c.text("main h1"), "Sign in to Acme");
        assert!(c.path().starts_with("/auth/login"), "{}", c.path());
        c.assert_accessible("login");
        c.assert_no_console_errors("login");
        c.screenshot("login");
        c.set_phone();
        assert_eq!(c.execute("return window.innerWidth", vec![]), 390);
        c.assert_accessible("login (phone)");
        c.screenshot("login-phone");
    }
}

/// The harness itself: its checks fail on the faults they exist for (so a passing scenario means something).
mod harness {
    use super::support::browser::{not_run, unavailable, Browser};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// The message of the panic `f` must raise.
    fn panic_message(f: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the check did not fail");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    #[test]
    fn checks_fail_on_csp_violations_and_serious_accessibility_faults() {
        if let Some(why) = unavailable() {
            not_run(
                "harness::checks_fail_on_csp_violations_and_serious_accessibility_faults",
                why,
            );
            return;
        }
        let b = Browser::start();
        b.goto(
            "data:text/html,<!doctype html><html lang=en>\
             <meta http-equiv=Content-Security-Policy content=\"script-src 'none'\">\
             <title>Faulty</title><main><h1>Faulty</h1><img src=data:,><button></button></main>\
             <script>document.title = 'ran'</script>",
        );
        b.wait_for("main h1");
        let csp = panic_message(|| b.assert_no_console_errors("faulty"));
        assert!(
            csp.contains("[security]") && csp.contains("Content Security Policy"),
            "{csp}"
        );
        let axe = panic_message(|| b.assert_accessible("faulty"));
        assert!(
            axe.contains("image-alt") && axe.contains("button-name"),
            "{axe}"
        );

        b.goto(
            "data:text/html,<!doctype html><html lang=en><title>Fine</title>\
             <main><h1>Fine</h1><button>Save</button></main>",
        );
        b.wait_for("main h1");
        b.assert_no_console_errors("fine");
        b.assert_accessible("fine");
        b.click_text("button", "Save");
        assert!(b.path().starts_with("data:"), "{}", b.path());
    }
}

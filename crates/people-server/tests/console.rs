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
    }
}

//! Browser tests of the web console: headless Chromium driven through WebDriver (chromedriver) against the real
//! `people` binary.
//!
//! * [`Browser`]: one chromedriver and one Chromium with a fresh profile, behind blocking methods (`goto`,
//!   `fill`, `click`, `wait_for`, …) so that scenario tests are plain `#[test] fn`s. Every WebDriver call has a
//!   timeout ([`COMMAND_TIMEOUT`]) and every wait polls for at most [`WAIT`], so a hung browser fails the test
//!   instead of hanging CI.
//! * [`Console`]: the binary (SQLite or PostgreSQL) with an SMTP catcher and a browser pointed at it.
//! * [`console_tests!`](crate::console_tests): defines a test as `sqlite::name` and `postgres::name`; each
//!   prints why it did not run and passes when chromedriver/Chromium or PostgreSQL is missing — `.ci/run`
//!   fails the build on those lines.
//! * Viewports: [`WIDE`] by default, [`Browser::set_phone`] / [`Browser::set_wide`] / [`Browser::resize`] set
//!   it exactly through Chromium's device-metrics override.
//! * Checks: [`Browser::assert_accessible`] (axe-core, vendored in `tests/console/`, injected through WebDriver
//!   so the page's CSP does not apply to it), [`Browser::assert_no_console_errors`] (chromedriver's browser
//!   log, `goog:loggingPrefs`, rather than a listener injected after load, which would miss what happens
//!   while the page loads: CSP violations, JS errors, failed loads), [`Browser::screenshot`] (only when
//!   `PEOPLE_CONSOLE_SCREENSHOTS` is set).
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use people_mailer::testing::SmtpSink;
use serde_json::{json, Value};

use super::{free_port, people, temp_dir, PgDb, Server};

/// Longest time one WebDriver command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `wait_*` helpers poll before they fail.
pub const WAIT: Duration = Duration::from_secs(10);
/// Viewport of a desktop browser (CSS pixels).
pub const WIDE: (u32, u32) = (1280, 900);
/// Viewport of a phone (CSS pixels), for the narrow layout.
pub const PHONE: (u32, u32) = (390, 844);
/// Environment variable: a directory to write screenshots to (unset: screenshots are skipped).
pub const SCREENSHOTS_ENV: &str = "PEOPLE_CONSOLE_SCREENSHOTS";

const POLL: Duration = Duration::from_millis(50);
const AXE: &str = include_str!("../console/axe.min.js");
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// chromedriver: `$CHROMEDRIVER`, else `/usr/bin/chromedriver`; `None` when that file does not exist.
pub fn chromedriver() -> Option<PathBuf> {
    let p = PathBuf::from(
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
    );
    p.exists().then_some(p)
}

/// Chromium: `$CHROMIUM`, else `/usr/bin/chromium`; `None` when that file does not exist.
pub fn chromium() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    p.exists().then_some(p)
}

/// Why browser tests cannot run here, if they cannot: the message after "not run: ".
pub fn unavailable() -> Option<&'static str> {
    if chromedriver().is_none() {
        Some("chromedriver not found (.ci/run installs chromium and chromium-driver)")
    } else if chromium().is_none() {
        Some("chromium not found (.ci/run installs chromium and chromium-driver)")
    } else {
        None
    }
}

/// Prints `<test> not run: <why>` straight to the process's stderr. `eprintln!` would be captured by the
/// test harness and never reach the log that `.ci/run` searches.
pub fn not_run(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "{test} not run: {why}");
}

/// One entry of the browser's console log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// Where it came from: `security` (CSP), `javascript`, `console-api`, `network`, …
    pub source: String,
    /// The text, starting with the URL it concerns.
    pub message: String,
}

impl LogEntry {
    /// An error that a page must not produce: every SEVERE entry except an HTTP error answer to an `/api/`
    /// call (pages show those as messages; many tests provoke them on purpose).
    pub fn is_error(&self) -> bool {
        self.level == "SEVERE"
            && !(self.source == "network"
                && self.message.contains("/api/")
                && self
                    .message
                    .contains("the server responded with a status of"))
    }
}

/// A headless Chromium behind its own chromedriver, driven with blocking calls.
///
/// Each `Browser` has its own chromedriver process, Chromium profile directory and current-thread tokio
/// runtime; dropping it ends the session, stops chromedriver (and Chromium, by its process id, should it
/// survive) and removes the profile.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Driver,
    driver_port: u16,
    session: String,
    chrome_pid: Option<u32>,
    base: String,
}

/// The chromedriver process and the directory with the profile and its log: stopped and removed on drop, also
/// when `Browser::start` fails half-way.
struct Driver {
    child: Child,
    dir: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Browser {
    /// Starts chromedriver and Chromium with a [`WIDE`] viewport. Panics when they are missing (check
    /// [`unavailable`] first) or do not come up within 30 s.
    pub fn start() -> Browser {
        let driver_path = chromedriver().expect("chromedriver not found");
        let chrome = chromium().expect("chromium not found");
        let dir = temp_dir();
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
        let driver_port = free_port();
        let child = Command::new(&driver_path)
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let mut driver = Driver {
            child,
            dir: dir.clone(),
        };
        let started = Instant::now();
        loop {
            let ready = driver_http(driver_port, "GET", "/status", None, POLL * 4)
                .is_some_and(|(status, body)| status == 200 && body["value"]["ready"] == true);
            if ready {
                break;
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited: {status}\n{}",
                    tail(&dir.join("chromedriver.log"))
                );
            }
            if started.elapsed() > Duration::from_secs(15) {
                panic!(
                    "chromedriver did not answer on /status within 15 s\n{}",
                    tail(&dir.join("chromedriver.log"))
                );
            }
            std::thread::sleep(POLL);
        }

        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", WIDE.0, WIDE.1));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chrome, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            // Shorter than COMMAND_TIMEOUT: chromedriver's own error, naming what hung, comes first.
            "timeouts": {"implicit": 0, "pageLoad": 15_000, "script": 15_000},
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let connected = within(&rt, Duration::from_secs(30), async {
            ClientBuilder::new(connector)
                .capabilities(caps.as_object().unwrap().clone())
                .connect(&format!("http://127.0.0.1:{driver_port}"))
                .await
        });
        let client = match connected {
            Ok(Ok(c)) => c,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no session within 30 s".into(),
                };
                panic!(
                    "cannot start Chromium: {why}\n{}",
                    tail(&dir.join("chromedriver.log"))
                );
            }
        };
        let chrome_pid = client
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok());
        let session = rt
            .block_on(client.session_id())
            .ok()
            .flatten()
            .unwrap_or_default();
        let b = Browser {
            rt,
            client: Some(client),
            driver,
            driver_port,
            session,
            chrome_pid,
            base: String::new(),
        };
        b.resize(WIDE.0, WIDE.1);
        b
    }

    /// [`Browser::start`] with a [`PHONE`] viewport ([`Browser::set_phone`]).
    pub fn phone() -> Browser {
        let b = Browser::start();
        b.set_phone();
        b
    }

    /// Switches to the [`PHONE`] viewport, with scrollbars hidden as a phone overlays them (else a desktop
    /// scrollbar would take 15 of the 390 pixels).
    pub fn set_phone(&self) {
        self.cdp("Emulation.setScrollbarsHidden", json!({"hidden": true}));
        self.resize(PHONE.0, PHONE.1);
    }

    /// Switches to the [`WIDE`] viewport, with scrollbars.
    pub fn set_wide(&self) {
        self.cdp("Emulation.setScrollbarsHidden", json!({"hidden": false}));
        self.resize(WIDE.0, WIDE.1);
    }

    /// Sets the viewport (what CSS media queries, layout and screenshots see) to `width` x `height` CSS
    /// pixels, exactly: through Chromium's device-metrics override (CDP `Emulation.setDeviceMetricsOverride`),
    /// since resizing the headless window is asynchronous and its size includes an invisible frame. It lasts
    /// across navigations.
    pub fn resize(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
                "screenWidth": width, "screenHeight": height,
            }),
        );
        let want = json!([width, height]);
        self.wait_until(&format!("a {width}x{height} viewport"), || {
            self.execute("return [window.innerWidth, window.innerHeight]", vec![]) == want
        });
    }

    /// Sends the Chrome DevTools Protocol command `cmd` through chromedriver (`/goog/cdp/execute`) and
    /// returns its result: for what WebDriver has no command for.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        let path = format!("/session/{}/goog/cdp/execute", self.session);
        let (status, body) = driver_http(
            self.driver_port,
            "POST",
            &path,
            Some(&json!({"cmd": cmd, "params": params})),
            COMMAND_TIMEOUT,
        )
        .unwrap_or_else(|| panic!("{cmd}: no answer from chromedriver"));
        assert_eq!(status, 200, "{cmd}: {body}");
        body["value"].clone()
    }

    /// The URL that relative paths in [`Browser::goto`] are resolved against (the server's, for a
    /// [`Console`]).
    pub fn set_base(&mut self, url: &str) {
        self.base = url.trim_end_matches('/').to_string();
    }

    /// Opens `path` (`/auth/login`: on the base URL; or an absolute URL) and waits for the load event.
    pub fn goto(&self, path: &str) {
        let url = if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            path.to_string()
        };
        let c = self.client();
        self.run(&format!("goto {url}"), c.goto(&url));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        let c = self.client();
        self.run("current url", c.current_url()).to_string()
    }

    /// The current URL without the base: `/admin/people?x=1` (the whole URL when it is elsewhere).
    pub fn path(&self) -> String {
        let url = self.url();
        match url.strip_prefix(&self.base) {
            Some(rest) if !self.base.is_empty() => {
                if rest.is_empty() {
                    "/".into()
                } else {
                    rest.into()
                }
            }
            _ => url,
        }
    }

    /// Polls until `pred(path)` holds ([`Browser::path`]: `/admin/people?x=1`); returns that path.
    pub fn wait_url(&self, pred: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        self.wait_until("the URL to match", || {
            last = self.path();
            pred(&last)
        });
        last
    }

    /// Polls until `check` returns true; panics after [`WAIT`] with `what`, the URL and the page's markup.
    pub fn wait_until(&self, what: &str, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if check() {
                return;
            }
            if start.elapsed() > WAIT {
                self.fail(&format!("timed out after {WAIT:?} waiting for {what}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until an element matching the CSS `selector` is displayed (hidden matches do not count).
    pub fn wait_for(&self, selector: &str) {
        self.wait_until(&format!("`{selector}` to be displayed"), || {
            self.visible_count(selector) > 0
        });
    }

    /// Waits until no element matching `selector` is displayed.
    pub fn wait_gone(&self, selector: &str) {
        self.wait_until(&format!("`{selector}` to disappear"), || {
            self.visible_count(selector) == 0
        });
    }

    /// Waits until the first displayed `selector` shows text containing `expected`; returns its whole text.
    pub fn wait_text(&self, selector: &str, expected: &str) -> String {
        let mut last = String::new();
        self.wait_until(&format!("`{selector}` to contain {expected:?}"), || {
            last = self.texts(selector).into_iter().next().unwrap_or_default();
            last.contains(expected)
        });
        last
    }

    /// Whether an element matching `selector` is displayed now (no waiting).
    pub fn exists(&self, selector: &str) -> bool {
        self.visible_count(selector) > 0
    }

    /// How many elements match `selector` now, displayed or not (no waiting).
    pub fn count(&self, selector: &str) -> usize {
        let n = self.execute(
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(selector)],
        );
        n.as_u64().unwrap_or(0) as usize
    }

    /// The rendered text of the first displayed `selector`, after waiting for it.
    pub fn text(&self, selector: &str) -> String {
        self.wait_for(selector);
        self.texts(selector).into_iter().next().unwrap_or_default()
    }

    /// The rendered text of every displayed `selector` (table cells, list items), now.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let v = self.execute(
            "return [...document.querySelectorAll(arguments[0])]
                .filter(e => e.getClientRects().length > 0)
                .map(e => e.innerText.trim())",
            vec![json!(selector)],
        );
        serde_json::from_value(v).unwrap_or_default()
    }

    /// The current `value` of the first displayed form field `selector`, after waiting for it.
    pub fn value(&self, selector: &str) -> String {
        let e = self.element(selector);
        self.run("read value", e.prop("value")).unwrap_or_default()
    }

    /// Attribute `name` of the first displayed `selector`, after waiting for it.
    pub fn attr(&self, selector: &str, name: &str) -> Option<String> {
        let e = self.element(selector);
        self.run(&format!("read attribute {name}"), e.attr(name))
    }

    /// Replaces the value of the form field `selector` with `text`, typing it like a user (after waiting for
    /// the field).
    pub fn fill(&self, selector: &str, text: &str) {
        let e = self.element(selector);
        self.run(&format!("clear `{selector}`"), e.clear());
        self.run(&format!("type into `{selector}`"), e.send_keys(text));
    }

    /// Chooses the option labelled `label` in the `<select>` `selector`.
    pub fn select(&self, selector: &str, label: &str) {
        let e = self.element(selector);
        self.run(
            &format!("select {label:?} in `{selector}`"),
            e.select_by_label(label),
        );
    }

    /// Clicks the first displayed `selector`, waiting until it exists and is clickable (not covered).
    pub fn click(&self, selector: &str) {
        self.click_located(&format!("`{selector}`"), Locator::Css(selector));
    }

    /// Clicks the first displayed `tag` (`"button"`, `"a"`, `"*"`) whose visible text is `text` (whitespace
    /// normalised), waiting for it like [`Browser::click`].
    pub fn click_text(&self, tag: &str, text: &str) {
        let xpath = format!("//{tag}[normalize-space(.)={}]", xpath_literal(text));
        self.click_located(&format!("{tag} {text:?}"), Locator::XPath(&xpath));
    }

    /// Runs `script` as a function body (`arguments[i]` are `args`) and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let c = self.client();
        self.run("execute script", c.execute(script, args))
    }

    /// Runs `script` as a function body whose last argument is a callback; returns what it is called with.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        let c = self.client();
        self.run("execute async script", c.execute_async(script, args))
    }

    /// Presses and releases `key` on the focused element, like a keyboard.
    pub fn press(&self, key: Key) {
        self.keys(&[key.into()], &[]);
    }

    /// Tab: moves focus forward.
    pub fn press_tab(&self) {
        self.press(Key::Tab);
    }

    /// Shift+Tab: moves focus backward.
    pub fn press_shift_tab(&self) {
        self.keys(&[Key::Tab.into()], &[Key::Shift.into()]);
    }

    /// Enter.
    pub fn press_enter(&self) {
        self.press(Key::Enter);
    }

    /// Escape.
    pub fn press_escape(&self) {
        self.press(Key::Escape);
    }

    /// Types `text` on the keyboard into whatever has focus.
    pub fn type_text(&self, text: &str) {
        let keys: Vec<char> = text.chars().collect();
        self.keys(&keys, &[]);
    }

    /// Whether the focused element matches `selector`.
    pub fn is_focused(&self, selector: &str) -> bool {
        self.execute(
            "return !!document.activeElement && document.activeElement.matches(arguments[0])",
            vec![json!(selector)],
        ) == true
    }

    /// The focused element, described for messages: `button#save "Save"`.
    pub fn focused(&self) -> String {
        let v = self.execute(
            "const e = document.activeElement;
             if (!e) return 'nothing';
             const name = e.getAttribute('aria-label') || (e.innerText || '').trim() || e.value
                 || e.getAttribute('placeholder') || e.getAttribute('name') || '';
             return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                 + (name ? ' ' + JSON.stringify(name.slice(0, 60)) : '');",
            vec![],
        );
        v.as_str().unwrap_or_default().to_string()
    }

    /// The page's markup.
    pub fn source(&self) -> String {
        let c = self.client();
        self.run("page source", c.source())
    }

    /// Writes a PNG of the viewport to `$PEOPLE_CONSOLE_SCREENSHOTS/<name>.png` when that variable is set
    /// (the docs' pictures are regenerated that way); does nothing otherwise.
    pub fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os(SCREENSHOTS_ENV).filter(|d| !d.is_empty()) else {
            return;
        };
        let c = self.client();
        let png = self.run("screenshot", c.screenshot());
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The browser's console log since the last call (chromedriver's `goog:loggingPrefs` log, read from its
    /// `/se/log` endpoint). It has what the page cannot hide from a listener installed after load: CSP
    /// violations while parsing, uncaught errors, failed loads, `console.*` calls.
    pub fn console_log(&self) -> Vec<LogEntry> {
        let path = format!("/session/{}/se/log", self.session);
        let (status, body) = driver_http(
            self.driver_port,
            "POST",
            &path,
            Some(&json!({"type": "browser"})),
            COMMAND_TIMEOUT,
        )
        .unwrap_or_else(|| panic!("no answer from chromedriver on {path}"));
        assert_eq!(status, 200, "{path}: {body}");
        let entries = body["value"].as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .map(|e| LogEntry {
                level: e["level"].as_str().unwrap_or_default().into(),
                source: e["source"].as_str().unwrap_or_default().into(),
                message: e["message"].as_str().unwrap_or_default().into(),
            })
            .collect()
    }

    /// Panics listing the console errors ([`LogEntry::is_error`]) since the last read of the log; prints the
    /// other entries of level WARNING.
    pub fn assert_no_console_errors(&self, page: &str) {
        let log = self.console_log();
        for w in log.iter().filter(|e| e.level == "WARNING") {
            let _ = writeln!(
                std::io::stderr(),
                "{page}: console warning ({}): {}",
                w.source,
                w.message
            );
        }
        let errors: Vec<String> = log
            .iter()
            .filter(|e| e.is_error())
            .map(|e| format!("  [{}] {}", e.source, e.message))
            .collect();
        assert!(
            errors.is_empty(),
            "{page}: {} console error(s) (CSP violations, JS errors, failed loads):\n{}",
            errors.len(),
            errors.join("\n")
        );
    }

    /// Runs axe-core on the current page and panics listing every `serious` or `critical` violation (rule,
    /// help, first targets); prints the `minor` and `moderate` ones. axe is injected through WebDriver's
    /// execute, which the page's CSP does not govern.
    pub fn assert_accessible(&self, page: &str) {
        if self.execute("return typeof window.axe", vec![]) != "object" {
            self.execute(&format!("{AXE}\n;return typeof window.axe;"), vec![]);
        }
        let result = self.execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done({violations: r.violations.map(v => ({
                   id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                   nodes: v.nodes.length,
                   targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
                   summary: v.nodes.length ? (v.nodes[0].failureSummary || '') : '',
               }))}))
               .catch(e => done({error: String(e && e.stack || e)}));",
            vec![],
        );
        if let Some(e) = result.get("error") {
            panic!("{page}: axe failed: {e}");
        }
        let mut serious = Vec::new();
        for v in result["violations"].as_array().cloned().unwrap_or_default() {
            let impact = v["impact"].as_str().unwrap_or("unknown");
            let line = format!(
                "  {impact} {}: {} ({} node(s): {}) {}",
                v["id"].as_str().unwrap_or_default(),
                v["help"].as_str().unwrap_or_default(),
                v["nodes"],
                v["targets"]
                    .as_array()
                    .map(|t| t
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
                v["helpUrl"].as_str().unwrap_or_default(),
            );
            if matches!(impact, "serious" | "critical") {
                serious.push(format!(
                    "{line}\n    {}",
                    v["summary"]
                        .as_str()
                        .unwrap_or_default()
                        .replace('\n', "\n    ")
                ));
            } else {
                let _ = writeln!(std::io::stderr(), "{page}: accessibility:{line}");
            }
        }
        assert!(
            serious.is_empty(),
            "{page}: {} serious or critical accessibility violation(s):\n{}",
            serious.len(),
            serious.join("\n")
        );
    }

    /// Panics with `message`, the current URL and an excerpt of the page's markup.
    pub fn fail(&self, message: &str) -> ! {
        let url = self.try_run(self.client().current_url());
        let body = self.try_run(self.client().execute(
            "return document.body ? document.body.outerHTML : document.documentElement.outerHTML",
            vec![],
        ));
        let url = url.map_or_else(|| "?".into(), |u| u.to_string());
        let body = body
            .and_then(|b| b.as_str().map(str::to_string))
            .unwrap_or_default();
        let excerpt: String = body.chars().take(3000).collect();
        let more = if body.chars().count() > 3000 {
            "\n…"
        } else {
            ""
        };
        panic!("{message}\nat {url}\npage:\n{excerpt}{more}");
    }

    fn client(&self) -> Client {
        self.client.clone().expect("the browser is closed")
    }

    /// Runs one WebDriver future to completion; panics on an error or after [`COMMAND_TIMEOUT`].
    fn run<T, E: std::fmt::Display>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> T {
        match within(&self.rt, COMMAND_TIMEOUT, fut) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: no answer from the browser within {COMMAND_TIMEOUT:?}"),
        }
    }

    /// Like [`Browser::run`], `None` on an error or timeout.
    fn try_run<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Option<T> {
        within(&self.rt, COMMAND_TIMEOUT, fut).ok()?.ok()
    }

    fn visible_count(&self, selector: &str) -> usize {
        let n = self.execute(
            "return [...document.querySelectorAll(arguments[0])]
                .filter(e => e.getClientRects().length > 0).length",
            vec![json!(selector)],
        );
        n.as_u64().unwrap_or(0) as usize
    }

    /// The first displayed element found by `locator`, or `None` now.
    fn displayed(&self, locator: Locator<'_>) -> Option<Element> {
        let found = self.try_run(self.client().find_all(locator))?;
        found
            .into_iter()
            .find(|e| self.try_run(e.is_displayed()).unwrap_or(false))
    }

    /// The first displayed `selector`, waiting for it.
    fn element(&self, selector: &str) -> Element {
        let mut found = None;
        self.wait_until(&format!("`{selector}` to be displayed"), || {
            found = self.displayed(Locator::Css(selector));
            found.is_some()
        });
        found.unwrap()
    }

    fn click_located(&self, what: &str, locator: Locator<'_>) {
        let start = Instant::now();
        let mut last = String::from("not displayed");
        loop {
            if let Some(e) = self.displayed(locator) {
                match within(&self.rt, COMMAND_TIMEOUT, e.click()) {
                    Ok(Ok(())) => return,
                    // Covered by an overlay, moving or re-rendered: try again; anything else is a failure.
                    Ok(Err(err))
                        if matches!(&err, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted)
                            || err.is_element_not_interactable()
                            || err.is_stale_element_reference() =>
                    {
                        last = err.to_string();
                    }
                    Ok(Err(err)) => self.fail(&format!("click {what}: {err}")),
                    Err(_) => self.fail(&format!(
                        "click {what}: no answer from the browser within {COMMAND_TIMEOUT:?}"
                    )),
                }
            }
            if start.elapsed() > WAIT {
                self.fail(&format!(
                    "timed out after {WAIT:?} waiting to click {what} ({last})"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Presses `keys` in order, each pressed and released while `modifiers` are held down.
    fn keys(&self, keys: &[char], modifiers: &[char]) {
        let mut actions = KeyActions::new("keyboard".into());
        for m in modifiers {
            actions = actions.then(KeyAction::Down { value: *m });
        }
        for k in keys {
            actions = actions
                .then(KeyAction::Down { value: *k })
                .then(KeyAction::Up { value: *k });
        }
        for m in modifiers.iter().rev() {
            actions = actions.then(KeyAction::Up { value: *m });
        }
        let c = self.client();
        self.run("keyboard", c.perform_actions(actions));
    }
}

/// Runs axe-core on `browser`'s page; see [`Browser::assert_accessible`].
pub fn assert_accessible(browser: &Browser, page: &str) {
    browser.assert_accessible(page);
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = within(&self.rt, Duration::from_secs(5), c.close());
        }
        // chromedriver quits Chromium when the session ends; if that failed, end that process (and only that
        // one: its command line names this browser's own profile directory). Then `Driver` stops chromedriver.
        if let Some(pid) = self.chrome_pid {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let profile = self.driver.dir.join("profile");
            if String::from_utf8_lossy(&cmdline).contains(&*profile.to_string_lossy()) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// Runs `fut` on `rt` for at most `limit`: `Err` when the time ran out. (Tokio's timer exists only inside the
/// runtime, hence the `async` block.)
fn within<F: Future>(
    rt: &tokio::runtime::Runtime,
    limit: Duration,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    rt.block_on(async { tokio::time::timeout(limit, fut).await })
}

/// One request to chromedriver beside fantoccini's session (its `/status`, and `/se/log` that fantoccini has no
/// call for): status and JSON body, `None` when it does not answer within `timeout`. chromedriver keeps the
/// connection open, so the body is read by its Content-Length.
fn driver_http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Option<(u16, Value)> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(payload.as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let mut length = 0;
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    let mut buf = vec![0; length];
    r.read_exact(&mut buf).ok()?;
    Some((status, serde_json::from_slice(&buf).ok()?))
}

/// The last 40 lines of a log file, for failure messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// `s` as an XPath string literal (XPath 1.0 has no escapes: quotes are joined with `concat`).
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// The real `people` binary on one database, an SMTP catcher it sends through, and a browser whose relative
/// URLs go to it. Derefs to the [`Browser`], so `console.goto("/auth/login")`.
pub struct Console {
    /// The browser, [`WIDE`] (`console.set_phone()` for [`PHONE`]).
    pub browser: Browser,
    /// The server process (`server.port`, `server.setup(email)`, `server.login(email)` for API shortcuts).
    pub server: Server,
    /// Every email the server sent: `mail.wait_for(1, timeout)`.
    pub mail: SmtpSink,
    /// `http://127.0.0.1:<port>`, also the server's MB_SITE_URL (links in emails point here).
    pub url: String,
    /// The server's MB_DB_CONNECTION_URI: `sqlite:<file>` or the PostgreSQL database's URL.
    pub database_url: String,
    /// The PostgreSQL database, for the PostgreSQL back end (dropped after the server stops).
    pub db: Option<PgDb>,
    dir: PathBuf,
}

impl Console {
    /// The server on a fresh SQLite file.
    pub fn sqlite() -> Console {
        Console::start(None)
    }

    /// The server on `db` (a fresh PostgreSQL database from [`PgDb::create`]).
    pub fn postgres(db: PgDb) -> Console {
        Console::start(Some(db))
    }

    /// For `console_tests!`: [`Console::sqlite`], or `None` after printing why `test` cannot run.
    pub fn sqlite_or_skip(test: &str) -> Option<Console> {
        if let Some(why) = unavailable() {
            not_run(test, why);
            return None;
        }
        Some(Console::sqlite())
    }

    /// For `console_tests!`: [`Console::postgres`] on a fresh database, or `None` after printing why `test`
    /// cannot run (no browser, or PEOPLE_TEST_POSTGRES_URL not set).
    pub fn postgres_or_skip(test: &str) -> Option<Console> {
        if let Some(why) = unavailable() {
            not_run(test, why);
            return None;
        }
        let Some(db) = PgDb::create() else {
            not_run(test, "PEOPLE_TEST_POSTGRES_URL is not set");
            return None;
        };
        Some(Console::postgres(db))
    }

    fn start(db: Option<PgDb>) -> Console {
        let mail = SmtpSink::start().unwrap();
        let dir = temp_dir();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let database_url = match &db {
            Some(db) => db.url.clone(),
            None => format!("sqlite:{}", dir.join("people.db").display()),
        };
        let server = serve(&dir, port, &url, &database_url, Some(&mail));
        let mut browser = Browser::start();
        browser.set_base(&url);
        Console {
            browser,
            server,
            mail,
            url,
            database_url,
            db,
            dir,
        }
    }
}

impl Console {
    /// Replaces the server with one on the same database without SMTP settings (email not configured), on a
    /// new port; the browser follows it (and stays signed in: cookies belong to the host, not the port).
    pub fn without_email(&mut self) {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let old = std::mem::replace(
            &mut self.server,
            serve(&self.dir, port, &url, &self.database_url, None),
        );
        drop(old);
        self.browser.set_base(&url);
        self.url = url;
    }
}

/// Starts the binary on `database_url`, listening on `port` with `url` as its site URL, sending email
/// through `mail` (none: email not configured); waits until it is healthy.
fn serve(dir: &Path, port: u16, url: &str, database_url: &str, mail: Option<&SmtpSink>) -> Server {
    let mut cmd = people(&dir.to_path_buf());
    cmd.env("MB_JETTY_PORT", port.to_string())
        .env("MB_DB_CONNECTION_URI", database_url)
        .env("MB_SITE_URL", url);
    if let Some(mail) = mail {
        cmd.env("MB_EMAIL_SMTP_HOST", "127.0.0.1")
            .env("MB_EMAIL_SMTP_PORT", mail.port().to_string())
            .env("MB_EMAIL_SMTP_SECURITY", "none")
            .env("MB_EMAIL_FROM_ADDRESS", "people@example.com");
    }
    let child = cmd.spawn().unwrap();
    let mut server = Server { child, port };
    server.wait_healthy();
    server
}

impl Deref for Console {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Defines each browser test twice, `sqlite::name` and `postgres::name` (`.ci/run` counts tests by those
/// names), the body getting a [`Console`] on that back end:
///
/// ```ignore
/// console_tests! {
///     /// The sign-in page renders.
///     fn login_renders(c) {
///         c.goto("/auth/login");
///         c.wait_for("main h1");
///     }
/// }
/// ```
///
/// A test that cannot run (no chromedriver/Chromium; no PEOPLE_TEST_POSTGRES_URL for the PostgreSQL twin)
/// prints `<backend>::<name> not run: <why>` to stderr and passes; `.ci/run` fails on those lines.
#[macro_export]
macro_rules! console_tests {
    ($( $(#[$meta:meta])* fn $name:ident($c:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    let Some($c) = $crate::support::browser::Console::sqlite_or_skip(
                        concat!("sqlite::", stringify!($name)),
                    ) else {
                        return;
                    };
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    let Some($c) = $crate::support::browser::Console::postgres_or_skip(
                        concat!("postgres::", stringify!($name)),
                    ) else {
                        return;
                    };
                    $body
                }
            )*
        }
    };
}

impl Console {
    /// The API of the console's server, as a script would call it.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
    ) -> super::Resp {
        super::http(self.server.port, method, path, session, body.as_ref())
    }

    /// Signs in through the sign-in page and waits for the page it leads to.
    pub fn sign_in(&self, email: &str, password: &str, lands_on: &str) {
        self.goto("/auth/login");
        self.fill("input[name=username]", email);
        self.fill("input[name=password]", password);
        self.click("form button[type=submit]");
        self.wait_url(|p| p.starts_with(lands_on));
        self.wait_for("main[data-ready]");
    }

    /// What the page shows, checked the way a visitor would meet it: axe finds nothing serious and the console
    /// has no error.
    pub fn check_page(&self, name: &str) {
        self.assert_accessible(name);
        self.assert_no_console_errors(name);
        self.screenshot(name);
    }

    /// How far the page scrolls sideways (0 when it fits the window).
    pub fn overflow(&self) -> i64 {
        self.execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .as_i64()
        .unwrap_or(i64::MAX)
    }
}

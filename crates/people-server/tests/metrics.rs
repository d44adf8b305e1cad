//! Metrics of the real binary: `MB_PROMETHEUS_SERVER_PORT` (or `--prometheus-server-port`) serves
//! `/metrics` on a listener of its own with exact counts after a known sequence of requests, on SQLite and
//! (with PEOPLE_TEST_POSTGRES_URL) PostgreSQL; without it nothing more listens.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// One scrape: every sample by its name and its labels (sorted), and the raw text for messages.
struct Scrape {
    samples: BTreeMap<String, f64>,
    text: String,
}

impl Scrape {
    fn take(port: u16) -> Scrape {
        let r = try_http(port, "GET", "/metrics", None, None, Duration::from_secs(10))
            .expect("the metrics listener answers");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.head
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{}",
            r.head
        );
        let mut samples = BTreeMap::new();
        for line in r
            .body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            samples.insert(normalise(series), value.parse::<f64>().unwrap());
        }
        Scrape {
            samples,
            text: r.body,
        }
    }

    /// The sample `name{labels}`; `None` when there is none.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.get(&key(name, labels)).copied()
    }

    /// The sample `name{labels}`; fails when there is none.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no sample {} in\n{}", key(name, labels), self.text))
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// `name{b="2",a="1"}` as `name{a="1",b="2"}`; a name without labels gets `{}`. Label values may hold
/// braces and commas (route templates), so the split honours quotes.
fn normalise(series: &str) -> String {
    let Some((name, rest)) = series.split_once('{') else {
        return format!("{series}{{}}");
    };
    let body = rest.strip_suffix('}').unwrap();
    let (mut labels, mut current, mut quoted, mut escaped) =
        (Vec::new(), String::new(), false, false);
    for c in body.chars() {
        if c == ',' && !quoted {
            labels.push(std::mem::take(&mut current));
            continue;
        }
        if c == '"' && !escaped {
            quoted = !quoted;
        }
        escaped = c == '\\' && quoted && !escaped;
        current.push(c);
    }
    if !current.is_empty() {
        labels.push(current);
    }
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// GET `path` with `X-Api-Key: key`.
fn get_with_key(port: u16, path: &str, key: &str) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Api-Key: {key}\r\n\r\n"
    );
    raw(port, request.as_bytes(), Duration::from_secs(10))
        .unwrap()
        .status
}

/// GET `path` with `Authorization: Bearer token`.
fn get_with_bearer(port: u16, path: &str, token: &str) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    raw(port, request.as_bytes(), Duration::from_secs(10))
        .unwrap()
        .status
}

/// Sockets of process `pid` listening on TCP (from its descriptors and the kernel's socket tables).
fn listening_sockets(pid: u32) -> usize {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    ["tcp", "tcp6"]
        .iter()
        .flat_map(|t| {
            std::fs::read_to_string(format!("/proc/{pid}/net/{t}"))
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // st 0A is LISTEN; field 9 is the inode.
            f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9])
        })
        .count()
}

/// The known sequence, then one scrape with its exact counts.
fn known_sequence(s: &Server, metrics_port: u16, sink: &people_mailer::testing::SmtpSink) {
    let port = s.port;
    let admin = s.setup("admin@example.com");
    // Three sign-ins, one with a wrong password.
    s.login("admin@example.com");
    s.login("admin@example.com");
    let wrong = http(
        port,
        "POST",
        "/api/session",
        None,
        Some(&json!({"username": "admin@example.com", "password": "not-the-password"})),
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    for _ in 0..3 {
        assert_eq!(
            http(port, "GET", "/api/user/current", Some(&admin), None).status,
            200
        );
    }
    assert_eq!(
        http(port, "GET", "/api/user/424242", Some(&admin), None).status,
        404
    );
    assert_eq!(
        http(port, "GET", "/api/no/such/thing-12345", None, None).status,
        404
    );
    // An invitation, delivered by the worker.
    let created = http(
        port,
        "POST",
        "/api/user",
        Some(&admin),
        Some(&json!({"email": "new@example.com"})),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
    // An API key used twice, and a key nobody made.
    let key = http(
        port,
        "POST",
        "/api/api-key",
        Some(&admin),
        Some(&json!({"group_id": 2, "name": "CI"})),
    );
    assert_eq!(key.status, 200, "{}", key.body);
    let key = key.json()["unmasked_key"].as_str().unwrap().to_string();
    assert_eq!(get_with_key(port, "/api/user/current", &key), 200);
    assert_eq!(get_with_key(port, "/api/user/current", &key), 200);
    assert_eq!(
        get_with_key(port, "/api/user/current", "mb_bm90IGEga2V5IGF0IGFsbA"),
        401
    );
    // SCIM: one request with the token, one with a wrong one.
    let r = http(
        port,
        "PUT",
        "/api/setting/scim-enabled",
        Some(&admin),
        Some(&json!({"value": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let token = http(port, "POST", "/api/ee/scim/api_key", Some(&admin), None).json()
        ["unmasked_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get_with_bearer(port, "/api/ee/scim/v2/Users", &token), 200);
    assert_eq!(
        get_with_bearer(port, "/api/ee/scim/v2/Users", "wrong-token"),
        401
    );

    // The outbox worker records its delivery just after the SMTP server has the message.
    let started = Instant::now();
    let m = loop {
        let m = Scrape::take(metrics_port);
        if m.find("people_outbox_sent_total", &[]) == Some(1.0)
            || started.elapsed() > Duration::from_secs(10)
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let logins = |outcome| m.get("people_logins_total", &[("outcome", outcome)]);
    assert_eq!(
        (
            logins("succeeded"),
            logins("failed"),
            logins("throttled"),
            logins("busy"),
            logins("error")
        ),
        (2.0, 1.0, 0.0, 0.0, 0.0),
        "{}",
        m.text
    );
    // Setup's session and the two sign-ins.
    assert_eq!(m.get("people_sessions_created_total", &[]), 3.0);
    assert_eq!(m.get("people_sessions_expired_total", &[]), 0.0);
    let requests = |method, route, status| {
        m.find(
            "people_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("GET", "/api/user/current", "200"), Some(5.0));
    assert_eq!(requests("GET", "/api/user/current", "401"), Some(1.0));
    assert_eq!(requests("GET", "/api/user/{id}", "404"), Some(1.0));
    assert_eq!(requests("POST", "/api/session", "200"), Some(2.0));
    assert_eq!(requests("POST", "/api/session", "401"), Some(1.0));
    assert_eq!(requests("POST", "/api/setup", "200"), Some(1.0));
    assert_eq!(requests("POST", "/api/user", "200"), Some(1.0));
    assert_eq!(requests("GET", "/api/ee/scim/v2/Users", "200"), Some(1.0));
    assert!(
        !m.text.contains("thing-12345") && !m.text.contains("424242"),
        "never a raw path: {}",
        m.text
    );
    assert_eq!(
        m.get(
            "people_http_request_duration_seconds_count",
            &[("method", "GET"), ("route", "/api/user/current")]
        ),
        6.0
    );
    assert_eq!(
        m.get(
            "people_api_key_requests_total",
            &[("outcome", "authenticated")]
        ),
        2.0
    );
    assert_eq!(
        m.get("people_api_key_requests_total", &[("outcome", "refused")]),
        1.0
    );
    assert_eq!(
        m.get("people_scim_requests_total", &[("status", "200")]),
        1.0
    );
    assert_eq!(
        m.get("people_scim_requests_total", &[("status", "401")]),
        1.0
    );
    // The outbox: one sent, nothing waiting.
    assert_eq!(m.get("people_outbox_sent_total", &[]), 1.0);
    assert_eq!(m.get("people_outbox_failed_total", &[]), 0.0);
    assert_eq!(m.get("people_outbox_queued", &[]), 0.0);
    assert_eq!(m.get("people_outbox_retrying", &[]), 0.0);
    assert_eq!(m.get("people_outbox_oldest_unsent_age_seconds", &[]), 0.0);
    // The pool: four connections (MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE), all opened at start.
    assert_eq!(m.get("people_db_pool_max_connections", &[]), 4.0);
    assert_eq!(m.get("people_db_pool_connections", &[]), 4.0);
    assert!(m.get("people_db_pool_connections_in_use", &[]) <= 4.0);
    assert!(m.get("people_db_pool_checkout_seconds_count", &[]) > 20.0);
    assert_eq!(m.get("people_db_pool_checkout_failures_total", &[]), 0.0);
    m.get("people_db_pool_waits_total", &[]);
    // Hashing: setup's hash and the three sign-ins' checks at least; nothing refused or left waiting.
    assert!(m.get("people_password_hash_duration_seconds_count", &[]) >= 4.0);
    assert!(m.get("people_password_hash_wait_seconds_count", &[]) >= 4.0);
    assert_eq!(m.get("people_password_hashes_refused_total", &[]), 0.0);
    assert_eq!(m.get("people_password_hashes_queued", &[]), 0.0);
    assert_eq!(m.get("people_password_hashes_running", &[]), 0.0);
    // Housekeeping ran once at start-up and found nothing to remove.
    assert_eq!(
        m.get("people_housekeeping_removed_total", &[("kind", "sessions")]),
        0.0
    );
    let backend = if m.text.contains("backend=\"postgres\"") {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(
        m.get(
            "people_build_info",
            &[("version", env!("CARGO_PKG_VERSION")), ("backend", backend)]
        ),
        1.0
    );
    assert!(
        m.text
            .contains("# HELP people_logins_total Sign-in attempts by outcome"),
        "{}",
        m.text
    );
    // Two listeners: the API and the metrics; the API does not serve the metrics.
    assert_eq!(listening_sockets(s.child.id()), 2);
    assert_eq!(http(port, "GET", "/metrics", None, None).status, 404);
}

fn smtp_env(cmd: &mut std::process::Command, sink: &people_mailer::testing::SmtpSink) {
    cmd.env("MB_EMAIL_SMTP_HOST", "127.0.0.1")
        .env("MB_EMAIL_SMTP_PORT", sink.port().to_string())
        .env("MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE", "4");
}

#[test]
fn sqlite_metrics_count_a_known_sequence_exactly() {
    let dir = temp_dir();
    let sink = people_mailer::testing::SmtpSink::start().unwrap();
    let metrics_port = free_port();
    let mut cmd = people(&dir);
    smtp_env(&mut cmd, &sink);
    cmd.env("MB_PROMETHEUS_SERVER_PORT", metrics_port.to_string());
    let s = Server::start(cmd);
    known_sequence(&s, metrics_port, &sink);
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn postgres_metrics_count_a_known_sequence_exactly() {
    let Some(db) = PgDb::create() else {
        eprintln!("postgres metrics test not run: PEOPLE_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = temp_dir();
    let sink = people_mailer::testing::SmtpSink::start().unwrap();
    let metrics_port = free_port();
    let mut cmd = people(&dir);
    smtp_env(&mut cmd, &sink);
    // The flag, this time.
    cmd.env("MB_DB_CONNECTION_URI", &db.url).args([
        "--prometheus-server-port",
        &metrics_port.to_string(),
        "serve",
    ]);
    let s = Server::start(cmd);
    known_sequence(&s, metrics_port, &sink);
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_the_variable_nothing_more_listens() {
    let dir = temp_dir();
    let s = Server::start(people(&dir));
    s.setup("admin@example.com");
    s.login("admin@example.com");
    assert_eq!(
        listening_sockets(s.child.id()),
        1,
        "only the API's listener"
    );
    assert_eq!(http(s.port, "GET", "/metrics", None, None).status, 404);
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_or_busy_metrics_port_stops_start_up_naming_the_variable() {
    let dir = temp_dir();
    let out = people(&dir)
        .env("MB_JETTY_PORT", free_port().to_string())
        .env("MB_PROMETHEUS_SERVER_PORT", "metrics")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MB_PROMETHEUS_SERVER_PORT"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = people(&dir)
        .env("MB_JETTY_PORT", free_port().to_string())
        .env(
            "MB_PROMETHEUS_SERVER_PORT",
            taken.local_addr().unwrap().port().to_string(),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MB_PROMETHEUS_SERVER_PORT: cannot listen on"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

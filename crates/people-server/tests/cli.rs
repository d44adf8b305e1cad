//! The `people` binary from the outside: start-up, configuration errors, subcommands, graceful shutdown.

#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::process::{Child, Command, Output, Stdio};

mod support;
use std::time::{Duration, Instant};
use support::{free_port, people, temp_dir, unique};

/// GET `path`: status and body, or `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    support::try_http(port, "GET", path, None, None, Duration::from_secs(5))
        .map(|r| (r.status, r.body))
}

/// One request: status and body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    session: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    let r = support::http(port, method, path, session, body);
    (r.status, r.body)
}

fn wait_healthy(port: u16, child: &mut Child) -> Duration {
    let start = Instant::now();
    loop {
        if let Some((200, body)) = http_get(port, "/api/health") {
            assert_eq!(body, r#"{"status":"ok"}"#);
            return start.elapsed();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("people exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no healthy answer"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sets the instance up with the administrator boss@example.com (password `unc0mmonpw`); returns the session.
fn setup_boss(port: u16) -> String {
    let (_, props) = http(port, "GET", "/api/session/properties", None, None);
    let token = serde_json::from_str::<serde_json::Value>(&props).unwrap()["setup-token"]
        .as_str()
        .unwrap()
        .to_string();
    let body = serde_json::json!({"token": token, "user": {"email": "boss@example.com", "password": "unc0mmonpw"}, "prefs": {"site_name": "Acme"}});
    let (status, setup) = http(port, "POST", "/api/setup", None, Some(&body));
    assert_eq!(status, 200, "{setup}");
    serde_json::from_str::<serde_json::Value>(&setup).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn stderr_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

#[test]
fn serves_health_on_the_sqlite_default_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir();
    let port = free_port();
    let mut child = people(&dir)
        .env("MB_JETTY_PORT", port.to_string())
        .spawn()
        .unwrap();
    wait_healthy(port, &mut child);
    assert!(
        dir.join("people.db").exists(),
        "people.db is created in the working directory"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM ends with exit 0");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serves_on_postgres_when_the_url_says_so() {
    let Ok(base) = std::env::var("PEOPLE_TEST_POSTGRES_URL") else {
        eprintln!("postgres serve test not run: PEOPLE_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("people_cli_{}", unique());
    let psql = |sql: &str| {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(&base).unwrap();
        c.batch_execute(sql).unwrap();
    };
    psql(&format!("CREATE DATABASE \"{name}\""));
    let url = people_store::testing::with_database(&base, &name);
    let dir = temp_dir();
    let port = free_port();
    let mut child = people(&dir)
        .env("MB_DB_CONNECTION_URI", &url)
        .env("MB_JETTY_PORT", port.to_string())
        .spawn()
        .unwrap();
    wait_healthy(port, &mut child);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    psql(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_configuration_is_one_line_naming_the_variable_and_exit_2() {
    let dir = temp_dir();
    let cases = [
        ("MB_DB_CONNECTION_URI", "mysql://x"),
        ("MB_JETTY_PORT", "not-a-port"),
        ("MB_PASSWORD_COMPLEXITY", "medium"),
        (
            "MB_DB_CONNECTION_URI",
            "postgres://postgres@127.0.0.1:1/none",
        ),
        ("PEOPLE_LDAP_CA_FILE", "/nonexistent/ca.pem"),
        ("PEOPLE_LDAP_CA_FILE", "/etc/hostname"),
        ("MB_LDAP_PORT", "70000"),
        ("MB_LDAP_GROUP_MAPPINGS", "{\"not a dn\": [1]}"),
    ];
    for (var, value) in cases {
        let o = people(&dir).env(var, value).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{var}={value}");
        let err = stderr_line(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(var), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A port already taken is also a configuration problem.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let o = people(&dir)
        .env("MB_JETTY_PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_line(&o).contains("MB_JETTY_PORT"),
        "{}",
        stderr_line(&o)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flags_win_over_the_environment() {
    let dir = temp_dir();
    let port = free_port();
    let mut child = people(&dir)
        .env("MB_JETTY_PORT", "not-a-port")
        .args(["--port", &port.to_string(), "serve"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(port, &mut child);
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn migrate_and_create_admin_on_a_fresh_database() {
    let dir = temp_dir();
    let o = people(&dir).arg("migrate").output().unwrap();
    assert!(o.status.success(), "{}", stderr_line(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("applied migration"));
    let o = people(&dir).arg("migrate").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("up to date"));

    let o = people(&dir)
        .args([
            "create-admin",
            "--email",
            "Boss@Example.com",
            "--password",
            "unc0mmonpw",
            "--first-name",
            "Big",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_line(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("boss@example.com"));

    let o = people(&dir)
        .args([
            "create-admin",
            "--email",
            "boss@example.com",
            "--password",
            "unc0mmonpw",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_line(&o).contains("Email address already in use."),
        "{}",
        stderr_line(&o)
    );

    let o = people(&dir)
        .args([
            "create-admin",
            "--email",
            "x@example.com",
            "--password",
            "123456",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_line(&o).contains("password is too common."),
        "{}",
        stderr_line(&o)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_server_delivers_invites_through_smtp() {
    let sink = people_mailer::testing::SmtpSink::start().unwrap();
    let dir = temp_dir();
    let port = free_port();
    let mut child = people(&dir)
        .env("MB_JETTY_PORT", port.to_string())
        .env("MB_EMAIL_SMTP_HOST", "127.0.0.1")
        .env("MB_EMAIL_SMTP_PORT", sink.port().to_string())
        .env("MB_EMAIL_FROM_ADDRESS", "people@example.com")
        .env("MB_SITE_URL", "https://people.example.com")
        .spawn()
        .unwrap();
    wait_healthy(port, &mut child);
    let session = setup_boss(port);
    let (status, created) = http(
        port,
        "POST",
        "/api/user",
        Some(&session),
        Some(&serde_json::json!({"email": "new@example.com"})),
    );
    assert_eq!(status, 200, "{created}");
    let m = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(
        m.len(),
        1,
        "the worker, woken by the request, delivered the invite"
    );
    assert_eq!(m[0].to, vec!["new@example.com"]);
    assert_eq!(m[0].from, "people@example.com");
    assert_eq!(m[0].subject(), "You're invited to join Acme's Metabase");
    assert!(
        m[0].text()
            .contains("https://people.example.com/auth/reset_password/"),
        "{}",
        m[0].text()
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "the worker stops with the server"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ephemeral_mode_prints_its_url_and_admin_session_and_cleans_up() {
    use std::io::BufRead;
    let dir = temp_dir();
    let started = Instant::now();
    let mut child = people(&dir)
        .env_remove("MB_BCRYPT_COST")
        .args([
            "serve",
            "--ephemeral",
            "--admin",
            "admin@example.com:Sup3r-secret1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready_in = started.elapsed();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = info["url"].as_str().unwrap().to_string();
    let session = info["admin_session"].as_str().unwrap().to_string();
    assert_eq!(info["api_keys"], serde_json::json!({}), "no --api-key");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let (status, body) = http(port, "GET", "/api/user/current", Some(&session), None);
    assert_eq!(status, 200, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (me["email"].as_str(), me["is_superuser"].as_bool()),
        (Some("admin@example.com"), Some(true))
    );
    let pid = child.id();
    let tmp_dirs = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("people-ephemeral-{pid}-"))
            })
            .count()
    };
    assert_eq!(tmp_dirs(), 1, "its data lives in one temporary directory");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(tmp_dirs(), 0, "removed on exit");
    println!("ephemeral server ready in {} ms", ready_in.as_millis());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_rust_test_server_serves_and_cleans_up() {
    let server = people_server::TestServer::builder()
        .admin("admin@example.com", "Sup3r-secret1")
        .start()
        .unwrap();
    let port: u16 = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let (status, _) = http(
        port,
        "GET",
        "/api/user/current",
        server.admin_session(),
        None,
    );
    assert_eq!(status, 200);
    let bare = people_server::TestServer::start().unwrap();
    let port2: u16 = bare.url().rsplit(':').next().unwrap().parse().unwrap();
    let (_, props) = http(port2, "GET", "/api/session/properties", None, None);
    assert!(
        props.contains("setup-token\":\""),
        "a fresh instance: {props}"
    );
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "stopped on drop"
    );
}

/// The binary answers forgot-password from its background worker, sends the security headers on every
/// path, and refuses to start when `MB_ENCRYPTION_SECRET_KEY` does not fit the encrypted email waiting.
#[test]
fn background_work_headers_and_the_outbox_key() {
    let sink = people_mailer::testing::SmtpSink::start().unwrap();
    let dir = temp_dir();
    let key = "first key of sixteen+ characters";
    let port = free_port();
    let mut child = people(&dir)
        .env("MB_JETTY_PORT", port.to_string())
        .env("MB_ENCRYPTION_SECRET_KEY", key)
        .env("MB_EMAIL_SMTP_HOST", "127.0.0.1")
        .env("MB_EMAIL_SMTP_PORT", sink.port().to_string())
        .spawn()
        .unwrap();
    wait_healthy(port, &mut child);
    setup_boss(port);
    let (status, _) = http(
        port,
        "POST",
        "/api/session/forgot_password",
        None,
        Some(&serde_json::json!({"email": "boss@example.com"})),
    );
    assert_eq!(status, 204);
    let m = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(m.len(), 1, "the background worker answered the ask");
    assert!(
        m[0].text().contains("/auth/reset_password/"),
        "{}",
        m[0].text()
    );
    // Security headers outside /api too, and a Content-Security-Policy on HTML.
    for path in ["/nope", "/api/docs/", "/api/health"] {
        let r = support::try_http(port, "GET", path, None, None, Duration::from_secs(5)).unwrap();
        let head = r.head.to_ascii_lowercase();
        assert!(
            head.contains("x-content-type-options: nosniff"),
            "{path}: {head}"
        );
        assert!(head.contains("x-frame-options: deny"), "{path}: {head}");
        assert!(
            head.contains("referrer-policy: strict-origin-when-cross-origin"),
            "{path}"
        );
        if path == "/api/docs/" {
            assert!(
                head.contains("content-security-policy: default-src 'self'"),
                "{head}"
            );
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // Without SMTP an invite waits, encrypted.
    let port = free_port();
    let mut child = people(&dir)
        .env("MB_JETTY_PORT", port.to_string())
        .env("MB_ENCRYPTION_SECRET_KEY", key)
        .spawn()
        .unwrap();
    wait_healthy(port, &mut child);
    let (status, login) = http(
        port,
        "POST",
        "/api/session",
        None,
        Some(&serde_json::json!({"username": "boss@example.com", "password": "unc0mmonpw"})),
    );
    assert_eq!(status, 200, "{login}");
    let session = serde_json::from_str::<serde_json::Value>(&login).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = http(
        port,
        "POST",
        "/api/user",
        Some(&session),
        Some(&serde_json::json!({"email": "waiting@example.com"})),
    );
    assert_eq!(status, 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));

    for (value, ok) in [
        (None, false),
        (Some("a different key, 16+ chars"), false),
        (Some(key), true),
    ] {
        let mut cmd = people(&dir);
        cmd.arg("migrate");
        if let Some(v) = value {
            cmd.env("MB_ENCRYPTION_SECRET_KEY", v);
        }
        let o = cmd.output().unwrap();
        if ok {
            assert_eq!(o.status.code(), Some(0), "{}", stderr_line(&o));
        } else {
            assert_eq!(o.status.code(), Some(2), "{value:?}");
            let err = stderr_line(&o);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("MB_ENCRYPTION_SECRET_KEY"), "{err}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// GET `path` with `X-Api-Key: key`: status and body.
fn get_with_key(port: u16, path: &str, key: &str) -> (u16, String) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Api-Key: {key}\r\n\r\n"
    );
    let r = support::raw(port, request.as_bytes(), Duration::from_secs(10))
        .unwrap_or_else(|| panic!("GET {path}: no answer"));
    (r.status, r.body)
}

/// `people api-key create --name NAME --group GROUP` in `dir`.
fn api_key_create(dir: &std::path::PathBuf, name: &str, group: &str) -> Output {
    people(dir)
        .args(["api-key", "create", "--name", name, "--group", group])
        .output()
        .unwrap()
}

#[test]
fn api_key_create_prints_only_the_key_and_the_key_works_on_the_server() {
    let dir = temp_dir();
    let o = people(&dir)
        .args([
            "create-admin",
            "--email",
            "boss@example.com",
            "--password",
            "unc0mmonpw",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_line(&o));

    let o = api_key_create(&dir, "CI exporter", "administrators");
    assert!(o.status.success(), "{}", stderr_line(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    let admin_key = stdout.trim_end_matches('\n').to_string();
    assert_eq!(admin_key.len(), 47, "{admin_key}");
    assert!(admin_key.starts_with("mb_"), "{admin_key}");
    // A group by id: 1 is All Users.
    let o = api_key_create(&dir, "reader", "1");
    assert!(o.status.success(), "{}", stderr_line(&o));
    let reader_key = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert_eq!(reader_key.len(), 47);

    let server = support::Server::start(people(&dir));
    let (status, body) = get_with_key(server.port, "/api/user/current", &admin_key);
    assert_eq!(status, 200, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (me["common_name"].as_str(), me["is_superuser"].as_bool()),
        (Some("CI exporter"), Some(true))
    );
    let (status, body) = get_with_key(server.port, "/api/user/current", &reader_key);
    assert_eq!(status, 200, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (me["common_name"].as_str(), me["is_superuser"].as_bool()),
        (Some("reader"), Some(false))
    );
    let (status, body) = get_with_key(server.port, "/api/api-key", &admin_key);
    assert_eq!(status, 200, "{body}");
    let keys: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(keys[0]["updated_by"]["common_name"], "boss@example.com");
    assert_eq!(
        keys[0]["masked_key"],
        format!("{}{}", &admin_key[..7], "*".repeat(40))
    );
    assert_eq!(
        get_with_key(server.port, "/api/api-key", &reader_key).0,
        403
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn api_key_create_refusals_are_one_line_on_stderr_and_exit_1() {
    let dir = temp_dir();
    let refused = |o: Output, expected: &str| {
        assert_eq!(o.status.code(), Some(1), "{}", stderr_line(&o));
        assert!(o.stdout.is_empty(), "nothing on stdout");
        let err = stderr_line(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(err, expected);
    };
    refused(
        api_key_create(&dir, "ci", "Administrators"),
        "people: api-key create: There is no administrator yet: create one first (setup or create-admin).",
    );
    let o = people(&dir)
        .args([
            "create-admin",
            "--email",
            "boss@example.com",
            "--password",
            "unc0mmonpw",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_line(&o));
    refused(
        api_key_create(&dir, "ci", "Nobody"),
        r#"people: api-key create: no group has the id or name "Nobody""#,
    );
    refused(
        api_key_create(&dir, "ci", "99"),
        r#"people: api-key create: no group has the id or name "99""#,
    );
    assert!(api_key_create(&dir, "ci", "All Users").status.success());
    refused(
        api_key_create(&dir, "ci", "Administrators"),
        "people: api-key create: name: An API key with this name already exists.",
    );
    refused(
        api_key_create(&dir, " ", "1"),
        "people: api-key create: name: value must be a non-blank string.",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ephemeral_mode_makes_the_api_keys_it_is_asked_for() {
    use std::io::BufRead;
    let dir = temp_dir();
    let mut child = people(&dir)
        .args([
            "serve",
            "--ephemeral",
            "--admin",
            "admin@example.com:Sup3r-secret1",
            "--api-key",
            "ci:Administrators",
            "--api-key",
            "reader:All Users",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port: u16 = info["url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let keys = info["api_keys"].as_object().unwrap();
    assert_eq!(keys.len(), 2, "{line}");
    for (name, superuser) in [("ci", true), ("reader", false)] {
        let key = keys[name].as_str().unwrap();
        assert_eq!(key.len(), 47);
        let (status, body) = get_with_key(port, "/api/user/current", key);
        assert_eq!(status, 200, "{body}");
        let me: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (me["common_name"].as_str(), me["is_superuser"].as_bool()),
            (Some(name), Some(superuser))
        );
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // Without --admin (or --ephemeral) --api-key is a usage error; a bad one stops start-up.
    let o = people(&dir)
        .args(["serve", "--ephemeral", "--api-key", "ci:1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("--admin"), "{}", stderr_line(&o));
    let o = people(&dir)
        .args([
            "serve",
            "--admin",
            "a@example.com:Sup3r-secret1",
            "--api-key",
            "ci:1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_line(&o).contains("--ephemeral"),
        "{}",
        stderr_line(&o)
    );
    for (spec, expected) in [
        ("ci", r#"people: --api-key: expected NAME:GROUP, got "ci""#),
        (
            "ci:Nobody",
            r#"people: --api-key ci: no group has the id or name "Nobody""#,
        ),
    ] {
        let o = people(&dir)
            .args([
                "serve",
                "--ephemeral",
                "--admin",
                "admin@example.com:Sup3r-secret1",
                "--api-key",
                spec,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{spec}");
        assert!(o.stdout.is_empty(), "no JSON line for {spec}");
        assert_eq!(stderr_line(&o), expected);
    }
    let _ = std::fs::remove_dir_all(dir);
}

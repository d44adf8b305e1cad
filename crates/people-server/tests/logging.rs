//! Logs of the real binary: request ids on responses and on every line a request logs, the access log
//! (route templates, never query values or secrets), and `MB_LOG_FORMAT=json` (every line a JSON object).

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

/// A server whose stderr goes to `dir/stderr.log`, logging at info, with `extra` in its environment.
fn server_logging_to_file(dir: &PathBuf, extra: &[(&str, &str)]) -> (Server, PathBuf) {
    let log = dir.join("stderr.log");
    let mut cmd = people(dir);
    cmd.env("RUST_LOG", "info")
        .stderr(Stdio::from(File::create(&log).unwrap()));
    for (k, v) in extra {
        cmd.env(k, v);
    }
    (Server::start(cmd), log)
}

/// A request with extra headers; the response.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Resp {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    raw(port, req.as_bytes(), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

/// The `X-Request-Id` of a response (there must be exactly one).
fn request_id(r: &Resp) -> String {
    let ids: Vec<&str> = r
        .head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("x-request-id"))
        .map(|(_, v)| v.trim())
        .collect();
    assert_eq!(ids.len(), 1, "one X-Request-Id in {}", r.head);
    ids[0].to_string()
}

fn is_generated(id: &str) -> bool {
    id.len() == 36
        && id.split('-').count() == 5
        && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// What the scenario sent and received.
struct Scenario {
    session: String,
    api_key: String,
    /// The id people gave the request whose own id was not sane, for each kind of insane id.
    replaced: Vec<String>,
    /// Ids of the answers of the other scopes (SCIM, console, health, an unknown path).
    others: Vec<String>,
}

/// Sets up an administrator, then: an API key creation (it logs from inside the use case) with
/// `X-Request-Id: test-123`, the session header and `?query=secret`; a failed sign-in with a bad id; requests
/// to every scope. Stops the server (so that the log is complete).
fn scenario(server: Server) -> Scenario {
    let port = server.port;
    let session = server.setup("boss@example.com");
    let created = request(
        port,
        "POST",
        "/api/api-key?query=secret",
        &[
            ("X-Request-Id", "test-123"),
            ("X-Metabase-Session", &session),
        ],
        Some(&json!({"name": "Robot", "group_id": 1})),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(request_id(&created), "test-123");
    let api_key = created.json()["unmasked_key"].as_str().unwrap().to_string();

    let long = "x".repeat(201);
    let mut replaced = Vec::new();
    for bad in ["bad id", "", long.as_str(), "caf\u{e9}"] {
        let r = request(
            port,
            "POST",
            "/api/session",
            &[("X-Request-Id", bad)],
            Some(&json!({"username": "boss@example.com", "password": "wrong-password-1"})),
        );
        assert_eq!(r.status, 401, "{}", r.body);
        let id = request_id(&r);
        assert!(
            is_generated(&id),
            "{bad:?} is replaced by a new id, got {id:?}"
        );
        replaced.push(id);
    }
    let mut others = Vec::new();
    for path in [
        "/api/health",
        "/",
        "/api/ee/scim/v2/Users?filter=userName%20eq%20%22secret%22",
        "/api/user/12?query=secret",
        "/no/such/page",
    ] {
        let r = request(port, "GET", path, &[], None);
        let id = request_id(&r);
        assert!(is_generated(&id), "{path}: {id}");
        others.push(id);
    }
    let sane = request(
        port,
        "GET",
        "/api/health",
        &[("X-Request-Id", "a.b_c:d/e=1")],
        None,
    );
    assert_eq!(request_id(&sane), "a.b_c:d/e=1");
    drop(server);
    Scenario {
        session,
        api_key,
        replaced,
        others,
    }
}

/// Log targets that only log while handling a request: the access log, the HTTP layer, and the use cases
/// these tests run (background work such as housekeeping logs under no request).
fn of_a_request(target: &str) -> bool {
    target == "people::access"
        || target.starts_with("people_web")
        || target == "people_domain::api_key"
        || target == "people_domain::session"
}

fn read_log(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(str::to_string).collect()
}

/// No line holds a secret or a query value.
fn no_secrets(lines: &[String], s: &Scenario) {
    for line in lines {
        for secret in [
            s.session.as_str(),
            s.api_key.as_str(),
            "secret",
            "wrong-password-1",
            "query=",
        ] {
            assert!(!line.contains(secret), "{secret:?} in the log: {line}");
        }
    }
}

#[test]
fn text_lines_of_a_request_carry_its_id_and_the_access_log_keeps_no_secrets() {
    let dir = temp_dir();
    let (server, log) = server_logging_to_file(&dir, &[]);
    let s = scenario(server);
    let lines = read_log(&log);
    no_secrets(&lines, &s);

    // Every line the API key creation logged carries its id: the use case's and the access log's.
    let tagged: Vec<&String> = lines.iter().filter(|l| l.contains("test-123")).collect();
    assert!(
        tagged
            .iter()
            .any(|l| l.contains("people_domain::api_key") && l.contains("created API key")),
        "the use case's line: {tagged:#?}"
    );
    let access = tagged
        .iter()
        .find(|l| l.contains("people::access"))
        .unwrap_or_else(|| panic!("an access line: {tagged:#?}"));
    assert!(access.contains("POST /api/api-key 200 "), "{access}");
    assert!(access.contains("client=127.0.0.1"), "{access}");
    assert!(access.ends_with(" request_id=test-123"), "{access}");
    assert!(lines
        .iter()
        .filter(|l| l.contains("created API key"))
        .all(|l| l.ends_with(" request_id=test-123")));

    // Every line logged by request handling names a request (background work names none).
    for line in &lines {
        let target = line
            .split(']')
            .next()
            .unwrap_or("")
            .rsplit(' ')
            .next()
            .unwrap_or("");
        if of_a_request(target) {
            assert!(line.contains(" request_id="), "untagged: {line}");
        }
    }

    // Each request has exactly one access line under its id, with the route's template.
    let access_of = |id: &str| -> Vec<&String> {
        lines
            .iter()
            .filter(|l| l.contains("people::access") && l.ends_with(&format!(" request_id={id}")))
            .collect()
    };
    for id in &s.replaced {
        let found = access_of(id);
        assert_eq!(found.len(), 1, "{id}: {found:#?}");
        assert!(found[0].contains("POST /api/session 401 "), "{}", found[0]);
    }
    let routes = [
        "GET /api/health 200 ",
        "GET / 200 ",
        "GET /api/ee/scim/v2/Users 401 ",
        "GET /api/user/{id} 401 ",
        "GET - 404 ",
    ];
    for (id, route) in s.others.iter().zip(routes) {
        let found = access_of(id);
        assert_eq!(found.len(), 1, "{id}: {found:#?}");
        assert!(found[0].contains(route), "{route}: {}", found[0]);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_format_is_one_object_per_line_with_the_fields_as_keys() {
    let dir = temp_dir();
    let (server, log) = server_logging_to_file(&dir, &[("MB_LOG_FORMAT", "json")]);
    let s = scenario(server);
    let lines = read_log(&log);
    assert!(lines.len() > 10, "{lines:#?}");
    no_secrets(&lines, &s);
    let objects: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for o in &objects {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(o[key].is_string(), "{key} in {o}");
        }
    }
    let of = |id: &str| -> Vec<&Value> {
        objects
            .iter()
            .filter(|o| o["request_id"] == json!(id))
            .collect()
    };
    let tagged = of("test-123");
    assert!(
        tagged
            .iter()
            .any(|o| o["target"] == "people_domain::api_key" && o["level"] == "INFO"),
        "{tagged:#?}"
    );
    let access: Vec<&&Value> = tagged
        .iter()
        .filter(|o| o["target"] == "people::access")
        .collect();
    assert_eq!(access.len(), 1, "{tagged:#?}");
    let a = access[0];
    assert_eq!(
        (
            &a["method"],
            &a["route"],
            &a["status"],
            &a["client"],
            &a["level"]
        ),
        (
            &json!("POST"),
            &json!("/api/api-key"),
            &json!(200),
            &json!("127.0.0.1"),
            &json!("INFO")
        )
    );
    assert!(a["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{a}");
    let user = of(&s.others[3]);
    assert_eq!(user.len(), 1, "{user:#?}");
    assert_eq!(user[0]["route"], "/api/user/{id}");
    for o in &objects {
        if of_a_request(o["target"].as_str().unwrap()) {
            assert!(o["request_id"].is_string(), "untagged: {o}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_log_format_names_the_variable_and_the_flag_wins() {
    let dir = temp_dir();
    let o = people(&dir)
        .env("MB_LOG_FORMAT", "xml")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("MB_LOG_FORMAT") && err.contains("xml"),
        "{err}"
    );

    // With JSON, even a start-up failure is a JSON line.
    let o = people(&dir)
        .env("MB_LOG_FORMAT", "xml")
        .env(
            "MB_DB_CONNECTION_URI",
            "sqlite:/nonexistent-dir/x/people.db",
        )
        .args(["--log-format", "json", "migrate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let line: Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"));
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .contains("MB_DB_CONNECTION_URI"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

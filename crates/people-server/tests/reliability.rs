//! Reliability of the real binary: concurrency, two replicas, a database outage, SQLite under
//! concurrent writers, graceful shutdown and hostile input. PostgreSQL tests need PEOPLE_TEST_POSTGRES_URL.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

fn sqlite_server(dir: &std::path::PathBuf, extra: &[(&str, &str)]) -> Server {
    let mut cmd = people(dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Server::start(cmd)
}

fn pg_server(url: &str, extra: &[(&str, &str)]) -> Server {
    let dir = temp_dir();
    let mut cmd = people(&dir);
    cmd.env("MB_DB_CONNECTION_URI", url);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Server::start(cmd)
}

/// `n` requests at once (released together by a barrier); the responses in order.
fn at_once(
    n: usize,
    f: impl Fn(usize) -> Option<Resp> + Send + Sync + 'static,
) -> Vec<Option<Resp>> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Exactly one of the racing requests succeeded and every other one got the 400 `loser` body.
fn one_winner(results: &[Option<Resp>], loser: Value) {
    let statuses: Vec<u16> = results
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.status))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        !statuses.contains(&0),
        "every request answered: {statuses:?}"
    );
    for r in results.iter().flatten().filter(|r| r.status != 200) {
        assert_eq!((r.status, r.json()), (400, loser.clone()));
    }
}

/// A SCIM request with the bearer `token`.
fn scim_request(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Option<Resp> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n\
         Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    raw(port, req.as_bytes(), Duration::from_secs(30))
}

/// Eight identity-provider agents create the same person at once: one 201, seven 409 `uniqueness`, one row.
fn concurrent_scim_creates(s: &Server) {
    let admin = s.setup("admin@example.com");
    let port = s.port;
    let token = http(port, "POST", "/api/ee/scim/api_key", Some(&admin), None).json()
        ["unmasked_key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http(
        port,
        "PUT",
        "/api/setting/scim-enabled",
        Some(&admin),
        Some(&json!({"value": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Same.Person@example.com",
        "name": {"givenName": "Same", "familyName": "Person"},
        "active": true
    });
    let results = at_once(8, move |_| {
        scim_request(port, "POST", "/api/ee/scim/v2/Users", &token, Some(&user))
    });
    let statuses: Vec<u16> = results
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.status))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    for r in results.iter().flatten().filter(|r| r.status != 201) {
        assert_eq!(r.status, 409, "{}", r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["scimType"], json!("uniqueness"), "{body}");
        assert_eq!(body["status"], json!("409"));
    }
    let list = http(
        port,
        "GET",
        "/api/user?query=same.person",
        Some(&admin),
        None,
    )
    .json();
    assert_eq!(list["total"], json!(1), "{list}");
}

/// 50 concurrent creations of one email, 50 concurrent adds of one membership and 20 concurrent API keys of
/// one name: one success each, the rest the duplicate message, nothing else.
fn concurrent_duplicates(s: &Server) {
    let admin = s.setup("admin@example.com");
    let port = s.port;
    let a = admin.clone();
    let results = at_once(50, move |_| {
        try_http(
            port,
            "POST",
            "/api/user",
            Some(&a),
            Some(&json!({"email": "Same@Example.com"})),
            Duration::from_secs(30),
        )
    });
    one_winner(
        &results,
        json!({"errors": {"email": "Email address already in use."}}),
    );
    let group = http(
        port,
        "POST",
        "/api/permissions/group",
        Some(&admin),
        Some(&json!({"name": "Race"})),
    )
    .json()["id"]
        .clone();
    let user = http(
        port,
        "POST",
        "/api/user",
        Some(&admin),
        Some(&json!({"email": "member@example.com"})),
    )
    .json()["id"]
        .clone();
    let a = admin.clone();
    let body = json!({"group_id": group, "user_id": user});
    let results = at_once(50, move |_| {
        try_http(
            port,
            "POST",
            "/api/permissions/membership",
            Some(&a),
            Some(&body),
            Duration::from_secs(30),
        )
    });
    one_winner(
        &results,
        json!({"errors": {"user_id": "User is already a member of that group."}}),
    );
    // Concurrent API keys of one name: one key, the others the ordinary duplicate answer.
    let a = admin.clone();
    let results = at_once(20, move |_| {
        try_http(
            port,
            "POST",
            "/api/api-key",
            Some(&a),
            Some(&json!({"name": "Racing key", "group_id": 1})),
            Duration::from_secs(30),
        )
    });
    one_winner(
        &results,
        json!({"errors": {"name": "An API key with this name already exists."}}),
    );
    let keys = http(port, "GET", "/api/api-key", Some(&admin), None).json();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
}

mod postgres {
    use super::*;

    macro_rules! pg_or_skip {
        ($name:literal) => {
            match PgDb::create() {
                Some(db) => db,
                None => {
                    eprintln!(
                        "postgres::{} not run: PEOPLE_TEST_POSTGRES_URL is not set",
                        $name
                    );
                    return;
                }
            }
        };
    }

    #[test]
    fn eight_concurrent_scim_creates_make_one_person() {
        let db = pg_or_skip!("eight_concurrent_scim_creates_make_one_person");
        let s = pg_server(&db.url, &[]);
        concurrent_scim_creates(&s);
    }

    #[test]
    fn fifty_concurrent_duplicates_make_one_row() {
        let db = pg_or_skip!("fifty_concurrent_duplicates_make_one_row");
        let s = pg_server(&db.url, &[]);
        concurrent_duplicates(&s);
        assert_eq!(
            db.count("SELECT count(*) AS n FROM core_user WHERE email = 'same@example.com'"),
            1
        );
    }

    /// The throttle counters live in the database: ten wrong passwords spread over two replicas block the
    /// user name on both, and forty concurrent ones over both cost at most ten password checks.
    #[test]
    fn two_replicas_share_the_sign_in_throttle() {
        let db = pg_or_skip!("two_replicas_share_the_sign_in_throttle");
        let a = pg_server(&db.url, &[]);
        let b = pg_server(&db.url, &[]);
        let admin = a.setup("admin@example.com");
        for email in ["victim@example.com", "other@example.com"] {
            let r = http(
                a.port,
                "POST",
                "/api/user",
                Some(&admin),
                Some(&json!({"email": email, "password": "An0ther-secret"})),
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let login = |port: u16, user: &str, password: &str| {
            http(
                port,
                "POST",
                "/api/session",
                None,
                Some(&json!({"username": user, "password": password})),
            )
        };
        for i in 0..10 {
            let port = if i % 2 == 0 { a.port } else { b.port };
            let r = login(port, "victim@example.com", "wrong-pw-1");
            assert_eq!(
                r.json()["errors"]["password"],
                json!("did not match stored password")
            );
        }
        for port in [a.port, b.port] {
            let r = login(port, "Victim@Example.com", "An0ther-secret");
            assert_eq!(r.status, 401, "blocked on both replicas");
            assert!(
                r.json()["errors"]["username"]
                    .as_str()
                    .unwrap()
                    .starts_with("Too many attempts!"),
                "{}",
                r.body
            );
        }
        // Forty at once over both replicas: at most ten reach a password check, the rest are refused.
        let ports = [a.port, b.port];
        let results = at_once(40, move |i| {
            try_http(
                ports[i % 2],
                "POST",
                "/api/session",
                None,
                Some(&json!({"username": "other@example.com", "password": "wrong-pw-1"})),
                Duration::from_secs(60),
            )
        });
        let checked = results
            .iter()
            .flatten()
            .filter(|r| r.json()["errors"]["password"] == json!("did not match stored password"))
            .count();
        let refused = results
            .iter()
            .flatten()
            .filter(|r| r.json()["errors"]["username"].is_string())
            .count();
        assert!(checked <= 10, "{checked} password checks");
        assert_eq!(checked + refused, 40, "every attempt answered with 401");
        assert_eq!(
            login(b.port, "other@example.com", "An0ther-secret").status,
            401
        );
    }

    #[test]
    fn two_replicas_share_sessions_and_deliver_each_email_once() {
        let db = pg_or_skip!("two_replicas_share_sessions_and_deliver_each_email_once");
        let sink = people_mailer::testing::SmtpSink::start().unwrap();
        let smtp_port = sink.port().to_string();
        let env = [
            ("MB_EMAIL_SMTP_HOST", "127.0.0.1"),
            ("MB_EMAIL_SMTP_PORT", smtp_port.as_str()),
        ];
        let a = pg_server(&db.url, &env);
        let b = pg_server(&db.url, &env);
        let admin = a.setup("admin@example.com");
        assert_eq!(
            http(b.port, "GET", "/api/user/current", Some(&admin), None).status,
            200,
            "A's session works on B"
        );
        let u = http(
            a.port,
            "POST",
            "/api/user",
            Some(&admin),
            Some(&json!({"email": "u@example.com", "password": PASSWORD})),
        )
        .json();
        let us = a.login("u@example.com");
        assert_eq!(
            http(b.port, "GET", "/api/user/current", Some(&us), None).status,
            200
        );
        let r = http(
            b.port,
            "DELETE",
            &format!("/api/user/{}", u["id"]),
            Some(&admin),
            None,
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            http(a.port, "GET", "/api/user/current", Some(&us), None).status,
            401,
            "B's deactivation holds on A at once"
        );
        for i in 0..20 {
            let via = if i % 2 == 0 { &a } else { &b };
            let r = http(
                via.port,
                "POST",
                "/api/user",
                Some(&admin),
                Some(&json!({"email": format!("invitee{i}@example.com")})),
            );
            assert_eq!(r.status, 200);
        }
        // 21 invites in all (u included); both replicas' workers deliver; none twice.
        let got = sink.wait_for(21, Duration::from_secs(30));
        std::thread::sleep(Duration::from_secs(6)); // a poll period of the other worker: duplicates would show
        let got = if got.len() >= 21 {
            sink.messages()
        } else {
            got
        };
        let mut per: HashMap<String, usize> = HashMap::new();
        for m in &got {
            *per.entry(m.to.join(",")).or_default() += 1;
        }
        assert_eq!(per.len(), 21, "every invite arrived: {per:?}");
        assert!(per.values().all(|n| *n == 1), "each exactly once: {per:?}");
        assert_eq!(
            db.count("SELECT count(*) AS n FROM email_outbox WHERE sent_at IS NULL"),
            0
        );
    }

    #[test]
    fn a_database_outage_is_survived_without_losing_writes() {
        let db = pg_or_skip!("a_database_outage_is_survived_without_losing_writes");
        let (host, port) = pg_host_port(&db.url);
        let proxy = Proxy::start((host, port));
        let dbname = db
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let via_proxy = format!("postgres://postgres@127.0.0.1:{}/{dbname}", proxy.port);
        let s = pg_server(&via_proxy, &[]);
        let admin = s.setup("admin@example.com");
        let port = s.port;

        #[derive(Debug, Clone)]
        struct Outcome {
            start: Instant,
            elapsed: Duration,
            status: Option<u16>,
            body: String,
            email: Option<String>,
        }
        let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..6)
            .map(|w| {
                let (outcomes, stop, admin) =
                    (Arc::clone(&outcomes), Arc::clone(&stop), admin.clone());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        n += 1;
                        let write = n % 2 == 0;
                        let email = write.then(|| format!("w{w}-{n}@example.com"));
                        let start = Instant::now();
                        let r = match &email {
                            Some(e) => try_http(
                                port,
                                "POST",
                                "/api/user",
                                Some(&admin),
                                Some(&json!({"email": e})),
                                Duration::from_secs(8),
                            ),
                            None => try_http(
                                port,
                                "GET",
                                "/api/user/current",
                                Some(&admin),
                                None,
                                Duration::from_secs(8),
                            ),
                        };
                        outcomes.lock().unwrap().push(Outcome {
                            start,
                            elapsed: start.elapsed(),
                            status: r.as_ref().map(|r| r.status),
                            body: r.map(|r| r.body).unwrap_or_default(),
                            email,
                        });
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        let cut_at = Instant::now();
        proxy.cut();
        std::thread::sleep(Duration::from_millis(1500));
        let health = try_http(
            port,
            "GET",
            "/api/health",
            None,
            None,
            Duration::from_secs(8),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let restored_at = Instant::now();
        proxy.restore();
        std::thread::sleep(Duration::from_secs(7));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }

        assert_eq!(
            (health.status, health.json()),
            (503, json!({"status": "Unable to get app-db connection"}))
        );
        let outcomes = outcomes.lock().unwrap().clone();
        let during: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.start > cut_at + Duration::from_millis(200) && o.start < restored_at)
            .collect();
        assert!(!during.is_empty());
        for o in &outcomes {
            let status = o
                .status
                .unwrap_or_else(|| panic!("no answer (hang or reset): {o:?}"));
            assert!(status == 200 || status == 503, "only 200 or 503: {o:?}");
            assert!(
                o.elapsed <= Duration::from_millis(5500),
                "answered within 5 s: {o:?}"
            );
            if status == 503 {
                assert!(
                    serde_json::from_str::<Value>(&o.body).is_ok_and(|v| v["message"].is_string()),
                    "503 is JSON: {o:?}"
                );
            }
        }
        assert!(
            during.iter().any(|o| o.status == Some(503)),
            "the outage was noticed"
        );
        let late: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.start > restored_at + Duration::from_secs(5))
            .collect();
        assert!(!late.is_empty());
        assert!(
            late.iter().all(|o| o.status == Some(200)),
            "recovered within 5 s without a restart: {late:?}"
        );
        let acknowledged: Vec<&String> = outcomes
            .iter()
            .filter(|o| o.status == Some(200))
            .filter_map(|o| o.email.as_ref())
            .collect();
        assert!(acknowledged.len() > 10);
        for e in acknowledged {
            assert_eq!(
                db.count(&format!(
                    "SELECT count(*) AS n FROM core_user WHERE email = '{e}'"
                )),
                1,
                "acknowledged write {e} is kept"
            );
        }
    }
}

mod sqlite {
    use super::*;

    #[test]
    fn eight_concurrent_scim_creates_make_one_person() {
        let dir = temp_dir();
        let s = sqlite_server(&dir, &[]);
        concurrent_scim_creates(&s);
    }

    #[test]
    fn fifty_concurrent_duplicates_make_one_row() {
        let dir = temp_dir();
        let s = sqlite_server(&dir, &[]);
        concurrent_duplicates(&s);
    }

    #[test]
    fn sixty_four_concurrent_writers_never_see_a_locked_database() {
        let dir = temp_dir();
        let s = sqlite_server(&dir, &[]);
        let admin = s.setup("admin@example.com");
        let port = s.port;
        let ids: Vec<Value> = (0..64)
            .map(|i| {
                http(
                    port,
                    "POST",
                    "/api/user",
                    Some(&admin),
                    Some(&json!({"email": format!("w{i}@example.com")})),
                )
                .json()["id"]
                    .clone()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        let ids = Arc::new(ids);
        let results = at_once(64, move |i| {
            let mut bad = Vec::new();
            let mut n = 0u32;
            while Instant::now() < deadline {
                n += 1;
                let r = if n.is_multiple_of(3) {
                    try_http(
                        port,
                        "POST",
                        "/api/user",
                        Some(&admin),
                        Some(&json!({"email": format!("new-{i}-{n}@example.com")})),
                        Duration::from_secs(30),
                    )
                } else {
                    try_http(
                        port,
                        "PUT",
                        &format!("/api/user/{}", ids[i]),
                        Some(&admin),
                        Some(&json!({"first_name": format!("N{n}")})),
                        Duration::from_secs(30),
                    )
                };
                match r {
                    Some(r) if r.status == 200 => {}
                    other => bad.push(other.map(|r| (r.status, r.body))),
                }
            }
            Some(Resp {
                status: 200,
                head: n.to_string(),
                body: serde_json::to_string(&format!("{bad:?}")).unwrap(),
            })
        });
        let mut total = 0u64;
        for r in results.into_iter().flatten() {
            total += r.head.parse::<u64>().unwrap();
            assert_eq!(r.body, "\"[]\"", "every write succeeded");
        }
        assert!(total > 500, "{total} writes in 10 s");
    }

    #[test]
    fn sigterm_lets_64_in_flight_requests_finish() {
        let dir = temp_dir();
        // Real bcrypt cost: 64 logins take seconds, so they are in flight when SIGTERM arrives.
        let mut s = sqlite_server(&dir, &[("MB_BCRYPT_COST", "10")]);
        s.setup("admin@example.com");
        let port = s.port;
        let pid = s.child.id();
        let results = {
            let handle = std::thread::spawn(move || {
                at_once(64, move |_| {
                    try_http(
                        port,
                        "POST",
                        "/api/session",
                        None,
                        Some(&json!({"username": "admin@example.com", "password": PASSWORD})),
                        Duration::from_secs(60),
                    )
                })
            });
            std::thread::sleep(Duration::from_millis(400));
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .unwrap();
            handle.join().unwrap()
        };
        let statuses: Vec<Option<u16>> = results
            .iter()
            .map(|r| r.as_ref().map(|r| r.status))
            .collect();
        assert!(
            statuses.iter().all(|s| *s == Some(200)),
            "every in-flight request completed: {statuses:?}"
        );
        let status = s.child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
    }

    /// Past the hashing queue's bound, sign-ins are answered 503 with Retry-After at once; memory stays flat.
    #[test]
    fn a_hash_flood_beyond_the_queue_is_answered_busy() {
        let dir = temp_dir();
        // Cost 12 (~0.3 s a hash) and one second of queue: a handful of jobs fit.
        let s = sqlite_server(
            &dir,
            &[
                ("MB_BCRYPT_COST", "12"),
                ("PEOPLE_HASH_QUEUE_SECONDS", "1"),
                ("MB_DISABLE_SESSION_THROTTLE", "true"),
            ],
        );
        s.setup("admin@example.com");
        let port = s.port;
        let rss_before = s.rss_kib();
        let results = at_once(60, move |i| {
            let started = Instant::now();
            let r = try_http(
                port,
                "POST",
                "/api/session",
                None,
                Some(
                    &json!({"username": format!("nobody{i}@example.com"), "password": "wrong-pw-1"}),
                ),
                Duration::from_secs(120),
            );
            r.map(|r| Resp {
                head: format!(
                    "{}\r\nelapsed-ms: {}",
                    r.head,
                    started.elapsed().as_millis()
                ),
                ..r
            })
        });
        let busy: Vec<&Resp> = results
            .iter()
            .flatten()
            .filter(|r| r.status == 503)
            .collect();
        let checked = results.iter().flatten().filter(|r| r.status == 401).count();
        assert_eq!(
            busy.len() + checked,
            60,
            "every request answered 401 or 503"
        );
        assert!(!busy.is_empty(), "the queue is bounded");
        assert!(checked >= 2, "the queue still serves");
        for r in &busy {
            assert_eq!(
                r.json(),
                json!({"message": "Too many sign-in attempts in progress; try again shortly."})
            );
            let head = r.head.to_ascii_lowercase();
            let retry: u64 = head
                .lines()
                .find_map(|l| l.strip_prefix("retry-after: "))
                .expect("Retry-After")
                .trim()
                .parse()
                .unwrap();
            assert!((1..=30).contains(&retry), "{retry}");
        }
        assert!(s.rss_kib() < rss_before + 20 * 1024, "memory stays flat");
    }

    #[test]
    fn hostile_input_gets_4xx_and_bounded_memory() {
        let dir = temp_dir();
        let s = sqlite_server(&dir, &[]);
        let admin = s.setup("admin@example.com");
        let port = s.port;
        let t = Duration::from_secs(30);
        let ten_mb = vec![b'a'; 10 << 20];
        let mut req = format!("POST /api/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", ten_mb.len()).into_bytes();
        req.extend_from_slice(&ten_mb);
        assert_eq!(raw(port, &req, t).unwrap().status, 413, "10 MB body");
        let mut chunked = b"POST /api/user HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n".to_vec();
        chunked.extend_from_slice(format!("X-Metabase-Session: {admin}\r\n\r\n").as_bytes());
        for _ in 0..160 {
            chunked.extend_from_slice(format!("{:x}\r\n", 65536).as_bytes());
            chunked.extend_from_slice(&[b' '; 65536]);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            raw(port, &chunked, t).unwrap().status,
            413,
            "10 MB chunked body"
        );
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let r = try_http(port, "POST", "/api/user", Some(&admin), None, t);
        assert!(r.is_some());
        let mut req = format!("POST /api/user HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-Metabase-Session: {admin}\r\nContent-Length: {}\r\n\r\n", deep.len()).into_bytes();
        req.extend_from_slice(deep.as_bytes());
        assert_eq!(
            raw(port, &req, t).unwrap().status,
            400,
            "deeply nested JSON"
        );
        let mut req = b"POST /api/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n".to_vec();
        req.extend_from_slice(b"{\"username\":\"\xff\xfe\"}");
        assert_eq!(raw(port, &req, t).unwrap().status, 400, "invalid UTF-8");
        let big_header = format!(
            "GET /api/user/current HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
            "v".repeat(100 * 1024)
        );
        let r = raw(port, big_header.as_bytes(), t);
        assert!(
            r.as_ref().is_none_or(|r| (400..500).contains(&r.status)),
            "100 KB header: {:?}",
            r.map(|r| r.status)
        );
        assert_eq!(
            http(
                port,
                "GET",
                "/api/user/99999999999999999999999",
                Some(&admin),
                None
            )
            .status,
            404,
            "id beyond i64"
        );
        assert_eq!(
            http(port, "GET", "/api/user?limit=999999999", Some(&admin), None).status,
            400,
            "huge limit"
        );
        assert_eq!(
            http(port, "GET", "/api/health", None, None).status,
            200,
            "still serving"
        );
        let rss = s.rss_kib();
        assert!(rss < 64 * 1024, "memory stayed bounded: {rss} KiB");
    }
}

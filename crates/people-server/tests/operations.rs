//! Operations on the real binary: `people backup` of a SQLite database under write load (the copy opens with
//! every acknowledged user), its refusals (an existing file, PostgreSQL), and housekeeping running inside
//! `people serve`.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::json;
use support::*;

fn backup(dir: &std::path::PathBuf, db: &str, path: &std::path::Path) -> Output {
    people(dir)
        .env("MB_DB_CONNECTION_URI", db)
        .arg("backup")
        .arg(path)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every user's email, as the administrator sees them.
fn emails(s: &Server, session: &str) -> BTreeSet<String> {
    let r = http(
        s.port,
        "GET",
        "/api/user?status=all&limit=10000",
        Some(session),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_backup_under_write_load_holds_every_user_acknowledged_before_it() {
    let dir = temp_dir();
    let s = Server::start(people(&dir));
    let admin = s.setup("admin@example.com");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop, admin, port) = (acked.clone(), stop.clone(), admin.clone(), s.port);
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let email = format!("w{w}-{i}@example.com");
                    let body = json!({"email": email, "first_name": "W", "last_name": "L"});
                    let r = http(port, "POST", "/api/user", Some(&admin), Some(&body));
                    assert_eq!(r.status, 200, "{}", r.body);
                    acked.lock().unwrap().push(email);
                    i += 1;
                }
            })
        })
        .collect();
    let wait = Instant::now();
    while acked.lock().unwrap().len() < 200 {
        assert!(wait.elapsed() < Duration::from_secs(60), "writers too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    let copy = dir.join("copy.db");
    let before: Vec<String> = acked.lock().unwrap().clone();
    let out = backup(&dir, "sqlite:people.db", &copy);
    let during = acked.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("copy.db"),
        "{}",
        text(&out.stdout)
    );
    let after = acked.lock().unwrap().len();
    assert!(after > during, "writes went on after the backup");
    eprintln!(
        "{} users acknowledged before the backup, {during} when it ended, {after} in all",
        before.len()
    );

    // Refused: the copy exists now.
    let again = backup(&dir, "sqlite:people.db", &copy);
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(
        !stderr.contains('\n') || stderr.lines().count() == 1,
        "{stderr}"
    );

    // The copy is a database of its own: people serves it with every acknowledged user.
    let other = temp_dir();
    let mut cmd = people(&other);
    cmd.env("MB_DB_CONNECTION_URI", format!("sqlite:{}", copy.display()));
    let restored = Server::start(cmd);
    let session = restored.login("admin@example.com");
    let found = emails(&restored, &session);
    let missing: Vec<&String> = before.iter().filter(|e| !found.contains(*e)).collect();
    assert!(missing.is_empty(), "missing from the copy: {missing:?}");
    assert!(found.len() > before.len(), "the admin and the users");
    assert!(found.len() <= after + 1, "no user the server never made");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}

#[test]
fn backup_refuses_postgres_and_memory_with_exit_2() {
    let dir = temp_dir();
    let out = backup(
        &dir,
        "postgres://people:s3cret@db.internal:5432/people",
        std::path::Path::new("/backups/people.dump"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "pg_dump --format=custom --file='/backups/people.dump' \
             --dbname='postgres://people@db.internal:5432/people'"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    let out = backup(&dir, "sqlite::memory:", &dir.join("m.db"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = backup(&dir, "sqlite:absent.db", &dir.join("a.db"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!dir.join("a.db").exists(), "no partial file is left");
    assert!(!dir.join("absent.db").exists(), "no database is created");
    let _ = std::fs::remove_dir_all(&dir);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[test]
fn the_server_deletes_expired_sessions_on_its_own() {
    let dir = temp_dir();
    let mut cmd = people(&dir);
    let metrics_port = free_port();
    cmd.env("PEOPLE_HOUSEKEEPING_INTERVAL_SECONDS", "1")
        .env("MB_PROMETHEUS_SERVER_PORT", metrics_port.to_string());
    let s = Server::start(cmd);
    let admin = s.setup("admin@example.com");
    let mut conn =
        diesel::SqliteConnection::establish(&dir.join("people.db").display().to_string()).unwrap();
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
         INSERT INTO core_session (id, user_id, created_at) \
         SELECT 'old' || i, (SELECT min(id) FROM core_user), '2020-01-01 00:00:00' FROM n",
    )
    .unwrap();
    let count = |conn: &mut diesel::SqliteConnection| -> i64 {
        let rows: Vec<Count> = diesel::sql_query("SELECT count(*) AS n FROM core_session")
            .load(conn)
            .unwrap();
        rows[0].n
    };
    let wait = Instant::now();
    while count(&mut conn) > 1 {
        assert!(
            wait.elapsed() < Duration::from_secs(30),
            "expired sessions are still there"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let me = http(s.port, "GET", "/api/user/current", Some(&admin), None);
    assert_eq!(me.status, 200, "the live session survives: {}", me.body);
    // Counted once the run that removed them has finished its last batch.
    let line = "people_housekeeping_removed_total{kind=\"sessions\"} 5000";
    let wait = Instant::now();
    loop {
        let scrape = http(metrics_port, "GET", "/metrics", None, None).body;
        if scrape.lines().any(|l| l == line) {
            break;
        }
        assert!(
            wait.elapsed() < Duration::from_secs(30),
            "{line} in {scrape}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Helpers for tests that run the real `people` binary: processes, a raw HTTP client, databases, a TCP proxy.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod browser;

pub const BIN: &str = env!("CARGO_BIN_EXE_people");
pub const PASSWORD: &str = "unc0mmonpw";

pub fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("people-it-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary with a clean environment (no MB_* from the caller), cheap bcrypt, quiet logs.
pub fn people(dir: &PathBuf) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("MB_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn").env("MB_BCRYPT_COST", "4");
    c
}

/// A response of the raw client.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection; `None` when the connection failed or timed out.
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    session: Option<&str>,
    body: Option<&Value>,
    timeout: Duration,
) -> Option<Resp> {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    if let Some(s) = session {
        req.push_str(&format!("X-Metabase-Session: {s}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    raw(port, req.as_bytes(), timeout)
}

/// Sends raw bytes and reads the whole response.
pub fn raw(port: u16, bytes: &[u8], timeout: Duration) -> Option<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    // The server may answer (413) and close before taking everything: that is fine.
    let _ = s.write_all(bytes);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some(Resp {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

pub fn http(
    port: u16,
    method: &str,
    path: &str,
    session: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    try_http(port, method, path, session, body, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

/// A running server, stopped with SIGTERM on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `cmd` on a free port and waits for a healthy answer.
    pub fn start(mut cmd: Command) -> Server {
        let port = free_port();
        let child = cmd.env("MB_JETTY_PORT", port.to_string()).spawn().unwrap();
        let mut s = Server { child, port };
        s.wait_healthy();
        s
    }

    pub fn wait_healthy(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(r) = try_http(
                self.port,
                "GET",
                "/api/health",
                None,
                None,
                Duration::from_secs(2),
            ) {
                if r.status == 200 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("people exited early: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no healthy answer"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn sigterm(&self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// Runs setup (first call) or logs in, returning a session.
    pub fn setup(&self, email: &str) -> String {
        let props = http(self.port, "GET", "/api/session/properties", None, None).json();
        let token = props["setup-token"].as_str().unwrap().to_string();
        let body = json!({"token": token, "user": {"email": email, "password": PASSWORD}, "prefs": {"site_name": "Acme"}});
        let r = http(self.port, "POST", "/api/setup", None, Some(&body));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub fn login(&self, email: &str) -> String {
        let r = http(
            self.port,
            "POST",
            "/api/session",
            None,
            Some(&json!({"username": email, "password": PASSWORD})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// Resident memory of the process, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.sigterm();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
    }
}

/// A fresh PostgreSQL database for a process under test, dropped afterwards.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDb {
    /// `None` when PEOPLE_TEST_POSTGRES_URL is not set.
    pub fn create() -> Option<PgDb> {
        let admin = std::env::var("PEOPLE_TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())?;
        let name = format!("people_it_{}", unique());
        Self::sql(&admin, &format!("CREATE DATABASE \"{name}\""));
        let url = people_store::testing::with_database(&admin, &name);
        Some(PgDb { url, admin, name })
    }

    pub fn sql(url: &str, sql: &str) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(url).unwrap();
        c.batch_execute(sql).unwrap();
    }

    /// `SELECT count(*) …` on this database.
    pub fn count(&self, sql: &str) -> i64 {
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = diesel::PgConnection::establish(&self.url).unwrap();
        diesel::sql_query(sql).load::<N>(&mut c).unwrap()[0].n
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A TCP proxy to PostgreSQL that a test can cut (every connection reset, new ones refused at once) and
/// restore.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(target: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (u, c, st) = (Arc::clone(&up), Arc::clone(&conns), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if !u.load(Ordering::SeqCst) {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)) else {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        c.lock()
                            .unwrap()
                            .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                        pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pump(server, client);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Proxy {
            port,
            up,
            conns,
            stop,
        }
    }

    /// Resets every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Host and port of a postgres:// URL.
pub fn pg_host_port(url: &str) -> (String, u16) {
    let rest = url.split("://").nth(1).unwrap();
    let hostport = rest.rsplit('@').next().unwrap().split('/').next().unwrap();
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap()),
        None => (hostport.to_string(), 5432),
    }
}

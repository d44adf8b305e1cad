//! Test harness: the real actix app over a fresh real database, driven with real HTTP requests in-process.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_http::Request;
use actix_service::boxed::{self, BoxService};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use actix_web::App;
use people_domain::clock::{Clock, ManualClock};
use people_domain::group::{GroupRole, ADMINISTRATORS_ID, ALL_USERS_ID};
use people_domain::password::{Bcrypt, PasswordHasher};
use people_domain::store::{NewMembership, Store};
use people_domain::user::{NewUser, User};
use people_domain::{Config, People, UserId};
use people_store::testing::{Backend, TestDb};
use people_web::{Api, WebConfig};
use serde_json::Value;

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?} (status {})", self.text(), self.status)
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }

    /// Every Set-Cookie header value.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    }

    /// The Set-Cookie header for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

type Svc = BoxService<Request, ServiceResponse, actix_web::Error>;

/// The app over a fresh database.
pub struct TestApp {
    pub db: TestDb,
    pub api: Arc<Api>,
    pub clock: Arc<ManualClock>,
    /// Passwords checked so far (verifications, the dummy one included).
    pub password_checks: Arc<AtomicUsize>,
    svc: Svc,
}

/// bcrypt at cost 4, counting the password checks.
struct CountingHasher {
    inner: Bcrypt,
    checks: Arc<AtomicUsize>,
}

impl PasswordHasher for CountingHasher {
    fn hash(&self, password: &str) -> people_domain::Result<people_domain::password::PasswordHash> {
        self.inner.hash(password)
    }

    fn verify(&self, password: &str, salt: &str, hash: &str) -> people_domain::Result<bool> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(password, salt, hash)
    }

    fn dummy_verify(&self, password: &str) -> people_domain::Result<()> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.inner.dummy_verify(password)
    }
}

/// The password every helper-made user has.
pub const PASSWORD: &str = "unc0mmonpw";

/// Test configuration: cheap bcrypt, throttling on, defaults otherwise.
pub fn test_config() -> Config {
    Config::default()
}

impl TestApp {
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, test_config(), WebConfig::default()).await
    }

    pub async fn start_with(backend: Backend, config: Config, web: WebConfig) -> Option<TestApp> {
        Self::start_full(backend, config, web, None, None).await
    }

    /// An app whose LDAP client is `directory` (people-ldap's, against a test slapd).
    pub async fn start_with_directory(
        backend: Backend,
        directory: Arc<dyn people_domain::ldap::Directory>,
    ) -> Option<TestApp> {
        Self::start_full(
            backend,
            test_config(),
            WebConfig::default(),
            None,
            Some(directory),
        )
        .await
    }

    /// An app whose outbox bodies are encrypted at rest with a key derived from `secret`.
    pub async fn start_keyed(backend: Backend, secret: &str) -> Option<TestApp> {
        Self::start_full(
            backend,
            test_config(),
            WebConfig::default(),
            Some(secret),
            None,
        )
        .await
    }

    async fn start_full(
        backend: Backend,
        config: Config,
        web: WebConfig,
        outbox_key: Option<&str>,
        directory: Option<Arc<dyn people_domain::ldap::Directory>>,
    ) -> Option<TestApp> {
        let mut db = TestDb::new(backend)?;
        if let Some(secret) = outbox_key {
            db.db = db.db.clone().with_encryption_key(secret);
        }
        // A clock that only moves when a test says so: throttling and expiry texts are exact.
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let password_checks = Arc::new(AtomicUsize::new(0));
        let hasher = CountingHasher {
            inner: Bcrypt::new(4).expect("bcrypt"),
            checks: Arc::clone(&password_checks),
        };
        let people = People::new(
            Arc::new(db.db.clone()),
            Arc::new(hasher),
            Arc::new(people_mailer::Templates),
            config,
        )
        .with_clock(clock.clone());
        let people = match directory {
            Some(d) => people.with_directory(d),
            None => people,
        };
        let api = Api::new(Arc::new(people), web);
        let svc = test::init_service(App::new().configure(api.mount())).await;
        Some(TestApp {
            db,
            api,
            clock,
            password_checks,
            svc: boxed::service(svc),
        })
    }

    pub fn store(&self) -> &dyn Store {
        &self.db.db
    }

    pub fn now(&self) -> people_domain::clock::Timestamp {
        self.clock.now()
    }

    /// The setup token from the public properties.
    pub async fn setup_token(&self) -> String {
        let r = self.get("/api/session/properties", None).await;
        r.json()["setup-token"]
            .as_str()
            .expect("a setup token")
            .to_string()
    }

    /// Runs `/api/setup` for admin@example.com and returns its session.
    pub async fn setup(&self) -> String {
        let token = self.setup_token().await;
        let body = serde_json::json!({
            "token": token,
            "user": {"first_name": "Ada", "last_name": "Admin", "email": "admin@example.com", "password": PASSWORD},
            "prefs": {"site_name": "Acme"}
        });
        let r = self.post("/api/setup", None, body).await;
        assert_eq!(r.status, 200, "setup: {}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// Inserts a user directly through the store (password PASSWORD, All Users, Administrators if admin).
    pub fn add_user(
        &self,
        email: &str,
        first: Option<&str>,
        last: Option<&str>,
        admin: bool,
    ) -> User {
        let hash = Bcrypt::new(4).unwrap().hash(PASSWORD).unwrap();
        let new = NewUser {
            email: email.to_lowercase(),
            first_name: first.map(str::to_string),
            last_name: last.map(str::to_string),
            password: Some(hash),
            is_superuser: admin,
            login_attributes: None,
            locale: None,
            sso_source: None,
            date_joined: self.now(),
            user_type: people_domain::user::UserType::Personal,
            entity_id: Some(people_domain::group::new_entity_id()),
            external_id: None,
        };
        self.store()
            .write(|r| {
                let u = r.insert_user(&new)?;
                for group_id in [ALL_USERS_ID, ADMINISTRATORS_ID] {
                    if group_id == ALL_USERS_ID || admin {
                        r.insert_membership(&NewMembership {
                            user_id: u.id,
                            group_id,
                            role: GroupRole::Member,
                        })?;
                    }
                }
                Ok(u)
            })
            .unwrap()
    }

    /// Logs `email` in with PASSWORD and returns the session id.
    pub async fn login(&self, email: &str) -> String {
        let body = serde_json::json!({"username": email, "password": PASSWORD});
        let r = self.post("/api/session", None, body).await;
        assert_eq!(r.status, 200, "login {email}: {}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// Changes a user row directly.
    pub fn update_user(&self, id: UserId, f: impl FnOnce(&mut User)) {
        self.store()
            .write(|r| {
                let mut u = r.user_by_id(id)?.unwrap();
                f(&mut u);
                r.update_user(&u)
            })
            .unwrap()
    }

    /// Sends a request built by `build`.
    pub async fn send(&self, req: TestRequest) -> Resp {
        let resp = self
            .svc
            .call(req.to_request())
            .await
            .expect("service error");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await.to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = TestRequest::default().method(method).uri(path);
        if let Some(s) = session {
            req = req.insert_header(("X-Metabase-Session", s.to_string()));
        }
        if let Some(b) = body {
            req = req.set_json(b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, session: Option<&str>) -> Resp {
        self.call(Method::GET, path, session, None).await
    }

    pub async fn post(&self, path: &str, session: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, session, Some(body)).await
    }

    pub async fn put(&self, path: &str, session: Option<&str>, body: Value) -> Resp {
        self.call(Method::PUT, path, session, Some(body)).await
    }

    pub async fn delete(&self, path: &str, session: Option<&str>) -> Resp {
        self.call(Method::DELETE, path, session, None).await
    }
}

/// A real SMTP listener and an outbox worker (not spawned: tests deliver with [`Mail::deliver`]).
pub struct Mail {
    pub sink: people_mailer::testing::SmtpSink,
    pub worker: people_mailer::OutboxWorker,
    /// For the background pass that answers password-reset asks before delivery, as the server's
    /// background worker does.
    people: Arc<People>,
}

impl Mail {
    /// A listener on a free port and a worker over `t`'s database on `t`'s clock.
    pub fn start(t: &TestApp) -> Mail {
        let sink = people_mailer::testing::SmtpSink::start().unwrap();
        Mail::on(t, sink)
    }

    /// A worker sending to `sink`.
    pub fn on(t: &TestApp, sink: people_mailer::testing::SmtpSink) -> Mail {
        let settings = people_mailer::SmtpSettings {
            host: "127.0.0.1".into(),
            port: sink.port(),
            security: people_mailer::SmtpSecurity::None,
            username: None,
            password: None,
            from: "people@example.com".into(),
        };
        let deliverer = people_mailer::SmtpDeliverer::new(&settings).unwrap();
        let worker = people_mailer::OutboxWorker::new(
            Arc::new(t.db.db.clone()),
            Arc::new(deliverer),
            people_mailer::WorkerConfig::default(),
        )
        .with_clock(t.clock.clone());
        Mail {
            sink,
            worker,
            people: Arc::clone(&t.api.people),
        }
    }

    /// Runs one background pass and one worker pass (on a thread of its own, as in the server: the SMTP
    /// transport blocks) and returns every message received so far.
    pub fn deliver(&self) -> Vec<people_mailer::testing::Received> {
        self.people.background_pass().unwrap();
        self.pass();
        self.sink.messages()
    }

    /// One worker pass.
    pub fn pass(&self) -> people_mailer::Pass {
        run_pass(&self.worker)
    }
}

/// One pass of `worker` on a thread of its own.
pub fn run_pass(worker: &people_mailer::OutboxWorker) -> people_mailer::Pass {
    std::thread::scope(|s| s.spawn(|| worker.run_once().unwrap()).join().unwrap())
}

/// The reset token in a link of `text` (`…/auth/reset_password/<token>` with or without `#new`).
pub fn token_in(text: &str) -> Option<String> {
    let at = text.find("/auth/reset_password/")? + "/auth/reset_password/".len();
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!token.is_empty()).then_some(token)
}

/// Defines each async test twice, `sqlite::name` and `postgres::name`, each on a fresh database. Without
/// PEOPLE_TEST_POSTGRES_URL the PostgreSQL twin prints that it did not run.
#[macro_export]
macro_rules! web_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($t:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            /// This module's back end, for tests that start an app of their own.
            #[allow(dead_code)]
            const BACKEND: people_store::testing::Backend = people_store::testing::Backend::Sqlite;
            $(
                $(#[$meta])*
                #[actix_rt::test]
                async fn $name() {
                    let $t = $crate::common::TestApp::start(people_store::testing::Backend::Sqlite).await.expect("sqlite app");
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            /// This module's back end, for tests that start an app of their own.
            #[allow(dead_code)]
            const BACKEND: people_store::testing::Backend = people_store::testing::Backend::Postgres;
            $(
                $(#[$meta])*
                #[actix_rt::test]
                async fn $name() {
                    let Some($t) = $crate::common::TestApp::start(people_store::testing::Backend::Postgres).await else {
                        eprintln!("postgres::{} not run: PEOPLE_TEST_POSTGRES_URL is not set", stringify!($name));
                        return;
                    };
                    $body
                }
            )*
        }
    };
}

/// The keys of a JSON object (the shape of a response, whatever its values).
pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

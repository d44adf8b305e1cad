//! The connection pool: one build serves PostgreSQL and SQLite, chosen at run time from the URL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Connection, Instrumentation, InstrumentationEvent, SimpleConnection,
    TransactionManager,
};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use people_domain::store::{Repo, Store, Transaction};
use people_domain::{DomainError, Result, StoreFailure};

use crate::cipher::Keys;
use crate::error::StoreError;
use crate::repo::DbRepo;

/// A connection to either back end. Queries written once against this type run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL.
    Postgresql(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Runs `$body` with `$c` bound to the inner connection of either back end. For the hottest queries: on the
/// inner connection a cached prepared statement is reused as is, where the multi-backend wrapper would
/// serialise the SQL again on every execution.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `postgres://` or `postgresql://` URL, passed to libpq.
    Postgres(String),
    /// A SQLite database file.
    SqliteFile(String),
    /// A private in-memory SQLite database (`sqlite::memory:`), alive as long as the pool.
    SqliteMemory(String),
}

impl Target {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite:PATH`, `sqlite://PATH` or `sqlite::memory:`.
    /// Anything else is refused: SQLite would take any string as a file name.
    pub fn parse(url: &str) -> std::result::Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
        }
        if url == "sqlite::memory:" || url == "sqlite://:memory:" || url == "sqlite::memory" {
            let name = format!(
                "file:people-{}?mode=memory&cache=shared",
                uuid::Uuid::new_v4()
            );
            return Ok(Target::SqliteMemory(name));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.is_empty() {
                return Ok(Target::SqliteFile(path.to_string()));
            }
        }
        Err(StoreError::BadUrl(url.to_string()))
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Target::Postgres(_) => "postgres",
            _ => "sqlite",
        }
    }
}

/// Counts the statements a pool runs; tests use it to prove how many queries a request costs.
#[derive(Debug, Default, Clone)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Statements run so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A pooled connection and whether it failed in a way that leaves it unusable (the server went away).
pub struct Conn {
    inner: AnyConnection,
    broken: bool,
}

/// Opens connections for r2d2 and sets each SQLite connection up.
#[derive(Debug)]
struct Manager {
    target: Target,
    counter: StatementCounter,
}

/// libpq waits this long for a server before giving up (unless the URL says otherwise).
const PG_CONNECT_TIMEOUT_SECS: u32 = 5;

/// True when a postgres URL names this machine (127.0.0.1, ::1, localhost, or no host: a local socket).
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or("");
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    matches!(host, "" | "127.0.0.1" | "localhost" | "::1")
}

/// Adds libpq parameters the URL does not set: a connect timeout, TCP keepalives and a TCP user timeout,
/// so that a server that vanishes without closing its connections is noticed in seconds, not minutes.
fn with_pg_defaults(url: &str) -> String {
    let defaults = [
        ("connect_timeout", PG_CONNECT_TIMEOUT_SECS.to_string()),
        ("keepalives", "1".to_string()),
        ("keepalives_idle", "10".to_string()),
        ("keepalives_interval", "3".to_string()),
        ("keepalives_count", "3".to_string()),
        ("tcp_user_timeout", "10000".to_string()),
    ];
    let mut out = url.to_string();
    // On the loopback interface TLS protects nothing and costs a fifth of the database's CPU.
    if is_loopback_url(url) && !url.contains("sslmode=") {
        let sep = if out.contains('?') { '&' } else { '?' };
        out.push_str(&format!("{sep}sslmode=disable"));
    }
    for (key, value) in defaults {
        if !out.contains(&format!("{key}=")) {
            let sep = if out.contains('?') { '&' } else { '?' };
            out.push_str(&format!("{sep}{key}={value}"));
        }
    }
    out
}

impl Manager {
    fn open(&self) -> diesel::ConnectionResult<AnyConnection> {
        let mut conn = match &self.target {
            Target::Postgres(url) => {
                AnyConnection::Postgresql(PgConnection::establish(&with_pg_defaults(url))?)
            }
            Target::SqliteFile(path) | Target::SqliteMemory(path) => {
                let mut c = SqliteConnection::establish(path)?;
                c.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                AnyConnection::Sqlite(c)
            }
        };
        conn.set_instrumentation(self.counter.clone());
        Ok(conn)
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> std::result::Result<Conn, Self::Error> {
        let inner = self.open().map_err(diesel::r2d2::Error::ConnectionError)?;
        Ok(Conn {
            inner,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> std::result::Result<(), Self::Error> {
        conn.inner.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || conn.inner.is_broken()
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections held (`MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE`). In-memory SQLite always uses one.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing with "database unavailable".
    pub checkout_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 15,
            checkout_timeout: Duration::from_secs(1),
        }
    }
}

/// The database: a pool of connections to one back end. Implements the domain's [`Store`].
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    target: Arc<Target>,
    counter: StatementCounter,
    breaker: Arc<Breaker>,
    /// Seals outbox bodies and secret settings at rest, when `MB_ENCRYPTION_SECRET_KEY` is set.
    keys: Option<Arc<Keys>>,
    metrics: PoolMetrics,
}

/// The pool's instruments, looked up once when the pool is made (a metrics recorder installed later is not
/// seen): every request checks a connection out, so the hot path does no registry look-up.
#[derive(Clone)]
struct PoolMetrics {
    /// Time to obtain a connection, waiting or not (`people_db_pool_checkout_seconds`).
    checkout: metrics::Histogram,
    /// Checkouts that found no idle connection and had to wait (`people_db_pool_waits_total`).
    waits: metrics::Counter,
    /// Checkouts that got no connection (`people_db_pool_checkout_failures_total`).
    failures: metrics::Counter,
}

impl PoolMetrics {
    fn new() -> Self {
        let failures = metrics::counter!("people_db_pool_checkout_failures_total");
        let waits = metrics::counter!("people_db_pool_waits_total");
        // Shown at zero from the start, so that rates and alerts have a series before the first event.
        failures.increment(0);
        waits.increment(0);
        PoolMetrics {
            checkout: metrics::histogram!("people_db_pool_checkout_seconds"),
            waits,
            failures,
        }
    }
}

/// What waits in the outbox, for monitoring: read when metrics are scraped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Emails not yet sent and still to be sent.
    pub unsent: i64,
    /// Those of them whose last delivery attempt failed.
    pub retrying: i64,
    /// When the oldest of them was queued.
    pub oldest_unsent: Option<people_domain::clock::Timestamp>,
}

/// After the database could not be reached, requests fail at once instead of each waiting the whole
/// checkout timeout: during an outage callers get their 503 quickly, and a request worker is never held up
/// behind others that are each waiting for the timeout. Once the open period ends, one request probes the
/// database (the others keep failing fast) and closes the breaker when it gets a connection.
#[derive(Debug, Default)]
struct Breaker {
    state: std::sync::Mutex<BreakerState>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum BreakerState {
    #[default]
    Closed,
    Open(std::time::Instant),
    Probing,
}

/// How long the breaker stays open after a failed checkout.
const BREAKER_OPEN: Duration = Duration::from_secs(1);

impl Breaker {
    /// True when this caller may try the pool (closed, or its turn to probe).
    fn admit(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *state {
            BreakerState::Closed => true,
            BreakerState::Open(until) if std::time::Instant::now() >= until => {
                *state = BreakerState::Probing;
                true
            }
            BreakerState::Open(_) | BreakerState::Probing => false,
        }
    }

    fn succeeded(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state != BreakerState::Closed {
            *state = BreakerState::Closed;
        }
    }

    fn failed(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
            BreakerState::Open(std::time::Instant::now() + BREAKER_OPEN);
    }
}

/// r2d2 reports failed connection attempts here: one warning line each.
#[derive(Debug)]
struct OneLineErrors;

impl r2d2::HandleError<diesel::r2d2::Error> for OneLineErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        let line = error
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        log::warn!("database connection failed: {line}");
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.target.backend())
            .finish()
    }
}

impl Db {
    /// Opens a pool on `url` and checks that one connection can be made; the error says why not.
    pub fn connect(url: &str, options: &PoolOptions) -> std::result::Result<Db, StoreError> {
        let target = Target::parse(url)?;
        let counter = StatementCounter::default();
        let manager = Manager {
            target: target.clone(),
            counter: counter.clone(),
        };
        // Fail fast with the real reason instead of r2d2's generic timeout.
        let mut first = manager
            .open()
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        if let AnyConnection::Sqlite(c) = &mut first {
            if matches!(target, Target::SqliteFile(_)) {
                c.batch_execute("PRAGMA journal_mode = WAL;")
                    .map_err(|e| StoreError::Connect(e.to_string()))?;
            }
        }
        let max = match target {
            Target::SqliteMemory(_) => 1,
            _ => options.max_connections.max(1),
        };
        // Every connection is opened up front and kept: opening one (a PostgreSQL backend process) under
        // load would stall the request waiting for it.
        let pool = r2d2::Pool::builder()
            .max_size(max)
            .min_idle(Some(max))
            .connection_timeout(options.checkout_timeout)
            .error_handler(Box::new(OneLineErrors))
            .test_on_check_out(false)
            .build_unchecked(manager);
        // The first connection keeps an in-memory database alive until the pool holds its own.
        let db = Db {
            pool,
            target: Arc::new(target),
            counter,
            breaker: Arc::new(Breaker::default()),
            keys: None,
            metrics: PoolMetrics::new(),
        };
        db.pool.get().map_err(StoreError::Pool)?;
        drop(first);
        Ok(db)
    }

    /// Applies pending migrations; returns the names of those applied. Replicas starting together on
    /// PostgreSQL take turns (advisory lock).
    pub fn migrate(&self) -> std::result::Result<Vec<String>, StoreError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut conn.inner {
            AnyConnection::Postgresql(c) => {
                c.batch_execute("SELECT pg_advisory_lock(7366623)")?;
                let r = c
                    .run_pending_migrations(PG_MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>());
                c.batch_execute("SELECT pg_advisory_unlock(7366623)")?;
                r
            }
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>()),
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Seals the bodies of emails queued from now on, and secret settings stored from now on
    /// (`ldap-password`), with keys derived from `secret` (`MB_ENCRYPTION_SECRET_KEY`), and opens sealed ones
    /// when they are read.
    pub fn with_encryption_key(mut self, secret: &str) -> Db {
        self.keys = Some(Arc::new(Keys::from_secret(secret)));
        self
    }

    /// Checks that the configured key (or its absence) fits the outbox: `Err(StoreError::OutboxKey)` when
    /// unsent email is sealed and no key is set, or the key does not open it.
    pub fn check_outbox_key(&self) -> std::result::Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let cipher = self.keys.as_deref().map(|k| &k.outbox);
        match crate::outbox::check_key(&mut conn.inner, cipher) {
            Ok(true) if cipher.is_none() => Err(StoreError::OutboxKey(
                "the outbox holds encrypted email and no key is set".into(),
            )),
            Ok(_) => Ok(()),
            Err(DomainError::Store(f)) => Err(StoreError::OutboxKey(f.to_string())),
            Err(_) => Err(StoreError::OutboxKey(
                "the key does not decrypt the email waiting in the outbox".into(),
            )),
        }
    }

    /// Statements run through this pool so far.
    pub fn statements(&self) -> u64 {
        self.counter.get()
    }

    /// Connections currently open and idle in the pool.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// Most connections the pool holds.
    pub fn pool_max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Counts of the unsent email in the outbox (three small queries; for monitoring, not for requests).
    pub fn outbox_stats(&self) -> Result<OutboxStats> {
        let mut pooled = self.conn()?;
        crate::outbox::stats(&mut pooled.inner)
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>> {
        if !self.breaker.admit() {
            self.metrics.failures.increment(1);
            return Err(DomainError::Store(StoreFailure::Unavailable(
                "the database did not answer a moment ago".into(),
            )));
        }
        let started = std::time::Instant::now();
        // An idle connection at once, or else a wait (counted) for one to come back.
        let got = match self.pool.try_get() {
            Some(c) => Ok(c),
            None => {
                self.metrics.waits.increment(1);
                self.pool.get()
            }
        };
        match got {
            Ok(c) => {
                self.metrics
                    .checkout
                    .record(started.elapsed().as_secs_f64());
                self.breaker.succeeded();
                Ok(c)
            }
            Err(e) => {
                self.metrics.failures.increment(1);
                self.breaker.failed();
                Err(StoreError::Pool(e).into())
            }
        }
    }
}

fn begin(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    match conn {
        // Take the write lock up front: a deferred transaction that reads and then writes fails at once
        // with SQLITE_BUSY when another writer got in between, without waiting for busy_timeout.
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Runs `work` on `conn`, in one transaction when asked.
fn run_on(
    conn: &mut AnyConnection,
    keys: Option<&Keys>,
    transaction: Transaction,
    work: &mut dyn FnMut(&mut dyn Repo) -> Result<()>,
) -> Result<()> {
    if transaction == Transaction::Read {
        return work(&mut DbRepo::new(conn, keys));
    }
    begin(conn).map_err(crate::error::db)?;
    match work(&mut DbRepo::new(conn, keys)) {
        Ok(()) => match AnyConnection::commit_transaction(conn) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = AnyConnection::rollback_transaction(conn);
                Err(crate::error::db(e))
            }
        },
        Err(e) => {
            if let Err(rb) = AnyConnection::rollback_transaction(conn) {
                log::warn!("rollback failed: {rb}");
            }
            Err(e)
        }
    }
}

impl Store for Db {
    fn run(
        &self,
        transaction: Transaction,
        work: &mut dyn FnMut(&mut dyn Repo) -> Result<()>,
    ) -> Result<()> {
        let mut pooled = self.conn()?;
        let result = run_on(&mut pooled.inner, self.keys.as_deref(), transaction, work);
        if let Err(DomainError::Store(StoreFailure::Unavailable(_))) = &result {
            // The server went away under this connection: the pool must not hand it out again.
            pooled.broken = true;
        }
        result
    }

    fn backend(&self) -> &'static str {
        self.target.backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_back_end() {
        assert_eq!(
            Target::parse("postgres://u@h/db").unwrap().backend(),
            "postgres"
        );
        assert_eq!(
            Target::parse("postgresql://h/db").unwrap().backend(),
            "postgres"
        );
        assert_eq!(
            Target::parse("sqlite:people.db").unwrap(),
            Target::SqliteFile("people.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/x.db").unwrap(),
            Target::SqliteFile("/tmp/x.db".into())
        );
        assert!(matches!(
            Target::parse("sqlite::memory:").unwrap(),
            Target::SqliteMemory(_)
        ));
        for bad in ["mysql://x", "postgress:db", "people.db", "sqlite:", ""] {
            assert!(
                matches!(Target::parse(bad), Err(StoreError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn pg_urls_get_a_connect_timeout() {
        let tail = "keepalives=1&keepalives_idle=10&keepalives_interval=3&keepalives_count=3&tcp_user_timeout=10000";
        assert_eq!(
            with_pg_defaults("postgres://u@127.0.0.1:5432/db"),
            format!("postgres://u@127.0.0.1:5432/db?sslmode=disable&connect_timeout=5&{tail}"),
            "no TLS on the loopback interface unless asked for"
        );
        assert!(
            with_pg_defaults("postgres://localhost/db?sslmode=require").contains("sslmode=require")
        );
        assert!(!with_pg_defaults("postgres://u@[::1]:5432/db").contains("sslmode=require"));
        assert!(with_pg_defaults("postgres://u@[::1]:5432/db").contains("sslmode=disable"));
        assert_eq!(
            with_pg_defaults("postgres://h/db"),
            format!("postgres://h/db?connect_timeout=5&{tail}")
        );
        assert_eq!(
            with_pg_defaults("postgres://h/db?sslmode=disable"),
            format!("postgres://h/db?sslmode=disable&connect_timeout=5&{tail}")
        );
        assert!(with_pg_defaults("postgres://h/db?connect_timeout=1&tcp_user_timeout=5")
            .ends_with("connect_timeout=1&tcp_user_timeout=5&keepalives=1&keepalives_idle=10&keepalives_interval=3&keepalives_count=3"));
    }
}

//! Fresh, isolated databases for tests (feature `testing`): a temporary SQLite file, or a new PostgreSQL
//! database on the server named by `PEOPLE_TEST_POSTGRES_URL`. Each is migrated and removed on drop, so
//! tests run in parallel without seeing each other's rows.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::db::{Db, PoolOptions};

/// Environment variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_ENV: &str = "PEOPLE_TEST_POSTGRES_URL";

/// Which back end a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// A migrated database that disappears when dropped.
pub struct TestDb {
    /// The pool.
    pub db: Db,
    /// Its URL, for starting a server process on the same database.
    pub url: String,
    cleanup: Cleanup,
}

/// Replaces the database name of a PostgreSQL URL (`postgres://u@h:p/db?x=y`).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDb {
    /// A database on `backend`; `None` for PostgreSQL when [`POSTGRES_ENV`] is not set.
    pub fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(),
        }
    }

    /// A migrated SQLite database in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir =
            std::env::temp_dir().join(format!("people-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        let url = format!("sqlite:{}", dir.join("people.db").display());
        let db = Db::connect(&url, &PoolOptions::default()).expect("open SQLite");
        db.migrate().expect("migrate SQLite");
        TestDb {
            db,
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A migrated, freshly created PostgreSQL database; `None` when [`POSTGRES_ENV`] is not set. Panics when
    /// it is set but the server does not answer: a configured back end must not be skipped silently.
    pub fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
        let name = format!("people_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={admin_url} does not answer: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create a test database");
        let url = with_database(&admin_url, &name);
        let options = PoolOptions {
            max_connections: 8,
            ..PoolOptions::default()
        };
        let db = Db::connect(&url, &options).expect("open PostgreSQL");
        db.migrate().expect("migrate PostgreSQL");
        Some(TestDb {
            db,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }
}

/// One `email_outbox` row as a test inspects it.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Queryable)]
pub struct OutboxRow {
    /// Id.
    pub id: i64,
    /// Plain-text body as stored (sealed when a key is set, blank once sent or voided).
    pub body_text: String,
    /// HTML body as stored.
    pub body_html: String,
    /// Sent at.
    pub sent_at: Option<chrono::NaiveDateTime>,
    /// Voided (blanked unsent) at.
    pub voided_at: Option<chrono::NaiveDateTime>,
}

impl TestDb {
    /// Every outbox row, by id, read on a connection of its own.
    pub fn outbox(&self) -> Vec<OutboxRow> {
        use crate::schema::email_outbox as o;
        use diesel::prelude::*;
        let query = o::table.order(o::id).select((
            o::id,
            o::body_text,
            o::body_html,
            o::sent_at,
            o::voided_at,
        ));
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let path = dir.join("people.db");
                let mut c = diesel::SqliteConnection::establish(&path.display().to_string())
                    .expect("open the test SQLite file");
                query.load(&mut c).expect("read the outbox")
            }
            Cleanup::Postgres { .. } => {
                let mut c = PgConnection::establish(&self.url).expect("connect");
                query.load(&mut c).expect("read the outbox")
            }
        }
    }

    /// The directory of a SQLite test database (its file and WAL live there); `None` on PostgreSQL.
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        match &self.cleanup {
            Cleanup::Dir(dir) => Some(dir),
            Cleanup::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

/// Defines each test twice, `sqlite::name` and `postgres::name`, so that the output counts the tests run
/// per back end. The body gets a [`TestDb`]. Without [`POSTGRES_ENV`] the PostgreSQL twin prints that it did
/// not run and passes.
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* fn $name:ident($db:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    let $db = $crate::testing::TestDb::sqlite();
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
                    let Some($db) = $crate::testing::TestDb::postgres() else {
                        eprintln!("postgres::{} not run: {} is not set", stringify!($name), $crate::testing::POSTGRES_ENV);
                        return;
                    };
                    $body
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://h:1/db?sslmode=disable", "t2"),
            "postgres://h:1/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }
}

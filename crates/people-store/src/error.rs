//! `StoreError`, and its conversion into the domain's `DomainError` at the crate edge.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use people_domain::{DomainError, StoreFailure};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The connection URL names no supported database.
    #[error(
        "unsupported database URL {0:?}: expected postgres://…, sqlite:PATH or sqlite::memory:"
    )]
    BadUrl(String),
    /// The database could not be reached at start-up.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] DieselError),
    /// `MB_ENCRYPTION_SECRET_KEY` does not fit the email waiting in the outbox.
    #[error("MB_ENCRYPTION_SECRET_KEY: {0}")]
    OutboxKey(String),
    /// No connection could be had from the pool in time.
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
}

fn failure(e: &DieselError) -> StoreFailure {
    match e {
        DieselError::DatabaseError(kind, info) => {
            let name = info
                .constraint_name()
                .map(str::to_string)
                .unwrap_or_else(|| info.message().to_string());
            match kind {
                DatabaseErrorKind::UniqueViolation => StoreFailure::Unique(name),
                DatabaseErrorKind::ForeignKeyViolation => StoreFailure::ForeignKey(name),
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    StoreFailure::Unavailable(info.message().to_string())
                }
                _ if is_connection_message(info.message()) => {
                    StoreFailure::Unavailable(info.message().to_string())
                }
                _ => StoreFailure::Other(info.message().to_string()),
            }
        }
        DieselError::BrokenTransactionManager => {
            StoreFailure::Unavailable("the connection's transaction state is broken".into())
        }
        other => StoreFailure::Other(other.to_string()),
    }
}

/// libpq reports a lost server with these texts rather than a dedicated error kind.
fn is_connection_message(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    [
        "server closed the connection",
        "connection refused",
        "could not connect",
        "no connection to the server",
        "terminating connection",
        "connection timed out",
        "ssl syscall error",
        "could not receive data",
        "could not send data",
        "broken pipe",
        "database is locked",
    ]
    .iter()
    .any(|p| m.contains(p))
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Query(q) => DomainError::Store(failure(&q)),
            StoreError::Pool(p) => DomainError::Store(StoreFailure::Unavailable(p.to_string())),
            StoreError::Connect(m) => DomainError::Store(StoreFailure::Unavailable(m)),
            other => DomainError::Store(StoreFailure::Other(other.to_string())),
        }
    }
}

/// Converts a Diesel error straight into the domain's error (used by every repository method).
pub(crate) fn db(e: DieselError) -> DomainError {
    DomainError::Store(failure(&e))
}

/// The foreign-key violation a row referring to an id no row can have would meet.
pub(crate) fn no_such_row(table: &str) -> DomainError {
    DomainError::Store(StoreFailure::ForeignKey(format!("{table}: no such row")))
}

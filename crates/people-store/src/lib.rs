//! people-store: the Diesel implementation of people-domain's storage ports, on PostgreSQL or SQLite.
//!
//! [`Db::connect`] takes a URL (`postgres://…`, `sqlite:PATH`, `sqlite::memory:`) and returns a pool that
//! implements [`people_domain::store::Store`]; [`Db::migrate`] applies the embedded migrations of that back end.

#![warn(missing_docs)]

mod api_key;
pub mod backup;
pub mod cipher;
mod db;
mod error;
mod group;
mod housekeeping;
mod key;
mod outbox;
mod repo;
mod reset_request;
mod schema;
mod scim;
mod session;
mod setting;
mod throttle;
mod time;
mod user;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{AnyConnection, Db, OutboxStats, PoolOptions, StatementCounter, Target};
pub use error::StoreError;

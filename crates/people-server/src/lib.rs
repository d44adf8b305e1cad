//! people-server: the `people` binary's configuration and start-up, as a library so that tests and other
//! programs can start a server in-process, and embedders can reuse its parts. The binary (`src/main.rs`)
//! only parses its command line and calls [`server::run`].
//!
//! - [`config`]: the command line and Metabase's environment variables, parsed into a checked
//!   [`ServerConfig`].
//! - [`server`]: start-up (database, use cases, HTTP server and workers), the commands, [`TestServer`].
//! - [`hashing`]: [`hashing::HashPool`], bcrypt on a bounded pool of low-priority threads; a
//!   `PasswordHasher` for any program that embeds the use cases.
//! - [`background`]: the worker for password-reset asks, expired throttle keys and dead outbox links.
//! - [`housekeeping`]: the runner that deletes expired sessions, old login history and sent email.
//! - [`backup`]: `people backup`, an online copy of a SQLite database.
//! - [`metrics`]: Prometheus metrics on their own listener (`MB_PROMETHEUS_SERVER_PORT`).
//! - [`logging`]: the log format (text or JSON), each line tagged with its request's id.

#![warn(missing_docs)]

pub mod background;
pub mod backup;
pub mod config;
pub mod hashing;
pub mod housekeeping;
pub mod logging;
pub mod metrics;
pub mod server;

/// The guide to using people's crates from another Rust service (docs/library.md). Its Rust examples are
/// doctests of this crate, which depends on every other, so the guide cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/library.md")]
pub struct LibraryGuide;

pub use config::{
    ApiKeyCommand, Cli, CliError, Command, ConfigError, Environment, Options, ServerConfig,
};
pub use server::{Server, StartError, TestServer, TestServerBuilder};

/// A domain error as one line for the terminal.
pub fn describe(e: &people_domain::DomainError) -> String {
    use people_domain::DomainError;
    match e {
        DomainError::Invalid { param, message, .. }
        | DomainError::Rule {
            field: param,
            message,
        } => {
            format!("{param}: {message}")
        }
        other => other.to_string(),
    }
}

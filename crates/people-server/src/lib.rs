//! people-server: the `people` binary's configuration and start-up, as a library so that tests and other
//! programs can start a server in-process.

#![warn(missing_docs)]

pub mod background;
pub mod config;
pub mod hashing;
pub mod server;

pub use config::{Cli, CliError, Command, ConfigError, Environment, Options, ServerConfig};
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

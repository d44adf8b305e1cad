//! people's LDAP client: [`LdapDirectory`] implements the domain's [`Directory`] port (sign-in and the
//! connection test of `PUT /api/ldap/settings`) over the network with `ldap3`, so that the domain only
//! decides what a directory's answers mean (see docs/ldap.md).
//!
//! The port is synchronous and called from blocking threads; the client runs its work on a small tokio
//! runtime of its own and bounds every call, as a whole, by `ldap-timeout-seconds`. TLS (`ssl`, `starttls`)
//! always verifies the server's certificate against the system roots plus an optional CA bundle. The
//! service account's connections are kept bound between sign-ins (a small pool) and replaced when they break.
//!
//! With the `testing` feature, the `testing` module starts a throwaway OpenLDAP `slapd` holding
//! Metabase's test directory.

mod client;
mod pool;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use people_domain::ldap::{Authentication, Directory, DirectoryError, LdapConfig};
use tokio::runtime::Runtime;

use crate::client::Client;
use crate::pool::Pool;
use crate::tls::Tls;

/// What can go wrong in this crate outside a directory call (those answer [`DirectoryError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `PEOPLE_LDAP_CA_FILE` cannot be read or holds no usable PEM certificate.
    #[error("PEOPLE_LDAP_CA_FILE {}: {message}", path.display())]
    CaFile {
        /// The file named.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The TLS configuration could not be built.
    #[error("LDAP TLS configuration: {0}")]
    Tls(String),
    /// The client's runtime could not start (no thread could be spawned).
    #[error("cannot start the LDAP client's threads: {0}")]
    Runtime(#[source] std::io::Error),
    /// The test directory could not be started or changed (see [`testing`]).
    #[cfg(feature = "testing")]
    #[error("{0}")]
    Harness(String),
}

/// The directory people signs in against: a real LDAP server, reached with the settings each call is
/// given. Share one per process (it keeps connections between calls).
pub struct LdapDirectory {
    /// The runtime the network work runs on; `None` only while being dropped.
    runtime: Option<Runtime>,
    /// Trust anchors and kept connections, shared with the calls running on `runtime`.
    client: Arc<Client>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory").finish_non_exhaustive()
    }
}

/// Threads of the client's runtime, where every call's network work runs. Calls mostly wait on the
/// directory, so two threads serve many concurrent sign-ins.
const WORKER_THREADS: usize = 2;

impl LdapDirectory {
    /// A directory client trusting the system roots plus the certificates of `ca_file` (PEM, one or more
    /// certificates; `PEOPLE_LDAP_CA_FILE`). Fails when that file cannot be read or parsed, so that a
    /// mistake is seen at start-up rather than at the first sign-in.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, Error> {
        let tls = Tls::new(ca_file)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("ldap")
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Runtime)?;
        Ok(LdapDirectory {
            runtime: Some(runtime),
            client: Arc::new(Client {
                tls,
                service: Pool::default(),
                binders: Pool::default(),
            }),
        })
    }

    /// Runs `work` on the client's runtime, bounded by `timeout`, and waits for it on the calling thread.
    /// Waiting on a plain channel (rather than `block_on`) cannot panic whatever the caller's context.
    fn run<T: Send + 'static>(
        &self,
        timeout: Duration,
        work: impl Future<Output = Result<T, DirectoryError>> + Send + 'static,
    ) -> Result<T, DirectoryError> {
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(DirectoryError::Other(
                "the LDAP client is shutting down".into(),
            ));
        };
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let result = match tokio::time::timeout(timeout, work).await {
                Ok(result) => result,
                Err(_) => Err(DirectoryError::Timeout(timeout)),
            };
            // The caller waits for this answer; it cannot have gone away.
            let _ = done.send(result);
        });
        answer.recv().unwrap_or_else(|_| {
            Err(DirectoryError::Other(
                "the LDAP client stopped during the call".into(),
            ))
        })
    }
}

impl Drop for LdapDirectory {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which tokio forbids inside another runtime (the
        // server may drop its last reference from one): let them finish in the background instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Directory for LdapDirectory {
    fn check(&self, config: &LdapConfig) -> Result<(), DirectoryError> {
        let client = self.client.clone();
        let config = config.clone();
        self.run(config.timeout, async move { client.check(&config).await })
    }

    fn authenticate(
        &self,
        config: &LdapConfig,
        login: &str,
        password: &str,
    ) -> Result<Authentication, DirectoryError> {
        let client = self.client.clone();
        let config = config.clone();
        let (login, password) = (login.to_string(), password.to_string());
        self.run(config.timeout, async move {
            client.authenticate(&config, &login, &password).await
        })
    }
}

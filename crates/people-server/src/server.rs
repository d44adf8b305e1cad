//! Start-up: open and migrate the database, assemble the use cases, and serve HTTP until SIGTERM/SIGINT.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer};
use people_domain::setup::AdminSpec;
use people_domain::{DomainError, People};
use people_mailer::{
    MailError, OutboxWorker, SmtpDeliverer, Templates, Wakeup, WorkerConfig, WorkerHandle,
};
use people_store::{Db, StoreError};
use people_web::Api;

use crate::background::Background;
use crate::config::{
    redact_url, ApiKeyCommand, Cli, CliError, Command, ConfigError, Options, ServerConfig,
    EPHEMERAL_BCRYPT_COST,
};
use crate::hashing::HashPool;
use crate::housekeeping::Housekeeping;
use people_domain::housekeeping::HousekeepingPolicy;

/// Why the binary stops with an error. Every variant prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The command line cannot be used (an unknown flag, say); `--help` and `--version` arrive here too, for
    /// [`clap::Error::exit`] to print.
    #[error("{0}")]
    Usage(clap::Error),
    /// The database named by the configuration cannot be used.
    #[error("MB_DB_CONNECTION_URI ({url}): {source}")]
    Database {
        /// The URL, without its password.
        url: String,
        /// What went wrong.
        source: StoreError,
    },
    /// The listen address cannot be bound.
    #[error("MB_JETTY_HOST/MB_JETTY_PORT: cannot listen on {addr}: {source}")]
    Listen {
        /// host:port
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The password hashing pool cannot be started (a bcrypt cost it refuses, or no thread for it).
    #[error("{0}")]
    Hasher(#[source] DomainError),
    /// The SMTP transport cannot be set up from the `MB_EMAIL_*` settings.
    #[error(transparent)]
    Smtp(#[from] MailError),
    /// The setup token of a fresh instance cannot be stored.
    #[error("cannot prepare the setup token: {0}")]
    SetupToken(#[source] DomainError),
    /// `--admin` is not `EMAIL:PASSWORD`.
    #[error("--admin: expected EMAIL:PASSWORD")]
    AdminSpec,
    /// The administrator of `--admin` cannot be created or signed in.
    #[error("--admin: {}", crate::describe(.0))]
    Admin(#[source] DomainError),
    /// `create-admin` refused the administrator.
    #[error("create-admin: {}", crate::describe(.0))]
    CreateAdmin(#[source] DomainError),
    /// `api-key create` refused the key (no administrator yet, no such group, a name another key has).
    #[error("api-key create: {}", describe_key_refusal(.group, .source))]
    CreateApiKey {
        /// The `--group` given.
        group: String,
        /// Why.
        source: DomainError,
    },
    /// `--api-key` is not `NAME:GROUP`.
    #[error("--api-key: expected NAME:GROUP, got {0:?}")]
    ApiKeySpec(String),
    /// `people backup` made no copy.
    #[error("backup: {0}")]
    Backup(#[from] crate::backup::BackupError),
    /// The key of a `serve --ephemeral --api-key` cannot be made.
    #[error("--api-key {name}: {}", describe_key_refusal(.group, .source))]
    EphemeralApiKey {
        /// The key's name.
        name: String,
        /// Its group, as given.
        group: String,
        /// Why.
        source: DomainError,
    },
    /// The thread of a [`TestServer`] ended before its server started.
    #[error("the test server thread stopped")]
    TestServerThread,
    /// The server stopped with an I/O error.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The metrics listener cannot be bound.
    #[error("MB_PROMETHEUS_SERVER_PORT: cannot listen on {addr}: {source}")]
    MetricsListen {
        /// host:port
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics recorder cannot be installed (another one is, in an embedding program).
    #[error("metrics: {0}")]
    Metrics(String),
}

impl StartError {
    /// Exit code: 2 for configuration, database and address problems, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_)
            | StartError::Usage(_)
            | StartError::Database { .. }
            | StartError::Listen { .. }
            | StartError::MetricsListen { .. } => 2,
            StartError::Hasher(_)
            | StartError::Smtp(_)
            | StartError::SetupToken(_)
            | StartError::AdminSpec
            | StartError::Admin(_)
            | StartError::CreateAdmin(_)
            | StartError::CreateApiKey { .. }
            | StartError::ApiKeySpec(_)
            | StartError::EphemeralApiKey { .. }
            | StartError::TestServerThread
            | StartError::Metrics(_)
            | StartError::Io(_) => 1,
            StartError::Backup(e) => e.exit_code(),
        }
    }
}

/// A refused API key as one line: an unknown group is named as given (an id or a name), other refusals as
/// [`crate::describe`] says them.
fn describe_key_refusal(group: &str, e: &DomainError) -> String {
    match e {
        DomainError::Rule { field, message }
            if field == "group_id" && message == people_domain::api_key::NO_SUCH_GROUP =>
        {
            format!("no group has the id or name {group:?}")
        }
        other => crate::describe(other),
    }
}

impl From<CliError> for StartError {
    fn from(e: CliError) -> Self {
        match e {
            CliError::Config(e) => StartError::Config(e),
            CliError::Usage(e) => StartError::Usage(e),
        }
    }
}

/// Opens the database named by the configuration and applies pending migrations.
pub fn open_database(config: &ServerConfig) -> Result<(Db, Vec<String>), StartError> {
    let wrap = |source| StartError::Database {
        url: redact_url(&config.database_url),
        source,
    };
    let mut db = Db::connect(&config.database_url, &config.pool).map_err(wrap)?;
    let applied = db.migrate().map_err(wrap)?;
    if let Some(key) = &config.encryption_key {
        db = db.with_encryption_key(key.expose());
    }
    // A key that cannot read the email waiting (or no key while it is encrypted) stops start-up.
    db.check_outbox_key().map_err(|e| {
        let message = match e {
            StoreError::OutboxKey(message) => message,
            other => other.to_string(),
        };
        StartError::Config(ConfigError {
            variable: "MB_ENCRYPTION_SECRET_KEY".to_string(),
            message,
        })
    })?;
    Ok((db, applied))
}

/// The use cases over `db` with the configured policies; passwords are hashed on a pool with one thread
/// per core.
pub fn build_people(config: &ServerConfig, db: Db) -> Result<People, StartError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let hasher = HashPool::with_queue(config.bcrypt_cost, cores, config.hash_queue)
        .map_err(StartError::Hasher)?;
    // The LDAP client is made even while LDAP is off, so that a bad CA bundle stops start-up at once.
    let directory =
        people_ldap::LdapDirectory::new(config.ldap_ca_file.as_deref()).map_err(|e| {
            let message = match e {
                people_ldap::Error::CaFile { path, message } => {
                    format!("{}: {message}", path.display())
                }
                other => other.to_string(),
            };
            StartError::Config(ConfigError {
                variable: "PEOPLE_LDAP_CA_FILE".to_string(),
                message,
            })
        })?;
    Ok(People::new(
        Arc::new(db),
        Arc::new(hasher),
        Arc::new(Templates),
        config.domain.clone(),
    )
    .with_directory(Arc::new(directory)))
}

/// Makes the outbox worker when SMTP is configured; without SMTP, email waits in the outbox.
fn outbox_worker(
    config: &ServerConfig,
    db: &Db,
    worker: WorkerConfig,
) -> Result<Option<OutboxWorker>, StartError> {
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let deliverer = SmtpDeliverer::new(smtp)?;
    Ok(Some(OutboxWorker::new(
        Arc::new(db.clone()),
        Arc::new(deliverer),
        worker,
    )))
}

/// A bound, not yet running server.
pub struct Server {
    api: Arc<Api>,
    listener: TcpListener,
    backend: &'static str,
    worker: Option<OutboxWorker>,
    /// Wakes the background worker (reset asks, housekeeping).
    work: Arc<Wakeup>,
    workers: usize,
    /// Housekeeping's policy; `None`: off.
    housekeeping: Option<HousekeepingPolicy>,
    /// The metrics listener, when `MB_PROMETHEUS_SERVER_PORT` is set.
    metrics: Option<crate::metrics::Exporter>,
}

impl Server {
    /// Opens the database and binds the listen address.
    pub fn prepare(config: &ServerConfig) -> Result<Server, StartError> {
        // Before the pool is made: its instruments are looked up once, at that moment.
        let recorder = match config.metrics_port {
            Some(_) => Some(crate::metrics::install().map_err(StartError::Metrics)?),
            None => None,
        };
        let (db, applied) = open_database(config)?;
        for m in &applied {
            log::info!("applied migration {m}");
        }
        let backend = people_domain::store::Store::backend(&db);
        let metrics = match (recorder, config.metrics_port) {
            (Some(handle), Some(port)) => Some(
                crate::metrics::Exporter::bind(&config.host, port, handle, db.clone()).map_err(
                    |source| StartError::MetricsListen {
                        addr: format!("{}:{port}", config.host),
                        source,
                    },
                )?,
            ),
            _ => None,
        };
        let worker = outbox_worker(config, &db, WorkerConfig::default())?;
        let work = Arc::new(Wakeup::default());
        let mut people = build_people(config, db)?.with_work_signal(work.clone());
        if let Some(w) = &worker {
            people = people.with_outbox_signal(w.signal());
        }
        people
            .ensure_setup_token()
            .map_err(StartError::SetupToken)?;
        let api = Api::new(Arc::new(people), config.web.clone());
        let addr = format!("{}:{}", config.host, config.port);
        let listener =
            TcpListener::bind(&addr).map_err(|source| StartError::Listen { addr, source })?;
        Ok(Server {
            api,
            listener,
            backend,
            worker,
            work,
            workers: config.workers,
            housekeeping: config.housekeeping,
            metrics,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The use cases this server serves (to create an administrator before serving, for instance).
    pub fn people(&self) -> &People {
        &self.api.people
    }

    /// Starts the HTTP server and the email worker; the returned server is a future that ends on
    /// SIGTERM/SIGINT or `stop`, after in-flight requests finish.
    fn start(self) -> Result<Running, StartError> {
        let addr = self.local_addr()?;
        let smtp_configured = self.worker.is_some();
        let worker: Option<WorkerHandle> = self.worker.map(OutboxWorker::spawn).transpose()?;
        let background = Background::spawn(Arc::clone(&self.api.people), self.work)?;
        let housekeeping = self
            .housekeeping
            .map(|policy| Housekeeping::spawn(Arc::clone(&self.api.people), policy))
            .transpose()?;
        let api = self.api;
        let tracked = self.metrics.is_some();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::Condition::new(
                    tracked,
                    actix_web::middleware::from_fn(crate::metrics::track),
                ))
                .wrap(actix_web::middleware::from_fn(people_web::security_headers))
                // Outermost: everything inside logs under the request's id.
                .wrap(actix_web::middleware::from_fn(
                    people_web::request_id::request_ids,
                ))
                .configure(api.mount())
                .configure(people_console::configure)
        })
        .listen(self.listener)?
        .workers(self.workers)
        // Workers run database work inline; during a database outage one may be held up to the pool's
        // checkout timeout, which must not turn a slow-to-be-read request into a 408.
        .client_request_timeout(std::time::Duration::from_secs(15))
        .shutdown_timeout(30)
        .run();
        let metrics = match self.metrics {
            Some(exporter) => {
                let at = exporter.local_addr()?;
                crate::metrics::record_build_info(self.backend);
                let metrics = exporter.start()?;
                let handle = metrics.handle();
                actix_web::rt::spawn(metrics);
                log::info!("metrics on http://{at}/metrics");
                Some(handle)
            }
            None => None,
        };
        log::info!(
            "people {} listening on http://{addr} (database: {}, SMTP {})",
            env!("CARGO_PKG_VERSION"),
            self.backend,
            if smtp_configured {
                "configured"
            } else {
                "not configured: emails stay queued"
            }
        );
        Ok(Running {
            server,
            worker,
            background,
            housekeeping,
            metrics,
        })
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, lets in-flight requests finish and returns.
    pub async fn run(self) -> Result<(), StartError> {
        self.start()?.finish().await
    }
}

/// A started server, its email worker and its background worker.
struct Running {
    server: actix_web::dev::Server,
    worker: Option<WorkerHandle>,
    background: Background,
    housekeeping: Option<Housekeeping>,
    /// The metrics listener, stopped after the API's server.
    metrics: Option<actix_web::dev::ServerHandle>,
}

impl Running {
    async fn finish(self) -> Result<(), StartError> {
        self.server.await?;
        if let Some(metrics) = self.metrics {
            metrics.stop(true).await;
        }
        self.background.stop();
        if let Some(h) = self.housekeeping {
            h.stop();
        }
        if let Some(w) = self.worker {
            w.stop();
        }
        log::info!("people stopped");
        Ok(())
    }
}

/// A people server for tests of Metabase API clients: an in-process server on a free port over a fresh
/// SQLite database in a temporary directory, optionally with a first administrator and a session for it.
/// Dropping it stops the server and removes its data.
pub struct TestServer {
    url: String,
    admin_session: Option<String>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: std::path::PathBuf,
}

/// Options of a [`TestServer`].
#[derive(Debug, Default, Clone)]
pub struct TestServerBuilder {
    admin: Option<(String, String)>,
}

impl TestServerBuilder {
    /// Creates this first administrator (the password policy applies) and signs them in.
    pub fn admin(mut self, email: &str, password: &str) -> Self {
        self.admin = Some((email.to_string(), password.to_string()));
        self
    }

    /// Starts the server; returns once it accepts requests.
    pub fn start(self) -> Result<TestServer, StartError> {
        let dir = ephemeral_dir()?;
        let config = ephemeral_config(&Options::built_in()?, &dir)?;
        let server = Server::prepare(&config)?;
        let admin_session = match &self.admin {
            Some((email, password)) => Some(sign_in_admin(server.people(), email, password)?),
            None => None,
        };
        let url = format!("http://{}", server.local_addr()?);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("people-test-server".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                system.block_on(async move {
                    match server.start() {
                        Ok(running) => {
                            let _ = tx.send(Ok(running.server.handle()));
                            if let Err(e) = running.finish().await {
                                log::warn!("test server: {e}");
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let handle = rx.recv().map_err(|_| StartError::TestServerThread)??;
        Ok(TestServer {
            url,
            admin_session,
            handle,
            thread: Some(thread),
            dir,
        })
    }
}

impl TestServer {
    /// A test server without an administrator (`/api/setup` is open, as on a fresh instance).
    pub fn start() -> Result<TestServer, StartError> {
        Self::builder().start()
    }

    /// Options.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Session of the administrator made by [`TestServerBuilder::admin`].
    pub fn admin_session(&self) -> Option<&str> {
        self.admin_session.as_deref()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stopping needs an executor; a thread of its own works whether or not the caller runs one.
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true)))
                .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh temporary directory for an ephemeral database.
pub fn ephemeral_dir() -> Result<std::path::PathBuf, StartError> {
    let dir = std::env::temp_dir().join(format!(
        "people-ephemeral-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The configuration of an ephemeral server: `options` with a SQLite database in `dir` and 127.0.0.1; unless
/// `options` give them, any free port and bcrypt cost [`EPHEMERAL_BCRYPT_COST`].
pub fn ephemeral_config(
    options: &Options,
    dir: &std::path::Path,
) -> Result<ServerConfig, StartError> {
    let mut config = options.resolve()?;
    config.database_url = format!("sqlite:{}", dir.join("people.db").display());
    config.host = "127.0.0.1".to_string();
    config.port = options.port.unwrap_or(0);
    config.bcrypt_cost = options.bcrypt_cost.unwrap_or(EPHEMERAL_BCRYPT_COST);
    Ok(config)
}

/// Creates the first administrator and returns a session for them.
pub fn sign_in_admin(people: &People, email: &str, password: &str) -> Result<String, StartError> {
    let spec = AdminSpec {
        email: email.to_string(),
        password: people_domain::session::Secret::new(password),
        first_name: None,
        last_name: None,
    };
    people
        .create_admin_signed_in(&spec)
        .map(|grant| grant.token.expose().to_string())
        .map_err(StartError::Admin)
}

/// Runs the command of `cli` (`serve` when none is given) to its end: what the `people` binary does.
pub fn run(mut cli: Cli) -> Result<(), StartError> {
    let config = cli.options.resolve()?;
    let command = cli.command.take().unwrap_or(Command::Serve {
        ephemeral: false,
        admin: None,
        api_keys: Vec::new(),
    });
    match command {
        Command::Serve {
            ephemeral: false,
            admin,
            api_keys: _,
        } => {
            let server = Server::prepare(&config)?;
            if let Some(spec) = admin {
                let (email, password) = split_admin(&spec)?;
                sign_in_admin(server.people(), email, password)?;
            }
            actix_web::rt::System::new().block_on(server.run())
        }
        Command::Serve {
            ephemeral: true,
            admin,
            api_keys,
        } => {
            let dir = ephemeral_dir()?;
            let result = serve_ephemeral(&cli.options, &dir, admin.as_deref(), &api_keys);
            let _ = std::fs::remove_dir_all(&dir);
            result
        }
        Command::Migrate => {
            let (_, applied) = open_database(&config)?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for m in applied {
                println!("applied migration {m}");
            }
            Ok(())
        }
        Command::Backup { path } => {
            let bytes = crate::backup::backup(&config.database_url, &path)?;
            crate::backup::report(
                &crate::config::redact_url(&config.database_url),
                &path,
                bytes,
            );
            Ok(())
        }
        Command::CreateAdmin {
            email,
            password,
            first_name,
            last_name,
        } => {
            let (db, _) = open_database(&config)?;
            let people = build_people(&config, db)?;
            let user = people
                .create_admin(&AdminSpec {
                    email,
                    password: people_domain::session::Secret::new(password),
                    first_name,
                    last_name,
                })
                .map_err(StartError::CreateAdmin)?;
            println!("created administrator {} (id {})", user.email, user.id);
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create { name, group }) => {
            let (db, _) = open_database(&config)?;
            let people = build_people(&config, db)?;
            let view = people
                .provision_api_key(&name, &group)
                .map_err(|source| StartError::CreateApiKey { group, source })?;
            // Only the key on stdout, so that `KEY=$(people api-key create …)` works.
            let key = view.unmasked_key.as_ref().map(|k| k.expose()).unwrap_or("");
            println!("{key}");
            Ok(())
        }
    }
}

/// `--api-key NAME:GROUP`: the name ends at the first `:`; neither part may be blank.
fn split_api_key(spec: &str) -> Result<(&str, &str), StartError> {
    spec.split_once(':')
        .filter(|(n, g)| !n.trim().is_empty() && !g.trim().is_empty())
        .ok_or_else(|| StartError::ApiKeySpec(spec.to_string()))
}

/// Makes the keys of `--api-key` (after the administrator, who is recorded as their creator): name → key.
fn provision_keys(
    people: &People,
    specs: &[String],
) -> Result<std::collections::BTreeMap<String, String>, StartError> {
    let mut keys = std::collections::BTreeMap::new();
    for spec in specs {
        let (name, group) = split_api_key(spec)?;
        let view = people.provision_api_key(name, group).map_err(|source| {
            StartError::EphemeralApiKey {
                name: name.to_string(),
                group: group.to_string(),
                source,
            }
        })?;
        if let Some(key) = view.unmasked_key {
            keys.insert(name.to_string(), key.expose().to_string());
        }
    }
    Ok(keys)
}

/// `--admin EMAIL:PASSWORD`.
fn split_admin(spec: &str) -> Result<(&str, &str), StartError> {
    spec.split_once(':')
        .filter(|(e, p)| !e.is_empty() && !p.is_empty())
        .ok_or(StartError::AdminSpec)
}

/// `people serve --ephemeral`: a throwaway SQLite database in `dir` and a free port; prints one JSON line
/// (`url`, `admin_session`, `api_keys`) on stdout once the server answers.
fn serve_ephemeral(
    options: &Options,
    dir: &std::path::Path,
    admin: Option<&str>,
    api_keys: &[String],
) -> Result<(), StartError> {
    use std::io::Write;
    let config = ephemeral_config(options, dir)?;
    let server = Server::prepare(&config)?;
    let session = match admin {
        Some(spec) => {
            let (email, password) = split_admin(spec)?;
            Some(sign_in_admin(server.people(), email, password)?)
        }
        None => None,
    };
    let api_keys = provision_keys(server.people(), api_keys)?;
    let url = format!("http://{}", server.local_addr()?);
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        #[derive(serde::Serialize)]
        struct Ready {
            url: String,
            admin_session: Option<String>,
            api_keys: std::collections::BTreeMap<String, String>,
        }
        let line = serde_json::to_string(&Ready {
            url,
            admin_session: session,
            api_keys,
        })
        .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        drop(out);
        server.run().await
    })
}

//! Start-up: open and migrate the database, assemble the use cases, and serve HTTP until SIGTERM/SIGINT.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer};
use people_domain::People;
use people_mailer::{OutboxWorker, SmtpDeliverer, Templates, WorkerConfig, WorkerHandle};
use people_store::{Db, StoreError};
use people_web::Api;

use crate::config::{redact_url, ServerConfig};
use crate::hashing::HashPool;

/// Why the binary stops with an error. Every variant prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable.
    #[error("configuration error: {0}")]
    Config(#[from] crate::config::ConfigError),
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
    /// A command failed.
    #[error("{0}")]
    Command(String),
    /// The server stopped with an I/O error.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl StartError {
    /// Exit code: 2 for configuration, database and address problems, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) | StartError::Database { .. } | StartError::Listen { .. } => 2,
            StartError::Command(_) | StartError::Io(_) => 1,
        }
    }
}

/// Opens the database named by the configuration and applies pending migrations.
pub fn open_database(config: &ServerConfig) -> Result<(Db, Vec<String>), StartError> {
    let wrap = |source| StartError::Database {
        url: redact_url(&config.database_url),
        source,
    };
    let db = Db::connect(&config.database_url, &config.pool).map_err(wrap)?;
    let applied = db.migrate().map_err(wrap)?;
    Ok((db, applied))
}

/// The use cases over `db` with the configured policies; passwords are hashed on a pool with one thread
/// per core.
pub fn build_people(config: &ServerConfig, db: Db) -> Result<People, StartError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let hasher = HashPool::start(config.bcrypt_cost, cores)
        .map_err(|e| StartError::Command(e.to_string()))?;
    Ok(People::new(
        Arc::new(db),
        Arc::new(hasher),
        Arc::new(Templates),
        config.domain.clone(),
    ))
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
    let deliverer = SmtpDeliverer::new(smtp).map_err(|e| StartError::Command(e.to_string()))?;
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
    workers: usize,
}

impl Server {
    /// Opens the database and binds the listen address.
    pub fn prepare(config: &ServerConfig) -> Result<Server, StartError> {
        let (db, applied) = open_database(config)?;
        for m in &applied {
            log::info!("applied migration {m}");
        }
        let backend = people_domain::store::Store::backend(&db);
        let worker = outbox_worker(config, &db, WorkerConfig::default())?;
        let mut people = build_people(config, db)?;
        if let Some(w) = &worker {
            people = people.with_outbox_signal(w.signal());
        }
        people
            .ensure_setup_token()
            .map_err(|e| StartError::Command(format!("cannot prepare the setup token: {e}")))?;
        let api = Api::new(Arc::new(people), config.web.clone());
        let addr = format!("{}:{}", config.host, config.port);
        let listener =
            TcpListener::bind(&addr).map_err(|source| StartError::Listen { addr, source })?;
        Ok(Server {
            api,
            listener,
            backend,
            worker,
            workers: config.workers,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, lets in-flight requests finish and returns.
    pub async fn run(self) -> Result<(), StartError> {
        let addr = self.local_addr()?;
        let smtp_configured = self.worker.is_some();
        let worker: Option<WorkerHandle> = self.worker.map(OutboxWorker::spawn).transpose()?;
        let api = self.api;
        let server = HttpServer::new(move || App::new().configure(api.mount()))
            .listen(self.listener)?
            .workers(self.workers)
            // Workers run database work inline; during a database outage one may be held up to the pool's
            // checkout timeout, which must not turn a slow-to-be-read request into a 408.
            .client_request_timeout(std::time::Duration::from_secs(15))
            .shutdown_timeout(30)
            .run();
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
        server.await?;
        if let Some(w) = worker {
            w.stop();
        }
        log::info!("people stopped");
        Ok(())
    }
}

//! Configuration: Metabase's environment variable names, each with a matching `--flag` (flags win).
//! Every value is checked here; a bad one stops start-up with one line naming the variable.

use std::fmt;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use people_domain::password::{Complexity, PasswordPolicy, DEFAULT_BCRYPT_COST};
use people_domain::session::Secret;
use people_domain::setting::EnvDefaults;
use people_domain::DEFAULT_MAX_SESSION_AGE_MINUTES;
use people_mailer::{SmtpSecurity, SmtpSettings};
use people_store::{PoolOptions, Target};
use people_web::WebConfig;

/// Command line of the `people` binary.
#[derive(Debug, Parser)]
#[command(
    name = "people",
    version,
    about = "A Metabase-compatible user directory: /api/user, sessions, setup and groups."
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub options: Options,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve {
        /// A throwaway server for tests: SQLite in a temporary directory (removed on exit), a free port, and
        /// one JSON line on stdout (`{"url": …, "admin_session": …}`) once it answers.
        #[arg(long)]
        ephemeral: bool,
        /// Create this first administrator (EMAIL:PASSWORD) before serving.
        #[arg(long, value_name = "EMAIL:PASSWORD")]
        admin: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a superuser on the command line instead of through /api/setup.
    CreateAdmin {
        /// Email address of the administrator.
        #[arg(long)]
        email: String,
        /// Password (subject to the password policy).
        #[arg(long)]
        password: String,
        /// Given name.
        #[arg(long)]
        first_name: Option<String>,
        /// Family name.
        #[arg(long)]
        last_name: Option<String>,
    },
}

/// Options, each from a flag or Metabase's environment variable.
#[derive(Debug, Default, Args)]
pub struct Options {
    /// Database URL: postgres://…, sqlite:PATH or sqlite::memory: [default: sqlite:people.db]
    #[arg(
        long = "db",
        global = true,
        env = "MB_DB_CONNECTION_URI",
        hide_env_values = true
    )]
    pub db: Option<String>,
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long, global = true, env = "MB_JETTY_HOST")]
    pub host: Option<String>,
    /// Port to listen on [default: 3000]
    #[arg(long, global = true, env = "MB_JETTY_PORT")]
    pub port: Option<String>,
    /// Base URL of links in emails [default: http://localhost:3000]
    #[arg(long, global = true, env = "MB_SITE_URL")]
    pub site_url: Option<String>,
    /// Name shown in emails [default: people]
    #[arg(long, global = true, env = "MB_SITE_NAME")]
    pub site_name: Option<String>,
    /// SMTP host; unset means email is not configured (messages stay queued)
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_HOST")]
    pub email_smtp_host: Option<String>,
    /// SMTP port [default: 25, 465 for ssl/tls, 587 for starttls]
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_PORT")]
    pub email_smtp_port: Option<String>,
    /// SMTP security: none, ssl, tls or starttls [default: none]
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_SECURITY")]
    pub email_smtp_security: Option<String>,
    /// SMTP user name
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_USERNAME")]
    pub email_smtp_username: Option<String>,
    /// SMTP password
    #[arg(
        long,
        global = true,
        env = "MB_EMAIL_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub email_smtp_password: Option<String>,
    /// Sender address of emails [default: notifications@people.invalid]
    #[arg(long, global = true, env = "MB_EMAIL_FROM_ADDRESS")]
    pub email_from_address: Option<String>,
    /// Password complexity: weak, normal or strong [default: normal]
    #[arg(long, global = true, env = "MB_PASSWORD_COMPLEXITY")]
    pub password_complexity: Option<String>,
    /// Minimum password length (overrides the complexity's)
    #[arg(long, global = true, env = "MB_PASSWORD_LENGTH")]
    pub password_length: Option<String>,
    /// Session lifetime in minutes [default: 20160]
    #[arg(long, global = true, env = "MB_MAX_SESSION_AGE")]
    pub max_session_age: Option<String>,
    /// HTTP worker threads; each runs its requests' database work [default: the pool size]
    #[arg(long, global = true, env = "MB_JETTY_MAXTHREADS")]
    pub max_threads: Option<String>,
    /// Database connections per instance [default: 15]
    #[arg(
        long,
        global = true,
        env = "MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE"
    )]
    pub pool_size: Option<String>,
    /// bcrypt cost, for tests only [default: 10]
    #[arg(long, global = true, env = "MB_BCRYPT_COST")]
    pub bcrypt_cost: Option<String>,
    /// Turn off login and password-reset throttling (true/false) [default: false]
    #[arg(long, global = true, env = "MB_DISABLE_SESSION_THROTTLE")]
    pub disable_session_throttle: Option<String>,
    /// Session cookies end with the browser session even with "remember" (true/false) [default: false]
    #[arg(long, global = true, env = "MB_SESSION_COOKIES")]
    pub session_cookies: Option<String>,
    /// Header holding the client address [default: X-Forwarded-For]
    #[arg(long, global = true, env = "MB_SOURCE_ADDRESS_HEADER")]
    pub source_address_header: Option<String>,
    /// Secret that encrypts email waiting in the outbox (reset and invite links) at rest; at least 16
    /// characters
    #[arg(
        long,
        global = true,
        env = "MB_ENCRYPTION_SECRET_KEY",
        hide_env_values = true
    )]
    pub encryption_secret_key: Option<String>,
    /// Seconds of password hashing that may wait for a thread; a sign-in beyond it is answered 503
    /// [default: 10]
    #[arg(long, global = true, env = "PEOPLE_HASH_QUEUE_SECONDS")]
    pub hash_queue_seconds: Option<String>,
    /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses and CIDR ranges,
    /// comma-separated; empty for none [default: 127.0.0.0/8,::1]
    #[arg(long, global = true, env = "PEOPLE_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (and flag) at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn bad(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// Everything the binary needs, checked.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Database URL.
    pub database_url: String,
    /// Listen address.
    pub host: String,
    /// Listen port (0: any free port).
    pub port: u16,
    /// HTTP worker threads.
    pub workers: usize,
    /// Pool settings.
    pub pool: PoolOptions,
    /// The rules' configuration.
    pub domain: people_domain::Config,
    /// bcrypt cost.
    pub bcrypt_cost: u32,
    /// HTTP settings.
    pub web: WebConfig,
    /// SMTP, when configured (`MB_EMAIL_SMTP_HOST` set).
    pub smtp: Option<SmtpSettings>,
    /// `MB_ENCRYPTION_SECRET_KEY`: outbox bodies are encrypted at rest with a key derived from it.
    pub encryption_key: Option<Secret>,
    /// How much hashing may wait for a thread before sign-ins are refused as busy.
    pub hash_queue: Duration,
}

fn boolean(variable: &'static str, v: Option<&str>) -> Result<bool, ConfigError> {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) if s == "true" => Ok(true),
        Some(s) if s == "false" || s.is_empty() => Ok(false),
        Some(s) => Err(bad(variable, format!("expected true or false, got {s:?}"))),
    }
}

fn number<T: std::str::FromStr>(
    variable: &'static str,
    v: Option<&str>,
    default: T,
    ok: impl Fn(&T) -> bool,
    what: &str,
) -> Result<T, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .trim()
            .parse::<T>()
            .ok()
            .filter(|n| ok(n))
            .ok_or_else(|| bad(variable, format!("expected {what}, got {s:?}"))),
    }
}

impl Options {
    /// The environment variable or flag value of a setting default.
    fn setting_value(&self, env_name: &str) -> Option<String> {
        let flag = match env_name {
            "MB_SITE_URL" => self.site_url.clone(),
            "MB_SITE_NAME" => self.site_name.clone(),
            _ => None,
        };
        flag.or_else(|| std::env::var(env_name).ok())
            .filter(|v| !v.trim().is_empty())
    }

    /// Checks every value and builds the configuration.
    pub fn resolve(&self) -> Result<ServerConfig, ConfigError> {
        let database_url = self
            .db
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "sqlite:people.db".to_string());
        Target::parse(&database_url).map_err(|_| {
            bad(
                "MB_DB_CONNECTION_URI",
                format!(
                    "unsupported database URL {:?} (expected postgres://…, sqlite:PATH or sqlite::memory:)",
                    redact_url(&database_url)
                ),
            )
        })?;
        let host = self.host.clone().unwrap_or_else(|| "127.0.0.1".into());
        let port = number(
            "MB_JETTY_PORT",
            self.port.as_deref(),
            3000u16,
            |_| true,
            "a port number 0-65535",
        )?;
        let pool_size = number(
            "MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE",
            self.pool_size.as_deref(),
            15u32,
            |n| (1..=1000).contains(n),
            "a number of connections 1-1000",
        )?;
        let workers = number(
            "MB_JETTY_MAXTHREADS",
            self.max_threads.as_deref(),
            pool_size as usize,
            |n| (1..=1024).contains(n),
            "a number of threads 1-1024",
        )?;
        let complexity = match self.password_complexity.as_deref() {
            None => Complexity::Normal,
            Some(s) => s
                .parse()
                .map_err(|m: String| bad("MB_PASSWORD_COMPLEXITY", m))?,
        };
        let min_length = match self.password_length.as_deref() {
            None => None,
            Some(s) => Some(number(
                "MB_PASSWORD_LENGTH",
                Some(s),
                0usize,
                |n| (1..=1024).contains(n),
                "a length 1-1024",
            )?),
        };
        let max_age = number(
            "MB_MAX_SESSION_AGE",
            self.max_session_age.as_deref(),
            DEFAULT_MAX_SESSION_AGE_MINUTES,
            |n| *n > 0 && *n < 100_000_000,
            "a positive number of minutes",
        )?;
        let bcrypt_cost = number(
            "MB_BCRYPT_COST",
            self.bcrypt_cost.as_deref(),
            DEFAULT_BCRYPT_COST,
            |n| (4..=31).contains(n),
            "a bcrypt cost 4-31",
        )?;
        let throttle_off = boolean(
            "MB_DISABLE_SESSION_THROTTLE",
            self.disable_session_throttle.as_deref(),
        )?;
        let session_cookies = boolean("MB_SESSION_COOKIES", self.session_cookies.as_deref())?;
        let settings = EnvDefaults::from_lookup(|name| self.setting_value(name))
            .map_err(|e| bad(e.variable, e.problem.to_string()))?;
        let smtp = match self
            .email_smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            None => None,
            Some(host) => {
                let security: SmtpSecurity = self
                    .email_smtp_security
                    .as_deref()
                    .unwrap_or("none")
                    .parse()
                    .map_err(|e: people_mailer::UnknownSmtpSecurity| {
                        bad("MB_EMAIL_SMTP_SECURITY", e.to_string())
                    })?;
                let default_port = security.default_port();
                let port = number(
                    "MB_EMAIL_SMTP_PORT",
                    self.email_smtp_port.as_deref(),
                    default_port,
                    |p| *p > 0,
                    "a port number 1-65535",
                )?;
                Some(SmtpSettings {
                    host: host.to_string(),
                    port,
                    security,
                    username: self.email_smtp_username.clone().filter(|s| !s.is_empty()),
                    password: self.email_smtp_password.clone().filter(|s| !s.is_empty()),
                    from: String::new(),
                })
            }
        };
        let from_address = self
            .email_from_address
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "notifications@people.invalid".into());
        if !people_domain::validate::is_email(&from_address) {
            return Err(bad(
                "MB_EMAIL_FROM_ADDRESS",
                format!("not an email address: {from_address:?}"),
            ));
        }
        let encryption_key = match self.encryption_secret_key.as_deref() {
            None | Some("") => None,
            Some(k) if k.chars().count() < 16 => {
                return Err(bad(
                    "MB_ENCRYPTION_SECRET_KEY",
                    "must be at least 16 characters long",
                ))
            }
            Some(k) => Some(Secret::new(k)),
        };
        let hash_queue = Duration::from_secs(number(
            "PEOPLE_HASH_QUEUE_SECONDS",
            self.hash_queue_seconds.as_deref(),
            crate::hashing::DEFAULT_QUEUE_SECONDS,
            |n| (1..=3600).contains(n),
            "a number of seconds 1-3600",
        )?);
        let trusted_proxies = match self.trusted_proxies.as_deref() {
            None => people_web::TrustedProxies::default(),
            Some(s) => s.parse().map_err(|m| bad("PEOPLE_TRUSTED_PROXIES", m))?,
        };
        Ok(ServerConfig {
            database_url,
            host,
            port,
            workers,
            pool: PoolOptions {
                max_connections: pool_size,
                checkout_timeout: Duration::from_secs(1),
            },
            domain: people_domain::Config {
                password_policy: PasswordPolicy {
                    complexity,
                    min_length,
                },
                max_session_age: chrono::Duration::minutes(max_age),
                settings,
                throttle: !throttle_off,
                session_cookies,
            },
            bcrypt_cost,
            web: WebConfig {
                source_address_header: self
                    .source_address_header
                    .clone()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "X-Forwarded-For".to_string()),
                trusted_proxies,
            },
            smtp: smtp.map(|s| SmtpSettings {
                from: from_address,
                ..s
            }),
            encryption_key,
            hash_queue,
        })
    }
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            let creds = &rest[..at];
            if let Some(colon) = creds.find(':') {
                return format!(
                    "{}://{}:***{}",
                    &url[..scheme_end],
                    &creds[..colon],
                    &rest[at..]
                );
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options::default()
    }

    #[test]
    fn defaults() {
        let c = opts().resolve().unwrap();
        assert_eq!(c.database_url, "sqlite:people.db");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3000));
        assert_eq!(c.pool.max_connections, 15);
        assert_eq!(c.bcrypt_cost, 10);
        assert!(c.domain.throttle);
        assert!(c.smtp.is_none());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: Vec<(Options, &str)> = vec![
            (
                Options {
                    db: Some("mysql://x".into()),
                    ..opts()
                },
                "MB_DB_CONNECTION_URI",
            ),
            (
                Options {
                    port: Some("http".into()),
                    ..opts()
                },
                "MB_JETTY_PORT",
            ),
            (
                Options {
                    port: Some("70000".into()),
                    ..opts()
                },
                "MB_JETTY_PORT",
            ),
            (
                Options {
                    password_complexity: Some("medium".into()),
                    ..opts()
                },
                "MB_PASSWORD_COMPLEXITY",
            ),
            (
                Options {
                    bcrypt_cost: Some("2".into()),
                    ..opts()
                },
                "MB_BCRYPT_COST",
            ),
            (
                Options {
                    max_session_age: Some("-1".into()),
                    ..opts()
                },
                "MB_MAX_SESSION_AGE",
            ),
            (
                Options {
                    pool_size: Some("0".into()),
                    ..opts()
                },
                "MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE",
            ),
            (
                Options {
                    disable_session_throttle: Some("yes".into()),
                    ..opts()
                },
                "MB_DISABLE_SESSION_THROTTLE",
            ),
            (
                Options {
                    site_url: Some("ftp://x".into()),
                    ..opts()
                },
                "MB_SITE_URL",
            ),
            (
                Options {
                    email_smtp_host: Some("h".into()),
                    email_smtp_security: Some("ssh".into()),
                    ..opts()
                },
                "MB_EMAIL_SMTP_SECURITY",
            ),
            (
                Options {
                    trusted_proxies: Some("10.0.0.0/8,proxy.internal".into()),
                    ..opts()
                },
                "PEOPLE_TRUSTED_PROXIES",
            ),
            (
                Options {
                    encryption_secret_key: Some("short".into()),
                    ..opts()
                },
                "MB_ENCRYPTION_SECRET_KEY",
            ),
            (
                Options {
                    hash_queue_seconds: Some("0".into()),
                    ..opts()
                },
                "PEOPLE_HASH_QUEUE_SECONDS",
            ),
        ];
        for (o, var) in cases {
            let e = o.resolve().unwrap_err();
            assert_eq!(e.variable, var, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn smtp_ports_follow_security() {
        let o = Options {
            email_smtp_host: Some("mail".into()),
            email_smtp_security: Some("STARTTLS".into()),
            ..opts()
        };
        let s = o.resolve().unwrap().smtp.unwrap();
        assert_eq!((s.port, s.security), (587, SmtpSecurity::Starttls));
        let o = Options {
            email_smtp_host: Some("mail".into()),
            email_smtp_password: Some("pw".into()),
            ..opts()
        };
        let s = o.resolve().unwrap().smtp.unwrap();
        assert_eq!(s.port, 25);
        assert!(!format!("{s:?}").contains("pw\""));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}

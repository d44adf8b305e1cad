//! Configuration: Metabase's environment variable names, each with a matching `--flag` (flags win).
//!
//! clap reads every value, from its flag or else its environment variable, and parses it into its type; a
//! default is written once, as the argument's default, which `--help` shows. A value that does not parse
//! stops start-up with one line naming the variable ([`ConfigError`]), as does a check that needs more than
//! one value ([`Options::resolve`]).

use std::ffi::OsString;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use people_domain::housekeeping::{self, HousekeepingPolicy};
use people_domain::password::{Complexity, PasswordPolicy, DEFAULT_BCRYPT_COST};
use people_domain::session::Secret;
use people_domain::setting::{EnvDefaultError, EnvDefaults, SettingDef, SETTINGS};
use people_domain::DEFAULT_MAX_SESSION_AGE_MINUTES;
use people_mailer::{SmtpSecurity, SmtpSettings};
use people_store::{PoolOptions, Target};
use people_web::client::DEFAULT_TRUSTED_PROXIES;
use people_web::{TrustedProxies, WebConfig};

use crate::hashing::DEFAULT_QUEUE_SECONDS;
use crate::logging::LogFormat;

/// The database when neither `MB_DB_CONNECTION_URI` nor `DATABASE_URL` names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:people.db";
/// The listen port when none is given (an ephemeral server takes any free port instead).
pub const DEFAULT_PORT: u16 = 3000;
/// The sender address of emails when none is given.
pub const DEFAULT_FROM_ADDRESS: &str = "notifications@people.invalid";
/// The bcrypt cost of an ephemeral server when none is given: the lowest, for quick tests.
pub const EPHEMERAL_BCRYPT_COST: u32 = 4;

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
        /// With --ephemeral and --admin: make an API key NAME in GROUP (a group's id or name; the name ends
        /// at the first `:`) and put it in the JSON line's `api_keys`; may be repeated.
        #[arg(long = "api-key", value_name = "NAME:GROUP", requires_all = ["ephemeral", "admin"])]
        api_keys: Vec<String>,
    },
    /// Manage API keys (`X-Api-Key`) on the command line.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the live SQLite database to a new file PATH (VACUUM INTO; never over an existing file). On
    /// PostgreSQL, print the pg_dump command for the database and exit 2.
    Backup {
        /// The copy to write; it must not exist.
        path: std::path::PathBuf,
    },
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

/// `people api-key …`: API keys for scripts and services, made without a browser (docs/api-keys.md).
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key as the first administrator and print it on stdout: the only time it is shown.
    Create {
        /// Unique name of the key.
        #[arg(long)]
        name: String,
        /// The group the key joins besides All Users: its id or its name (Administrators makes the key a
        /// superuser).
        #[arg(long)]
        group: String,
    },
}

/// Options, each from a flag or Metabase's environment variable, parsed. An option whose default depends on
/// another value is an `Option`, and its field says the rule.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Database URL: postgres://…, sqlite:PATH or sqlite::memory: [default: $DATABASE_URL, else
    /// sqlite:people.db]
    #[arg(
        long = "db",
        global = true,
        env = "MB_DB_CONNECTION_URI",
        hide_env_values = true
    )]
    pub db: Option<String>,
    /// The database URL when `MB_DB_CONNECTION_URI` is not set (the variable many tools use). A blank
    /// `MB_DB_CONNECTION_URI` or `DATABASE_URL` counts as not set.
    #[arg(
        long = "database-url",
        global = true,
        env = "DATABASE_URL",
        hide = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Address to listen on
    #[arg(
        long,
        global = true,
        env = "MB_JETTY_HOST",
        default_value = "127.0.0.1"
    )]
    pub host: String,
    /// Port to listen on [default: 3000; any free port for `serve --ephemeral`]
    #[arg(long, global = true, env = "MB_JETTY_PORT",
        value_parser = number(0..=u16::MAX, "a port number 0-65535"))]
    pub port: Option<u16>,
    /// SMTP host; unset means email is not configured (messages stay queued)
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_HOST")]
    pub email_smtp_host: Option<String>,
    /// SMTP port [default: by security: 25 for none, 465 for ssl/tls, 587 for starttls]
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_PORT",
        value_parser = number(1..=u16::MAX, "a port number 1-65535"))]
    pub email_smtp_port: Option<u16>,
    /// SMTP security: none, ssl, tls or starttls
    #[arg(long, global = true, env = "MB_EMAIL_SMTP_SECURITY",
        default_value_t = SmtpSecurity::default())]
    pub email_smtp_security: SmtpSecurity,
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
    /// Sender address of emails (blank: the default)
    #[arg(long, global = true, env = "MB_EMAIL_FROM_ADDRESS",
        default_value = DEFAULT_FROM_ADDRESS, value_parser = from_address)]
    pub email_from_address: String,
    /// Password complexity: weak, normal or strong
    #[arg(
        long,
        global = true,
        env = "MB_PASSWORD_COMPLEXITY",
        default_value = "normal"
    )]
    pub password_complexity: Complexity,
    /// Minimum password length (overrides the complexity's)
    #[arg(long, global = true, env = "MB_PASSWORD_LENGTH",
        value_parser = number(1..=1024usize, "a length 1-1024"))]
    pub password_length: Option<usize>,
    /// Session lifetime in minutes
    #[arg(long, global = true, env = "MB_MAX_SESSION_AGE",
        default_value_t = DEFAULT_MAX_SESSION_AGE_MINUTES,
        value_parser = number(1..=99_999_999i64, "a positive number of minutes"))]
    pub max_session_age: i64,
    /// Seconds between housekeeping runs (expired sessions, old login history, sent email, throttle keys),
    /// once for all replicas; 0 turns housekeeping off
    #[arg(long, global = true, env = "PEOPLE_HOUSEKEEPING_INTERVAL_SECONDS",
        default_value_t = housekeeping::DEFAULT_INTERVAL_SECONDS,
        value_parser = number(0..=31_536_000u64, "a number of seconds 0-31536000"))]
    pub housekeeping_interval_seconds: u64,
    /// Days login history is kept before housekeeping deletes it
    #[arg(long, global = true, env = "PEOPLE_LOGIN_HISTORY_RETENTION_DAYS",
        default_value_t = housekeeping::DEFAULT_LOGIN_HISTORY_RETENTION_DAYS,
        value_parser = number(1..=36_500i64, "a number of days 1-36500"))]
    pub login_history_retention_days: i64,
    /// HTTP worker threads; each runs its requests' database work [default: the pool size]
    #[arg(long, global = true, env = "MB_JETTY_MAXTHREADS",
        value_parser = number(1..=1024usize, "a number of threads 1-1024"))]
    pub max_threads: Option<usize>,
    /// Database connections per instance
    #[arg(long, global = true, env = "MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE",
        default_value_t = PoolOptions::default().max_connections,
        value_parser = number(1..=1000u32, "a number of connections 1-1000"))]
    pub pool_size: u32,
    /// bcrypt cost, for tests only [default: 10; 4 for `serve --ephemeral`]
    #[arg(long, global = true, env = "MB_BCRYPT_COST",
        value_parser = number(4..=31u32, "a bcrypt cost 4-31"))]
    pub bcrypt_cost: Option<u32>,
    /// Turn off login and password-reset throttling (true/false; blank is false)
    #[arg(long, global = true, env = "MB_DISABLE_SESSION_THROTTLE", action = ArgAction::Set,
        default_value_t = false, value_parser = boolean)]
    pub disable_session_throttle: bool,
    /// Session cookies end with the browser session even with "remember" (true/false; blank is false)
    #[arg(long, global = true, env = "MB_SESSION_COOKIES", action = ArgAction::Set,
        default_value_t = false, value_parser = boolean)]
    pub session_cookies: bool,
    /// Header holding the client address (blank: the default)
    #[arg(long, global = true, env = "MB_SOURCE_ADDRESS_HEADER",
        default_value_t = WebConfig::default().source_address_header, value_parser = header_name)]
    pub source_address_header: String,
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
    #[arg(long, global = true, env = "PEOPLE_HASH_QUEUE_SECONDS",
        default_value_t = DEFAULT_QUEUE_SECONDS,
        value_parser = number(1..=3600u64, "a number of seconds 1-3600"))]
    pub hash_queue_seconds: u64,
    /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses and CIDR ranges,
    /// comma-separated; empty for none
    #[arg(long, global = true, env = "PEOPLE_TRUSTED_PROXIES",
        default_value = DEFAULT_TRUSTED_PROXIES)]
    pub trusted_proxies: TrustedProxies,
    /// Log format: text, or json for one JSON object per line
    #[arg(long, global = true, env = "MB_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Port of the Prometheus metrics listener (`GET /metrics`, on the listen address); unset: no metrics
    #[arg(long, global = true, env = "MB_PROMETHEUS_SERVER_PORT",
        value_parser = number(0..=u16::MAX, "a port number 0-65535"))]
    pub prometheus_server_port: Option<u16>,
    /// CA certificates (PEM, one or more) trusted for LDAP over TLS besides the system's roots; unset or
    /// empty: the system's roots only
    #[arg(long, global = true, env = "PEOPLE_LDAP_CA_FILE")]
    pub ldap_ca_file: Option<std::path::PathBuf>,
    /// Defaults of the settings (`MB_SITE_URL`, `MB_SITE_NAME`, …).
    #[command(flatten)]
    pub settings: SettingDefaults,
}

/// A value parser for a whole number in `range` (surrounding blanks ignored); anything else is refused
/// with "expected {what}, got {value:?}".
fn number<T>(
    range: RangeInclusive<T>,
    what: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Clone + Send + Sync + 'static,
{
    move |s: &str| {
        s.trim()
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| format!("expected {what}, got {s:?}"))
    }
}

/// `true` or `false` in any case, surrounding blanks ignored; blank is false.
fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        other => Err(format!("expected true or false, got {other:?}")),
    }
}

/// An email address; blank is [`DEFAULT_FROM_ADDRESS`].
fn from_address(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Ok(DEFAULT_FROM_ADDRESS.to_string())
    } else if people_domain::validate::is_email(s) {
        Ok(s.to_string())
    } else {
        Err(format!("not an email address: {s:?}"))
    }
}

/// A header name, surrounding blanks dropped; blank is the default header.
fn header_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    Ok(if name.is_empty() {
        WebConfig::default().source_address_header
    } else {
        name.to_string()
    })
}

/// The settings' defaults given at start-up (`MB_SITE_URL`, `MB_USER_VISIBILITY`, …): one argument per
/// setting people owns, with the setting's key as its flag (`--site-url`) and its environment variable. They
/// are kept as text, checked by [`EnvDefaults`]; `--help` lists only the flags of [`SHOWN_SETTINGS`], the
/// others exist for their environment variables.
#[derive(Debug, Clone, Default)]
pub struct SettingDefaults(Vec<(&'static str, String)>);

/// The settings whose flags `--help` lists.
pub const SHOWN_SETTINGS: &[&str] = &["site-url", "site-name"];

/// The settings that take a default from the environment (a read-only one takes none).
fn configurable_settings() -> impl Iterator<Item = &'static SettingDef> {
    SETTINGS.iter().filter(|d| !d.kind.is_read_only())
}

impl SettingDefaults {
    /// The value given for the setting whose environment variable is `variable`; a blank one counts as not
    /// given.
    pub fn value(&self, variable: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(v, _)| *v == variable)
            .map(|(_, value)| value.clone())
            .filter(|v| !v.trim().is_empty())
    }
}

impl Args for SettingDefaults {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        configurable_settings().fold(cmd, |cmd, d| {
            let help = match d.default {
                Some(v) => format!("{} [default: {v}]", d.description),
                None => d.description.to_string(),
            };
            cmd.arg(
                Arg::new(d.key)
                    .long(d.key)
                    .env(d.env_name)
                    .global(true)
                    .action(ArgAction::Set)
                    .value_name("VALUE")
                    .value_parser(clap::value_parser!(String))
                    .help(help)
                    .hide(!SHOWN_SETTINGS.contains(&d.key)),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SettingDefaults {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut values = Vec::new();
        for d in configurable_settings() {
            let value = matches
                .try_get_one::<String>(d.key)
                .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, e))?;
            if let Some(v) = value {
                values.push((d.env_name, v.clone()));
            }
        }
        Ok(SettingDefaults(values))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (and flag) at fault.
    pub variable: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn bad(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_string(),
        message: message.into(),
    }
}

impl From<EnvDefaultError> for ConfigError {
    fn from(e: EnvDefaultError) -> Self {
        bad(e.variable, e.problem.to_string())
    }
}

impl ConfigError {
    /// The configuration error in clap's report of a value that its parser refused: the variable is the
    /// argument's environment variable, the message the parser's. `None` for anything else clap reports.
    fn from_clap(e: &clap::Error) -> Option<ConfigError> {
        if e.kind() != ErrorKind::ValueValidation {
            return None;
        }
        // The argument as clap shows it: `--port <PORT>`.
        let Some(ContextValue::String(shown)) = e.get(ContextKind::InvalidArg) else {
            return None;
        };
        let long = shown.split_whitespace().next()?.strip_prefix("--")?;
        let command = Cli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))?;
        let variable = arg.get_env()?.to_str()?;
        let message = std::error::Error::source(e)?.to_string();
        Some(bad(variable, message))
    }
}

/// Why a command line cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A value, from a flag or its environment variable, is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else clap reports (an unknown flag, or `--help` and `--version`): show it with
    /// [`clap::Error::exit`].
    #[error(transparent)]
    Usage(#[from] clap::Error),
}

/// Whether options are read from the environment as well as from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Flags, then environment variables, then defaults.
    Read,
    /// Flags, then defaults (tests, and servers that must not depend on the caller's environment).
    Ignore,
}

impl Cli {
    /// Parses the process's command line and environment.
    pub fn from_process() -> Result<Cli, CliError> {
        Self::from_args(std::env::args_os(), Environment::Read)
    }

    /// Parses `args` (the program name first) and, if asked, the environment.
    pub fn from_args<I, T>(args: I, environment: Environment) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // clap parses an argument's variable even when its flag is given (once more at each subcommand
        // level), so a bad variable would stop a command line whose flag overrides it: the variables of the
        // arguments given on the command line are left out.
        let given = given_on_command_line(&args);
        let command = Cli::command().mut_args(|a| {
            if environment == Environment::Ignore || given.contains(a.get_id()) {
                a.env(None::<&'static str>)
            } else {
                a
            }
        });
        let matches =
            command
                .try_get_matches_from(args)
                .map_err(|e| match ConfigError::from_clap(&e) {
                    Some(config) => CliError::Config(config),
                    None => CliError::Usage(e),
                })?;
        Ok(Cli::from_arg_matches(&matches)?)
    }
}

/// The arguments given on the command line `args`, found by a parse that reads no environment variable and
/// passes over errors (the real parse reports them).
fn given_on_command_line(args: &[OsString]) -> Vec<clap::Id> {
    let command = Cli::command()
        .mut_args(|a| a.env(None::<&'static str>))
        .ignore_errors(true);
    let Ok(matches) = command.clone().try_get_matches_from(args) else {
        return Vec::new();
    };
    command
        .get_arguments()
        .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|a| a.get_id().clone())
        .collect()
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
    /// What housekeeping deletes and how often; `None` when `PEOPLE_HOUSEKEEPING_INTERVAL_SECONDS` is 0.
    pub housekeeping: Option<HousekeepingPolicy>,
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
    /// `MB_PROMETHEUS_SERVER_PORT`: where metrics are served; `None`: no metrics are recorded.
    pub metrics_port: Option<u16>,
    /// `PEOPLE_LDAP_CA_FILE`: CA certificates trusted for LDAP over TLS besides the system's roots.
    pub ldap_ca_file: Option<std::path::PathBuf>,
}

impl Options {
    /// Every option at its default, whatever the environment holds.
    pub fn built_in() -> Result<Options, CliError> {
        Cli::from_args(["people"], Environment::Ignore).map(|cli| cli.options)
    }

    /// Applies the defaults that depend on other values, checks what needs more than one value (or the
    /// domain's rules), and builds the configuration of a server.
    pub fn resolve(&self) -> Result<ServerConfig, ConfigError> {
        // A blank MB_DB_CONNECTION_URI counts as unset without giving way to DATABASE_URL.
        let database_url = self
            .db
            .clone()
            .or_else(|| self.database_url.clone())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        Target::parse(&database_url).map_err(|_| {
            bad(
                "MB_DB_CONNECTION_URI",
                format!(
                    "unsupported database URL {:?} (expected postgres://…, sqlite:PATH or sqlite::memory:)",
                    redact_url(&database_url)
                ),
            )
        })?;
        let settings = EnvDefaults::from_lookup(|name| self.settings.value(name))?;
        let smtp = self
            .email_smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|host| SmtpSettings {
                host: host.to_string(),
                port: self
                    .email_smtp_port
                    .unwrap_or_else(|| self.email_smtp_security.default_port()),
                security: self.email_smtp_security,
                username: self.email_smtp_username.clone().filter(|s| !s.is_empty()),
                password: self.email_smtp_password.clone().filter(|s| !s.is_empty()),
                from: self.email_from_address.clone(),
            });
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
        Ok(ServerConfig {
            database_url,
            host: self.host.clone(),
            port: self.port.unwrap_or(DEFAULT_PORT),
            workers: self.max_threads.unwrap_or(self.pool_size as usize),
            pool: PoolOptions {
                max_connections: self.pool_size,
                checkout_timeout: Duration::from_secs(1),
            },
            domain: people_domain::Config {
                password_policy: PasswordPolicy {
                    complexity: self.password_complexity,
                    min_length: self.password_length,
                },
                max_session_age: chrono::Duration::minutes(self.max_session_age),
                settings,
                throttle: !self.disable_session_throttle,
                session_cookies: self.session_cookies,
                email_configured: smtp.is_some(),
            },
            housekeeping: (self.housekeeping_interval_seconds > 0).then(|| HousekeepingPolicy {
                interval: chrono::Duration::seconds(self.housekeeping_interval_seconds as i64),
                login_history_retention: chrono::Duration::days(self.login_history_retention_days),
                ..HousekeepingPolicy::default()
            }),
            bcrypt_cost: self.bcrypt_cost.unwrap_or(DEFAULT_BCRYPT_COST),
            web: WebConfig {
                source_address_header: self.source_address_header.clone(),
                trusted_proxies: self.trusted_proxies.clone(),
            },
            smtp,
            encryption_key,
            hash_queue: Duration::from_secs(self.hash_queue_seconds),
            metrics_port: self.prometheus_server_port,
            ldap_ca_file: self
                .ldap_ca_file
                .clone()
                .filter(|path| !path.as_os_str().is_empty()),
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

    /// The configuration of `people ARGS`, without the environment.
    fn parse(args: &[&str]) -> Result<ServerConfig, ConfigError> {
        let args = std::iter::once("people").chain(args.iter().copied());
        match Cli::from_args(args, Environment::Ignore) {
            Ok(cli) => cli.options.resolve(),
            Err(CliError::Config(e)) => Err(e),
            Err(CliError::Usage(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite:people.db");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3000));
        assert_eq!(c.pool.max_connections, 15);
        assert_eq!(c.workers, 15, "the pool size");
        assert_eq!(c.bcrypt_cost, 10);
        assert!(c.domain.throttle);
        assert!(c.smtp.is_none());
        assert_eq!(c.hash_queue, Duration::from_secs(10));
        assert_eq!(c.web.source_address_header, "X-Forwarded-For");
        assert_eq!(c.web.trusted_proxies, TrustedProxies::default());
        assert_eq!(c.domain.max_session_age, chrono::Duration::minutes(20_160));
        let built_in = Options::built_in().unwrap().resolve().unwrap();
        assert_eq!(built_in.port, c.port);
    }

    #[test]
    fn typed_values_and_their_rules() {
        let c = parse(&[
            "--port=8080",
            "--pool-size",
            " 4 ",
            "--disable-session-throttle",
            "TRUE",
            "--session-cookies",
            "",
            "--source-address-header",
            "  ",
            "--email-from-address",
            "",
            "--site-name",
            "Acme",
            "--user-visibility",
            "group",
            "serve",
            "--password-complexity",
            "Strong",
        ])
        .unwrap();
        assert_eq!((c.port, c.workers, c.pool.max_connections), (8080, 4, 4));
        assert!(!c.domain.throttle);
        assert!(!c.domain.session_cookies);
        assert_eq!(c.web.source_address_header, "X-Forwarded-For");
        assert_eq!(c.domain.password_policy.complexity, Complexity::Strong);
        assert_eq!(
            c.domain.settings.get("site-name"),
            Some("Acme"),
            "a shown setting flag"
        );
        assert_eq!(
            c.domain.settings.get("user-visibility"),
            Some("group"),
            "a hidden one"
        );
        let smtp = parse(&["--email-smtp-host", " mail ", "--email-from-address", ""])
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.from.as_str()),
            ("mail", DEFAULT_FROM_ADDRESS)
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&[&str], &str)] = &[
            (&["--db", "mysql://x"], "MB_DB_CONNECTION_URI"),
            (&["--port", "http"], "MB_JETTY_PORT"),
            (&["--port", "70000"], "MB_JETTY_PORT"),
            (
                &["--password-complexity", "medium"],
                "MB_PASSWORD_COMPLEXITY",
            ),
            (&["--bcrypt-cost", "2"], "MB_BCRYPT_COST"),
            (&["--max-session-age=-1"], "MB_MAX_SESSION_AGE"),
            (
                &["--pool-size", "0"],
                "MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE",
            ),
            (
                &["--disable-session-throttle", "yes"],
                "MB_DISABLE_SESSION_THROTTLE",
            ),
            (&["--site-url", "ftp://x"], "MB_SITE_URL"),
            (
                &["--email-smtp-host", "h", "--email-smtp-security", "ssh"],
                "MB_EMAIL_SMTP_SECURITY",
            ),
            (
                &["--trusted-proxies", "10.0.0.0/8,proxy.internal"],
                "PEOPLE_TRUSTED_PROXIES",
            ),
            (
                &["--encryption-secret-key", "short"],
                "MB_ENCRYPTION_SECRET_KEY",
            ),
            (&["--hash-queue-seconds", "0"], "PEOPLE_HASH_QUEUE_SECONDS"),
            (&["migrate", "--max-threads", "0"], "MB_JETTY_MAXTHREADS"),
        ];
        for (args, var) in cases {
            let e = parse(args).unwrap_err();
            assert_eq!(e.variable, *var, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn messages_are_the_ones_people_always_gave() {
        let message = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert_eq!(
            message(&["--port", "http"]),
            r#"MB_JETTY_PORT: expected a port number 0-65535, got "http""#
        );
        assert_eq!(
            message(&["--email-smtp-security", " SSH "]),
            r#"MB_EMAIL_SMTP_SECURITY: expected none, ssl, tls or starttls, got "ssh""#
        );
        assert_eq!(
            message(&["--session-cookies", "Yes"]),
            r#"MB_SESSION_COOKIES: expected true or false, got "yes""#
        );
        assert_eq!(
            message(&["--password-complexity", "medium"]),
            r#"MB_PASSWORD_COMPLEXITY: unknown password complexity "medium" (expected weak, normal or strong)"#
        );
        assert_eq!(
            message(&["--email-from-address", "nope"]),
            r#"MB_EMAIL_FROM_ADDRESS: not an email address: "nope""#
        );
        assert_eq!(
            message(&["--user-visibility", "x"]),
            r#"MB_USER_VISIBILITY: invalid value "x""#
        );
        assert_eq!(
            message(&["--trusted-proxies", "proxy.internal"]),
            r#"PEOPLE_TRUSTED_PROXIES: not an address or CIDR range: "proxy.internal""#
        );
    }

    #[test]
    fn smtp_ports_follow_security() {
        let s = parse(&[
            "--email-smtp-host",
            "mail",
            "--email-smtp-security",
            "STARTTLS",
        ])
        .unwrap()
        .smtp
        .unwrap();
        assert_eq!((s.port, s.security), (587, SmtpSecurity::Starttls));
        let s = parse(&["--email-smtp-host", "mail", "--email-smtp-password", "pw"])
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!(s.port, 25);
        assert!(!format!("{s:?}").contains("pw\""));
    }

    #[test]
    fn help_shows_the_defaults_the_code_uses() {
        let help = Cli::command()
            .mut_args(|a| a.env(None::<&'static str>))
            .render_long_help()
            .to_string();
        let expected = [
            format!("[default: $DATABASE_URL, else {DEFAULT_DATABASE_URL}]"),
            format!("[default: {DEFAULT_PORT}; any free port"),
            format!("[default: {DEFAULT_FROM_ADDRESS}]"),
            format!("[default: {DEFAULT_BCRYPT_COST}; {EPHEMERAL_BCRYPT_COST} for"),
            format!("[default: {}]", PoolOptions::default().max_connections),
            format!("[default: {DEFAULT_MAX_SESSION_AGE_MINUTES}]"),
            format!("[default: {DEFAULT_QUEUE_SECONDS}]"),
            format!("[default: {DEFAULT_TRUSTED_PROXIES}]"),
            "[default: the pool size]".to_string(),
            "[default: http://localhost:3000]".to_string(),
        ];
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for e in expected {
            assert!(flat.contains(&e), "{e} in {help}");
        }
        assert!(!flat.contains("--user-visibility"), "hidden: {help}");
    }

    #[test]
    fn housekeeping_settings() {
        let policy = parse(&[]).unwrap().housekeeping.unwrap();
        assert_eq!(policy.interval, chrono::Duration::hours(1));
        assert_eq!(policy.login_history_retention, chrono::Duration::days(365));
        let policy = parse(&[
            "--housekeeping-interval-seconds",
            "60",
            "--login-history-retention-days",
            "30",
        ])
        .unwrap()
        .housekeeping
        .unwrap();
        assert_eq!(
            (policy.interval, policy.login_history_retention),
            (chrono::Duration::minutes(1), chrono::Duration::days(30))
        );
        assert!(parse(&["--housekeeping-interval-seconds", "0"])
            .unwrap()
            .housekeeping
            .is_none());
        let e = parse(&["--housekeeping-interval-seconds=-1"]).unwrap_err();
        assert_eq!(e.variable, "PEOPLE_HOUSEKEEPING_INTERVAL_SECONDS");
        let e = parse(&["--login-history-retention-days", "0"]).unwrap_err();
        assert_eq!(e.variable, "PEOPLE_LOGIN_HISTORY_RETENTION_DAYS");
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

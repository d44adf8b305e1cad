//! `People`: the use cases' shared context (store, hasher, clock, configuration). The use cases themselves
//! live in the module named after their noun (`user.rs`, `session.rs`, `group.rs`, …) as `impl People` blocks.

use std::sync::Arc;

use chrono::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::ldap::{Directory, NoDirectory};
use crate::mail::{EmailTemplates, NoSignal, OutboxSignal};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::setting::EnvDefaults;
use crate::store::Store;
use crate::throttle::{Settlements, Throttles};

/// Configuration the rules depend on.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MB_PASSWORD_COMPLEXITY` and `MB_PASSWORD_LENGTH`.
    pub password_policy: PasswordPolicy,
    /// `MB_MAX_SESSION_AGE`: sessions older than this do not authenticate.
    pub max_session_age: Duration,
    /// Setting defaults from the environment.
    pub settings: EnvDefaults,
    /// False when `MB_DISABLE_SESSION_THROTTLE=true`.
    pub throttle: bool,
    /// `MB_SESSION_COOKIES`: session cookies end with the browser session even with `remember`.
    pub session_cookies: bool,
    /// True when SMTP is configured (`MB_EMAIL_SMTP_HOST`): published as Metabase's `email-configured?`
    /// property, so that a client knows whether an invite will arrive by email.
    pub email_configured: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            password_policy: PasswordPolicy::default(),
            max_session_age: Duration::minutes(DEFAULT_MAX_SESSION_AGE_MINUTES),
            settings: EnvDefaults::default(),
            throttle: true,
            session_cookies: false,
            email_configured: false,
        }
    }
}

/// Metabase's default session lifetime: 14 days, in minutes.
pub const DEFAULT_MAX_SESSION_AGE_MINUTES: i64 = 20_160;

/// The user directory: every use case is a method of this type.
pub struct People {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    pub(crate) throttles: Throttles,
    /// Wakes sign-ins waiting for attempts being checked.
    pub(crate) settlements: Settlements,
    pub(crate) templates: Arc<dyn EmailTemplates>,
    pub(crate) signal: Arc<dyn OutboxSignal>,
    /// Told when background work is waiting (a password-reset ask).
    pub(crate) work: Arc<dyn OutboxSignal>,
    /// Once a second user exists it always will (users are deactivated, never deleted): remembered so that
    /// the installer's `/api/user/current` stops counting users. Safe across replicas because it never
    /// turns false again.
    pub(crate) second_user_exists: std::sync::atomic::AtomicBool,
    /// The LDAP directory sign-in asks first when `ldap-enabled` is on.
    pub(crate) directory: Arc<dyn Directory>,
}

impl People {
    /// Assembles the directory from its ports and configuration.
    pub fn new(
        store: Arc<dyn Store>,
        hasher: Arc<dyn PasswordHasher>,
        templates: Arc<dyn EmailTemplates>,
        config: Config,
    ) -> Self {
        People {
            store,
            hasher,
            clock: Arc::new(SystemClock),
            throttles: if config.throttle {
                Throttles::metabase()
            } else {
                Throttles::disabled()
            },
            settlements: Settlements::default(),
            templates,
            signal: Arc::new(NoSignal),
            work: Arc::new(NoSignal),
            second_user_exists: std::sync::atomic::AtomicBool::new(false),
            directory: Arc::new(NoDirectory),
            config,
        }
    }

    /// Sets who is told when email has been queued (the delivery worker).
    pub fn with_outbox_signal(mut self, signal: Arc<dyn OutboxSignal>) -> Self {
        self.signal = signal;
        self
    }

    /// Sets who is told when background work is waiting (see [`People::background_pass`]).
    pub fn with_work_signal(mut self, signal: Arc<dyn OutboxSignal>) -> Self {
        self.work = signal;
        self
    }

    /// Sets the LDAP client (without one, LDAP sign-in always falls back to local passwords and the
    /// connection test fails).
    pub fn with_directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = directory;
        self
    }

    /// Replaces the clock (tests of expiry and throttling).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Succeeds when the database answers.
    pub fn health(&self) -> Result<()> {
        self.store.read(|r| r.ping())
    }
}

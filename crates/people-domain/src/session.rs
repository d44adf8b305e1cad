//! Sessions: a random UUID v4 handed to the client once; only its SHA-256 is stored.

use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;
use crate::error::{DomainError, Result};
use crate::group::Membership;
use crate::id::{GroupId, UserId};
use crate::service::People;
use crate::store::Repo;
use std::sync::Arc;

use crate::password::HashesPassword;
use crate::throttle::{Settlement, Throttler, Verdict, Waiter};
use crate::user::User;
use crate::validate::{self, Presence};

/// A secret handed to a client (session id, reset token). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 (hex) of the value, the only form that is stored.
    pub fn digest(&self) -> String {
        sha256_hex(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of `value`, lower-case hex.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new random session id (UUID v4 from the operating system's generator).
pub fn new_session_token() -> Secret {
    Secret(uuid::Uuid::new_v4().to_string())
}

/// A `core_session` row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the token.
    pub id_hash: String,
    /// Owner.
    pub user_id: UserId,
    /// Creation time; validity is measured from it.
    pub created_at: Timestamp,
}

/// What one indexed query learns about the caller of a request: the session's user, their memberships (for
/// superuser and group-manager checks, read fresh on every request) and the session's age.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerRecord {
    /// The user the session belongs to.
    pub user: User,
    /// Every membership of that user.
    pub memberships: Vec<Membership>,
    /// When the session was created.
    pub session_created_at: Timestamp,
    /// When the user first signed in: kept in `core_user.first_login` by every sign-in that sets
    /// `last_login` (so setup's own session counts, where Metabase, without a history row, would answer
    /// "now"); `None` before any.
    pub first_login: Option<Timestamp>,
}

/// A `login_history` row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    /// When.
    pub timestamp: Timestamp,
    /// Who.
    pub user_id: UserId,
    /// SHA-256 of the session created by the login.
    pub session_hash: Option<String>,
    /// `metabase.DEVICE` cookie value.
    pub device_id: String,
    /// User-Agent.
    pub device_description: String,
    /// Client address.
    pub ip_address: String,
}

/// A stored `login_history` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// When.
    pub timestamp: Timestamp,
    /// `metabase.DEVICE` cookie value.
    pub device_id: String,
    /// User-Agent.
    pub device_description: String,
    /// Client address.
    pub ip_address: String,
    /// The login's session still exists.
    pub active: bool,
}

// ----- use cases -----

/// What the HTTP layer knows about the client, for throttling and login history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client address (the source-address header's first entry, else the socket's).
    pub ip: String,
    /// User-Agent.
    pub user_agent: String,
    /// `metabase.DEVICE` cookie (or the one issued with this response).
    pub device_id: String,
}

/// The authenticated caller of a request, read fresh from the database on every request.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// Their memberships, ordered by group id.
    pub memberships: Vec<Membership>,
    /// What authenticated the request.
    pub credential: Credential,
    /// Earliest login of the user.
    pub first_login: Option<Timestamp>,
}

/// What authenticated a request: a session (cookie or `X-Metabase-Session`) or an API key (`X-Api-Key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A session, by the SHA-256 of its id.
    Session(String),
    /// An API key; its use writes nothing (no session, no login history).
    ApiKey,
}

impl Caller {
    /// A superuser.
    pub fn is_superuser(&self) -> bool {
        self.user.is_superuser
    }

    /// Manages `group_id`.
    pub fn manages(&self, group_id: GroupId) -> bool {
        self.memberships
            .iter()
            .any(|m| m.group_id == group_id && m.is_group_manager)
    }

    /// Manages at least one group.
    pub fn manages_any_group(&self) -> bool {
        self.memberships.iter().any(|m| m.is_group_manager)
    }

    /// Ids of the groups the caller manages.
    pub fn managed_groups(&self) -> Vec<GroupId> {
        self.memberships
            .iter()
            .filter(|m| m.is_group_manager)
            .map(|m| m.group_id)
            .collect()
    }

    /// Ids of the groups the caller belongs to.
    pub fn group_ids(&self) -> Vec<GroupId> {
        self.memberships.iter().map(|m| m.group_id).collect()
    }

    /// Is `user_id`.
    pub fn is(&self, user_id: UserId) -> bool {
        self.user.id == user_id
    }
}

/// `POST /api/session`: who signs in, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The email address (any case).
    pub username: String,
    /// The password.
    pub password: Secret,
    /// A persistent cookie, or one for the browser session.
    pub persistence: Persistence,
}

impl Login {
    /// Reads `{"username": …, "password": …, "remember"?: …}` in Metabase's order.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let username = validate::non_blank("username", body.get("username"), Presence::Required)?
            .unwrap_or_default();
        let password = validate::non_blank("password", body.get("password"), Presence::Required)?
            .unwrap_or_default();
        let remember = validate::boolean("remember", body.get("remember"), Presence::Nullable)?
            .unwrap_or(false);
        Ok(Login {
            username,
            password: Secret::new(password),
            persistence: Persistence::from_remember(remember),
        })
    }
}

impl HashesPassword for Login {}

/// How long a session's cookie lives in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Persistence {
    /// Until the browser closes (Metabase's default).
    #[default]
    BrowserSession,
    /// As long as the session itself (`"remember": true`).
    Remember,
}

impl Persistence {
    /// The persistence Metabase's `remember` flag asks for.
    pub fn from_remember(remember: bool) -> Self {
        if remember {
            Persistence::Remember
        } else {
            Persistence::BrowserSession
        }
    }
}

/// Whether starting a session is a sign-in that goes into the login history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum History {
    /// A sign-in: a `login_history` row too.
    Record,
    /// Setup's and the command line's own session: only `last_login`.
    Skip,
}

/// A new session: the token to hand to the client once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGrant {
    /// The session id (a UUID), sent to the client and never stored.
    pub token: Secret,
    /// Whose session it is.
    pub user_id: UserId,
    /// The cookie's lifetime the client asked for.
    pub persistence: Persistence,
    /// The `session-cookie-samesite` setting at the time.
    pub same_site: SameSite,
}

/// The session cookie's `SameSite` directive (the `session-cookie-samesite` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `Lax` (Metabase's default).
    #[default]
    Lax,
    /// `Strict`.
    Strict,
    /// `None` (the cookie also goes with cross-site requests; needs HTTPS).
    None,
}

impl SameSite {
    /// The directive a stored setting names; anything unknown is the default, as in Metabase.
    pub fn from_setting(value: &str) -> Self {
        match value {
            "strict" => SameSite::Strict,
            "none" => SameSite::None,
            _ => SameSite::Lax,
        }
    }

    /// The setting's value for this directive.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "lax",
            SameSite::Strict => "strict",
            SameSite::None => "none",
        }
    }
}

impl PartialEq<&str> for SameSite {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// First pause of a sign-in waiting for attempts being checked (on another replica: settlements in this
/// process wake it at once); it doubles up to [`ADMIT_MAX_PAUSE`]. Long enough that waiting sign-ins do not
/// crowd the key's row with looks.
const ADMIT_FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
/// Longest pause between two looks at the throttles.
const ADMIT_MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(400);
/// How long a sign-in waits for attempts being checked before it is answered as busy: longer than the
/// hashing queue may take.
const ADMIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

/// Login failure for an unknown email or a wrong password.
pub const BAD_PASSWORD: &str = "did not match stored password";
/// Login failure for a correct password on a deactivated account.
pub const DISABLED: &str = "Your account is disabled.";

/// Counts a sign-in attempt under `people_logins_total` by its outcome: `succeeded`, `failed` (wrong
/// password, unknown or disabled account), `throttled` (refused before any check), `busy` or `error`. A
/// facade call like a log line: without a recorder installed it does nothing.
fn count_login(outcome: &'static str) {
    metrics::counter!("people_logins_total", "outcome" => outcome).increment(1);
}

/// The outcome of a sign-in that ended neither in a session nor in a refusal of its credentials.
fn outcome_of(e: &DomainError) -> &'static str {
    match e {
        DomainError::Busy { .. } => "busy",
        _ => "error",
    }
}

fn login_failed(field: &str, message: &str) -> DomainError {
    DomainError::LoginFailed {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Creates a session for `user_id` inside the caller's transaction; for [`History::Record`] also a login-history
/// row and `last_login` (every login except setup's, which only sets `last_login`).
pub(crate) fn start_session(
    repo: &mut dyn Repo,
    user_id: UserId,
    now: Timestamp,
    client: &ClientInfo,
    history: History,
) -> Result<Secret> {
    let token = new_session_token();
    let id_hash = token.digest();
    repo.insert_session(&NewSession {
        id_hash: id_hash.clone(),
        user_id,
        created_at: now,
    })?;
    if history == History::Record {
        repo.insert_login(&NewLogin {
            timestamp: now,
            user_id,
            session_hash: Some(id_hash),
            device_id: client.device_id.clone(),
            device_description: client.user_agent.clone(),
            ip_address: client.ip.clone(),
        })?;
    }
    repo.set_last_login(user_id, now)?;
    Ok(token)
}

impl People {
    /// Starts a session (see [`start_session`]) and returns what the HTTP layer needs to hand it out.
    pub(crate) fn grant(
        &self,
        repo: &mut dyn Repo,
        user_id: UserId,
        client: &ClientInfo,
        history: History,
        persistence: Persistence,
    ) -> Result<SessionGrant> {
        let token = start_session(repo, user_id, self.clock.now(), client, history)?;
        metrics::counter!("people_sessions_created_total").increment(1);
        let same_site = self
            .setting_value(repo, "session-cookie-samesite")?
            .map(|v| SameSite::from_setting(&v))
            .unwrap_or_default();
        Ok(SessionGrant {
            token,
            user_id,
            persistence,
            same_site,
        })
    }

    /// The caller behind a session token, if the session exists, is younger than `MB_MAX_SESSION_AGE` and
    /// belongs to an active user. One indexed query.
    pub fn try_authenticate(&self, token: Option<&str>) -> Result<Option<Caller>> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let id_hash = sha256_hex(token);
        let Some(rec) = self.store.read(|r| r.caller_by_session(&id_hash))? else {
            return Ok(None);
        };
        let oldest = self.clock.now() - self.config.max_session_age;
        if rec.session_created_at <= oldest {
            metrics::counter!("people_sessions_expired_total").increment(1);
            return Ok(None);
        }
        if !rec.user.is_active {
            return Ok(None);
        }
        Ok(Some(Caller {
            user: rec.user,
            memberships: rec.memberships,
            credential: Credential::Session(id_hash),
            first_login: rec.first_login,
        }))
    }

    /// The caller of a request that presents `session` and/or `api_key`: a valid session wins (the key is
    /// not even looked at); otherwise a valid key; otherwise `None`, an anonymous request (Metabase's order).
    pub fn try_identify(
        &self,
        session: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Option<Caller>> {
        if let Some(caller) = self.try_authenticate(session)? {
            return Ok(Some(caller));
        }
        match api_key {
            Some(key) => {
                let caller = self.try_authenticate_key(key)?;
                let outcome = if caller.is_some() {
                    "authenticated"
                } else {
                    "refused"
                };
                metrics::counter!("people_api_key_requests_total", "outcome" => outcome)
                    .increment(1);
                Ok(caller)
            }
            None => Ok(None),
        }
    }

    /// Like [`People::try_identify`], but an anonymous request is `Unauthenticated`.
    pub fn identify(&self, session: Option<&str>, api_key: Option<&str>) -> Result<Caller> {
        self.try_identify(session, api_key)?
            .ok_or(DomainError::Unauthenticated)
    }

    /// Like [`People::try_authenticate`], but no valid session is `Unauthenticated`.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Caller> {
        self.try_authenticate(token)?
            .ok_or(DomainError::Unauthenticated)
    }

    /// `POST /api/session`: checks `username` and `password` (and `remember`), throttles by client address
    /// and user name, and creates a session. The attempt is admitted by the throttles before the password is
    /// checked (waiting, when attempts still being checked could reach a threshold), so that concurrent
    /// attempts cannot pass it; it is settled as a failure or forgiven once judged.
    pub fn login(&self, command: Login, client: &ClientInfo) -> Result<SessionGrant> {
        let Login {
            username,
            password,
            persistence,
        } = command;
        let password = password.expose();
        let th = &self.throttles;
        let pairs = [
            (&th.login_ip, client.ip.as_str()),
            (&th.login_username, username.as_str()),
        ];
        let at = self.admit(&pairs).inspect_err(|e| {
            count_login(match e {
                DomainError::LoginFailed { .. } => "throttled",
                other => outcome_of(other),
            })
        })?;
        let result = self.check_password_and_start(&username, password, client, persistence);
        count_login(match &result {
            Ok(_) => "succeeded",
            Err(DomainError::LoginFailed { .. }) => "failed",
            Err(other) => outcome_of(other),
        });
        // A wrong password counts; a right one, or an attempt never judged (the hashing queue was full, the
        // database failed), does not.
        let how = match &result {
            Err(DomainError::LoginFailed { .. }) => Settlement::Failed,
            _ => Settlement::Forgiven,
        };
        let now = self.clock.now();
        if let Err(e) = self.store.write(|r| th.settle(r, &pairs, at, how, now)) {
            log::warn!("cannot settle a sign-in attempt: {e}");
        }
        self.settlements.notify();
        result
    }

    /// Admits a sign-in attempt through `pairs`, waiting while attempts still being checked could reach a
    /// threshold; returns when it was admitted. A refusal is the throttle's 401; waiting longer than a client
    /// would is `Busy`.
    fn admit(&self, pairs: &[(&Throttler, &str)]) -> Result<Timestamp> {
        if !self.throttles.enabled {
            // Nothing is counted, so nothing is waited for.
            return Ok(self.clock.now());
        }
        let started = std::time::Instant::now();
        let mut pause = ADMIT_FIRST_PAUSE;
        // In the queue before the first look, so that a settlement between a look and the wait is not missed.
        let (place, behind) = self.settlements.join(pairs);
        let mut waited = behind;
        if behind {
            // Older sign-ins wait for one of this one's keys: the next free slot is theirs.
            self.wait_turn(&place, &mut pause, started);
        }
        let verdict = loop {
            self.settlements.rejoin(&place);
            let at = self.clock.now();
            match self.store.write(|r| self.throttles.attempt(r, pairs, at)) {
                Ok(Verdict::Wait) if started.elapsed() < ADMIT_PATIENCE => {
                    waited = true;
                    self.wait_turn(&place, &mut pause, started);
                }
                Ok(Verdict::Wait) => {
                    break Err(DomainError::Busy {
                        retry_after_secs: 1,
                    })
                }
                Ok(Verdict::Allowed) => break Ok(at),
                Ok(Verdict::Refused(message)) => break Err(login_failed("username", &message)),
                Err(e) => break Err(e),
            }
        };
        self.settlements.leave(&place);
        if waited && verdict.is_err() {
            // A waiter refused: the next one may well be refused too; let it look now.
            self.settlements.notify();
        }
        verdict
    }

    /// Waits until `place` is woken by a settlement of this process (oldest waiter first), or, when it is the
    /// oldest waiter for its keys, until `pause` passes (to see another replica's settlements); younger
    /// waiters never look on their own, so that they cannot take a slot freed for an older one.
    fn wait_turn(
        &self,
        place: &Arc<Waiter>,
        pause: &mut std::time::Duration,
        started: std::time::Instant,
    ) {
        loop {
            if self.settlements.wait(place, *pause) {
                return;
            }
            *pause = (*pause * 2).min(ADMIT_MAX_PAUSE);
            if self.settlements.is_first(place) || started.elapsed() >= ADMIT_PATIENCE {
                return;
            }
        }
    }

    fn check_password_and_start(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
        persistence: Persistence,
    ) -> Result<SessionGrant> {
        // LDAP first when it is on (Metabase's order); `None` leaves the attempt to the local password.
        if let Some(grant) = self.ldap_sign_in(username, password, client, persistence)? {
            return Ok(grant);
        }
        let user = self.store.read(|r| r.user_by_email(username))?;
        let Some(user) = user else {
            self.hasher.dummy_verify(password)?;
            return Err(login_failed("password", BAD_PASSWORD));
        };
        let Some(hash) = user.password_hash.as_deref() else {
            self.hasher.dummy_verify(password)?;
            return Err(login_failed("password", BAD_PASSWORD));
        };
        if !self
            .hasher
            .verify(password, user.password_salt.as_deref().unwrap_or(""), hash)?
        {
            return Err(login_failed("password", BAD_PASSWORD));
        }
        if !user.is_active {
            return Err(login_failed("_error", DISABLED));
        }
        self.store
            .write(|repo| self.grant(repo, user.id, client, History::Record, persistence))
    }

    /// `DELETE /api/session`: deletes the presented session (expired ones too); `NotFound` when there is none.
    pub fn logout(&self, token: Option<&str>) -> Result<()> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(DomainError::NotFound);
        };
        let id_hash = sha256_hex(token);
        if self.store.write(|r| r.delete_session(&id_hash))? {
            Ok(())
        } else {
            Err(DomainError::NotFound)
        }
    }

    /// `GET /api/login-history/current`: the caller's logins, newest first.
    pub fn login_history(&self, caller: &Caller) -> Result<Vec<LoginRecord>> {
        self.store.read(|r| r.logins_of(caller.user.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::MembershipId;

    #[test]
    fn tokens_are_uuids_and_digests_are_sha256() {
        let t = new_session_token();
        assert!(uuid::Uuid::parse_str(t.expose()).is_ok());
        assert_eq!(t.digest().len(), 64);
        assert_ne!(t.expose(), new_session_token().expose());
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(format!("{t:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn digest_comparison() {
        assert!(digests_equal("abc", "abc"));
        assert!(!digests_equal("abc", "abd"));
        assert!(!digests_equal("abc", "abcd"));
    }

    #[test]
    fn caller_group_queries() {
        let m = |g, mgr| Membership {
            id: MembershipId(g),
            user_id: UserId(7),
            group_id: GroupId(g),
            is_group_manager: mgr,
        };
        let user = crate::user::tests_support::user(7);
        let c = Caller {
            user,
            memberships: vec![m(1, false), m(3, true), m(4, false)],
            credential: Credential::Session("h".into()),
            first_login: None,
        };
        assert!(c.manages(GroupId(3)) && !c.manages(GroupId(4)) && !c.manages(GroupId(1)));
        assert!(c.manages_any_group());
        assert_eq!(c.managed_groups(), vec![GroupId(3)]);
        assert_eq!(c.group_ids(), vec![GroupId(1), GroupId(3), GroupId(4)]);
        assert!(c.is(UserId(7)) && !c.is(UserId(8)));
    }
}

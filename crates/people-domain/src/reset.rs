//! Password resets: `<user id>_<random UUID>` tokens, stored only as SHA-256, one
//! outstanding per user, valid for `reset-token-ttl-hours`.

use chrono::Duration;
use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::id::UserId;
use crate::mail::Email;
use crate::password::{read_password, HashesPassword};
use crate::service::People;
use crate::session::{
    digests_equal, sha256_hex, ClientInfo, History, Persistence, Secret, SessionGrant,
};
use crate::store::Repo;
use crate::throttle::Verdict;
use crate::user::{set_password, User};
use crate::validate::{self, Presence};

/// 400 text for a token that is malformed, unknown, used, expired or of an inactive user.
pub const INVALID_TOKEN: &str = "Invalid reset token";

/// `reset-token-ttl-hours` when nothing (valid) is set.
const DEFAULT_TTL_HOURS: i64 = 48;

/// `POST /api/session/forgot_password`: where to send a reset link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgotPassword {
    /// A valid email address, lower-cased.
    pub email: String,
}

impl ForgotPassword {
    /// Reads `{"email": …}`.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let email =
            validate::email("email", body.get("email"), Presence::Required)?.unwrap_or_default();
        Ok(ForgotPassword { email })
    }
}

/// `POST /api/session/reset_password`: a reset (or invite) token and the new password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetPassword {
    /// The token from the link.
    pub token: Secret,
    /// The new password (checked against the password policy by the use case).
    pub password: Secret,
}

impl ResetPassword {
    /// Reads `{"token": …, "password": …}` in Metabase's order.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let token = validate::non_blank("token", body.get("token"), Presence::Required)?
            .unwrap_or_default();
        let password = read_password("password", body.get("password"))?;
        Ok(ResetPassword {
            token: Secret::new(token),
            password,
        })
    }
}

impl HashesPassword for ResetPassword {}

/// The user id a token names, when it has the `<digits>_<rest>` form.
fn token_user_id(token: &str) -> Option<i64> {
    let (id, rest) = token.split_once('_')?;
    if id.is_empty() || rest.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

impl People {
    /// The active user `token` belongs to, if it is their outstanding token and younger than the TTL.
    fn user_for_token(&self, repo: &mut dyn Repo, token: &str) -> Result<Option<User>> {
        let Some(id) = token_user_id(token) else {
            return Ok(None);
        };
        let Some(user) = repo.lock_user(UserId(id))?.filter(|u| u.is_active) else {
            return Ok(None);
        };
        let (Some(stored), Some(issued)) = (&user.reset_token, user.reset_triggered) else {
            return Ok(None);
        };
        if !digests_equal(stored, &sha256_hex(token)) {
            return Ok(None);
        }
        match self.reset_token_ttl(repo)? {
            Some(ttl)
                if self.clock.now().timestamp_millis().saturating_sub(issued)
                    >= ttl.num_milliseconds() =>
            {
                Ok(None)
            }
            _ => Ok(Some(user)),
        }
    }

    /// How long a reset or invite link lives (`reset-token-ttl-hours`); `None` when the setting is beyond
    /// what a time span can hold, which means the links do not expire. A stored value that is not a number
    /// counts as the default.
    pub(crate) fn reset_token_ttl(&self, repo: &mut dyn Repo) -> Result<Option<Duration>> {
        let hours: i64 = self
            .setting_value(repo, "reset-token-ttl-hours")?
            .and_then(|v| v.parse().ok())
            .filter(|h| *h >= 0)
            .unwrap_or(DEFAULT_TTL_HOURS);
        Ok(Duration::try_hours(hours))
    }

    /// `POST /api/session/forgot_password`: throttled; then the ask is only recorded, whether or not the
    /// address has an account, so that the answer takes the same time for every address (docs/api.md). The
    /// background worker handles it ([`People::handle_reset_requests`]).
    pub fn forgot_password(&self, command: ForgotPassword, client: &ClientInfo) -> Result<()> {
        let email = command.email;
        let th = &self.throttles;
        let pairs = [
            (&th.forgot_ip, client.ip.as_str()),
            (&th.forgot_email, email.as_str()),
        ];
        let now = self.clock.now();
        let verdict = self.store.write(|repo| {
            let verdict = th.attempt(repo, &pairs, now)?;
            if verdict == Verdict::Allowed {
                repo.insert_reset_request(&email, now)?;
            }
            Ok(verdict)
        })?;
        if let Verdict::Refused(message) = verdict {
            return Err(DomainError::rule("email", message));
        }
        self.work_queued();
        Ok(())
    }

    /// Handles up to `limit` recorded password-reset asks: an account gets a reset link (or, when
    /// deactivated or signing in through SSO, an email without one); an unknown address gets nothing.
    /// Returns how many asks were handled.
    pub fn handle_reset_requests(&self, limit: i64) -> Result<usize> {
        let (asks, queued) = self.store.write(|repo| {
            let asks = repo.take_reset_requests(limit)?;
            let mut queued = 0;
            for email in &asks {
                if self.answer_reset_request(repo, email)? {
                    queued += 1;
                }
            }
            Ok((asks.len(), queued))
        })?;
        if queued > 0 {
            self.mail_queued();
        }
        Ok(asks)
    }

    /// Queues the answer to one ask, inside the caller's transaction; false for an unknown address (an API
    /// key's user has no address to answer).
    fn answer_reset_request(&self, repo: &mut dyn Repo, email: &str) -> Result<bool> {
        let Some(mut user) = repo
            .user_by_email(email)?
            .filter(crate::user::User::is_personal)
        else {
            return Ok(false);
        };
        if let Some(source) = user.sso_source.clone() {
            let message = Email::ResetSso {
                to: user.email.clone(),
                sso_source: source.as_str().to_string(),
            };
            self.enqueue(repo, &message, None)?;
        } else if !user.is_active {
            // A token is still issued, as Metabase does, but it will not validate for an inactive user.
            self.issue_reset_token(repo, &mut user)?;
            let message = Email::ResetDeactivated {
                to: user.email.clone(),
            };
            self.enqueue(repo, &message, None)?;
        } else {
            let token = self.issue_reset_token(repo, &mut user)?;
            let site_url = self.mail_context(repo)?.site_url;
            let message = Email::PasswordReset {
                to: user.email.clone(),
                reset_url: format!("{site_url}/auth/reset_password/{}", token.expose()),
            };
            self.enqueue(repo, &message, Some((&user, &token)))?;
        }
        Ok(true)
    }

    /// `POST /api/session/reset_password`: a valid token sets the password, ends every session, tells the
    /// administrators when an invite was accepted, and signs the user in.
    pub fn reset_password(
        &self,
        command: ResetPassword,
        client: &ClientInfo,
    ) -> Result<SessionGrant> {
        let ResetPassword { token, password } = command;
        self.config.password_policy.require("password", &password)?;
        let token = token.expose();
        let th = &self.throttles;
        let pairs = [(&th.reset_ip, client.ip.as_str())];
        let now = self.clock.now();
        if let Verdict::Refused(message) = self.store.write(|r| th.attempt(r, &pairs, now))? {
            return Err(DomainError::rule("password", message));
        }
        let invalid = || DomainError::rule("password", INVALID_TOKEN);
        // Cheap rejection before paying for a bcrypt hash.
        self.store
            .read(|r| self.user_for_token(r, token))?
            .ok_or_else(invalid)?;
        let hash = self.hasher.hash(password.expose())?;
        let (grant, joined) = self.store.write(|repo| {
            let mut user = self.user_for_token(repo, token)?.ok_or_else(invalid)?;
            let accepted_invite = user.last_login.is_none();
            set_password(&mut user, hash.clone(), self.clock.now());
            repo.update_user(&user)?;
            repo.void_links(user.id, self.clock.now())?;
            repo.delete_user_sessions(user.id, None)?;
            if accepted_invite {
                let mut to: Vec<String> =
                    self.mail_context(repo)?.admin_email.into_iter().collect();
                for admin in repo.active_superusers()? {
                    if admin.id != user.id && !to.contains(&admin.email) {
                        to.push(admin.email);
                    }
                }
                if !to.is_empty() {
                    let email = Email::UserJoined {
                        to,
                        name: user.common_name(),
                        email: user.email.clone(),
                    };
                    self.enqueue(repo, &email, None)?;
                }
            }
            let grant = self.grant(
                repo,
                user.id,
                client,
                History::Record,
                Persistence::BrowserSession,
            )?;
            Ok((grant, accepted_invite))
        })?;
        if joined {
            self.mail_queued();
        }
        Ok(grant)
    }

    /// `GET /api/session/password_reset_token_valid`.
    pub fn reset_token_valid(&self, token: Option<&str>) -> Result<bool> {
        let v = token.map(|t| Value::String(t.to_string()));
        let token =
            validate::non_blank("token", v.as_ref(), Presence::Required)?.unwrap_or_default();
        Ok(self
            .store
            .read(|r| self.user_for_token(r, &token))?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        assert_eq!(
            token_user_id("100_8a266560-e3a8-4dc1-9cd1-b4471dcd56d7"),
            Some(100)
        );
        for bad in ["", "_x", "12_", "x_1", "12", "1a_b", "-1_x"] {
            assert_eq!(token_user_id(bad), None, "{bad}");
        }
    }
}

//! Email as data (spec §2.7, A.4): use cases describe the email they cause, people-mailer's templates render
//! it, and it is queued in the outbox in the same transaction as the change that causes it.

use std::sync::Arc;

use crate::error::Result;
use crate::service::People;
use crate::session::Secret;
use crate::store::{NewEmail, Repo};
use crate::user::User;

/// An email people sends, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Email {
    /// "You're invited to join <site>'s <app>": a new user's link to set a password.
    Invite {
        /// Invitee.
        to: String,
        /// Invitee's first name, if known.
        first_name: Option<String>,
        /// Who invited them (first name, else common name), if anyone.
        inviter: Option<String>,
        /// `<site-url>/auth/reset_password/<token>#new`.
        join_url: String,
        /// Sent from `POST /api/setup` ("could use your help setting up").
        from_setup: bool,
    },
    /// "[<app>] Password Reset Request" with a reset link.
    PasswordReset {
        /// Account address.
        to: String,
        /// `<site-url>/auth/reset_password/<token>`.
        reset_url: String,
    },
    /// The same subject, for a deactivated account: no link, whom to ask instead.
    ResetDeactivated {
        /// Account address.
        to: String,
    },
    /// The same subject, for an account that signs in through SSO: no link.
    ResetSso {
        /// Account address.
        to: String,
        /// `google`, `ldap`, …
        sso_source: String,
    },
    /// "<name> accepted their <app> invite", to the administrators.
    UserJoined {
        /// `admin-email` and every active superuser, de-duplicated.
        to: Vec<String>,
        /// The new user's common name.
        name: String,
        /// The new user's email.
        email: String,
    },
}

impl Email {
    /// Recipients.
    pub fn recipients(&self) -> Vec<String> {
        match self {
            Email::Invite { to, .. }
            | Email::PasswordReset { to, .. }
            | Email::ResetDeactivated { to }
            | Email::ResetSso { to, .. } => vec![to.clone()],
            Email::UserJoined { to, .. } => to.clone(),
        }
    }
}

/// Instance details every template may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContext {
    /// `application-name` (the `<app>` of subjects).
    pub app_name: String,
    /// `site-name` (`<site>`).
    pub site_name: String,
    /// `site-url`, without a trailing slash.
    pub site_url: String,
    /// `admin-email`, if set.
    pub admin_email: Option<String>,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part (values escaped).
    pub html: String,
}

/// Turns an [`Email`] into subject and bodies. Implemented by people-mailer.
pub trait EmailTemplates: Send + Sync {
    /// Renders `email` for the instance described by `ctx`.
    fn render(&self, email: &Email, ctx: &MailContext) -> Rendered;
}

/// Told when a transaction that queued email has committed, so that a delivery worker can start at once
/// instead of at its next poll.
pub trait OutboxSignal: Send + Sync {
    /// Mail is waiting.
    fn notify(&self);
}

/// A signal nobody listens to.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSignal;

impl OutboxSignal for NoSignal {
    fn notify(&self) {}
}

/// Shared handle to a signal.
pub type Signal = Arc<dyn OutboxSignal>;

impl People {
    /// The instance details for templates, read in the current transaction.
    pub(crate) fn mail_context(&self, repo: &mut dyn Repo) -> Result<MailContext> {
        let get = |repo: &mut dyn Repo, key: &str| self.setting_value(repo, key);
        Ok(MailContext {
            app_name: get(repo, "application-name")?.unwrap_or_else(|| "Metabase".into()),
            site_name: get(repo, "site-name")?.unwrap_or_else(|| "Unknown".into()),
            site_url: get(repo, "site-url")?
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            admin_email: get(repo, "admin-email")?,
        })
    }

    /// Renders `email` and queues it in the outbox, inside the current transaction.
    pub(crate) fn enqueue(&self, repo: &mut dyn Repo, email: &Email) -> Result<()> {
        let ctx = self.mail_context(repo)?;
        let rendered = self.templates.render(email, &ctx);
        repo.enqueue_email(&NewEmail {
            recipients: email.recipients(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            created_at: self.clock.now(),
        })?;
        Ok(())
    }

    /// Queues `user`'s invite: a fresh reset token (the only outstanding one) and the join link.
    pub(crate) fn queue_invite(
        &self,
        repo: &mut dyn Repo,
        user: &mut User,
        inviter: Option<&User>,
        from_setup: bool,
    ) -> Result<()> {
        let token = self.issue_reset_token(repo, user)?;
        let site_url = self.mail_context(repo)?.site_url;
        let email = Email::Invite {
            to: user.email.clone(),
            first_name: user.first_name.clone(),
            inviter: inviter.map(|i| i.first_name.clone().unwrap_or_else(|| i.common_name())),
            join_url: format!("{site_url}/auth/reset_password/{}#new", token.expose()),
            from_setup,
        };
        self.enqueue(repo, &email)
    }

    /// Stores a new reset token for `user` (its SHA-256 only) and returns the token to put in a link.
    pub(crate) fn issue_reset_token(&self, repo: &mut dyn Repo, user: &mut User) -> Result<Secret> {
        let token = Secret::new(format!("{}_{}", user.id, uuid::Uuid::new_v4()));
        user.reset_token = Some(token.digest());
        user.reset_triggered = Some(self.clock.now().timestamp_millis());
        repo.update_user(user)?;
        Ok(token)
    }

    /// Wakes the delivery worker.
    pub(crate) fn mail_queued(&self) {
        self.signal.notify();
    }
}

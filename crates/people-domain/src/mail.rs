//! Email as data: use cases describe the email they cause, people-mailer's templates render
//! it, and it is queued in the outbox in the same transaction as the change that causes it.

use std::sync::Arc;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::service::People;
use crate::session::Secret;
use crate::store::{EmailLink, NewEmail, Repo};
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

/// Who is sending an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InviteKind {
    /// The installer, during setup ("could use your help setting up").
    Setup,
    /// An administrator, creating a user or sending the invite again.
    Admin,
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

/// The latest moment both databases and chrono can hold (the end of the year 9999).
fn far_future() -> Timestamp {
    chrono::DateTime::from_timestamp(253_402_300_799, 0)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// When a link queued at `queued` expires given the link lifetime `ttl`; `None` (never) for no lifetime or
/// one that reaches past what a database can store.
pub fn link_expiry(queued: Timestamp, ttl: Option<chrono::Duration>) -> Option<Timestamp> {
    ttl.and_then(|ttl| queued.checked_add_signed(ttl))
        .filter(|at| *at <= far_future())
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

    /// Renders `email` and queues it in the outbox, inside the current transaction. An email carrying
    /// `user`'s reset or invite link (`token`) is tied to it: it is sent only while that token is theirs and
    /// has not expired.
    pub(crate) fn enqueue(
        &self,
        repo: &mut dyn Repo,
        email: &Email,
        link: Option<(&User, &Secret)>,
    ) -> Result<()> {
        let ctx = self.mail_context(repo)?;
        let rendered = self.templates.render(email, &ctx);
        let now = self.clock.now();
        let link = match link {
            Some((user, token)) => Some(EmailLink {
                user_id: user.id,
                token_hash: token.digest(),
                expires_at: link_expiry(now, self.reset_token_ttl(repo)?),
            }),
            None => None,
        };
        repo.enqueue_email(&NewEmail {
            recipients: email.recipients(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            created_at: now,
            link,
        })?;
        Ok(())
    }

    /// Gives every unsent link email the expiry the current `reset-token-ttl-hours` gives its link (after
    /// the setting changed).
    pub(crate) fn retime_links(&self, repo: &mut dyn Repo) -> Result<()> {
        let ttl = self.reset_token_ttl(repo)?;
        for (id, queued) in repo.unsent_links()? {
            repo.set_link_expiry(id, link_expiry(queued, ttl))?;
        }
        repo.void_dead_links(self.clock.now())?;
        Ok(())
    }

    /// Queues `user`'s invite: a fresh reset token (the only outstanding one) and the join link.
    pub(crate) fn queue_invite(
        &self,
        repo: &mut dyn Repo,
        user: &mut User,
        inviter: Option<&User>,
        kind: InviteKind,
    ) -> Result<()> {
        let token = self.issue_reset_token(repo, user)?;
        let site_url = self.mail_context(repo)?.site_url;
        let email = Email::Invite {
            to: user.email.clone(),
            first_name: user.first_name.clone(),
            inviter: inviter.map(|i| i.first_name.clone().unwrap_or_else(|| i.common_name())),
            join_url: format!("{site_url}/auth/reset_password/{}#new", token.expose()),
            from_setup: kind == InviteKind::Setup,
        };
        self.enqueue(repo, &email, Some((user, &token)))
    }

    /// Stores a new reset token for `user` (its SHA-256 only) and returns the token to put in a link. Emails
    /// still waiting with an earlier link are blanked.
    pub(crate) fn issue_reset_token(&self, repo: &mut dyn Repo, user: &mut User) -> Result<Secret> {
        let token = Secret::new(format!("{}_{}", user.id, uuid::Uuid::new_v4()));
        user.reset_token = Some(token.digest());
        user.reset_triggered = Some(self.clock.now().timestamp_millis());
        repo.update_user(user)?;
        repo.void_links(user.id, self.clock.now())?;
        Ok(token)
    }

    /// Wakes the delivery worker.
    pub(crate) fn mail_queued(&self) {
        self.signal.notify();
    }
}

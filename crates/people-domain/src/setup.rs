//! Setting up an instance: its first administrator, by `POST /api/setup` or `people create-admin`.

use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::mail::InviteKind;
use crate::password::{read_password, HashesPassword, PasswordPolicy};
use crate::service::People;
use crate::session::{
    digests_equal, sha256_hex, ClientInfo, History, Persistence, Secret, SessionGrant,
};
use crate::setting::SETUP_TOKEN_KEY;
use crate::user::{insert_with_memberships, NewUser, User, EMAIL_IN_USE};
use crate::validate::{self, limit, msg, Presence};

/// 403 text once any user exists.
pub const SETUP_DONE: &str =
    "The /api/setup route can only be used to create the first user, however a user currently exists.";

/// Who `people create-admin` creates.
#[derive(Debug, Clone)]
pub struct AdminSpec {
    /// Email address.
    pub email: String,
    /// Password (must satisfy the password policy).
    pub password: Secret,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// An optional name: nullable non-blank, at most 254 characters.
fn checked_name(param: &str, v: Option<&Value>) -> Result<Option<String>> {
    let n = validate::non_blank(param, v, Presence::Nullable)?;
    if let Some(n) = &n {
        validate::max_chars(param, n, limit::NAME)?;
    }
    Ok(n)
}

/// An email: lower-cased, at most 254 characters.
fn checked_email(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<String>> {
    let e = validate::email(param, v, presence)?;
    if let Some(e) = &e {
        validate::max_chars(param, e, limit::EMAIL)?;
    }
    Ok(e)
}

/// A setup that may go ahead: no user exists yet. What a setup request is checked against.
#[derive(Debug, Clone)]
pub struct SetupWindow {
    stored_token: Option<Secret>,
    policy: PasswordPolicy,
}

/// A second administrator to invite during setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupInvite {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address, lower-cased.
    pub email: String,
}

/// `POST /api/setup`: the first administrator, an optional invited second one, and the site's name and
/// locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// The setup token from `/api/session/properties`.
    pub token: Secret,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address, lower-cased.
    pub email: String,
    /// Password (checked against the password policy).
    pub password: Secret,
    /// Who to invite as a second administrator.
    pub invite: Option<SetupInvite>,
    /// `site-name`.
    pub site_name: String,
    /// `site-locale`, normalised.
    pub site_locale: Option<String>,
}

impl HashesPassword for Setup {}

/// A nested object of the setup body (`user`, `invite`, `prefs`); anything else has no fields.
fn section<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    body.get(key).and_then(Value::as_object)
}

fn field<'a>(section: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    section.and_then(|s| s.get(key))
}

fn token_refused(given: Option<&Value>) -> DomainError {
    DomainError::invalid(
        "token",
        msg::SETUP_TOKEN,
        format!(
            "{}, received: {}",
            msg::SETUP_TOKEN,
            given.map(|v| v.to_string()).unwrap_or("nil".into())
        ),
    )
}

fn token_matches(window: &SetupWindow, token: &str) -> bool {
    validate::is_non_blank(token)
        && window
            .stored_token
            .as_ref()
            .is_some_and(|s| digests_equal(&s.digest(), &sha256_hex(token)))
}

impl Setup {
    /// Checks the setup body's parameters in Metabase's order (token, first_name, last_name, email,
    /// password, invited_first_name, invited_last_name, invited_email, site_name, site_locale), reporting
    /// the first failure alone under its flat name.
    pub fn parse(body: &Map<String, Value>, window: &SetupWindow) -> Result<Self> {
        let token = match body.get("token").and_then(Value::as_str) {
            Some(t) if token_matches(window, t) => Secret::new(t),
            _ => return Err(token_refused(body.get("token"))),
        };
        let user = section(body, "user");
        let invite = section(body, "invite");
        let prefs = section(body, "prefs");
        let first_name = checked_name("first_name", field(user, "first_name"))?;
        let last_name = checked_name("last_name", field(user, "last_name"))?;
        let email =
            checked_email("email", field(user, "email"), Presence::Required)?.unwrap_or_default();
        let password = read_password("password", field(user, "password"))?;
        window.policy.require("password", &password)?;
        let invited_first = checked_name("invited_first_name", field(invite, "first_name"))?;
        let invited_last = checked_name("invited_last_name", field(invite, "last_name"))?;
        let invited_email =
            checked_email("invited_email", field(invite, "email"), Presence::Nullable)?;
        let site_name =
            validate::non_blank("site_name", field(prefs, "site_name"), Presence::Required)?
                .unwrap_or_default();
        let site_locale = validate::locale(
            "site_locale",
            field(prefs, "site_locale"),
            Presence::Nullable,
        )?;
        Ok(Setup {
            token,
            first_name,
            last_name,
            email,
            password,
            invite: invited_email.map(|email| SetupInvite {
                first_name: invited_first,
                last_name: invited_last,
                email,
            }),
            site_name,
            site_locale,
        })
    }
}

impl People {
    /// Whether setup may go ahead: once any user exists it is refused (403) before anything in the request
    /// is looked at.
    pub fn open_setup(&self) -> Result<SetupWindow> {
        let (users, stored_token) = self
            .store
            .read(|r| Ok((r.count_users(1)?, r.setting(SETUP_TOKEN_KEY)?)))?;
        if users > 0 {
            return Err(DomainError::Forbidden(SETUP_DONE.to_string()));
        }
        Ok(SetupWindow {
            stored_token: stored_token.map(Secret::new),
            policy: self.config.password_policy,
        })
    }

    /// `POST /api/setup`: creates the first superuser, stores `site-name`, `site-locale` and `admin-email`,
    /// optionally creates an invited second administrator, and signs the new user in. Once any user exists
    /// it is refused (403). One transaction: on failure nothing changes and the setup token stays valid.
    pub fn setup(&self, command: Setup, client: &ClientInfo) -> Result<SessionGrant> {
        let window = self.open_setup()?;
        let req = command;
        if !token_matches(&window, req.token.expose()) {
            return Err(token_refused(Some(&Value::String(
                req.token.expose().to_string(),
            ))));
        }
        self.config
            .password_policy
            .require("password", &req.password)?;
        let hash = self.hasher.hash(req.password.expose())?;
        let now = self.clock.now();
        let admin = NewUser {
            email: req.email.clone(),
            first_name: req.first_name.clone(),
            last_name: req.last_name.clone(),
            password: Some(hash),
            is_superuser: true,
            login_attributes: None,
            locale: None,
            sso_source: None,
            date_joined: now,
            user_type: crate::user::UserType::Personal,
            entity_id: Some(crate::group::new_entity_id()),
            external_id: None,
        };
        self.store
            .write(|repo| {
                // Whoever deletes the token owns the setup; a concurrent setup finds it gone.
                if !repo.take_setting(SETUP_TOKEN_KEY, req.token.expose())?
                    || repo.count_users(1)? > 0
                {
                    return Err(DomainError::Forbidden(SETUP_DONE.to_string()));
                }
                let user = insert_with_memberships(repo, &admin)?;
                repo.put_setting("site-name", Some(&req.site_name))?;
                repo.put_setting("admin-email", Some(&req.email))?;
                if let Some(locale) = &req.site_locale {
                    repo.put_setting("site-locale", Some(locale))?;
                }
                if let Some(invite) = &req.invite {
                    let invitee = NewUser {
                        email: invite.email.clone(),
                        first_name: invite.first_name.clone(),
                        last_name: invite.last_name.clone(),
                        password: None,
                        is_superuser: true,
                        login_attributes: None,
                        locale: None,
                        sso_source: None,
                        date_joined: now,
                        user_type: crate::user::UserType::Personal,
                        entity_id: Some(crate::group::new_entity_id()),
                        external_id: None,
                    };
                    let mut invited =
                        insert_with_memberships(repo, &invitee).map_err(|e| match e {
                            DomainError::Rule { message, .. } if message == EMAIL_IN_USE => {
                                DomainError::rule("invited_email", EMAIL_IN_USE)
                            }
                            other => other,
                        })?;
                    self.queue_invite(repo, &mut invited, Some(&user), InviteKind::Setup)?;
                }
                self.grant(
                    repo,
                    user.id,
                    client,
                    History::Skip,
                    Persistence::BrowserSession,
                )
            })
            .inspect(|_| {
                if req.invite.is_some() {
                    self.mail_queued();
                }
            })
    }

    /// Creates the first administrator like [`People::create_admin`] and signs them in: the test-server mode's
    /// `--admin`, which hands the session to the test suite.
    pub fn create_admin_signed_in(&self, spec: &AdminSpec) -> Result<SessionGrant> {
        let user = self.create_admin(spec)?;
        self.store.write(|repo| {
            self.grant(
                repo,
                user.id,
                &ClientInfo::default(),
                History::Skip,
                Persistence::BrowserSession,
            )
        })
    }

    /// Creates a superuser from the command line (an alternative to `POST /api/setup`): the same rules as
    /// setup for the email, names and password; retires the setup token; sets `admin-email` when unset.
    pub fn create_admin(&self, spec: &AdminSpec) -> Result<User> {
        let email = checked_email(
            "email",
            Some(&Value::String(spec.email.clone())),
            Presence::Required,
        )?
        .unwrap_or_default();
        let first = checked_name(
            "first_name",
            spec.first_name.clone().map(Value::String).as_ref(),
        )?;
        let last = checked_name(
            "last_name",
            spec.last_name.clone().map(Value::String).as_ref(),
        )?;
        self.config
            .password_policy
            .require("password", &spec.password)?;
        let hash = self.hasher.hash(spec.password.expose())?;
        let new = NewUser {
            email: email.clone(),
            first_name: first,
            last_name: last,
            password: Some(hash),
            is_superuser: true,
            login_attributes: None,
            locale: None,
            sso_source: None,
            date_joined: self.clock.now(),
            user_type: crate::user::UserType::Personal,
            entity_id: Some(crate::group::new_entity_id()),
            external_id: None,
        };
        self.store.write(|repo| {
            let user = insert_with_memberships(repo, &new)?;
            repo.insert_setting_if_absent("admin-email", &email)?;
            repo.put_setting(SETUP_TOKEN_KEY, None)?;
            Ok(user)
        })
    }
}

//! Setting up an instance: its first administrator, by `POST /api/setup` or `people create-admin`.

use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::service::People;
use crate::session::{digests_equal, sha256_hex, ClientInfo, SessionGrant};
use crate::setting::SETUP_TOKEN_KEY;
use crate::user::{insert_with_memberships, NewUser, User, EMAIL_IN_USE};
use crate::validate::{self, limit, msg};

/// 403 text once any user exists.
pub const SETUP_DONE: &str =
    "The /api/setup route can only be used to create the first user, however a user currently exists.";

/// Who `people create-admin` creates.
#[derive(Debug, Clone, Default)]
pub struct AdminSpec {
    /// Email address.
    pub email: String,
    /// Password (must satisfy the password policy).
    pub password: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// A nested object of the setup body (`user`, `invite`, `prefs`); anything else has no fields.
fn section<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    body.get(key).and_then(Value::as_object)
}

fn field<'a>(section: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    section.and_then(|s| s.get(key))
}

/// An optional name: nullable non-blank, at most 254 characters.
fn checked_name(param: &str, v: Option<&Value>) -> Result<Option<String>> {
    let n = validate::non_blank(param, v, true)?;
    if let Some(n) = &n {
        validate::max_chars(param, n, limit::NAME)?;
    }
    Ok(n)
}

/// An email: lower-cased, at most 254 characters.
fn checked_email(param: &str, v: Option<&Value>, nullable: bool) -> Result<Option<String>> {
    let e = validate::email(param, v, nullable)?;
    if let Some(e) = &e {
        validate::max_chars(param, e, limit::EMAIL)?;
    }
    Ok(e)
}

/// The validated setup request.
struct SetupRequest {
    token: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: String,
    password: String,
    invite: Option<(Option<String>, Option<String>, String)>,
    site_name: String,
    site_locale: Option<String>,
}

impl People {
    /// Checks the setup body's parameters in a fixed order (token, first_name, last_name, email, password,
    /// invited_first_name, invited_last_name, invited_email, site_name, site_locale), reporting the first
    /// failure alone under its flat name.
    fn parse_setup(
        &self,
        body: &Map<String, Value>,
        stored_token: Option<&str>,
    ) -> Result<SetupRequest> {
        let token = match body.get("token").and_then(Value::as_str) {
            Some(t)
                if validate::is_non_blank(t)
                    && stored_token
                        .is_some_and(|s| digests_equal(&sha256_hex(s), &sha256_hex(t))) =>
            {
                t.to_string()
            }
            _ => {
                return Err(DomainError::invalid(
                    "token",
                    msg::SETUP_TOKEN,
                    format!(
                        "{}, received: {}",
                        msg::SETUP_TOKEN,
                        body.get("token")
                            .map(|v| v.to_string())
                            .unwrap_or("nil".into())
                    ),
                ))
            }
        };
        let user = section(body, "user");
        let invite = section(body, "invite");
        let prefs = section(body, "prefs");
        let first_name = checked_name("first_name", field(user, "first_name"))?;
        let last_name = checked_name("last_name", field(user, "last_name"))?;
        let email = checked_email("email", field(user, "email"), false)?.unwrap_or_default();
        let password = self
            .config
            .password_policy
            .check("password", field(user, "password"))?;
        let invited_first = checked_name("invited_first_name", field(invite, "first_name"))?;
        let invited_last = checked_name("invited_last_name", field(invite, "last_name"))?;
        let invited_email = checked_email("invited_email", field(invite, "email"), true)?;
        let site_name =
            validate::non_blank("site_name", field(prefs, "site_name"), false)?.unwrap_or_default();
        let site_locale = validate::locale("site_locale", field(prefs, "site_locale"), true)?;
        Ok(SetupRequest {
            token,
            first_name,
            last_name,
            email,
            password,
            invite: invited_email.map(|e| (invited_first, invited_last, e)),
            site_name,
            site_locale,
        })
    }

    /// `POST /api/setup`: creates the first superuser, stores `site-name`, `site-locale` and `admin-email`,
    /// optionally creates an invited second administrator, and signs the new user in. Once any user exists
    /// every call is refused (403) before validation. One transaction: on failure nothing changes and the
    /// setup token stays valid.
    pub fn setup(&self, body: &Map<String, Value>, client: &ClientInfo) -> Result<SessionGrant> {
        let (users, stored_token) = self
            .store
            .read(|r| Ok((r.count_users(1)?, r.setting(SETUP_TOKEN_KEY)?)))?;
        if users > 0 {
            return Err(DomainError::Forbidden(SETUP_DONE.to_string()));
        }
        let req = self.parse_setup(body, stored_token.as_deref())?;
        let hash = self.hasher.hash(&req.password)?;
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
        };
        self.store
            .write(|repo| {
                // Whoever deletes the token owns the setup; a concurrent setup finds it gone.
                if !repo.take_setting(SETUP_TOKEN_KEY, &req.token)? || repo.count_users(1)? > 0 {
                    return Err(DomainError::Forbidden(SETUP_DONE.to_string()));
                }
                let user = insert_with_memberships(repo, &admin)?;
                repo.put_setting("site-name", Some(&req.site_name))?;
                repo.put_setting("admin-email", Some(&req.email))?;
                if let Some(locale) = &req.site_locale {
                    repo.put_setting("site-locale", Some(locale))?;
                }
                if let Some((first, last, email)) = &req.invite {
                    let invitee = NewUser {
                        email: email.clone(),
                        first_name: first.clone(),
                        last_name: last.clone(),
                        password: None,
                        is_superuser: true,
                        login_attributes: None,
                        locale: None,
                        sso_source: None,
                        date_joined: now,
                    };
                    let mut invited =
                        insert_with_memberships(repo, &invitee).map_err(|e| match e {
                            DomainError::Rule { message, .. } if message == EMAIL_IN_USE => {
                                DomainError::rule("invited_email", EMAIL_IN_USE)
                            }
                            other => other,
                        })?;
                    self.queue_invite(repo, &mut invited, Some(&user), true)?;
                }
                self.grant(repo, user.id, client, false, false)
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
        self.store
            .write(|repo| self.grant(repo, user.id, &ClientInfo::default(), false, false))
    }

    /// Creates a superuser from the command line (an alternative to `POST /api/setup`): the same rules as
    /// setup for the email, names and password; retires the setup token; sets `admin-email` when unset.
    pub fn create_admin(&self, spec: &AdminSpec) -> Result<User> {
        let email = checked_email("email", Some(&Value::String(spec.email.clone())), false)?
            .unwrap_or_default();
        let first = checked_name(
            "first_name",
            spec.first_name.clone().map(Value::String).as_ref(),
        )?;
        let last = checked_name(
            "last_name",
            spec.last_name.clone().map(Value::String).as_ref(),
        )?;
        let password = self
            .config
            .password_policy
            .check("password", Some(&Value::String(spec.password.clone())))?;
        let hash = self.hasher.hash(&password)?;
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
        };
        self.store.write(|repo| {
            let user = insert_with_memberships(repo, &new)?;
            repo.insert_setting_if_absent("admin-email", &email)?;
            repo.put_setting(SETUP_TOKEN_KEY, None)?;
            Ok(user)
        })
    }
}

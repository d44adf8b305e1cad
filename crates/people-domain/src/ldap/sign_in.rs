//! The LDAP step of `POST /api/session`, in Metabase's order: ask the directory first; unreachable, too slow
//! or not knowing the login → the local password; knowing it with another password → refused, without the
//! local password; verified → the person is created or brought up to date, their mapped groups follow the
//! directory's, and the session is started, all in one transaction.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::config::LdapConfig;
use super::directory::{Authentication, DirectoryEntry};
use super::dn::Dn;
use crate::error::{DomainError, Result};
use crate::group::{GroupRole, ADMINISTRATORS_ID, ALL_USERS_ID};
use crate::id::GroupId;
use crate::membership::guard_last_admin;
use crate::session::{ClientInfo, History, Persistence, SessionGrant, BAD_PASSWORD, DISABLED};
use crate::store::{NewMembership, Repo};
use crate::user::{insert_with_memberships, NewUser, SsoSource, User, UserType};
use crate::validate;

/// What the directory's entry says about a person, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryPerson {
    /// The address, lower-cased (people's key for the person).
    pub email: String,
    /// Given name, `None` when the directory has none (it then also clears a stored one).
    pub first_name: Option<String>,
    /// Family name, likewise.
    pub last_name: Option<String>,
    /// The entry's attributes for `login_attributes`, when `ldap-sync-user-attributes` is on.
    pub attributes: Option<Map<String, Value>>,
    /// The DNs of the person's directory groups that parse as DNs.
    pub groups: Vec<Dn>,
}

impl DirectoryPerson {
    /// Reads `entry` as `config` says; `None` when its email attribute is missing or not an address (such an
    /// entry cannot sign in: Metabase refuses it too).
    pub fn from_entry(config: &LdapConfig, entry: &DirectoryEntry) -> Option<Self> {
        let email = entry.first(&config.attribute_email)?.trim();
        if !validate::is_email(email) {
            return None;
        }
        let name = |attr: &str| {
            entry
                .first(attr)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let attributes = config.sync_user_attributes.then(|| {
            entry
                .attributes
                .iter()
                .filter(|(k, _)| {
                    k.as_str() != "objectclass" && !config.attribute_blacklist.contains(k)
                })
                .map(|(k, values)| {
                    let v = match values.as_slice() {
                        [one] => Value::String(one.clone()),
                        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
                    };
                    (k.clone(), v)
                })
                .collect()
        });
        Some(DirectoryPerson {
            email: email.to_lowercase(),
            first_name: name(&config.attribute_firstname),
            last_name: name(&config.attribute_lastname),
            attributes,
            groups: entry
                .groups
                .iter()
                .filter_map(|g| Dn::parse(g).ok())
                .collect(),
        })
    }
}

/// The 401 of an unknown directory user when provisioning is off (Metabase's words).
pub fn provisioning_refusal(site_name: &str) -> String {
    let slug: String = site_name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    format!(
        "Sorry, but you'll need a {slug} account to view this page. Please contact your administrator."
    )
}

/// How a verified directory sign-in ended inside its transaction.
enum Outcome {
    Granted(SessionGrant),
    /// The account is deactivated (its names and groups were brought up to date all the same).
    Disabled,
    /// Unknown to people and provisioning is off.
    NotProvisioned(String),
}

fn refused(field: &str, message: &str) -> DomainError {
    DomainError::LoginFailed {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Counts an LDAP sign-in step under `people_ldap_sign_ins_total` by outcome: `verified`, `wrong_password`,
/// `not_found`, `unavailable` (the directory failed or was too slow: the local password was tried),
/// `refused` (verified but not allowed in).
fn count(outcome: &'static str) {
    metrics::counter!("people_ldap_sign_ins_total", "outcome" => outcome).increment(1);
}

impl crate::People {
    /// The LDAP step of a sign-in: `Ok(None)` when the local password is to be tried (LDAP off, the
    /// directory unreachable, too slow or not knowing the login), a session, or a refusal.
    pub(crate) fn ldap_sign_in(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
        persistence: Persistence,
    ) -> Result<Option<SessionGrant>> {
        let config = self.ldap_config()?;
        if !config.enabled {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let answer = self.directory.authenticate(&config, login, password);
        metrics::histogram!("people_ldap_request_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let entry = match answer {
            Err(e) => {
                count("unavailable");
                log::warn!(
                    "Problem connecting to LDAP server, will fall back to local authentication: {e}"
                );
                return Ok(None);
            }
            Ok(Authentication::NotFound) => {
                count("not_found");
                return Ok(None);
            }
            Ok(Authentication::WrongPassword) => {
                count("wrong_password");
                return Err(refused("password", BAD_PASSWORD));
            }
            Ok(Authentication::Verified(entry)) => entry,
        };
        let Some(person) = DirectoryPerson::from_entry(&config, &entry) else {
            count("refused");
            log::warn!(
                "LDAP entry {} has no valid email in attribute {}: sign-in refused",
                entry.dn,
                config.attribute_email
            );
            return Err(refused("password", BAD_PASSWORD));
        };
        let attempt = || {
            self.store
                .write(|repo| self.admit_verified(repo, &config, &person, client, persistence))
        };
        let outcome = match attempt() {
            // Two first sign-ins of the same new person at once: the other one created them, and the second
            // try finds them.
            Err(e) if e.is_unique_violation() || is_email_in_use(&e) => attempt()?,
            other => other?,
        };
        self.finish(outcome)
    }

    /// Inside the sign-in's transaction: the person found by address (names and attributes brought up to
    /// date) or created, their mapped groups synced, and the session started unless they are deactivated.
    fn admit_verified(
        &self,
        repo: &mut dyn Repo,
        config: &LdapConfig,
        person: &DirectoryPerson,
        client: &ClientInfo,
        persistence: Persistence,
    ) -> Result<Outcome> {
        let user = match repo.user_by_email(&person.email)? {
            Some(user) => self.refresh_from_directory(repo, user, person)?,
            None if !config.provisioning => {
                let site = self.setting_value(repo, "site-name")?.unwrap_or_default();
                return Ok(Outcome::NotProvisioned(provisioning_refusal(&site)));
            }
            None => self.create_from_directory(repo, person)?,
        };
        let user = if config.group_sync {
            sync_groups(repo, user, config, &person.groups)?
        } else {
            user
        };
        if !user.is_active {
            return Ok(Outcome::Disabled);
        }
        let grant = self.grant(repo, user.id, client, History::Record, persistence)?;
        Ok(Outcome::Granted(grant))
    }

    fn finish(&self, outcome: Outcome) -> Result<Option<SessionGrant>> {
        match outcome {
            Outcome::Granted(grant) => {
                count("verified");
                Ok(Some(grant))
            }
            Outcome::Disabled => {
                count("refused");
                Err(refused("_error", DISABLED))
            }
            Outcome::NotProvisioned(message) => {
                count("refused");
                Err(refused("_error", &message))
            }
        }
    }

    /// A person first seen through the directory: no password at all (they sign in through the directory,
    /// or get one from an administrator), `sso_source` `ldap`, no email sent.
    fn create_from_directory(&self, repo: &mut dyn Repo, person: &DirectoryPerson) -> Result<User> {
        let new = NewUser {
            email: person.email.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            password: None,
            is_superuser: false,
            login_attributes: person.attributes.clone(),
            locale: None,
            sso_source: Some(SsoSource::Ldap),
            date_joined: self.clock.now(),
            user_type: UserType::Personal,
            entity_id: Some(crate::group::new_entity_id()),
            external_id: None,
        };
        log::info!("creating a user for LDAP login {}", person.email);
        insert_with_memberships(repo, &new)
    }

    /// A known person signing in through the directory: names follow the directory's (a name it no longer
    /// has is cleared), and so do the attributes when they are synced. Email, `sso_source`, activity and
    /// password are left alone.
    fn refresh_from_directory(
        &self,
        repo: &mut dyn Repo,
        mut user: User,
        person: &DirectoryPerson,
    ) -> Result<User> {
        let mut changed = false;
        if user.first_name != person.first_name {
            user.first_name = person.first_name.clone();
            changed = true;
        }
        if user.last_name != person.last_name {
            user.last_name = person.last_name.clone();
            changed = true;
        }
        if let Some(attrs) = &person.attributes {
            if user.login_attributes.as_ref() != Some(attrs) {
                user.login_attributes = Some(attrs.clone());
                changed = true;
            }
        }
        if changed {
            user.updated_at = self.clock.now();
            repo.update_user(&user)?;
        }
        Ok(user)
    }
}

fn is_email_in_use(e: &DomainError) -> bool {
    matches!(e, DomainError::Rule { message, .. } if message == crate::user::EMAIL_IN_USE)
}

/// Makes `user`'s memberships of the mapped groups those the directory's groups map to (Metabase's group
/// sync): groups no mapping names are left alone, All Users is never touched, Administrators is mapped like
/// any group (and is `is_superuser`), the last active administrator is never removed (a warning instead),
/// and a mapped group that no longer exists is skipped.
fn sync_groups(
    repo: &mut dyn Repo,
    mut user: User,
    config: &LdapConfig,
    groups: &[Dn],
) -> Result<User> {
    let managed: BTreeSet<GroupId> = config
        .group_mappings
        .managed()
        .into_iter()
        .filter(|g| *g != ALL_USERS_ID)
        .collect();
    if managed.is_empty() {
        return Ok(user);
    }
    let wanted: BTreeSet<GroupId> = config
        .group_mappings
        .wanted(groups.iter())
        .into_iter()
        .filter(|g| managed.contains(g))
        .collect();
    let current = repo.memberships_of(&[user.id])?;
    let mut admin_changed = false;
    for m in current
        .iter()
        .filter(|m| managed.contains(&m.group_id) && !wanted.contains(&m.group_id))
    {
        if m.group_id == ADMINISTRATORS_ID {
            if let Err(e) = guard_last_admin(repo, user.is_active) {
                log::warn!(
                    "Attempted to remove the last admin during group sync! Check your SSO group \
                     mappings: {} keeps Administrators ({e})",
                    user.email
                );
                continue;
            }
            user.is_superuser = false;
            admin_changed = true;
        }
        repo.delete_membership(m.id)?;
    }
    let have: BTreeSet<GroupId> = current.iter().map(|m| m.group_id).collect();
    let to_add: Vec<GroupId> = wanted.difference(&have).copied().collect();
    if !to_add.is_empty() {
        let existing = repo.groups_by_ids(&to_add)?;
        for g in to_add {
            if !existing.iter().any(|e| e.id == g) {
                log::warn!("LDAP group sync: group {g} is mapped but does not exist; skipped");
                continue;
            }
            repo.insert_membership(&NewMembership {
                user_id: user.id,
                group_id: g,
                role: GroupRole::Member,
            })?;
            if g == ADMINISTRATORS_ID {
                user.is_superuser = true;
                admin_changed = true;
            }
        }
    }
    if admin_changed {
        repo.update_user(&user)?;
    }
    Ok(user)
}

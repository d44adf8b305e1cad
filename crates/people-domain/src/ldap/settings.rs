//! `PUT /api/ldap/settings` and the connection test: every `ldap-*` key checked first, then the merged
//! settings tried against the directory, then everything saved in one transaction, or nothing.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::config::{GroupMappings, LdapConfig};
use super::directory::{DirectoryError, TestFailure};
use crate::error::{DomainError, Result};
use crate::id::GroupId;
use crate::session::Caller;
use crate::setting::{self, def, mask_secret, EnvRule, Kind, SettingDef};
use crate::store::Repo;

/// Message of a failed connection test when `ldap-enabled` is turned on by itself.
pub const CANNOT_CONNECT: &str = "Unable to connect to LDAP server with current settings";
/// Refusal of a switch given as something other than `true`, `false` or `null`.
pub const NOT_BOOLEAN: &str = "nullable boolean";
/// Refusal of a key that is not an LDAP setting.
pub const UNKNOWN_SETTING: &str = "Unknown LDAP setting.";

/// One checked value of `PUT /api/ldap/settings`.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// Store this text (`None`: back to the default).
    Set(Option<String>),
    /// A secret sent back as it was shown (masked): keep the stored one if the mask is its mask.
    Masked(String),
}

/// `PUT /api/ldap/settings`: the `ldap-*` settings the body gives, each checked; the rest keep their values.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateLdapSettings {
    changes: Vec<(&'static SettingDef, Change)>,
}

impl UpdateLdapSettings {
    /// Reads the body: only `ldap-*` settings people stores (another key: `Unknown LDAP setting.`), each
    /// value checked as its setting says. Every refusal is collected, so that a form shows them all at once.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let mut errors = BTreeMap::new();
        let mut changes = Vec::new();
        for (key, value) in body {
            let Some(d) = def(key).filter(|d| d.key.starts_with("ldap-") && !d.kind.is_derived())
            else {
                errors.insert(key.clone(), UNKNOWN_SETTING.to_string());
                continue;
            };
            // The form sends booleans as booleans; a string here is a client's mistake (Metabase's later
            // schema says the same).
            if d.kind == Kind::Bool && !matches!(value, Value::Bool(_) | Value::Null) {
                errors.insert(key.clone(), NOT_BOOLEAN.to_string());
                continue;
            }
            if d.kind == Kind::Secret {
                if let Value::String(s) = value {
                    if s.starts_with("**********") {
                        changes.push((d, Change::Masked(s.clone())));
                        continue;
                    }
                }
            }
            match setting::normalize(d, value) {
                Ok(stored) => changes.push((d, Change::Set(stored))),
                Err(e) => {
                    errors.insert(key.clone(), field_message(e));
                }
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::Fields {
                message: None,
                errors,
            });
        }
        Ok(UpdateLdapSettings { changes })
    }
}

/// The text of a refusal for the form: a rule's message, or the whole message of another refusal.
fn field_message(e: DomainError) -> String {
    match e {
        DomainError::Rule { message, .. } => message,
        other => other.to_string(),
    }
}

/// Checks that every group a stored or sent `ldap-group-mappings` names exists (`text` is its JSON).
pub(crate) fn check_mapped_groups(repo: &mut dyn Repo, text: &str) -> Result<()> {
    let mappings = GroupMappings::parse_stored(text).unwrap_or_default();
    let ids: Vec<GroupId> = mappings.managed().into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let found = repo.groups_by_ids(&ids)?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|g| g.id == **id)) {
        return Err(DomainError::rule(
            "ldap-group-mappings",
            format!("Group {missing} does not exist."),
        ));
    }
    Ok(())
}

/// Removes `group` from the stored `ldap-group-mappings` (a deleted group: Metabase does this too).
pub(crate) fn forget_group(repo: &mut dyn Repo, group: GroupId) -> Result<()> {
    let Some(text) = repo.setting("ldap-group-mappings")? else {
        return Ok(());
    };
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(&text) else {
        return Ok(());
    };
    let mut changed = false;
    for ids in map.values_mut() {
        if let Value::Array(list) = ids {
            let before = list.len();
            list.retain(|id| id.as_i64() != Some(group.0));
            changed |= list.len() != before;
        }
    }
    if changed {
        repo.put_setting("ldap-group-mappings", Some(&Value::Object(map).to_string()))?;
    }
    Ok(())
}

/// The error a failed connection test is answered with.
fn test_refusal(failure: TestFailure, message: Option<&str>) -> DomainError {
    match failure {
        TestFailure::Fields(errors) => DomainError::Fields {
            message: message.map(str::to_string),
            errors,
        },
        TestFailure::Message(m) => DomainError::Fields {
            message: Some(match message {
                Some(prefix) => format!("{prefix}: {m}"),
                None => m,
            }),
            errors: BTreeMap::new(),
        },
    }
}

impl crate::People {
    /// The LDAP configuration of the settings in `stored` (by key), with the environment and defaults.
    pub(crate) fn ldap_config_of(&self, stored: &HashMap<String, String>) -> LdapConfig {
        LdapConfig::from_values(|key| self.effective(stored, key))
    }

    /// The LDAP configuration as the store has it now.
    pub fn ldap_config(&self) -> Result<LdapConfig> {
        let stored: HashMap<String, String> =
            self.store.read(|r| r.settings())?.into_iter().collect();
        Ok(self.ldap_config_of(&stored))
    }

    /// Tests the saved settings against the directory (turning `ldap-enabled` on by itself).
    pub(crate) fn test_saved_ldap_settings(&self) -> Result<()> {
        let config = self.ldap_config()?;
        self.check_directory(&config)
            .map_err(|e| test_refusal(e.test_failure(), Some(CANNOT_CONNECT)))
    }

    /// The connection test: settings without a host or a user base fail before any network call.
    fn check_directory(&self, config: &LdapConfig) -> std::result::Result<(), DirectoryError> {
        if config.host.is_empty() {
            return Err(DirectoryError::UnknownHost(String::new()));
        }
        if config.user_base.trim().is_empty() {
            return Err(DirectoryError::UserBaseMissing);
        }
        let started = std::time::Instant::now();
        let result = self.directory.check(config);
        log::info!(
            "LDAP connection test against {}:{} took {} ms: {}",
            config.host,
            config.port,
            started.elapsed().as_millis(),
            match &result {
                Ok(()) => "ok".to_string(),
                Err(e) => e.to_string(),
            }
        );
        result
    }

    /// `PUT /api/ldap/settings` (superusers): checks the given settings, tests the connection with them
    /// merged over the stored ones, and saves them all in one transaction. Keys left out keep their values;
    /// a masked password sent back keeps the stored one.
    pub fn update_ldap_settings(&self, caller: &Caller, command: UpdateLdapSettings) -> Result<()> {
        caller.require_superuser()?;
        let mut stored: HashMap<String, String> =
            self.store.read(|r| r.settings())?.into_iter().collect();
        let mut errors = BTreeMap::new();
        let mut writes: Vec<(&'static str, Option<String>)> = Vec::new();
        for (d, change) in command.changes {
            let value = match change {
                Change::Set(v) => v,
                Change::Masked(shown) => {
                    let current = self.effective(&stored, d.key);
                    if current.as_deref().map(mask_secret).as_deref() == Some(shown.as_str()) {
                        continue;
                    }
                    Some(shown)
                }
            };
            if d.env_rule == EnvRule::Overrides {
                if let Some(env) = self.env_override(d) {
                    // A form sends every field back: the variable's own value is no change.
                    let same = value.as_deref() == Some(env)
                        || (d.kind == Kind::Secret && value.as_deref() == Some(&mask_secret(env)));
                    if !same {
                        errors.insert(
                            d.key.to_string(),
                            format!("Set by {}; it cannot be changed here.", d.env_name),
                        );
                    }
                    continue;
                }
            }
            writes.push((d.key, value));
        }
        if !errors.is_empty() {
            return Err(DomainError::Fields {
                message: None,
                errors,
            });
        }
        for (key, value) in &writes {
            match value {
                Some(v) => stored.insert((*key).to_string(), v.clone()),
                None => stored.remove(*key),
            };
        }
        if let Some(text) = stored.get("ldap-group-mappings") {
            self.store.read(|r| check_mapped_groups(r, text))?;
        }
        let config = self.ldap_config_of(&stored);
        self.check_directory(&config)
            .map_err(|e| test_refusal(e.test_failure(), None))?;
        self.store.write(|r| {
            if let Some(text) = stored.get("ldap-group-mappings") {
                // A group deleted since the check must not be mapped.
                check_mapped_groups(r, text)?;
            }
            for (key, value) in &writes {
                r.put_setting(key, value.as_deref())?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<UpdateLdapSettings> {
        UpdateLdapSettings::parse(body.as_object().unwrap())
    }

    fn field_errors(body: Value) -> BTreeMap<String, String> {
        match parse(body) {
            Err(DomainError::Fields { errors, .. }) => errors,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errors = field_errors(json!({
            "ldap-port": -1,
            "ldap-host": "ldap://example.org",
            "site-name": "x",
            "ldap-group-mappings": {"not a dn": [1]},
            "ldap-user-filter": "x".repeat(100 * 1024),
            "ldap-enabled": "true",
            "ldap-configured?": true,
        }));
        assert_eq!(errors["site-name"], UNKNOWN_SETTING);
        assert_eq!(errors["ldap-configured?"], UNKNOWN_SETTING);
        assert_eq!(
            errors["ldap-host"],
            "Invalid hostname, do not add the 'ldap://' or 'ldaps://' prefix"
        );
        assert_eq!(
            errors["ldap-port"],
            "Must be a port number between 1 and 65535."
        );
        assert_eq!(errors["ldap-group-mappings"], "not a dn is not a valid DN.");
        assert_eq!(
            errors["ldap-user-filter"],
            "Must be at most 4096 characters."
        );
        assert_eq!(errors["ldap-enabled"], NOT_BOOLEAN);
        assert_eq!(errors.len(), 7);
    }

    #[test]
    fn good_values_are_normalised() {
        let u = parse(json!({
            "ldap-port": "",
            "ldap-security": "SSL",
            "ldap-host": "[::1]",
            "ldap-group-mappings": "{\"cn=A,dc=x\": [3, 3, 4]}",
            "ldap-password": "**********rd",
            "ldap-timeout-seconds": 2.5,
            "ldap-enabled": true,
        }))
        .unwrap();
        let get = |k: &str| {
            u.changes
                .iter()
                .find(|(d, _)| d.key == k)
                .map(|(_, c)| c.clone())
        };
        assert_eq!(get("ldap-port"), Some(Change::Set(None)));
        assert_eq!(get("ldap-security"), Some(Change::Set(Some("ssl".into()))));
        assert_eq!(get("ldap-host"), Some(Change::Set(Some("[::1]".into()))));
        assert_eq!(
            get("ldap-group-mappings"),
            Some(Change::Set(Some(r#"{"cn=A,dc=x":[3,4]}"#.into())))
        );
        assert_eq!(
            get("ldap-password"),
            Some(Change::Masked("**********rd".into()))
        );
        assert_eq!(
            get("ldap-timeout-seconds"),
            Some(Change::Set(Some("2.5".into())))
        );
        assert_eq!(get("ldap-enabled"), Some(Change::Set(Some("true".into()))));
    }
}

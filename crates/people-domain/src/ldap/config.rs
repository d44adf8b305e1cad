//! `LdapConfig`: the `ldap-*` settings as one typed value, read once per sign-in or connection test.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use super::dn::Dn;
use crate::id::GroupId;

/// How the connection to the directory is protected (`ldap-security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Security {
    /// Plain LDAP (Metabase's default; port 389).
    #[default]
    None,
    /// LDAP over TLS from the first byte (LDAPS, usually port 636).
    Ssl,
    /// Plain LDAP upgraded with the StartTLS extended operation before the bind.
    StartTls,
}

impl Security {
    /// The setting's words, in the order the console offers them.
    pub const WORDS: &'static [&'static str] = &["none", "ssl", "starttls"];

    /// The security a stored `ldap-security` names; anything else is `none`.
    pub fn from_setting(word: &str) -> Self {
        match word {
            "ssl" => Security::Ssl,
            "starttls" => Security::StartTls,
            _ => Security::None,
        }
    }

    /// The setting's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::Ssl => "ssl",
            Security::StartTls => "starttls",
        }
    }
}

/// `ldap-group-mappings`: directory group DNs to people group ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMappings(pub Vec<(Dn, Vec<GroupId>)>);

impl GroupMappings {
    /// Every group id that appears in some mapping: the groups sync manages.
    pub fn managed(&self) -> BTreeSet<GroupId> {
        self.0
            .iter()
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect()
    }

    /// The ids mapped from any of `groups` (DNs compared as [`Dn`] says), united.
    pub fn wanted<'a>(&self, groups: impl IntoIterator<Item = &'a Dn>) -> BTreeSet<GroupId> {
        let groups: Vec<&Dn> = groups.into_iter().collect();
        self.0
            .iter()
            .filter(|(dn, _)| groups.contains(&dn))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect()
    }
}

/// Everything the directory client and the sign-in need to know, from the effective `ldap-*` settings.
#[derive(Clone, PartialEq)]
pub struct LdapConfig {
    /// `ldap-enabled`.
    pub enabled: bool,
    /// `ldap-host`: a host name or IP address (an IPv6 literal with or without brackets).
    pub host: String,
    /// `ldap-port` (389 by default).
    pub port: u16,
    /// `ldap-security`.
    pub security: Security,
    /// `ldap-bind-dn`; `None` binds anonymously.
    pub bind_dn: Option<String>,
    /// `ldap-password`.
    pub password: Option<String>,
    /// `ldap-user-base`.
    pub user_base: String,
    /// `ldap-user-filter`, with `{login}` placeholders.
    pub user_filter: String,
    /// `ldap-attribute-email`, lower-cased.
    pub attribute_email: String,
    /// `ldap-attribute-firstname`, lower-cased.
    pub attribute_firstname: String,
    /// `ldap-attribute-lastname`, lower-cased.
    pub attribute_lastname: String,
    /// `ldap-group-sync`.
    pub group_sync: bool,
    /// `ldap-group-base`.
    pub group_base: Option<String>,
    /// `ldap-group-mappings`.
    pub group_mappings: GroupMappings,
    /// `ldap-group-membership-filter`, with `{dn}` and `{uid}` placeholders.
    pub group_membership_filter: String,
    /// `ldap-sync-user-attributes`.
    pub sync_user_attributes: bool,
    /// `ldap-sync-user-attributes-blacklist`, lower-cased.
    pub attribute_blacklist: Vec<String>,
    /// `ldap-user-provisioning-enabled?`.
    pub provisioning: bool,
    /// `ldap-timeout-seconds`: the most one directory call may take.
    pub timeout: Duration,
}

impl fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfig")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("bind_dn", &self.bind_dn)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("user_base", &self.user_base)
            .field("user_filter", &self.user_filter)
            .field("group_sync", &self.group_sync)
            .field("group_base", &self.group_base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Metabase's default user filter: people by `uid` or `mail`.
pub const DEFAULT_USER_FILTER: &str =
    "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))";
/// Metabase's default group membership filter.
pub const DEFAULT_MEMBERSHIP_FILTER: &str = "(member={dn})";
/// The default port of plain LDAP.
pub const DEFAULT_PORT: u16 = 389;
/// Default of `ldap-timeout-seconds`.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 15.0;

impl LdapConfig {
    /// The configuration given by effective setting values (`value(key)` is the stored value, else the
    /// environment's, else the default). Values were checked when stored; anything unreadable falls back
    /// to its default.
    pub fn from_values(value: impl Fn(&str) -> Option<String>) -> Self {
        let text = |key: &str| value(key).filter(|v| !v.trim().is_empty());
        let flag = |key: &str, default: bool| {
            value(key).map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
        };
        let lower = |key: &str, default: &str| {
            text(key)
                .unwrap_or_else(|| default.to_string())
                .trim()
                .to_lowercase()
        };
        let group_mappings = text("ldap-group-mappings")
            .and_then(|raw| GroupMappings::parse_stored(&raw))
            .unwrap_or_default();
        let timeout = value("ldap-timeout-seconds")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        LdapConfig {
            enabled: flag("ldap-enabled", false),
            host: text("ldap-host").unwrap_or_default().trim().to_string(),
            port: value("ldap-port")
                .and_then(|p| p.trim().parse::<u16>().ok())
                .filter(|p| *p > 0)
                .unwrap_or(DEFAULT_PORT),
            security: Security::from_setting(&lower("ldap-security", "none")),
            bind_dn: text("ldap-bind-dn"),
            password: value("ldap-password").filter(|p| !p.is_empty()),
            user_base: text("ldap-user-base").unwrap_or_default(),
            user_filter: text("ldap-user-filter")
                .unwrap_or_else(|| DEFAULT_USER_FILTER.to_string()),
            attribute_email: lower("ldap-attribute-email", "mail"),
            attribute_firstname: lower("ldap-attribute-firstname", "givenName"),
            attribute_lastname: lower("ldap-attribute-lastname", "sn"),
            group_sync: flag("ldap-group-sync", false),
            group_base: text("ldap-group-base"),
            group_mappings,
            group_membership_filter: text("ldap-group-membership-filter")
                .unwrap_or_else(|| DEFAULT_MEMBERSHIP_FILTER.to_string()),
            sync_user_attributes: flag("ldap-sync-user-attributes", true),
            attribute_blacklist: lower(
                "ldap-sync-user-attributes-blacklist",
                "userPassword,dn,distinguishedName",
            )
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
            provisioning: flag("ldap-user-provisioning-enabled?", true),
            timeout: Duration::from_secs_f64(timeout.min(3600.0)),
        }
    }

    /// The configuration of a settings map (effective values by key).
    pub fn from_map(values: &HashMap<String, String>) -> Self {
        Self::from_values(|k| values.get(k).cloned())
    }

    /// `ldap-configured?`: a host and a user base are set.
    pub fn is_configured(&self) -> bool {
        !self.host.is_empty() && !self.user_base.trim().is_empty()
    }
}

/// Most mappings `ldap-group-mappings` holds.
pub const MAX_MAPPINGS: usize = 1000;

impl GroupMappings {
    /// Checks a value sent for `ldap-group-mappings` (an object, or a string holding one, of DNs to arrays
    /// of group ids) and returns the JSON text to store; the refusal names what is wrong. Whether the groups
    /// exist is the use case's to check.
    pub fn normalize(value: &serde_json::Value) -> Result<String, String> {
        use serde_json::Value;
        let parsed;
        let object = match value {
            Value::Object(m) => m,
            Value::String(s) => {
                parsed = serde_json::from_str::<Value>(s).map_err(|_| {
                    "Must be a JSON object of group DNs to arrays of group ids.".to_string()
                })?;
                parsed.as_object().ok_or_else(|| {
                    "Must be a JSON object of group DNs to arrays of group ids.".to_string()
                })?
            }
            _ => {
                return Err("Must be a JSON object of group DNs to arrays of group ids.".to_string())
            }
        };
        if object.len() > MAX_MAPPINGS {
            return Err(format!("At most {MAX_MAPPINGS} group mappings."));
        }
        let mut out = serde_json::Map::new();
        for (key, ids) in object {
            Dn::parse(key).map_err(|e| e.to_string())?;
            let bad = || format!("The groups of {key} must be an array of group ids.");
            let ids = ids.as_array().ok_or_else(bad)?;
            let mut clean: Vec<i64> = Vec::with_capacity(ids.len());
            for id in ids {
                let id = id.as_i64().filter(|i| *i > 0).ok_or_else(bad)?;
                if !clean.contains(&id) {
                    clean.push(id);
                }
            }
            out.insert(
                key.trim().to_string(),
                Value::Array(clean.into_iter().map(Value::from).collect()),
            );
        }
        Ok(Value::Object(out).to_string())
    }

    /// Reads a stored `ldap-group-mappings` (a JSON object of DNs to arrays of ids); `None` when it is not
    /// one. Keys that are not DNs and ids that are not whole numbers are skipped.
    pub fn parse_stored(raw: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(raw).ok()?;
        let map = value.as_object()?;
        Some(GroupMappings(
            map.iter()
                .filter_map(|(k, v)| {
                    let dn = Dn::parse(k).ok()?;
                    let ids = v
                        .as_array()?
                        .iter()
                        .filter_map(|id| id.as_i64())
                        .map(GroupId)
                        .collect();
                    Some((dn, ids))
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_any_setting() {
        let c = LdapConfig::from_values(|_| None);
        assert!(!c.enabled && !c.is_configured());
        assert_eq!(c.port, 389);
        assert_eq!(c.security, Security::None);
        assert_eq!(c.user_filter, DEFAULT_USER_FILTER);
        assert_eq!(c.attribute_firstname, "givenname");
        assert_eq!(
            c.attribute_blacklist,
            ["userpassword", "dn", "distinguishedname"]
        );
        assert_eq!(c.timeout, Duration::from_secs(15));
        assert!(c.sync_user_attributes && c.provisioning && !c.group_sync);
    }

    #[test]
    fn mappings_compare_dns_normalised_and_unite_ids() {
        let m = GroupMappings::parse_stored(
            r#"{"cn=accounting,ou=groups,dc=metabase,dc=com": [3, 4],
                "CN=Accounting , OU=Groups,DC=metabase,DC=com": [5],
                "cn=other,dc=x": [6]}"#,
        )
        .unwrap();
        let user_groups = [Dn::parse("CN=Accounting,OU=Groups,DC=metabase,DC=com").unwrap()];
        assert_eq!(
            m.wanted(user_groups.iter()),
            BTreeSet::from([GroupId(3), GroupId(4), GroupId(5)])
        );
        assert_eq!(m.managed().len(), 4);
        let debug = format!(
            "{:?}",
            LdapConfig::from_values(|k| (k == "ldap-password").then(|| "s3cret".to_string()))
        );
        assert!(!debug.contains("s3cret"));
    }
}

//! Settings people owns: their keys, defaults, environment names and validation. Values are stored
//! as text in the `setting` table; a stored value wins over the environment, which wins over the built-in
//! default.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::validate;

/// Key under which the setup token is stored (not exposed by the settings API).
pub const SETUP_TOKEN_KEY: &str = "setup-token";

/// How a setting's value is checked and rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any non-blank string.
    Text,
    /// An http(s) URL; a trailing slash is dropped.
    Url,
    /// A locale, normalised.
    Locale,
    /// An email address, lower-cased.
    Email,
    /// One of a fixed set of lower-case words.
    Choice(&'static [&'static str]),
    /// A whole number, zero or more (up to the largest 64-bit integer).
    NonNegativeInt,
    /// A boolean that cannot be changed.
    ReadOnlyBool,
    /// `true` or `false` (a JSON boolean, or the same word as a string).
    Bool,
    /// A value people computes from other settings (`scim-base-url` from `site-url`): never stored, not
    /// taken from the environment, and so read-only.
    Derived,
    /// A boolean people computes from other settings (`ldap-configured?`): read-only like [`Kind::Derived`].
    DerivedFlag,
    /// A string of at most this many characters (an LDAP filter or attribute name); blank is the default.
    BoundedText(usize),
    /// A host name or IP address, without a scheme.
    Host,
    /// A TCP port, 1 to 65535; an empty string is the default.
    Port,
    /// A distinguished name (RFC 4514).
    Dn,
    /// A secret (`ldap-password`): stored as given, always shown masked.
    Secret,
    /// `ldap-group-mappings`: a JSON object of DNs to arrays of group ids.
    GroupMappings,
    /// A number of seconds greater than zero, at most an hour (fractions allowed).
    Seconds,
}

/// Where a setting's environment variable stands against a value stored through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvRule {
    /// The variable only gives the default: a stored value wins (people's general rule).
    Default,
    /// The variable wins and the setting cannot be changed through the API (Metabase's rule for the
    /// `ldap-*` settings).
    Overrides,
}

impl Kind {
    /// Whether the settings API refuses every change to a setting of this kind (and the environment gives
    /// it nothing).
    pub fn is_read_only(self) -> bool {
        matches!(self, Kind::ReadOnlyBool | Kind::Derived | Kind::DerivedFlag)
    }

    /// Whether the value is computed rather than stored.
    pub fn is_derived(self) -> bool {
        matches!(self, Kind::Derived | Kind::DerivedFlag)
    }
}

/// One setting people owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingDef {
    /// Key (`site-name`).
    pub key: &'static str,
    /// Environment variable giving the default (`MB_SITE_NAME`).
    pub env_name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Value type.
    pub kind: Kind,
    /// Built-in default, as stored text; `None` for no default.
    pub default: Option<&'static str>,
    /// Whether the environment variable gives the default or overrides the setting.
    pub env_rule: EnvRule,
}

impl SettingDef {
    /// An `ldap-*` setting: its environment variable wins and makes it read-only.
    const fn ldap(
        key: &'static str,
        env_name: &'static str,
        description: &'static str,
        kind: Kind,
        default: Option<&'static str>,
    ) -> Self {
        SettingDef {
            key,
            env_name,
            description,
            kind,
            default,
            env_rule: EnvRule::Overrides,
        }
    }
}

/// Allowed values of `user-visibility`.
pub const USER_VISIBILITY: &[&str] = &["all", "group", "none"];
/// Allowed values of `session-cookie-samesite`.
pub const SAMESITE: &[&str] = &["lax", "strict", "none"];

/// Longest LDAP filter or attribute list people stores.
pub const LDAP_TEXT_LIMIT: usize = 4096;
/// Longest LDAP attribute name people stores.
pub const LDAP_NAME_LIMIT: usize = 256;

/// Every setting people owns.
pub const SETTINGS: &[SettingDef] = &[
    SettingDef {
        key: "site-name",
        env_name: "MB_SITE_NAME",
        description: "The name used for this instance of people.",
        kind: Kind::Text,
        default: Some("people"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "site-url",
        env_name: "MB_SITE_URL",
        description: "The base URL of this instance, used in the links of emails.",
        kind: Kind::Url,
        default: Some("http://localhost:3000"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "site-locale",
        env_name: "MB_SITE_LOCALE",
        description: "The default language for this instance.",
        kind: Kind::Locale,
        default: Some("en"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "admin-email",
        env_name: "MB_ADMIN_EMAIL",
        description: "The email address users should be referred to if they encounter a problem.",
        kind: Kind::Email,
        default: None,
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "user-visibility",
        env_name: "MB_USER_VISIBILITY",
        description: "Which users a person may pick as recipients: all, group or none.",
        kind: Kind::Choice(USER_VISIBILITY),
        default: Some("all"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "reset-token-ttl-hours",
        env_name: "MB_RESET_TOKEN_TTL_HOURS",
        description: "Number of hours a password reset is considered valid.",
        kind: Kind::NonNegativeInt,
        default: Some("48"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "session-cookie-samesite",
        env_name: "MB_SESSION_COOKIE_SAMESITE",
        description: "Value for the session cookie's SameSite directive: lax, strict or none.",
        kind: Kind::Choice(SAMESITE),
        default: Some("lax"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "enable-password-login",
        env_name: "MB_ENABLE_PASSWORD_LOGIN",
        description: "Allow logging in by email and password (always on in people).",
        kind: Kind::ReadOnlyBool,
        default: Some("true"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "application-name",
        env_name: "MB_APPLICATION_NAME",
        description: "The name of the application, used in the subjects of emails.",
        kind: Kind::Text,
        default: Some("Metabase"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "scim-enabled",
        env_name: "MB_SCIM_ENABLED",
        description: "Whether identity providers may provision people and groups through SCIM \
            (/api/ee/scim/v2) with the SCIM token.",
        kind: Kind::Bool,
        default: Some("false"),
        env_rule: EnvRule::Default,
    },
    SettingDef {
        key: "scim-base-url",
        env_name: "MB_SCIM_BASE_URL",
        description:
            "The URL identity providers use for SCIM provisioning: the site URL followed by \
            /api/ee/scim/v2. It follows site-url and cannot be set.",
        kind: Kind::Derived,
        default: None,
        env_rule: EnvRule::Default,
    },
    SettingDef::ldap(
        "ldap-enabled",
        "MB_LDAP_ENABLED",
        "Allow users to sign in with their LDAP directory password (the settings are tested first).",
        Kind::Bool,
        Some("false"),
    ),
    SettingDef::ldap(
        "ldap-host",
        "MB_LDAP_HOST",
        "Server hostname, without ldap:// or ldaps://.",
        Kind::Host,
        None,
    ),
    SettingDef::ldap(
        "ldap-port",
        "MB_LDAP_PORT",
        "Server port, usually 389 or 636 if SSL is used.",
        Kind::Port,
        Some("389"),
    ),
    SettingDef::ldap(
        "ldap-security",
        "MB_LDAP_SECURITY",
        "Use SSL, TLS or plain text: none, ssl or starttls.",
        Kind::Choice(crate::ldap::Security::WORDS),
        Some("none"),
    ),
    SettingDef::ldap(
        "ldap-bind-dn",
        "MB_LDAP_BIND_DN",
        "The Distinguished Name to bind as (if any); this user will be used to look up information about \
            other users.",
        Kind::Dn,
        None,
    ),
    SettingDef::ldap(
        "ldap-password",
        "MB_LDAP_PASSWORD",
        "The password to bind with for the lookup user.",
        Kind::Secret,
        None,
    ),
    SettingDef::ldap(
        "ldap-user-base",
        "MB_LDAP_USER_BASE",
        "Search base for users (will be searched recursively).",
        Kind::Dn,
        None,
    ),
    SettingDef::ldap(
        "ldap-user-filter",
        "MB_LDAP_USER_FILTER",
        "User lookup filter. The placeholder {login} is replaced by the user supplied login.",
        Kind::BoundedText(LDAP_TEXT_LIMIT),
        Some(crate::ldap::DEFAULT_USER_FILTER),
    ),
    SettingDef::ldap(
        "ldap-attribute-email",
        "MB_LDAP_ATTRIBUTE_EMAIL",
        "Attribute to use for the user's email (usually 'mail', 'email' or 'userPrincipalName').",
        Kind::BoundedText(LDAP_NAME_LIMIT),
        Some("mail"),
    ),
    SettingDef::ldap(
        "ldap-attribute-firstname",
        "MB_LDAP_ATTRIBUTE_FIRSTNAME",
        "Attribute to use for the user's first name.",
        Kind::BoundedText(LDAP_NAME_LIMIT),
        Some("givenName"),
    ),
    SettingDef::ldap(
        "ldap-attribute-lastname",
        "MB_LDAP_ATTRIBUTE_LASTNAME",
        "Attribute to use for the user's last name.",
        Kind::BoundedText(LDAP_NAME_LIMIT),
        Some("sn"),
    ),
    SettingDef::ldap(
        "ldap-group-sync",
        "MB_LDAP_GROUP_SYNC",
        "Enable group membership synchronization with LDAP.",
        Kind::Bool,
        Some("false"),
    ),
    SettingDef::ldap(
        "ldap-group-base",
        "MB_LDAP_GROUP_BASE",
        "Search base for groups. Not required for LDAP directories that provide a 'memberOf' overlay, such \
            as Active Directory.",
        Kind::Dn,
        None,
    ),
    SettingDef::ldap(
        "ldap-group-mappings",
        "MB_LDAP_GROUP_MAPPINGS",
        "JSON containing LDAP to people group mappings: group DNs to arrays of group ids.",
        Kind::GroupMappings,
        Some("{}"),
    ),
    SettingDef::ldap(
        "ldap-group-membership-filter",
        "MB_LDAP_GROUP_MEMBERSHIP_FILTER",
        "Group membership lookup filter. The placeholders {dn} and {uid} will be replaced by the user's \
            Distinguished Name and UID, respectively.",
        Kind::BoundedText(LDAP_TEXT_LIMIT),
        Some(crate::ldap::DEFAULT_MEMBERSHIP_FILTER),
    ),
    SettingDef::ldap(
        "ldap-sync-user-attributes",
        "MB_LDAP_SYNC_USER_ATTRIBUTES",
        "Sync user attributes when someone logs in via LDAP.",
        Kind::Bool,
        Some("true"),
    ),
    SettingDef::ldap(
        "ldap-sync-user-attributes-blacklist",
        "MB_LDAP_SYNC_USER_ATTRIBUTES_BLACKLIST",
        "Comma-separated list of user attributes to skip syncing for LDAP users.",
        Kind::BoundedText(LDAP_TEXT_LIMIT),
        Some("userPassword,dn,distinguishedName"),
    ),
    SettingDef::ldap(
        "ldap-user-provisioning-enabled?",
        "MB_LDAP_USER_PROVISIONING_ENABLED",
        "When a user logs in via LDAP, create a people account for them automatically if they don't have \
            one.",
        Kind::Bool,
        Some("true"),
    ),
    SettingDef::ldap(
        "ldap-timeout-seconds",
        "MB_LDAP_TIMEOUT_SECONDS",
        "Timeout in seconds for LDAP operations; a sign-in falls back to the local password when the \
            directory does not answer in time.",
        Kind::Seconds,
        Some("15.0"),
    ),
    SettingDef::ldap(
        "ldap-configured?",
        "MB_LDAP_CONFIGURED",
        "Have the mandatory LDAP settings (host and user search base) been configured? It cannot be set.",
        Kind::DerivedFlag,
        None,
    ),
];

/// The definition of `key`, if people owns such a setting.
pub fn def(key: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|d| d.key == key)
}

/// Defaults taken from the environment at start-up, by setting key. Built by the server; the domain reads no
/// environment itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvDefaults(HashMap<&'static str, String>);

/// A setting's environment variable whose value cannot be used: which variable, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct EnvDefaultError {
    /// The environment variable (`MB_USER_VISIBILITY`).
    pub variable: &'static str,
    /// What is wrong with its value.
    pub problem: EnvDefaultProblem,
}

/// What is wrong with a setting's environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvDefaultProblem {
    /// The setting does not accept this value (the checks of `PUT /api/setting/:key` apply).
    #[error("invalid value {0:?}")]
    Invalid(String),
}

impl EnvDefaults {
    /// Reads each setting's environment variable through `lookup` and keeps the valid ones; an invalid value
    /// is an error naming the variable.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Self, EnvDefaultError> {
        let mut map = HashMap::new();
        for d in SETTINGS {
            if let Some(raw) = lookup(d.env_name) {
                if d.kind.is_read_only() {
                    continue;
                }
                let value =
                    normalize(d, &Value::String(raw.clone())).map_err(|_| EnvDefaultError {
                        variable: d.env_name,
                        problem: EnvDefaultProblem::Invalid(raw),
                    })?;
                if let Some(v) = value {
                    map.insert(d.key, v);
                }
            }
        }
        Ok(EnvDefaults(map))
    }

    /// The environment's value for `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The default of `def`: environment first, then built in.
    pub fn default_of(&self, def: &SettingDef) -> Option<String> {
        self.get(def.key)
            .map(str::to_string)
            .or_else(|| def.default.map(str::to_string))
    }
}

fn bad_value(def: &SettingDef) -> DomainError {
    let expected = match def.kind {
        Kind::Text => "a non-blank string".to_string(),
        Kind::Url => "an http or https URL".to_string(),
        Kind::Locale => {
            "a two-letter ISO language or language-country code e.g. 'en' or 'en_US'".to_string()
        }
        Kind::Email => "a valid email address".to_string(),
        Kind::Choice(c) => format!("one of {}", c.join(", ")),
        Kind::NonNegativeInt => "an integer greater than or equal to zero".to_string(),
        Kind::ReadOnlyBool | Kind::Derived | Kind::DerivedFlag => "unchanged".to_string(),
        Kind::Bool => "true or false".to_string(),
        Kind::BoundedText(n) => format!("a string of at most {n} characters"),
        Kind::Host => "a host name without ldap:// or ldaps://".to_string(),
        Kind::Port => "a port number between 1 and 65535".to_string(),
        Kind::Dn => "a distinguished name".to_string(),
        Kind::Secret => "a string".to_string(),
        Kind::GroupMappings => "an object of group DNs to arrays of group ids".to_string(),
        Kind::Seconds => "a number of seconds greater than 0 and at most 3600".to_string(),
    };
    DomainError::Disallowed(format!(
        "Invalid value for setting {}: must be {expected}.",
        def.key
    ))
}

/// Checks a value sent for `def` and returns the text to store (`None` = reset to the default). A read-only
/// setting or a bad value is refused with a message naming the setting.
pub fn normalize(def: &SettingDef, value: &Value) -> Result<Option<String>> {
    if def.kind.is_read_only() {
        return Err(DomainError::Disallowed(format!(
            "Setting {} is read-only.",
            def.key
        )));
    }
    if let Some(stored) = normalize_ldap(def, value)? {
        return Ok(stored);
    }
    let text = match value {
        Value::Null => return Ok(None),
        Value::Bool(b) if def.kind == Kind::Bool => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) if def.kind == Kind::NonNegativeInt => n.to_string(),
        _ => return Err(bad_value(def)),
    };
    let stored = match def.kind {
        Kind::Text => validate::is_non_blank(&text).then_some(text),
        Kind::Url => {
            let t = text.trim().trim_end_matches('/');
            let lower = t.to_ascii_lowercase();
            let ok = (lower.starts_with("http://") || lower.starts_with("https://"))
                && t.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
                && !t.chars().any(char::is_whitespace);
            ok.then(|| t.to_string())
        }
        Kind::Locale => crate::locale::parse(&text),
        Kind::Email => validate::is_email(&text).then(|| text.to_lowercase()),
        Kind::Choice(options) => {
            let l = text.to_ascii_lowercase();
            options.contains(&l.as_str()).then_some(l)
        }
        Kind::NonNegativeInt => {
            let t = text.trim();
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<i64>().ok())
                .flatten()
                .map(|i| i.to_string())
        }
        Kind::ReadOnlyBool | Kind::Derived | Kind::DerivedFlag => None,
        Kind::BoundedText(_)
        | Kind::Host
        | Kind::Port
        | Kind::Dn
        | Kind::Secret
        | Kind::GroupMappings
        | Kind::Seconds => None,
        Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some("true".to_string()),
            "false" => Some("false".to_string()),
            _ => None,
        },
    };
    stored.map(Some).ok_or_else(|| bad_value(def))
}

/// Checks a value for the kinds the `ldap-*` settings use: `Ok(None)` when `def` is of another kind,
/// `Ok(Some(stored))` with the text to store (`None` for the default). Each refusal is the message the LDAP
/// settings page shows next to the field.
fn normalize_ldap(def: &SettingDef, value: &Value) -> Result<Option<Option<String>>> {
    let ldap_kind = matches!(
        def.kind,
        Kind::BoundedText(_)
            | Kind::Host
            | Kind::Port
            | Kind::Dn
            | Kind::Secret
            | Kind::GroupMappings
            | Kind::Seconds
    );
    if !ldap_kind {
        return Ok(None);
    }
    // Null or a blank string returns to the default (a form sends empty fields as "").
    match value {
        Value::Null => return Ok(Some(None)),
        Value::String(s) if s.trim().is_empty() => return Ok(Some(None)),
        _ => {}
    }
    let refuse = |message: String| Err(DomainError::rule(def.key, message));
    let text = || match value {
        Value::String(s) => Ok(s.trim().to_string()),
        _ => Err(bad_value(def)),
    };
    let stored = match def.kind {
        Kind::BoundedText(limit) => {
            let t = text()?;
            if t.chars().count() > limit {
                return refuse(format!("Must be at most {limit} characters."));
            }
            t
        }
        Kind::Host => {
            let t = text()?;
            if t.contains("://") {
                return refuse(
                    "Invalid hostname, do not add the 'ldap://' or 'ldaps://' prefix".to_string(),
                );
            }
            let inner = t
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(&t);
            let ok = t.len() <= 255
                && !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
                && (!inner.contains(':') || inner.parse::<std::net::Ipv6Addr>().is_ok());
            if !ok {
                return refuse("Invalid hostname".to_string());
            }
            t
        }
        Kind::Port => {
            let port = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match port {
                Some(p) if (1..=65535).contains(&p) => p.to_string(),
                _ => return refuse("Must be a port number between 1 and 65535.".to_string()),
            }
        }
        Kind::Dn => {
            let t = text()?;
            if t.chars().count() > LDAP_TEXT_LIMIT || crate::ldap::Dn::parse(&t).is_err() {
                return refuse(
                    match def.key {
                        "ldap-bind-dn" => "Invalid bind DN",
                        "ldap-user-base" => "User search base is not a valid DN",
                        "ldap-group-base" => "Group search base is not a valid DN",
                        _ => "Not a valid DN",
                    }
                    .to_string(),
                );
            }
            t
        }
        // A secret is kept exactly as given (spaces are characters of a password).
        Kind::Secret => match value {
            Value::String(s) if s.chars().count() <= LDAP_TEXT_LIMIT => s.clone(),
            Value::String(_) => {
                return refuse(format!("Must be at most {LDAP_TEXT_LIMIT} characters."))
            }
            _ => return Err(bad_value(def)),
        },
        Kind::GroupMappings => crate::ldap::GroupMappings::normalize(value)
            .map_err(|m| DomainError::rule(def.key, m))?,
        Kind::Seconds => {
            let secs = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match secs {
                Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Value::from(s).to_string(),
                _ => {
                    return refuse(
                        "Must be a number of seconds greater than 0 and at most 3600.".to_string(),
                    )
                }
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Some(stored)))
}

/// What `ldap-password` and other secrets look like outside the database: ten asterisks and the last two
/// characters (Metabase's obfuscation), so that an administrator can tell which secret is set.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
    format!("**********{tail}")
}

/// Renders stored text as the setting's JSON value (numbers and booleans as JSON, secrets masked, the rest
/// as strings).
pub fn render(def: &SettingDef, stored: Option<&str>) -> Value {
    match (def.kind, stored) {
        (_, None) => Value::Null,
        (Kind::Port, Some(s)) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.to_string())),
        (Kind::Seconds, Some(s)) => s
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.to_string())),
        (Kind::Secret, Some(s)) => Value::String(mask_secret(s)),
        (Kind::GroupMappings, Some(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::Object(Map::new()))
        }
        (Kind::DerivedFlag, Some(s)) => Value::Bool(s == "true"),
        (Kind::NonNegativeInt, Some(s)) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.to_string())),
        (Kind::ReadOnlyBool | Kind::Bool, Some(s)) => Value::Bool(s == "true"),
        (_, Some(s)) => Value::String(s.to_string()),
    }
}

// ----- use cases -----

/// The version people reports (`{"tag": "v…"}` in the properties).
pub const VERSION_TAG: &str = concat!("v", env!("CARGO_PKG_VERSION"));

impl crate::People {
    /// The effective value of `key` given the stored settings: stored, else the environment, else built in.
    pub(crate) fn effective(&self, stored: &HashMap<String, String>, key: &str) -> Option<String> {
        if let Some(v) = def(key).and_then(|d| self.env_override(d)) {
            return Some(v.to_string());
        }
        stored
            .get(key)
            .cloned()
            .or_else(|| def(key).and_then(|d| self.config.settings.default_of(d)))
    }

    /// The environment's value of a setting whose variable overrides it ([`EnvRule::Overrides`]), if set.
    pub(crate) fn env_override(&self, d: &SettingDef) -> Option<&str> {
        match d.env_rule {
            EnvRule::Overrides => self.config.settings.get(d.key),
            EnvRule::Default => None,
        }
    }

    /// Refuses to change a setting its environment variable overrides.
    fn check_not_overridden(&self, d: &SettingDef) -> Result<()> {
        if self.env_override(d).is_some() {
            return Err(DomainError::Disallowed(format!(
                "Setting {} is set by the environment variable {} and cannot be changed.",
                d.key, d.env_name
            )));
        }
        Ok(())
    }

    /// The effective value of one setting, read from the store.
    pub(crate) fn setting_value(
        &self,
        repo: &mut dyn crate::store::Repo,
        key: &str,
    ) -> Result<Option<String>> {
        if let Some(v) = def(key).and_then(|d| self.env_override(d)) {
            return Ok(Some(v.to_string()));
        }
        Ok(match repo.setting(key)? {
            Some(v) => Some(v),
            None => def(key).and_then(|d| self.config.settings.default_of(d)),
        })
    }

    /// The effective `site-url` (stored, else the environment, else built in), without a trailing slash: the
    /// base of links in emails and an origin the API accepts cookie-authenticated requests from.
    pub fn site_url(&self) -> Result<String> {
        Ok(self
            .store
            .read(|r| self.setting_value(r, "site-url"))?
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string())
    }

    /// Generates the setup token if no user exists and none is stored yet; returns the current token (`None`
    /// once a user exists). The token survives restarts because it lives in the database.
    pub fn ensure_setup_token(&self) -> Result<Option<String>> {
        self.store.write(|r| {
            if r.count_users(1)? > 0 {
                return Ok(None);
            }
            if let Some(t) = r.setting(SETUP_TOKEN_KEY)? {
                return Ok(Some(t));
            }
            let token = uuid::Uuid::new_v4().to_string();
            r.insert_setting_if_absent(SETUP_TOKEN_KEY, &token)?;
            r.setting(SETUP_TOKEN_KEY)
        })
    }

    /// `GET /api/session/properties`: the public settings, plus `user-visibility` for a signed-in caller.
    pub fn properties(
        &self,
        caller: Option<&crate::session::Caller>,
    ) -> Result<Map<String, Value>> {
        let (stored, users) = self.store.read(|r| {
            let stored: HashMap<String, String> = r.settings()?.into_iter().collect();
            Ok((stored, r.count_users(1)?))
        })?;
        let setup_token = if users > 0 {
            None
        } else {
            match stored.get(SETUP_TOKEN_KEY) {
                Some(t) => Some(t.clone()),
                None => self.ensure_setup_token()?,
            }
        };
        let text = |key: &str| {
            def(key)
                .map(|d| render(d, self.effective(&stored, key).as_deref()))
                .unwrap_or(Value::Null)
        };
        let mut p = Map::new();
        p.insert(
            "setup-token".into(),
            setup_token.map(Value::String).unwrap_or(Value::Null),
        );
        p.insert("has-user-setup".into(), Value::Bool(users > 0));
        p.insert(
            "password-complexity".into(),
            self.config.password_policy.describe(),
        );
        for key in [
            "site-name",
            "site-url",
            "site-locale",
            "application-name",
            "enable-password-login",
        ] {
            p.insert(key.into(), text(key));
        }
        p.insert(
            "session-cookies".into(),
            Value::Bool(self.config.session_cookies),
        );
        p.insert(
            "email-configured?".into(),
            Value::Bool(self.config.email_configured),
        );
        p.insert("ldap-enabled".into(), text("ldap-enabled"));
        p.insert(
            "ldap-configured?".into(),
            Value::Bool(self.ldap_config_of(&stored).is_configured()),
        );
        p.insert("version".into(), serde_json::json!({ "tag": VERSION_TAG }));
        if caller.is_some() {
            p.insert("user-visibility".into(), text("user-visibility"));
        }
        Ok(p)
    }
}

/// A setting's new value as a client gives it: a string, a number or a boolean, whichever the setting takes
/// (checked when stored), or the default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingValue(Value);

impl SettingValue {
    /// Returns the setting to its default (JSON `null`).
    pub fn default_value() -> Self {
        SettingValue(Value::Null)
    }

    /// A text value.
    pub fn text(value: impl Into<String>) -> Self {
        SettingValue(Value::String(value.into()))
    }

    /// A whole number.
    pub fn integer(value: i64) -> Self {
        SettingValue(Value::from(value))
    }

    /// A boolean.
    pub fn boolean(value: bool) -> Self {
        SettingValue(Value::Bool(value))
    }
}

/// `PUT /api/setting/:key`: the new value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PutSetting {
    /// What to store.
    pub value: SettingValue,
}

impl PutSetting {
    /// Reads `{"value": …}`; an absent value is `null`, the default. Whether the value suits the setting is
    /// the use case's to say, after the caller's rights are checked.
    pub fn parse(body: &Map<String, Value>) -> Self {
        PutSetting {
            value: SettingValue(body.get("value").cloned().unwrap_or(Value::Null)),
        }
    }
}

/// One entry of `GET /api/setting`.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingInfo {
    /// Key.
    pub key: &'static str,
    /// The value stored through the API (`null` when the default applies, and always for a derived setting).
    pub value: Value,
    /// What it is for.
    pub description: &'static str,
    /// The value that applies without a stored one (environment, else built in; for a derived setting, the
    /// value computed now).
    pub default: Value,
    /// The environment variable that sets the default.
    pub env_name: &'static str,
    /// The environment variable overrides the setting, which cannot be changed through the API.
    pub is_env_setting: bool,
}

impl crate::People {
    /// `GET /api/setting`: every setting people owns (superusers only).
    pub fn list_settings(&self, caller: &crate::session::Caller) -> Result<Vec<SettingInfo>> {
        caller.require_superuser()?;
        let stored: HashMap<String, String> =
            self.store.read(|r| r.settings())?.into_iter().collect();
        SETTINGS
            .iter()
            .map(|d| {
                let (value, default) = if d.kind.is_derived() {
                    (
                        Value::Null,
                        render(d, self.derived_value(d, &stored)?.as_deref()),
                    )
                } else if let Some(env) = self.env_override(d) {
                    (render(d, Some(env)), render(d, Some(env)))
                } else {
                    (
                        render(d, stored.get(d.key).map(String::as_str)),
                        render(d, self.config.settings.default_of(d).as_deref()),
                    )
                };
                Ok(SettingInfo {
                    key: d.key,
                    value,
                    description: d.description,
                    default,
                    env_name: d.env_name,
                    is_env_setting: self.env_override(d).is_some(),
                })
            })
            .collect()
    }

    /// `GET /api/setting/:key`: the value that applies (superusers only; unknown key 404).
    pub fn get_setting(&self, caller: &crate::session::Caller, key: &str) -> Result<Value> {
        caller.require_superuser()?;
        let d = def(key).ok_or(DomainError::NotFound)?;
        let value = if d.kind.is_derived() {
            let stored: HashMap<String, String> =
                self.store.read(|r| r.settings())?.into_iter().collect();
            self.derived_value(d, &stored)?
        } else {
            self.store.read(|r| self.setting_value(r, d.key))?
        };
        Ok(render(d, value.as_deref()))
    }

    /// The value of a [`Kind::Derived`] setting, computed from the settings it follows as they are now.
    fn derived_value(
        &self,
        d: &SettingDef,
        stored: &HashMap<String, String>,
    ) -> Result<Option<String>> {
        Ok(match d.key {
            "scim-base-url" => Some(self.scim_base_url()?),
            "ldap-configured?" => Some(self.ldap_config_of(stored).is_configured().to_string()),
            _ => None,
        })
    }

    /// `PUT /api/setting/:key` with `{"value": …}`: stores a checked value; `null` returns to the default.
    pub fn put_setting(
        &self,
        caller: &crate::session::Caller,
        key: &str,
        command: PutSetting,
    ) -> Result<()> {
        caller.require_superuser()?;
        let d = def(key).ok_or(DomainError::NotFound)?;
        let stored = normalize(d, &command.value.0)?;
        self.check_not_overridden(d)?;
        if d.kind == Kind::GroupMappings {
            if let Some(text) = &stored {
                self.store
                    .read(|r| crate::ldap::check_mapped_groups(r, text))?;
            }
        }
        if d.key == "ldap-enabled" && stored.as_deref() == Some("true") {
            // Metabase tests the saved settings before it turns LDAP on.
            self.test_saved_ldap_settings()?;
        }
        self.store.write(|r| {
            r.put_setting(d.key, stored.as_deref())?;
            if d.key == "reset-token-ttl-hours" {
                // Queued links follow their new lifetime.
                self.retime_links(r)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(key: &str) -> &'static SettingDef {
        def(key).unwrap()
    }

    #[test]
    fn values_are_checked_and_normalised() {
        assert_eq!(
            normalize(d("site-locale"), &json!("es-mx"))
                .unwrap()
                .as_deref(),
            Some("es_MX")
        );
        assert_eq!(
            normalize(d("site-url"), &json!("https://x.io/"))
                .unwrap()
                .as_deref(),
            Some("https://x.io")
        );
        assert_eq!(
            normalize(d("reset-token-ttl-hours"), &json!(12))
                .unwrap()
                .as_deref(),
            Some("12")
        );
        assert_eq!(
            normalize(d("reset-token-ttl-hours"), &json!(0))
                .unwrap()
                .as_deref(),
            Some("0")
        );
        assert_eq!(
            normalize(d("user-visibility"), &json!("GROUP"))
                .unwrap()
                .as_deref(),
            Some("group")
        );
        assert_eq!(
            normalize(d("admin-email"), &json!("A@B.co"))
                .unwrap()
                .as_deref(),
            Some("a@b.co")
        );
        assert_eq!(normalize(d("site-name"), &Value::Null).unwrap(), None);
        for (k, v) in [
            ("site-url", json!("ftp://x")),
            ("site-locale", json!("xx")),
            ("reset-token-ttl-hours", json!(-1)),
            ("reset-token-ttl-hours", json!(1.5)),
            ("reset-token-ttl-hours", json!("99999999999999999999")),
            ("user-visibility", json!("some")),
            ("session-cookie-samesite", json!(true)),
            ("site-name", json!("  ")),
            ("admin-email", json!("nope")),
        ] {
            match normalize(d(k), &v) {
                Err(DomainError::Disallowed(m)) => assert!(m.contains(k), "{m}"),
                other => panic!("{k}: {other:?}"),
            }
        }
        assert!(normalize(d("enable-password-login"), &json!(false)).is_err());
        for v in [json!("https://x.io/api/ee/scim/v2"), Value::Null] {
            match normalize(d("scim-base-url"), &v) {
                Err(DomainError::Disallowed(m)) => {
                    assert_eq!(m, "Setting scim-base-url is read-only.")
                }
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    #[test]
    fn rendering() {
        assert_eq!(render(d("reset-token-ttl-hours"), Some("48")), json!(48));
        assert_eq!(
            render(d("enable-password-login"), Some("true")),
            json!(true)
        );
        assert_eq!(render(d("site-name"), Some("Acme")), json!("Acme"));
        assert_eq!(render(d("admin-email"), None), Value::Null);
    }

    #[test]
    fn environment_defaults_win_over_built_in_ones() {
        let env = EnvDefaults::from_lookup(|k| (k == "MB_SITE_NAME").then(|| "Acme".to_string()))
            .unwrap();
        assert_eq!(env.default_of(d("site-name")).as_deref(), Some("Acme"));
        assert_eq!(
            env.default_of(d("site-url")).as_deref(),
            Some("http://localhost:3000")
        );
        let bad =
            EnvDefaults::from_lookup(|k| (k == "MB_USER_VISIBILITY").then(|| "x".to_string()));
        assert!(bad.unwrap_err().to_string().contains("MB_USER_VISIBILITY"));
    }

    #[test]
    fn the_scim_base_url_follows_the_site_url_and_cannot_be_set() {
        let f = crate::testing::Fixture::new();
        let admin = f.caller(f.admin("admin@x.com").id);
        let base = |f: &crate::testing::Fixture| f.people.get_setting(&admin, "scim-base-url");
        assert_eq!(
            base(&f).unwrap(),
            json!("http://localhost:3000/api/ee/scim/v2")
        );
        let url = PutSetting::parse(
            json!({"value": "https://people.example/"})
                .as_object()
                .unwrap(),
        );
        f.people.put_setting(&admin, "site-url", url).unwrap();
        assert_eq!(
            base(&f).unwrap(),
            json!("https://people.example/api/ee/scim/v2")
        );
        let listed = f.people.list_settings(&admin).unwrap();
        let entry = listed.iter().find(|s| s.key == "scim-base-url").unwrap();
        assert_eq!(
            (&entry.value, &entry.default),
            (
                &Value::Null,
                &json!("https://people.example/api/ee/scim/v2")
            )
        );
        let put = PutSetting::parse(json!({"value": "https://x.io"}).as_object().unwrap());
        assert_eq!(
            f.people.put_setting(&admin, "scim-base-url", put),
            Err(DomainError::Disallowed(
                "Setting scim-base-url is read-only.".into()
            ))
        );
        assert_eq!(f.store.setting("scim-base-url"), None, "nothing stored");
    }

    #[test]
    fn read_only_settings_take_nothing_from_the_environment() {
        let env = EnvDefaults::from_lookup(|k| match k {
            "MB_SCIM_BASE_URL" => Some("https://elsewhere.example".to_string()),
            "MB_ENABLE_PASSWORD_LOGIN" => Some("false".to_string()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.get("scim-base-url"), None);
        assert_eq!(env.get("enable-password-login"), None);
        assert!(Kind::Derived.is_read_only() && Kind::ReadOnlyBool.is_read_only());
        assert!(!Kind::Bool.is_read_only() && !Kind::Url.is_read_only());
    }
}

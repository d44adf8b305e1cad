//! Metabase's parameter schemas and their exact messages, plus people's length limits.
//!
//! Each check takes the raw JSON value of one parameter (`None` when absent) so that a use case can validate
//! its parameters one at a time, in the contract's declaration order, and report the first failure alone.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::id::GroupId;

/// Fixed messages of Metabase's named schemas.
pub mod msg {
    /// `ms/Email`.
    pub const EMAIL: &str = "value must be a valid email address.";
    /// `ms/NonBlankString`.
    pub const NON_BLANK: &str = "value must be a non-blank string.";
    /// `ms/PositiveInt`.
    pub const POSITIVE_INT: &str = "value must be an integer greater than zero.";
    /// `ms/BooleanString` (query parameters).
    pub const BOOLEAN_STRING: &str = "value must be a valid boolean string ('true' or 'false').";
    /// `ms/ValidPassword`: every password failure.
    pub const PASSWORD: &str = "password is too common.";
    /// `ms/ValidLocale`.
    pub const LOCALE: &str =
        "String must be a valid two-letter ISO language or language-country code e.g. 'en' or 'en_US'.";
    /// Login attributes.
    pub const LOGIN_ATTRIBUTES: &str = "login attribute keys must be a keyword or string";
    /// `user_group_memberships`.
    pub const MEMBERSHIPS: &str = "sequence of map where {:id -> <value must be an integer greater than zero.>, :is_group_manager (optional) -> <boolean>}";
    /// Setup token.
    pub const SETUP_TOKEN: &str = "Token does not match the setup token.";
    /// Plain malli `:boolean`.
    pub const BOOLEAN: &str = "boolean";
    /// Plain malli `:string`.
    pub const STRING: &str = "string";
}

/// People's length limits.
pub mod limit {
    /// Emails.
    pub const EMAIL: usize = 254;
    /// First and last names.
    pub const NAME: usize = 254;
    /// Group names.
    pub const GROUP_NAME: usize = 255;
    /// Passwords.
    pub const PASSWORD: usize = 1024;
    /// `login_attributes`, serialised as JSON.
    pub const LOGIN_ATTRIBUTES_BYTES: usize = 64 * 1024;
}

/// How a JSON value is shown in `specific-errors` (`nil` for absent or null, as Metabase prints it).
fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "nil".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 80 {
                let cut: String = s.chars().take(77).collect();
                format!("{cut}...")
            } else {
                s
            }
        }
    }
}

/// Whether a parameter may be absent or null (Metabase's `[:maybe …]`, whose messages start "nullable").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Absent and null are refused.
    Required,
    /// Absent and null are accepted as "not given".
    Nullable,
}

fn fail(param: &str, presence: Presence, message: &str, v: Option<&Value>) -> DomainError {
    let text = if presence == Presence::Nullable {
        format!("nullable {message}")
    } else {
        message.to_string()
    };
    let specific = format!("{message}, received: {}", shown(v));
    DomainError::Invalid {
        param: param.to_string(),
        message: text,
        specific,
    }
}

/// `None` for an absent or null value; the value otherwise.
fn given(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// Runs `check` on a present, non-null value; absent or null is an error unless [`Presence::Nullable`].
fn with<T>(
    param: &str,
    v: Option<&Value>,
    presence: Presence,
    message: &str,
    check: impl FnOnce(&Value) -> Option<T>,
) -> Result<Option<T>> {
    match given(v) {
        None if presence == Presence::Nullable => Ok(None),
        None => Err(fail(param, presence, message, v)),
        Some(val) => check(val)
            .map(Some)
            .ok_or_else(|| fail(param, presence, message, v)),
    }
}

fn email_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        )
        .expect("the email pattern is a valid regex")
    })
}

/// True when `s`, lower-cased, is an email address by Metabase's regex.
pub fn is_email(s: &str) -> bool {
    email_regex().is_match(&s.to_lowercase())
}

/// True when `s` has at least one non-whitespace character.
pub fn is_non_blank(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace())
}

/// `ms/Email`: the lower-cased address.
pub fn email(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<String>> {
    with(param, v, presence, msg::EMAIL, |v| {
        v.as_str().filter(|s| is_email(s)).map(str::to_lowercase)
    })
}

/// `ms/NonBlankString`: the string as given.
pub fn non_blank(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<String>> {
    with(param, v, presence, msg::NON_BLANK, |v| {
        v.as_str().filter(|s| is_non_blank(s)).map(str::to_string)
    })
}

/// Malli `:string` (any string, blank allowed).
pub fn string(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<String>> {
    with(param, v, presence, msg::STRING, |v| {
        v.as_str().map(str::to_string)
    })
}

/// Parses a positive integer from a JSON number or a string of digits.
fn positive(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().filter(|&i| i > 0),
        Value::String(s) => parse_positive_int(s),
        _ => None,
    }
}

/// A string of ASCII digits naming an integer greater than zero (`"0"`, `"-1"`, `"1.5"`, `"abc"` are not).
/// Values beyond i64 are refused rather than wrapped.
pub fn parse_positive_int(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|&i| i > 0)
}

/// `ms/PositiveInt`.
pub fn positive_int(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<i64>> {
    with(param, v, presence, msg::POSITIVE_INT, positive)
}

/// Malli `:boolean`.
pub fn boolean(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<bool>> {
    with(param, v, presence, msg::BOOLEAN, Value::as_bool)
}

/// `ms/BooleanString` for a query parameter (`"true"` / `"false"`).
pub fn boolean_string(param: &str, v: Option<&str>, presence: Presence) -> Result<Option<bool>> {
    let json = v.map(|s| Value::String(s.to_string()));
    with(
        param,
        json.as_ref(),
        presence,
        msg::BOOLEAN_STRING,
        |v| match v.as_str() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        },
    )
}

/// `ms/ValidLocale`: the normalised locale (`es-mx` → `es_MX`).
pub fn locale(param: &str, v: Option<&Value>, presence: Presence) -> Result<Option<String>> {
    with(param, v, presence, msg::LOCALE, |v| {
        v.as_str()
            .filter(|s| is_non_blank(s))
            .and_then(crate::locale::parse)
    })
}

/// Login attributes: a JSON object (keys are strings by construction, values anything), at most
/// [`limit::LOGIN_ATTRIBUTES_BYTES`] serialised.
pub fn login_attributes(
    param: &str,
    v: Option<&Value>,
    presence: Presence,
) -> Result<Option<Map<String, Value>>> {
    let attrs = with(param, v, presence, msg::LOGIN_ATTRIBUTES, |v| {
        v.as_object().cloned()
    })?;
    if let Some(a) = &attrs {
        let size = serde_json::to_string(a)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > limit::LOGIN_ATTRIBUTES_BYTES {
            return Err(DomainError::rule(
                param,
                format!(
                    "value must be at most {} bytes of JSON.",
                    limit::LOGIN_ATTRIBUTES_BYTES
                ),
            ));
        }
    }
    Ok(attrs)
}

/// One entry of `user_group_memberships`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipSpec {
    /// Group id (positive; may name a group that does not exist).
    pub group_id: GroupId,
    /// `is_group_manager` when the entry carries it; `None` means "keep the current flag".
    pub is_group_manager: Option<bool>,
}

/// `user_group_memberships`: `[{"id": PositiveInt, "is_group_manager"?: boolean}]`.
pub fn memberships(
    param: &str,
    v: Option<&Value>,
    presence: Presence,
) -> Result<Option<Vec<MembershipSpec>>> {
    with(param, v, presence, msg::MEMBERSHIPS, |v| {
        let items = v.as_array()?;
        items
            .iter()
            .map(|item| {
                let obj = item.as_object()?;
                let group_id = GroupId(positive(obj.get("id")?)?);
                let is_group_manager = match obj.get("is_group_manager") {
                    None => None,
                    Some(Value::Bool(b)) => Some(*b),
                    Some(_) => return None,
                };
                Some(MembershipSpec {
                    group_id,
                    is_group_manager,
                })
            })
            .collect()
    })
}

/// Legacy `group_ids`: an array of positive ints, read as memberships without the manager flag.
pub fn group_ids(
    param: &str,
    v: Option<&Value>,
    presence: Presence,
) -> Result<Option<Vec<MembershipSpec>>> {
    let message = "sequence of value must be an integer greater than zero.";
    with(param, v, presence, message, |v| {
        v.as_array()?
            .iter()
            .map(|g| {
                positive(g).map(|id| MembershipSpec {
                    group_id: GroupId(id),
                    is_group_manager: None,
                })
            })
            .collect()
    })
}

/// People's length limit for a string parameter already known to be valid.
pub fn max_chars(param: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(DomainError::rule(
            param,
            format!("value must be at most {max} characters long."),
        ));
    }
    Ok(())
}

/// Reads a present-or-absent field of a JSON body, distinguishing absent, null and a value (PUT semantics).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    /// The key was not in the body.
    #[default]
    Absent,
    /// The key was present with `null`.
    Null,
    /// The key was present with a value.
    Value(T),
}

impl<T> Field<T> {
    /// Builds from the body the value of `key` was read from, and that value once checked (`None` for null).
    pub fn from_checked(body: &Map<String, Value>, key: &str, value: Option<T>) -> Self {
        match (body.contains_key(key), value) {
            (false, _) => Field::Absent,
            (true, None) => Field::Null,
            (true, Some(v)) => Field::Value(v),
        }
    }

    /// True unless absent.
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// The value, if any.
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    /// `Some(Some(v))` for a value, `Some(None)` for null, `None` when absent.
    pub fn as_update(&self) -> Option<Option<&T>> {
        match self {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(v) => Some(Some(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param_message(e: DomainError) -> String {
        match e {
            DomainError::Invalid { message, .. } => message,
            DomainError::Rule { message, .. } => message,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn email_examples_from_the_spec() {
        for ok in [
            "a@b.co",
            "Rasta@Metabase.COM",
            "x.y+z@sub.example.org",
            "o'neil@x.io",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "whatever",
            "a@b",
            "a@-b.com",
            "\"a b\"@x.com",
            "",
            "a@b.",
            "a@[1.2.3.4]",
            "a..b@x.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        let v = json!("Ann@X.COM");
        assert_eq!(
            email("email", Some(&v), Presence::Required)
                .unwrap()
                .as_deref(),
            Some("ann@x.com")
        );
    }

    #[test]
    fn email_messages_and_nullability() {
        let e = email("email", None, Presence::Required).unwrap_err();
        assert_eq!(param_message(e), msg::EMAIL);
        let e = email("email", Some(&json!(12)), Presence::Nullable).unwrap_err();
        assert_eq!(
            param_message(e),
            "nullable value must be a valid email address."
        );
        assert_eq!(
            email("email", Some(&Value::Null), Presence::Nullable).unwrap(),
            None
        );
    }

    #[test]
    fn non_blank_strings() {
        assert_eq!(
            non_blank("n", Some(&json!(" a ")), Presence::Required)
                .unwrap()
                .as_deref(),
            Some(" a ")
        );
        for bad in [
            json!(""),
            json!("   "),
            json!("\t\n"),
            json!(1),
            json!(["a"]),
            Value::Null,
        ] {
            let e = non_blank("n", Some(&bad), Presence::Required).unwrap_err();
            assert_eq!(param_message(e), msg::NON_BLANK);
        }
        let e = non_blank("first_name", Some(&json!("")), Presence::Nullable).unwrap_err();
        assert_eq!(
            param_message(e),
            "nullable value must be a non-blank string."
        );
        assert_eq!(
            non_blank("first_name", None, Presence::Nullable).unwrap(),
            None
        );
    }

    #[test]
    fn positive_ints() {
        assert_eq!(
            positive_int("id", Some(&json!(3)), Presence::Required).unwrap(),
            Some(3)
        );
        assert_eq!(
            positive_int("id", Some(&json!("42")), Presence::Required).unwrap(),
            Some(42)
        );
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("0"),
            json!("-3"),
            json!("x"),
            json!(true),
            json!("99999999999999999999"),
        ] {
            let e = positive_int("id", Some(&bad), Presence::Required).unwrap_err();
            assert_eq!(param_message(e), msg::POSITIVE_INT, "{bad}");
        }
        let e = positive_int("group_id", Some(&json!("a")), Presence::Nullable).unwrap_err();
        assert_eq!(
            param_message(e),
            "nullable value must be an integer greater than zero."
        );
    }

    #[test]
    fn boolean_strings() {
        assert_eq!(
            boolean_string("b", Some("true"), Presence::Nullable).unwrap(),
            Some(true)
        );
        assert_eq!(
            boolean_string("b", Some("false"), Presence::Nullable).unwrap(),
            Some(false)
        );
        assert_eq!(boolean_string("b", None, Presence::Nullable).unwrap(), None);
        let e = boolean_string("include_deactivated", Some("yes"), Presence::Nullable).unwrap_err();
        assert_eq!(
            param_message(e),
            "nullable value must be a valid boolean string ('true' or 'false')."
        );
        assert!(boolean_string("b", Some("TRUE"), Presence::Nullable).is_err());
    }

    #[test]
    fn locales() {
        assert_eq!(
            locale("locale", Some(&json!("es-MX")), Presence::Nullable)
                .unwrap()
                .as_deref(),
            Some("es_MX")
        );
        let e = locale("site_locale", Some(&json!("eng")), Presence::Nullable).unwrap_err();
        assert_eq!(param_message(e), format!("nullable {}", msg::LOCALE));
        assert!(locale("locale", Some(&json!("")), Presence::Nullable).is_err());
        assert_eq!(
            locale("locale", Some(&Value::Null), Presence::Nullable).unwrap(),
            None
        );
    }

    #[test]
    fn memberships_shape() {
        let v = json!([{"id": 1}, {"id": 3, "is_group_manager": true}]);
        let m = memberships("user_group_memberships", Some(&v), Presence::Nullable)
            .unwrap()
            .unwrap();
        assert_eq!(
            m[0],
            MembershipSpec {
                group_id: GroupId(1),
                is_group_manager: None
            }
        );
        assert_eq!(
            m[1],
            MembershipSpec {
                group_id: GroupId(3),
                is_group_manager: Some(true)
            }
        );
        for bad in [
            json!([{"id": 0}]),
            json!([1]),
            json!({"id": 1}),
            json!([{"id": 2, "is_group_manager": "yes"}]),
            json!([{}]),
        ] {
            let e =
                memberships("user_group_memberships", Some(&bad), Presence::Nullable).unwrap_err();
            assert_eq!(param_message(e), format!("nullable {}", msg::MEMBERSHIPS));
        }
        assert_eq!(
            memberships("m", Some(&json!([])), Presence::Nullable).unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn legacy_group_ids() {
        let m = group_ids("group_ids", Some(&json!([1, 2])), Presence::Nullable)
            .unwrap()
            .unwrap();
        assert_eq!(m.len(), 2);
        assert!(group_ids("group_ids", Some(&json!([0])), Presence::Nullable).is_err());
    }

    #[test]
    fn login_attribute_objects() {
        let v = json!({"k": [1, {"x": null}]});
        assert!(
            login_attributes("login_attributes", Some(&v), Presence::Nullable)
                .unwrap()
                .is_some()
        );
        let e = login_attributes("login_attributes", Some(&json!("s")), Presence::Nullable)
            .unwrap_err();
        assert_eq!(
            param_message(e),
            format!("nullable {}", msg::LOGIN_ATTRIBUTES)
        );
        let huge = json!({"k": "x".repeat(70_000)});
        assert!(matches!(
            login_attributes("login_attributes", Some(&huge), Presence::Nullable),
            Err(DomainError::Rule { .. })
        ));
    }

    #[test]
    fn length_limits() {
        assert!(max_chars("first_name", &"é".repeat(254), limit::NAME).is_ok());
        let e = max_chars("first_name", &"a".repeat(255), limit::NAME).unwrap_err();
        assert_eq!(
            e,
            DomainError::rule("first_name", "value must be at most 254 characters long.")
        );
    }

    #[test]
    fn fields_distinguish_absent_null_and_value() {
        let body = json!({"k": null});
        let body = body.as_object().unwrap();
        assert_eq!(Field::<i32>::from_checked(body, "x", None), Field::Absent);
        assert_eq!(Field::<i32>::from_checked(body, "k", None), Field::Null);
        assert_eq!(
            Field::from_checked(body, "k", Some(1)).as_update(),
            Some(Some(&1))
        );
    }
}

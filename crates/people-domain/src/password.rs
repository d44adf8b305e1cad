//! Passwords: Metabase's complexity policy and common-password list and its hashing
//! scheme, bcrypt of `salt + password` with a fresh random salt per password.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::error::{DomainError, Result};
use crate::session::Secret;
use crate::validate::{limit, msg};

static COMMON: &str = include_str!("../data/common_passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().filter(|l| !l.is_empty()).collect())
}

/// True when `password`, lower-cased, is on the deny list.
pub fn is_common(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// `MB_PASSWORD_COMPLEXITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Complexity {
    /// At least 6 characters.
    Weak,
    /// At least 6 characters and a digit (the default).
    #[default]
    Normal,
    /// At least 8 characters: 2 lower, 2 upper, a digit and a special character.
    Strong,
}

impl FromStr for Complexity {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "weak" => Ok(Complexity::Weak),
            "normal" => Ok(Complexity::Normal),
            "strong" => Ok(Complexity::Strong),
            other => Err(format!(
                "unknown password complexity {other:?} (expected weak, normal or strong)"
            )),
        }
    }
}

/// Minimum counts of each character class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requirements {
    /// Characters in all (UTF-16 code units, as the JVM counts them).
    pub total: usize,
    /// Lower-case letters.
    pub lower: usize,
    /// Upper-case letters.
    pub upper: usize,
    /// Digits.
    pub digit: usize,
    /// Anything that is not a letter or a digit.
    pub special: usize,
}

/// Character-class counts of one password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    total: usize,
    lower: usize,
    upper: usize,
    digit: usize,
    special: usize,
}

fn count(password: &str) -> Counts {
    let mut c = Counts::default();
    for ch in password.chars() {
        // The JVM walks UTF-16 units: a character outside the BMP is two surrogates, each "special".
        let units = ch.len_utf16();
        c.total += units;
        if units > 1 {
            c.special += units;
        } else if ch.is_lowercase() {
            c.lower += 1;
        } else if ch.is_uppercase() {
            c.upper += 1;
        } else if ch.is_alphabetic() {
            // a letter without case (e.g. CJK): counted in total only
        } else if ch.is_numeric() {
            c.digit += 1;
        } else {
            c.special += 1;
        }
    }
    c
}

/// The active password rule: complexity class plus an optional `MB_PASSWORD_LENGTH` override of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PasswordPolicy {
    /// Complexity class.
    pub complexity: Complexity,
    /// Overrides the class's minimum total length.
    pub min_length: Option<usize>,
}

impl PasswordPolicy {
    /// The minimum counts this policy demands.
    pub fn requirements(&self) -> Requirements {
        let mut r = match self.complexity {
            Complexity::Weak => Requirements {
                total: 6,
                ..Requirements::default()
            },
            Complexity::Normal => Requirements {
                total: 6,
                digit: 1,
                ..Requirements::default()
            },
            Complexity::Strong => Requirements {
                total: 8,
                lower: 2,
                upper: 2,
                digit: 1,
                special: 1,
            },
        };
        if let Some(n) = self.min_length {
            r.total = n;
        }
        r
    }

    /// The `password-complexity` property: only the keys the class constrains.
    pub fn describe(&self) -> Value {
        let r = self.requirements();
        match self.complexity {
            Complexity::Weak => json!({"total": r.total}),
            Complexity::Normal => json!({"total": r.total, "digit": r.digit}),
            Complexity::Strong => json!({
                "total": r.total, "lower": r.lower, "upper": r.upper,
                "digit": r.digit, "special": r.special
            }),
        }
    }

    /// True when `password` meets the complexity rule.
    pub fn is_complex_enough(&self, password: &str) -> bool {
        let r = self.requirements();
        let c = count(password);
        c.total >= r.total
            && c.lower >= r.lower
            && c.upper >= r.upper
            && c.digit >= r.digit
            && c.special >= r.special
    }

    /// True when `password` is acceptable: complex enough and (weak, or not on the common list).
    pub fn is_valid(&self, password: &str) -> bool {
        self.is_complex_enough(password)
            && (self.complexity == Complexity::Weak || !is_common(password))
    }

    /// Metabase's `ms/ValidPassword` for a password already read from a request (see [`read_password`]):
    /// people's 1024-character limit and this policy, else `password is too common.` under `param`.
    pub fn require(&self, param: &str, password: &Secret) -> Result<()> {
        let p = password.expose();
        if p.chars().count() <= limit::PASSWORD && self.is_valid(p) {
            Ok(())
        } else {
            Err(password_refused(param, Given::Present))
        }
    }
}

/// Whether a refused password parameter was in the request (its value is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Given {
    Absent,
    Present,
}

fn password_refused(param: &str, given: Given) -> DomainError {
    DomainError::invalid(
        param,
        msg::PASSWORD,
        format!(
            "password is too common., received: {}",
            match given {
                Given::Present => "<redacted>",
                Given::Absent => "nil",
            }
        ),
    )
}

/// Reads a password parameter for [`PasswordPolicy::require`]: anything but a string is refused with the
/// policy's message (Metabase's `ms/ValidPassword` says nothing more), without showing the value.
pub fn read_password(param: &str, v: Option<&Value>) -> Result<Secret> {
    match v {
        Some(Value::String(p)) => Ok(Secret::new(p.clone())),
        Some(Value::Null) | None => Err(password_refused(param, Given::Absent)),
        Some(_) => Err(password_refused(param, Given::Present)),
    }
}

/// Input to a use case that hashes or verifies a password. Such work may wait its turn on the hashing pool,
/// so a front end runs it where waiting holds up no other request (people-web: the blocking pool).
pub trait HashesPassword {
    /// True when running the use case with this input hashes or verifies a password.
    fn hashes_password(&self) -> bool {
        true
    }
}

/// A password hash in Metabase's scheme: a random salt and bcrypt(`salt + password`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    /// The salt (a random UUID string), stored in `core_user.password_salt`.
    pub salt: String,
    /// The bcrypt hash, `$2a$…`, stored in `core_user.password`.
    pub hash: String,
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Computes and checks password hashes. A trait so that the server can run hashing on a dedicated, bounded
/// pool of threads (bcrypt must never stall request handling) and tests can use a low cost.
pub trait PasswordHasher: Send + Sync {
    /// Hashes `password` with a fresh salt.
    fn hash(&self, password: &str) -> Result<PasswordHash>;
    /// True when `password` matches; any malformed stored value is "no match". `Busy` when the hasher
    /// cannot take more work now.
    fn verify(&self, password: &str, salt: &str, hash: &str) -> Result<bool>;
    /// Runs one verification against a fixed hash of the configured cost, so that an unknown email costs
    /// the same time as a wrong password.
    fn dummy_verify(&self, password: &str) -> Result<()>;
}

/// Metabase's bcrypt scheme, computed on the calling thread.
#[derive(Debug)]
pub struct Bcrypt {
    cost: u32,
    /// A hash of the configured cost for [`PasswordHasher::dummy_verify`], made on first use so that start-up
    /// does not pay a bcrypt.
    dummy: OnceLock<String>,
}

/// The bcrypt cost Metabase uses.
pub const DEFAULT_BCRYPT_COST: u32 = 10;

impl Bcrypt {
    /// A hasher with `cost` (4..=31; 10 in production, lower only in tests).
    pub fn new(cost: u32) -> Result<Self> {
        if !(4..=31).contains(&cost) {
            return Err(DomainError::Internal(format!(
                "bcrypt cost {cost} is outside 4..=31"
            )));
        }
        Ok(Bcrypt {
            cost,
            dummy: OnceLock::new(),
        })
    }

    /// The configured cost.
    pub fn cost(&self) -> u32 {
        self.cost
    }
}

impl PasswordHasher for Bcrypt {
    fn hash(&self, password: &str) -> Result<PasswordHash> {
        let salt = uuid::Uuid::new_v4().to_string();
        let parts = bcrypt::hash_with_result(format!("{salt}{password}"), self.cost)
            .map_err(|e| DomainError::Internal(format!("bcrypt: {e}")))?;
        Ok(PasswordHash {
            salt,
            hash: parts.format_for_version(bcrypt::Version::TwoA),
        })
    }

    fn verify(&self, password: &str, salt: &str, hash: &str) -> Result<bool> {
        Ok(bcrypt::verify(format!("{salt}{password}"), hash).unwrap_or(false))
    }

    fn dummy_verify(&self, password: &str) -> Result<()> {
        let dummy = self.dummy.get_or_init(|| {
            bcrypt::hash_with_result("people-dummy-password", self.cost)
                .map(|p| p.format_for_version(bcrypt::Version::TwoA))
                .unwrap_or_default()
        });
        let _ = bcrypt::verify(password, dummy);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn spec_examples_under_the_default_rule() {
        for bad in [
            "ABC", "ABCDEF", "ABCDE1", "123456", "passw0rd", "PASSW0RD", "abc123", "p@ssw0rd",
        ] {
            assert!(!normal().is_valid(bad), "{bad} must be refused");
        }
        for good in [
            "unc0mmonpw",
            "pa$$w0®∂",
            "s6n!8z-6.gcJe",
            "abc123!!DEF",
            "whateverUP12!!",
            "anythingUP12!",
            "p@ssword1",
        ] {
            assert!(normal().is_valid(good), "{good} must be accepted");
        }
    }

    #[test]
    fn weak_rule_skips_the_common_list() {
        let weak = PasswordPolicy {
            complexity: Complexity::Weak,
            min_length: None,
        };
        assert!(!weak.is_valid("ABC"));
        for good in ["ABCDEF", "ABCDE1", "passw0rd"] {
            assert!(weak.is_valid(good), "{good}");
        }
    }

    #[test]
    fn strong_rule_counts_classes() {
        let strong = PasswordPolicy {
            complexity: Complexity::Strong,
            min_length: None,
        };
        assert!(strong.is_valid("abc123!!DEF"));
        assert!(!strong.is_valid("abc123DEF"), "no special");
        assert!(!strong.is_valid("aB1!aB1"), "too short");
        assert!(!strong.is_valid("abcdef1!G"), "one upper");
    }

    #[test]
    fn length_override_changes_only_the_total() {
        let p = PasswordPolicy {
            complexity: Complexity::Normal,
            min_length: Some(10),
        };
        assert!(!p.is_valid("unc0mmon"));
        assert!(p.is_valid("unc0mmonpw"));
        assert_eq!(p.describe(), json!({"total": 10, "digit": 1}));
    }

    #[test]
    fn complexity_descriptions() {
        assert_eq!(normal().describe(), json!({"total": 6, "digit": 1}));
        let weak = PasswordPolicy {
            complexity: Complexity::Weak,
            min_length: None,
        };
        assert_eq!(weak.describe(), json!({"total": 6}));
        let strong = PasswordPolicy {
            complexity: Complexity::Strong,
            min_length: None,
        };
        assert_eq!(
            strong.describe(),
            json!({"total": 8, "lower": 2, "upper": 2, "digit": 1, "special": 1})
        );
        assert!("STRONG".parse::<Complexity>().is_ok());
        assert!("medium".parse::<Complexity>().is_err());
    }

    #[test]
    fn common_list_has_the_documented_entries() {
        assert_eq!(common_passwords().len(), 10_706);
        for w in [
            "passw0rd",
            "1qaz2wsx",
            "qwerty123",
            "password1",
            "abc123",
            "p@ssw0rd",
            "123456",
            "abcde1",
        ] {
            assert!(is_common(w), "{w}");
        }
        assert!(!is_common("unc0mmonpw"));
        assert!(!is_common("p@ssword1"));
    }

    #[test]
    fn check_reports_every_failure_with_one_message() {
        let p = normal();
        for v in [
            None,
            Some(json!(null)),
            Some(json!(12)),
            Some(json!("short")),
            Some(json!("a1".repeat(600))),
        ] {
            match read_password("password", v.as_ref()).and_then(|s| p.require("password", &s)) {
                Err(DomainError::Invalid { param, message, .. }) => {
                    assert_eq!(param, "password");
                    assert_eq!(message, "password is too common.");
                }
                other => panic!("{v:?}: {other:?}"),
            }
        }
        let given = read_password("password", Some(&json!("unc0mmonpw"))).unwrap();
        assert!(p.require("password", &given).is_ok());
        assert_eq!(given.expose(), "unc0mmonpw");
    }

    #[test]
    fn hashes_verify_with_their_salt_only() {
        let b = Bcrypt::new(4).unwrap();
        let h = b.hash("unc0mmonpw").unwrap();
        assert!(h.hash.starts_with("$2a$04$"));
        assert!(b.verify("unc0mmonpw", &h.salt, &h.hash).unwrap());
        assert!(!b.verify("unc0mmonpw", "other-salt", &h.hash).unwrap());
        assert!(!b.verify("wrong", &h.salt, &h.hash).unwrap());
        assert!(!b.verify("unc0mmonpw", &h.salt, "not a hash").unwrap());
        let again = b.hash("unc0mmonpw").unwrap();
        assert_ne!(h.salt, again.salt);
        assert_eq!(format!("{h:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn verifies_a_hash_made_by_another_bcrypt() {
        // Python's bcrypt 5 hashed salt + "unc0mmonpw" at cost 4 with the $2a$ prefix jBCrypt writes.
        let salt = "9e6a6e0b-1c1d-4a59-9f6b-3c0f2d7e1a11";
        let hash = "$2a$04$VBQp3yw15k1PhQFIZ/ftg.YXORnlR5DznehUayDApEv7VdG4wRJnG";
        let b = Bcrypt::new(4).unwrap();
        assert!(b.verify("unc0mmonpw", salt, hash).unwrap());
        assert!(!b.verify("unc0mmonpW", salt, hash).unwrap());
    }
}

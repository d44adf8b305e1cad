//! Distinguished names (RFC 4514), compared the way directories compare them: attribute types and values
//! ignoring case, spaces around `=`, `,` and `+` ignored, escapes resolved, multi-valued RDNs in any order.
//! Parsing is the `ldapdn` crate's; people adds the checks it leaves out and the normal form.

use std::fmt;

/// A checked DN with its normal form. Two `Dn`s are equal when their normal forms are.
#[derive(Clone)]
pub struct Dn {
    written: String,
    normal: String,
}

/// A text that is not a distinguished name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a valid DN.")]
pub struct InvalidDn(pub String);

impl Dn {
    /// Parses `text` as an RFC 4514 DN with at least one RDN.
    pub fn parse(text: &str) -> Result<Dn, InvalidDn> {
        let invalid = || InvalidDn(text.to_string());
        if text.trim().is_empty() {
            return Err(invalid());
        }
        let mut rdns = Vec::new();
        for rdn in ldapdn::parse::dn_from_str(text) {
            let rdn = rdn.map_err(|_| invalid())?;
            let mut atavs = Vec::new();
            for atav in rdn {
                let (kind, value) = atav.map_err(|_| invalid())?;
                let kind = kind.trim();
                if !is_attribute_type(kind) {
                    return Err(invalid());
                }
                let value = normal_value(value.trim()).ok_or_else(invalid)?;
                atavs.push(format!("{}={}", kind.to_ascii_lowercase(), value));
            }
            if atavs.is_empty() {
                return Err(invalid());
            }
            atavs.sort();
            rdns.push(atavs.join("+"));
        }
        if rdns.is_empty() {
            return Err(invalid());
        }
        Ok(Dn {
            written: text.to_string(),
            normal: rdns.join(","),
        })
    }

    /// The DN as it was written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The normal form: lower-case, no optional spaces, values unescaped then re-escaped minimally.
    pub fn normal(&self) -> &str {
        &self.normal
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.normal == other.normal
    }
}

impl Eq for Dn {}

impl std::hash::Hash for Dn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normal.hash(state);
    }
}

impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dn({:?})", self.written)
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// RFC 4512 `descr` (a letter, then letters, digits and hyphens) or a numeric OID.
fn is_attribute_type(kind: &str) -> bool {
    let mut chars = kind.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => kind.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'))
        }),
        _ => false,
    }
}

/// A value's normal form: a `#` hex string lower-cased as is; otherwise unescaped, lower-cased, inner runs
/// of spaces collapsed, and the characters RFC 4514 requires escaped escaped again. `None` when an escape
/// is broken or a special character is left unescaped.
fn normal_value(value: &str) -> Option<String> {
    if let Some(hex) = value.strip_prefix('#') {
        let ok =
            !hex.is_empty() && hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return ok.then(|| value.to_ascii_lowercase());
    }
    // RFC 4514: these must be escaped inside a value.
    let mut escaped = false;
    for c in value.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, '"' | ';' | '<' | '>' | '\0') => return None,
            _ => escaped = false,
        }
    }
    let plain = ldapdn::escape::unescape_ldap_value_string_cow(value).ok()?;
    let collapsed = plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let mut out = String::with_capacity(collapsed.len());
    for (i, c) in collapsed.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\') || (i == 0 && c == '#');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn case_spaces_and_escapes_do_not_matter() {
        assert_eq!(
            dn("CN=Accounting,OU=Groups,DC=metabase,DC=com"),
            dn("cn=accounting,ou=groups,dc=metabase,dc=com")
        );
        assert_eq!(dn("cn = Acc ,  ou=G"), dn("cn=acc,ou=g"));
        assert_eq!(dn(r"cn=Smith\, John,dc=x"), dn(r"CN=smith\2c john,DC=X"));
        assert_eq!(dn("cn=a+sn=b,dc=x"), dn("SN=B+CN=A,dc=x"));
        assert_eq!(dn("cn=a/b,dc=x").normal(), "cn=a/b,dc=x");
        assert_ne!(dn("cn=a,dc=x"), dn("cn=a,dc=y"));
        assert_ne!(dn("cn=a,dc=x"), dn("cn=a+sn=b,dc=x"));
        assert_eq!(dn("CN=A,dc=x").as_str(), "CN=A,dc=x");
    }

    #[test]
    fn what_is_not_a_dn() {
        for bad in [
            "",
            "   ",
            "not a dn",
            "cn=a,,dc=x",
            "=a",
            "c n=a",
            "1cn=a",
            "cn=a\\",
            "cn=a;b",
            "cn=#zz",
            "ldap://host/cn=a",
        ] {
            assert!(Dn::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Dn::parse("2.5.4.3=a,dc=x").is_ok());
        assert!(Dn::parse("cn=#0403,dc=x").is_ok());
        assert_eq!(
            Dn::parse("nope").unwrap_err().to_string(),
            "nope is not a valid DN."
        );
    }
}

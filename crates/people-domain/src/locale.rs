//! Locales accepted by Metabase's `ValidLocale` schema: the input is normalised
//! (`es-mx` → `es_MX`) and must then name a locale the JVM reports as available. The table is data
//! generated from a JDK by `tools/AvailableLocales.java`, not a guess.

use std::collections::HashSet;
use std::sync::OnceLock;

static TABLE: &str = include_str!("../data/locales.txt");

fn available() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        TABLE
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Metabase's `normalized-locale-string`: `^(\w{2})([-_](\w{2}))?$`, language lower-cased, country
/// upper-cased, joined by `_`. `None` when the input does not have that form.
pub fn normalize(input: &str) -> Option<String> {
    let chars: Vec<char> = input.chars().collect();
    let two = |s: &[char]| s.len() == 2 && s.iter().all(|&c| is_word_char(c));
    match chars.len() {
        2 if two(&chars) => Some(input.to_ascii_lowercase()),
        5 if two(&chars[..2]) && (chars[2] == '-' || chars[2] == '_') && two(&chars[3..]) => {
            let lang: String = chars[..2].iter().collect::<String>().to_ascii_lowercase();
            let country: String = chars[3..].iter().collect::<String>().to_ascii_uppercase();
            Some(format!("{lang}_{country}"))
        }
        _ => None,
    }
}

/// Every available locale, normalised (`en`, `en_US`), in the table's order.
pub fn known() -> impl Iterator<Item = &'static str> {
    TABLE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The normalised form of `input` when it names an available locale (`en`, `en_US`, `es_MX`), else `None`.
pub fn parse(input: &str) -> Option<String> {
    normalize(input).filter(|n| available().contains(n.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_spec_examples() {
        assert_eq!(parse("es-MX").as_deref(), Some("es_MX"));
        assert_eq!(parse("es_MX").as_deref(), Some("es_MX"));
        assert_eq!(parse("es").as_deref(), Some("es"));
        assert_eq!(parse("en-US").as_deref(), Some("en_US"));
        assert_eq!(parse("EN-us").as_deref(), Some("en_US"));
        assert_eq!(parse("en").as_deref(), Some("en"));
    }

    #[test]
    fn refuses_the_spec_counter_examples() {
        for bad in [
            "eng", "en-EN", "zz", "xx-yy", "ab/cd", "USA!", "", " ", "en_", "e1",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn table_is_loaded() {
        assert!(available().len() > 100);
    }
}

//! Encryption at rest of outbox bodies (they may carry a reset or invite link) under
//! `MB_ENCRYPTION_SECRET_KEY`: AES-256-GCM with a key derived from the secret by HKDF-SHA256, a random
//! nonce per body. A sealed body is stored as `enc1:` followed by base64 of nonce and ciphertext.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use people_domain::{DomainError, Result};

/// Marks a sealed value.
pub const PREFIX: &str = "enc1:";
/// Bytes of an AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Binds the derived key to this use, so that the same secret used elsewhere yields another key.
const KEY_INFO: &[u8] = b"people email_outbox body v1";
/// The same for secret settings (`ldap-password`).
const SETTING_KEY_INFO: &[u8] = b"people setting value v1";

/// Seals and opens values (outbox bodies, secret settings) with a key derived from a secret.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(<key redacted>)")
    }
}

fn broken(what: &str) -> DomainError {
    DomainError::Internal(format!("outbox encryption: {what}"))
}

impl Cipher {
    /// A cipher keyed by `secret` (`MB_ENCRYPTION_SECRET_KEY`; Metabase asks for at least 16 characters).
    pub fn from_secret(secret: &str) -> Cipher {
        Cipher::derived(secret, KEY_INFO)
    }

    /// A cipher for secret settings, keyed by `secret` under another derivation than the outbox's.
    pub fn for_settings(secret: &str) -> Cipher {
        Cipher::derived(secret, SETTING_KEY_INFO)
    }

    fn derived(secret: &str, info: &[u8]) -> Cipher {
        let mut key = [0u8; 32];
        // HKDF-SHA256 can expand to 32 bytes from any input; `expand` fails only past 8160 bytes.
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, secret.as_bytes()).expand(info, &mut key);
        Cipher {
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        }
    }

    /// `plain` sealed: `enc1:` + base64(nonce ‖ ciphertext). The empty string stays empty.
    pub fn seal(&self, plain: &str) -> Result<String> {
        if plain.is_empty() {
            return Ok(String::new());
        }
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| broken("cannot encrypt"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The text sealed in `value`; an error when it is not sealed with this key.
    pub fn open(&self, value: &str) -> Result<String> {
        let encoded = value
            .strip_prefix(PREFIX)
            .ok_or_else(|| broken("not a sealed value"))?;
        let bytes = STANDARD.decode(encoded).map_err(|_| broken("not base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(broken("too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| broken("wrong key or damaged value"))?;
        String::from_utf8(plain).map_err(|_| broken("not UTF-8"))
    }
}

/// The ciphers of one `MB_ENCRYPTION_SECRET_KEY`, one per use.
pub(crate) struct Keys {
    /// Outbox bodies.
    pub(crate) outbox: Cipher,
    /// Secret settings.
    pub(crate) settings: Cipher,
}

impl Keys {
    /// Both ciphers of `secret`.
    pub(crate) fn from_secret(secret: &str) -> Keys {
        Keys {
            outbox: Cipher::from_secret(secret),
            settings: Cipher::for_settings(secret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_the_same_secret_only() {
        let c = Cipher::from_secret("a secret of sixteen+ chars");
        let sealed = c.seal("https://x/auth/reset_password/7_abc").unwrap();
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("reset_password"));
        assert_ne!(
            sealed,
            c.seal("https://x/auth/reset_password/7_abc").unwrap(),
            "fresh nonce"
        );
        assert_eq!(
            c.open(&sealed).unwrap(),
            "https://x/auth/reset_password/7_abc"
        );
        assert!(Cipher::from_secret("another secret, sixteen+")
            .open(&sealed)
            .is_err());
        assert!(
            c.open("enc1:!!").is_err() && c.open("plain").is_err() && c.open("enc1:AAAA").is_err()
        );
        assert_eq!(c.seal("").unwrap(), "");
        assert_eq!(format!("{c:?}"), "Cipher(<key redacted>)");
    }
}

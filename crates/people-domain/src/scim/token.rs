//! The SCIM token: one `api_key` row of scope `scim` without a user, made (and replaced) by a superuser,
//! shown once, stored as SHA-256 like every key. It is valid only on `/api/ee/scim/v2`, and only while the
//! `scim-enabled` setting is true.

use crate::api_key::{self, ApiKey, KeyScope, KeySecret, NewApiKey};
use crate::error::{DomainError, Result};
use crate::service::People;
use crate::session::{sha256_hex, Caller, Secret};

/// The SCIM token's record, and the token itself right after it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimToken {
    /// The stored key (scope `scim`, no user).
    pub key: ApiKey,
    /// The whole token, only in the answer of [`People::refresh_scim_token`].
    pub unmasked_key: Option<Secret>,
}

impl ScimToken {
    /// The prefix and `*`s: all that can be shown of a stored token.
    pub fn masked_key(&self) -> String {
        api_key::masked(&self.key.key_prefix)
    }
}

impl People {
    /// `GET /api/ee/scim/api_key`: the SCIM token's record (superusers); not found when there is none.
    pub fn scim_token(&self, caller: &Caller) -> Result<ScimToken> {
        caller.require_superuser()?;
        let key = self
            .store
            .read(|r| r.api_keys(KeyScope::Scim))?
            .into_iter()
            .next()
            .ok_or(DomainError::NotFound)?;
        Ok(ScimToken {
            key,
            unmasked_key: None,
        })
    }

    /// `POST /api/ee/scim/api_key`: a new SCIM token replaces any other (which stops working at once), in
    /// one transaction that also gives every user and group without an `entity_id` one (their SCIM id). The
    /// answer is the only place the token is shown.
    pub fn refresh_scim_token(&self, caller: &Caller) -> Result<ScimToken> {
        caller.require_superuser()?;
        let now = self.clock.now();
        let token = self.store.write(|repo| {
            repo.backfill_entity_ids()?;
            for old in repo.api_keys(KeyScope::Scim)? {
                repo.delete_api_key(old.id)?;
            }
            let secret = api_key::key_with_unique_prefix(repo)?;
            let stored = KeySecret::of(secret.expose());
            let key = repo.insert_api_key(&NewApiKey {
                user_id: None,
                name: format!("Metabase SCIM API Key - {}", uuid::Uuid::new_v4()),
                digest: stored.digest,
                key_prefix: stored.prefix,
                creator_id: caller.user.id,
                created_at: now,
                scope: KeyScope::Scim,
            })?;
            Ok(ScimToken {
                key,
                unmasked_key: Some(secret),
            })
        })?;
        log::info!(
            "user {} replaced the SCIM token ({})",
            caller.user.id,
            token.key.key_prefix
        );
        Ok(token)
    }

    /// Whether a request to `/api/ee/scim/v2` may go on: `scim-enabled` is true and `bearer` is the SCIM
    /// token. Otherwise `Unauthenticated` (the same answer whatever failed).
    pub fn authorize_scim(&self, bearer: Option<&str>) -> Result<()> {
        let Some(token) = bearer.filter(|t| api_key::plausible_key(t)) else {
            return Err(DomainError::Unauthenticated);
        };
        let digest = sha256_hex(token);
        let allowed = self.store.read(|r| {
            let enabled = self.setting_value(r, "scim-enabled")?.as_deref() == Some("true");
            Ok(enabled
                && r.api_key_by_digest(&digest)?
                    .is_some_and(|k| k.scope == KeyScope::Scim))
        })?;
        if allowed {
            Ok(())
        } else {
            Err(DomainError::Unauthenticated)
        }
    }

    /// Whether the `scim-enabled` setting is on (while it is off, everything under `/v2` is refused).
    pub fn scim_enabled(&self) -> Result<bool> {
        Ok(self
            .store
            .read(|r| self.setting_value(r, "scim-enabled"))?
            .as_deref()
            == Some("true"))
    }

    /// `<site-url>/api/ee/scim/v2`: the base of every SCIM location.
    pub fn scim_base_url(&self) -> Result<String> {
        Ok(format!("{}/api/ee/scim/v2", self.site_url()?))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::setting::{PutSetting, SettingValue};
    use crate::testing::Fixture;

    fn enable(f: &Fixture, caller: &Caller, on: bool) {
        let command = PutSetting {
            value: SettingValue::boolean(on),
        };
        f.people
            .put_setting(caller, "scim-enabled", command)
            .unwrap();
    }

    #[test]
    fn the_token_is_made_shown_once_replaced_and_only_works_while_enabled() {
        let f = Fixture::new();
        let admin = f.caller(f.admin("admin@x.com").id);
        assert_eq!(
            f.people.scim_token(&admin).unwrap_err(),
            DomainError::NotFound
        );
        let made = f.people.refresh_scim_token(&admin).unwrap();
        let token = made.unmasked_key.clone().unwrap().expose().to_string();
        assert_eq!(token.len(), api_key::KEY_LENGTH);
        assert_eq!(made.key.user_id, None);
        assert_eq!(made.key.scope, KeyScope::Scim);
        assert!(made.key.name.starts_with("Metabase SCIM API Key - "));
        let read = f.people.scim_token(&admin).unwrap();
        assert_eq!(
            (read.key.id, read.unmasked_key.is_none()),
            (made.key.id, true)
        );
        assert_eq!(read.masked_key(), api_key::masked(&made.key.key_prefix));
        // Not an ordinary key: not listed, not counted, not usable as X-Api-Key.
        assert_eq!(f.people.count_api_keys(&admin).unwrap(), 0);
        assert!(f.people.try_authenticate_key(&token).unwrap().is_none());

        assert_eq!(
            f.people.authorize_scim(Some(&token)).unwrap_err(),
            DomainError::Unauthenticated
        );
        enable(&f, &admin, true);
        f.people.authorize_scim(Some(&token)).unwrap();
        for bad in [None, Some(""), Some("mb_not_the_token"), Some(&token[..20])] {
            assert_eq!(
                f.people.authorize_scim(bad).unwrap_err(),
                DomainError::Unauthenticated
            );
        }
        let again = f.people.refresh_scim_token(&admin).unwrap();
        let second = again.unmasked_key.unwrap().expose().to_string();
        assert_eq!(
            f.people.authorize_scim(Some(&token)).unwrap_err(),
            DomainError::Unauthenticated
        );
        f.people.authorize_scim(Some(&second)).unwrap();
        enable(&f, &admin, false);
        assert_eq!(
            f.people.authorize_scim(Some(&second)).unwrap_err(),
            DomainError::Unauthenticated
        );
        // An ordinary key is not a SCIM token.
        let body = crate::testing::body(json!({"name": "k", "group_id": 1}));
        let view = f
            .people
            .create_api_key(&admin, api_key::CreateApiKey::parse(&body).unwrap())
            .unwrap();
        enable(&f, &admin, true);
        let ordinary = view.unmasked_key.unwrap().expose().to_string();
        assert_eq!(
            f.people.authorize_scim(Some(&ordinary)).unwrap_err(),
            DomainError::Unauthenticated
        );
    }

    #[test]
    fn only_superusers_handle_the_token() {
        let f = Fixture::new();
        f.admin("admin@x.com");
        let plain = f.caller(f.member("pat@x.com", "Pat", &[]).id);
        assert_eq!(
            f.people.scim_token(&plain).unwrap_err(),
            DomainError::forbidden()
        );
        assert_eq!(
            f.people.refresh_scim_token(&plain).unwrap_err(),
            DomainError::forbidden()
        );
    }
}

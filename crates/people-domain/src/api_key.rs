//! API keys (Metabase 0.49+): a key acts as a user of its own, of type `api-key`, in All Users and the group
//! an administrator chose, sent as `X-Api-Key`. Only the SHA-256 of the whole key is stored: a key carries
//! 256 random bits, so a fast digest is as safe as for session ids, and a request with a key costs no bcrypt.
//! See docs/api-keys.md.

use crate::clock::Timestamp;
use crate::group::Membership;
use crate::id::{ApiKeyId, GroupId, UserId};
use crate::user::User;

/// What a key may be used for: the ordinary kind acts as its user on `/api`; the SCIM token has no user and
/// only provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// An ordinary key (`api_key.scope` NULL).
    Default,
    /// The SCIM token (`api_key.scope = 'scim'`).
    Scim,
}

impl KeyScope {
    /// The stored value: `None` for the ordinary kind.
    pub fn as_stored(self) -> Option<&'static str> {
        match self {
            KeyScope::Default => None,
            KeyScope::Scim => Some("scim"),
        }
    }

    /// The scope a stored value names; an unknown value is treated as SCIM (never usable as `X-Api-Key`).
    pub fn from_stored(value: Option<&str>) -> KeyScope {
        match value {
            None => KeyScope::Default,
            Some(_) => KeyScope::Scim,
        }
    }
}

/// A stored key (never its secret: only `key_prefix`, the first 7 characters, is kept in the clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// The user the key acts as; `None` only for the SCIM token.
    pub user_id: Option<UserId>,
    /// Unique name.
    pub name: String,
    /// `mb_` and the next 4 characters of the key; unique.
    pub key_prefix: String,
    /// Who created it.
    pub creator_id: UserId,
    /// Who changed it last.
    pub updated_by_id: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was changed last.
    pub updated_at: Timestamp,
    /// What it is for.
    pub scope: KeyScope,
}

/// A key to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The user it acts as (`None` for the SCIM token).
    pub user_id: Option<UserId>,
    /// Unique name.
    pub name: String,
    /// Lower-case hex SHA-256 of the whole key.
    pub digest: String,
    /// The key's first 7 characters; unique.
    pub key_prefix: String,
    /// The creating (and updating) user.
    pub creator_id: UserId,
    /// Creation time (also `updated_at`).
    pub created_at: Timestamp,
    /// What it is for.
    pub scope: KeyScope,
}

/// A key's changeable columns, written by [`crate::store::Repo::update_api_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyChange {
    /// New name.
    pub name: String,
    /// A new secret (regenerate); `None` keeps the key.
    pub secret: Option<KeySecret>,
    /// Who changes it.
    pub updated_by_id: UserId,
    /// When.
    pub updated_at: Timestamp,
}

/// What is stored of a key's secret: its SHA-256 and its first 7 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySecret {
    /// Lower-case hex SHA-256 of the whole key.
    pub digest: String,
    /// The key's first 7 characters; unique.
    pub prefix: String,
}

impl KeySecret {
    /// The stored parts of `key`.
    pub fn of(key: &str) -> KeySecret {
        KeySecret {
            digest: crate::session::sha256_hex(key),
            prefix: key.chars().take(PREFIX_LENGTH).collect(),
        }
    }
}

/// The user a key acts as, with their memberships, found by the key's digest in one query.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHolder {
    /// The backing user.
    pub user: User,
    /// Their memberships, ordered by group id.
    pub memberships: Vec<Membership>,
}

/// The group a key's user is in besides All Users (the first by id), or All Users.
pub fn key_group(memberships: &[Membership], all_users: GroupId) -> GroupId {
    memberships
        .iter()
        .map(|m| m.group_id)
        .find(|g| *g != all_users)
        .unwrap_or(all_users)
}

// ----- commands -----

use base64::Engine as _;
use rand::RngExt;
use serde_json::{Map, Value};

use crate::error::{DomainError, Result};
use crate::group::{Group, GroupRole, ADMINISTRATORS_ID, ALL_USERS_ID};
use crate::service::People;
use crate::session::{sha256_hex, Caller, Credential, Secret};
use crate::store::{NewMembership, Repo};
use crate::user::{NewUser, UserType};
use crate::validate::{self, Presence};

/// 400 text for a second key with the same name.
pub const NAME_TAKEN: &str = "An API key with this name already exists.";
/// 400 text for a group that does not exist.
pub const NO_SUCH_GROUP: &str = "value must be the id of an existing group.";
/// 400 text for a name over [`NAME_LIMIT`] characters.
pub const NAME_TOO_LONG: &str = "value must be a string with at most 254 characters.";
/// Longest key name (`api_key.name` is a varchar(254)).
pub const NAME_LIMIT: usize = 254;
/// Length of a key: `mb_` and the Base64 of 32 random bytes.
pub const KEY_LENGTH: usize = 47;
/// Length of the stored prefix.
pub const PREFIX_LENGTH: usize = 7;
/// Tries at a key whose prefix no other key has, as Metabase makes (then it gives up).
const PREFIX_TRIES: usize = 5;

fn checked_name(v: Option<&Value>, presence: Presence) -> Result<Option<String>> {
    let name = validate::non_blank("name", v, presence)?;
    if let Some(n) = &name {
        if n.chars().count() > NAME_LIMIT {
            return Err(DomainError::rule("name", NAME_TOO_LONG));
        }
    }
    Ok(name)
}

/// `POST /api/api-key`: a new key's name and group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateApiKey {
    /// Unique, non-blank, at most 254 characters.
    pub name: String,
    /// The group the key's user joins besides All Users (Administrators makes it a superuser).
    pub group_id: GroupId,
}

impl CreateApiKey {
    /// Reads `{"group_id": …, "name": …}` in Metabase's order.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let group_id =
            validate::positive_int("group_id", body.get("group_id"), Presence::Required)?
                .map(GroupId)
                .unwrap_or(ALL_USERS_ID);
        let name = checked_name(body.get("name"), Presence::Required)?.unwrap_or_default();
        Ok(CreateApiKey { name, group_id })
    }
}

/// `PUT /api/api-key/:id`: a new name, a new group, both or neither (absent or null leaves it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateApiKey {
    /// New name.
    pub name: Option<String>,
    /// New group.
    pub group_id: Option<GroupId>,
}

impl UpdateApiKey {
    /// Reads `{"group_id": …, "name": …}`, both optional.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let group_id =
            validate::positive_int("group_id", body.get("group_id"), Presence::Nullable)?
                .map(GroupId);
        let name = checked_name(body.get("name"), Presence::Nullable)?;
        Ok(UpdateApiKey { name, group_id })
    }
}

// ----- what the use cases answer -----

/// A key as the API shows it: the stored key, its user's group, who changed it last, and the key itself
/// only right after it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyView {
    /// The stored key.
    pub key: ApiKey,
    /// The group of its user besides All Users (All Users when there is none).
    pub group: Group,
    /// Who changed it last: id and common name (`None` if that user is gone).
    pub updated_by: Option<(UserId, String)>,
    /// The whole key, only in the answers of create and regenerate.
    pub unmasked_key: Option<Secret>,
}

impl ApiKeyView {
    /// `mb_AbCd` followed by `*` up to the length of a key: all that can be shown of a stored key.
    pub fn masked_key(&self) -> String {
        masked(&self.key.key_prefix)
    }
}

/// A key's prefix followed by `*` up to the length of a key.
pub fn masked(prefix: &str) -> String {
    let shown = prefix.chars().count();
    format!("{prefix}{}", "*".repeat(KEY_LENGTH.saturating_sub(shown)))
}

/// A fresh key: `mb_` and the standard Base64 of 32 random bytes (47 characters).
fn generate_key() -> Secret {
    let bytes: [u8; 32] = rand::rng().random();
    Secret::new(format!(
        "mb_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// A fresh key whose prefix no stored key has (a few tries, as Metabase makes).
pub(crate) fn key_with_unique_prefix(repo: &mut dyn Repo) -> Result<Secret> {
    for _ in 0..PREFIX_TRIES {
        let key = generate_key();
        if !repo.api_key_prefix_taken(&KeySecret::of(key.expose()).prefix)? {
            return Ok(key);
        }
    }
    Err(DomainError::Internal(
        "could not generate key with unique prefix".to_string(),
    ))
}

/// Whether a header value can be an API key at all: `mb_…`, 12 to 254 characters. Anything else is ignored
/// (the request stays anonymous) without a database lookup.
pub fn plausible_key(raw: &str) -> bool {
    raw.starts_with("mb_") && (12..=254).contains(&raw.len())
}

/// The group `group_id`, or the 400 for a group that does not exist.
fn existing_group(repo: &mut dyn Repo, group_id: GroupId) -> Result<Group> {
    repo.group_by_id(group_id)?
        .ok_or_else(|| DomainError::rule("group_id", NO_SUCH_GROUP))
}

/// Makes `user`'s memberships All Users and `group` (replacing any other group); Administrators makes the
/// user a superuser, leaving it ends that.
fn set_key_group(repo: &mut dyn Repo, user_id: UserId, group: GroupId) -> Result<()> {
    let current = repo.memberships_of(&[user_id])?;
    for m in &current {
        if m.group_id != ALL_USERS_ID && m.group_id != group {
            repo.delete_membership(m.id)?;
        }
    }
    let mut wanted = vec![ALL_USERS_ID];
    if group != ALL_USERS_ID {
        wanted.push(group);
    }
    for g in wanted {
        if !current.iter().any(|m| m.group_id == g) {
            repo.insert_membership(&NewMembership {
                user_id,
                group_id: g,
                role: GroupRole::Member,
            })?;
        }
    }
    if let Some(mut user) = repo.lock_user(user_id)? {
        let admin = group == ADMINISTRATORS_ID;
        if user.is_superuser != admin {
            user.is_superuser = admin;
            repo.update_user(&user)?;
        }
    }
    Ok(())
}

/// A name clash found by the database (a concurrent request took the name first) is the ordinary 400.
fn name_clash(e: DomainError) -> DomainError {
    match &e {
        DomainError::Store(crate::error::StoreFailure::Unique(c)) if c.contains("name") => {
            DomainError::rule("name", NAME_TAKEN)
        }
        _ => e,
    }
}

impl People {
    fn view(
        &self,
        repo: &mut dyn Repo,
        key: ApiKey,
        unmasked: Option<Secret>,
    ) -> Result<ApiKeyView> {
        let memberships = match key.user_id {
            Some(u) => repo.memberships_of(&[u])?,
            None => Vec::new(),
        };
        let group_id = key_group(&memberships, ALL_USERS_ID);
        let group = repo.group_by_id(group_id)?.unwrap_or(Group {
            id: ALL_USERS_ID,
            name: crate::group::ALL_USERS_NAME.to_string(),
            entity_id: None,
        });
        let updated_by = repo
            .user_by_id(key.updated_by_id)?
            .map(|u| (u.id, u.common_name()));
        Ok(ApiKeyView {
            key,
            group,
            updated_by,
            unmasked_key: unmasked,
        })
    }

    /// `POST /api/api-key`: a superuser makes a key and its user (no password at all), in one transaction.
    /// The answer is the only place the key is ever shown.
    pub fn create_api_key(&self, caller: &Caller, command: CreateApiKey) -> Result<ApiKeyView> {
        caller.require_superuser()?;
        let CreateApiKey { name, group_id } = command;
        let now = self.clock.now();
        let view = self.store.write(|repo| {
            if repo.api_key_name_taken(&name, None)? {
                return Err(DomainError::rule("name", NAME_TAKEN));
            }
            existing_group(repo, group_id)?;
            let key = key_with_unique_prefix(repo)?;
            let user = repo.insert_user(&NewUser {
                email: format!("api-key-user-{}@api-key.invalid", uuid::Uuid::new_v4()),
                first_name: Some(name.clone()),
                last_name: Some(String::new()),
                password: None,
                is_superuser: false,
                login_attributes: None,
                locale: None,
                sso_source: None,
                date_joined: now,
                user_type: UserType::ApiKey,
                entity_id: Some(crate::group::new_entity_id()),
                external_id: None,
            })?;
            set_key_group(repo, user.id, group_id)?;
            let secret = KeySecret::of(key.expose());
            let stored = repo
                .insert_api_key(&NewApiKey {
                    user_id: Some(user.id),
                    name: name.clone(),
                    digest: secret.digest,
                    key_prefix: secret.prefix,
                    creator_id: caller.user.id,
                    created_at: now,
                    scope: KeyScope::Default,
                })
                .map_err(name_clash)?;
            self.view(repo, stored, Some(key))
        })?;
        log::info!(
            "user {} created API key {} ({})",
            caller.user.id,
            view.key.id,
            view.key.key_prefix
        );
        Ok(view)
    }

    /// `GET /api/api-key`: every ordinary key, by id (superusers).
    pub fn list_api_keys(&self, caller: &Caller) -> Result<Vec<ApiKeyView>> {
        caller.require_superuser()?;
        self.store.read(|repo| {
            let keys = repo.api_keys(KeyScope::Default)?;
            keys.into_iter().map(|k| self.view(repo, k, None)).collect()
        })
    }

    /// `GET /api/api-key/count` (superusers).
    pub fn count_api_keys(&self, caller: &Caller) -> Result<i64> {
        caller.require_superuser()?;
        self.store
            .read(|repo| repo.count_api_keys(KeyScope::Default))
    }

    /// `PUT /api/api-key/:id`: renames the key (and its user's first name) and/or moves its user to another
    /// group, in one transaction.
    pub fn update_api_key(
        &self,
        caller: &Caller,
        id: ApiKeyId,
        command: UpdateApiKey,
    ) -> Result<ApiKeyView> {
        caller.require_superuser()?;
        let now = self.clock.now();
        let view = self.store.write(|repo| {
            let key = repo
                .lock_api_key(id)?
                .filter(|k| k.scope == KeyScope::Default)
                .ok_or(DomainError::NotFound)?;
            if let Some(group_id) = command.group_id {
                existing_group(repo, group_id)?;
            }
            if let Some(name) = &command.name {
                if repo.api_key_name_taken(name, Some(id))? {
                    return Err(DomainError::rule("name", NAME_TAKEN));
                }
            }
            if let Some(user_id) = key.user_id {
                if let Some(group_id) = command.group_id {
                    set_key_group(repo, user_id, group_id)?;
                }
                if let Some(name) = &command.name {
                    if let Some(mut user) = repo.lock_user(user_id)? {
                        user.first_name = Some(name.clone());
                        user.last_name = Some(String::new());
                        user.updated_at = now;
                        repo.update_user(&user)?;
                    }
                }
            }
            let change = ApiKeyChange {
                name: command.name.clone().unwrap_or_else(|| key.name.clone()),
                secret: None,
                updated_by_id: caller.user.id,
                updated_at: now,
            };
            repo.update_api_key(id, &change).map_err(name_clash)?;
            let key = repo.lock_api_key(id)?.ok_or(DomainError::NotFound)?;
            self.view(repo, key, None)
        })?;
        log::info!(
            "user {} updated API key {} ({})",
            caller.user.id,
            view.key.id,
            view.key.key_prefix
        );
        Ok(view)
    }

    /// `PUT /api/api-key/:id/regenerate`: a new key replaces the old one, which stops working at once.
    pub fn regenerate_api_key(&self, caller: &Caller, id: ApiKeyId) -> Result<ApiKeyView> {
        caller.require_superuser()?;
        let now = self.clock.now();
        let (view, old_prefix) = self.store.write(|repo| {
            let key = repo
                .lock_api_key(id)?
                .filter(|k| k.scope == KeyScope::Default)
                .ok_or(DomainError::NotFound)?;
            let secret = key_with_unique_prefix(repo)?;
            let change = ApiKeyChange {
                name: key.name.clone(),
                secret: Some(KeySecret::of(secret.expose())),
                updated_by_id: caller.user.id,
                updated_at: now,
            };
            repo.update_api_key(id, &change)?;
            let stored = repo.lock_api_key(id)?.ok_or(DomainError::NotFound)?;
            Ok((self.view(repo, stored, Some(secret))?, key.key_prefix))
        })?;
        log::info!(
            "user {} regenerated API key {} ({} -> {})",
            caller.user.id,
            view.key.id,
            old_prefix,
            view.key.key_prefix
        );
        Ok(view)
    }

    /// `DELETE /api/api-key/:id`: deletes the key and deactivates its user (kept for history), in one
    /// transaction. The key stops working at once.
    pub fn delete_api_key(&self, caller: &Caller, id: ApiKeyId) -> Result<()> {
        caller.require_superuser()?;
        let now = self.clock.now();
        let prefix = self.store.write(|repo| {
            let key = repo
                .lock_api_key(id)?
                .filter(|k| k.scope == KeyScope::Default)
                .ok_or(DomainError::NotFound)?;
            repo.delete_api_key(id)?;
            if let Some(user_id) = key.user_id {
                if let Some(mut user) = repo.lock_user(user_id)? {
                    user.is_active = false;
                    user.updated_at = now;
                    repo.update_user(&user)?;
                }
            }
            Ok(key.key_prefix)
        })?;
        log::info!("user {} deleted API key {id} ({prefix})", caller.user.id);
        Ok(())
    }

    /// A key made from the command line (`people api-key create`), for provisioning an instance without a
    /// browser: as [`People::create_api_key`], recorded as made by the first active administrator (there
    /// must be one). `group` is a group's id or its name (ignoring case).
    pub fn provision_api_key(&self, name: &str, group: &str) -> Result<ApiKeyView> {
        let admin = self
            .store
            .read(|r| r.active_superusers())?
            .into_iter()
            .next()
            .ok_or_else(|| {
                DomainError::Disallowed(
                    "There is no administrator yet: create one first (setup or create-admin)."
                        .to_string(),
                )
            })?;
        let group_id = match validate::parse_positive_int(group) {
            Some(id) => GroupId(id),
            None => self
                .store
                .read(|r| r.group_by_name(group))?
                .map(|g| g.id)
                .ok_or_else(|| DomainError::rule("group_id", NO_SUCH_GROUP))?,
        };
        let mut body = Map::new();
        body.insert("name".into(), Value::String(name.to_string()));
        body.insert("group_id".into(), Value::from(group_id.0));
        let command = CreateApiKey::parse(&body)?;
        let caller = Caller {
            memberships: self.store.read(|r| r.memberships_of(&[admin.id]))?,
            user: admin,
            credential: Credential::ApiKey,
            first_login: None,
        };
        self.create_api_key(&caller, command)
    }

    /// The caller an `X-Api-Key` value stands for: the key's active user with their memberships, found in
    /// one query by the key's SHA-256; `None` (anonymous) for anything else. No bcrypt, nothing written.
    pub fn try_authenticate_key(&self, raw: &str) -> Result<Option<Caller>> {
        if !plausible_key(raw) {
            return Ok(None);
        }
        let digest = sha256_hex(raw);
        let Some(holder) = self.store.read(|r| r.key_holder(&digest))? else {
            return Ok(None);
        };
        if !holder.user.is_active || holder.user.user_type != UserType::ApiKey {
            return Ok(None);
        }
        Ok(Some(Caller {
            user: holder.user,
            memberships: holder.memberships,
            credential: Credential::ApiKey,
            first_login: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::UserQuery;
    use crate::testing::{body, Fixture};
    use crate::validate::msg;

    fn create(f: &Fixture, caller: &Caller, b: Value) -> Result<ApiKeyView> {
        f.people
            .create_api_key(caller, CreateApiKey::parse(&body(b))?)
    }

    fn update(f: &Fixture, caller: &Caller, id: ApiKeyId, b: Value) -> Result<ApiKeyView> {
        f.people
            .update_api_key(caller, id, UpdateApiKey::parse(&body(b))?)
    }

    fn key_of(view: &ApiKeyView) -> String {
        view.unmasked_key
            .as_ref()
            .expect("shown once")
            .expose()
            .to_string()
    }

    fn invalid(r: Result<ApiKeyView>, param: &str, message: &str) {
        match r {
            Err(DomainError::Invalid {
                param: p,
                message: m,
                ..
            }) => {
                assert_eq!((p.as_str(), m.as_str()), (param, message));
            }
            other => panic!("expected 400 on {param}: {other:?}"),
        }
    }

    fn rule(r: Result<ApiKeyView>, field: &str, message: &str) {
        assert_eq!(r.unwrap_err(), DomainError::rule(field, message));
    }

    #[test]
    fn a_new_key_acts_as_its_own_user_in_the_chosen_group() {
        let f = Fixture::new();
        let admin = f.admin("admin@x.com");
        let caller = f.caller(admin.id);
        let group = f
            .people
            .store
            .write(|r| r.insert_group("CI", "ci000000000000000000x"))
            .unwrap();
        let view = create(
            &f,
            &caller,
            json!({"name": "exporter", "group_id": group.id.0}),
        )
        .unwrap();
        let key = key_of(&view);
        assert_eq!(key.len(), KEY_LENGTH);
        assert!(key.starts_with("mb_"));
        assert_eq!(
            view.masked_key(),
            format!("{}{}", &key[..7], "*".repeat(40))
        );
        assert_eq!(view.group.name, "CI");
        assert_eq!(view.updated_by, Some((admin.id, admin.common_name())));

        let as_key = f
            .people
            .try_authenticate_key(&key)
            .unwrap()
            .expect("the key authenticates");
        assert_eq!(as_key.credential, Credential::ApiKey);
        let user = &as_key.user;
        assert_eq!(user.user_type, UserType::ApiKey);
        assert!(
            user.email.starts_with("api-key-user-") && user.email.ends_with("@api-key.invalid")
        );
        assert_eq!(
            (user.first_name.as_deref(), user.last_name.as_deref()),
            (Some("exporter"), Some(""))
        );
        assert_eq!(user.password_hash, None, "no password at all");
        assert!(!user.is_superuser);
        let groups: Vec<_> = as_key.memberships.iter().map(|m| m.group_id).collect();
        assert_eq!(groups, vec![ALL_USERS_ID, group.id]);
        // Only the digest is stored.
        let stored = f
            .store
            .snapshot()
            .api_keys
            .values()
            .next()
            .cloned()
            .unwrap();
        assert_eq!(stored.1, sha256_hex(&key));
        // Key users are not people: not listed, not able to sign in.
        let (listed, _) = f
            .people
            .store
            .read(|r| r.list_users(&UserQuery::default()))
            .unwrap();
        assert!(listed.iter().all(|u| u.id != user.id));
        assert!(f.login(&user.email, "anything1").is_err());
    }

    #[test]
    fn a_key_in_administrators_is_a_superuser_but_not_the_last_admin() {
        let f = Fixture::new();
        let admin = f.admin("admin@x.com");
        let caller = f.caller(admin.id);
        let view = create(
            &f,
            &caller,
            json!({"name": "ops", "group_id": ADMINISTRATORS_ID.0}),
        )
        .unwrap();
        let as_key = f
            .people
            .try_authenticate_key(&key_of(&view))
            .unwrap()
            .unwrap();
        assert!(as_key.is_superuser());
        // The key may manage keys itself.
        assert_eq!(f.people.count_api_keys(&as_key).unwrap(), 1);
        // The only person in Administrators stays: the key does not count.
        let err = f.people.deactivate_user(&as_key, admin.id).unwrap_err();
        assert_eq!(
            err,
            DomainError::Disallowed(crate::membership::LAST_ADMIN_RULE.to_string())
        );
        // A key's user is not managed through the user API.
        let r = f.people.deactivate_user(&caller, as_key.user.id);
        assert_eq!(r.unwrap_err(), DomainError::NotFound);
    }

    #[test]
    fn bad_input_gets_metabase_messages_and_people_fixes() {
        let f = Fixture::new();
        let caller = f.caller(f.admin("admin@x.com").id);
        invalid(
            create(&f, &caller, json!({"name": "k", "group_id": null})),
            "group_id",
            msg::POSITIVE_INT,
        );
        invalid(
            create(&f, &caller, json!({"name": "", "group_id": 1})),
            "name",
            msg::NON_BLANK,
        );
        invalid(
            create(&f, &caller, json!({"name": "   ", "group_id": 1})),
            "name",
            msg::NON_BLANK,
        );
        rule(
            create(&f, &caller, json!({"name": "k".repeat(255), "group_id": 1})),
            "name",
            NAME_TOO_LONG,
        );
        rule(
            create(&f, &caller, json!({"name": "k", "group_id": 999})),
            "group_id",
            NO_SUCH_GROUP,
        );
        let first = create(&f, &caller, json!({"name": "k", "group_id": 1})).unwrap();
        assert_eq!(first.group.name, "All Users", "All Users may be chosen");
        rule(
            create(&f, &caller, json!({"name": "k", "group_id": 1})),
            "name",
            NAME_TAKEN,
        );
        assert!(
            create(&f, &caller, json!({"name": "K", "group_id": 1})).is_ok(),
            "names are case-sensitive"
        );
        // A failed create leaves no user behind.
        let users = f.store.snapshot().users.len();
        assert!(create(&f, &caller, json!({"name": "k", "group_id": 1})).is_err());
        assert_eq!(f.store.snapshot().users.len(), users);
    }

    #[test]
    fn only_superusers_manage_keys() {
        let f = Fixture::new();
        let admin = f.caller(f.admin("admin@x.com").id);
        let view = create(&f, &admin, json!({"name": "k", "group_id": 1})).unwrap();
        let plain = f.caller(f.member("pat@x.com", "Pat", &[]).id);
        let forbidden = DomainError::forbidden();
        assert_eq!(
            create(&f, &plain, json!({"name": "x", "group_id": 1})).unwrap_err(),
            forbidden
        );
        assert_eq!(f.people.list_api_keys(&plain).unwrap_err(), forbidden);
        assert_eq!(f.people.count_api_keys(&plain).unwrap_err(), forbidden);
        assert_eq!(
            update(&f, &plain, view.key.id, json!({"name": "y"})).unwrap_err(),
            forbidden
        );
        assert_eq!(
            f.people
                .regenerate_api_key(&plain, view.key.id)
                .unwrap_err(),
            forbidden
        );
        assert_eq!(
            f.people.delete_api_key(&plain, view.key.id).unwrap_err(),
            forbidden
        );
    }

    #[test]
    fn rename_regroup_regenerate_delete() {
        let f = Fixture::new();
        let caller = f.caller(f.admin("admin@x.com").id);
        let a = create(&f, &caller, json!({"name": "a", "group_id": 1})).unwrap();
        create(&f, &caller, json!({"name": "b", "group_id": 1})).unwrap();
        let id = a.key.id;
        rule(
            update(&f, &caller, id, json!({"name": "b"})),
            "name",
            NAME_TAKEN,
        );
        rule(
            update(&f, &caller, id, json!({"group_id": 999})),
            "group_id",
            NO_SUCH_GROUP,
        );
        rule(
            update(&f, &caller, id, json!({"name": "x".repeat(255)})),
            "name",
            NAME_TOO_LONG,
        );
        assert_eq!(
            update(&f, &caller, ApiKeyId(999), json!({})).unwrap_err(),
            DomainError::NotFound
        );
        let renamed = update(
            &f,
            &caller,
            id,
            json!({"name": "a2", "group_id": ADMINISTRATORS_ID.0}),
        )
        .unwrap();
        assert_eq!(
            (renamed.key.name.as_str(), renamed.group.id),
            ("a2", ADMINISTRATORS_ID)
        );
        assert!(renamed.unmasked_key.is_none());
        let user = f
            .people
            .try_authenticate_key(&key_of(&a))
            .unwrap()
            .unwrap()
            .user;
        assert_eq!(user.first_name.as_deref(), Some("a2"));
        assert!(user.is_superuser);
        let back = update(&f, &caller, id, json!({"group_id": 1, "name": null})).unwrap();
        assert_eq!(
            (back.key.name.as_str(), back.group.id),
            ("a2", ALL_USERS_ID)
        );
        assert!(!f
            .people
            .try_authenticate_key(&key_of(&a))
            .unwrap()
            .unwrap()
            .is_superuser());

        let fresh = f.people.regenerate_api_key(&caller, id).unwrap();
        assert!(
            f.people
                .try_authenticate_key(&key_of(&a))
                .unwrap()
                .is_none(),
            "the old key stops"
        );
        let user_id = f
            .people
            .try_authenticate_key(&key_of(&fresh))
            .unwrap()
            .unwrap()
            .user
            .id;
        assert_eq!(f.people.list_api_keys(&caller).unwrap().len(), 2);

        f.people.delete_api_key(&caller, id).unwrap();
        assert!(f
            .people
            .try_authenticate_key(&key_of(&fresh))
            .unwrap()
            .is_none());
        assert!(
            !f.store.user(user_id).unwrap().is_active,
            "the user stays, deactivated"
        );
        assert_eq!(f.people.count_api_keys(&caller).unwrap(), 1);
        assert_eq!(
            f.people.delete_api_key(&caller, id).unwrap_err(),
            DomainError::NotFound
        );
        assert_eq!(
            f.people.regenerate_api_key(&caller, id).unwrap_err(),
            DomainError::NotFound
        );
    }

    #[test]
    fn a_deleted_group_leaves_its_keys_in_all_users() {
        let f = Fixture::new();
        let caller = f.caller(f.admin("admin@x.com").id);
        let group = f
            .people
            .store
            .write(|r| r.insert_group("Gone", "gone00000000000000000"))
            .unwrap();
        let view = create(&f, &caller, json!({"name": "k", "group_id": group.id.0})).unwrap();
        f.people
            .store
            .write(|r| {
                r.delete_group_memberships(group.id)?;
                r.delete_group(group.id)
            })
            .unwrap();
        let listed = f.people.list_api_keys(&caller).unwrap();
        assert_eq!(listed[0].group.id, ALL_USERS_ID);
        assert!(f
            .people
            .try_authenticate_key(&key_of(&view))
            .unwrap()
            .is_some());
        f.people.delete_api_key(&caller, view.key.id).unwrap();
    }

    #[test]
    fn keys_can_be_provisioned_from_the_command_line() {
        let f = Fixture::new();
        assert!(matches!(
            f.people.provision_api_key("ci", "All Users"),
            Err(DomainError::Disallowed(_))
        ));
        let admin = f.admin("admin@x.com");
        let by_name = f.people.provision_api_key("ci", "administrators").unwrap();
        assert_eq!(by_name.group.id, ADMINISTRATORS_ID);
        assert_eq!(
            by_name.updated_by.as_ref().map(|(id, _)| *id),
            Some(admin.id)
        );
        assert!(f
            .people
            .try_authenticate_key(&key_of(&by_name))
            .unwrap()
            .unwrap()
            .is_superuser());
        let by_id = f.people.provision_api_key("reader", "1").unwrap();
        assert_eq!(by_id.group.id, ALL_USERS_ID);
        rule(
            f.people.provision_api_key("x", "No Such Group"),
            "group_id",
            NO_SUCH_GROUP,
        );
        rule(f.people.provision_api_key("ci", "1"), "name", NAME_TAKEN);
    }

    #[test]
    fn only_plausible_values_are_looked_up() {
        for raw in [
            "",
            "mb_",
            "mb_short",
            "Bearer mb_xxxxxxxxxxxxxxxx",
            &format!("mb_{}", "x".repeat(252)),
        ] {
            assert!(!plausible_key(raw), "{raw}");
        }
        assert!(plausible_key(
            "mb_UGXWibc0YbG+s9AClYhUTDk0bw3Wxe9GqQraBWcBvnQ="
        ));
        let f = Fixture::new();
        assert!(f
            .people
            .try_authenticate_key("mb_not_an_api_key")
            .unwrap()
            .is_none());
    }
}

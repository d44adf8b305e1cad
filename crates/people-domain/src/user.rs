//! Users: the `core_user` record and what is derived from it.

use std::fmt;

use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::error::{DomainError, Result};
use crate::group::{GroupRole, Membership, ADMINISTRATORS_ID};
use crate::id::{GroupId, UserId};
use crate::mail::InviteKind;
use crate::membership::{self, check_groups_exist, guard_last_admin, Editor};
use crate::password::PasswordHash;
use crate::password::{read_password, HashesPassword};
use crate::query::{param, QueryParams};
use crate::service::People;
use crate::session::{Caller, History, Persistence, Secret, SessionGrant};
use crate::store::{Activity, NewMembership, Page, Repo, UserOrder, UserQuery};
use crate::validate::{self, limit, Field, MembershipSpec, Presence};

/// Metabase's internal user id. people has no internal user: this id is simply a user that does not
/// exist, but the id is refused where Metabase refuses it.
pub const INTERNAL_USER_ID: UserId = UserId(13_371_338);

/// What kind of account a user is (`core_user.type`): only personal accounts are listed, invited or signed in
/// with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserType {
    /// An ordinary account.
    #[default]
    Personal,
    /// Metabase's internal user.
    Internal,
    /// The user behind an API key.
    ApiKey,
}

impl UserType {
    /// The column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Personal => "personal",
            UserType::Internal => "internal",
            UserType::ApiKey => "api-key",
        }
    }

    /// The type a column value names, if any.
    pub fn parse(value: &str) -> Option<Self> {
        [UserType::Personal, UserType::Internal, UserType::ApiKey]
            .into_iter()
            .find(|t| t.as_str() == value)
    }
}

impl PartialEq<&str> for UserType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Where an account signs in when not with a people password (`core_user.sso_source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoSource {
    /// Google sign-in.
    Google,
    /// An LDAP directory.
    Ldap,
    /// SAML.
    Saml,
    /// JWT.
    Jwt,
    /// SCIM provisioning.
    Scim,
    /// Any other value found in the column, kept as it is.
    Other(String),
}

impl SsoSource {
    /// The column's value.
    pub fn as_str(&self) -> &str {
        match self {
            SsoSource::Google => "google",
            SsoSource::Ldap => "ldap",
            SsoSource::Saml => "saml",
            SsoSource::Jwt => "jwt",
            SsoSource::Scim => "scim",
            SsoSource::Other(s) => s,
        }
    }

    /// Google and LDAP: the sources Metabase's OSS edition signs in with itself. Their users' emails are
    /// only changed by superusers, and reactivation drops them (people has neither sign-in).
    pub fn is_oss_sign_in(&self) -> bool {
        matches!(self, SsoSource::Google | SsoSource::Ldap)
    }
}

impl From<&str> for SsoSource {
    fn from(value: &str) -> Self {
        match value {
            "google" => SsoSource::Google,
            "ldap" => SsoSource::Ldap,
            "saml" => SsoSource::Saml,
            "jwt" => SsoSource::Jwt,
            "scim" => SsoSource::Scim,
            other => SsoSource::Other(other.to_string()),
        }
    }
}

/// One row of `core_user`.
#[derive(Clone, PartialEq)]
pub struct User {
    /// Id (positive).
    pub id: UserId,
    /// Always lower-case.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// bcrypt hash; `None` for a user created without a password.
    pub password_hash: Option<String>,
    /// Salt prefixed to the password before hashing.
    pub password_salt: Option<String>,
    /// Creation time.
    pub date_joined: Timestamp,
    /// Last successful login.
    pub last_login: Option<Timestamp>,
    /// Member of Administrators.
    pub is_superuser: bool,
    /// False once deactivated.
    pub is_active: bool,
    /// SHA-256 (hex) of the outstanding reset token.
    pub reset_token: Option<String>,
    /// When the reset token was issued, epoch milliseconds.
    pub reset_triggered: Option<i64>,
    /// Has not dismissed the "new to querying" modal.
    pub is_qbnewb: bool,
    /// Has not dismissed the "new to datasets" modal.
    pub is_datasetnewb: bool,
    /// Free-form attributes (a JSON object).
    pub login_attributes: Option<Map<String, Value>>,
    /// Last change.
    pub updated_at: Timestamp,
    /// Where the account signs in, for accounts from an SSO source; `None` for API-created users.
    pub sso_source: Option<SsoSource>,
    /// Normalised locale (`en`, `es_MX`).
    pub locale: Option<String>,
    /// Per-user settings (JSON text), kept as stored.
    pub settings: Option<String>,
    /// Personal, internal or API key.
    pub user_type: UserType,
    /// The stable public id SCIM knows the user by (21 characters of the NanoID alphabet); assigned on
    /// insert, back-filled for older rows. `None` only for rows written by tools that bypass people.
    pub entity_id: Option<String>,
    /// The identity provider's own id for the user (SCIM `externalId`), as it sent it.
    pub external_id: Option<String>,
    /// When SCIM deleted the user: from then on SCIM answers 404 for them while people keeps the row
    /// (deactivated) for its history.
    pub scim_deleted_at: Option<Timestamp>,
    /// SCIM `userName` where it is not the email as written (a login name, or the address in another case);
    /// `None`: the email is the userName.
    pub scim_user_name: Option<String>,
    /// SCIM `displayName` as the identity provider sent it; `None`: derived from the names.
    pub display_name: Option<String>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_superuser", &self.is_superuser)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Metabase's `common_name`: "first last" trimmed, a missing part as empty; the email when both are null.
    pub fn common_name(&self) -> String {
        common_name(
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            &self.email,
        )
    }

    /// Sets a new email address. An outstanding reset or invite token is cleared with it, so that a link sent
    /// to the old address (a typo, a former owner) stops working; sessions are kept. Returns whether the
    /// address changed.
    pub fn change_email(&mut self, email: &str) -> bool {
        if self.email == email {
            return false;
        }
        self.email = email.to_string();
        self.reset_token = None;
        self.reset_triggered = None;
        true
    }

    /// True for ordinary accounts (not internal or API-key users).
    pub fn is_personal(&self) -> bool {
        self.user_type == UserType::Personal
    }
}

/// `common_name` from its parts.
pub fn common_name(first: Option<&str>, last: Option<&str>, email: &str) -> String {
    if first.is_none() && last.is_none() {
        return email.to_string();
    }
    format!("{} {}", first.unwrap_or(""), last.unwrap_or(""))
        .trim()
        .to_string()
}

/// What the store needs to insert a user.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    /// Lower-cased, validated.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Hash of the initial password; `None` creates a user who cannot log in until they set one.
    pub password: Option<PasswordHash>,
    /// Superuser at insert.
    pub is_superuser: bool,
    /// Attributes.
    pub login_attributes: Option<Map<String, Value>>,
    /// Normalised locale.
    pub locale: Option<String>,
    /// SSO source, if any.
    pub sso_source: Option<SsoSource>,
    /// Creation time (also `updated_at`).
    pub date_joined: Timestamp,
    /// A person, or the user of an API key.
    pub user_type: UserType,
    /// The public id SCIM uses ([`crate::group::new_entity_id`]); the use cases always give one.
    pub entity_id: Option<String>,
    /// The identity provider's id (SCIM `externalId`).
    pub external_id: Option<String>,
}

/// Message for an email that another user already has, on create.
pub const EMAIL_IN_USE: &str = "Email address already in use.";

/// Inserts `new` with its All Users membership (and Administrators for a superuser), inside the caller's
/// transaction. A taken email (also when a concurrent request won the race) is `Email address already in use.`
pub(crate) fn insert_with_memberships(repo: &mut dyn Repo, new: &NewUser) -> Result<User> {
    use crate::group::{ADMINISTRATORS_ID, ALL_USERS_ID};
    if repo.user_by_email(&new.email)?.is_some() {
        return Err(DomainError::rule("email", EMAIL_IN_USE));
    }
    let user = repo.insert_user(new).map_err(|e| {
        if e.is_unique_violation() {
            DomainError::rule("email", EMAIL_IN_USE)
        } else {
            e
        }
    })?;
    repo.insert_membership(&NewMembership {
        user_id: user.id,
        group_id: ALL_USERS_ID,
        role: GroupRole::Member,
    })?;
    if new.is_superuser {
        repo.insert_membership(&NewMembership {
            user_id: user.id,
            group_id: ADMINISTRATORS_ID,
            role: GroupRole::Member,
        })?;
    }
    Ok(user)
}

// ----- use cases -----

/// Message for an email another user already has, on update.
pub const EMAIL_TAKEN: &str = "Email address already associated to another user.";
/// 400 text when `is_superuser` and the membership list disagree.
pub const SUPERUSER_MISMATCH: &str =
    "Value of is_superuser must correspond to presence of Admin group ID in group_ids.";
/// 400 text for reactivating an active user.
pub const ALREADY_ACTIVE: &str = "Not able to reactivate an active user";

/// A user with every membership, ordered by group id.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWithMemberships {
    /// The user.
    pub user: User,
    /// Memberships.
    pub memberships: Vec<Membership>,
}

/// Which columns a caller may see in a user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListView {
    /// Superusers: every admin column, `group_ids`, `personal_collection_id`.
    Admin,
    /// Group managers: the group-manager columns and `group_ids`.
    GroupManager,
}

/// A page of `GET /api/user`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    /// Column set.
    pub view: ListView,
    /// The page.
    pub users: Vec<UserWithMemberships>,
    /// Distinct users matching, ignoring paging.
    pub total: i64,
    /// Effective paging, `None` when the request had none.
    pub page: Option<Page>,
}

/// Which columns recipients are shown with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientView {
    /// Superusers see admin columns.
    Admin,
    /// Group managers see group-manager columns.
    GroupManager,
    /// Others see id, email and names.
    NonAdmin,
    /// Visibility says "just me": the caller in admin columns.
    JustMe,
}

/// `GET /api/user/recipients`.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipients {
    /// Column set.
    pub view: RecipientView,
    /// Users.
    pub users: Vec<User>,
    /// Total ignoring paging.
    pub total: i64,
    /// Effective paging.
    pub page: Option<Page>,
}

/// `GET /api/user/current`.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentUser {
    /// The caller.
    pub caller: Caller,
    /// The installer (id 1) once another user exists.
    pub has_invited_second_user: bool,
    /// Earliest login, or now when there is none.
    pub first_login: Timestamp,
}

/// Outcome of `PUT /api/user/:id/password`.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordChanged {
    /// The caller changed their own password and got a new session.
    Own(SessionGrant),
    /// An admin changed someone else's.
    Other,
}

/// `GET /api/user`: which users, in which order, which page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserListQuery {
    /// Active (the default), deactivated or both.
    pub activity: Activity,
    /// Case-insensitive substring of first name, last name or email.
    pub text: Option<String>,
    /// Only members of this group (group managers must manage it).
    pub group_id: Option<GroupId>,
    /// The page; `None` for every user.
    pub page: Option<Page>,
}

impl UserListQuery {
    /// Reads `status`, `query`, `group_id`, `include_deactivated`, `limit` and `offset` as Metabase does
    /// (`include_deactivated=true` wins over `status`; an unknown `status` means active).
    pub fn parse(params: &QueryParams) -> Result<Self> {
        let page = Page::parse(params)?;
        let status = param(params, "status");
        let text = param(params, "query").filter(|q| !q.is_empty());
        let group_id = validate::positive_int(
            "group_id",
            param(params, "group_id")
                .map(|s| Value::String(s.to_string()))
                .as_ref(),
            Presence::Nullable,
        )?
        .map(GroupId);
        let include_deactivated = validate::boolean_string(
            "include_deactivated",
            param(params, "include_deactivated"),
            Presence::Nullable,
        )?;
        let activity = if include_deactivated == Some(true) {
            Activity::Any
        } else {
            match status {
                Some("all") => Activity::Any,
                Some("deactivated") => Activity::Inactive,
                _ => Activity::Active,
            }
        };
        Ok(UserListQuery {
            activity,
            text: text.map(str::to_string),
            group_id,
            page,
        })
    }
}

/// `POST /api/user`: a new user (an invite).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateUser {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address, lower-cased; unique ignoring case.
    pub email: String,
    /// An initial password (checked against the password policy); `None` leaves the invite link as the only
    /// way in.
    pub password: Option<Secret>,
    /// Groups beyond All Users; `None` for none.
    pub memberships: Option<Vec<MembershipSpec>>,
    /// Free-form attributes (a JSON object).
    pub login_attributes: Option<Map<String, Value>>,
}

impl CreateUser {
    /// Reads the body in Metabase's order: `first_name`, `last_name`, `email`, `user_group_memberships` (or
    /// legacy `group_ids`), `login_attributes`, `password`.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let first = name_param(body, "first_name")?;
        let last = name_param(body, "last_name")?;
        let email = email_param(body, "email", Presence::Required)?.unwrap_or_default();
        let memberships = memberships_param(body)?;
        let attributes = attributes_param(body)?;
        let password = match body.get("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(Secret::new(p.clone())),
            Some(_) => return Err(DomainError::rule("password", validate::msg::PASSWORD)),
        };
        Ok(CreateUser {
            first_name: first.value().cloned(),
            last_name: last.value().cloned(),
            email,
            password,
            memberships,
            login_attributes: attributes.value().cloned(),
        })
    }
}

impl HashesPassword for CreateUser {
    fn hashes_password(&self) -> bool {
        self.password.is_some()
    }
}

/// `PUT /api/user/:id`: the fields to change; absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateUser {
    /// New email address, lower-cased.
    pub email: Option<String>,
    /// New given name (`Null` clears it).
    pub first_name: Field<String>,
    /// New family name.
    pub last_name: Field<String>,
    /// The complete new set of groups.
    pub memberships: Option<Vec<MembershipSpec>>,
    /// Make or unmake a superuser (must agree with `memberships` when both are given).
    pub is_superuser: Option<bool>,
    /// New attributes (superusers only).
    pub login_attributes: Field<Map<String, Value>>,
    /// New locale, normalised (`Null` returns to the site's).
    pub locale: Field<String>,
}

impl UpdateUser {
    /// Reads the body in Metabase's order: `email`, `first_name`, `last_name`, memberships,
    /// `is_superuser`, `is_group_manager` (checked, then ignored as Metabase does), `login_attributes`,
    /// `locale`.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let email = email_param(body, "email", Presence::Nullable)?;
        let first_name = name_param(body, "first_name")?;
        let last_name = name_param(body, "last_name")?;
        let memberships = memberships_param(body)?;
        let is_superuser =
            validate::boolean("is_superuser", body.get("is_superuser"), Presence::Nullable)?;
        validate::boolean(
            "is_group_manager",
            body.get("is_group_manager"),
            Presence::Nullable,
        )?;
        let login_attributes = attributes_param(body)?;
        let locale = Field::from_checked(
            body,
            "locale",
            validate::locale("locale", body.get("locale"), Presence::Nullable)?,
        );
        Ok(UpdateUser {
            email,
            first_name,
            last_name,
            memberships,
            is_superuser,
            login_attributes,
            locale,
        })
    }
}

/// `PUT /api/user/:id/password`: the new password, and the current one when changing one's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePassword {
    /// The new password (checked against the password policy).
    pub password: Secret,
    /// The current password; required of everyone but superusers.
    pub old_password: Option<Secret>,
}

impl ChangePassword {
    /// Reads `{"password": …, "old_password"?: …}`.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let password = read_password("password", body.get("password"))?;
        let old_password = body
            .get("old_password")
            .and_then(Value::as_str)
            .map(Secret::new);
        Ok(ChangePassword {
            password,
            old_password,
        })
    }
}

impl HashesPassword for ChangePassword {}

/// A modal a user can dismiss (`PUT /api/user/:id/modal/:modal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modal {
    /// "New to querying" (`qbnewb`).
    QbNewb,
    /// "New to datasets" (`datasetnewb`).
    DatasetNewb,
}

impl Modal {
    /// The modal named by a path segment; any other name is 400 `Unrecognized modal: …`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "qbnewb" => Ok(Modal::QbNewb),
            "datasetnewb" => Ok(Modal::DatasetNewb),
            other => Err(DomainError::Disallowed(format!(
                "Unrecognized modal: {other}"
            ))),
        }
    }
}

fn name_param(body: &Map<String, Value>, param: &str) -> Result<Field<String>> {
    let v = validate::non_blank(param, body.get(param), Presence::Nullable)?;
    if let Some(n) = &v {
        validate::max_chars(param, n, limit::NAME)?;
    }
    Ok(Field::from_checked(body, param, v))
}

fn email_param(
    body: &Map<String, Value>,
    param: &str,
    presence: Presence,
) -> Result<Option<String>> {
    let e = validate::email(param, body.get(param), presence)?;
    if let Some(e) = &e {
        validate::max_chars(param, e, limit::EMAIL)?;
    }
    Ok(e)
}

/// `user_group_memberships`, or the legacy `group_ids` when the former is absent.
fn memberships_param(body: &Map<String, Value>) -> Result<Option<Vec<MembershipSpec>>> {
    let m = validate::memberships(
        "user_group_memberships",
        body.get("user_group_memberships"),
        Presence::Nullable,
    )?;
    let legacy = validate::group_ids("group_ids", body.get("group_ids"), Presence::Nullable)?;
    Ok(if body.contains_key("user_group_memberships") {
        m
    } else {
        legacy
    })
}

fn attributes_param(body: &Map<String, Value>) -> Result<Field<Map<String, Value>>> {
    let a = validate::login_attributes(
        "login_attributes",
        body.get("login_attributes"),
        Presence::Nullable,
    )?;
    Ok(Field::from_checked(body, "login_attributes", a))
}

/// The user with `id` and their memberships, or 404.
fn load(repo: &mut dyn Repo, id: UserId) -> Result<UserWithMemberships> {
    repo.user_with_memberships(id)?
        .map(|(user, memberships)| UserWithMemberships { user, memberships })
        .ok_or(DomainError::NotFound)
}

impl People {
    /// `GET /api/user`: superusers list everyone; group managers list the members of a group they manage
    /// (`group_id`) or, without it, everyone, with fewer columns.
    pub fn list_users(&self, caller: &Caller, query: UserListQuery) -> Result<UserPage> {
        let UserListQuery {
            activity,
            text,
            group_id,
            page,
        } = query;
        let view = if caller.is_superuser() {
            ListView::Admin
        } else {
            let allowed = match group_id {
                Some(g) => caller.manages(g),
                None => caller.manages_any_group(),
            };
            if !allowed {
                return Err(DomainError::forbidden());
            }
            ListView::GroupManager
        };
        let query = UserQuery {
            activity,
            text,
            group_id,
            shares_group_with: None,
            order: match group_id {
                Some(g) => UserOrder::GroupRank(g),
                None => UserOrder::FirstName,
            },
            page,
        };
        let (users, total) = self.store.read(|r| {
            let (users, total) = r.list_users(&query)?;
            let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
            let memberships = r.memberships_of(&ids)?;
            let users = users
                .into_iter()
                .map(|user| {
                    let memberships = memberships
                        .iter()
                        .filter(|m| m.user_id == user.id)
                        .copied()
                        .collect();
                    UserWithMemberships { user, memberships }
                })
                .collect();
            Ok((users, total))
        })?;
        Ok(UserPage {
            view,
            users,
            total,
            page,
        })
    }

    /// `GET /api/user/current`: everything about the caller, from the data the authentication query already
    /// read (plus a count for the installer only).
    pub fn current_user(&self, caller: Caller) -> Result<CurrentUser> {
        use std::sync::atomic::Ordering;
        let has_invited_second_user = caller.user.id == UserId(1)
            && (self.second_user_exists.load(Ordering::Relaxed) || {
                let more = self.store.read(|r| r.count_users(2))? > 1;
                if more {
                    self.second_user_exists.store(true, Ordering::Relaxed);
                }
                more
            });
        let first_login = caller.first_login.unwrap_or_else(|| self.clock.now());
        Ok(CurrentUser {
            caller,
            has_invited_second_user,
            first_login,
        })
    }

    /// `GET /api/user/:id`: self, superusers and group managers; inactive users too.
    pub fn get_user(&self, caller: &Caller, id: UserId) -> Result<UserWithMemberships> {
        caller.require_self_superuser_or_manager(id)?;
        self.store.read(|r| load(r, id))
    }

    /// `GET /api/user/recipients`: whom the caller may pick as email recipients (`user-visibility`).
    pub fn recipients(&self, caller: &Caller, page: Option<Page>) -> Result<Recipients> {
        let visibility = if caller.is_superuser() {
            "all".to_string()
        } else {
            self.store
                .read(|r| self.setting_value(r, "user-visibility"))?
                .unwrap_or_else(|| "all".to_string())
        };
        let view = if caller.is_superuser() {
            RecipientView::Admin
        } else if caller.manages_any_group() {
            RecipientView::GroupManager
        } else {
            RecipientView::NonAdmin
        };
        if visibility == "none" {
            return Ok(Recipients {
                view: RecipientView::JustMe,
                users: vec![caller.user.clone()],
                total: 1,
                page,
            });
        }
        let in_other_group = caller
            .memberships
            .iter()
            .any(|m| m.group_id != crate::group::ALL_USERS_ID);
        let query = UserQuery {
            activity: Activity::Active,
            shares_group_with: (visibility == "group" && in_other_group).then_some(caller.user.id),
            order: UserOrder::LastName,
            page,
            ..UserQuery::default()
        };
        let (users, total) = self.store.read(|r| r.list_users(&query))?;
        Ok(Recipients {
            view,
            users,
            total,
            page,
        })
    }

    /// `POST /api/user`: a superuser creates (invites) a user, with memberships, in one transaction.
    pub fn create_user(&self, caller: &Caller, command: CreateUser) -> Result<UserWithMemberships> {
        let CreateUser {
            first_name,
            last_name,
            email,
            password,
            memberships,
            login_attributes,
        } = command;
        if let Some(p) = &password {
            let p = p.expose();
            if p.chars().count() > limit::PASSWORD || !self.config.password_policy.is_valid(p) {
                return Err(DomainError::rule("password", validate::msg::PASSWORD));
            }
        }
        caller.require_superuser()?;
        let hash = password.map(|p| self.hasher.hash(p.expose())).transpose()?;
        let new = NewUser {
            email,
            first_name,
            last_name,
            password: hash,
            is_superuser: false,
            login_attributes,
            locale: None,
            sso_source: None,
            date_joined: self.clock.now(),
            user_type: crate::user::UserType::Personal,
            entity_id: Some(crate::group::new_entity_id()),
            external_id: None,
        };
        self.store
            .write(|repo| {
                if let Some(specs) = &memberships {
                    check_groups_exist(repo, "user_group_memberships", specs)?;
                }
                let mut user = insert_with_memberships(repo, &new)?;
                if let Some(specs) = &memberships {
                    let current = repo.memberships_of(&[user.id])?;
                    let admin = membership::replace(
                        repo,
                        Editor::Superuser,
                        user.id,
                        true,
                        &current,
                        specs,
                    )?;
                    user.is_superuser = admin;
                }
                // Writes the superuser flag along with the invite's reset token.
                self.queue_invite(repo, &mut user, Some(&caller.user), InviteKind::Admin)?;
                load(repo, user.id)
            })
            .inspect(|_| self.mail_queued())
    }

    /// `PUT /api/user/:id`: Metabase's checks, in its order, in one transaction.
    pub fn update_user(
        &self,
        caller: &Caller,
        id: UserId,
        command: UpdateUser,
    ) -> Result<UserWithMemberships> {
        let UpdateUser {
            email,
            first_name: first,
            last_name: last,
            memberships,
            is_superuser,
            login_attributes: attributes,
            locale,
        } = command;
        caller.require_self_superuser_or_manager(id)?;
        let may_edit_profile = caller.is(id) || caller.is_superuser();
        self.store.write(|repo| {
            // An API key's user is managed through /api/api-key only.
            let mut target = repo
                .lock_user(id)?
                .filter(|u| u.is_active && u.is_personal())
                .ok_or(DomainError::NotFound)?;
            if let Some(e) = &email {
                let guarded = target
                    .sso_source
                    .as_ref()
                    .is_some_and(SsoSource::is_oss_sign_in);
                if guarded && !caller.is_superuser() && *e != target.email {
                    return Err(DomainError::forbidden());
                }
            }
            if target.sso_source.is_some() {
                if let Some(v) = first.as_update() {
                    if v.map(String::as_str) != target.first_name.as_deref() {
                        return Err(DomainError::rule(
                            "first_name",
                            "Editing first name is not allowed for SSO users.",
                        ));
                    }
                }
                if let Some(v) = last.as_update() {
                    if v.map(String::as_str) != target.last_name.as_deref() {
                        return Err(DomainError::rule(
                            "last_name",
                            "Editing last name is not allowed for SSO users.",
                        ));
                    }
                }
            }
            if let Some(e) = &email {
                if let Some(other) = repo.user_by_email(e)? {
                    if other.id != target.id {
                        return Err(DomainError::rule("email", EMAIL_TAKEN));
                    }
                }
            }

            let mut changed = false;
            if may_edit_profile {
                if let Some(v) = first.as_update() {
                    target.first_name = v.cloned();
                    changed = true;
                }
                if let Some(v) = last.as_update() {
                    target.last_name = v.cloned();
                    changed = true;
                }
                if let Some(v) = locale.as_update() {
                    target.locale = v.cloned();
                    changed = true;
                }
                if email.as_deref().is_some_and(|e| target.change_email(e)) {
                    repo.void_links(target.id, self.clock.now())?;
                    changed = true;
                }
                if caller.is_superuser() {
                    if let Some(v) = attributes.as_update() {
                        target.login_attributes = v.cloned();
                        changed = true;
                    }
                }
            }

            let current = repo.memberships_of(&[target.id])?;
            let was_admin = current.iter().any(|m| m.group_id == ADMINISTRATORS_ID);
            if let Some(specs) = &memberships {
                let admin_in_list = specs.iter().any(|s| s.group_id == ADMINISTRATORS_ID);
                if is_superuser.is_some_and(|s| s != admin_in_list) {
                    return Err(DomainError::rule("is_superuser", SUPERUSER_MISMATCH));
                }
                check_groups_exist(repo, "user_group_memberships", specs)?;
                let editor = if caller.is_superuser() {
                    Editor::Superuser
                } else {
                    Editor::Caller(caller)
                };
                let admin = membership::replace(
                    repo,
                    editor,
                    target.id,
                    target.is_active,
                    &current,
                    specs,
                )?;
                if admin != target.is_superuser {
                    target.is_superuser = admin;
                    changed = true;
                }
            } else if let Some(want) = is_superuser.filter(|_| caller.is_superuser()) {
                if want && !was_admin {
                    repo.insert_membership(&NewMembership {
                        user_id: target.id,
                        group_id: ADMINISTRATORS_ID,
                        role: GroupRole::Member,
                    })?;
                } else if !want && was_admin {
                    guard_last_admin(repo, target.is_active)?;
                    if let Some(m) = current.iter().find(|m| m.group_id == ADMINISTRATORS_ID) {
                        repo.delete_membership(m.id)?;
                    }
                }
                if want != target.is_superuser {
                    target.is_superuser = want;
                    changed = true;
                }
            }
            if changed {
                target.updated_at = self.clock.now();
                repo.update_user(&target).map_err(|e| {
                    if e.is_unique_violation() {
                        DomainError::rule("email", EMAIL_TAKEN)
                    } else {
                        e
                    }
                })?;
            }
            load(repo, id)
        })
    }

    /// `PUT /api/user/:id/password`: policy, the old password for non-superusers, every session dropped, and
    /// a new session when callers change their own.
    pub fn change_password(
        &self,
        caller: &Caller,
        id: UserId,
        command: ChangePassword,
        client: &crate::session::ClientInfo,
    ) -> Result<PasswordChanged> {
        let ChangePassword {
            password,
            old_password,
        } = command;
        self.config.password_policy.require("password", &password)?;
        caller.require_self_or_superuser(id)?;
        let target = self
            .store
            .read(|r| r.user_by_id(id))?
            .filter(|u| u.is_active && u.is_personal())
            .ok_or(DomainError::NotFound)?;
        if !caller.is_superuser() {
            let old = old_password.as_ref().map(Secret::expose).unwrap_or("");
            let ok = match (&target.password_hash, &target.password_salt) {
                (Some(h), salt) => self.hasher.verify(old, salt.as_deref().unwrap_or(""), h)?,
                (None, _) => false,
            };
            if !ok {
                return Err(DomainError::rule("old_password", "Invalid password"));
            }
        }
        let hash = self.hasher.hash(password.expose())?;
        let own = caller.is(id);
        self.store.write(|repo| {
            let mut user = repo.lock_user(id)?.ok_or(DomainError::NotFound)?;
            set_password(&mut user, hash.clone(), self.clock.now());
            repo.update_user(&user)?;
            repo.void_links(user.id, self.clock.now())?;
            repo.delete_user_sessions(user.id, None)?;
            if own {
                Ok(PasswordChanged::Own(self.grant(
                    repo,
                    user.id,
                    client,
                    History::Record,
                    Persistence::BrowserSession,
                )?))
            } else {
                Ok(PasswordChanged::Other)
            }
        })
    }

    /// `PUT /api/user/:id/reactivate`: a superuser brings a deactivated user back, without admin rights.
    pub fn reactivate_user(&self, caller: &Caller, id: UserId) -> Result<User> {
        caller.require_superuser()?;
        self.store.write(|repo| {
            let mut user = repo
                .lock_user(id)?
                .filter(User::is_personal)
                .ok_or(DomainError::NotFound)?;
            if user.is_active {
                return Err(DomainError::AlreadyActive);
            }
            user.is_active = true;
            if user.is_superuser {
                user.is_superuser = false;
            }
            let memberships = repo.memberships_of(&[user.id])?;
            if let Some(m) = memberships.iter().find(|m| m.group_id == ADMINISTRATORS_ID) {
                repo.delete_membership(m.id)?;
            }
            // Metabase keeps `ldap` only while LDAP sign-in is on; Google sign-in is never on in people.
            let keep = match user.sso_source {
                Some(SsoSource::Ldap) => {
                    self.setting_value(repo, "ldap-enabled")?.as_deref() == Some("true")
                }
                Some(SsoSource::Google) => false,
                _ => true,
            };
            if !keep {
                user.sso_source = None;
            }
            user.updated_at = self.clock.now();
            repo.update_user(&user)?;
            Ok(user)
        })
    }

    /// `DELETE /api/user/:id`: a superuser deactivates a user (never the last active administrator); the
    /// user's sessions are deleted. Already inactive is success; unknown is 404.
    pub fn deactivate_user(&self, caller: &Caller, id: UserId) -> Result<()> {
        caller.require_superuser()?;
        self.store.write(|repo| {
            let mut user = repo
                .lock_user(id)?
                .filter(User::is_personal)
                .ok_or(DomainError::NotFound)?;
            if !user.is_active {
                return Ok(());
            }
            let admin = repo
                .memberships_of(&[user.id])?
                .iter()
                .any(|m| m.group_id == ADMINISTRATORS_ID);
            if admin || user.is_superuser {
                guard_last_admin(repo, true)?;
            }
            user.is_active = false;
            user.updated_at = self.clock.now();
            repo.update_user(&user)?;
            repo.delete_user_sessions(user.id, None)?;
            Ok(())
        })
    }

    /// `PUT /api/user/:id/modal/:modal`: dismisses the `qbnewb` or `datasetnewb` modal.
    pub fn dismiss_modal(&self, caller: &Caller, id: UserId, modal: &str) -> Result<()> {
        caller.require_self_or_superuser(id)?;
        let modal = Modal::parse(modal)?;
        self.store.write(|repo| {
            let mut user = repo
                .lock_user(id)?
                .filter(User::is_personal)
                .ok_or(DomainError::NotFound)?;
            match modal {
                Modal::QbNewb => user.is_qbnewb = false,
                Modal::DatasetNewb => user.is_datasetnewb = false,
            }
            repo.update_user(&user)
        })
    }
}

impl People {
    /// `POST /api/user/:id/send_invite`: a superuser re-sends the invite of an active user; an unknown or
    /// inactive id is quietly nothing, as in Metabase; an API key's user is not found.
    pub fn send_invite(&self, caller: &Caller, id: UserId) -> Result<()> {
        caller.require_superuser()?;
        let queued = self.store.write(|repo| match repo.lock_user(id)? {
            // An API key's user is managed through /api/api-key only.
            Some(user) if !user.is_personal() => Err(DomainError::NotFound),
            Some(mut user) if user.is_active => {
                self.queue_invite(repo, &mut user, Some(&caller.user), InviteKind::Admin)?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        if queued {
            self.mail_queued();
        }
        Ok(())
    }
}

impl People {
    /// A fresh invite link for an active person, for a superuser to hand over when no email can carry it
    /// (people's own: Metabase shows a generated password instead). It replaces the person's earlier reset or
    /// invite link, as a new invite email would; nothing is queued. An unknown or inactive id is not found.
    pub fn invite_link(&self, caller: &Caller, id: UserId) -> Result<String> {
        caller.require_superuser()?;
        self.store.write(|repo| {
            let mut user = repo
                .lock_user(id)?
                .filter(|u| u.is_active && u.is_personal())
                .ok_or(DomainError::NotFound)?;
            let token = self.issue_reset_token(repo, &mut user)?;
            let site_url = self.mail_context(repo)?.site_url;
            Ok(format!(
                "{site_url}/auth/reset_password/{}#new",
                token.expose()
            ))
        })
    }
}

/// Stores a new password hash and clears any reset token (Metabase's `set-password!`).
pub(crate) fn set_password(user: &mut User, hash: PasswordHash, now: Timestamp) {
    user.password_hash = Some(hash.hash);
    user.password_salt = Some(hash.salt);
    user.reset_token = None;
    user.reset_triggered = None;
    user.updated_at = now;
}

/// Users for unit tests of other modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// An active, ordinary user with `id`.
    pub(crate) fn user(id: i64) -> User {
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        User {
            id: UserId(id),
            email: format!("u{id}@x.com"),
            first_name: None,
            last_name: None,
            password_hash: None,
            password_salt: None,
            date_joined: t,
            last_login: None,
            is_superuser: false,
            is_active: true,
            reset_token: None,
            reset_triggered: None,
            is_qbnewb: true,
            is_datasetnewb: true,
            login_attributes: None,
            updated_at: t,
            sso_source: None,
            locale: None,
            settings: None,
            user_type: UserType::Personal,
            entity_id: None,
            external_id: None,
            scim_deleted_at: None,
            scim_user_name: None,
            display_name: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_rules() {
        assert_eq!(
            common_name(Some("Rasta"), Some("Toucan"), "r@x.com"),
            "Rasta Toucan"
        );
        assert_eq!(common_name(Some("Blue"), None, "b@x.com"), "Blue");
        assert_eq!(common_name(None, Some("Apron"), "a@x.com"), "Apron");
        assert_eq!(common_name(None, None, "n@x.com"), "n@x.com");
        assert_eq!(common_name(Some(""), None, "n@x.com"), "");
    }
}

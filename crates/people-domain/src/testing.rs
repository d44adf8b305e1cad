//! Test support (feature `testing`, and this crate's own tests): in-memory fakes of the ports, namely
//! [`MemoryStore`] (the storage ports, with the semantics of people-store's Diesel implementation) and a
//! trivial [`EmailTemplates`] renderer; a [`Fixture`] that assembles a [`People`] over them with a
//! [`ManualClock`] and a cheap bcrypt cost; and the [`contract`] every implementation of the storage ports
//! must pass.
//!
//! The fake mirrors the real store's observable behaviour, which the [`contract`] checks on the fake and on
//! both Diesel back ends alike: case-insensitive unique emails and group names, the unique (user, group)
//! membership, foreign keys (`StoreFailure::ForeignKey`), cascades (`ON DELETE SET NULL` of a login's
//! session), the list orderings (NULL names last), `search_text` matching, the outbox's leases, and
//! transactions (everything a failed unit of work did is rolled back). It is stricter in one place, so that a
//! use case that swallows a store error and carries on is caught here rather than in production: like
//! PostgreSQL, a transaction in which a statement failed refuses every further statement, and its commit
//! fails (PostgreSQL rolls such a unit back without an error; SQLite would commit the statements that
//! worked).

pub mod contract;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::TimeZone;
use serde_json::{Map, Value};

use crate::api_key::{ApiKey, ApiKeyChange, KeyHolder, KeyScope, NewApiKey};
use crate::clock::{Clock, ManualClock, Timestamp};
use crate::error::{DomainError, Result, StoreFailure};
use crate::group::{
    Group, GroupMember, GroupRole, GroupWithCount, Membership, ADMINISTRATORS_ID,
    ADMINISTRATORS_NAME, ALL_USERS_ID, ALL_USERS_NAME,
};
use crate::id::{ApiKeyId, EmailId, GroupId, MembershipId, UserId};
use crate::mail::{Email, EmailTemplates, MailContext, Rendered};
use crate::password::Bcrypt;
use crate::scim::filter::{
    derived_display_name, GroupAttr, GroupFilter, Literal, Op, ScimFilter, UserAttr, UserFilter,
};
use crate::scim::group::{GroupRecord, ScimMember};
use crate::scim::list::{Sort, SortOrder};
use crate::service::{Config, People};
use crate::session::{
    start_session, Caller, CallerRecord, ClientInfo, History, Login, LoginRecord, NewLogin,
    NewSession, Persistence, Secret,
};
use crate::store::{
    Activity, NewEmail, NewMembership, Page, QueuedEmail, Repo, SavedAttempts, Store, ThrottleKey,
    Transaction, UserOrder, UserQuery,
};
use crate::user::{insert_with_memberships, NewUser, SsoSource, User, UserType};

// ----- state -----

/// A `core_user` row: the domain's `User` plus the column the domain type does not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    /// The user as the domain sees it.
    pub user: User,
    /// Earliest login (set by the first `set_last_login`).
    pub first_login: Option<Timestamp>,
}

/// A `login_history` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLogin {
    /// Row id (ties on the timestamp are broken by it, newest first).
    pub id: i64,
    /// The row as inserted; `session_hash` becomes `None` when the session is deleted.
    pub login: NewLogin,
}

/// An `email_outbox` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEmail {
    /// Outbox id.
    pub id: EmailId,
    /// What was queued (bodies blanked once sent).
    pub email: NewEmail,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Not due before this.
    pub next_attempt_at: Timestamp,
    /// Delivered at.
    pub sent_at: Option<Timestamp>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Blanked unsent because its link died.
    pub voided_at: Option<Timestamp>,
}

/// Every table of the fake database.
#[derive(Debug, Clone)]
pub struct State {
    /// `core_user`, by id.
    pub users: BTreeMap<UserId, StoredUser>,
    /// `permissions_group`, by id.
    pub groups: BTreeMap<GroupId, Group>,
    /// `permissions_group_membership`, by id.
    pub memberships: BTreeMap<MembershipId, Membership>,
    /// `core_session`, by hash.
    pub sessions: BTreeMap<String, NewSession>,
    /// `login_history`, in insertion order.
    pub logins: Vec<StoredLogin>,
    /// `setting`, by key.
    pub settings: BTreeMap<String, String>,
    /// `email_outbox`, by id.
    pub outbox: BTreeMap<EmailId, StoredEmail>,
    /// `throttle`: (throttle, lower(key)) → (attempts, expires_at).
    pub throttles: BTreeMap<(String, String), (Vec<i64>, Timestamp)>,
    /// `password_reset_request`: the asked addresses, oldest first.
    pub reset_requests: Vec<String>,
    /// `api_key`, by id, with its digest.
    pub api_keys: BTreeMap<ApiKeyId, (ApiKey, String)>,
    /// `permissions_group.external_id`, where set.
    pub group_external_ids: BTreeMap<GroupId, String>,
    /// How many times each group changed (renames and membership changes), which the fake shows as
    /// `updated_at` (that many microseconds after the epoch) since it has no clock.
    pub group_changes: BTreeMap<GroupId, i64>,
    /// `housekeeping_lease`: name → (holder, expires_at); a lease never claimed is absent.
    pub leases: BTreeMap<String, (String, Timestamp)>,
    next_user: i64,
    next_api_key: i64,
    next_group: i64,
    next_membership: i64,
    next_login: i64,
    next_email: i64,
}

impl Default for State {
    /// A freshly migrated database: no rows but the two magic groups (with the migration's entity ids).
    fn default() -> Self {
        let mut groups = BTreeMap::new();
        groups.insert(
            ALL_USERS_ID,
            Group {
                id: ALL_USERS_ID,
                name: ALL_USERS_NAME.to_string(),
                entity_id: Some("allusers0000000000001".to_string()),
            },
        );
        groups.insert(
            ADMINISTRATORS_ID,
            Group {
                id: ADMINISTRATORS_ID,
                name: ADMINISTRATORS_NAME.to_string(),
                entity_id: Some("administrators0000002".to_string()),
            },
        );
        State {
            users: BTreeMap::new(),
            groups,
            memberships: BTreeMap::new(),
            sessions: BTreeMap::new(),
            logins: Vec::new(),
            settings: BTreeMap::new(),
            outbox: BTreeMap::new(),
            throttles: BTreeMap::new(),
            reset_requests: Vec::new(),
            api_keys: BTreeMap::new(),
            group_external_ids: BTreeMap::new(),
            group_changes: BTreeMap::new(),
            leases: BTreeMap::new(),
            next_user: 1,
            next_api_key: 1,
            next_group: 3,
            next_membership: 1,
            next_login: 1,
            next_email: 1,
        }
    }
}

fn unique(constraint: &str) -> DomainError {
    DomainError::Store(StoreFailure::Unique(constraint.to_string()))
}

fn foreign_key(constraint: &str) -> DomainError {
    DomainError::Store(StoreFailure::ForeignKey(constraint.to_string()))
}

/// SQL `lower(..)`. Unicode-aware like PostgreSQL's; SQLite's built-in `lower` folds ASCII only, so the two
/// real back ends differ on non-ASCII letters, and this fake follows PostgreSQL.
fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// `ORDER BY x IS NULL, lower(x)`: NULLs last, as PostgreSQL sorts them and people-store asks SQLite to.
fn name_key(s: &Option<String>) -> (bool, String) {
    (s.is_none(), s.as_deref().map(lower).unwrap_or_default())
}

/// `limit`/`offset` applied to an ordered list.
fn paged<T>(rows: Vec<T>, page: Option<Page>) -> Vec<T> {
    match page {
        None => rows,
        Some(p) => rows
            .into_iter()
            .skip(usize::try_from(p.offset.max(0)).unwrap_or(usize::MAX))
            .take(usize::try_from(p.limit.max(0)).unwrap_or(usize::MAX))
            .collect(),
    }
}

/// Whether `u` matches a SCIM filter, with the semantics people-store compiles into SQL (the reference):
///
/// - Two-valued logic. Every comparison, `ne` included, is false on an absent value (a NULL column, or a
///   `displayName` with no names): there is no value to compare (RFC 7644 §3.4.2.2 matches a filter when
///   some value of the attribute does). `not` is the plain complement, so `not (externalId eq "x")` matches
///   a user without an externalId while `externalId ne "x"` does not.
/// - `pr` is "has a non-empty value"; `eq null` is `not pr`, `ne null` is `pr`.
/// - `id` and `externalId` are case-exact; the other text attributes compare lower-cased (SQL `lower`).
///   `co`, `sw`, `ew` take the value literally (no wildcards); `gt`/`ge`/`lt`/`le` on text compare
///   code points (PostgreSQL's `COLLATE "C"`, SQLite's binary collation).
/// - An empty `And` is true, an empty `Or` false.
pub fn scim_matches(f: &UserFilter, u: &User) -> bool {
    match f {
        UserFilter::And(items) => items.iter().all(|i| scim_matches(i, u)),
        UserFilter::Or(items) => items.iter().any(|i| scim_matches(i, u)),
        UserFilter::Not(inner) => !scim_matches(inner, u),
        UserFilter::Present(attr) => scim_present(*attr, u),
        UserFilter::Compare(attr, op, Literal::Null) => match op {
            Op::Eq => !scim_present(*attr, u),
            Op::Ne => scim_present(*attr, u),
            _ => false,
        },
        UserFilter::Compare(attr, op, Literal::Text(want)) => {
            let Some(have) = scim_text(*attr, u) else {
                return false;
            };
            let exact = matches!(attr, UserAttr::Id | UserAttr::ExternalId);
            let (have, want) = if exact {
                (have, want.clone())
            } else {
                (lower(&have), lower(want))
            };
            match op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Co => have.contains(&want),
                Op::Sw => have.starts_with(&want),
                Op::Ew => have.ends_with(&want),
                Op::Gt => have > want,
                Op::Ge => have >= want,
                Op::Lt => have < want,
                Op::Le => have <= want,
            }
        }
        UserFilter::Compare(UserAttr::Active, op, Literal::Bool(want)) => match op {
            Op::Eq => u.is_active == *want,
            Op::Ne => u.is_active != *want,
            _ => false,
        },
        UserFilter::Compare(attr, op, Literal::Time(want)) => {
            let have = match attr {
                UserAttr::Created => u.date_joined,
                UserAttr::LastModified => u.updated_at,
                _ => return false,
            };
            match op {
                Op::Eq => have == *want,
                Op::Ne => have != *want,
                Op::Gt => have > *want,
                Op::Ge => have >= *want,
                Op::Lt => have < *want,
                Op::Le => have <= *want,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        // A literal of the wrong type for the attribute (the parser makes none): matches nothing.
        UserFilter::Compare(..) => false,
    }
}

/// A text attribute's value; `None` when absent.
fn scim_text(attr: UserAttr, u: &User) -> Option<String> {
    match attr {
        UserAttr::Id => u.entity_id.clone(),
        UserAttr::ExternalId => u.external_id.clone(),
        UserAttr::UserName => Some(u.scim_user_name.clone().unwrap_or_else(|| u.email.clone())),
        UserAttr::Email => Some(u.email.clone()),
        UserAttr::GivenName => u.first_name.clone(),
        UserAttr::FamilyName => u.last_name.clone(),
        UserAttr::DisplayName => match u.display_name.as_deref() {
            Some("") => None,
            Some(d) => Some(d.to_string()),
            None => derived_display_name(u.first_name.as_deref(), u.last_name.as_deref()),
        },
        UserAttr::Active | UserAttr::Created | UserAttr::LastModified => None,
    }
}

/// What `sortBy` orders users by: text folded as the attribute compares it; absent values first (as NULLs
/// sort first ascending on both back ends' `NULLS FIRST` people asks for).
fn scim_sort_key(attr: UserAttr, u: &User) -> (Option<String>, bool, Timestamp) {
    match attr {
        UserAttr::Active => (None, u.is_active, u.date_joined),
        UserAttr::Created => (None, false, u.date_joined),
        UserAttr::LastModified => (None, false, u.updated_at),
        UserAttr::Id | UserAttr::ExternalId => (scim_text(attr, u), false, u.date_joined),
        _ => (scim_text(attr, u).map(|t| lower(&t)), false, u.date_joined),
    }
}

/// people-store's group filter semantics (see [`scim_matches`]).
pub fn scim_group_matches(f: &GroupFilter, g: &GroupRecord, members: &[String]) -> bool {
    match f {
        ScimFilter::And(items) => items.iter().all(|i| scim_group_matches(i, g, members)),
        ScimFilter::Or(items) => items.iter().any(|i| scim_group_matches(i, g, members)),
        ScimFilter::Not(inner) => !scim_group_matches(inner, g, members),
        ScimFilter::Present(attr) => match attr {
            GroupAttr::Member => !members.is_empty(),
            GroupAttr::Created | GroupAttr::LastModified | GroupAttr::DisplayName => true,
            GroupAttr::Id => g.group.entity_id.is_some(),
            GroupAttr::ExternalId => g.external_id.as_deref().is_some_and(|e| !e.is_empty()),
        },
        ScimFilter::Compare(attr, op, Literal::Null) => {
            let present = scim_group_matches(&ScimFilter::Present(*attr), g, members);
            match op {
                Op::Eq => !present,
                Op::Ne => present,
                _ => false,
            }
        }
        ScimFilter::Compare(attr, op, Literal::Text(want)) => {
            let values: Vec<String> = match attr {
                GroupAttr::Id => g.group.entity_id.iter().cloned().collect(),
                GroupAttr::ExternalId => g.external_id.iter().cloned().collect(),
                GroupAttr::DisplayName => vec![lower(&g.group.name)],
                GroupAttr::Member => members.to_vec(),
                _ => Vec::new(),
            };
            let want = if *attr == GroupAttr::DisplayName {
                lower(want)
            } else {
                want.clone()
            };
            let test = |v: &String| match op {
                Op::Eq => *v == want,
                Op::Ne => *v != want,
                Op::Co => v.contains(&want),
                Op::Sw => v.starts_with(&want),
                Op::Ew => v.ends_with(&want),
                Op::Gt => *v > want,
                Op::Ge => *v >= want,
                Op::Lt => *v < want,
                Op::Le => *v <= want,
            };
            values.iter().any(test)
        }
        ScimFilter::Compare(attr, op, Literal::Time(want)) => {
            let have = match attr {
                GroupAttr::Created => g.created_at,
                GroupAttr::LastModified => g.updated_at,
                _ => return false,
            };
            match op {
                Op::Eq => have == *want,
                Op::Ne => have != *want,
                Op::Gt => have > *want,
                Op::Ge => have >= *want,
                Op::Lt => have < *want,
                Op::Le => have <= *want,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        ScimFilter::Compare(..) => false,
    }
}

/// `attr pr`: a non-empty value (a flag and the times always have one).
fn scim_present(attr: UserAttr, u: &User) -> bool {
    match attr {
        UserAttr::Active | UserAttr::Created | UserAttr::LastModified => true,
        _ => scim_text(attr, u).is_some_and(|s| !s.is_empty()),
    }
}

impl State {
    fn user(&self, id: UserId) -> Option<User> {
        self.users.get(&id).map(|u| u.user.clone())
    }

    /// Blanks the unsent, live emails for which `dead` holds; returns how many.
    fn void_where(
        &mut self,
        now: Timestamp,
        dead: impl Fn(&StoredEmail, Timestamp) -> bool,
    ) -> usize {
        let mut n = 0;
        for e in self.outbox.values_mut() {
            if e.sent_at.is_none() && e.voided_at.is_none() && dead(e, now) {
                e.email.body_text.clear();
                e.email.body_html.clear();
                e.voided_at = Some(now);
                n += 1;
            }
        }
        n
    }

    fn memberships_sorted_by_group(&self, user_id: UserId) -> Vec<Membership> {
        let mut ms: Vec<Membership> = self
            .memberships
            .values()
            .filter(|m| m.user_id == user_id)
            .copied()
            .collect();
        ms.sort_by_key(|m| m.group_id);
        ms
    }

    fn email_taken(&self, email: &str, except: Option<UserId>) -> bool {
        let email = lower(email);
        self.users
            .values()
            .any(|u| Some(u.user.id) != except && lower(&u.user.email) == email)
    }

    fn entity_id_taken(&self, entity_id: Option<&str>, except: Option<UserId>) -> bool {
        entity_id.is_some_and(|e| {
            self.users
                .values()
                .any(|u| Some(u.user.id) != except && u.user.entity_id.as_deref() == Some(e))
        })
    }

    fn insert_user(&mut self, new: &NewUser) -> Result<User> {
        if self.email_taken(&new.email, None) {
            return Err(unique("idx_core_user_email_lower"));
        }
        if self.entity_id_taken(new.entity_id.as_deref(), None) {
            return Err(unique("idx_core_user_entity_id"));
        }
        let id = UserId(self.next_user);
        self.next_user += 1;
        let user = User {
            id,
            email: new.email.clone(),
            first_name: new.first_name.clone(),
            last_name: new.last_name.clone(),
            password_hash: new.password.as_ref().map(|p| p.hash.clone()),
            password_salt: new.password.as_ref().map(|p| p.salt.clone()),
            date_joined: new.date_joined,
            last_login: None,
            is_superuser: new.is_superuser,
            is_active: true,
            reset_token: None,
            reset_triggered: None,
            is_qbnewb: true,
            is_datasetnewb: true,
            login_attributes: new.login_attributes.clone(),
            updated_at: new.date_joined,
            sso_source: new.sso_source.clone(),
            locale: new.locale.clone(),
            settings: None,
            user_type: new.user_type,
            entity_id: new.entity_id.clone(),
            external_id: new.external_id.clone(),
            scim_deleted_at: None,
            scim_user_name: None,
            display_name: None,
        };
        self.users.insert(
            id,
            StoredUser {
                user: user.clone(),
                first_login: None,
            },
        );
        Ok(user)
    }

    fn update_user(&mut self, u: &User) -> Result<()> {
        if !self.users.contains_key(&u.id) {
            return Ok(()); // UPDATE … WHERE id = ? matching no row
        }
        if self.email_taken(&u.email, Some(u.id)) {
            return Err(unique("idx_core_user_email_lower"));
        }
        if self.entity_id_taken(u.entity_id.as_deref(), Some(u.id)) {
            return Err(unique("idx_core_user_entity_id"));
        }
        if let Some(name) = u.scim_user_name.as_deref().map(lower) {
            let taken = self.users.values().any(|o| {
                o.user.id != u.id
                    && o.user.scim_user_name.as_deref().map(lower) == Some(name.clone())
            });
            if taken {
                return Err(unique("idx_core_user_scim_user_name"));
            }
        }
        let stored = self.users.get_mut(&u.id).expect("checked above");
        // Every column of `UserChanges`: all but id, date_joined and type.
        let date_joined = stored.user.date_joined;
        let user_type = stored.user.user_type;
        stored.user = User {
            date_joined,
            user_type,
            ..u.clone()
        };
        Ok(())
    }

    fn set_last_login(&mut self, user_id: UserId, at: Timestamp) {
        if let Some(u) = self.users.get_mut(&user_id) {
            u.user.last_login = Some(at);
            u.first_login = u.first_login.or(Some(at));
        }
    }

    /// people-store's `search_text`: lower(first ␟ last ␟ email) LIKE '%text%' with `%`, `_` and `\` literal;
    /// a needle containing the separator is matched field by field (NULL fields never match).
    fn matches_text(u: &User, text: &str) -> bool {
        let needle = lower(text);
        if needle.contains('\u{1f}') {
            [
                u.first_name.as_deref(),
                u.last_name.as_deref(),
                Some(&u.email),
            ]
            .into_iter()
            .flatten()
            .any(|f| lower(f).contains(&needle))
        } else {
            let joined = format!(
                "{}\u{1f}{}\u{1f}{}",
                u.first_name.as_deref().unwrap_or(""),
                u.last_name.as_deref().unwrap_or(""),
                u.email
            );
            lower(&joined).contains(&needle)
        }
    }

    fn is_member(&self, user_id: UserId, group_id: GroupId) -> bool {
        self.memberships
            .values()
            .any(|m| m.user_id == user_id && m.group_id == group_id)
    }

    fn manages(&self, user_id: UserId, group_id: GroupId) -> bool {
        self.memberships
            .values()
            .any(|m| m.user_id == user_id && m.group_id == group_id && m.is_group_manager)
    }

    fn list_users(&self, q: &UserQuery) -> (Vec<User>, i64) {
        let shared_groups: Option<Vec<GroupId>> = q.shares_group_with.map(|me| {
            self.memberships
                .values()
                .filter(|m| m.user_id == me && m.group_id != ALL_USERS_ID)
                .map(|m| m.group_id)
                .collect()
        });
        let mut rows: Vec<&User> = self
            .users
            .values()
            .map(|s| &s.user)
            .filter(|u| u.user_type == UserType::Personal)
            .filter(|u| match q.activity {
                Activity::Active => u.is_active,
                Activity::Inactive => !u.is_active,
                Activity::Any => true,
            })
            .filter(|u| q.text.as_deref().is_none_or(|t| Self::matches_text(u, t)))
            .filter(|u| q.group_id.is_none_or(|g| self.is_member(u.id, g)))
            .filter(|u| {
                shared_groups
                    .as_ref()
                    .is_none_or(|gs| gs.iter().any(|g| self.is_member(u.id, *g)))
            })
            .collect();
        let total = rows.len() as i64;
        type Key = (bool, bool, (bool, String), (bool, String), UserId);
        let key = |u: &User| -> Key {
            let (rank_admin, rank_manager) = match q.order {
                // DESC on booleans: true first.
                UserOrder::GroupRank(g) => (!u.is_superuser, !self.manages(u.id, g)),
                _ => (false, false),
            };
            match q.order {
                UserOrder::LastName => (
                    rank_admin,
                    rank_manager,
                    name_key(&u.last_name),
                    name_key(&u.first_name),
                    u.id,
                ),
                _ => (
                    rank_admin,
                    rank_manager,
                    name_key(&u.first_name),
                    name_key(&u.last_name),
                    u.id,
                ),
            }
        };
        rows.sort_by_cached_key(|u| key(u));
        let page = paged(rows, q.page).into_iter().cloned().collect();
        (page, total)
    }

    /// people-store's `scim_users`: the users SCIM sees (personal, with an `entity_id`, not SCIM-deleted)
    /// that match `filter`, by id, paged, and how many match.
    fn scim_users(
        &self,
        filter: Option<&UserFilter>,
        sort: Option<Sort<UserAttr>>,
        page: Page,
    ) -> (Vec<User>, i64) {
        let mut rows: Vec<&User> = self
            .users
            .values()
            .map(|s| &s.user)
            .filter(|u| {
                u.user_type == UserType::Personal
                    && u.entity_id.is_some()
                    && u.scim_deleted_at.is_none()
            })
            .filter(|u| filter.is_none_or(|f| scim_matches(f, u)))
            .collect();
        if let Some(sort) = sort {
            rows.sort_by(|a, b| {
                let order = scim_sort_key(sort.attr, a).cmp(&scim_sort_key(sort.attr, b));
                let order = match sort.order {
                    SortOrder::Ascending => order,
                    SortOrder::Descending => order.reverse(),
                };
                order.then(a.id.cmp(&b.id))
            });
        }
        let total = rows.len() as i64;
        (
            paged(rows, Some(page)).into_iter().cloned().collect(),
            total,
        )
    }

    /// A group with its SCIM columns.
    fn group_record(&self, g: &Group) -> GroupRecord {
        let changes = self.group_changes.get(&g.id).copied().unwrap_or(0);
        GroupRecord {
            group: g.clone(),
            external_id: self.group_external_ids.get(&g.id).cloned(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH + chrono::Duration::microseconds(changes),
        }
    }

    /// Counts a change of `group`.
    fn touch_group(&mut self, group: GroupId) {
        *self.group_changes.entry(group).or_default() += 1;
    }

    /// The members of `groups` SCIM sees, by group then entity id.
    fn scim_group_members(&self, groups: &[GroupId]) -> Vec<ScimMember> {
        let mut out: Vec<ScimMember> = self
            .memberships
            .values()
            .filter(|m| groups.contains(&m.group_id))
            .filter_map(|m| {
                let u = &self.users.get(&m.user_id)?.user;
                let visible = u.user_type == UserType::Personal && u.scim_deleted_at.is_none();
                Some(ScimMember {
                    group_id: m.group_id,
                    user_id: u.id,
                    entity_id: u.entity_id.clone().filter(|_| visible)?,
                    display: u.email.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| (a.group_id, &a.entity_id).cmp(&(b.group_id, &b.entity_id)));
        out
    }

    fn scim_groups(
        &self,
        filter: Option<&GroupFilter>,
        sort: Option<Sort<GroupAttr>>,
        page: Page,
    ) -> (Vec<GroupRecord>, i64) {
        let mut rows: Vec<GroupRecord> = self
            .groups
            .values()
            .filter(|g| g.id != ALL_USERS_ID && g.id != ADMINISTRATORS_ID)
            .map(|g| self.group_record(g))
            .filter(|r| {
                filter.is_none_or(|f| {
                    let members: Vec<String> = self
                        .scim_group_members(&[r.group.id])
                        .into_iter()
                        .map(|m| m.entity_id)
                        .collect();
                    scim_group_matches(f, r, &members)
                })
            })
            .collect();
        if let Some(sort) = sort {
            let key = |r: &GroupRecord| match sort.attr {
                GroupAttr::Id => (r.group.entity_id.clone(), r.created_at),
                GroupAttr::ExternalId => (r.external_id.clone(), r.created_at),
                GroupAttr::DisplayName => (Some(lower(&r.group.name)), r.created_at),
                GroupAttr::LastModified => (None, r.updated_at),
                GroupAttr::Created | GroupAttr::Member => (None, r.created_at),
            };
            rows.sort_by(|a, b| {
                let order = key(a).cmp(&key(b));
                let order = match sort.order {
                    SortOrder::Ascending => order,
                    SortOrder::Descending => order.reverse(),
                };
                order.then(a.group.id.cmp(&b.group.id))
            });
        }
        let total = rows.len() as i64;
        (paged(rows, Some(page)), total)
    }

    fn insert_group(&mut self, name: &str, entity_id: &str) -> Result<Group> {
        let lname = lower(name);
        if self.groups.values().any(|g| lower(&g.name) == lname) {
            return Err(unique("idx_permissions_group_name_lower"));
        }
        if self
            .groups
            .values()
            .any(|g| g.entity_id.as_deref() == Some(entity_id))
        {
            return Err(unique("idx_permissions_group_entity_id"));
        }
        let id = GroupId(self.next_group);
        self.next_group += 1;
        let g = Group {
            id,
            name: name.to_string(),
            entity_id: Some(entity_id.to_string()),
        };
        self.groups.insert(id, g.clone());
        Ok(g)
    }

    fn active_members(&self, group_id: GroupId) -> impl Iterator<Item = (&Membership, &User)> {
        self.memberships
            .values()
            .filter(move |m| m.group_id == group_id)
            .filter_map(|m| self.users.get(&m.user_id).map(|u| (m, &u.user)))
            .filter(|(_, u)| u.is_active)
    }

    fn insert_membership(
        &mut self,
        user_id: UserId,
        group_id: GroupId,
        role: GroupRole,
    ) -> Result<Membership> {
        if self.is_member(user_id, group_id) {
            return Err(unique("idx_membership_user_group"));
        }
        if !self.users.contains_key(&user_id) || !self.groups.contains_key(&group_id) {
            return Err(foreign_key("FOREIGN KEY constraint failed"));
        }
        self.touch_group(group_id);
        let id = MembershipId(self.next_membership);
        self.next_membership += 1;
        let m = Membership {
            id,
            user_id,
            group_id,
            is_group_manager: role.is_manager(),
        };
        self.memberships.insert(id, m);
        Ok(m)
    }

    /// Deletes sessions matching `doomed`; logins that named them keep a NULL session (`ON DELETE SET NULL`).
    fn delete_sessions(&mut self, doomed: impl Fn(&NewSession) -> bool) -> usize {
        let gone: Vec<String> = self
            .sessions
            .values()
            .filter(|s| doomed(s))
            .map(|s| s.id_hash.clone())
            .collect();
        for id in &gone {
            self.sessions.remove(id);
        }
        for l in &mut self.logins {
            if l.login
                .session_hash
                .as_ref()
                .is_some_and(|h| gone.contains(h))
            {
                l.login.session_hash = None;
            }
        }
        gone.len()
    }

    fn all_memberships(&self, filter: impl Fn(&Membership) -> bool) -> Vec<Membership> {
        let mut ms: Vec<Membership> = self
            .memberships
            .values()
            .filter(|m| filter(m))
            .copied()
            .collect();
        ms.sort_by_key(|m| (m.user_id, m.group_id));
        ms
    }
}

// ----- the store -----

thread_local! {
    /// Set while this thread runs a unit of work, to catch a unit of work started inside another.
    static IN_UNIT: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside a unit of work until dropped (also when the work panics).
struct InUnit;

impl InUnit {
    fn enter() -> Self {
        IN_UNIT.with(|f| f.set(true));
        InUnit
    }
}

impl Drop for InUnit {
    fn drop(&mut self) {
        IN_UNIT.with(|f| f.set(false));
    }
}

/// The storage ports over in-memory tables behind one mutex (units of work run one at a time).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    failures: Mutex<HashMap<&'static str, StoreFailure>>,
    units: Mutex<(usize, usize)>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryStore {
    /// An empty, "migrated" database.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// A copy of every table.
    pub fn snapshot(&self) -> State {
        locked(&self.state).clone()
    }

    /// Makes every later call of the `Repo` method named `op` fail with `failure` (until [`Self::heal`]).
    pub fn fail_on(&self, op: &'static str, failure: StoreFailure) {
        locked(&self.failures).insert(op, failure);
    }

    /// Removes every injected failure.
    pub fn heal(&self) {
        locked(&self.failures).clear();
    }

    /// Units of work run so far: (reads, transactions).
    pub fn units(&self) -> (usize, usize) {
        *locked(&self.units)
    }

    /// The stored user `id`, if any.
    pub fn user(&self, id: UserId) -> Option<User> {
        locked(&self.state).users.get(&id).map(|u| u.user.clone())
    }

    /// Group ids of `user_id`'s memberships, ascending.
    pub fn group_ids(&self, user_id: UserId) -> Vec<GroupId> {
        locked(&self.state)
            .memberships_sorted_by_group(user_id)
            .iter()
            .map(|m| m.group_id)
            .collect()
    }

    /// Number of sessions of `user_id`.
    pub fn session_count(&self, user_id: UserId) -> usize {
        locked(&self.state)
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .count()
    }

    /// Every outbox row, by id.
    pub fn outbox(&self) -> Vec<StoredEmail> {
        locked(&self.state).outbox.values().cloned().collect()
    }

    /// A stored setting.
    pub fn setting(&self, key: &str) -> Option<String> {
        locked(&self.state).settings.get(key).cloned()
    }
}

impl Store for MemoryStore {
    fn run(
        &self,
        transaction: Transaction,
        work: &mut dyn FnMut(&mut dyn Repo) -> Result<()>,
    ) -> Result<()> {
        if IN_UNIT.with(Cell::get) {
            return Err(DomainError::Internal(
                "MemoryStore: a unit of work was started inside another one".into(),
            ));
        }
        {
            let mut units = locked(&self.units);
            if transaction == Transaction::Write {
                units.1 += 1;
            } else {
                units.0 += 1;
            }
        }
        let failures = locked(&self.failures).clone();
        let mut state = locked(&self.state);
        let before = (transaction == Transaction::Write).then(|| state.clone());
        let result = {
            let _in_unit = InUnit::enter();
            let mut repo = MemRepo {
                state: &mut state,
                failures: &failures,
                transaction: transaction == Transaction::Write,
                aborted: false,
            };
            match work(&mut repo) {
                // PostgreSQL answers the COMMIT of such a transaction by rolling it all back, without an
                // error; SQLite would commit the statements that worked. Either way the work is not what
                // the use case meant: fail loudly here.
                Ok(()) if repo.aborted => Err(DomainError::Store(StoreFailure::Other(
                    "commit of a transaction in which a statement failed: rolled back".into(),
                ))),
                result => result,
            }
        };
        if result.is_err() {
            if let Some(before) = before {
                *state = before;
            }
        }
        result
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// One unit of work's view of the tables.
struct MemRepo<'a> {
    state: &'a mut State,
    failures: &'a HashMap<&'static str, StoreFailure>,
    transaction: bool,
    /// A statement of this transaction failed: like PostgreSQL, refuse the rest.
    aborted: bool,
}

impl MemRepo<'_> {
    fn exec<T>(&mut self, op: &'static str, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        if self.aborted {
            return Err(DomainError::Store(StoreFailure::Other(format!(
                "{op}: current transaction is aborted, commands ignored until end of transaction block"
            ))));
        }
        let result = match self.failures.get(op) {
            Some(f) => Err(DomainError::Store(f.clone())),
            None => f(self.state),
        };
        if self.transaction && matches!(result, Err(DomainError::Store(_))) {
            self.aborted = true;
        }
        result
    }
}

impl Repo for MemRepo<'_> {
    fn ping(&mut self) -> Result<()> {
        self.exec("ping", |_| Ok(()))
    }

    fn insert_user(&mut self, user: &NewUser) -> Result<User> {
        self.exec("insert_user", |s| s.insert_user(user))
    }

    fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        self.exec("user_by_id", |s| Ok(s.user(id)))
    }

    fn user_with_memberships(&mut self, id: UserId) -> Result<Option<(User, Vec<Membership>)>> {
        self.exec("user_with_memberships", |s| {
            Ok(s.user(id).map(|u| {
                let ms = s.memberships_sorted_by_group(u.id);
                (u, ms)
            }))
        })
    }

    fn lock_user(&mut self, id: UserId) -> Result<Option<User>> {
        self.exec("lock_user", |s| Ok(s.user(id)))
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        self.exec("user_by_email", |s| {
            let email = lower(email);
            Ok(s.users
                .values()
                .find(|u| lower(&u.user.email) == email)
                .map(|u| u.user.clone()))
        })
    }

    fn update_user(&mut self, user: &User) -> Result<()> {
        self.exec("update_user", |s| s.update_user(user))
    }

    fn set_last_login(&mut self, user_id: UserId, at: Timestamp) -> Result<()> {
        self.exec("set_last_login", |s| {
            s.set_last_login(user_id, at);
            Ok(())
        })
    }

    fn count_users(&mut self, at_most: i64) -> Result<i64> {
        self.exec("count_users", |s| {
            Ok((s.users.len() as i64).min(at_most.max(0)))
        })
    }

    fn list_users(&mut self, query: &UserQuery) -> Result<(Vec<User>, i64)> {
        self.exec("list_users", |s| Ok(s.list_users(query)))
    }

    fn active_superusers(&mut self) -> Result<Vec<User>> {
        self.exec("active_superusers", |s| {
            Ok(s.users
                .values()
                .map(|u| &u.user)
                .filter(|u| u.is_superuser && u.is_active)
                .cloned()
                .collect())
        })
    }

    fn insert_group(&mut self, name: &str, entity_id: &str) -> Result<Group> {
        self.exec("insert_group", |s| s.insert_group(name, entity_id))
    }

    fn group_by_id(&mut self, id: GroupId) -> Result<Option<Group>> {
        self.exec("group_by_id", |s| Ok(s.groups.get(&id).cloned()))
    }

    fn group_by_name(&mut self, name: &str) -> Result<Option<Group>> {
        self.exec("group_by_name", |s| {
            let name = lower(name);
            Ok(s.groups.values().find(|g| lower(&g.name) == name).cloned())
        })
    }

    fn groups_by_ids(&mut self, ids: &[GroupId]) -> Result<Vec<Group>> {
        self.exec("groups_by_ids", |s| {
            Ok(s.groups
                .values()
                .filter(|g| ids.contains(&g.id))
                .cloned()
                .collect())
        })
    }

    fn lock_group(&mut self, _id: GroupId) -> Result<()> {
        // Units of work already run one at a time.
        self.exec("lock_group", |_| Ok(()))
    }

    fn rename_group(&mut self, id: GroupId, name: &str) -> Result<()> {
        self.exec("rename_group", |s| {
            if !s.groups.contains_key(&id) {
                return Ok(());
            }
            let lname = lower(name);
            if s.groups
                .values()
                .any(|g| g.id != id && lower(&g.name) == lname)
            {
                return Err(unique("idx_permissions_group_name_lower"));
            }
            s.touch_group(id);
            if let Some(g) = s.groups.get_mut(&id) {
                g.name = name.to_string();
            }
            Ok(())
        })
    }

    fn delete_group(&mut self, id: GroupId) -> Result<bool> {
        self.exec("delete_group", |s| {
            s.memberships.retain(|_, m| m.group_id != id);
            Ok(s.groups.remove(&id).is_some())
        })
    }

    fn list_groups(
        &mut self,
        only: Option<&[GroupId]>,
        page: Option<Page>,
    ) -> Result<Vec<GroupWithCount>> {
        self.exec("list_groups", |s| {
            let mut groups: Vec<&Group> = s
                .groups
                .values()
                .filter(|g| only.is_none_or(|ids| ids.contains(&g.id)))
                .collect();
            groups.sort_by_cached_key(|g| (lower(&g.name), g.id));
            Ok(paged(groups, page)
                .into_iter()
                .map(|g| GroupWithCount {
                    group: g.clone(),
                    member_count: s.active_members(g.id).count() as i64,
                })
                .collect())
        })
    }

    fn group_members(&mut self, group_id: GroupId) -> Result<Vec<GroupMember>> {
        self.exec("group_members", |s| {
            let mut rows: Vec<(&Membership, &User)> = s.active_members(group_id).collect();
            rows.sort_by_cached_key(|(_, u)| {
                (name_key(&u.first_name), name_key(&u.last_name), u.id)
            });
            Ok(rows
                .into_iter()
                .map(|(m, u)| GroupMember {
                    user_id: u.id,
                    membership_id: m.id,
                    first_name: u.first_name.clone(),
                    last_name: u.last_name.clone(),
                    email: u.email.clone(),
                    is_group_manager: m.is_group_manager,
                })
                .collect())
        })
    }

    fn count_active_members(&mut self, group_id: GroupId) -> Result<i64> {
        self.exec("count_active_members", |s| {
            Ok(s.active_members(group_id).count() as i64)
        })
    }

    fn user_by_entity_id(&mut self, entity_id: &str) -> Result<Option<User>> {
        self.exec("user_by_entity_id", |s| {
            Ok(s.users
                .values()
                .find(|u| u.user.entity_id.as_deref() == Some(entity_id))
                .map(|u| u.user.clone()))
        })
    }

    fn scim_users(
        &mut self,
        filter: Option<&UserFilter>,
        sort: Option<Sort<UserAttr>>,
        page: Page,
    ) -> Result<(Vec<User>, i64)> {
        self.exec("scim_users", |s| Ok(s.scim_users(filter, sort, page)))
    }

    fn user_by_scim_user_name(&mut self, user_name: &str) -> Result<Option<User>> {
        self.exec("user_by_scim_user_name", |s| {
            let want = lower(user_name);
            Ok(s.users
                .values()
                .find(|u| u.user.scim_user_name.as_deref().map(lower) == Some(want.clone()))
                .map(|u| u.user.clone()))
        })
    }

    fn users_by_entity_ids(&mut self, entity_ids: &[String]) -> Result<Vec<User>> {
        self.exec("users_by_entity_ids", |s| {
            Ok(s.users
                .values()
                .filter(|u| {
                    u.user
                        .entity_id
                        .as_ref()
                        .is_some_and(|e| entity_ids.contains(e))
                })
                .map(|u| u.user.clone())
                .collect())
        })
    }

    fn scim_groups(
        &mut self,
        filter: Option<&GroupFilter>,
        sort: Option<Sort<GroupAttr>>,
        page: Page,
    ) -> Result<(Vec<GroupRecord>, i64)> {
        self.exec("scim_groups", |s| Ok(s.scim_groups(filter, sort, page)))
    }

    fn scim_group_by_entity_id(&mut self, entity_id: &str) -> Result<Option<GroupRecord>> {
        self.exec("scim_group_by_entity_id", |s| {
            Ok(s.groups
                .values()
                .find(|g| g.entity_id.as_deref() == Some(entity_id))
                .map(|g| s.group_record(g)))
        })
    }

    fn set_group_external_id(
        &mut self,
        id: GroupId,
        external_id: Option<&str>,
        _at: Timestamp,
    ) -> Result<()> {
        self.exec("set_group_external_id", |s| {
            match external_id {
                Some(e) => s.group_external_ids.insert(id, e.to_string()),
                None => s.group_external_ids.remove(&id),
            };
            s.touch_group(id);
            Ok(())
        })
    }

    fn scim_group_members(&mut self, groups: &[GroupId]) -> Result<Vec<ScimMember>> {
        self.exec("scim_group_members", |s| Ok(s.scim_group_members(groups)))
    }

    fn backfill_entity_ids(&mut self) -> Result<usize> {
        self.exec("backfill_entity_ids", |s| {
            let mut n = 0;
            for u in s.users.values_mut().filter(|u| u.user.entity_id.is_none()) {
                u.user.entity_id = Some(crate::group::new_entity_id());
                n += 1;
            }
            for g in s.groups.values_mut().filter(|g| g.entity_id.is_none()) {
                g.entity_id = Some(crate::group::new_entity_id());
                n += 1;
            }
            Ok(n)
        })
    }

    fn count_active_personal_members(&mut self, group_id: GroupId) -> Result<i64> {
        self.exec("count_active_personal_members", |s| {
            Ok(s.active_members(group_id)
                .filter(|(_, u)| u.is_personal())
                .count() as i64)
        })
    }

    fn insert_api_key(&mut self, key: &NewApiKey) -> Result<ApiKey> {
        self.exec("insert_api_key", |s| {
            let keys = s.api_keys.values();
            if keys.clone().any(|(k, _)| k.name == key.name) {
                return Err(unique("api_key_name_key"));
            }
            if keys.clone().any(|(k, _)| k.key_prefix == key.key_prefix) {
                return Err(unique("api_key_key_prefix_key"));
            }
            if s.api_keys.values().any(|(_, d)| *d == key.digest) {
                return Err(unique("idx_api_key_key"));
            }
            let users = [key.user_id, Some(key.creator_id)];
            if users.iter().flatten().any(|u| !s.users.contains_key(u)) {
                return Err(foreign_key("FOREIGN KEY constraint failed"));
            }
            let id = ApiKeyId(s.next_api_key);
            s.next_api_key += 1;
            let stored = ApiKey {
                id,
                user_id: key.user_id,
                name: key.name.clone(),
                key_prefix: key.key_prefix.clone(),
                creator_id: key.creator_id,
                updated_by_id: key.creator_id,
                created_at: key.created_at,
                updated_at: key.created_at,
                scope: key.scope,
            };
            s.api_keys.insert(id, (stored.clone(), key.digest.clone()));
            Ok(stored)
        })
    }

    fn api_keys(&mut self, scope: KeyScope) -> Result<Vec<ApiKey>> {
        self.exec("api_keys", |s| {
            Ok(s.api_keys
                .values()
                .filter(|(k, _)| k.scope == scope)
                .map(|(k, _)| k.clone())
                .collect())
        })
    }

    fn count_api_keys(&mut self, scope: KeyScope) -> Result<i64> {
        self.exec("count_api_keys", |s| {
            Ok(s.api_keys
                .values()
                .filter(|(k, _)| k.scope == scope)
                .count() as i64)
        })
    }

    fn lock_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        self.exec("lock_api_key", |s| {
            Ok(s.api_keys.get(&id).map(|(k, _)| k.clone()))
        })
    }

    fn api_key_name_taken(&mut self, name: &str, except: Option<ApiKeyId>) -> Result<bool> {
        self.exec("api_key_name_taken", |s| {
            Ok(s.api_keys
                .values()
                .any(|(k, _)| k.name == name && Some(k.id) != except))
        })
    }

    fn api_key_by_digest(&mut self, digest: &str) -> Result<Option<ApiKey>> {
        self.exec("api_key_by_digest", |s| {
            Ok(s.api_keys
                .values()
                .find(|(_, d)| d == digest)
                .map(|(k, _)| k.clone()))
        })
    }

    fn api_key_prefix_taken(&mut self, prefix: &str) -> Result<bool> {
        self.exec("api_key_prefix_taken", |s| {
            Ok(s.api_keys.values().any(|(k, _)| k.key_prefix == prefix))
        })
    }

    fn update_api_key(&mut self, id: ApiKeyId, change: &ApiKeyChange) -> Result<()> {
        self.exec("update_api_key", |s| {
            let others = || s.api_keys.values().filter(|(k, _)| k.id != id);
            if others().any(|(k, _)| k.name == change.name) {
                return Err(unique("api_key_name_key"));
            }
            if let Some(crate::api_key::KeySecret { prefix, .. }) = &change.secret {
                if others().any(|(k, _)| k.key_prefix == *prefix) {
                    return Err(unique("api_key_key_prefix_key"));
                }
            }
            if let Some((key, digest)) = s.api_keys.get_mut(&id) {
                key.name = change.name.clone();
                key.updated_by_id = change.updated_by_id;
                key.updated_at = change.updated_at;
                if let Some(secret) = &change.secret {
                    *digest = secret.digest.clone();
                    key.key_prefix = secret.prefix.clone();
                }
            }
            Ok(())
        })
    }

    fn delete_api_key(&mut self, id: ApiKeyId) -> Result<bool> {
        self.exec("delete_api_key", |s| Ok(s.api_keys.remove(&id).is_some()))
    }

    fn key_holder(&mut self, digest: &str) -> Result<Option<KeyHolder>> {
        self.exec("key_holder", |s| {
            let Some(user_id) = s
                .api_keys
                .values()
                .find(|(k, d)| d == digest && k.scope == KeyScope::Default)
                .and_then(|(k, _)| k.user_id)
            else {
                return Ok(None);
            };
            Ok(s.user(user_id).map(|user| KeyHolder {
                memberships: s.memberships_sorted_by_group(user.id),
                user,
            }))
        })
    }

    fn memberships_of(&mut self, user_ids: &[UserId]) -> Result<Vec<Membership>> {
        self.exec("memberships_of", |s| {
            Ok(s.all_memberships(|m| user_ids.contains(&m.user_id)))
        })
    }

    fn all_memberships(&mut self, groups: Option<&[GroupId]>) -> Result<Vec<Membership>> {
        self.exec("all_memberships", |s| {
            Ok(s.all_memberships(|m| groups.is_none_or(|g| g.contains(&m.group_id))))
        })
    }

    fn membership_by_id(&mut self, id: MembershipId) -> Result<Option<Membership>> {
        self.exec("membership_by_id", |s| Ok(s.memberships.get(&id).copied()))
    }

    fn insert_membership(&mut self, m: &NewMembership) -> Result<Membership> {
        self.exec("insert_membership", |s| {
            s.insert_membership(m.user_id, m.group_id, m.role)
        })
    }

    fn set_group_role(&mut self, membership_id: MembershipId, role: GroupRole) -> Result<()> {
        self.exec("set_group_manager", |s| {
            if let Some(m) = s.memberships.get_mut(&membership_id) {
                m.is_group_manager = role.is_manager();
            }
            Ok(())
        })
    }

    fn delete_membership(&mut self, membership_id: MembershipId) -> Result<bool> {
        self.exec("delete_membership", |s| {
            let removed = s.memberships.remove(&membership_id);
            if let Some(m) = &removed {
                s.touch_group(m.group_id);
            }
            Ok(removed.is_some())
        })
    }

    fn delete_group_memberships(&mut self, group_id: GroupId) -> Result<usize> {
        self.exec("delete_group_memberships", |s| {
            let before = s.memberships.len();
            s.touch_group(group_id);
            s.memberships.retain(|_, m| m.group_id != group_id);
            Ok(before - s.memberships.len())
        })
    }

    fn insert_session(&mut self, session: &NewSession) -> Result<()> {
        self.exec("insert_session", |s| {
            if s.sessions.contains_key(&session.id_hash) {
                return Err(unique("core_session_pkey"));
            }
            if !s.users.contains_key(&session.user_id) {
                return Err(foreign_key("FOREIGN KEY constraint failed"));
            }
            s.sessions.insert(session.id_hash.clone(), session.clone());
            Ok(())
        })
    }

    fn caller_by_session(&mut self, id_hash: &str) -> Result<Option<CallerRecord>> {
        self.exec("caller_by_session", |s| {
            let Some(session) = s.sessions.get(id_hash) else {
                return Ok(None);
            };
            let Some(stored) = s.users.get(&session.user_id) else {
                return Ok(None);
            };
            Ok(Some(CallerRecord {
                user: stored.user.clone(),
                memberships: s.memberships_sorted_by_group(stored.user.id),
                session_created_at: session.created_at,
                first_login: stored.first_login,
            }))
        })
    }

    fn delete_session(&mut self, id_hash: &str) -> Result<bool> {
        self.exec("delete_session", |s| {
            Ok(s.delete_sessions(|x| x.id_hash == id_hash) > 0)
        })
    }

    fn delete_user_sessions(&mut self, user_id: UserId, keep: Option<&str>) -> Result<usize> {
        self.exec("delete_user_sessions", |s| {
            Ok(s.delete_sessions(|x| x.user_id == user_id && Some(x.id_hash.as_str()) != keep))
        })
    }

    fn insert_login(&mut self, login: &NewLogin) -> Result<()> {
        self.exec("insert_login", |s| {
            let session_known = login
                .session_hash
                .as_ref()
                .is_none_or(|h| s.sessions.contains_key(h));
            if !s.users.contains_key(&login.user_id) || !session_known {
                return Err(foreign_key("FOREIGN KEY constraint failed"));
            }
            let id = s.next_login;
            s.next_login += 1;
            s.logins.push(StoredLogin {
                id,
                login: login.clone(),
            });
            Ok(())
        })
    }

    fn logins_of(&mut self, user_id: UserId) -> Result<Vec<LoginRecord>> {
        self.exec("logins_of", |s| {
            let mut rows: Vec<&StoredLogin> = s
                .logins
                .iter()
                .filter(|l| l.login.user_id == user_id)
                .collect();
            rows.sort_by_key(|l| std::cmp::Reverse((l.login.timestamp, l.id)));
            Ok(rows
                .into_iter()
                .map(|l| LoginRecord {
                    timestamp: l.login.timestamp,
                    device_id: l.login.device_id.clone(),
                    device_description: l.login.device_description.clone(),
                    ip_address: l.login.ip_address.clone(),
                    active: l.login.session_hash.is_some(),
                })
                .collect())
        })
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        self.exec("setting", |s| Ok(s.settings.get(key).cloned()))
    }

    fn settings(&mut self) -> Result<Vec<(String, String)>> {
        self.exec("settings", |s| {
            Ok(s.settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }

    fn put_setting(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        self.exec("put_setting", |s| {
            match value {
                Some(v) => s.settings.insert(key.to_string(), v.to_string()),
                None => s.settings.remove(key),
            };
            Ok(())
        })
    }

    fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> Result<bool> {
        self.exec("insert_setting_if_absent", |s| {
            if s.settings.contains_key(key) {
                return Ok(false);
            }
            s.settings.insert(key.to_string(), value.to_string());
            Ok(true)
        })
    }

    fn take_setting(&mut self, key: &str, expected: &str) -> Result<bool> {
        self.exec("take_setting", |s| {
            if s.settings.get(key).map(String::as_str) == Some(expected) {
                s.settings.remove(key);
                Ok(true)
            } else {
                Ok(false)
            }
        })
    }

    fn enqueue_email(&mut self, email: &NewEmail) -> Result<EmailId> {
        self.exec("enqueue_email", |s| {
            let id = EmailId(s.next_email);
            s.next_email += 1;
            s.outbox.insert(
                id,
                StoredEmail {
                    id,
                    email: email.clone(),
                    attempts: 0,
                    next_attempt_at: email.created_at,
                    sent_at: None,
                    last_error: None,
                    voided_at: None,
                },
            );
            Ok(id)
        })
    }

    fn void_links(&mut self, user_id: UserId, now: Timestamp) -> Result<usize> {
        self.exec("void_links", |s| {
            Ok(s.void_where(now, |e, _| {
                e.email.link.as_ref().is_some_and(|l| l.user_id == user_id)
            }))
        })
    }

    fn void_dead_links(&mut self, now: Timestamp) -> Result<usize> {
        self.exec("void_dead_links", |s| {
            let users = s.users.clone();
            Ok(s.void_where(now, |e, now| {
                e.email.link.as_ref().is_some_and(|l| {
                    l.expires_at.is_some_and(|x| x <= now)
                        || users
                            .get(&l.user_id)
                            .and_then(|u| u.user.reset_token.as_deref())
                            != Some(l.token_hash.as_str())
                })
            }))
        })
    }

    fn unsent_links(&mut self) -> Result<Vec<(EmailId, Timestamp)>> {
        self.exec("unsent_links", |s| {
            Ok(s.outbox
                .values()
                .filter(|e| e.sent_at.is_none() && e.voided_at.is_none() && e.email.link.is_some())
                .map(|e| (e.id, e.email.created_at))
                .collect())
        })
    }

    fn set_link_expiry(&mut self, id: EmailId, expires_at: Option<Timestamp>) -> Result<()> {
        self.exec("set_link_expiry", |s| {
            if let Some(link) = s.outbox.get_mut(&id).and_then(|e| e.email.link.as_mut()) {
                link.expires_at = expires_at;
            }
            Ok(())
        })
    }

    fn lock_attempts(&mut self, keys: &[ThrottleKey<'_>], now: Timestamp) -> Result<Vec<Vec<i64>>> {
        self.exec("lock_attempts", |s| {
            Ok(keys
                .iter()
                .map(|k| {
                    s.throttles
                        .entry((k.throttle.to_string(), lower(k.key)))
                        .or_insert_with(|| (Vec::new(), now))
                        .0
                        .clone()
                })
                .collect())
        })
    }

    fn save_attempts(&mut self, rows: &[SavedAttempts<'_>]) -> Result<()> {
        self.exec("save_attempts", |s| {
            // An UPDATE: a key never locked has no row to replace.
            for r in rows {
                let key = (r.key.throttle.to_string(), lower(r.key.key));
                if let Some(row) = s.throttles.get_mut(&key) {
                    *row = (r.attempts.clone(), r.expires_at);
                }
            }
            Ok(())
        })
    }

    fn prune_attempts(&mut self, now: Timestamp) -> Result<usize> {
        self.exec("prune_attempts", |s| {
            let before = s.throttles.len();
            s.throttles.retain(|_, (_, expires)| *expires >= now);
            Ok(before - s.throttles.len())
        })
    }

    fn insert_reset_request(&mut self, email: &str, _at: Timestamp) -> Result<()> {
        self.exec("insert_reset_request", |s| {
            s.reset_requests.push(email.to_string());
            Ok(())
        })
    }

    fn take_reset_requests(&mut self, limit: i64) -> Result<Vec<String>> {
        self.exec("take_reset_requests", |s| {
            let n = usize::try_from(limit.max(0))
                .unwrap_or(usize::MAX)
                .min(s.reset_requests.len());
            Ok(s.reset_requests.drain(..n).collect())
        })
    }

    fn claim_emails(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>> {
        self.void_dead_links(now)?;
        self.exec("claim_emails", |s| {
            let mut due: Vec<(Timestamp, EmailId)> = s
                .outbox
                .values()
                .filter(|e| {
                    e.sent_at.is_none()
                        && e.voided_at.is_none()
                        && e.next_attempt_at <= now
                        && e.email
                            .link
                            .as_ref()
                            .is_none_or(|l| l.expires_at.is_none_or(|x| x > now))
                })
                .map(|e| (e.next_attempt_at, e.id))
                .collect();
            due.sort();
            due.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
            let mut out = Vec::new();
            for (_, id) in due {
                let Some(e) = s.outbox.get_mut(&id) else {
                    continue;
                };
                e.attempts += 1;
                e.next_attempt_at = lease_until;
                out.push(QueuedEmail {
                    id: e.id,
                    recipients: e.email.recipients.clone(),
                    subject: e.email.subject.clone(),
                    body_text: e.email.body_text.clone(),
                    body_html: e.email.body_html.clone(),
                    attempts: e.attempts,
                });
            }
            out.sort_by_key(|e| e.id);
            Ok(out)
        })
    }

    fn mark_email_sent(&mut self, id: EmailId, at: Timestamp) -> Result<()> {
        self.exec("mark_email_sent", |s| {
            if let Some(e) = s.outbox.get_mut(&id) {
                e.email.body_text.clear();
                e.email.body_html.clear();
                e.sent_at = Some(at);
                e.last_error = None;
            }
            Ok(())
        })
    }

    fn mark_email_failed(
        &mut self,
        id: EmailId,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<()> {
        self.exec("mark_email_failed", |s| {
            if let Some(e) = s.outbox.get_mut(&id) {
                e.last_error = Some(error.to_string());
                e.next_attempt_at = next_attempt_at;
            }
            Ok(())
        })
    }

    fn claim_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        self.exec("claim_lease", |s| {
            let free = s
                .leases
                .get(name)
                .is_none_or(|(_, expires)| *expires <= now);
            if free {
                s.leases
                    .insert(name.to_string(), (holder.to_string(), until));
            }
            Ok(free)
        })
    }

    fn renew_lease(&mut self, name: &str, holder: &str, until: Timestamp) -> Result<bool> {
        self.exec("renew_lease", |s| match s.leases.get_mut(name) {
            Some((h, expires)) if h == holder => {
                *expires = until;
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    fn delete_sessions_created_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize> {
        self.exec("delete_sessions_created_by", |s| {
            let mut old: Vec<(Timestamp, String)> = s
                .sessions
                .values()
                .filter(|x| x.created_at <= cutoff)
                .map(|x| (x.created_at, x.id_hash.clone()))
                .collect();
            old.sort();
            old.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
            Ok(s.delete_sessions(|x| old.iter().any(|(_, h)| *h == x.id_hash)))
        })
    }

    fn delete_logins_recorded_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize> {
        self.exec("delete_logins_recorded_by", |s| {
            let mut left = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
            let before = s.logins.len();
            s.logins.retain(|l| {
                if left > 0 && l.login.timestamp <= cutoff {
                    left -= 1;
                    false
                } else {
                    true
                }
            });
            Ok(before - s.logins.len())
        })
    }

    fn delete_emails_done_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize> {
        self.exec("delete_emails_done_by", |s| {
            let mut left = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
            let before = s.outbox.len();
            s.outbox.retain(|_, e| {
                let done = e.sent_at.or(e.voided_at).is_some_and(|at| at <= cutoff);
                if left > 0 && done {
                    left -= 1;
                    false
                } else {
                    true
                }
            });
            Ok(before - s.outbox.len())
        })
    }
}

// ----- other fakes -----

/// Renders an email as data: the subject is the `Debug` form of the [`Email`], the text part its link (the
/// join or reset URL, empty for emails without one), the HTML part the `Debug` form of the context.
#[derive(Debug, Default, Clone, Copy)]
pub struct DebugTemplates;

impl EmailTemplates for DebugTemplates {
    fn render(&self, email: &Email, ctx: &MailContext) -> Rendered {
        let link = match email {
            Email::Invite { join_url, .. } => join_url.clone(),
            Email::PasswordReset { reset_url, .. } => reset_url.clone(),
            _ => String::new(),
        };
        Rendered {
            subject: format!("{email:?}"),
            text: link,
            html: format!("{ctx:?}"),
        }
    }
}

/// The token inside a queued join or reset link (`…/auth/reset_password/<token>[#new]`).
pub fn token_in_link(body_text: &str) -> Option<String> {
    let (_, rest) = body_text.split_once("/auth/reset_password/")?;
    Some(rest.trim_end_matches("#new").to_string())
}

// ----- the fixture -----

/// A password every policy accepts (and the default one, `normal`).
pub const PASSWORD: &str = "unc0mmonpw";

/// Where the clock starts.
pub fn t0() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2024, 1, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// A client at `ip`.
pub fn client(ip: &str) -> ClientInfo {
    ClientInfo {
        ip: ip.to_string(),
        user_agent: "test-agent".to_string(),
        device_id: "device-1".to_string(),
    }
}

/// A JSON object from a `json!` literal.
pub fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A `People` over a [`MemoryStore`], bcrypt cost 4, [`DebugTemplates`] and a [`ManualClock`] at [`t0`].
pub struct Fixture {
    /// The use cases under test.
    pub people: People,
    /// Their store, for inspection and injected failures.
    pub store: Arc<MemoryStore>,
    /// Their clock, moved by [`Fixture::advance`].
    pub clock: Arc<ManualClock>,
}

/// Who [`Fixture::user`] creates.
#[derive(Debug, Clone, Default)]
pub struct UserSpec<'a> {
    /// Email (stored lower-cased).
    pub email: &'a str,
    /// Given name.
    pub first_name: Option<&'a str>,
    /// Family name.
    pub last_name: Option<&'a str>,
    /// `None`: no password (cannot log in).
    pub password: Option<&'a str>,
    /// Groups besides All Users, with the manager flag; Administrators makes a superuser.
    pub groups: &'a [(GroupId, bool)],
    /// SSO source, if any.
    pub sso_source: Option<&'a str>,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Fixture {
    /// The default configuration.
    pub fn new() -> Self {
        Fixture::with_config(Config::default())
    }

    /// A given configuration.
    pub fn with_config(config: Config) -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(t0()));
        let people = People::new(
            store.clone(),
            Arc::new(Bcrypt::new(4).expect("cost 4 is valid")),
            Arc::new(DebugTemplates),
            config,
        )
        .with_clock(clock.clone());
        Fixture {
            people,
            store,
            clock,
        }
    }

    /// Now, by the fixture's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Creates a user directly in the store (All Users plus `spec.groups`), bypassing the use cases.
    pub fn user(&self, spec: UserSpec<'_>) -> User {
        let password = spec
            .password
            .map(|p| self.people.hasher.hash(p).expect("hash"));
        let admin = spec.groups.iter().any(|(g, _)| *g == ADMINISTRATORS_ID);
        let new = NewUser {
            email: spec.email.to_lowercase(),
            first_name: spec.first_name.map(str::to_string),
            last_name: spec.last_name.map(str::to_string),
            password,
            is_superuser: admin,
            login_attributes: None,
            locale: None,
            sso_source: spec.sso_source.map(SsoSource::from),
            date_joined: self.now(),
            user_type: crate::user::UserType::Personal,
            entity_id: Some(crate::group::new_entity_id()),
            external_id: None,
        };
        self.people
            .store
            .write(|repo| {
                let user = insert_with_memberships(repo, &new)?;
                for (g, manager) in spec.groups {
                    if *g == ADMINISTRATORS_ID {
                        continue;
                    }
                    repo.insert_membership(&NewMembership {
                        user_id: user.id,
                        group_id: *g,
                        role: GroupRole::from_manager_flag(*manager),
                    })?;
                }
                Ok(user)
            })
            .expect("create user")
    }

    /// A user with a password, a name and memberships.
    pub fn member(&self, email: &str, first: &str, groups: &[(GroupId, bool)]) -> User {
        self.user(UserSpec {
            email,
            first_name: Some(first),
            password: Some(PASSWORD),
            groups,
            ..UserSpec::default()
        })
    }

    /// A superuser with a password.
    pub fn admin(&self, email: &str) -> User {
        self.member(email, "Admin", &[(ADMINISTRATORS_ID, false)])
    }

    /// A new session for `user_id` (as a login makes, without the password check); returns its token.
    pub fn session(&self, user_id: UserId) -> String {
        let now = self.now();
        self.people
            .store
            .write(|repo| {
                start_session(repo, user_id, now, &ClientInfo::default(), History::Record)
            })
            .expect("start session")
            .expose()
            .to_string()
    }

    /// The caller behind a fresh session of `user_id`, as `authenticate` builds it.
    pub fn caller(&self, user_id: UserId) -> Caller {
        let token = self.session(user_id);
        self.people
            .authenticate(Some(&token))
            .expect("authenticate")
    }

    /// Signs in with email and password through the login use case; returns the session token.
    pub fn login(&self, email: &str, password: &str) -> Result<String> {
        self.people
            .login(
                Login {
                    username: email.to_string(),
                    password: Secret::new(password),
                    persistence: Persistence::BrowserSession,
                },
                &client("10.0.0.1"),
            )
            .map(|g| g.token.expose().to_string())
    }

    /// Creates a group directly in the store.
    pub fn group(&self, name: &str) -> Group {
        self.people
            .store
            .write(|r| r.insert_group(name, &crate::group::new_entity_id()))
            .expect("create group")
    }

    /// Moves the clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

// ----- what only the fake does (the rest is the contract's) -----

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_that_swallowed_a_failed_statement_fails_and_leaves_nothing() {
        let mem = Arc::new(MemoryStore::new());
        let s: Arc<dyn Store> = mem.clone();
        // What comes after the swallowed failure: another statement (refused, the transaction is aborted,
        // as on PostgreSQL), or nothing (the commit fails).
        type Then = fn(&mut dyn Repo) -> Result<()>;
        let after: [(Then, &str); 2] = [
            (|r| r.count_users(10).map(drop), "aborted"),
            (|_| Ok(()), "rolled back"),
        ];
        for (then, why) in after {
            let err = s
                .write(|r| {
                    r.put_setting("k", Some("v"))?;
                    let dup = r.insert_group("all users", "e1");
                    assert!(dup.unwrap_err().is_unique_violation());
                    then(r)
                })
                .unwrap_err();
            assert!(
                matches!(err, DomainError::Store(StoreFailure::Other(ref m)) if m.contains(why)),
                "{err:?}"
            );
            assert_eq!(mem.setting("k"), None);
        }
        assert_eq!(mem.units(), (0, 2));
    }

    #[test]
    fn injected_failures_and_nested_units() {
        let mem = Arc::new(MemoryStore::new());
        let s: Arc<dyn Store> = mem.clone();
        mem.fail_on("ping", StoreFailure::Unavailable("down".into()));
        assert_eq!(
            s.read(|r| r.ping()).unwrap_err(),
            DomainError::Store(StoreFailure::Unavailable("down".into()))
        );
        mem.heal();
        s.read(|r| r.ping()).unwrap();
        let nested = s.read(|_| s.read(|r| r.ping())).unwrap_err();
        assert!(matches!(nested, DomainError::Internal(_)));
        assert_eq!(mem.units(), (3, 0), "the nested unit never ran");
    }
}

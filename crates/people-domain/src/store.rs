//! The storage ports: what the use cases need from a database, as traits that people-store implements.
//!
//! `Repo` is one connection's worth of operations; `Store` hands out a `Repo`, either plainly (reads) or inside
//! one transaction (writes: everything the closure does commits together or not at all).

use crate::api_key::{ApiKey, ApiKeyChange, KeyHolder, KeyScope, NewApiKey};
use crate::clock::Timestamp;
use crate::error::{DomainError, Result};
use crate::group::{Group, GroupMember, GroupRole, GroupWithCount, Membership};
use crate::id::{ApiKeyId, EmailId, GroupId, MembershipId, UserId};
use crate::session::{CallerRecord, LoginRecord, NewLogin, NewSession};
use crate::user::{NewUser, User};

/// Which users by activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activity {
    /// `is_active = true`.
    #[default]
    Active,
    /// `is_active = false`.
    Inactive,
    /// Both.
    Any,
}

/// Ordering of a user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    /// `lower(first_name), lower(last_name), id`.
    #[default]
    FirstName,
    /// Superusers first, then managers of the group, then by first name (the group-filtered list).
    GroupRank(GroupId),
    /// `lower(last_name), lower(first_name), id` (recipients).
    LastName,
}

/// `limit` and `offset`, both present once either is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// At most this many rows.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// Filters, order and page of a user list. Only personal users are ever listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserQuery {
    /// Activity filter.
    pub activity: Activity,
    /// Case-insensitive substring of first name, last name or email; `%` and `_` match themselves.
    pub text: Option<String>,
    /// Only members of this group.
    pub group_id: Option<GroupId>,
    /// Only users sharing a group other than All Users with this user.
    pub shares_group_with: Option<UserId>,
    /// Order.
    pub order: UserOrder,
    /// Page; `None` for every row.
    pub page: Option<Page>,
}

/// A throttle's key: which throttle, and the key (a client address, a user name, an email).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleKey<'a> {
    /// The throttle's name.
    pub throttle: &'a str,
    /// The key, as the client sent it (the database folds its case).
    pub key: &'a str,
}

/// The attempts to store for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAttempts<'a> {
    /// Which key.
    pub key: ThrottleKey<'a>,
    /// Epoch milliseconds, newest first; negative for attempts still pending.
    pub attempts: Vec<i64>,
    /// From when the row may be deleted (the newest attempt has left the window).
    pub expires_at: Timestamp,
}

/// The reset or invite link an email carries: the email may be sent only while that token is the user's
/// and has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLink {
    /// Whose token.
    pub user_id: UserId,
    /// SHA-256 of the token in the link.
    pub token_hash: String,
    /// When the link expires; `None` when it does not.
    pub expires_at: Option<Timestamp>,
}

/// An email to queue in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    /// Addresses.
    pub recipients: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: String,
    /// Queued at (and first due at).
    pub created_at: Timestamp,
    /// The link it carries, if any.
    pub link: Option<EmailLink>,
}

/// An email claimed from the outbox for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEmail {
    /// Outbox id.
    pub id: EmailId,
    /// Addresses.
    pub recipients: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// A membership to insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMembership {
    /// Member.
    pub user_id: UserId,
    /// Group.
    pub group_id: GroupId,
    /// Plain member or manager.
    pub role: GroupRole,
}

/// One connection's worth of storage operations. Ids from clients may name nothing (or lie beyond what a
/// table's key can hold): that is "not found", never an error.
pub trait Repo {
    /// Checks that the database answers.
    fn ping(&mut self) -> Result<()>;

    // ----- users -----
    /// Inserts a user (no memberships); a taken email (any case) fails with a unique violation.
    fn insert_user(&mut self, user: &NewUser) -> Result<User>;
    /// The user with `id`.
    fn user_by_id(&mut self, id: UserId) -> Result<Option<User>>;
    /// The user with `id` and every membership of theirs (ordered by group id), in one query.
    fn user_with_memberships(&mut self, id: UserId) -> Result<Option<(User, Vec<Membership>)>>;
    /// The user with `id`, locked until the end of the transaction where the database supports it.
    fn lock_user(&mut self, id: UserId) -> Result<Option<User>>;
    /// The user whose email equals `email` ignoring case.
    fn user_by_email(&mut self, email: &str) -> Result<Option<User>>;
    /// Writes every column of `user` (by id); a taken email fails with a unique violation.
    fn update_user(&mut self, user: &User) -> Result<()>;
    /// Sets `last_login`.
    fn set_last_login(&mut self, user_id: UserId, at: Timestamp) -> Result<()>;
    /// Number of users of any type or status, counting no further than `at_most` (so that "is there a
    /// user" and "is there a second user" stay cheap on a large table).
    fn count_users(&mut self, at_most: i64) -> Result<i64>;
    /// A page of users and the number of distinct users matching the filters.
    fn list_users(&mut self, query: &UserQuery) -> Result<(Vec<User>, i64)>;
    /// Active superusers, by id.
    fn active_superusers(&mut self) -> Result<Vec<User>>;
    /// The user whose `entity_id` is `entity_id` (any type or status; the caller decides what it may see).
    fn user_by_entity_id(&mut self, entity_id: &str) -> Result<Option<User>>;
    /// The people SCIM can see (personal users with an `entity_id`, not deleted by SCIM; active or not)
    /// matching `filter`, in `sort` order (then by id; by id alone without one): the `page` of them and how
    /// many match in all. The filter is compiled into the query; nothing is filtered in memory.
    fn scim_users(
        &mut self,
        filter: Option<&crate::scim::filter::UserFilter>,
        sort: Option<crate::scim::list::Sort<crate::scim::filter::UserAttr>>,
        page: Page,
    ) -> Result<(Vec<User>, i64)>;
    /// The user whose SCIM `userName` column (`scim_user_name`) is `user_name`, ignoring case.
    fn user_by_scim_user_name(&mut self, user_name: &str) -> Result<Option<User>>;
    /// The users whose `entity_id` is one of `entity_ids` (any type or status).
    fn users_by_entity_ids(&mut self, entity_ids: &[String]) -> Result<Vec<User>>;
    /// The groups SCIM can see (all but All Users and Administrators) matching `filter`, in `sort` order
    /// (then by id): the `page` of them and how many match in all, filtered in the query.
    fn scim_groups(
        &mut self,
        filter: Option<&crate::scim::filter::GroupFilter>,
        sort: Option<crate::scim::list::Sort<crate::scim::filter::GroupAttr>>,
        page: Page,
    ) -> Result<(Vec<crate::scim::group::GroupRecord>, i64)>;
    /// The group whose `entity_id` is `entity_id`, with SCIM's columns (magic groups included; the caller
    /// decides what SCIM may see).
    fn scim_group_by_entity_id(
        &mut self,
        entity_id: &str,
    ) -> Result<Option<crate::scim::group::GroupRecord>>;
    /// Sets a group's SCIM `externalId` and marks it changed at `at`.
    fn set_group_external_id(
        &mut self,
        id: GroupId,
        external_id: Option<&str>,
        at: Timestamp,
    ) -> Result<()>;
    /// The members of `groups` that SCIM can see (as [`Repo::scim_users`]), by group then user entity id.
    fn scim_group_members(
        &mut self,
        groups: &[GroupId],
    ) -> Result<Vec<crate::scim::group::ScimMember>>;
    /// Gives every user and every group without an `entity_id` a fresh one (rows written by tools that bypass
    /// people); returns how many rows changed.
    fn backfill_entity_ids(&mut self) -> Result<usize>;

    // ----- groups -----
    /// Inserts a group; a taken name (any case) fails with a unique violation.
    fn insert_group(&mut self, name: &str, entity_id: &str) -> Result<Group>;
    /// The group with `id`.
    fn group_by_id(&mut self, id: GroupId) -> Result<Option<Group>>;
    /// The group whose name equals `name` ignoring case.
    fn group_by_name(&mut self, name: &str) -> Result<Option<Group>>;
    /// Groups whose ids are in `ids` (unknown ids are skipped).
    fn groups_by_ids(&mut self, ids: &[GroupId]) -> Result<Vec<Group>>;
    /// Locks the group row until the end of the transaction where the database supports it (serialises
    /// changes that must see a stable member count, such as the last-admin rule).
    fn lock_group(&mut self, id: GroupId) -> Result<()>;
    /// Renames a group; a taken name fails with a unique violation.
    fn rename_group(&mut self, id: GroupId, name: &str) -> Result<()>;
    /// Deletes a group and its memberships; false when it did not exist.
    fn delete_group(&mut self, id: GroupId) -> Result<bool>;
    /// Groups ordered by lower(name) with active member counts, limited to `only` when given.
    fn list_groups(
        &mut self,
        only: Option<&[GroupId]>,
        page: Option<Page>,
    ) -> Result<Vec<GroupWithCount>>;
    /// Active members of a group ordered by lower(first_name), lower(last_name).
    fn group_members(&mut self, group_id: GroupId) -> Result<Vec<GroupMember>>;
    /// Number of active users who are members of `group_id`.
    fn count_active_members(&mut self, group_id: GroupId) -> Result<i64>;
    /// Number of active **personal** users who are members of `group_id` (the last-admin rule: an API key in
    /// Administrators is not a person who can administer).
    fn count_active_personal_members(&mut self, group_id: GroupId) -> Result<i64>;

    // ----- memberships -----
    /// Memberships of the given users, ordered by user then group.
    fn memberships_of(&mut self, user_ids: &[UserId]) -> Result<Vec<Membership>>;
    /// Every membership, or those of the given groups, ordered by user then group.
    fn all_memberships(&mut self, groups: Option<&[GroupId]>) -> Result<Vec<Membership>>;
    /// The membership with `id`.
    fn membership_by_id(&mut self, id: MembershipId) -> Result<Option<Membership>>;
    /// Adds a membership; a duplicate fails with a unique violation, an unknown user or group with a
    /// foreign-key violation.
    fn insert_membership(&mut self, membership: &NewMembership) -> Result<Membership>;
    /// Sets a membership's role.
    fn set_group_role(&mut self, membership_id: MembershipId, role: GroupRole) -> Result<()>;
    /// Deletes a membership; false when it did not exist.
    fn delete_membership(&mut self, membership_id: MembershipId) -> Result<bool>;
    /// Deletes every membership of a group; returns how many.
    fn delete_group_memberships(&mut self, group_id: GroupId) -> Result<usize>;

    // ----- sessions -----
    /// Stores a session.
    fn insert_session(&mut self, session: &NewSession) -> Result<()>;
    /// The session with this hash joined to its user and the user's memberships, in one query.
    fn caller_by_session(&mut self, id_hash: &str) -> Result<Option<CallerRecord>>;
    /// Deletes one session; false when it did not exist.
    fn delete_session(&mut self, id_hash: &str) -> Result<bool>;
    /// Deletes every session of a user except `keep`; returns how many.
    fn delete_user_sessions(&mut self, user_id: UserId, keep: Option<&str>) -> Result<usize>;

    // ----- API keys -----
    /// Stores a key. A taken name or prefix fails with a unique violation; an unknown user with a
    /// foreign-key violation.
    fn insert_api_key(&mut self, key: &NewApiKey) -> Result<ApiKey>;
    /// The keys of `scope`, by id.
    fn api_keys(&mut self, scope: KeyScope) -> Result<Vec<ApiKey>>;
    /// How many keys of `scope` exist.
    fn count_api_keys(&mut self, scope: KeyScope) -> Result<i64>;
    /// The key with `id`, locked for the rest of the transaction where the back end can.
    fn lock_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>>;
    /// Whether a key other than `except` is named `name` (exactly, case-sensitively).
    fn api_key_name_taken(&mut self, name: &str, except: Option<ApiKeyId>) -> Result<bool>;
    /// The key whose digest is `digest`, of any scope (the SCIM token is checked this way).
    fn api_key_by_digest(&mut self, digest: &str) -> Result<Option<ApiKey>>;
    /// Whether a key has this prefix.
    fn api_key_prefix_taken(&mut self, prefix: &str) -> Result<bool>;
    /// Writes `change` to key `id` (name, updated_by, updated_at and, when given, digest and prefix). A taken
    /// name or prefix fails with a unique violation.
    fn update_api_key(&mut self, id: ApiKeyId, change: &ApiKeyChange) -> Result<()>;
    /// Deletes key `id`; false when it did not exist.
    fn delete_api_key(&mut self, id: ApiKeyId) -> Result<bool>;
    /// The user of the ordinary key whose digest is `digest`, with their memberships, in one query; `None`
    /// for an unknown digest or a key of another scope. The user may be inactive (the caller decides).
    fn key_holder(&mut self, digest: &str) -> Result<Option<KeyHolder>>;

    // ----- login history -----
    /// Records a successful login.
    fn insert_login(&mut self, login: &NewLogin) -> Result<()>;
    /// A user's logins, newest first.
    fn logins_of(&mut self, user_id: UserId) -> Result<Vec<LoginRecord>>;

    // ----- settings -----
    /// The stored value of `key`.
    fn setting(&mut self, key: &str) -> Result<Option<String>>;
    /// Every stored setting, by key.
    fn settings(&mut self) -> Result<Vec<(String, String)>>;
    /// Stores `value` under `key`, or deletes the key for `None`.
    fn put_setting(&mut self, key: &str, value: Option<&str>) -> Result<()>;
    /// Stores `value` unless the key exists; true when this call stored it.
    fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> Result<bool>;
    /// Deletes `key` if its value is `expected`; true when this call deleted it. Of concurrent callers only
    /// one gets true, which makes it a claim (the setup token).
    fn take_setting(&mut self, key: &str, expected: &str) -> Result<bool>;

    // ----- throttles -----
    /// The attempts recorded for each key (epoch milliseconds, in any order), in the order of `keys`. A key
    /// is folded to lower case by the database, exactly as the email lookup folds. The keys are locked until
    /// the end of the transaction, in the order given (their rows are created when absent), so that
    /// concurrent attempts on a key, on any replica, take turns.
    fn lock_attempts(&mut self, keys: &[ThrottleKey<'_>], now: Timestamp) -> Result<Vec<Vec<i64>>>;
    /// Replaces the attempts of keys locked by [`Repo::lock_attempts`].
    fn save_attempts(&mut self, rows: &[SavedAttempts<'_>]) -> Result<()>;
    /// Deletes the keys whose attempts all expired before `now`; returns how many.
    fn prune_attempts(&mut self, now: Timestamp) -> Result<usize>;

    // ----- password-reset asks -----
    /// Records that a reset link was asked for `email` (whether or not it has an account).
    fn insert_reset_request(&mut self, email: &str, at: Timestamp) -> Result<()>;
    /// Takes up to `limit` asks, oldest first: they are deleted when the transaction commits. Asks another
    /// worker has taken are skipped, not waited for.
    fn take_reset_requests(&mut self, limit: i64) -> Result<Vec<String>>;

    // ----- email outbox -----
    /// Queues an email; returns its id.
    fn enqueue_email(&mut self, email: &NewEmail) -> Result<EmailId>;
    /// Blanks every unsent email carrying a link of `user_id` (whose token has just changed); they are never
    /// sent. Returns how many.
    fn void_links(&mut self, user_id: UserId, now: Timestamp) -> Result<usize>;
    /// Blanks every unsent email whose link expired at `now` or whose token is no longer its user's.
    fn void_dead_links(&mut self, now: Timestamp) -> Result<usize>;
    /// Unsent emails carrying a link, as (id, queued at): their expiry follows the link lifetime setting.
    fn unsent_links(&mut self) -> Result<Vec<(EmailId, Timestamp)>>;
    /// Sets when the link of unsent email `id` expires.
    fn set_link_expiry(&mut self, id: EmailId, expires_at: Option<Timestamp>) -> Result<()>;
    /// Claims up to `limit` unsent emails due at `now` for one attempt each: their attempt count goes up and
    /// they are not due again before `lease_until`, so that no other worker takes them meanwhile. An email
    /// whose link has died is never claimed.
    fn claim_emails(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>>;
    /// Marks an email sent (its bodies, which may hold a reset link, are blanked).
    fn mark_email_sent(&mut self, id: EmailId, at: Timestamp) -> Result<()>;
    /// Records a failed attempt and when to try again.
    fn mark_email_failed(
        &mut self,
        id: EmailId,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<()>;

    // ----- housekeeping -----
    /// Takes the lease `name` for `holder` until `until` when it is free (it expired at or before `now`);
    /// true when this call took it. Of concurrent callers at most one gets true.
    fn claim_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool>;
    /// Moves the end of the lease `name` to `until` when `holder` still holds it; false when another holder
    /// has claimed it since. Inside a write transaction, the work done with it is fenced: it commits only
    /// while the lease is `holder`'s.
    fn renew_lease(&mut self, name: &str, holder: &str, until: Timestamp) -> Result<bool>;
    /// Deletes up to `limit` sessions created at or before `cutoff` (oldest first where the database
    /// chooses); returns how many.
    fn delete_sessions_created_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize>;
    /// Deletes up to `limit` login history rows recorded at or before `cutoff`; returns how many.
    fn delete_logins_recorded_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize>;
    /// Deletes up to `limit` outbox rows sent, or voided unsent, at or before `cutoff` (never one still
    /// waiting); returns how many.
    fn delete_emails_done_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize>;
}

/// How a unit of work uses its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    /// No transaction: reads, and writes of a single statement.
    Read,
    /// One transaction, committed when the work returns `Ok` and rolled back otherwise.
    Write,
}

/// Hands out [`Repo`]s. Implemented by people-store over a connection pool.
pub trait Store: Send + Sync {
    /// Runs `work` on one pooled connection, inside one transaction for [`Transaction::Write`].
    fn run(
        &self,
        transaction: Transaction,
        work: &mut dyn FnMut(&mut dyn Repo) -> Result<()>,
    ) -> Result<()>;

    /// `"postgres"` or `"sqlite"`.
    fn backend(&self) -> &'static str;
}

impl dyn Store + '_ {
    fn call<T>(
        &self,
        transaction: Transaction,
        f: impl FnOnce(&mut dyn Repo) -> Result<T>,
    ) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.run(transaction, &mut |repo| {
            let f = f
                .take()
                .ok_or_else(|| DomainError::Internal("store ran a unit of work twice".into()))?;
            out = Some(f(repo)?);
            Ok(())
        })?;
        out.ok_or_else(|| DomainError::Internal("store did not run the unit of work".into()))
    }

    /// Runs `f` on one connection without a transaction (reads, single-statement writes).
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Repo) -> Result<T>) -> Result<T> {
        self.call(Transaction::Read, f)
    }

    /// Runs `f` in one transaction.
    pub fn write<T>(&self, f: impl FnOnce(&mut dyn Repo) -> Result<T>) -> Result<T> {
        self.call(Transaction::Write, f)
    }
}

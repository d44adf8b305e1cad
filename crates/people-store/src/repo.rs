//! `DbRepo`: the domain's `Repo` port over one pooled connection. Each method delegates to the module named
//! after its table.

use people_domain::api_key::{ApiKey, ApiKeyChange, KeyHolder, KeyScope, NewApiKey};
use people_domain::clock::Timestamp;
use people_domain::group::{Group, GroupMember, GroupRole, GroupWithCount, Membership};
use people_domain::scim::filter::{GroupAttr, GroupFilter, UserAttr};
use people_domain::scim::group::{GroupRecord, ScimMember};
use people_domain::scim::list::Sort;
use people_domain::session::{CallerRecord, LoginRecord, NewLogin, NewSession};
use people_domain::store::{
    NewEmail, NewMembership, Page, QueuedEmail, Repo, SavedAttempts, ThrottleKey, UserQuery,
};
use people_domain::user::{NewUser, User};
use people_domain::{ApiKeyId, EmailId, GroupId, MembershipId, Result, UserId};

use diesel::connection::SimpleConnection;

use crate::cipher::Keys;
use crate::db::AnyConnection;
use crate::key::{keys, Key};
use crate::{api_key, group, outbox, reset_request, session, setting, throttle, user};

/// One connection seen through the domain's `Repo` trait, with the keys outbox bodies and secret settings
/// are sealed with.
pub(crate) struct DbRepo<'a> {
    conn: &'a mut AnyConnection,
    keys: Option<&'a Keys>,
}

impl<'a> DbRepo<'a> {
    pub(crate) fn new(conn: &'a mut AnyConnection, keys: Option<&'a Keys>) -> Self {
        DbRepo { conn, keys }
    }

    fn outbox_cipher(&self) -> Option<&'a crate::cipher::Cipher> {
        self.keys.map(|k| &k.outbox)
    }

    fn setting_cipher(&self) -> Option<&'a crate::cipher::Cipher> {
        self.keys.map(|k| &k.settings)
    }
}

impl Repo for DbRepo<'_> {
    fn ping(&mut self) -> Result<()> {
        self.conn
            .batch_execute("SELECT 1")
            .map_err(crate::error::db)
    }

    fn insert_user(&mut self, u: &NewUser) -> Result<User> {
        user::insert(self.conn, u)
    }
    fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        id.key().map_or(Ok(None), |id| user::by_id(self.conn, id))
    }
    fn user_with_memberships(&mut self, id: UserId) -> Result<Option<(User, Vec<Membership>)>> {
        id.key()
            .map_or(Ok(None), |id| user::with_memberships(self.conn, id))
    }
    fn lock_user(&mut self, id: UserId) -> Result<Option<User>> {
        id.key().map_or(Ok(None), |id| user::lock(self.conn, id))
    }
    fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        user::by_email(self.conn, email)
    }
    fn update_user(&mut self, u: &User) -> Result<()> {
        user::update(self.conn, u)
    }
    fn set_last_login(&mut self, user_id: UserId, at: Timestamp) -> Result<()> {
        user_id
            .key()
            .map_or(Ok(()), |id| user::set_last_login(self.conn, id, at))
    }
    fn count_users(&mut self, at_most: i64) -> Result<i64> {
        user::count(self.conn, at_most)
    }
    fn list_users(&mut self, q: &UserQuery) -> Result<(Vec<User>, i64)> {
        user::list(self.conn, q)
    }
    fn active_superusers(&mut self) -> Result<Vec<User>> {
        user::active_superusers(self.conn)
    }
    fn user_by_entity_id(&mut self, entity_id: &str) -> Result<Option<User>> {
        user::by_entity_id(self.conn, entity_id)
    }
    fn scim_users(
        &mut self,
        filter: Option<&people_domain::scim::filter::UserFilter>,
        sort: Option<Sort<UserAttr>>,
        page: people_domain::store::Page,
    ) -> Result<(Vec<User>, i64)> {
        crate::scim::users(self.conn, filter, sort, page)
    }
    fn user_by_scim_user_name(&mut self, user_name: &str) -> Result<Option<User>> {
        user::by_scim_user_name(self.conn, user_name)
    }
    fn users_by_entity_ids(&mut self, entity_ids: &[String]) -> Result<Vec<User>> {
        user::by_entity_ids(self.conn, entity_ids)
    }
    fn scim_groups(
        &mut self,
        filter: Option<&GroupFilter>,
        sort: Option<Sort<GroupAttr>>,
        page: people_domain::store::Page,
    ) -> Result<(Vec<GroupRecord>, i64)> {
        crate::scim::groups(self.conn, filter, sort, page)
    }
    fn scim_group_by_entity_id(&mut self, entity_id: &str) -> Result<Option<GroupRecord>> {
        crate::scim::group_by_entity_id(self.conn, entity_id)
    }
    fn set_group_external_id(
        &mut self,
        id: GroupId,
        external_id: Option<&str>,
        at: people_domain::clock::Timestamp,
    ) -> Result<()> {
        id.key().map_or(Ok(()), |id| {
            crate::scim::set_group_external_id(self.conn, id, external_id, at)
        })
    }
    fn scim_group_members(&mut self, groups: &[GroupId]) -> Result<Vec<ScimMember>> {
        crate::scim::group_members(self.conn, &crate::key::keys(groups))
    }
    fn backfill_entity_ids(&mut self) -> Result<usize> {
        let n = user::backfill_entity_ids(self.conn)? + group::backfill_entity_ids(self.conn)?;
        if n > 0 {
            // PostgreSQL's statistics still say the ids are missing until the next analyze (never, where
            // autovacuum is off), and with them the planner walks the entity-id index for SCIM's userName
            // filter instead of using the email and userName indexes (docs/performance.md, SCIM).
            if let crate::db::AnyConnection::Postgresql(_) = self.conn {
                use diesel::RunQueryDsl;
                diesel::sql_query("ANALYZE core_user, permissions_group")
                    .execute(self.conn)
                    .map_err(crate::error::db)?;
            }
        }
        Ok(n)
    }

    fn insert_group(&mut self, name: &str, entity_id: &str) -> Result<Group> {
        group::insert(self.conn, name, entity_id)
    }
    fn group_by_id(&mut self, id: GroupId) -> Result<Option<Group>> {
        id.key().map_or(Ok(None), |id| group::by_id(self.conn, id))
    }
    fn group_by_name(&mut self, name: &str) -> Result<Option<Group>> {
        group::by_name(self.conn, name)
    }
    fn groups_by_ids(&mut self, ids: &[GroupId]) -> Result<Vec<Group>> {
        group::by_ids(self.conn, &keys(ids))
    }
    fn lock_group(&mut self, id: GroupId) -> Result<()> {
        id.key().map_or(Ok(()), |id| group::lock(self.conn, id))
    }
    fn rename_group(&mut self, id: GroupId, name: &str) -> Result<()> {
        id.key()
            .map_or(Ok(()), |id| group::rename(self.conn, id, name))
    }
    fn delete_group(&mut self, id: GroupId) -> Result<bool> {
        id.key()
            .map_or(Ok(false), |id| group::delete(self.conn, id))
    }
    fn list_groups(
        &mut self,
        only: Option<&[GroupId]>,
        page: Option<Page>,
    ) -> Result<Vec<GroupWithCount>> {
        let only = only.map(keys);
        group::list(self.conn, only.as_deref(), page)
    }
    fn group_members(&mut self, group_id: GroupId) -> Result<Vec<GroupMember>> {
        group_id
            .key()
            .map_or(Ok(Vec::new()), |id| group::members(self.conn, id))
    }
    fn count_active_members(&mut self, group_id: GroupId) -> Result<i64> {
        group_id
            .key()
            .map_or(Ok(0), |id| group::count_active_members(self.conn, id))
    }
    fn count_active_personal_members(&mut self, group_id: GroupId) -> Result<i64> {
        group_id.key().map_or(Ok(0), |id| {
            user::count_active_personal_members(self.conn, id)
        })
    }

    fn memberships_of(&mut self, user_ids: &[UserId]) -> Result<Vec<Membership>> {
        group::memberships_of(self.conn, &keys(user_ids))
    }
    fn all_memberships(&mut self, groups: Option<&[GroupId]>) -> Result<Vec<Membership>> {
        let groups = groups.map(keys);
        group::all_memberships(self.conn, groups.as_deref())
    }
    fn membership_by_id(&mut self, id: MembershipId) -> Result<Option<Membership>> {
        id.key()
            .map_or(Ok(None), |id| group::membership_by_id(self.conn, id))
    }
    fn insert_membership(&mut self, m: &NewMembership) -> Result<Membership> {
        let (Some(user_id), Some(group_id)) = (m.user_id.key(), m.group_id.key()) else {
            return Err(crate::error::no_such_row("permissions_group_membership"));
        };
        group::insert_membership(self.conn, user_id, group_id, m.role == GroupRole::Manager)
    }
    fn set_group_role(&mut self, id: MembershipId, role: GroupRole) -> Result<()> {
        id.key().map_or(Ok(()), |id| {
            group::set_manager(self.conn, id, role == GroupRole::Manager)
        })
    }
    fn delete_membership(&mut self, id: MembershipId) -> Result<bool> {
        id.key()
            .map_or(Ok(false), |id| group::delete_membership(self.conn, id))
    }
    fn delete_group_memberships(&mut self, group_id: GroupId) -> Result<usize> {
        group_id
            .key()
            .map_or(Ok(0), |id| group::delete_group_memberships(self.conn, id))
    }

    fn insert_session(&mut self, s: &NewSession) -> Result<()> {
        session::insert(self.conn, s)
    }
    fn caller_by_session(&mut self, id_hash: &str) -> Result<Option<CallerRecord>> {
        session::caller(self.conn, id_hash)
    }
    fn delete_session(&mut self, id_hash: &str) -> Result<bool> {
        session::delete(self.conn, id_hash)
    }
    fn delete_user_sessions(&mut self, user_id: UserId, keep: Option<&str>) -> Result<usize> {
        user_id
            .key()
            .map_or(Ok(0), |id| session::delete_of_user(self.conn, id, keep))
    }

    fn insert_api_key(&mut self, k: &NewApiKey) -> Result<ApiKey> {
        api_key::insert(self.conn, k)
    }
    fn api_keys(&mut self, scope: KeyScope) -> Result<Vec<ApiKey>> {
        api_key::list(self.conn, scope)
    }
    fn count_api_keys(&mut self, scope: KeyScope) -> Result<i64> {
        api_key::count(self.conn, scope)
    }
    fn lock_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        id.key().map_or(Ok(None), |id| api_key::lock(self.conn, id))
    }
    fn api_key_name_taken(&mut self, name: &str, except: Option<ApiKeyId>) -> Result<bool> {
        // An `except` beyond the key names no row, so it excepts nothing.
        api_key::name_taken(self.conn, name, except.and_then(Key::key))
    }
    fn api_key_by_digest(&mut self, digest: &str) -> Result<Option<ApiKey>> {
        api_key::by_digest(self.conn, digest)
    }
    fn api_key_prefix_taken(&mut self, prefix: &str) -> Result<bool> {
        api_key::prefix_taken(self.conn, prefix)
    }
    fn update_api_key(&mut self, id: ApiKeyId, change: &ApiKeyChange) -> Result<()> {
        id.key()
            .map_or(Ok(()), |id| api_key::update(self.conn, id, change))
    }
    fn delete_api_key(&mut self, id: ApiKeyId) -> Result<bool> {
        id.key()
            .map_or(Ok(false), |id| api_key::delete(self.conn, id))
    }
    fn key_holder(&mut self, digest: &str) -> Result<Option<KeyHolder>> {
        api_key::holder(self.conn, digest)
    }

    fn insert_login(&mut self, l: &NewLogin) -> Result<()> {
        session::insert_login(self.conn, l)
    }
    fn logins_of(&mut self, user_id: UserId) -> Result<Vec<LoginRecord>> {
        user_id
            .key()
            .map_or(Ok(Vec::new()), |id| session::logins_of(self.conn, id))
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        let cipher = self.setting_cipher();
        setting::get(self.conn, cipher, key)
    }
    fn settings(&mut self) -> Result<Vec<(String, String)>> {
        let cipher = self.setting_cipher();
        setting::all(self.conn, cipher)
    }
    fn put_setting(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        let cipher = self.setting_cipher();
        setting::put(self.conn, cipher, key, value)
    }
    fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> Result<bool> {
        setting::insert_if_absent(self.conn, key, value)
    }
    fn take_setting(&mut self, key: &str, expected: &str) -> Result<bool> {
        setting::take(self.conn, key, expected)
    }

    fn lock_attempts(&mut self, keys: &[ThrottleKey<'_>], now: Timestamp) -> Result<Vec<Vec<i64>>> {
        throttle::lock(self.conn, keys, now)
    }
    fn save_attempts(&mut self, rows: &[SavedAttempts<'_>]) -> Result<()> {
        throttle::save(self.conn, rows)
    }
    fn prune_attempts(&mut self, now: Timestamp) -> Result<usize> {
        throttle::prune(self.conn, now)
    }

    fn insert_reset_request(&mut self, email: &str, at: Timestamp) -> Result<()> {
        reset_request::insert(self.conn, email, at)
    }
    fn take_reset_requests(&mut self, limit: i64) -> Result<Vec<String>> {
        reset_request::take(self.conn, limit)
    }

    fn enqueue_email(&mut self, e: &NewEmail) -> Result<EmailId> {
        outbox::enqueue(self.conn, self.outbox_cipher(), e).map(EmailId)
    }
    fn void_links(&mut self, user_id: UserId, now: Timestamp) -> Result<usize> {
        user_id
            .key()
            .map_or(Ok(0), |id| outbox::void_links(self.conn, id, now))
    }
    fn void_dead_links(&mut self, now: Timestamp) -> Result<usize> {
        outbox::void_dead_links(self.conn, now)
    }
    fn unsent_links(&mut self) -> Result<Vec<(EmailId, Timestamp)>> {
        Ok(outbox::unsent_links(self.conn)?
            .into_iter()
            .map(|(id, at)| (EmailId(id), at))
            .collect())
    }
    fn set_link_expiry(&mut self, id: EmailId, expires_at: Option<Timestamp>) -> Result<()> {
        outbox::set_link_expiry(self.conn, id.get(), expires_at)
    }
    fn claim_emails(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>> {
        outbox::claim(self.conn, self.outbox_cipher(), now, lease_until, limit)
    }
    fn mark_email_sent(&mut self, id: EmailId, at: Timestamp) -> Result<()> {
        outbox::mark_sent(self.conn, id.get(), at)
    }
    fn mark_email_failed(&mut self, id: EmailId, error: &str, next: Timestamp) -> Result<()> {
        outbox::mark_failed(self.conn, id.get(), error, next)
    }

    fn claim_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        crate::housekeeping::claim_lease(self.conn, name, holder, now, until)
    }
    fn renew_lease(&mut self, name: &str, holder: &str, until: Timestamp) -> Result<bool> {
        crate::housekeeping::renew_lease(self.conn, name, holder, until)
    }
    fn delete_sessions_created_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize> {
        crate::housekeeping::delete_sessions(self.conn, cutoff, limit)
    }
    fn delete_logins_recorded_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize> {
        crate::housekeeping::delete_logins(self.conn, cutoff, limit)
    }
    fn delete_emails_done_by(&mut self, cutoff: Timestamp, limit: i64) -> Result<usize> {
        crate::housekeeping::delete_emails(self.conn, cutoff, limit)
    }
}

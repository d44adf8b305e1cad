//! `DbRepo`: the domain's `Repo` port over one pooled connection. Each method delegates to the module named
//! after its table.

use people_domain::clock::Timestamp;
use people_domain::group::{Group, GroupMember, GroupWithCount, Membership};
use people_domain::session::{CallerRecord, LoginRecord, NewLogin, NewSession};
use people_domain::store::{
    NewEmail, Page, QueuedEmail, Repo, SavedAttempts, ThrottleKey, UserQuery,
};
use people_domain::user::{NewUser, User};
use people_domain::Result;

use diesel::connection::SimpleConnection;

use crate::cipher::Cipher;
use crate::db::AnyConnection;
use crate::{group, outbox, reset_request, session, setting, throttle, user};

/// One connection seen through the domain's `Repo` trait, with the key outbox bodies are sealed with.
pub(crate) struct DbRepo<'a> {
    conn: &'a mut AnyConnection,
    cipher: Option<&'a Cipher>,
}

impl<'a> DbRepo<'a> {
    pub(crate) fn new(conn: &'a mut AnyConnection, cipher: Option<&'a Cipher>) -> Self {
        DbRepo { conn, cipher }
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
    fn user_by_id(&mut self, id: i64) -> Result<Option<User>> {
        user::by_id(self.conn, id)
    }
    fn user_with_memberships(&mut self, id: i64) -> Result<Option<(User, Vec<Membership>)>> {
        user::with_memberships(self.conn, id)
    }
    fn lock_user(&mut self, id: i64) -> Result<Option<User>> {
        user::lock(self.conn, id)
    }
    fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        user::by_email(self.conn, email)
    }
    fn update_user(&mut self, u: &User) -> Result<()> {
        user::update(self.conn, u)
    }
    fn set_last_login(&mut self, user_id: i32, at: Timestamp) -> Result<()> {
        user::set_last_login(self.conn, user_id, at)
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

    fn insert_group(&mut self, name: &str, entity_id: &str) -> Result<Group> {
        group::insert(self.conn, name, entity_id)
    }
    fn group_by_id(&mut self, id: i64) -> Result<Option<Group>> {
        group::by_id(self.conn, id)
    }
    fn group_by_name(&mut self, name: &str) -> Result<Option<Group>> {
        group::by_name(self.conn, name)
    }
    fn groups_by_ids(&mut self, ids: &[i64]) -> Result<Vec<Group>> {
        group::by_ids(self.conn, ids)
    }
    fn lock_group(&mut self, id: i32) -> Result<()> {
        group::lock(self.conn, id)
    }
    fn rename_group(&mut self, id: i32, name: &str) -> Result<()> {
        group::rename(self.conn, id, name)
    }
    fn delete_group(&mut self, id: i32) -> Result<bool> {
        group::delete(self.conn, id)
    }
    fn list_groups(
        &mut self,
        only: Option<&[i32]>,
        page: Option<Page>,
    ) -> Result<Vec<GroupWithCount>> {
        group::list(self.conn, only, page)
    }
    fn group_members(&mut self, group_id: i32) -> Result<Vec<GroupMember>> {
        group::members(self.conn, group_id)
    }
    fn count_active_members(&mut self, group_id: i32) -> Result<i64> {
        group::count_active_members(self.conn, group_id)
    }

    fn memberships_of(&mut self, user_ids: &[i32]) -> Result<Vec<Membership>> {
        group::memberships_of(self.conn, user_ids)
    }
    fn all_memberships(&mut self, groups: Option<&[i32]>) -> Result<Vec<Membership>> {
        group::all_memberships(self.conn, groups)
    }
    fn membership_by_id(&mut self, id: i64) -> Result<Option<Membership>> {
        group::membership_by_id(self.conn, id)
    }
    fn insert_membership(
        &mut self,
        user_id: i32,
        group_id: i32,
        manager: bool,
    ) -> Result<Membership> {
        group::insert_membership(self.conn, user_id, group_id, manager)
    }
    fn set_group_manager(&mut self, id: i32, manager: bool) -> Result<()> {
        group::set_manager(self.conn, id, manager)
    }
    fn delete_membership(&mut self, id: i32) -> Result<bool> {
        group::delete_membership(self.conn, id)
    }
    fn delete_group_memberships(&mut self, group_id: i32) -> Result<usize> {
        group::delete_group_memberships(self.conn, group_id)
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
    fn delete_user_sessions(&mut self, user_id: i32, keep: Option<&str>) -> Result<usize> {
        session::delete_of_user(self.conn, user_id, keep)
    }
    fn insert_login(&mut self, l: &NewLogin) -> Result<()> {
        session::insert_login(self.conn, l)
    }
    fn logins_of(&mut self, user_id: i32) -> Result<Vec<LoginRecord>> {
        session::logins_of(self.conn, user_id)
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        setting::get(self.conn, key)
    }
    fn settings(&mut self) -> Result<Vec<(String, String)>> {
        setting::all(self.conn)
    }
    fn put_setting(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        setting::put(self.conn, key, value)
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

    fn enqueue_email(&mut self, e: &NewEmail) -> Result<i64> {
        outbox::enqueue(self.conn, self.cipher, e)
    }
    fn void_links(&mut self, user_id: i32, now: Timestamp) -> Result<usize> {
        outbox::void_links(self.conn, user_id, now)
    }
    fn void_dead_links(&mut self, now: Timestamp) -> Result<usize> {
        outbox::void_dead_links(self.conn, now)
    }
    fn unsent_links(&mut self) -> Result<Vec<(i64, Timestamp)>> {
        outbox::unsent_links(self.conn)
    }
    fn set_link_expiry(&mut self, id: i64, expires_at: Option<Timestamp>) -> Result<()> {
        outbox::set_link_expiry(self.conn, id, expires_at)
    }
    fn claim_emails(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>> {
        outbox::claim(self.conn, self.cipher, now, lease_until, limit)
    }
    fn mark_email_sent(&mut self, id: i64, at: Timestamp) -> Result<()> {
        outbox::mark_sent(self.conn, id, at)
    }
    fn mark_email_failed(&mut self, id: i64, error: &str, next: Timestamp) -> Result<()> {
        outbox::mark_failed(self.conn, id, error, next)
    }
}

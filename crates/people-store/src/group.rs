//! `permissions_group` and `permissions_group_membership`.

use diesel::prelude::*;
use people_domain::group::{Group, GroupMember, GroupWithCount, Membership};
use people_domain::store::Page;
use people_domain::{GroupId, MembershipId, Result, UserId};

use crate::db::AnyConnection;
use crate::error::db;
use crate::key::Key;
use crate::schema::{core_user, permissions_group as pg, permissions_group_membership as pgm};
use crate::user::{lower, lower_opt};

type GroupRow = (i32, String, Option<String>);
/// The columns of a [`GroupRow`].
const GROUP_COLUMNS: (pg::id, pg::name, pg::entity_id) = (pg::id, pg::name, pg::entity_id);
/// id, user_id, group_id, is_group_manager.
pub(crate) type MembershipRow = (i32, i32, i32, bool);
/// user_id, membership id, first name, last name, email, manager flag.
type MemberRow = (i32, i32, Option<String>, Option<String>, String, bool);

fn group(r: GroupRow) -> Group {
    Group {
        id: GroupId(r.0.into()),
        name: r.1,
        entity_id: r.2,
    }
}

/// Now, as stored: the time a group's `created_at` / `updated_at` record (bookkeeping the store keeps on
/// every rename and membership change, whichever path made it, for SCIM's `meta.lastModified`).
fn now() -> chrono::NaiveDateTime {
    crate::time::naive(people_domain::clock::truncate_micros(chrono::Utc::now()))
}

/// Marks the groups `ids` as changed now. All Users and Administrators are left alone: SCIM never shows
/// them, and every new user joins All Users, so touching it would make all user creations wait for one
/// another on its row.
fn touch(conn: &mut AnyConnection, ids: &[i32]) -> Result<()> {
    let magic = [
        people_domain::group::ALL_USERS_ID,
        people_domain::group::ADMINISTRATORS_ID,
    ];
    let ids: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|id| !magic.iter().any(|m| m.key() == Some(*id)))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(pg::table.filter(pg::id.eq_any(ids)))
        .set(pg::updated_at.eq(now()))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn membership(r: MembershipRow) -> Membership {
    Membership {
        id: MembershipId(r.0.into()),
        user_id: UserId(r.1.into()),
        group_id: GroupId(r.2.into()),
        is_group_manager: r.3,
    }
}

/// The memberships of a user read by a left join (one row per membership, `None` for a user without any),
/// ordered by group id. Sorted here rather than by the database, so that the query stays a plain indexed join.
pub(crate) fn joined_memberships(
    rows: impl IntoIterator<Item = Option<MembershipRow>>,
) -> Vec<Membership> {
    let mut memberships: Vec<Membership> = rows.into_iter().flatten().map(membership).collect();
    memberships.sort_by_key(|m| m.group_id);
    memberships
}

pub(crate) fn insert(conn: &mut AnyConnection, name: &str, entity_id: &str) -> Result<Group> {
    diesel::insert_into(pg::table)
        .values((
            pg::name.eq(name),
            pg::entity_id.eq(entity_id),
            pg::created_at.eq(now()),
            pg::updated_at.eq(now()),
        ))
        .returning(GROUP_COLUMNS)
        .get_result::<GroupRow>(conn)
        .map(group)
        .map_err(db)
}

/// Gives every group without an `entity_id` a fresh one; returns how many (see `user::backfill_entity_ids`).
pub(crate) fn backfill_entity_ids(conn: &mut AnyConnection) -> Result<usize> {
    let ids: Vec<i32> = pg::table
        .filter(pg::entity_id.is_null())
        .order(pg::id)
        .select(pg::id)
        .load(conn)
        .map_err(db)?;
    let mut n = 0;
    for id in ids {
        n += diesel::update(pg::table.find(id).filter(pg::entity_id.is_null()))
            .set(pg::entity_id.eq(people_domain::group::new_entity_id()))
            .execute(conn)
            .map_err(db)?;
    }
    Ok(n)
}

pub(crate) fn by_id(conn: &mut AnyConnection, id: i32) -> Result<Option<Group>> {
    pg::table
        .find(id)
        .select(GROUP_COLUMNS)
        .first::<GroupRow>(conn)
        .optional()
        .map(|g| g.map(group))
        .map_err(db)
}

pub(crate) fn by_name(conn: &mut AnyConnection, name: &str) -> Result<Option<Group>> {
    pg::table
        .filter(lower(pg::name).eq(lower(name)))
        .select(GROUP_COLUMNS)
        .first::<GroupRow>(conn)
        .optional()
        .map(|g| g.map(group))
        .map_err(db)
}

pub(crate) fn by_ids(conn: &mut AnyConnection, ids: &[i32]) -> Result<Vec<Group>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    pg::table
        .filter(pg::id.eq_any(ids))
        .order(pg::id)
        .select(GROUP_COLUMNS)
        .load::<GroupRow>(conn)
        .map(|v| v.into_iter().map(group).collect())
        .map_err(db)
}

pub(crate) fn lock(conn: &mut AnyConnection, id: i32) -> Result<()> {
    if let AnyConnection::Postgresql(c) = conn {
        pg::table
            .find(id)
            .for_update()
            .select(pg::id)
            .first::<i32>(c)
            .optional()
            .map_err(db)?;
    }
    Ok(())
}

pub(crate) fn rename(conn: &mut AnyConnection, id: i32, name: &str) -> Result<()> {
    diesel::update(pg::table.find(id))
        .set((pg::name.eq(name), pg::updated_at.eq(now())))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn delete(conn: &mut AnyConnection, id: i32) -> Result<bool> {
    diesel::delete(pgm::table.filter(pgm::group_id.eq(id)))
        .execute(conn)
        .map_err(db)?;
    let n = diesel::delete(pg::table.find(id))
        .execute(conn)
        .map_err(db)?;
    Ok(n > 0)
}

pub(crate) fn list(
    conn: &mut AnyConnection,
    only: Option<&[i32]>,
    page: Option<Page>,
) -> Result<Vec<GroupWithCount>> {
    let mut q = pg::table.into_boxed();
    if let Some(ids) = only {
        q = q.filter(pg::id.eq_any(ids.to_vec()));
    }
    q = q.order((lower(pg::name), pg::id));
    if let Some(p) = page {
        q = q.limit(p.limit).offset(p.offset);
    }
    let groups: Vec<Group> = q
        .select(GROUP_COLUMNS)
        .load::<GroupRow>(conn)
        .map_err(db)?
        .into_iter()
        .map(group)
        .collect();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = groups.iter().filter_map(|g| g.id.key()).collect();
    let counts: Vec<(i32, i64)> = pgm::table
        .inner_join(core_user::table.on(core_user::id.eq(pgm::user_id)))
        .filter(core_user::is_active.eq(true))
        .filter(pgm::group_id.eq_any(ids))
        .group_by(pgm::group_id)
        .select((pgm::group_id, diesel::dsl::count_star()))
        .load(conn)
        .map_err(db)?;
    Ok(groups
        .into_iter()
        .map(|g| {
            let member_count = counts
                .iter()
                .find(|(id, _)| i64::from(*id) == g.id.get())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            GroupWithCount {
                group: g,
                member_count,
            }
        })
        .collect())
}

pub(crate) fn members(conn: &mut AnyConnection, group_id: i32) -> Result<Vec<GroupMember>> {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    let mut q = pgm::table
        .inner_join(core_user::table.on(core_user::id.eq(pgm::user_id)))
        .filter(pgm::group_id.eq(group_id))
        .filter(core_user::is_active.eq(true))
        .select((
            pgm::user_id,
            pgm::id,
            core_user::first_name,
            core_user::last_name,
            core_user::email,
            pgm::is_group_manager,
        ))
        .into_boxed();
    if sqlite {
        q = q.then_order_by(core_user::first_name.is_null());
    }
    q = q.then_order_by(lower_opt(core_user::first_name));
    if sqlite {
        q = q.then_order_by(core_user::last_name.is_null());
    }
    q = q
        .then_order_by(lower_opt(core_user::last_name))
        .then_order_by(core_user::id);
    let rows: Vec<MemberRow> = q.load(conn).map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|r| GroupMember {
            user_id: UserId(r.0.into()),
            membership_id: MembershipId(r.1.into()),
            first_name: r.2,
            last_name: r.3,
            email: r.4,
            is_group_manager: r.5,
        })
        .collect())
}

pub(crate) fn count_active_members(conn: &mut AnyConnection, group_id: i32) -> Result<i64> {
    pgm::table
        .inner_join(core_user::table.on(core_user::id.eq(pgm::user_id)))
        .filter(pgm::group_id.eq(group_id))
        .filter(core_user::is_active.eq(true))
        .count()
        .get_result(conn)
        .map_err(db)
}

pub(crate) fn memberships_of(
    conn: &mut AnyConnection,
    user_ids: &[i32],
) -> Result<Vec<Membership>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    pgm::table
        .filter(pgm::user_id.eq_any(user_ids.to_vec()))
        .order((pgm::user_id, pgm::group_id))
        .load::<MembershipRow>(conn)
        .map(|v| v.into_iter().map(membership).collect())
        .map_err(db)
}

pub(crate) fn all_memberships(
    conn: &mut AnyConnection,
    groups: Option<&[i32]>,
) -> Result<Vec<Membership>> {
    let mut q = pgm::table.into_boxed();
    if let Some(g) = groups {
        q = q.filter(pgm::group_id.eq_any(g.to_vec()));
    }
    q.order((pgm::user_id, pgm::group_id))
        .load::<MembershipRow>(conn)
        .map(|v| v.into_iter().map(membership).collect())
        .map_err(db)
}

pub(crate) fn membership_by_id(conn: &mut AnyConnection, id: i32) -> Result<Option<Membership>> {
    pgm::table
        .find(id)
        .first::<MembershipRow>(conn)
        .optional()
        .map(|m| m.map(membership))
        .map_err(db)
}

pub(crate) fn insert_membership(
    conn: &mut AnyConnection,
    user_id: i32,
    group_id: i32,
    manager: bool,
) -> Result<Membership> {
    let m = diesel::insert_into(pgm::table)
        .values((
            pgm::user_id.eq(user_id),
            pgm::group_id.eq(group_id),
            pgm::is_group_manager.eq(manager),
        ))
        .get_result::<MembershipRow>(conn)
        .map(membership)
        .map_err(db)?;
    touch(conn, &[group_id])?;
    Ok(m)
}

pub(crate) fn set_manager(conn: &mut AnyConnection, id: i32, manager: bool) -> Result<()> {
    diesel::update(pgm::table.find(id))
        .set(pgm::is_group_manager.eq(manager))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

pub(crate) fn delete_membership(conn: &mut AnyConnection, id: i32) -> Result<bool> {
    let groups: Vec<i32> = pgm::table
        .find(id)
        .select(pgm::group_id)
        .load(conn)
        .map_err(db)?;
    touch(conn, &groups)?;
    let n = diesel::delete(pgm::table.find(id))
        .execute(conn)
        .map_err(db)?;
    Ok(n > 0)
}

pub(crate) fn delete_group_memberships(conn: &mut AnyConnection, group_id: i32) -> Result<usize> {
    touch(conn, &[group_id])?;
    diesel::delete(pgm::table.filter(pgm::group_id.eq(group_id)))
        .execute(conn)
        .map_err(db)
}

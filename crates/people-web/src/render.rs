//! Domain values as Metabase's JSON: one serializable struct per shape, borrowing from the
//! domain values, so that a response is written straight into its buffer.

use chrono::SecondsFormat;
use people_domain::clock::Timestamp;
use people_domain::group::{Group, GroupMember, Membership};
use people_domain::session::{Caller, LoginRecord};
use people_domain::store::Page;
use people_domain::user::{SsoSource, User};
use people_domain::{GroupId, MembershipId, UserId};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A timestamp as ISO-8601 with `Z` and as many fractional digits as needed
/// (`2024-03-01T10:00:00.123456Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub Timestamp);

impl utoipa::PartialSchema for Ts {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("ISO-8601 with Z"))
            .into()
    }
}

impl ToSchema for Ts {}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// The JSON string of a timestamp (for tests and callers that build values by hand).
pub fn ts(t: Timestamp) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A login-history entry.
#[derive(Serialize, ToSchema)]
pub struct Login<'a> {
    timestamp: Ts,
    device_id: &'a str,
    device_description: &'a str,
    ip_address: &'a str,
    active: bool,
}

/// See [`Login`].
pub fn login(l: &LoginRecord) -> Login<'_> {
    Login {
        timestamp: Ts(l.timestamp),
        device_id: &l.device_id,
        device_description: &l.device_description,
        ip_address: &l.ip_address,
        active: l.active,
    }
}

/// ADMIN_OR_SELF columns plus `common_name` (14 keys).
#[derive(Serialize, ToSchema)]
pub struct AdminUser<'a> {
    #[schema(value_type = i32)]
    id: UserId,
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    common_name: String,
    date_joined: Ts,
    last_login: Option<Ts>,
    is_superuser: bool,
    is_qbnewb: bool,
    sso_source: Option<&'a str>,
    is_active: bool,
    updated_at: Ts,
    #[schema(value_type = Option<Object>)]
    login_attributes: Option<&'a Map<String, Value>>,
    locale: Option<&'a str>,
}

/// See [`AdminUser`].
pub fn user_admin(u: &User) -> AdminUser<'_> {
    AdminUser {
        id: u.id,
        email: &u.email,
        first_name: u.first_name.as_deref(),
        last_name: u.last_name.as_deref(),
        common_name: u.common_name(),
        date_joined: Ts(u.date_joined),
        last_login: u.last_login.map(Ts),
        is_superuser: u.is_superuser,
        is_qbnewb: u.is_qbnewb,
        sso_source: u.sso_source.as_ref().map(SsoSource::as_str),
        is_active: u.is_active,
        updated_at: Ts(u.updated_at),
        login_attributes: u.login_attributes.as_ref(),
        locale: u.locale.as_deref(),
    }
}

/// GROUP_MANAGER columns plus `common_name`.
#[derive(Serialize, ToSchema)]
pub struct ManagerUser<'a> {
    #[schema(value_type = i32)]
    id: UserId,
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    common_name: String,
    is_superuser: bool,
    last_login: Option<Ts>,
}

/// See [`ManagerUser`].
pub fn user_group_manager(u: &User) -> ManagerUser<'_> {
    ManagerUser {
        id: u.id,
        email: &u.email,
        first_name: u.first_name.as_deref(),
        last_name: u.last_name.as_deref(),
        common_name: u.common_name(),
        is_superuser: u.is_superuser,
        last_login: u.last_login.map(Ts),
    }
}

/// NON_ADMIN columns plus `common_name`.
#[derive(Serialize, ToSchema)]
pub struct PlainUser<'a> {
    #[schema(value_type = i32)]
    id: UserId,
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    common_name: String,
}

/// See [`PlainUser`].
pub fn user_non_admin(u: &User) -> PlainUser<'_> {
    PlainUser {
        id: u.id,
        email: &u.email,
        first_name: u.first_name.as_deref(),
        last_name: u.last_name.as_deref(),
        common_name: u.common_name(),
    }
}

/// One entry of `user_group_memberships`.
#[derive(Serialize, ToSchema)]
pub struct MembershipRef {
    #[schema(value_type = i32)]
    id: GroupId,
    is_group_manager: bool,
}

/// `user_group_memberships`: `[{"id": group, "is_group_manager": bool}]`, by group id.
pub fn memberships(ms: &[Membership]) -> Vec<MembershipRef> {
    let mut out: Vec<MembershipRef> = ms
        .iter()
        .map(|m| MembershipRef {
            id: m.group_id,
            is_group_manager: m.is_group_manager,
        })
        .collect();
    out.sort_by_key(|m| m.id);
    out
}

/// `group_ids`, sorted.
pub fn group_ids(ms: &[Membership]) -> Vec<GroupId> {
    let mut ids: Vec<GroupId> = ms.iter().map(|m| m.group_id).collect();
    ids.sort_unstable();
    ids
}

/// The admin view with `user_group_memberships` (`GET`/`POST`/`PUT /api/user…`).
#[derive(Serialize, ToSchema)]
pub struct UserDetail<'a> {
    #[serde(flatten)]
    user: AdminUser<'a>,
    user_group_memberships: Vec<MembershipRef>,
}

/// See [`UserDetail`].
pub fn user_with_memberships<'a>(u: &'a User, ms: &[Membership]) -> UserDetail<'a> {
    UserDetail {
        user: user_admin(u),
        user_group_memberships: memberships(ms),
    }
}

/// A superuser's list item: admin columns, `group_ids`, `personal_collection_id` (16 keys).
#[derive(Serialize, ToSchema)]
pub struct AdminListItem<'a> {
    #[serde(flatten)]
    user: AdminUser<'a>,
    #[schema(value_type = Vec<i32>)]
    group_ids: Vec<GroupId>,
    personal_collection_id: Option<i32>,
}

/// See [`AdminListItem`].
pub fn admin_list_item<'a>(u: &'a User, ms: &[Membership]) -> AdminListItem<'a> {
    AdminListItem {
        user: user_admin(u),
        group_ids: group_ids(ms),
        personal_collection_id: None,
    }
}

/// A group manager's list item: group-manager columns and `group_ids`.
#[derive(Serialize, ToSchema)]
pub struct ManagerListItem<'a> {
    #[serde(flatten)]
    user: ManagerUser<'a>,
    #[schema(value_type = Vec<i32>)]
    group_ids: Vec<GroupId>,
}

/// See [`ManagerListItem`].
pub fn manager_list_item<'a>(u: &'a User, ms: &[Membership]) -> ManagerListItem<'a> {
    ManagerListItem {
        user: user_group_manager(u),
        group_ids: group_ids(ms),
    }
}

/// `{"data": […], "total": n, "limit": …, "offset": …}`.
#[derive(Serialize, ToSchema)]
pub struct Paged<T: Serialize> {
    data: Vec<T>,
    total: i64,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// See [`Paged`].
pub fn paged<T: Serialize>(data: Vec<T>, total: i64, page: Option<Page>) -> Paged<T> {
    Paged {
        data,
        total,
        limit: page.map(|p| p.limit),
        offset: page.map(|p| p.offset),
    }
}

/// `permissions` of `/api/user/current`.
#[derive(Serialize, ToSchema)]
pub struct Permissions {
    can_access_setting: bool,
    can_access_subscription: bool,
    can_access_monitoring: bool,
    can_access_data_model: bool,
    can_access_db_details: bool,
    is_group_manager: bool,
}

/// See [`Permissions`].
pub fn permissions(c: &Caller) -> Permissions {
    let admin = c.is_superuser();
    Permissions {
        can_access_setting: admin,
        can_access_subscription: true,
        can_access_monitoring: admin,
        can_access_data_model: admin,
        can_access_db_details: admin,
        is_group_manager: admin || c.manages_any_group(),
    }
}

/// `GET /api/user/current`.
#[derive(Serialize, ToSchema)]
pub struct CurrentUser<'a> {
    #[serde(flatten)]
    user: AdminUser<'a>,
    personal_collection_id: Option<i32>,
    #[schema(value_type = Vec<i32>)]
    group_ids: Vec<GroupId>,
    is_installer: bool,
    has_invited_second_user: bool,
    has_question_and_dashboard: bool,
    has_model: bool,
    first_login: Ts,
    #[schema(value_type = Option<Object>)]
    custom_homepage: Option<Value>,
    permissions: Permissions,
}

/// See [`CurrentUser`].
pub fn current_user(cur: &people_domain::user::CurrentUser) -> CurrentUser<'_> {
    let c = &cur.caller;
    CurrentUser {
        user: user_admin(&c.user),
        personal_collection_id: None,
        group_ids: group_ids(&c.memberships),
        is_installer: c.user.id == UserId(1),
        has_invited_second_user: cur.has_invited_second_user,
        has_question_and_dashboard: false,
        has_model: false,
        first_login: Ts(cur.first_login),
        custom_homepage: None,
        permissions: permissions(c),
    }
}

/// A group: `{id, name, entity_id}` (plus `member_count` in lists, `members` in the detail).
#[derive(Serialize, ToSchema)]
pub struct GroupJson<'a> {
    #[schema(value_type = i32)]
    id: GroupId,
    name: &'a str,
    entity_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<Member<'a>>>,
}

/// See [`GroupJson`].
pub fn group(g: &Group) -> GroupJson<'_> {
    GroupJson {
        id: g.id,
        name: &g.name,
        entity_id: g.entity_id.as_deref(),
        member_count: None,
        members: None,
    }
}

/// A group with its number of active members.
pub fn group_with_count(g: &Group, member_count: i64) -> GroupJson<'_> {
    GroupJson {
        member_count: Some(member_count),
        ..group(g)
    }
}

/// A group with its active members.
pub fn group_with_members<'a>(g: &'a Group, ms: &'a [GroupMember]) -> GroupJson<'a> {
    GroupJson {
        members: Some(members(ms)),
        ..group(g)
    }
}

/// An active member as the group detail lists it.
#[derive(Serialize, ToSchema)]
pub struct Member<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    email: &'a str,
    #[schema(value_type = i32)]
    user_id: UserId,
    #[schema(value_type = i32)]
    membership_id: MembershipId,
    is_group_manager: bool,
}

/// See [`Member`].
pub fn members(ms: &[GroupMember]) -> Vec<Member<'_>> {
    ms.iter()
        .map(|m| Member {
            first_name: m.first_name.as_deref(),
            last_name: m.last_name.as_deref(),
            email: &m.email,
            user_id: m.user_id,
            membership_id: m.membership_id,
            is_group_manager: m.is_group_manager,
        })
        .collect()
}

//! Domain values as Metabase's JSON.

use chrono::SecondsFormat;
use people_domain::clock::Timestamp;
use people_domain::group::Membership;
use people_domain::session::{Caller, LoginRecord};
use people_domain::user::User;
use serde_json::{json, Map, Value};

/// ISO-8601 with `Z`, as many fractional digits as needed (`2024-03-01T10:00:00.123456Z`).
pub fn ts(t: Timestamp) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Optional timestamp.
pub fn ts_opt(t: Option<Timestamp>) -> Value {
    t.map(ts).unwrap_or(Value::Null)
}

/// A login-history entry (spec A.7).
pub fn login(l: &LoginRecord) -> Value {
    json!({
        "timestamp": ts(l.timestamp),
        "device_id": l.device_id,
        "device_description": l.device_description,
        "ip_address": l.ip_address,
        "active": l.active,
    })
}

/// Metabase's DEFAULT columns plus `common_name`.
fn default_columns(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("email".into(), json!(u.email));
    m.insert("first_name".into(), json!(u.first_name));
    m.insert("last_name".into(), json!(u.last_name));
    m.insert("common_name".into(), json!(u.common_name()));
    m.insert("date_joined".into(), ts(u.date_joined));
    m.insert("last_login".into(), ts_opt(u.last_login));
    m.insert("is_superuser".into(), json!(u.is_superuser));
    m.insert("is_qbnewb".into(), json!(u.is_qbnewb));
    m
}

/// ADMIN_OR_SELF columns plus `common_name` (14 keys).
pub fn user_admin(u: &User) -> Map<String, Value> {
    let mut m = default_columns(u);
    m.insert("sso_source".into(), json!(u.sso_source));
    m.insert("is_active".into(), json!(u.is_active));
    m.insert("updated_at".into(), ts(u.updated_at));
    m.insert(
        "login_attributes".into(),
        u.login_attributes
            .clone()
            .map(Value::Object)
            .unwrap_or(Value::Null),
    );
    m.insert("locale".into(), json!(u.locale));
    m
}

/// GROUP_MANAGER columns plus `common_name`.
pub fn user_group_manager(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("email".into(), json!(u.email));
    m.insert("first_name".into(), json!(u.first_name));
    m.insert("last_name".into(), json!(u.last_name));
    m.insert("common_name".into(), json!(u.common_name()));
    m.insert("is_superuser".into(), json!(u.is_superuser));
    m.insert("last_login".into(), ts_opt(u.last_login));
    m
}

/// NON_ADMIN columns plus `common_name`.
pub fn user_non_admin(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("email".into(), json!(u.email));
    m.insert("first_name".into(), json!(u.first_name));
    m.insert("last_name".into(), json!(u.last_name));
    m.insert("common_name".into(), json!(u.common_name()));
    m
}

/// `user_group_memberships`: `[{"id": group, "is_group_manager": bool}]`, by group id.
pub fn memberships(ms: &[Membership]) -> Value {
    let mut sorted: Vec<&Membership> = ms.iter().collect();
    sorted.sort_by_key(|m| m.group_id);
    Value::Array(
        sorted
            .into_iter()
            .map(|m| json!({"id": m.group_id, "is_group_manager": m.is_group_manager}))
            .collect(),
    )
}

/// `group_ids`.
pub fn group_ids(ms: &[Membership]) -> Value {
    let mut ids: Vec<i32> = ms.iter().map(|m| m.group_id).collect();
    ids.sort_unstable();
    json!(ids)
}

/// The admin view with `user_group_memberships` (`GET`/`POST`/`PUT /api/user…`).
pub fn user_with_memberships(u: &User, ms: &[Membership]) -> Value {
    let mut m = user_admin(u);
    m.insert("user_group_memberships".into(), memberships(ms));
    Value::Object(m)
}

/// `permissions` of `/api/user/current` (spec A.9).
pub fn permissions(c: &Caller) -> Value {
    let admin = c.is_superuser();
    json!({
        "can_access_setting": admin,
        "can_access_subscription": true,
        "can_access_monitoring": admin,
        "can_access_data_model": admin,
        "can_access_db_details": admin,
        "is_group_manager": admin || c.manages_any_group(),
    })
}

/// Paging echo: numbers, or `null` without paging.
pub fn page_fields(m: &mut Map<String, Value>, page: Option<people_domain::store::Page>) {
    m.insert(
        "limit".into(),
        page.map(|p| json!(p.limit)).unwrap_or(Value::Null),
    );
    m.insert(
        "offset".into(),
        page.map(|p| json!(p.offset)).unwrap_or(Value::Null),
    );
}

/// A group: `{id, name, entity_id}`.
pub fn group(g: &people_domain::group::Group) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("name".into(), json!(g.name));
    m.insert("entity_id".into(), json!(g.entity_id));
    m
}

/// Active members as the group detail lists them.
pub fn members(ms: &[people_domain::group::GroupMember]) -> Value {
    Value::Array(
        ms.iter()
            .map(|m| {
                json!({
                    "first_name": m.first_name,
                    "last_name": m.last_name,
                    "email": m.email,
                    "user_id": m.user_id,
                    "membership_id": m.membership_id,
                    "is_group_manager": m.is_group_manager,
                })
            })
            .collect(),
    )
}

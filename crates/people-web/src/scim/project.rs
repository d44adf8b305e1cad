//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): a rendered resource cut down to the
//! attributes asked for. `id` and `schemas` are always returned; names are case-insensitive, may carry the
//! resource's core schema URN, and may name a sub-attribute (`name.givenName`).

use serde_json::{Map, Value};

/// Attributes returned whatever the request says.
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// A path as (attribute, sub-attribute), lower-cased, without the core schema's URN.
fn split(path: &str, urn: &str) -> (String, Option<String>) {
    let lower = path.trim().to_ascii_lowercase();
    let prefix = format!("{}:", urn.to_ascii_lowercase());
    let bare = lower.strip_prefix(&prefix).unwrap_or(&lower);
    match bare.split_once('.') {
        Some((a, sub)) => (a.to_string(), Some(sub.to_string())),
        None => (bare.to_string(), None),
    }
}

/// Keeps only the sub-attributes `subs` of `v` (an object, or an array of objects).
fn keep_subs(v: &mut Value, subs: &[String]) {
    match v {
        Value::Object(o) => o.retain(|k, _| subs.iter().any(|s| k.eq_ignore_ascii_case(s))),
        Value::Array(items) => items.iter_mut().for_each(|i| keep_subs(i, subs)),
        _ => {}
    }
}

/// Removes the sub-attributes `subs` of `v`.
fn drop_subs(v: &mut Value, subs: &[String]) {
    match v {
        Value::Object(o) => o.retain(|k, _| !subs.iter().any(|s| k.eq_ignore_ascii_case(s))),
        Value::Array(items) => items.iter_mut().for_each(|i| drop_subs(i, subs)),
        _ => {}
    }
}

/// `resource` with only `attributes` (when any) and without `excluded`.
pub fn project(
    resource: &mut Map<String, Value>,
    attributes: &[String],
    excluded: &[String],
    urn: &str,
) {
    if !attributes.is_empty() {
        let wanted: Vec<(String, Option<String>)> =
            attributes.iter().map(|a| split(a, urn)).collect();
        resource.retain(|k, v| {
            let key = k.to_ascii_lowercase();
            if ALWAYS.contains(&key.as_str()) {
                return true;
            }
            let whole = wanted.iter().any(|(a, sub)| *a == key && sub.is_none());
            if whole {
                return true;
            }
            let subs: Vec<String> = wanted
                .iter()
                .filter(|(a, _)| *a == key)
                .filter_map(|(_, sub)| sub.clone())
                .collect();
            if subs.is_empty() {
                return false;
            }
            keep_subs(v, &subs);
            true
        });
    }
    for (a, sub) in excluded.iter().map(|e| split(e, urn)) {
        if ALWAYS.contains(&a.as_str()) {
            continue;
        }
        match sub {
            None => resource.retain(|k, _| !k.eq_ignore_ascii_case(&a)),
            Some(sub) => {
                if let Some((_, v)) = resource
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&a))
                {
                    drop_subs(v, &[sub]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn user() -> Map<String, Value> {
        match json!({
            "schemas": [URN], "id": "x", "userName": "ann",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "a@b.c", "type": "work", "primary": true}],
            "meta": {"resourceType": "User"}
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn attributes_keep_what_is_asked_and_the_id() {
        let mut u = user();
        project(
            &mut u,
            &["userName".into(), "NAME.givenName".into()],
            &[],
            URN,
        );
        assert_eq!(
            Value::Object(u),
            json!({"schemas": [URN], "id": "x", "userName": "ann", "name": {"givenName": "Ann"}})
        );
        let mut u = user();
        project(&mut u, &[format!("{URN}:emails.value")], &[], URN);
        assert_eq!(u["emails"], json!([{"value": "a@b.c"}]));
    }

    #[test]
    fn excluded_attributes_go_but_never_the_id() {
        let mut u = user();
        project(
            &mut u,
            &[],
            &["emails".into(), "id".into(), "name.familyName".into()],
            URN,
        );
        assert!(u.contains_key("id") && !u.contains_key("emails"));
        assert_eq!(u["name"], json!({"givenName": "Ann"}));
    }
}

//! docs/api.md, generated from the OpenAPI description: every endpoint by tag, with a curl example, its
//! parameters and every documented answer. Only the test that keeps docs/api.md current uses it.

use serde_json::Value;

/// A made-up value for a request field, for the curl examples of docs/api.md.
fn example_value(name: &str, schema: &Value, doc: &Value) -> Value {
    let schema = resolve(schema, doc);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let named = match name {
        "email" | "username" => Some(serde_json::json!("ann@example.com")),
        "password" => Some(serde_json::json!("Sup3r-secret1")),
        "old_password" => Some(serde_json::json!("0ld-secret1")),
        "first_name" => Some(serde_json::json!("Ann")),
        "last_name" => Some(serde_json::json!("Lee")),
        "token" => Some(serde_json::json!("<token>")),
        "site_name" | "value" => Some(serde_json::json!("Acme")),
        "site_locale" | "locale" => Some(serde_json::json!("en")),
        "name" => Some(serde_json::json!("Sales")),
        "group_id" => Some(serde_json::json!(3)),
        "user_id" => Some(serde_json::json!(2)),
        _ => None,
    };
    if let Some(v) = named {
        return v;
    }
    if types.contains(&"object") || schema.get("properties").is_some() {
        return example_object(&schema, doc);
    }
    if types.contains(&"array") {
        return Value::Array(vec![example_value(name, &schema["items"], doc)]);
    }
    if types.contains(&"boolean") {
        return Value::Bool(true);
    }
    if types.contains(&"integer") || types.contains(&"number") {
        return serde_json::json!(1);
    }
    serde_json::json!("…")
}

/// An object with every required property of `schema` (and `user`, `prefs` nested ones).
fn example_object(schema: &Value, doc: &Value) -> Value {
    let schema = resolve(schema, doc);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = serde_json::Map::new();
    if let Some(props) = schema["properties"].as_object() {
        for (k, v) in props {
            if required.contains(&k.as_str()) {
                out.insert(k.clone(), example_value(k, v, doc));
            }
        }
    }
    Value::Object(out)
}

fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return doc["components"]["schemas"][name].clone();
    }
    if let Some(one) = schema["oneOf"].as_array() {
        if let Some(first) = one.iter().find(|s| s["type"] != "null") {
            return resolve(first, doc);
        }
    }
    schema.clone()
}

/// docs/api.md: every endpoint by tag, with a curl example, its parameters and every documented answer.
pub fn markdown(doc: &Value) -> String {
    let mut out = String::from(
        "# people HTTP API\n\n\
         Generated from the OpenAPI description (`/api/docs/openapi.json`, browsable at `/api/docs`) by the test\n\
         `api_md_is_generated_from_the_description` in people-web; `UPDATE_DOCS=1 cargo test -p people-web --test\n\
         openapi` rewrites it. The behaviour behind each answer is Metabase's, with the refusals people adds.\n\n\
         Authenticated endpoints take the session id from `POST /api/session` (or `/api/setup`) in the header\n\
         `X-Metabase-Session` or the cookie `metabase.SESSION`. Errors: 400 with `{\"errors\": {field: message}}`\n\
         (schema failures add `specific-errors`) or a plain-text message; 401 `Unauthenticated`; 403 `You don't\n\
         have permissions to do that.`; 404 `Not found.`; 503 `{\"message\": \"Unable to get app-db connection\"}`.\n\n\
         ## Refusals before any handler\n\n\
         - A non-empty body whose `Content-Type` is not `application/json` or `application/<anything>+json`\n\
           (parameters ignored): 415 `{\"message\": \"Content-Type must be application/json.\"}`, before anything\n\
           else, on every endpoint. A request without a body is unaffected.\n\
         - A POST, PUT, PATCH or DELETE authenticated only by the `metabase.SESSION` cookie whose\n\
           `Sec-Fetch-Site` is `cross-site`, or whose `Origin` is neither the request's own origin nor\n\
           `site-url`'s: 403 `Cross-site request refused.` (text/plain). Requests carrying `X-Metabase-Session`\n\
           or `X-Api-Key` are not affected.\n\
         - A sign-in or password change while the password-hashing queue is full: 503\n\
           `{\"message\": \"Too many sign-in attempts in progress; try again shortly.\"}` with `Retry-After`.\n\n\
         Every response carries `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and\n\
         `Referrer-Policy: strict-origin-when-cross-origin`; every `/api` response `Cache-Control: no-store`;\n\
         over HTTPS `Strict-Transport-Security`.\n",
    );
    let tags: Vec<String> = doc["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for tag in &tags {
        let title = doc["tags"]
            .as_array()
            .and_then(|t| t.iter().find(|x| x["name"] == tag.as_str()))
            .and_then(|t| t["description"].as_str())
            .unwrap_or(tag);
        out.push_str(&format!("\n## {title}\n"));
        for (path, ops) in &paths {
            for method in ["get", "post", "put", "delete"] {
                let Some(op) = ops.get(method) else { continue };
                if !op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == tag.as_str()))
                {
                    continue;
                }
                let public = op["security"].as_array().is_some_and(|s| {
                    s.iter()
                        .all(|x| x.as_object().is_some_and(|o| o.is_empty()))
                });
                out.push_str(&format!(
                    "\n### {} {}\n\n{}{}\n",
                    method.to_uppercase(),
                    path,
                    op["summary"].as_str().unwrap_or(""),
                    if public { " (no session needed)." } else { "." }
                ));
                let url_path = path
                    .replace("{id}", "2")
                    .replace("{modal}", "qbnewb")
                    .replace("{key}", "site-name");
                let mut curl = format!(
                    "curl -s -X {} 'http://localhost:3000{url_path}'",
                    method.to_uppercase()
                );
                if !public {
                    curl.push_str(" -H \"X-Metabase-Session: $SESSION\"");
                }
                if let Some(schema) =
                    op["requestBody"]["content"]["application/json"]["schema"].as_object()
                {
                    let body = example_object(&Value::Object(schema.clone()), doc);
                    curl.push_str(&format!(" -H 'Content-Type: application/json' -d '{body}'"));
                }
                out.push_str(&format!("\n```sh\n{curl}\n```\n"));
                if let Some(params) = op["parameters"].as_array() {
                    out.push_str("\n| parameter | in | meaning |\n|---|---|---|\n");
                    for p in params {
                        out.push_str(&format!(
                            "| `{}` | {} | {} |\n",
                            p["name"].as_str().unwrap_or(""),
                            p["in"].as_str().unwrap_or(""),
                            p["description"].as_str().unwrap_or("")
                        ));
                    }
                }
                if let Some(responses) = op["responses"].as_object() {
                    out.push_str("\n| status | meaning | body |\n|---|---|---|\n");
                    for (status, r) in responses {
                        let body = r["content"]
                            .as_object()
                            .map(|c| {
                                c.iter()
                                    .map(|(ct, v)| {
                                        let name = v["schema"]["$ref"]
                                            .as_str()
                                            .map(|s| {
                                                s.trim_start_matches("#/components/schemas/")
                                                    .to_string()
                                            })
                                            .unwrap_or_else(|| {
                                                match v["schema"]["type"].as_str() {
                                                    Some("array") => "array".to_string(),
                                                    Some(t) => t.to_string(),
                                                    None => "JSON".to_string(),
                                                }
                                            });
                                        format!("`{ct}` {name}")
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_else(|| "none".to_string());
                        out.push_str(&format!(
                            "| {status} | {} | {body} |\n",
                            r["description"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
        }
    }
    out
}

//! Sessions, setup and sign-in over HTTP.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use actix_web::test::TestRequest;
use chrono::Duration;
use common::{TestApp, PASSWORD};
use people_domain::session::{sha256_hex, NewSession};
use people_store::testing::Backend;
use serde_json::{json, Value};

fn setup_body(token: &str) -> Value {
    json!({
        "token": token,
        "user": {"first_name": "Ada", "last_name": "Admin", "email": "Admin@Example.com", "password": PASSWORD},
        "invite": null,
        "prefs": {"site_name": "Acme", "site_locale": "es-mx", "allow_tracking": true}
    })
}

/// Sets `path` to `value` in a JSON object, creating objects on the way.
fn with(mut body: Value, path: &[&str], value: Value) -> Value {
    let mut v = &mut body;
    for p in &path[..path.len() - 1] {
        if !v[*p].is_object() {
            v[*p] = json!({});
        }
        v = &mut v[*p];
    }
    v[path[path.len() - 1]] = value;
    body
}

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

web_tests! {
    async fn properties_before_and_after_setup(t) {
        let r = t.get("/api/session/properties", None).await;
        assert_eq!(r.status, 200);
        let p = r.json();
        assert!(is_uuid(&p["setup-token"]), "{p}");
        assert_eq!(p["has-user-setup"], json!(false));
        assert_eq!(p["password-complexity"], json!({"total": 6, "digit": 1}));
        assert_eq!(p["enable-password-login"], json!(true));
        assert_eq!(p["session-cookies"], json!(false));
        assert_eq!(p["email-configured?"], json!(false), "the test app has no SMTP settings");
        assert_eq!(p["version"], json!({"tag": people_web::VERSION_TAG}));
        assert_eq!(p["site-locale"], json!("en"));
        assert!(p.get("user-visibility").is_none(), "only for signed-in callers");
        let again = t.get("/api/session/properties", None).await.json();
        assert_eq!(again["setup-token"], p["setup-token"], "the token is stable");

        let session = t.setup().await;
        let p = t.get("/api/session/properties", None).await.json();
        assert_eq!(p["setup-token"], Value::Null, "retired once a user exists");
        assert_eq!(p["has-user-setup"], json!(true));
        assert_eq!(p["site-name"], json!("Acme"));
        let p = t.get("/api/session/properties", Some(&session)).await.json();
        assert_eq!(p["user-visibility"], json!("all"));
    }

    async fn setup_creates_the_first_superuser_and_signs_in(t) {
        let token = t.setup_token().await;
        let r = t.post("/api/setup", None, setup_body(&token)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body.as_object().unwrap().len(), 1, "exactly one key: {body}");
        assert!(is_uuid(&body["id"]));
        let session = body["id"].as_str().unwrap();
        let cookie = r.cookie("metabase.SESSION").unwrap();
        assert!(cookie.contains(&format!("metabase.SESSION={session}")), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/") && cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Max-Age"), "a browser-session cookie: {cookie}");
        assert!(r.cookie("metabase.TIMEOUT").unwrap().starts_with("metabase.TIMEOUT=alive"));

        let u = t.store().read(|r| r.user_by_email("admin@example.com")).unwrap().unwrap();
        assert!(u.is_superuser && u.is_active);
        assert_eq!(u.email, "admin@example.com", "stored lower-cased");
        assert!(u.last_login.is_some(), "setup counts as a login");
        let groups: Vec<i64> = t.store().read(|r| r.memberships_of(&[u.id])).unwrap().iter().map(|m| m.group_id.get()).collect();
        assert_eq!(groups, vec![1, 2]);
        let setting = |k: &'static str| t.store().read(move |r| r.setting(k)).unwrap();
        assert_eq!(setting("site-name").as_deref(), Some("Acme"));
        assert_eq!(setting("site-locale").as_deref(), Some("es_MX"));
        assert_eq!(setting("admin-email").as_deref(), Some("admin@example.com"));
        let r = t.get("/api/login-history/current", Some(session)).await;
        assert_eq!((r.status, r.json()), (200, json!([])), "setup writes no login history");
    }

    async fn setup_twice_is_403_before_validation(t) {
        let token = t.setup_token().await;
        t.setup().await;
        let text = "The /api/setup route can only be used to create the first user, however a user currently exists.";
        for body in [setup_body(&token), json!({}), json!({"token": "wrong", "user": {"email": "nope"}})] {
            let r = t.post("/api/setup", None, body).await;
            assert_eq!((r.status, r.text().as_str()), (403, text));
            assert!(r.content_type().starts_with("text/plain"));
        }
    }

    async fn every_setup_validation_message_in_order(t) {
        let token = t.setup_token().await;
        let base = setup_body(&token);
        let locale = "nullable String must be a valid two-letter ISO language or language-country code e.g. 'en' or 'en_US'.";
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(base.clone(), &["token"], Value::Null), "token", "Token does not match the setup token."),
            (with(base.clone(), &["token"], json!("not-the-token")), "token", "Token does not match the setup token."),
            (with(base.clone(), &["user", "first_name"], json!("  ")), "first_name", "nullable value must be a non-blank string."),
            (with(base.clone(), &["user", "last_name"], json!(7)), "last_name", "nullable value must be a non-blank string."),
            (with(base.clone(), &["user", "email"], json!("not-an-email")), "email", "value must be a valid email address."),
            (with(base.clone(), &["user", "email"], Value::Null), "email", "value must be a valid email address."),
            (with(base.clone(), &["user", "password"], json!("123456")), "password", "password is too common."),
            (with(base.clone(), &["user", "password"], json!("short1")), "password", "password is too common."),
            (with(base.clone(), &["invite", "first_name"], json!("")), "invited_first_name", "nullable value must be a non-blank string."),
            (with(base.clone(), &["invite", "last_name"], json!("")), "invited_last_name", "nullable value must be a non-blank string."),
            (with(base.clone(), &["invite", "email"], json!("x@")), "invited_email", "nullable value must be a valid email address."),
            (with(base.clone(), &["prefs", "site_name"], Value::Null), "site_name", "value must be a non-blank string."),
            (with(base.clone(), &["prefs", "site_name"], json!("")), "site_name", "value must be a non-blank string."),
            (with(base.clone(), &["prefs", "site_locale"], json!("xx")), "site_locale", locale),
            (with(base.clone(), &["user", "first_name"], json!("n".repeat(255))), "first_name", "value must be at most 254 characters long."),
            // Only the first failing parameter is reported.
            (with(with(base.clone(), &["token"], json!("bad")), &["user", "email"], json!("bad")), "token", "Token does not match the setup token."),
            (with(with(base.clone(), &["user", "email"], json!("bad")), &["user", "password"], json!("1")), "email", "value must be a valid email address."),
        ];
        for (body, field, message) in cases {
            let r = t.post("/api/setup", None, body.clone()).await;
            assert_eq!(r.status, 400, "{body}: {}", r.text());
            let errors = &r.json()["errors"];
            assert_eq!(errors, &json!({ field: message }), "{body}");
        }
        assert_eq!(t.store().read(|r| r.count_users(10)).unwrap(), 0, "nothing was created");
        assert_eq!(t.setup_token().await, token, "the token is still valid");
    }

    async fn a_failed_setup_changes_nothing(t) {
        let token = t.setup_token().await;
        // The invitee has the admin's email: the second insert fails inside the transaction.
        let body = with(setup_body(&token), &["invite"], json!({"email": "ADMIN@example.com", "first_name": "Ivy"}));
        let r = t.post("/api/setup", None, body).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json(), json!({"errors": {"invited_email": "Email address already in use."}}));
        assert_eq!(t.store().read(|r| r.count_users(10)).unwrap(), 0);
        assert_eq!(t.store().read(|r| r.setting("site-name")).unwrap(), None);
        assert_eq!(t.setup_token().await, token);
        let r = t.post("/api/setup", None, setup_body(&token)).await;
        assert_eq!(r.status, 200, "the same token still works: {}", r.text());
    }

    async fn setup_with_an_invite_creates_a_second_admin(t) {
        let token = t.setup_token().await;
        let body = with(setup_body(&token), &["invite"], json!({"email": "ivy@example.com", "first_name": "Ivy", "last_name": "Vine"}));
        assert_eq!(t.post("/api/setup", None, body).await.status, 200);
        let ivy = t.store().read(|r| r.user_by_email("ivy@example.com")).unwrap().unwrap();
        assert!(ivy.is_superuser);
        assert_eq!((ivy.first_name.as_deref(), ivy.last_name.as_deref()), (Some("Ivy"), Some("Vine")));
        assert!(ivy.password_hash.is_none(), "no password until the invite is accepted");
    }

    async fn login_succeeds_with_one_key_cookies_and_history(t) {
        t.setup().await;
        let u = t.add_user("Rasta@Metabase.com", Some("Rasta"), Some("Toucan"), false);
        let r = t.send(TestRequest::post().uri("/api/session")
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .insert_header(("User-Agent", "people-tests/1.0"))
            .insert_header(("X-Forwarded-For", "10.1.2.3, 10.0.0.1"))
            .set_json(json!({"username": "rasta@METABASE.com", "password": PASSWORD}))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body.as_object().unwrap().len(), 1);
        assert!(is_uuid(&body["id"]));
        let session = body["id"].as_str().unwrap().to_string();
        let device = r.cookie("metabase.DEVICE").expect("a device cookie is issued");
        let device_id = device.split(';').next().unwrap().trim_start_matches("metabase.DEVICE=").to_string();
        assert!(device.contains("HttpOnly"), "{device}");
        let after = t.store().read(move |r| r.user_by_id(u.id)).unwrap().unwrap();
        assert_eq!(after.last_login, Some(t.now()));

        let h = t.get("/api/login-history/current", Some(&session)).await;
        assert_eq!(h.status, 200);
        let list = h.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
        let e = &list[0];
        assert_eq!(e["device_id"], json!(device_id));
        assert_eq!(e["device_description"], json!("people-tests/1.0"));
        assert_eq!(e["ip_address"], json!("10.0.0.1"), "the right-most address no trusted proxy vouches beyond");
        assert_eq!(e["active"], json!(true));
        assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    async fn login_history_is_newest_first_and_marks_ended_sessions(t) {
        t.setup().await;
        t.add_user("h@x.com", None, None, false);
        let first = t.login("h@x.com").await;
        t.clock.advance(Duration::seconds(5));
        let second = t.login("h@x.com").await;
        assert_eq!(t.delete("/api/session", Some(&first)).await.status, 204);
        let list = t.get("/api/login-history/current", Some(&second)).await.json();
        let active: Vec<bool> = list.as_array().unwrap().iter().map(|e| e["active"].as_bool().unwrap()).collect();
        assert_eq!(active, vec![true, false]);
        assert_eq!(t.get("/api/login-history/current", None).await.status, 401);
    }

    async fn each_login_failure_has_its_message(t) {
        t.setup().await;
        let off = t.add_user("off@x.com", None, None, false);
        t.update_user(off.id, |u| u.is_active = false);
        t.add_user("on@x.com", None, None, false);
        let bad = json!({"errors": {"password": "did not match stored password"}});
        let cases: Vec<(Value, u16, Value)> = vec![
            (json!({"username": "nobody@x.com", "password": PASSWORD}), 401, bad.clone()),
            (json!({"username": "on@x.com", "password": "wrong-pw-1"}), 401, bad.clone()),
            (json!({"username": "off@x.com", "password": "wrong-pw-1"}), 401, bad.clone()),
            (json!({"username": "off@x.com", "password": PASSWORD}), 401, json!({"errors": {"_error": "Your account is disabled."}})),
            (json!({"username": "x".repeat(10_000) + "@x.com", "password": PASSWORD}), 401, bad.clone()),
            (json!({}), 400, json!({"errors": {"username": "value must be a non-blank string."}})),
            (json!({"password": PASSWORD}), 400, json!({"errors": {"username": "value must be a non-blank string."}})),
            (json!({"username": "", "password": PASSWORD}), 400, json!({"errors": {"username": "value must be a non-blank string."}})),
            (json!({"username": "on@x.com"}), 400, json!({"errors": {"password": "value must be a non-blank string."}})),
            (json!({"username": "on@x.com", "password": 123456}), 400, json!({"errors": {"password": "value must be a non-blank string."}})),
            (json!({"username": ["on@x.com"], "password": PASSWORD}), 400, json!({"errors": {"username": "value must be a non-blank string."}})),
            (json!({"username": "on@x.com", "password": PASSWORD, "remember": "yes"}), 400, json!({"errors": {"remember": "nullable boolean"}})),
        ];
        for (body, status, errors) in cases {
            let r = t.post("/api/session", None, body.clone()).await;
            assert_eq!(r.status, status, "{body}: {}", r.text());
            assert_eq!(r.json()["errors"], errors["errors"], "{body}");
        }
    }

    async fn bad_bodies_are_4xx(t) {
        let r = t.send(TestRequest::post().uri("/api/session").insert_header(("Content-Type", "application/json")).set_payload(vec![0xff, 0xfe, b'{'])).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Malformed JSON in request body."));
        let r = t.send(TestRequest::post().uri("/api/session").insert_header(("Content-Type", "application/json")).set_payload("{\"username\": ")).await;
        assert_eq!(r.status, 400);
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        let r = t.send(TestRequest::post().uri("/api/session").insert_header(("Content-Type", "application/json")).set_payload(deep)).await;
        assert_eq!(r.status, 400, "deep nesting is refused, not a stack overflow");
        let big = format!("{{\"username\": \"{}\"}}", "a".repeat(2 << 20));
        let r = t.send(TestRequest::post().uri("/api/session").insert_header(("Content-Type", "application/json")).set_payload(big)).await;
        assert_eq!(r.status, 413);
        let r = t.send(TestRequest::post().uri("/api/session").insert_header(("Content-Type", "text/plain")).set_payload("username=a")).await;
        assert_eq!((r.status, r.json()), (415, json!({"message": "Content-Type must be application/json."})), "a non-JSON body is refused");
        let r = t.send(TestRequest::post().uri("/api/session").insert_header(("Content-Type", "application/json"))).await;
        assert_eq!(r.status, 400, "an empty body carries no parameters");
        assert_eq!(r.json()["errors"]["username"], json!("value must be a non-blank string."));
    }

    async fn remember_makes_the_cookie_persistent(t) {
        t.setup().await;
        t.add_user("r@x.com", None, None, false);
        let r = t.post("/api/session", None, json!({"username": "r@x.com", "password": PASSWORD, "remember": true})).await;
        let cookie = r.cookie("metabase.SESSION").unwrap();
        assert!(cookie.contains("Max-Age=1209600"), "{cookie}");
        let r = t.post("/api/session", None, json!({"username": "r@x.com", "password": PASSWORD, "remember": false})).await;
        assert!(!r.cookie("metabase.SESSION").unwrap().contains("Max-Age"));
        assert!(r.cookie("metabase.TIMEOUT").unwrap().contains("Max-Age=1209600"));
    }

    async fn cookies_follow_https_and_the_samesite_setting(t) {
        t.setup().await;
        t.add_user("c@x.com", None, None, false);
        t.store().write(|r| r.put_setting("session-cookie-samesite", Some("strict"))).unwrap();
        let r = t.send(TestRequest::post().uri("/api/session")
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .insert_header(("X-Forwarded-Proto", "https"))
            .set_json(json!({"username": "c@x.com", "password": PASSWORD}))).await;
        let cookie = r.cookie("metabase.SESSION").unwrap();
        assert!(cookie.contains("Secure") && cookie.contains("SameSite=Strict"), "{cookie}");
        let r = t.send(TestRequest::post().uri("/api/session")
            .peer_addr("203.0.113.5:40000".parse().unwrap())
            .insert_header(("X-Forwarded-Proto", "https"))
            .set_json(json!({"username": "c@x.com", "password": PASSWORD}))).await;
        assert!(!r.cookie("metabase.SESSION").unwrap().contains("Secure"), "only a trusted proxy reports HTTPS");
        let plain = t.post("/api/session", None, json!({"username": "c@x.com", "password": PASSWORD})).await;
        assert!(!plain.cookie("metabase.SESSION").unwrap().contains("Secure"));
    }

    async fn logout_ends_the_session(t) {
        let session = t.setup().await;
        assert_eq!(t.get("/api/login-history/current", Some(&session)).await.status, 200);
        let r = t.delete("/api/session", Some(&session)).await;
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        for name in ["metabase.SESSION", "metabase.EMBEDDED_SESSION", "metabase.TIMEOUT"] {
            let c = r.cookie(name).unwrap_or_else(|| panic!("{name} cleared"));
            assert!(c.starts_with(&format!("{name}=;")) && c.contains("1970") && c.contains("Path=/"), "{c}");
        }
        let r = t.get("/api/login-history/current", Some(&session)).await;
        assert_eq!((r.status, r.text().as_str()), (401, "Unauthenticated"));
        let r = t.delete("/api/session", Some(&session)).await;
        assert_eq!((r.status, r.text().as_str()), (404, "Not found."));
        assert_eq!(t.delete("/api/session", None).await.status, 404);
    }

    async fn the_session_cookie_authenticates(t) {
        let session = t.setup().await;
        let r = t.send(TestRequest::get().uri("/api/login-history/current")
            .cookie(actix_web::cookie::Cookie::new("metabase.SESSION", session.clone()))).await;
        assert_eq!(r.status, 200);
        let r = t.send(TestRequest::get().uri("/api/login-history/current")
            .cookie(actix_web::cookie::Cookie::new("metabase.SESSION", "bogus"))).await;
        assert_eq!(r.status, 401);
    }

    async fn bad_tokens_are_401_on_protected_paths(t) {
        t.setup().await;
        let huge = "x".repeat(10_000);
        for token in ["garbage", "00000000-0000-0000-0000-000000000000", huge.as_str()] {
            let r = t.get("/api/user/abc", Some(token)).await;
            assert_eq!((r.status, r.text().as_str()), (401, "Unauthenticated"), "{}", &token[..token.len().min(20)]);
        }
        assert_eq!(t.get("/api/permissions/whatever", None).await.status, 401);
        assert_eq!(t.get("/api/userx", None).await.status, 404, "only whole path segments are protected");
    }

    async fn unmatched_protected_paths_are_404_once_signed_in(t) {
        let session = t.setup().await;
        let before = t.db.db.statements();
        let r = t.get("/api/user/abc/def", Some(&session)).await;
        assert_eq!((r.status, r.text().as_str()), (404, "API endpoint does not exist."));
        assert_eq!(t.db.db.statements() - before, 1, "one query finds the caller");
    }

    async fn sessions_expire_after_max_session_age(t) {
        t.setup().await;
        let u = t.add_user("old@x.com", None, None, false);
        let now = t.now();
        let insert = |token: &str, age: Duration| {
            let s = NewSession { id_hash: sha256_hex(token), user_id: u.id, created_at: now - age };
            t.store().write(move |r| r.insert_session(&s)).unwrap();
        };
        insert("fresh-token", Duration::minutes(20_159));
        insert("stale-token", Duration::minutes(20_161));
        assert_eq!(t.get("/api/login-history/current", Some("fresh-token")).await.status, 200);
        assert_eq!(t.get("/api/login-history/current", Some("stale-token")).await.status, 401);
        t.clock.advance(Duration::minutes(2));
        assert_eq!(t.get("/api/login-history/current", Some("fresh-token")).await.status, 401, "it aged out");
        assert_eq!(t.delete("/api/session", Some("stale-token")).await.status, 204, "expired sessions can still be deleted");
    }

    async fn a_deactivated_users_session_stops_working(t) {
        t.setup().await;
        let u = t.add_user("d@x.com", None, None, false);
        let session = t.login("d@x.com").await;
        assert_eq!(t.get("/api/login-history/current", Some(&session)).await.status, 200);
        t.update_user(u.id, |u| u.is_active = false);
        assert_eq!(t.get("/api/login-history/current", Some(&session)).await.status, 401);
    }

    async fn login_is_throttled_after_10_failures_per_username(t) {
        t.setup().await;
        t.add_user("victim@x.com", None, None, false);
        let attempt = |pw: &'static str| t.post("/api/session", None, json!({"username": "victim@x.com", "password": pw}));
        for _ in 0..10 {
            assert_eq!(attempt("wrong-pw-1").await.json()["errors"]["password"], json!("did not match stored password"));
        }
        let wait = |n: u32| json!({"errors": {"username": format!("Too many attempts! You must wait {n} seconds before trying again.")}});
        let r = attempt(PASSWORD).await;
        assert_eq!((r.status, r.json()), (401, wait(15)), "even the right password is refused");
        assert_eq!(attempt(PASSWORD).await.json(), wait(42));
        assert_eq!(attempt(PASSWORD).await.json(), wait(78));
        t.clock.advance(Duration::seconds(30));
        assert_eq!(attempt(PASSWORD).await.json(), wait(90), "k=4: 120 s after the last refusal");
        t.clock.advance(Duration::minutes(30));
        assert_eq!(attempt(PASSWORD).await.json(), json!({"errors": {"username": "Too many attempts! Please try again later."}}));
        // Other names are unaffected; an hour after the failures the name is free again.
        t.add_user("other@x.com", None, None, false);
        assert_eq!(t.post("/api/session", None, json!({"username": "other@x.com", "password": PASSWORD})).await.status, 200);
        t.clock.advance(Duration::minutes(61));
        assert_eq!(attempt(PASSWORD).await.status, 200);
    }

    async fn login_is_throttled_after_50_failures_per_address(t) {
        t.setup().await;
        t.add_user("ok@x.com", None, None, false);
        let from = |ip: &str, user: String| t.send(TestRequest::post().uri("/api/session")
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .insert_header(("X-Forwarded-For", ip.to_string()))
            .set_json(json!({"username": user, "password": "wrong-pw-1"})));
        for i in 0..50 {
            assert_eq!(from("192.0.2.7", format!("u{i}@x.com")).await.status, 401);
        }
        let r = from("192.0.2.7", "fresh@x.com".into()).await;
        assert_eq!(r.json(), json!({"errors": {"username": "Too many attempts! You must wait 15 seconds before trying again."}}));
        let r = t.send(TestRequest::post().uri("/api/session").peer_addr("127.0.0.1:40000".parse().unwrap()).insert_header(("X-Forwarded-For", "198.51.100.1"))
            .set_json(json!({"username": "ok@x.com", "password": PASSWORD}))).await;
        assert_eq!(r.status, 200, "another address is not throttled");
    }

    async fn device_cookie_is_issued_once(t) {
        let r = t.get("/api/health", None).await;
        let c = r.cookie("metabase.DEVICE").unwrap();
        assert!(c.contains("HttpOnly") && c.contains("Path=/") && c.contains("SameSite=Lax"), "{c}");
        let r = t.send(TestRequest::get().uri("/api/health").cookie(actix_web::cookie::Cookie::new("metabase.DEVICE", "d1"))).await;
        assert!(r.cookie("metabase.DEVICE").is_none());
    }
}

#[actix_rt::test]
async fn throttling_can_be_turned_off() {
    let config = people_domain::Config {
        throttle: false,
        ..common::test_config()
    };
    let t = TestApp::start_with(Backend::Sqlite, config, people_web::WebConfig::default())
        .await
        .unwrap();
    t.setup().await;
    t.add_user("free@x.com", None, None, false);
    for _ in 0..15 {
        let r = t
            .post(
                "/api/session",
                None,
                json!({"username": "free@x.com", "password": "wrong-pw-1"}),
            )
            .await;
        assert_eq!(
            r.json()["errors"]["password"],
            json!("did not match stored password")
        );
    }
    assert_eq!(
        t.post(
            "/api/session",
            None,
            json!({"username": "free@x.com", "password": PASSWORD})
        )
        .await
        .status,
        200
    );
}

#[actix_rt::test]
async fn session_cookies_setting_keeps_cookies_in_the_browser_session() {
    let config = people_domain::Config {
        session_cookies: true,
        ..common::test_config()
    };
    let t = TestApp::start_with(Backend::Sqlite, config, people_web::WebConfig::default())
        .await
        .unwrap();
    t.setup().await;
    t.add_user("s@x.com", None, None, false);
    let r = t
        .post(
            "/api/session",
            None,
            json!({"username": "s@x.com", "password": PASSWORD, "remember": true}),
        )
        .await;
    assert!(!r.cookie("metabase.SESSION").unwrap().contains("Max-Age"));
    assert_eq!(
        t.get("/api/session/properties", None).await.json()["session-cookies"],
        json!(true)
    );
}

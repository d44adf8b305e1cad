//! What people refuses (docs/api.md "Refusals before any handler", docs/operations.md): bodies that are not
//! JSON, cross-site requests, forwarding headers from untrusted peers, security headers, settings that could
//! break requests, links that outlive an email change, and rules that must hold on every path.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use actix_web::cookie::Cookie;
use actix_web::test::TestRequest;
use common::{TestApp, PASSWORD};
use serde_json::{json, Value};

fn cookie(session: &str) -> Cookie<'static> {
    Cookie::new("metabase.SESSION", session.to_string())
}

fn admin_body() -> Value {
    json!({"email": "mallory@evil.example", "first_name": "M",
           "user_group_memberships": [{"id": 1}, {"id": 2}]})
}

async fn user_count(t: &TestApp) -> usize {
    t.store()
        .read(|r| r.count_users(100))
        .map(|n| n as usize)
        .unwrap()
}

web_tests! {
    async fn a_body_that_is_not_json_typed_is_415_and_changes_nothing(t) {
        let s = t.setup().await;
        let before = user_count(&t).await;
        let body = admin_body().to_string();
        // What a cross-site HTML form or fetch() may send without a preflight, cookie attached.
        for content_type in [None, Some("text/plain"), Some("text/plain; x=+json"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data; boundary=+json")] {
            let mut req = TestRequest::post().uri("/api/user").cookie(cookie(&s)).set_payload(body.clone());
            if let Some(ct) = content_type {
                req = req.insert_header(("Content-Type", ct));
            }
            let r = t.send(req).await;
            assert_eq!((r.status, r.json()), (415, json!({"message": "Content-Type must be application/json."})), "{content_type:?}");
        }
        assert_eq!(user_count(&t).await, before, "no user was created");
        assert!(t.store().read(|r| r.user_by_email("mallory@evil.example")).unwrap().is_none());
        // Checked before anything else: before authentication, before routing to a handler without a body.
        let r = t.send(TestRequest::put().uri("/api/user/1/modal/qbnewb").insert_header(("Content-Type", "text/plain")).set_payload("x")).await;
        assert_eq!(r.status, 415);
        // JSON types with parameters or a +json suffix are read; a request without a body is unaffected.
        let r = t.send(TestRequest::post().uri("/api/user").insert_header(("X-Metabase-Session", s.clone()))
            .insert_header(("Content-Type", "application/vnd.api+json; charset=utf-8"))
            .set_payload(json!({"email": "ok@x.com"}).to_string())).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = t.send(TestRequest::delete().uri("/api/session").insert_header(("X-Metabase-Session", s.clone()))).await;
        assert_eq!(r.status, 204);
    }

    async fn cross_site_requests_with_the_session_cookie_are_refused(t) {
        let s = t.setup().await;
        let post = |extra: Vec<(&'static str, String)>, by_cookie: bool| {
            let mut req = TestRequest::post().uri("/api/user")
                .insert_header(("Host", "people.example:3000"))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(json!({"email": format!("u{}@x.com", uuid::Uuid::new_v4().simple())}).to_string());
            req = if by_cookie { req.cookie(cookie(&s)) } else { req.insert_header(("X-Metabase-Session", s.clone())) };
            for (k, v) in extra {
                req = req.insert_header((k, v));
            }
            t.send(req)
        };
        let refused = |r: &common::Resp| r.status == 403 && r.text() == "Cross-site request refused." && r.content_type().starts_with("text/plain");
        let r = post(vec![("Sec-Fetch-Site", "cross-site".into())], true).await;
        assert!(refused(&r), "{} {}", r.status, r.text());
        let r = post(vec![("Origin", "https://evil.example".into())], true).await;
        assert!(refused(&r), "{} {}", r.status, r.text());
        let r = post(vec![("Origin", "null".into())], true).await;
        assert!(refused(&r), "an opaque origin is another origin");
        // The request's own origin, and site-url, are accepted.
        assert_eq!(post(vec![("Origin", "http://people.example:3000".into()), ("Sec-Fetch-Site", "same-origin".into())], true).await.status, 200);
        assert_eq!(post(vec![("Origin", "http://localhost:3000".into())], true).await.status, 200, "site-url's origin");
        assert_eq!(post(vec![], true).await.status, 200, "no Origin and no Sec-Fetch-Site: an older client");
        // A header credential cannot come from another site's page without CORS: unaffected.
        assert_eq!(post(vec![("Origin", "https://evil.example".into()), ("Sec-Fetch-Site", "cross-site".into())], false).await.status, 200);
        // Reads are unaffected.
        let r = t.send(TestRequest::get().uri("/api/user/current").cookie(cookie(&s)).insert_header(("Sec-Fetch-Site", "cross-site"))).await;
        assert_eq!(r.status, 200);
        // After site-url changes, its origin is accepted.
        assert_eq!(t.put("/api/setting/site-url", Some(&s), json!({"value": "https://people.example"})).await.status, 204);
        assert_eq!(post(vec![("Origin", "https://people.example".into())], true).await.status, 200);
        assert!(refused(&post(vec![("Origin", "http://localhost:3000".into())], true).await));
    }

    async fn forwarding_headers_are_believed_only_from_trusted_proxies(t) {
        drop(t);
        let web = people_web::WebConfig { trusted_proxies: "127.0.0.1".parse().unwrap(), ..people_web::WebConfig::default() };
        let t = TestApp::start_with(BACKEND, common::test_config(), web).await.unwrap();
        t.setup().await;
        t.add_user("h@x.com", None, None, false);
        let login = |peer: &str, xff: &str| t.send(TestRequest::post().uri("/api/session")
            .peer_addr(format!("{peer}:40000").parse().unwrap())
            .insert_header(("X-Forwarded-For", xff.to_string()))
            .insert_header(("X-Forwarded-Proto", "https"))
            .set_json(json!({"username": "h@x.com", "password": PASSWORD})));
        let r = login("127.0.0.2", "1.2.3.4").await;
        assert_eq!(r.status, 200);
        assert!(!r.cookie("metabase.SESSION").unwrap().contains("Secure"), "X-Forwarded-Proto from an untrusted peer is ignored");
        let r = login("127.0.0.1", "1.2.3.4, 10.3.3.3").await;
        assert!(r.cookie("metabase.SESSION").unwrap().contains("Secure"), "a trusted proxy reports HTTPS");
        assert_eq!(r.header("strict-transport-security").as_deref(), Some("max-age=31536000"));
        let session = r.json()["id"].as_str().unwrap().to_string();
        let ips: Vec<Value> = t.get("/api/login-history/current", Some(&session)).await.json().as_array().unwrap()
            .iter().map(|e| e["ip_address"].clone()).collect();
        // Newest first: the forged left-most entry is never the client.
        assert_eq!(ips, vec![json!("10.3.3.3"), json!("127.0.0.2")]);
    }

    async fn a_forged_address_does_not_escape_the_address_throttle(t) {
        t.setup().await;
        let from = |xff: &str, user: String| t.send(TestRequest::post().uri("/api/session")
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .insert_header(("X-Forwarded-For", xff.to_string()))
            .set_json(json!({"username": user, "password": "wrong-pw-1"})));
        for i in 0..50 {
            assert_eq!(from("10.3.3.3", format!("u{i}@x.com")).await.status, 401);
        }
        let r = from("1.2.3.4, 10.3.3.3", "fresh@x.com".into()).await;
        assert_eq!(r.json(), json!({"errors": {"username": "Too many attempts! You must wait 15 seconds before trying again."}}));
    }

    async fn every_api_response_carries_the_security_headers(t) {
        let s = t.setup().await;
        for r in [
            t.get("/api/health", None).await,
            t.get("/api/user/current", Some(&s)).await,
            t.get("/api/user/current", None).await,
            t.get("/api/nope", None).await,
            t.put("/api/user/1/modal/%3Cscript%3Ealert(1)%3C%2Fscript%3E", Some(&s), json!({})).await,
            t.post("/api/session", None, json!({"username": "admin@example.com", "password": PASSWORD})).await,
        ] {
            assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "{}", r.status);
            assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
            assert_eq!(r.header("referrer-policy").as_deref(), Some("strict-origin-when-cross-origin"));
            assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
            assert!(r.header("strict-transport-security").is_none(), "plain HTTP");
        }
    }

    async fn reset_token_ttl_takes_any_non_negative_integer(t) {
        let s = t.setup().await;
        let put = |v: Value| t.put("/api/setting/reset-token-ttl-hours", Some(&s), json!({"value": v}));
        let id = i64::from(t.add_user("ttl@x.com", None, None, false).id);
        let mail = common::Mail::start(&t);
        let token = fresh_token(&t, &s, id, &mail).await;
        assert_eq!(valid(&t, &token).await, json!(true));
        assert_eq!(put(json!(0)).await.status, 204, "0 is accepted, as Metabase's own tests use it");
        assert_eq!(t.get("/api/setting/reset-token-ttl-hours", Some(&s)).await.json(), json!(0));
        assert_eq!(valid(&t, &token).await, json!(false), "TTL 0: every link is already expired");
        let r = put(json!(-1)).await;
        assert_eq!(r.status, 400);
        assert!(r.text().contains("reset-token-ttl-hours"), "{}", r.text());
        // A value beyond what a time span can hold means "does not expire"; nothing panics.
        assert_eq!(put(json!(9_000_000_000_000i64)).await.status, 204);
        assert_eq!(t.get("/api/setting/reset-token-ttl-hours", Some(&s)).await.json(), json!(9_000_000_000_000i64));
        assert_eq!(valid(&t, &token).await, json!(true));
        t.clock.advance(chrono::Duration::days(3650));
        assert_eq!(valid(&t, &token).await, json!(true), "ten years later");
        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "n3w-unc0mmon"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let s = t.login("admin@example.com").await;
        let r = t.put("/api/setting/reset-token-ttl-hours", Some(&s), json!({"value": i64::MAX})).await;
        assert_eq!(r.status, 204);
        let again = fresh_token(&t, &s, id, &mail).await;
        assert_eq!(valid(&t, &again).await, json!(true));
    }

    async fn changing_an_email_revokes_outstanding_links(t) {
        let s = t.setup().await;
        let mail = common::Mail::start(&t);
        let r = t.post("/api/user", Some(&s), json!({"email": "ann@typo.example", "first_name": "Ann"})).await;
        let id = r.json()["id"].as_i64().unwrap();
        let token = common::token_in(&mail.deliver()[0].text()).unwrap();
        assert_eq!(valid(&t, &token).await, json!(true));
        let r = t.put(&format!("/api/user/{id}"), Some(&s), json!({"email": "ann@right.example"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(valid(&t, &token).await, json!(false), "the link sent to the old address stopped working");
        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "n3w-unc0mmon"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"password": "Invalid reset token"}})));
        // The same email, in another case, is no change.
        let again = fresh_token(&t, &s, id, &mail).await;
        assert_eq!(t.put(&format!("/api/user/{id}"), Some(&s), json!({"email": "Ann@Right.example"})).await.status, 200);
        assert_eq!(valid(&t, &again).await, json!(true));
    }

    async fn concurrent_wrong_passwords_cost_at_most_the_threshold_in_checks(t) {
        t.setup().await;
        t.add_user("victim@x.com", None, None, false);
        let before = t.password_checks.load(std::sync::atomic::Ordering::SeqCst);
        let attempts = (0..40).map(|i| t.post("/api/session", None,
            json!({"username": if i % 2 == 0 { "victim@x.com" } else { "VICTIM@X.COM" }, "password": "wrong-pw-1"})));
        let answers = futures_util::future::join_all(attempts).await;
        let checks = t.password_checks.load(std::sync::atomic::Ordering::SeqCst) - before;
        assert!(checks <= 10, "{checks} password checks for 40 concurrent attempts");
        assert!(answers.iter().all(|r| r.status == 401), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
        let throttled = answers.iter().filter(|r| r.json()["errors"]["username"].as_str().is_some_and(|m| m.starts_with("Too many attempts!"))).count();
        assert_eq!(throttled, 40 - checks, "every attempt not checked got the throttle error");
        // The right password is refused too now, and costs no check.
        let r = t.post("/api/session", None, json!({"username": "victim@x.com", "password": PASSWORD})).await;
        assert_eq!(r.status, 401);
        assert_eq!(t.password_checks.load(std::sync::atomic::Ordering::SeqCst) - before, checks);
    }

    async fn concurrent_right_passwords_from_one_address_all_sign_in(t) {
        t.setup().await;
        for i in 0..60 {
            t.add_user(&format!("u{i}@x.com"), None, None, false);
        }
        // More than the address threshold (50) at once: they wait their turn instead of failing.
        let attempts = (0..60).map(|i| t.post("/api/session", None, json!({"username": format!("u{i}@x.com"), "password": PASSWORD})));
        let answers = futures_util::future::join_all(attempts).await;
        assert!(answers.iter().all(|r| r.status == 200), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    }

    async fn links_in_the_outbox_do_not_outlive_their_token(t) {
        let s = t.setup().await;
        let r = t.post("/api/user", Some(&s), json!({"email": "ann@x.com", "first_name": "Ann"})).await;
        let id = r.json()["id"].as_i64().unwrap();
        let first = t.db.outbox();
        assert_eq!(first.len(), 1);
        assert!(first[0].body_text.contains("/auth/reset_password/"), "queued, not yet sent");
        // Re-sending the invite replaces the token: the first email is blanked and will never be sent.
        assert_eq!(t.post(&format!("/api/user/{id}/send_invite"), Some(&s), json!({})).await.status, 200);
        let rows = t.db.outbox();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].body_text.is_empty() && rows[0].body_html.is_empty() && rows[0].voided_at.is_some() && rows[0].sent_at.is_none(), "{:?}", rows[0]);
        let token = common::token_in(&rows[1].body_text).unwrap();
        // Using the token blanks the email that carries it.
        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "n3w-unc0mmon"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let rows = t.db.outbox();
        assert!(rows[1].body_text.is_empty() && rows[1].voided_at.is_some());
        // An email change clears the token and blanks its email.
        t.post("/api/session/forgot_password", None, json!({"email": "ann@x.com"})).await;
        t.api.people.background_pass().unwrap();
        let links = || t.db.outbox().into_iter().filter(|r| r.body_text.contains("/auth/reset_password/")).count();
        assert_eq!(links(), 1, "the reset email waits");
        assert_eq!(t.put(&format!("/api/user/{id}"), Some(&s), json!({"email": "ann@y.com"})).await.status, 200);
        assert_eq!(links(), 0, "no live link is left in the outbox");
        // Nothing dead is ever sent.
        let mail = common::Mail::start(&t);
        let sent = mail.deliver();
        assert!(sent.iter().all(|m| !m.text().contains("/auth/reset_password/")), "{sent:?}");
    }

    async fn an_expired_link_is_blanked_unsent(t) {
        let s = t.setup().await;
        assert_eq!(t.put("/api/setting/reset-token-ttl-hours", Some(&s), json!({"value": 1})).await.status, 204);
        t.post("/api/user", Some(&s), json!({"email": "late@x.com"})).await;
        t.clock.advance(chrono::Duration::minutes(61));
        let pass = t.api.people.background_pass().unwrap();
        assert_eq!(pass.links_voided, 1);
        let rows = t.db.outbox();
        assert!(rows[0].body_text.is_empty() && rows[0].voided_at.is_some());
        // Lowering the lifetime applies to links already queued.
        t.post("/api/user", Some(&s), json!({"email": "later@x.com"})).await;
        t.clock.advance(chrono::Duration::minutes(10));
        let s = t.login("admin@example.com").await;
        assert_eq!(t.put("/api/setting/reset-token-ttl-hours", Some(&s), json!({"value": 0})).await.status, 204);
        let rows = t.db.outbox();
        assert!(rows.iter().all(|r| r.voided_at.is_some() || !r.body_text.contains("reset_password")), "{rows:?}");
    }

    async fn a_group_manager_cannot_make_an_administrator_a_manager(t) {
        let s = t.setup().await;
        let g = t.post("/api/permissions/group", Some(&s), json!({"name": "Team"})).await.json()["id"].as_i64().unwrap();
        let mgr = t.add_user("mgr@x.com", None, None, false);
        let admin = t.add_user("boss@x.com", None, None, true);
        for user in [mgr.id, admin.id] {
            let r = t.post("/api/permissions/membership", Some(&s), json!({"group_id": g, "user_id": user, "is_group_manager": user == mgr.id})).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let ms = t.login("mgr@x.com").await;
        let body = json!({"user_group_memberships": [{"id": 1}, {"id": 2}, {"id": g, "is_group_manager": true}]});
        let r = t.put(&format!("/api/user/{}", admin.id), Some(&ms), body.clone()).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Admin cant be a group manager."));
        assert!(r.content_type().starts_with("text/plain"));
        let flags = t.store().read(move |r| r.memberships_of(&[admin.id])).unwrap();
        assert!(flags.iter().all(|m| !m.is_group_manager), "nothing changed");
        // A superuser is refused the same, as on /api/permissions/membership.
        let r = t.put(&format!("/api/user/{}", admin.id), Some(&s), body).await;
        assert_eq!((r.status, r.text().as_str()), (400, "Admin cant be a group manager."));
    }
}

/// With `MB_ENCRYPTION_SECRET_KEY`, no reset or invite token can be found in the SQLite files, queued or sent.
#[actix_rt::test]
async fn with_a_key_no_token_is_in_the_database_files() {
    let secret = "correct horse battery staple";
    let t = TestApp::start_keyed(people_store::testing::Backend::Sqlite, secret)
        .await
        .unwrap();
    let s = t.setup().await;
    let id = t
        .post("/api/user", Some(&s), json!({"email": "ann@x.com"}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    t.post(
        "/api/session/forgot_password",
        None,
        json!({"email": "admin@example.com"}),
    )
    .await;
    t.api.people.background_pass().unwrap();
    let cipher = people_store::cipher::Cipher::from_secret(secret);
    let rows = t.db.outbox();
    assert_eq!(rows.len(), 2);
    let mut tokens = Vec::new();
    for row in &rows {
        assert!(
            row.body_text.starts_with("enc1:") && row.body_html.starts_with("enc1:"),
            "{row:?}"
        );
        tokens.push(common::token_in(&cipher.open(&row.body_text).unwrap()).unwrap());
    }
    assert!(tokens[0].starts_with(&format!("{id}_")));
    let dir = t.db.sqlite_dir().unwrap().to_path_buf();
    let grep = |needle: &str| -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                let bytes = std::fs::read(&path).unwrap_or_default();
                bytes
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
                    .then(|| path.display().to_string())
            })
            .collect()
    };
    // The random part of each token (the UUID) appears in no file: not the database, not its WAL.
    for token in &tokens {
        let secret_part = token.split_once('_').unwrap().1;
        assert_eq!(grep(secret_part), Vec::<String>::new(), "{token}");
    }
    // Sent with the same key, the links are intact; afterwards the bodies are blank.
    let mail = common::Mail::start(&t);
    let sent = mail.deliver();
    assert_eq!(sent.len(), 2);
    let delivered: Vec<String> = sent
        .iter()
        .filter_map(|m| common::token_in(&m.text()))
        .collect();
    assert_eq!(delivered, tokens);
    for token in &tokens {
        assert_eq!(grep(token.split_once('_').unwrap().1), Vec::<String>::new());
    }
    assert!(t
        .db
        .outbox()
        .iter()
        .all(|r| r.body_text.is_empty() && r.sent_at.is_some()));
}

/// `GET /api/session/password_reset_token_valid` for `token`.
async fn valid(t: &TestApp, token: &str) -> Value {
    t.get(
        &format!("/api/session/password_reset_token_valid?token={token}"),
        None,
    )
    .await
    .json()["valid"]
        .clone()
}

/// Re-sends the invite of `id` and returns the token of the link delivered.
async fn fresh_token(t: &TestApp, s: &str, id: i64, mail: &common::Mail) -> String {
    assert_eq!(
        t.post(&format!("/api/user/{id}/send_invite"), Some(s), json!({}))
            .await
            .status,
        200
    );
    let messages = mail.deliver();
    common::token_in(&messages.last().unwrap().text()).unwrap()
}

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

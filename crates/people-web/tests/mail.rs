//! Email over HTTP: invites, password resets and the "accepted their invite" notice go through the outbox
//! and lettre's SMTP transport to a real listener.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use chrono::Duration;
use common::{token_in, Mail, TestApp, PASSWORD};
use serde_json::{json, Value};

/// `<user id>_<UUID>` as Metabase issues them and the conformance pattern `\d+_[\w_-]+` describe.
fn well_formed(token: &str, user_id: i64) -> bool {
    let Some((id, uuid)) = token.split_once('_') else {
        return false;
    };
    id == user_id.to_string() && uuid::Uuid::parse_str(uuid).is_ok()
}

async fn new_user(t: &TestApp, s: &str, email: &str, first: &str) -> i64 {
    let r = t
        .post(
            "/api/user",
            Some(s),
            json!({"email": email, "first_name": first, "last_name": "Lee"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

web_tests! {
    async fn invite_email_on_create_and_send_invite(t) {
        let s = t.setup().await;
        let mail = Mail::start(&t);
        let id = new_user(&t, &s, "ann@x.com", "Ann").await;
        let m = mail.deliver();
        assert_eq!(m.len(), 1);
        let invite = &m[0];
        assert_eq!(invite.to, vec!["ann@x.com"]);
        assert_eq!(invite.subject(), "You're invited to join Acme's Metabase");
        let text = invite.text();
        assert!(text.contains("http://localhost:3000/auth/reset_password/"), "{text}");
        assert!(text.contains("#new"), "the join link ends in #new: {text}");
        let token = token_in(&text).unwrap();
        assert!(well_formed(&token, id), "{token}");
        assert!(invite.html().contains(&format!("/auth/reset_password/{token}#new")));
        assert!(text.contains("Ada has invited you"), "{text}");
        // Only the SHA-256 of the token is stored.
        let stored = t.store().read(move |r| r.user_by_id(people_domain::UserId(id))).unwrap().unwrap();
        assert_eq!(stored.reset_token.as_deref(), Some(people_domain::session::sha256_hex(&token).as_str()));

        let r = t.post(&format!("/api/user/{id}/send_invite"), Some(&s), json!({})).await;
        assert_eq!(r.status, 200);
        let m = mail.deliver();
        assert_eq!(m.len(), 2);
        let again = token_in(&m[1].text()).unwrap();
        assert_ne!(again, token, "a new token replaces the old one");
        let valid = |tok: &str| {
            let path = format!("/api/session/password_reset_token_valid?token={tok}");
            let t = &t;
            async move { t.get(&path, None).await.json()["valid"].clone() }
        };
        assert_eq!(valid(&token).await, json!(false), "only one outstanding token");
        assert_eq!(valid(&again).await, json!(true));
    }

    async fn an_admin_can_take_an_invite_link_instead_of_an_email(t) {
        let s = t.setup().await;
        let id = new_user(&t, &s, "ann@x.com", "Ann").await;
        let r = t.post(&format!("/api/user/{id}/invite_link"), Some(&s), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let url = r.json()["invite_url"].as_str().unwrap().to_string();
        let token = url
            .strip_prefix("http://localhost:3000/auth/reset_password/")
            .and_then(|rest| rest.strip_suffix("#new"))
            .unwrap_or_else(|| panic!("{url}"));
        assert!(well_formed(token, id), "{token}");
        // The link replaces the one the invite email carried, and that email is never sent.
        let mail = Mail::start(&t);
        assert!(mail.deliver().is_empty(), "the invite email's link was replaced: nothing to send");
        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // Only a superuser may take one; an unknown or inactive person has none.
        t.add_user("plain@x.com", Some("Pat"), None, false);
        let plain = t.login("plain@x.com").await;
        let r = t.post(&format!("/api/user/{id}/invite_link"), Some(&plain), json!({})).await;
        assert_eq!(r.status, 403);
        assert_eq!(t.post("/api/user/4242/invite_link", Some(&s), json!({})).await.status, 404);
        assert_eq!(t.delete(&format!("/api/user/{id}"), Some(&s)).await.status, 200);
        assert_eq!(t.post(&format!("/api/user/{id}/invite_link"), Some(&s), json!({})).await.status, 404);
        assert_eq!(t.post(&format!("/api/user/{id}/invite_link"), None, json!({})).await.status, 401);
    }

    async fn setup_invite_is_queued_without_smtp_and_sent_later(t) {
        let token = t.setup_token().await;
        let body = json!({
            "token": token,
            "user": {"first_name": "Ada", "email": "ada@x.com", "password": PASSWORD},
            "invite": {"first_name": "Ivy", "email": "ivy@x.com"},
            "prefs": {"site_name": "Acme"}
        });
        assert_eq!(t.post("/api/setup", None, body).await.status, 200);
        // No worker ran yet: the invite waits in the outbox, then a worker delivers it.
        let mail = Mail::start(&t);
        let m = mail.deliver();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].to, vec!["ivy@x.com"]);
        assert_eq!(m[0].subject(), "You're invited to join Acme's Metabase");
        assert!(m[0].text().contains("Ada could use your help setting up Metabase."), "{}", m[0].text());
        assert!(m[0].text().contains("#new"));
    }

    async fn the_full_invite_flow(t) {
        let s = t.setup().await;
        let mail = Mail::start(&t);
        let id = new_user(&t, &s, "new@x.com", "Nia").await;
        let token = token_in(&mail.deliver()[0].text()).unwrap();
        let r = t.get(&format!("/api/session/password_reset_token_valid?token={token}"), None).await;
        assert_eq!(r.json(), json!({"valid": true}));
        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["success"], json!(true));
        let session = body["session_id"].as_str().unwrap().to_string();
        assert!(r.cookie("metabase.SESSION").unwrap().contains(&session));
        assert_eq!(t.get("/api/user/current", Some(&session)).await.json()["id"], json!(id));
        // The administrators hear that the invite was accepted.
        let m = mail.deliver();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].subject(), "Nia Lee accepted their Metabase invite");
        assert_eq!(m[1].to, vec!["admin@example.com"]);
        assert!(m[1].text().contains("http://localhost:3000/admin/people"));
        // The token is spent; the new password works.
        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "an0ther-Pass"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"password": "Invalid reset token"}})));
        let r = t.post("/api/session", None, json!({"username": "new@x.com", "password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 200);
        let history = t.get("/api/login-history/current", Some(&session)).await.json();
        assert_eq!(history.as_array().unwrap().len(), 2, "the reset and the login");
    }

    async fn forgot_password_emails(t) {
        let s = t.setup().await;
        let mail = Mail::start(&t);
        let active = t.add_user("on@x.com", Some("On"), None, false);
        let off = t.add_user("off@x.com", Some("Off"), None, false);
        t.update_user(off.id, |u| u.is_active = false);
        let sso = t.add_user("sso@x.com", Some("Sso"), None, false);
        t.update_user(sso.id, |u| u.sso_source = Some("google".into()));
        for email in ["ON@x.com", "off@x.com", "sso@x.com", "nobody@x.com"] {
            let r = t.post("/api/session/forgot_password", None, json!({"email": email})).await;
            assert_eq!((r.status, r.body.len()), (204, 0), "{email}");
        }
        let m = mail.deliver();
        assert_eq!(m.len(), 3, "nothing for an unknown address");
        for msg in &m {
            assert_eq!(msg.subject(), "[Metabase] Password Reset Request");
        }
        let on = m.iter().find(|x| x.to == vec!["on@x.com"]).unwrap();
        let token = token_in(&on.text()).unwrap();
        assert!(well_formed(&token, active.id.get()));
        assert!(on.text().contains(&format!("http://localhost:3000/auth/reset_password/{token}")));
        assert!(!on.text().contains("#new"), "a reset link has no #new");
        let off_msg = m.iter().find(|x| x.to == vec!["off@x.com"]).unwrap();
        assert!(token_in(&off_msg.text()).is_none() && off_msg.text().contains("deactivated"));
        let sso_msg = m.iter().find(|x| x.to == vec!["sso@x.com"]).unwrap();
        assert!(token_in(&sso_msg.text()).is_none() && sso_msg.text().contains("Google"));

        let r = t.post("/api/session/reset_password", None, json!({"token": token, "password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 200);
        // on@x.com never logged in, so resetting counts as accepting an invite: the admins hear of it.
        let m = mail.deliver();
        assert_eq!(m.len(), 4);
        assert_eq!(m[3].subject(), "On accepted their Metabase invite");
        let _ = s;
    }

    async fn reset_password_rules(t) {
        t.setup().await;
        let mail = Mail::start(&t);
        let u = t.add_user("u@x.com", None, None, false);
        let old_session = t.login("u@x.com").await;
        t.post("/api/session/forgot_password", None, json!({"email": "u@x.com"})).await;
        let token = token_in(&mail.deliver()[0].text()).unwrap();
        let cases: Vec<(Value, Value)> = vec![
            (json!({}), json!({"token": "value must be a non-blank string."})),
            (json!({"token": "x"}), json!({"password": "password is too common."})),
            (json!({"token": token, "password": "123456"}), json!({"password": "password is too common."})),
            (json!({"token": "nonsense", "password": "n3w-Secret!"}), json!({"password": "Invalid reset token"})),
            (json!({"token": format!("{}_{}", u.id, uuid::Uuid::new_v4()), "password": "n3w-Secret!"}), json!({"password": "Invalid reset token"})),
            (json!({"token": format!("9999_{}", uuid::Uuid::new_v4()), "password": "n3w-Secret!"}), json!({"password": "Invalid reset token"})),
        ];
        for (body, errors) in cases {
            let r = t.post("/api/session/reset_password", None, body.clone()).await;
            assert_eq!((r.status, r.json()["errors"].clone()), (400, errors), "{body}");
        }
        let r = t.get("/api/session/password_reset_token_valid", None).await;
        assert_eq!((r.status, r.json()["errors"].clone()), (400, json!({"token": "value must be a non-blank string."})));
        // Expiry: 48 hours by default.
        t.clock.advance(Duration::hours(47));
        assert_eq!(t.get(&format!("/api/session/password_reset_token_valid?token={token}"), None).await.json(), json!({"valid": true}));
        t.clock.advance(Duration::hours(2));
        assert_eq!(t.get(&format!("/api/session/password_reset_token_valid?token={token}"), None).await.json(), json!({"valid": false}));
        // A fresh token for a user who is then deactivated does not validate either.
        t.post("/api/session/forgot_password", None, json!({"email": "u@x.com"})).await;
        let fresh = token_in(&mail.deliver()[1].text()).unwrap();
        let r = t.post("/api/session/reset_password", None, json!({"token": fresh, "password": "n3w-Secret!"})).await;
        assert_eq!(r.status, 200);
        assert_eq!(t.get("/api/user/current", Some(&old_session)).await.status, 401, "every old session ended");
        let u2 = t.add_user("u2@x.com", None, None, false);
        t.post("/api/session/forgot_password", None, json!({"email": "u2@x.com"})).await;
        let t2 = token_in(&mail.deliver()[2].text()).unwrap();
        t.update_user(u2.id, |x| x.is_active = false);
        let r = t.post("/api/session/reset_password", None, json!({"token": t2, "password": "n3w-Secret!"})).await;
        assert_eq!(r.json(), json!({"errors": {"password": "Invalid reset token"}}));
    }

    async fn reset_token_ttl_follows_the_setting(t) {
        let s = t.setup().await;
        let mail = Mail::start(&t);
        t.add_user("u@x.com", None, None, false);
        assert_eq!(t.put("/api/setting/reset-token-ttl-hours", Some(&s), json!({"value": 1})).await.status, 204);
        t.post("/api/session/forgot_password", None, json!({"email": "u@x.com"})).await;
        let token = token_in(&mail.deliver()[0].text()).unwrap();
        t.clock.advance(Duration::minutes(61));
        assert_eq!(t.get(&format!("/api/session/password_reset_token_valid?token={token}"), None).await.json(), json!({"valid": false}));
    }

    async fn forgot_password_validation_and_throttling(t) {
        t.setup().await;
        for body in [json!({}), json!({"email": "nope"})] {
            let r = t.post("/api/session/forgot_password", None, body).await;
            assert_eq!((r.status, r.json()["errors"].clone()), (400, json!({"email": "value must be a valid email address."})));
        }
        for _ in 0..3 {
            assert_eq!(t.post("/api/session/forgot_password", None, json!({"email": "a@x.com"})).await.status, 204);
        }
        let r = t.post("/api/session/forgot_password", None, json!({"email": "a@x.com"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"email": "Too many attempts! You must wait 15 seconds before trying again."}})));
        t.clock.advance(Duration::seconds(2));
        assert_eq!(t.post("/api/session/forgot_password", None, json!({"email": "a@x.com"})).await.status, 204, "3 per second per email");
    }

    async fn reset_password_is_throttled_per_address(t) {
        t.setup().await;
        for _ in 0..10 {
            let r = t.post("/api/session/reset_password", None, json!({"token": "1_x", "password": "n3w-Secret!"})).await;
            assert_eq!(r.json()["errors"]["password"], json!("Invalid reset token"));
        }
        let r = t.post("/api/session/reset_password", None, json!({"token": "1_x", "password": "n3w-Secret!"})).await;
        assert_eq!((r.status, r.json()), (400, json!({"errors": {"password": "Too many attempts! You must wait 15 seconds before trying again."}})));
    }

    async fn an_smtp_outage_does_not_fail_or_lose_an_invite(t) {
        let s = t.setup().await;
        let sink = people_mailer::testing::SmtpSink::start().unwrap();
        let (port, store) = (sink.port(), sink.store());
        let mail = Mail::on(&t, sink);
        let Mail { sink, worker, .. } = mail;
        sink.stop();
        let id = new_user(&t, &s, "late@x.com", "Late").await;
        assert_eq!(common::run_pass(&worker).failed, 1, "the request succeeded; delivery failed");
        let sink = people_mailer::testing::SmtpSink::start_on(port, store).unwrap();
        t.clock.advance(Duration::seconds(11));
        assert_eq!(common::run_pass(&worker).sent, 1);
        let m = sink.messages();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].to, vec!["late@x.com"]);
        assert!(well_formed(&token_in(&m[0].text()).unwrap(), id));
    }
}

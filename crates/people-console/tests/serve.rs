//! The console's routes in an actix test app: the shell on every page path, assets by content hash, the
//! headers that keep them safe and cached, and the size budget.

#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::io::Write;

use actix_web::http::{header, StatusCode};
use actix_web::{test as actix_test, App};

async fn get(path: &str, headers: &[(&str, &str)]) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let app = actix_test::init_service(App::new().configure(people_console::configure)).await;
    let mut req = actix_test::TestRequest::get().uri(path);
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let resp = actix_test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let head = resp.headers().clone();
    let body = actix_test::read_body(resp).await.to_vec();
    (status, head, body)
}

fn header_of<'a>(h: &'a header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[actix_rt::test]
async fn every_page_path_answers_with_the_shell_under_a_strict_csp() {
    for path in [
        "/",
        "/setup",
        "/auth/login",
        "/auth/login/",
        "/auth/forgot_password",
        "/auth/reset_password/12_8a266560-e3a8-4dc1-9cd1-b4471dcd56d7",
        "/admin/people",
        "/admin/people/groups",
        "/admin/people/groups/3",
        "/admin/settings",
        "/admin/settings/general",
        "/account/profile",
        "/account/password",
        "/account/login-history",
    ] {
        let (status, head, body) = get(path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header_of(&head, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header_of(&head, "cache-control"), "no-cache");
        let csp = header_of(&head, "content-security-policy");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("style-src 'self';"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains(&format!("/console/{}/app.js", people_console::BUNDLE)));
    }
}

#[actix_rt::test]
async fn the_shell_is_revalidated_by_its_etag() {
    let (_, head, _) = get("/admin/people", &[]).await;
    let etag = header_of(&head, "etag").to_string();
    assert_eq!(etag, format!("\"{}\"", people_console::BUNDLE));
    let (status, _, body) = get("/admin/people", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
}

#[actix_rt::test]
async fn assets_are_cached_for_a_year_under_their_content_hash() {
    let path = format!("/console/{}/app.js", people_console::BUNDLE);
    let (status, head, body) = get(&path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header_of(&head, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header_of(&head, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(String::from_utf8(body).unwrap().contains("ROUTES"));
    let (status, head, _) = get(
        &format!("/console/{}/console.css", people_console::BUNDLE),
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&head, "content-encoding"), "gzip");
}

#[actix_rt::test]
async fn another_bundle_or_an_unknown_file_is_not_found() {
    for path in [
        "/console/0000000000000000/app.js".to_string(),
        format!("/console/{}/nope.js", people_console::BUNDLE),
        format!("/console/{}/../Cargo.toml", people_console::BUNDLE),
        "/admin/nothing-here".to_string(),
    ] {
        let (status, _, _) = get(&path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The whole console's JavaScript and CSS, gzip-compressed as it is served, stays under 100 KB.
#[test]
fn scripts_and_styles_fit_the_budget_compressed() {
    let mut total = 0;
    for (name, _) in people_console::inventory() {
        if !(name.ends_with(".js") || name.ends_with(".css")) {
            continue;
        }
        let bytes = people_console::asset(name).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        total += gz.finish().unwrap().len();
    }
    println!("console JS+CSS, gzip: {total} bytes");
    assert!(total > 0);
    assert!(total < 100 * 1024, "{total} bytes compressed");
}

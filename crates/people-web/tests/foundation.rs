//! The HTTP foundation: health, unmatched paths, trailing slashes, OPTIONS, version header.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;

use actix_web::test::TestRequest;
use serde_json::json;

web_tests! {
    async fn health_is_ok_when_the_database_answers(t) {
        let r = t.get("/api/health", None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type(), "application/json; charset=utf-8");
        assert_eq!(r.json(), json!({"status": "ok"}));
        assert_eq!(r.header("x-metabase-version").as_deref(), Some(people_web::VERSION_TAG));
    }

    async fn trailing_slashes_reach_the_same_route(t) {
        let r = t.get("/api/health/", None).await;
        assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    }

    async fn unmatched_api_paths_are_404_plain_text(t) {
        let r = t.get("/api/no/such/thing", None).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.content_type(), "text/plain; charset=utf-8");
        assert_eq!(r.text(), "API endpoint does not exist.");
    }

    async fn options_answers_200_empty(t) {
        let r = t.send(TestRequest::default().method(actix_web::http::Method::OPTIONS).uri("/api/user")).await;
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
    }
}

#[actix_rt::test]
async fn health_is_503_when_the_database_is_gone() {
    let Some(t) = common::TestApp::start(people_store::testing::Backend::Postgres).await else {
        eprintln!("postgres::health_is_503_when_the_database_is_gone not run: PEOPLE_TEST_POSTGRES_URL is not set");
        return;
    };
    let admin_url = std::env::var(people_store::testing::POSTGRES_ENV).unwrap();
    let name = t.db.url.rsplit('/').next().unwrap().to_string();
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .unwrap();
    let r = t.get("/api/health", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.json(),
        json!({"status": "Unable to get app-db connection"})
    );
}

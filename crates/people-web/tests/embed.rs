//! examples/embed.rs builds, and its application serves both people's API and the host's own routes over
//! one shared pool.

#![allow(clippy::unwrap_used)] // tests unwrap freely

#[path = "../examples/embed.rs"]
#[allow(dead_code)]
mod embed;

use actix_web::test::{self, TestRequest};
use actix_web::App;
use serde_json::Value;

#[actix_rt::test]
async fn the_embedding_example_mounts_the_api_beside_its_own_routes() {
    let t = people_store::testing::TestDb::sqlite();
    let app =
        test::init_service(App::new().configure(embed::configure(t.db.clone()).unwrap())).await;

    let props: Value = test::call_and_read_body_json(
        &app,
        TestRequest::get()
            .uri("/api/session/properties")
            .to_request(),
    )
    .await;
    assert!(
        props["setup-token"].is_string(),
        "people's API answers: {props}"
    );
    let hello: Value =
        test::call_and_read_body_json(&app, TestRequest::get().uri("/hello").to_request()).await;
    assert_eq!(
        hello["users"], 0,
        "the host's route reads the shared pool: {hello}"
    );

    let body = serde_json::json!({"token": props["setup-token"], "user": {"email": "a@x.com", "password": "unc0mmonpw"}, "prefs": {"site_name": "Host"}});
    let r = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/setup")
            .set_json(body)
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let hello: Value =
        test::call_and_read_body_json(&app, TestRequest::get().uri("/hello").to_request()).await;
    assert_eq!(hello["users"], 1, "what people wrote, the host sees");
}

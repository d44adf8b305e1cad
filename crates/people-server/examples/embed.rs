//! Another actix-web application that mounts people's API under its own routes and shares its database pool.
//!
//!     cargo run -p people-server --example embed      # then: curl localhost:8080/hello
//!
//! The host owns the pool (`people_store::Db`), gives a clone to people, and keeps using it for its own
//! work: here `/hello` counts the directory's users through the same pool.

use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};
use people_domain::password::DEFAULT_BCRYPT_COST;
use people_domain::store::Store;
use people_domain::{Config, People};
use people_server::hashing::HashPool;
use people_store::{Db, PoolOptions};
use people_web::{Api, WebConfig};

/// The host's state: its own handle on the shared pool.
#[derive(Clone)]
pub struct Host {
    db: Db,
}

async fn hello(host: web::Data<Host>) -> HttpResponse {
    let store: &dyn Store = &host.db;
    match store.read(|r| r.count_users(1_000_000)) {
        Ok(n) => HttpResponse::Ok().json(serde_json::json!({"hello": "from the host", "users": n})),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

/// Everything the host mounts: people's API (under /api) and its own routes, over one pool.
pub fn configure(db: Db) -> std::io::Result<impl Fn(&mut web::ServiceConfig) + Clone> {
    // bcrypt on two low-priority threads, so that a burst of sign-ins never stalls the host's requests.
    let hasher = HashPool::start(DEFAULT_BCRYPT_COST, 2).map_err(std::io::Error::other)?;
    let people = People::new(
        Arc::new(db.clone()),
        Arc::new(hasher),
        Arc::new(people_mailer::Templates),
        Config::default(),
    );
    let api = Api::new(Arc::new(people), WebConfig::default());
    let mount = api.mount();
    let host = web::Data::new(Host { db });
    Ok(move |cfg: &mut web::ServiceConfig| {
        mount(cfg);
        cfg.app_data(host.clone())
            .route("/hello", web::get().to(hello));
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let db = Db::connect("sqlite:embed-example.db", &PoolOptions::default())
        .map_err(std::io::Error::other)?;
    db.migrate().map_err(std::io::Error::other)?;
    let routes = configure(db)?;
    println!("listening on http://127.0.0.1:8080 (try /hello and /api/session/properties)");
    HttpServer::new(move || App::new().configure(routes.clone()))
        .bind(("127.0.0.1", 8080))?
        .run()
        .await
}

/// The example builds, and its application serves both people's API and the host's own routes over one
/// shared pool.
#[cfg(test)]
mod tests {
    use actix_web::test::{self, TestRequest};
    use actix_web::App;
    use serde_json::Value;

    #[actix_rt::test]
    async fn the_embedding_example_mounts_the_api_beside_its_own_routes() {
        let t = people_store::testing::TestDb::sqlite();
        let app =
            test::init_service(App::new().configure(super::configure(t.db.clone()).unwrap())).await;

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
            test::call_and_read_body_json(&app, TestRequest::get().uri("/hello").to_request())
                .await;
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
            test::call_and_read_body_json(&app, TestRequest::get().uri("/hello").to_request())
                .await;
        assert_eq!(hello["users"], 1, "what people wrote, the host sees");
    }
}

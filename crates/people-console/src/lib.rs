//! The console: the pages a person uses (first-run setup, sign-in, the reset and invite links of people's
//! emails, people, groups, their own account, settings), served by the binary.
//!
//! It is a pure client of `/api`: HTML, CSS and ES-module JavaScript compiled into the binary (no Node
//! toolchain, nothing fetched at build or run time), holding no rule of its own. Every permission it shows is
//! the API's answer. See docs/console.md.
//!
//! Routes:
//! - every page path ([`PAGES`]) answers with the same small HTML shell, `Cache-Control: no-cache` and an
//!   `ETag`, under a Content-Security-Policy that allows scripts, styles and requests from this origin only;
//! - `/console/<bundle>/<file>` answers with an asset, cached for a year: `<bundle>` is the content hash of
//!   all assets, so a new build changes every URL and a cached copy is never stale.

mod assets;

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

pub use assets::BUNDLE;

/// The paths that answer with a page; the scripts choose what to show from the path.
pub const PAGES: &[&str] = &[
    "/",
    "/setup",
    "/auth/login",
    "/auth/logout",
    "/auth/forgot_password",
    "/auth/reset_password/{token}",
    "/admin",
    "/admin/people",
    "/admin/people/groups",
    "/admin/people/groups/{id}",
    "/admin/settings",
    "/admin/settings/{section:.*}",
    "/account",
    "/account/profile",
    "/account/password",
    "/account/login-history",
];

/// The Content-Security-Policy of the console's pages: scripts, styles, images and requests from this
/// origin only; no inline script or style, no plugin, no frame, no form posted elsewhere.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; manifest-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Registers the page routes and the asset route. Mount it beside people-web's API in the same `App`.
pub fn configure(cfg: &mut ServiceConfig) {
    for path in PAGES {
        cfg.service(web::resource(*path).route(web::get().to(page)));
        if *path != "/" && !path.ends_with(":.*}") {
            cfg.service(web::resource(format!("{path}/")).route(web::get().to(page)));
        }
    }
    cfg.service(
        web::resource("/console/{bundle}/{file:.*}")
            .wrap(Compress::default())
            .route(web::get().to(serve_asset)),
    );
}

fn etag() -> String {
    format!("\"{BUNDLE}\"")
}

/// The shell of every page.
async fn page(req: HttpRequest) -> HttpResponse {
    let tag = etag();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, tag))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONSOLE_CSP));
    if fresh {
        response.finish()
    } else {
        response
            .content_type("text/html; charset=utf-8")
            .body(assets::SHELL)
    }
}

/// One asset of the current bundle; another bundle's URL is not found (its page is reloaded from the shell,
/// which names the current one).
async fn serve_asset(path: web::Path<(String, String)>) -> HttpResponse {
    let (bundle, file) = path.into_inner();
    let found = (bundle == BUNDLE).then(|| asset(&file)).flatten();
    match found {
        Some(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type(&file)))
            .insert_header((
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ))
            .body(bytes),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found."),
    }
}

/// The media type of an asset, by its extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// The bytes of the asset at `name` (a path under the bundle, such as `pages/people.js`).
pub fn asset(name: &str) -> Option<&'static [u8]> {
    assets::ASSETS
        .iter()
        .find(|(path, _)| *path == name)
        .map(|(_, bytes)| *bytes)
}

/// Every asset's path and size in bytes (uncompressed), for the budget and the docs.
pub fn inventory() -> impl Iterator<Item = (&'static str, usize)> {
    assets::ASSETS
        .iter()
        .map(|(name, bytes)| (*name, bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_media_type() {
        for (name, _) in inventory() {
            assert_ne!(
                content_type(name),
                "application/octet-stream",
                "{name} would be served untyped"
            );
        }
    }

    #[test]
    fn the_shell_names_the_current_bundle_and_no_inline_code() {
        assert!(assets::SHELL.contains(&format!("/console/{BUNDLE}/app.js")));
        assert!(!assets::SHELL.contains("<style"));
        assert!(!assets::SHELL.contains("style="));
        assert!(!assets::SHELL.contains("<script>"));
        assert!(!assets::SHELL.contains("{{"));
    }
}

//! The session cookies of a sign-in and of a sign-out.

use actix_web::cookie::time::{Duration as CookieDuration, OffsetDateTime};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpResponseBuilder;
use people_domain::session::{Persistence, SessionGrant};

use crate::auth::SESSION_COOKIE;

/// Timeout cookie name.
pub const TIMEOUT_COOKIE: &str = "metabase.TIMEOUT";
/// Embedding session cookie name (only ever cleared by people).
pub const EMBEDDED_SESSION_COOKIE: &str = "metabase.EMBEDDED_SESSION";

fn same_site(directive: people_domain::session::SameSite) -> SameSite {
    match directive {
        people_domain::session::SameSite::Strict => SameSite::Strict,
        people_domain::session::SameSite::None => SameSite::None,
        people_domain::session::SameSite::Lax => SameSite::Lax,
    }
}

/// Adds `metabase.SESSION` and `metabase.TIMEOUT` for `grant`. The session cookie is persistent only when the
/// client asked to be remembered and `MB_SESSION_COOKIES` is off.
pub fn set_session_cookies(
    resp: &mut HttpResponseBuilder,
    grant: &SessionGrant,
    secure: bool,
    max_session_age_minutes: i64,
    session_cookies: bool,
) {
    let max_age = CookieDuration::minutes(max_session_age_minutes);
    let mut session = Cookie::build(SESSION_COOKIE, grant.token.expose().to_string())
        .path("/")
        .http_only(true)
        .same_site(same_site(grant.same_site))
        .secure(secure);
    if grant.persistence == Persistence::Remember && !session_cookies {
        session = session.max_age(max_age);
    }
    let timeout = Cookie::build(TIMEOUT_COOKIE, "alive")
        .path("/")
        .same_site(same_site(grant.same_site))
        .secure(secure)
        .max_age(max_age);
    resp.cookie(session.finish());
    resp.cookie(timeout.finish());
}

/// Adds cookies that clear every session cookie (empty value, expired in 1970).
pub fn clear_session_cookies(resp: &mut HttpResponseBuilder) {
    for name in [SESSION_COOKIE, EMBEDDED_SESSION_COOKIE, TIMEOUT_COOKIE] {
        resp.cookie(
            Cookie::build(name, "")
                .path("/")
                .expires(OffsetDateTime::UNIX_EPOCH)
                .finish(),
        );
    }
}

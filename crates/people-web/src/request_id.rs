//! Request ids and the access log (docs/operations.md, "Logs").
//!
//! Every response carries `X-Request-Id`: the caller's when it sent a sane one ([`is_sane`]), else a new
//! random one. While a request is handled its id is the *current* id ([`current`]), which the logger adds to
//! every line: a task-local value for the request's future (set by [`request_ids`], so that every line
//! logged while the request is polled, by people-web or by the use cases it runs inline, carries it) and a
//! thread-local value around work that leaves the request's task for another thread ([`in_thread`], used
//! for the use cases on the blocking pool and for password hashes).
//!
//! [`request_ids`] also writes the access log: one info line per request with target [`ACCESS_TARGET`],
//! its method, route template (never the path as sent, so no id, query string or token), status, duration
//! and client address, as the message and as key-values for structured formats.

use std::cell::RefCell;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};

use crate::client::client_addr;
use crate::Api;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The log target of the access log (`RUST_LOG=info,people::access=off` turns it off alone).
pub const ACCESS_TARGET: &str = "people::access";

/// Longest request id taken from a caller.
pub const MAX_LEN: usize = 200;

/// A request's id: cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new random id (a UUID v4).
    pub fn generate() -> RequestId {
        RequestId(Arc::from(uuid::Uuid::new_v4().hyphenated().to_string()))
    }

    /// The caller's id if it is sane ([`is_sane`]), else a new one.
    pub fn from_header(value: Option<&HeaderValue>) -> RequestId {
        match value.and_then(|v| v.to_str().ok()).filter(|v| is_sane(v)) {
            Some(v) => RequestId(Arc::from(v)),
            None => RequestId::generate(),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A caller's id is used when it is 1 to [`MAX_LEN`] visible ASCII characters (no space, no control
/// character): safe in a header, in a text log line and in JSON, and too short to flood the log.
pub fn is_sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

tokio::task_local! {
    static TASK_ID: RequestId;
}

thread_local! {
    static THREAD_ID: RefCell<Option<RequestId>> = const { RefCell::new(None) };
}

/// The id of the request being handled here, if any: the request's task's, else the one [`in_thread`] set
/// on this thread.
pub fn current() -> Option<RequestId> {
    TASK_ID
        .try_with(RequestId::clone)
        .ok()
        .or_else(|| THREAD_ID.with(|c| c.borrow().clone()))
}

/// Calls `f` with the current id as text (no clone; for the logger).
pub fn with_current<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    match TASK_ID.try_with(|id| Arc::clone(&id.0)) {
        Ok(id) => f(Some(&id)),
        Err(_) => THREAD_ID.with(|c| f(c.borrow().as_ref().map(RequestId::as_str))),
    }
}

/// Runs `f` on this thread with `id` as the current id (work handed to another thread by a request: capture
/// [`current`] before, call this there). The previous value is restored afterwards, even on a panic.
pub fn in_thread<R>(id: Option<RequestId>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<RequestId>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            THREAD_ID.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = THREAD_ID.with(|c| c.replace(id));
    let _restore = Restore(previous);
    f()
}

/// Runs the future `f` with `id` as the current id whenever it is polled.
pub fn scope<F: Future>(id: RequestId, f: F) -> impl Future<Output = F::Output> {
    TASK_ID.scope(id, f)
}

/// A route template for the log: `/api/user/{id:[0-9]+}` becomes `/api/user/{id}`.
pub fn route_template(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    let mut in_regex = false;
    for ch in pattern.chars() {
        match ch {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push(ch);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    in_regex = false;
                    out.push(ch);
                }
            }
            ':' if depth == 1 => in_regex = true,
            _ if depth >= 1 && in_regex => {}
            _ if depth > 1 => {}
            _ => out.push(ch),
        }
    }
    out
}

/// The client address as the rest of people sees it: forwarding headers are believed only from trusted
/// proxies (see [`crate::client`]); the socket peer when the app has no [`Api`].
fn client_of(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip().to_canonical());
    match req.app_data::<web::Data<Api>>() {
        Some(api) => client_addr(
            peer,
            req.headers(),
            &api.config.source_address_header,
            &api.config.trusted_proxies,
        ),
        None => peer,
    }
}

/// Middleware for a whole app: gives the request its id, makes it current while the request is handled,
/// puts it in the response's `X-Request-Id`, and writes the access log line. Wrap it outermost, so that
/// everything else runs inside it.
pub async fn request_ids(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
    let header = HeaderValue::from_str(id.as_str()).ok();
    scope(id, async move {
        let start = Instant::now();
        let access = log::log_enabled!(target: ACCESS_TARGET, log::Level::Info);
        // Nothing may keep a copy of the request while it is routed (actix needs it unshared).
        let method = req.method().clone();
        let client = if access {
            client_of(req.request())
        } else {
            None
        };
        match next.call(req).await {
            Ok(mut res) => {
                if let Some(value) = header {
                    res.headers_mut().insert(REQUEST_ID_HEADER, value);
                }
                if access {
                    let route = res.request().match_pattern();
                    access_log(method.as_str(), route, res.status(), client, start);
                }
                Ok(res)
            }
            // An error no one turned into a response (a failing middleware): answered as actix would, with
            // the id.
            Err(e) => {
                let mut res = e.error_response();
                if let Some(value) = header {
                    res.headers_mut().insert(REQUEST_ID_HEADER, value);
                }
                if access {
                    access_log(method.as_str(), None, res.status(), client, start);
                }
                Err(InternalError::from_response(e, res).into())
            }
        }
    })
    .await
}

/// The access log line of a finished request.
fn access_log(
    method: &str,
    pattern: Option<String>,
    status: StatusCode,
    client: Option<IpAddr>,
    start: Instant,
) {
    let elapsed = start.elapsed();
    let route = pattern.map_or_else(|| "-".to_string(), |p| route_template(&p));
    let status = status.as_u16();
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let client = client.map_or_else(|| "-".to_string(), |ip| ip.to_string());
    log::info!(
        target: ACCESS_TARGET,
        method = method,
        route = route.as_str(),
        status = status,
        duration_ms = (duration_ms * 1000.0).round() / 1000.0,
        client = client.as_str();
        "{method} {route} {status} {duration_ms:.3}ms client={client}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids() {
        assert!(is_sane("test-123"));
        assert!(is_sane("a"));
        assert!(is_sane(&"x".repeat(MAX_LEN)));
        assert!(!is_sane(""));
        assert!(!is_sane(&"x".repeat(MAX_LEN + 1)));
        assert!(!is_sane("has space"));
        assert!(!is_sane("tab\there"));
        assert!(!is_sane("naïve"));
    }

    #[test]
    fn generated_ids_are_uuids_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(a.as_str()).is_ok());
        let bad = HeaderValue::from_static("two words");
        assert_ne!(RequestId::from_header(Some(&bad)).as_str(), "two words");
        let good = HeaderValue::from_static("abc-1");
        assert_eq!(RequestId::from_header(Some(&good)).as_str(), "abc-1");
    }

    #[test]
    fn templates_lose_their_regexes() {
        assert_eq!(route_template("/api/user/{id:[0-9]+}"), "/api/user/{id}");
        assert_eq!(
            route_template("/api/user/{id:[0-9]+}/modal/{modal}"),
            "/api/user/{id}/modal/{modal}"
        );
        assert_eq!(route_template("/api/{tail:.*}"), "/api/{tail}");
        assert_eq!(route_template("/x/{n:\\d{2,3}}/y"), "/x/{n}/y");
        assert_eq!(route_template("/api/health"), "/api/health");
    }

    /// What a handler sees: the id on its worker and on the blocking pool, as `run_hashing` hands it over.
    async fn ids_seen() -> String {
        let here = current().map(|i| i.to_string()).unwrap_or_default();
        let id = current();
        let there = web::block(move || in_thread(id, current))
            .await
            .ok()
            .flatten()
            .map(|i| i.to_string())
            .unwrap_or_default();
        format!("{here} {there}")
    }

    #[actix_rt::test]
    async fn the_id_is_current_in_the_handler_and_on_the_blocking_pool() {
        use actix_web::{middleware::from_fn, test, App};
        let app = test::init_service(
            App::new()
                .wrap(from_fn(request_ids))
                .route("/", web::get().to(ids_seen)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/")
            .insert_header(("X-Request-Id", "test-123"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.headers().get(REQUEST_ID_HEADER).unwrap(), "test-123");
        let body = test::read_body(res).await;
        assert_eq!(body, "test-123 test-123");

        let req = test::TestRequest::get()
            .uri("/")
            .insert_header(("X-Request-Id", "not sane"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let id = res
            .headers()
            .get(REQUEST_ID_HEADER)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        let body = test::read_body(res).await;
        assert_eq!(body, format!("{id} {id}"));
        assert_eq!(current(), None, "nothing outside the request");
    }

    #[test]
    fn the_thread_id_is_set_and_restored() {
        assert_eq!(current(), None);
        let id = RequestId::generate();
        in_thread(Some(id.clone()), || {
            assert_eq!(current(), Some(id.clone()));
            with_current(|s| assert_eq!(s, Some(id.as_str())));
        });
        assert_eq!(current(), None);
    }
}

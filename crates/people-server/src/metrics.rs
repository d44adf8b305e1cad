//! Metrics in Prometheus's text format, on a listener of their own (`MB_PROMETHEUS_SERVER_PORT`, as Metabase
//! does); without the variable nothing is recorded and nothing listens.
//!
//! The crates record through the `metrics` facade, which is to numbers what `log` is to lines: a call does
//! nothing until a program installs a recorder, so people-domain can count sign-ins without doing I/O. This
//! module installs `metrics-exporter-prometheus`'s recorder, times every HTTP request by its route template
//! ([`track`]), reads the gauges that describe state (the pool, the outbox) when `/metrics` is scraped, and
//! serves the rendering. docs/operations.md ("Metrics") lists every metric.

use std::cell::RefCell;
use std::collections::hash_map::{Entry, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use people_store::Db;

/// Histogram buckets, in seconds, of request and hashing times: half a millisecond to ten seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of the time to check a database connection out: an idle one takes microseconds, a wait up to
/// the checkout timeout (1 s).
const CHECKOUT_BUCKETS: &[f64] = &[0.00001, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0];

/// How often histograms are folded and idle data dropped when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Label of requests that matched no route: never the raw path, whose values are unbounded.
const UNMATCHED: &str = "unmatched";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once: later calls return the same handle) and describes
/// every metric. Call it before the database pool is made, whose instruments are looked up at that moment.
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("people_db_pool_checkout_seconds".into()),
                CHECKOUT_BUCKETS,
            )
        })
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| "another metrics recorder is already installed".to_string())?;
    describe();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("people-metrics".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        })
        .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The `# HELP` and unit of every metric people records.
fn describe() {
    use Unit::{Count, Seconds};
    describe_counter!(
        "people_http_requests_total",
        Count,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "people_http_request_duration_seconds",
        Seconds,
        "Time from a request's arrival to its response, by method and route template"
    );
    describe_counter!(
        "people_scim_requests_total",
        Count,
        "Requests to the SCIM endpoints (/api/ee/scim/v2), by status"
    );
    describe_counter!(
        "people_api_key_requests_total",
        Count,
        "Requests that presented an API key without a valid session: authenticated or refused"
    );
    describe_counter!(
        "people_logins_total",
        Count,
        "Sign-in attempts by outcome: succeeded, failed, throttled, busy, error"
    );
    describe_counter!(
        "people_sessions_created_total",
        Count,
        "Sessions created (sign-ins, setup, password changes and resets)"
    );
    describe_counter!(
        "people_sessions_expired_total",
        Count,
        "Requests that presented a session older than MB_MAX_SESSION_AGE"
    );
    describe_gauge!(
        "people_db_pool_max_connections",
        Count,
        "Most database connections the pool holds"
    );
    describe_gauge!(
        "people_db_pool_connections",
        Count,
        "Database connections open"
    );
    describe_gauge!(
        "people_db_pool_connections_in_use",
        Count,
        "Database connections checked out at the scrape"
    );
    describe_counter!(
        "people_db_pool_waits_total",
        Count,
        "Checkouts that found no idle connection and waited for one"
    );
    describe_counter!(
        "people_db_pool_checkout_failures_total",
        Count,
        "Checkouts that got no connection (timeout, or the database unreachable)"
    );
    describe_histogram!(
        "people_db_pool_checkout_seconds",
        Seconds,
        "Time to obtain a database connection"
    );
    describe_gauge!(
        "people_password_hashes_queued",
        Count,
        "Password hashes waiting for a hashing thread"
    );
    describe_gauge!(
        "people_password_hashes_running",
        Count,
        "Password hashes being computed"
    );
    describe_counter!(
        "people_password_hashes_refused_total",
        Count,
        "Password hashes refused because the queue was full (answered 503)"
    );
    describe_histogram!(
        "people_password_hash_wait_seconds",
        Seconds,
        "Time a password hash waited for a hashing thread"
    );
    describe_histogram!(
        "people_password_hash_duration_seconds",
        Seconds,
        "Time to compute a password hash"
    );
    describe_gauge!(
        "people_outbox_queued",
        Count,
        "Emails waiting in the outbox to be sent"
    );
    describe_gauge!(
        "people_outbox_retrying",
        Count,
        "Emails waiting whose last delivery attempt failed"
    );
    describe_gauge!(
        "people_outbox_oldest_unsent_age_seconds",
        Seconds,
        "Age of the oldest email waiting in the outbox (0 when none)"
    );
    describe_counter!(
        "people_outbox_sent_total",
        Count,
        "Emails delivered by this instance's outbox worker"
    );
    describe_counter!(
        "people_outbox_failed_total",
        Count,
        "Delivery attempts that failed (each is retried later)"
    );
    describe_gauge!(
        "people_build_info",
        Count,
        "Always 1; the labels give the version and the database back end"
    );
    // Counters that alerts divide or compare are shown at zero before their first event.
    for outcome in ["succeeded", "failed", "throttled", "busy", "error"] {
        metrics::counter!("people_logins_total", "outcome" => outcome).increment(0);
    }
    metrics::counter!("people_sessions_created_total").increment(0);
    metrics::counter!("people_sessions_expired_total").increment(0);
    metrics::counter!("people_password_hashes_refused_total").increment(0);
}

/// The metrics listener, bound and not yet serving.
pub struct Exporter {
    listener: TcpListener,
    scrape: Arc<Scrape>,
}

/// What a scrape reads.
struct Scrape {
    handle: PrometheusHandle,
    db: Db,
}

impl Exporter {
    /// Binds `host:port` for the metrics of the process that installed the recorder, with `db` for the
    /// gauges read at each scrape.
    pub fn bind(
        host: &str,
        port: u16,
        handle: PrometheusHandle,
        db: Db,
    ) -> std::io::Result<Exporter> {
        let listener = TcpListener::bind((host, port))?;
        Ok(Exporter {
            listener,
            scrape: Arc::new(Scrape { handle, db }),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `GET /metrics` on one worker of the current actix system until the returned server is
    /// stopped; signals are left to the API's server, which stops this one after it.
    pub fn start(self) -> std::io::Result<actix_web::dev::Server> {
        let data = web::Data::from(self.scrape);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/metrics", web::get().to(scrape))
        })
        .listen(self.listener)?
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .run();
        Ok(server)
    }
}

/// `GET /metrics`: the gauges of state read now, then everything in Prometheus's text format.
async fn scrape(state: web::Data<Scrape>) -> HttpResponse {
    let state = state.into_inner();
    let body = web::block(move || {
        sample(&state.db);
        state.handle.render()
    })
    .await
    .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// Sets the gauges that describe the pool and the outbox. The outbox is read first, so that its own
/// connection is back in the pool when the pool is looked at.
fn sample(db: &Db) {
    match db.outbox_stats() {
        Ok(s) => {
            let age = s
                .oldest_unsent
                .map(|at| (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::gauge!("people_outbox_queued").set(s.unsent as f64);
            metrics::gauge!("people_outbox_retrying").set(s.retrying as f64);
            metrics::gauge!("people_outbox_oldest_unsent_age_seconds").set(age);
        }
        // The gauges keep their last values; the pool's failure counter says the database is away.
        Err(e) => log::debug!("metrics: cannot read the outbox: {e}"),
    }
    let (open, idle) = db.pool_state();
    metrics::gauge!("people_db_pool_max_connections").set(f64::from(db.pool_max_size()));
    metrics::gauge!("people_db_pool_connections").set(f64::from(open));
    metrics::gauge!("people_db_pool_connections_in_use").set(f64::from(open.saturating_sub(idle)));
}

/// Sets `people_build_info` (version and back end), once the back end is known.
pub fn record_build_info(backend: &'static str) {
    metrics::gauge!(
        "people_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "backend" => backend
    )
    .set(1.0);
}

/// Middleware that counts and times every request by method, route template (`/api/user/{id}`, never the
/// path itself) and status, and counts SCIM requests.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    // Read before the call: the request must not be cloned while it is routed.
    let method = method_label(req.method());
    let scim = req.path().starts_with(people_web::scim::V2_PATH);
    let result = next.call(req).await;
    let (status, route) = match &result {
        Ok(res) => (res.status(), res.request().match_pattern()),
        // An error that no handler turned into a response: its route is not known here.
        Err(e) => (e.as_response_error().status_code(), None),
    };
    record(method, route, scim, status, started.elapsed());
    result
}

fn record(
    method: &'static str,
    route: Option<String>,
    scim: bool,
    status: StatusCode,
    took: Duration,
) {
    let route = route.map(template).unwrap_or_else(|| UNMATCHED.to_string());
    let code = status.as_u16();
    if scim {
        metrics::counter!("people_scim_requests_total", "status" => code.to_string()).increment(1);
    }
    SERIES.with(|series| {
        let mut series = series.borrow_mut();
        let (count, time) = match series.entry((method, route, code)) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let (method, route, code) = v.key();
                let instruments = (
                    metrics::counter!(
                        "people_http_requests_total",
                        "method" => *method,
                        "route" => route.clone(),
                        "status" => code.to_string()
                    ),
                    metrics::histogram!(
                        "people_http_request_duration_seconds",
                        "method" => *method,
                        "route" => route.clone()
                    ),
                );
                v.insert(instruments)
            }
        };
        count.increment(1);
        time.record(took.as_secs_f64());
    });
}

/// The request counter and duration histogram of one method, route template and status.
type Series = HashMap<(&'static str, String, u16), (metrics::Counter, metrics::Histogram)>;

thread_local! {
    /// The instruments this worker thread has used, by method, route template and status: the labels are
    /// built and the registry searched once per series instead of once per request. Bounded by the routes,
    /// the eight method labels and the status codes.
    static SERIES: RefCell<Series> = RefCell::default();
}

/// The method as a label; methods outside HTTP's usual set are `other`, so that a client cannot make
/// series without end.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A route pattern without the regular expressions of its segments: `/api/user/{id:[0-9]+}` is
/// `/api/user/{id}`.
fn template(pattern: String) -> String {
    if !pattern.contains(':') {
        return pattern;
    }
    let mut out = String::with_capacity(pattern.len());
    let (mut depth, mut skipping) = (0usize, false);
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if !skipping {
                    out.push(c);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    skipping = false;
                    out.push(c);
                } else if !skipping {
                    out.push(c);
                }
            }
            ':' if depth == 1 && !skipping => skipping = true,
            _ if !skipping => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_drop_segment_patterns() {
        assert_eq!(template("/api/user/{id:[0-9]+}".into()), "/api/user/{id}");
        assert_eq!(
            template("/api/user/{id:[0-9]+}/modal/{modal}".into()),
            "/api/user/{id}/modal/{modal}"
        );
        assert_eq!(template("/api/docs/{_:.*}".into()), "/api/docs/{_}");
        assert_eq!(template("/x/{n:[0-9]{2,3}}/y".into()), "/x/{n}/y");
        assert_eq!(template("/api/health".into()), "/api/health");
    }

    /// What recording costs a request of scenario a: the middleware's counter and histogram with their
    /// labels, and the pool's checkout histogram. Run with
    /// `cargo test --release -p people-server --lib recording_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn recording_cost() {
        install().unwrap();
        let checkout = metrics::histogram!("people_db_pool_checkout_seconds");
        let n = 1_000_000u32;
        for round in 0..3 {
            let started = Instant::now();
            for _ in 0..n {
                let t = Instant::now();
                checkout.record(t.elapsed().as_secs_f64());
                record(
                    "GET",
                    Some("/api/user/current".to_string()),
                    false,
                    StatusCode::OK,
                    t.elapsed(),
                );
            }
            let per = started.elapsed() / n;
            println!("round {round}: {per:?} per request");
        }
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap_or(Method::TRACE)),
            "other"
        );
    }
}

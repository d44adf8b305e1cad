//! The outbox worker against a real database and a real SMTP listener: delivery, outages, crashes.

#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use people_domain::clock::{Clock, ManualClock};
use people_domain::store::{NewEmail, QueuedEmail, Store};
use people_mailer::testing::SmtpSink;
use people_mailer::{Deliver, OutboxWorker, SmtpDeliverer, SmtpSettings, WorkerConfig};
use people_store::backend_tests;
use people_store::testing::TestDb;

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: people_mailer::SmtpSecurity::None,
        username: None,
        password: None,
        from: "people@example.com".into(),
    }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        batch: 10,
        lease: Duration::from_secs(60),
        poll: Duration::from_millis(50),
        backoff_base: Duration::from_secs(10),
        backoff_cap: Duration::from_secs(600),
    }
}

fn queue(t: &TestDb, clock: &ManualClock, n: usize) -> Vec<people_domain::EmailId> {
    let s: &dyn Store = &t.db;
    (0..n)
        .map(|i| {
            s.write(|r| {
                r.enqueue_email(&NewEmail {
                    recipients: vec![format!("r{i}@x.com")],
                    subject: format!("message {i}"),
                    body_text: format!("text {i} http://h/auth/reset_password/7_{i}#new"),
                    body_html: format!("<p>html {i}</p>"),
                    created_at: clock.now(),
                    link: None,
                })
            })
            .unwrap()
        })
        .collect()
}

fn worker(t: &TestDb, clock: &Arc<ManualClock>, deliver: Arc<dyn Deliver>) -> OutboxWorker {
    OutboxWorker::new(Arc::new(t.db.clone()), deliver, config()).with_clock(clock.clone())
}

fn subjects(sink: &SmtpSink) -> Vec<String> {
    let mut s: Vec<String> = sink.messages().iter().map(|m| m.subject()).collect();
    s.sort();
    s
}

/// Delivers through SMTP, then "crashes" (panics) on the `crash_at`-th call: before sending, or after
/// the server accepted the message but before the worker could mark it sent.
struct Crashing {
    inner: SmtpDeliverer,
    calls: AtomicUsize,
    crash_at: usize,
    after_send: bool,
}

impl Deliver for Crashing {
    fn deliver(&self, email: &QueuedEmail) -> Result<(), people_mailer::DeliveryError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.crash_at && !self.after_send {
            panic!("worker killed before sending");
        }
        let r = self.inner.deliver(email);
        if n == self.crash_at {
            panic!("worker killed after sending");
        }
        r
    }
}

backend_tests! {
    fn delivers_text_and_html_and_blanks_sent_bodies(t) {
        let sink = SmtpSink::start().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let s: &dyn Store = &t.db;
        s.write(|r| r.enqueue_email(&NewEmail {
            recipients: vec!["a@x.com".into(), "b@x.com".into()],
            subject: "Ann Lee accepted their Metabase invite".into(),
            body_text: "Manage people: http://localhost:3000/admin/people\n".into(),
            body_html: "<p>Ann &amp; co</p>".into(),
            created_at: clock.now(),
            link: None,
        })).unwrap();
        let w = worker(&t, &clock, Arc::new(SmtpDeliverer::new(&settings(sink.port())).unwrap()));
        assert_eq!(w.run_once().unwrap().sent, 1);
        let m = &sink.messages()[0];
        assert_eq!(m.to, vec!["a@x.com", "b@x.com"]);
        assert_eq!(m.from, "people@example.com");
        assert_eq!(m.subject(), "Ann Lee accepted their Metabase invite");
        assert!(m.text().contains("http://localhost:3000/admin/people"), "{}", m.data);
        assert!(m.html().contains("<p>Ann &amp; co</p>"));
        assert_eq!(w.run_once().unwrap().sent, 0, "sent mail is not sent again");
        clock.advance(chrono::Duration::hours(2));
        assert_eq!(w.run_once().unwrap().sent, 0, "not even after its lease");
    }

    fn an_smtp_outage_loses_nothing(t) {
        let sink = SmtpSink::start().unwrap();
        let port = sink.port();
        let store = sink.store();
        sink.stop();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        queue(&t, &clock, 3);
        let w = worker(&t, &clock, Arc::new(SmtpDeliverer::new(&settings(port)).unwrap()));
        let pass = w.run_once().unwrap();
        assert_eq!((pass.sent, pass.failed), (0, 3), "SMTP down: every attempt fails");
        assert_eq!(w.run_once().unwrap().failed, 0, "failed mail waits for its back-off");
        let sink = SmtpSink::start_on(port, store).unwrap();
        clock.advance(chrono::Duration::seconds(11));
        assert_eq!(w.run_once().unwrap().sent, 3, "delivered once the server is back");
        assert_eq!(subjects(&sink), vec!["message 0", "message 1", "message 2"]);
    }

    fn a_worker_killed_before_sending_loses_nothing(t) {
        let sink = SmtpSink::start().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        queue(&t, &clock, 5);
        let crashing = Crashing { inner: SmtpDeliverer::new(&settings(sink.port())).unwrap(), calls: AtomicUsize::new(0), crash_at: 3, after_send: false };
        let a = worker(&t, &clock, Arc::new(crashing));
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.run_once())).is_err());
        assert_eq!(sink.messages().len(), 2, "two went out before the crash");
        let b = worker(&t, &clock, Arc::new(SmtpDeliverer::new(&settings(sink.port())).unwrap()));
        assert_eq!(b.run_once().unwrap().sent, 0, "the crashed worker's lease still holds");
        clock.advance(chrono::Duration::seconds(61));
        assert_eq!(b.run_once().unwrap().sent, 3, "after the lease another worker takes over");
        assert_eq!(subjects(&sink), vec!["message 0", "message 1", "message 2", "message 3", "message 4"], "each exactly once");
    }

    fn a_worker_killed_after_sending_resends_only_that_message(t) {
        let sink = SmtpSink::start().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        queue(&t, &clock, 5);
        let crashing = Crashing { inner: SmtpDeliverer::new(&settings(sink.port())).unwrap(), calls: AtomicUsize::new(0), crash_at: 3, after_send: true };
        let a = worker(&t, &clock, Arc::new(crashing));
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.run_once())).is_err());
        clock.advance(chrono::Duration::seconds(61));
        let b = worker(&t, &clock, Arc::new(SmtpDeliverer::new(&settings(sink.port())).unwrap()));
        assert_eq!(b.run_once().unwrap().sent, 3);
        assert_eq!(
            subjects(&sink),
            vec!["message 0", "message 1", "message 2", "message 2", "message 3", "message 4"],
            "nothing lost; only the message in flight at the crash went twice (SMTP is at-least-once)"
        );
    }

    fn a_spawned_worker_wakes_on_signal_and_stops(t) {
        let sink = SmtpSink::start().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let mut cfg = config();
        cfg.poll = Duration::from_secs(3600);
        let w = OutboxWorker::new(Arc::new(t.db.clone()), Arc::new(SmtpDeliverer::new(&settings(sink.port())).unwrap()), cfg)
            .with_clock(clock.clone());
        let signal = w.signal();
        let handle = w.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        queue(&t, &clock, 2);
        people_domain::mail::OutboxSignal::notify(&*signal);
        assert_eq!(sink.wait_for(2, Duration::from_secs(10)).len(), 2, "the signal woke the worker long before its poll");
        handle.stop();
    }
}

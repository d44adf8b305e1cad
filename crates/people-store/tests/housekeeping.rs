//! Housekeeping on real databases: 100,000 expired sessions go in batches while live ones stay, and runners
//! on two pools of one database (two replicas) never count a row twice.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Barrier};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use people_domain::clock::{Clock, SystemClock};
use people_domain::housekeeping::{HousekeepingPolicy, HousekeepingRun, Removed};
use people_domain::password::Bcrypt;
use people_domain::session::NewSession;
use people_domain::store::Store;
use people_domain::testing::DebugTemplates;
use people_domain::{Config, People, UserId};
use people_store::testing::TestDb;
use people_store::{Db, PoolOptions};

const EXPIRED: i64 = 100_000;
const OLD_LOGINS: i64 = 12_000;
const LIVE: usize = 3;

enum Raw {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

fn raw(url: &str) -> Raw {
    match url.strip_prefix("sqlite:") {
        Some(path) => Raw::Sqlite(diesel::SqliteConnection::establish(path).unwrap()),
        None => Raw::Pg(diesel::PgConnection::establish(url).unwrap()),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Raw {
    fn exec(&mut self, sql: &str) {
        match self {
            Raw::Pg(c) => c.batch_execute(sql),
            Raw::Sqlite(c) => c.batch_execute(sql),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn count(&mut self, table: &str) -> i64 {
        let q = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"));
        let rows: Vec<Count> = match self {
            Raw::Pg(c) => q.load(c),
            Raw::Sqlite(c) => q.load(c),
        }
        .unwrap();
        rows[0].n
    }

    /// One user (id 1), `EXPIRED` sessions from 2020 and `OLD_LOGINS` logins from 2020, each in one statement.
    fn seed(&mut self) {
        let pg = matches!(self, Raw::Pg(_));
        self.exec(
            "INSERT INTO core_user (id, email, date_joined, updated_at) \
             VALUES (1, 'u@x.com', '2020-01-01 00:00:00', '2020-01-01 00:00:00')",
        );
        let numbers = |n: i64| {
            if pg {
                format!("generate_series(1, {n}) AS n(i)")
            } else {
                format!(
                    "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
                     SELECT i FROM s) AS n"
                )
            }
        };
        self.exec(&format!(
            "INSERT INTO core_session (id, user_id, created_at) \
             SELECT 'old' || i, 1, '2020-01-01 00:00:00' FROM {}",
            numbers(EXPIRED)
        ));
        self.exec(&format!(
            "INSERT INTO login_history (timestamp, user_id, session_id, device_id, device_description, \
             ip_address) SELECT '2020-01-01 00:00:00', 1, 'old' || i, 'd', 'curl', '10.0.0.1' FROM {}",
            numbers(OLD_LOGINS)
        ));
    }
}

fn people(db: Db) -> People {
    People::new(
        Arc::new(db),
        Arc::new(Bcrypt::new(4).unwrap()),
        Arc::new(DebugTemplates),
        Config::default(),
    )
}

/// A second pool on the database of `t`: another replica.
fn replica(t: &TestDb) -> People {
    let options = PoolOptions {
        max_connections: 2,
        ..PoolOptions::default()
    };
    people(Db::connect(&t.url, &options).unwrap())
}

/// `LIVE` sessions made just now, through the store.
fn live_sessions(db: &Db) {
    let now = SystemClock.now();
    let store: &dyn Store = db;
    store
        .write(|r| {
            for i in 0..LIVE {
                r.insert_session(&NewSession {
                    id_hash: format!("live{i}"),
                    user_id: UserId(1),
                    created_at: now - Duration::minutes(i as i64),
                })?;
            }
            Ok(())
        })
        .unwrap();
}

fn assert_live_sessions_survive(db: &Db) {
    let store: &dyn Store = db;
    for i in 0..LIVE {
        let caller = store
            .read(|r| r.caller_by_session(&format!("live{i}")))
            .unwrap();
        assert!(caller.is_some(), "live{i} survives");
    }
}

fn expected() -> Removed {
    Removed {
        sessions: EXPIRED as usize,
        login_history: OLD_LOGINS as usize,
        sent_emails: 0,
        throttle_keys: 0,
    }
}

fn add(a: Removed, b: Removed) -> Removed {
    Removed {
        sessions: a.sessions + b.sessions,
        login_history: a.login_history + b.login_history,
        sent_emails: a.sent_emails + b.sent_emails,
        throttle_keys: a.throttle_keys + b.throttle_keys,
    }
}

people_store::backend_tests! {
    fn a_hundred_thousand_expired_sessions_go_and_live_ones_stay(t) {
        let mut conn = raw(&t.url);
        conn.seed();
        live_sessions(&t.db);
        assert_eq!(conn.count("core_session"), EXPIRED + LIVE as i64);
        let p = people(t.db.clone());
        let started = Instant::now();
        let run = p.housekeeping("only", &HousekeepingPolicy::default()).unwrap();
        eprintln!("{}: housekeeping took {:?}", t.db.store_backend(), started.elapsed());
        assert_eq!(run, HousekeepingRun::Completed(expected()));
        assert_eq!(conn.count("core_session"), LIVE as i64);
        assert_eq!(conn.count("login_history"), 0);
        assert_live_sessions_survive(&t.db);
        assert_eq!(
            p.housekeeping("only", &HousekeepingPolicy::default()).unwrap(),
            HousekeepingRun::Skipped,
            "not again before the interval"
        );
    }

    fn two_replicas_at_once_finish_without_counting_a_row_twice(t) {
        let mut conn = raw(&t.url);
        conn.seed();
        live_sessions(&t.db);
        let replicas = [people(t.db.clone()), replica(&t)];
        let barrier = Barrier::new(2);
        let policy = HousekeepingPolicy::default();
        let runs: Vec<HousekeepingRun> = std::thread::scope(|s| {
            let handles: Vec<_> = replicas
                .iter()
                .zip(["a", "b"])
                .map(|(p, name)| {
                    let barrier = &barrier;
                    let policy = &policy;
                    s.spawn(move || {
                        barrier.wait();
                        p.housekeeping(name, policy)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
        });
        assert_eq!(add(runs[0].removed(), runs[1].removed()), expected(), "{runs:?}");
        assert!(runs.contains(&HousekeepingRun::Skipped), "one of them did the work: {runs:?}");
        assert_eq!(conn.count("core_session"), LIVE as i64);
        assert_live_sessions_survive(&t.db);
    }

    fn a_replica_that_pauses_mid_run_is_taken_over_and_nothing_is_counted_twice(t) {
        let mut conn = raw(&t.url);
        conn.seed();
        live_sessions(&t.db);
        let policy = HousekeepingPolicy {
            lease: Duration::milliseconds(500),
            ..HousekeepingPolicy::default()
        };
        let (a, b) = (people(t.db.clone()), replica(&t));
        let a_claimed = std::sync::atomic::AtomicBool::new(false);
        let (a_run, b_runs) = std::thread::scope(|s| {
            let paused = s.spawn(|| {
                let mut batches = 0;
                // Pauses before its third batch for longer than its lease, as a stopped process would.
                let pause = || {
                    a_claimed.store(true, std::sync::atomic::Ordering::SeqCst);
                    batches += 1;
                    if batches == 3 {
                        std::thread::sleep(StdDuration::from_millis(1500));
                    }
                    false
                };
                let pause = std::cell::RefCell::new(pause);
                a.housekeeping_until("a", &policy, &|| (pause.borrow_mut())())
            });
            let taker = s.spawn(|| {
                while !a_claimed.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(StdDuration::from_millis(1));
                }
                let mut runs = Vec::new();
                let deadline = Instant::now() + StdDuration::from_secs(60);
                loop {
                    let run = b.housekeeping("b", &policy).unwrap();
                    runs.push(run);
                    if run != HousekeepingRun::Skipped || Instant::now() > deadline {
                        return runs;
                    }
                    std::thread::sleep(StdDuration::from_millis(10));
                }
            });
            (paused.join().unwrap().unwrap(), taker.join().unwrap())
        });
        let b_run = *b_runs.last().unwrap();
        assert!(matches!(b_run, HousekeepingRun::Completed(_)), "{b_runs:?}");
        assert!(matches!(a_run, HousekeepingRun::Interrupted(_)), "{a_run:?}");
        assert!(a_run.removed().sessions > 0, "a worked before its pause: {a_run:?}");
        assert_eq!(add(a_run.removed(), b_run.removed()), expected(), "{a_run:?} {b_run:?}");
        assert_eq!(conn.count("core_session"), LIVE as i64);
        assert_live_sessions_survive(&t.db);
    }
}

trait Backend {
    fn store_backend(&self) -> &'static str;
}

impl Backend for Db {
    fn store_backend(&self) -> &'static str {
        Store::backend(self)
    }
}

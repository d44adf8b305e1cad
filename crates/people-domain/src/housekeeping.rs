//! Housekeeping: deleting what has outlived its use. Sessions older than `MB_MAX_SESSION_AGE` (they no
//! longer authenticate), login history beyond its retention, outbox rows sent (or voided) more than 30 days
//! ago, and throttle keys whose attempts all expired.
//!
//! Several replicas may call [`People::housekeeping`] on one database: a run first claims a lease (one row),
//! so one replica works at a time; it deletes in batches, each in a short transaction of its own that also
//! renews the lease, and a batch commits only while the lease is still the runner's. A runner that pauses
//! longer than the lease (a stopped process) loses it to the next replica that looks, which finishes the
//! work; when it resumes, its next batch finds the lease gone and it stops. A finished run holds the lease
//! until the next run is due, so the replicas together run once per interval.

use chrono::Duration;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::service::People;
use crate::store::Repo;

/// The name of the lease row housekeeping runs claim.
pub const LEASE: &str = "housekeeping";
/// Rows deleted per statement (and transaction) by default.
pub const DEFAULT_BATCH_SIZE: i64 = 5_000;
/// Default time between runs, in seconds.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 3_600;
/// Default login history retention, in days.
pub const DEFAULT_LOGIN_HISTORY_RETENTION_DAYS: i64 = 365;
/// Days a sent (or voided) email stays in the outbox.
pub const SENT_EMAIL_RETENTION_DAYS: i64 = 30;

/// What a run deletes, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HousekeepingPolicy {
    /// Time from the start of one run to the next, across every replica.
    pub interval: Duration,
    /// Login history older than this is deleted.
    pub login_history_retention: Duration,
    /// Outbox rows sent or voided longer ago than this are deleted.
    pub sent_email_retention: Duration,
    /// Rows per delete statement.
    pub batch_size: i64,
    /// How long a claim lasts without being renewed (each batch renews it): how long a paused runner keeps
    /// the others waiting.
    pub lease: Duration,
}

impl Default for HousekeepingPolicy {
    fn default() -> Self {
        HousekeepingPolicy {
            interval: Duration::seconds(DEFAULT_INTERVAL_SECONDS as i64),
            login_history_retention: Duration::days(DEFAULT_LOGIN_HISTORY_RETENTION_DAYS),
            sent_email_retention: Duration::days(SENT_EMAIL_RETENTION_DAYS),
            batch_size: DEFAULT_BATCH_SIZE,
            lease: Duration::seconds(60),
        }
    }
}

/// Rows a run deleted, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Sessions older than `MB_MAX_SESSION_AGE`.
    pub sessions: usize,
    /// Login history rows beyond the retention.
    pub login_history: usize,
    /// Outbox rows sent or voided before the retention.
    pub sent_emails: usize,
    /// Throttle keys whose attempts had all expired.
    pub throttle_keys: usize,
}

impl Removed {
    /// Every row deleted.
    pub fn total(&self) -> usize {
        self.sessions + self.login_history + self.sent_emails + self.throttle_keys
    }
}

/// How a call of [`People::housekeeping`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HousekeepingRun {
    /// Nothing done: another runner holds the lease, or the last run was less than an interval ago.
    Skipped,
    /// This runner did the work: nothing expired is left.
    Completed(Removed),
    /// This runner stopped part-way (asked to, or its lease was taken while it paused); the rows it
    /// removed before. Whatever is left waits for the next run.
    Interrupted(Removed),
}

impl HousekeepingRun {
    /// The rows this call deleted (none when skipped).
    pub fn removed(&self) -> Removed {
        match self {
            HousekeepingRun::Skipped => Removed::default(),
            HousekeepingRun::Completed(r) | HousekeepingRun::Interrupted(r) => *r,
        }
    }
}

/// The tables a run deletes from in batches.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Sessions,
    Logins,
    Emails,
}

impl People {
    /// One housekeeping run as `holder` (a name unique to this runner): claims the lease, deletes every
    /// expired row in batches and holds the lease until the next run is due. Logs what it removed.
    pub fn housekeeping(
        &self,
        holder: &str,
        policy: &HousekeepingPolicy,
    ) -> Result<HousekeepingRun> {
        self.housekeeping_until(holder, policy, &|| false)
    }

    /// [`People::housekeeping`] that stops between two batches once `stop` says so, and then gives the
    /// lease up so that another runner may finish the work at once.
    pub fn housekeeping_until(
        &self,
        holder: &str,
        policy: &HousekeepingPolicy,
        stop: &dyn Fn() -> bool,
    ) -> Result<HousekeepingRun> {
        let started = self.clock.now();
        let claimed = self
            .store
            .write(|r| r.claim_lease(LEASE, holder, started, started + policy.lease))?;
        if !claimed {
            return Ok(HousekeepingRun::Skipped);
        }
        let mut removed = Removed::default();
        let limit = policy.batch_size.max(1);
        for kind in [Kind::Sessions, Kind::Logins, Kind::Emails] {
            loop {
                if stop() {
                    let now = self.clock.now();
                    self.store.write(|r| r.renew_lease(LEASE, holder, now))?;
                    log_removed(&removed, "stopped part-way");
                    return Ok(HousekeepingRun::Interrupted(removed));
                }
                let now = self.clock.now();
                let cutoff = match kind {
                    Kind::Sessions => now - self.config.max_session_age,
                    Kind::Logins => now - policy.login_history_retention,
                    Kind::Emails => now - policy.sent_email_retention,
                };
                let batch = self.fenced(holder, now + policy.lease, |r| match kind {
                    Kind::Sessions => r.delete_sessions_created_by(cutoff, limit),
                    Kind::Logins => r.delete_logins_recorded_by(cutoff, limit),
                    Kind::Emails => r.delete_emails_done_by(cutoff, limit),
                })?;
                let Some(n) = batch else {
                    log_removed(&removed, "lease lost to another replica");
                    return Ok(HousekeepingRun::Interrupted(removed));
                };
                match kind {
                    Kind::Sessions => removed.sessions += n,
                    Kind::Logins => removed.login_history += n,
                    Kind::Emails => removed.sent_emails += n,
                }
                if (n as i64) < limit {
                    break;
                }
            }
        }
        let now = self.clock.now();
        let Some(n) = self.fenced(holder, now + policy.lease, |r| r.prune_attempts(now))? else {
            log_removed(&removed, "lease lost to another replica");
            return Ok(HousekeepingRun::Interrupted(removed));
        };
        removed.throttle_keys = n;
        // Held until the next run is due: the other replicas skip until then.
        self.store
            .write(|r| r.renew_lease(LEASE, holder, started + policy.interval))?;
        log_removed(&removed, "done");
        Ok(HousekeepingRun::Completed(removed))
    }

    /// Runs `work` in one transaction that first renews `holder`'s lease to `until`; `None` (and nothing
    /// done) when the lease is no longer `holder`'s.
    fn fenced(
        &self,
        holder: &str,
        until: Timestamp,
        work: impl FnOnce(&mut dyn Repo) -> Result<usize>,
    ) -> Result<Option<usize>> {
        self.store.write(|r| {
            if !r.renew_lease(LEASE, holder, until)? {
                return Ok(None);
            }
            work(r).map(Some)
        })
    }
}

fn log_removed(removed: &Removed, how: &str) {
    log::info!(
        "housekeeping {how}: removed {} expired sessions, {} login history rows, {} sent emails, {} throttle keys",
        removed.sessions,
        removed.login_history,
        removed.sent_emails,
        removed.throttle_keys
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::session::{NewLogin, NewSession};
    use crate::store::{NewEmail, Store};
    use crate::testing::{Fixture, UserSpec};

    fn session(user: crate::UserId, hash: &str, at: Timestamp) -> NewSession {
        NewSession {
            id_hash: hash.to_string(),
            user_id: user,
            created_at: at,
        }
    }

    fn login(user: crate::UserId, at: Timestamp) -> NewLogin {
        NewLogin {
            timestamp: at,
            user_id: user,
            session_hash: None,
            device_id: "d".into(),
            device_description: "curl".into(),
            ip_address: "10.0.0.1".into(),
        }
    }

    fn sent_email(store: &dyn Store, at: Timestamp) {
        store
            .write(|r| {
                let id = r.enqueue_email(&NewEmail {
                    recipients: vec!["a@x.com".into()],
                    subject: "s".into(),
                    body_text: "t".into(),
                    body_html: "h".into(),
                    created_at: at,
                    link: None,
                })?;
                r.mark_email_sent(id, at)
            })
            .unwrap();
    }

    /// A fixture with a user, 12 expired and 2 live sessions, logins and emails on either side of their
    /// retention.
    fn seeded() -> Fixture {
        let f = Fixture::new();
        let u = f.user(UserSpec {
            email: "u@x.com",
            ..UserSpec::default()
        });
        let now = f.now();
        let age = f.people.config().max_session_age;
        let s = f.people.store();
        s.write(|r| {
            for i in 0..12 {
                r.insert_session(&session(u.id, &format!("old{i}"), now - age))?;
            }
            r.insert_session(&session(u.id, "live", now - age + Duration::days(1)))?;
            r.insert_session(&session(u.id, "new", now))?;
            r.insert_login(&login(u.id, now - Duration::days(366)))?;
            r.insert_login(&login(u.id, now - Duration::days(364)))
        })
        .unwrap();
        sent_email(s, now - Duration::days(31));
        sent_email(s, now - Duration::days(29));
        f
    }

    fn small_batches() -> HousekeepingPolicy {
        HousekeepingPolicy {
            batch_size: 5,
            ..HousekeepingPolicy::default()
        }
    }

    #[test]
    fn a_run_deletes_what_expired_in_batches_and_keeps_the_rest() {
        let f = seeded();
        let run = f.people.housekeeping("a", &small_batches()).unwrap();
        let expected = Removed {
            sessions: 12,
            login_history: 1,
            sent_emails: 1,
            throttle_keys: 0,
        };
        assert_eq!(run, HousekeepingRun::Completed(expected));
        let state = f.store.snapshot();
        let mut left: Vec<&str> = state.sessions.keys().map(String::as_str).collect();
        left.sort();
        assert_eq!(left, ["live", "new"]);
        assert_eq!(state.logins.len(), 1);
        assert_eq!(state.outbox.len(), 1);
    }

    #[test]
    fn runs_take_turns_once_per_interval() {
        let f = seeded();
        let policy = small_batches();
        assert!(matches!(
            f.people.housekeeping("a", &policy).unwrap(),
            HousekeepingRun::Completed(_)
        ));
        assert_eq!(
            f.people.housekeeping("b", &policy).unwrap(),
            HousekeepingRun::Skipped
        );
        assert_eq!(
            f.people.housekeeping("a", &policy).unwrap(),
            HousekeepingRun::Skipped,
            "not even the same runner before the interval"
        );
        f.clock.advance(policy.interval);
        assert_eq!(
            f.people.housekeeping("b", &policy).unwrap(),
            HousekeepingRun::Completed(Removed::default())
        );
    }

    #[test]
    fn a_paused_runner_loses_its_lease_and_nothing_is_lost_or_counted_twice() {
        let f = seeded();
        let policy = small_batches();
        let s = f.people.store();
        // Runner a claims and deletes one batch, then pauses past its lease.
        let now = f.now();
        assert!(s
            .write(|r| r.claim_lease(LEASE, "a", now, now + policy.lease))
            .unwrap());
        let age = f.people.config().max_session_age;
        let first = f
            .people
            .fenced("a", now + policy.lease, |r| {
                r.delete_sessions_created_by(now - age, 5)
            })
            .unwrap();
        assert_eq!(first, Some(5));
        assert_eq!(
            f.people.housekeeping("b", &policy).unwrap(),
            HousekeepingRun::Skipped,
            "the lease is a's"
        );
        f.clock.advance(policy.lease + Duration::seconds(1));
        let b = f.people.housekeeping("b", &policy).unwrap();
        assert_eq!(b.removed().sessions, 7, "b finishes a's work");
        // a resumes: its batch is fenced off.
        let now = f.now();
        let late = f
            .people
            .fenced("a", now + policy.lease, |r| {
                r.delete_sessions_created_by(now, 5)
            })
            .unwrap();
        assert_eq!(late, None);
        assert_eq!(
            f.store.snapshot().sessions.len(),
            2,
            "live sessions survive"
        );
    }

    #[test]
    fn a_stopped_run_gives_its_lease_up() {
        let f = seeded();
        let policy = small_batches();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let stop = move || seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1;
        let run = f.people.housekeeping_until("a", &policy, &stop).unwrap();
        assert_eq!(
            run,
            HousekeepingRun::Interrupted(Removed {
                sessions: 5,
                ..Removed::default()
            })
        );
        let rest = f.people.housekeeping("b", &policy).unwrap();
        assert_eq!(rest.removed().sessions, 7, "taken over at once");
    }
}

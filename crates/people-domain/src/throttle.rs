//! Brute-force throttling as Metabase's throttle library counts, with what Metabase lacks: an
//! attempt is admitted *before* its password is checked, and the counters live in the database, so neither
//! concurrent requests nor several replicas multiply the limits (docs/operations.md, "Limits").
//!
//! Two styles: *failure counting* (sign-in) and *rate checking* (password reset: every accepted request is
//! recorded, refused ones are not). A sign-in attempt is recorded as *pending* when admitted, and settled
//! once its password has been judged: a failure stays (as in Metabase, a refusal counts as one too), a
//! success or an attempt that was never judged is removed. Pending attempts count against the threshold:
//! when failures and pending attempts together reach it, a further attempt waits for them to settle instead
//! of being checked, so N concurrent wrong passwords cost at most `threshold` checks, while concurrent
//! correct ones (many users behind one address) only wait their turn. Each key keeps a bounded number of
//! its newest attempts within the window: past that the wait no longer grows (it is then already longer
//! than the window).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use chrono::Duration;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::store::{Repo, SavedAttempts, ThrottleKey};

/// Keys longer than this are cut, so that a huge user name cannot make a huge row.
const MAX_KEY_CHARS: usize = 256;
/// Attempts kept per key beyond the threshold.
const KEPT_BEYOND_THRESHOLD: usize = 100;
/// A pending attempt older than this counts as a failure: the process that made it died before settling it.
const PENDING_TIMEOUT_MS: i64 = 60_000;

/// How a throttler counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Attempts are pending until settled; failures (and refusals) count; at `threshold` every attempt is
    /// refused until they age out.
    FailureCounting,
    /// Every accepted request is recorded; past `threshold`, requests are refused for a back-off delay.
    RateCheck,
}

/// One throttle: a threshold of attempts per key within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttler {
    /// Names its keys in storage.
    name: &'static str,
    threshold: usize,
    window: Duration,
    style: Style,
}

/// Metabase's initial delay: 15 s, growing as k^1.5.
const INITIAL_DELAY_MS: f64 = 15_000.0;
const DELAY_EXPONENT: f64 = 1.5;

/// Text of a refusal whose delay has passed while old attempts are still within the window.
pub const TRY_LATER: &str = "Too many attempts! Please try again later.";

/// The refusal text for a remaining wait of `ms` milliseconds.
pub fn must_wait(ms: f64) -> String {
    format!(
        "Too many attempts! You must wait {} seconds before trying again.",
        (ms / 1000.0).round() as i64
    )
}

fn cut(key: &str) -> &str {
    match key.char_indices().nth(MAX_KEY_CHARS) {
        Some((i, _)) => &key[..i],
        None => key,
    }
}

/// A key's attempts within the window. Stored as epoch milliseconds, pending ones negated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Recent {
    /// Every attempt as stored, newest first.
    stored: Vec<i64>,
}

impl Recent {
    /// Failures (settled attempts, and pending ones older than the timeout), newest first.
    fn failures(&self, now_ms: i64) -> Vec<i64> {
        self.stored
            .iter()
            .filter(|t| **t > 0 || now_ms + **t > PENDING_TIMEOUT_MS)
            .map(|t| t.abs())
            .collect()
    }

    /// Attempts admitted and not yet settled.
    fn pending(&self, now_ms: i64) -> usize {
        self.stored
            .iter()
            .filter(|t| **t < 0 && now_ms + **t <= PENDING_TIMEOUT_MS)
            .count()
    }

    fn push(&mut self, stored: i64) {
        self.stored.insert(0, stored);
    }

    /// Removes one occurrence of `stored`; true when there was one.
    fn remove(&mut self, stored: i64) -> bool {
        match self.stored.iter().position(|t| *t == stored) {
            Some(i) => {
                self.stored.remove(i);
                true
            }
            None => false,
        }
    }
}

impl Throttler {
    /// A throttler named `name` (unique among throttlers: it names the keys in storage).
    pub const fn new(name: &'static str, style: Style, threshold: usize, window: Duration) -> Self {
        Throttler {
            name,
            threshold,
            window,
            style,
        }
    }

    /// `Err(message)` when an attempt must be refused given the key's counted `attempts` within the window
    /// (epoch milliseconds, newest first).
    pub fn judge(&self, attempts: &[i64], now: Timestamp) -> Result<(), String> {
        let n = attempts.len();
        if n < self.threshold {
            return Ok(());
        }
        let k = (n + 1 - self.threshold) as f64;
        let delay_ms = INITIAL_DELAY_MS * k.powf(DELAY_EXPONENT);
        let latest = attempts.first().copied().unwrap_or(now.timestamp_millis());
        let remaining_ms = (latest - now.timestamp_millis()) as f64 + delay_ms;
        match self.style {
            Style::FailureCounting if remaining_ms > 0.0 => Err(must_wait(remaining_ms)),
            Style::FailureCounting => Err(TRY_LATER.to_string()),
            Style::RateCheck if remaining_ms > 0.0 => Err(must_wait(remaining_ms)),
            Style::RateCheck => Ok(()),
        }
    }

    /// The style.
    pub fn style(&self) -> Style {
        self.style
    }

    /// The storage key of `key`.
    fn key<'a>(&'a self, key: &'a str) -> ThrottleKey<'a> {
        ThrottleKey {
            throttle: self.name,
            key: cut(key),
        }
    }

    /// `attempts` as stored, within the window, newest first.
    fn recent(&self, mut stored: Vec<i64>, now: Timestamp) -> Recent {
        let since = (now - self.window).timestamp_millis();
        stored.retain(|t| t.abs() >= since);
        stored.sort_unstable_by_key(|t| std::cmp::Reverse(t.abs()));
        Recent { stored }
    }

    /// What to store for `key`: a bounded number of the newest attempts, and when they all expire.
    fn saved<'a>(&'a self, key: &'a str, mut recent: Recent) -> SavedAttempts<'a> {
        recent
            .stored
            .truncate(self.threshold + KEPT_BEYOND_THRESHOLD);
        let newest = recent
            .stored
            .first()
            .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms.abs()))
            .unwrap_or(chrono::DateTime::UNIX_EPOCH);
        SavedAttempts {
            key: self.key(key),
            attempts: recent.stored,
            expires_at: newest + self.window,
        }
    }
}

/// Locks the keys of `pairs` (one statement) and returns their attempts within each throttle's window.
fn lock_all(
    repo: &mut dyn Repo,
    pairs: &[(&Throttler, &str)],
    now: Timestamp,
) -> Result<Vec<Recent>> {
    let keys: Vec<ThrottleKey<'_>> = pairs.iter().map(|(t, k)| t.key(k)).collect();
    let stored = repo.lock_attempts(&keys, now)?;
    Ok(pairs
        .iter()
        .zip(stored)
        .map(|((t, _), s)| t.recent(s, now))
        .collect())
}

/// The outcome of an attempt on every throttle it passes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead (a sign-in attempt is now pending: settle it).
    Allowed,
    /// Refused with this message (the first refusing throttle's).
    Refused(String),
    /// Attempts still being checked could reach the threshold: try again once they are settled. Nothing
    /// was recorded.
    Wait,
}

/// How a pending sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The password was wrong (or the account disabled): the attempt counts as a failure.
    Failed,
    /// The password was right, or it was never judged: the attempt does not count.
    Forgiven,
}

/// The sign-ins of this process that wait for attempts to settle, oldest first. Each settlement wakes the
/// oldest one at once, so that waiting sign-ins go ahead in their order of arrival and before requests that
/// arrive later; one that finds no room yet keeps its place. A settlement on another replica is seen at a
/// waiter's next look.
#[derive(Debug, Default)]
pub struct Settlements {
    waiting: Mutex<VecDeque<Arc<Waiter>>>,
}

/// One waiting sign-in.
#[derive(Debug, Default)]
pub struct Waiter {
    /// The throttle keys it is counted under (`name:key`, lower-cased).
    keys: Vec<String>,
    woken: Mutex<bool>,
    wake: Condvar,
}

impl Settlements {
    /// An attempt was settled: wakes the oldest waiter.
    pub fn notify(&self) {
        let next = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        if let Some(w) = next {
            *w.woken.lock().unwrap_or_else(|p| p.into_inner()) = true;
            w.wake.notify_one();
        }
    }

    /// A new sign-in through `pairs` joins the queue, at the back. Returns its place and whether an older
    /// waiter shares one of its keys: then it must wait its turn rather than take the next free slot.
    pub fn join(&self, pairs: &[(&Throttler, &str)]) -> (Arc<Waiter>, bool) {
        let keys: Vec<String> = pairs
            .iter()
            .map(|(t, k)| format!("{}:{}", t.name, cut(k).to_lowercase()))
            .collect();
        let mut q = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let behind = q.iter().any(|w| w.keys.iter().any(|k| keys.contains(k)));
        let w = Arc::new(Waiter {
            keys,
            ..Waiter::default()
        });
        q.push_back(Arc::clone(&w));
        (w, behind)
    }

    /// True when no older waiter shares a key with `w` (or `w` is no longer queued: it was woken).
    pub fn is_first(&self, w: &Arc<Waiter>) -> bool {
        let q = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        match q.iter().position(|other| Arc::ptr_eq(other, w)) {
            None => true,
            Some(i) => !q
                .iter()
                .take(i)
                .any(|older| older.keys.iter().any(|k| w.keys.contains(k))),
        }
    }

    /// Before `w` looks again: forgets that it was woken, and puts it back at the front when a wake-up took
    /// it out of the queue (it is older than everyone still queued).
    pub fn rejoin(&self, w: &Arc<Waiter>) {
        let mut q = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut woken = w.woken.lock().unwrap_or_else(|p| p.into_inner());
        if *woken {
            *woken = false;
            q.push_front(Arc::clone(w));
        }
    }

    /// Takes `w` out of the queue (its sign-in went ahead or gave up); a wake-up it received and did not use
    /// passes to the next waiter. The oldest waiter that was behind `w` on one of its keys may now be first:
    /// it is woken to look at once, rather than at the end of its pause.
    pub fn leave(&self, w: &Arc<Waiter>) {
        let next = {
            let mut q = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            q.retain(|other| !Arc::ptr_eq(other, w));
            q.iter()
                .position(|other| other.keys.iter().any(|k| w.keys.contains(k)))
                .and_then(|i| q.remove(i))
        };
        if let Some(next) = next {
            // Out of the queue and woken, as `notify` does: it takes its place back at the front.
            *next.woken.lock().unwrap_or_else(|p| p.into_inner()) = true;
            next.wake.notify_one();
        }
        if *w.woken.lock().unwrap_or_else(|p| p.into_inner()) {
            self.notify();
        }
    }

    /// Waits until `w` is woken or `timeout` passes; true when woken. It keeps its place either way.
    pub fn wait(&self, w: &Arc<Waiter>, timeout: std::time::Duration) -> bool {
        let guard = w.woken.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = w
            .wake
            .wait_timeout_while(guard, timeout, |woken| !*woken)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

/// Every throttle people applies.
#[derive(Debug, Clone)]
pub struct Throttles {
    /// Login attempts per client address (50 per hour).
    pub login_ip: Throttler,
    /// Login attempts per user name (10 per hour).
    pub login_username: Throttler,
    /// Forgot-password requests per client address (50 per hour).
    pub forgot_ip: Throttler,
    /// Forgot-password requests per email (3 per second).
    pub forgot_email: Throttler,
    /// Reset-password requests per client address (10 per hour).
    pub reset_ip: Throttler,
    /// False when throttling is turned off (`MB_DISABLE_SESSION_THROTTLE`).
    pub enabled: bool,
}

impl Throttles {
    /// Metabase's thresholds and windows.
    pub fn metabase() -> Self {
        Throttles::with_windows(true)
    }

    /// The same throttles, never refusing (`MB_DISABLE_SESSION_THROTTLE=true`).
    pub fn disabled() -> Self {
        Throttles::with_windows(false)
    }

    fn with_windows(enabled: bool) -> Self {
        let hour = Duration::hours(1);
        Throttles {
            login_ip: Throttler::new("login-ip", Style::FailureCounting, 50, hour),
            login_username: Throttler::new("login-username", Style::FailureCounting, 10, hour),
            forgot_ip: Throttler::new("forgot-ip", Style::RateCheck, 50, hour),
            forgot_email: Throttler::new("forgot-email", Style::RateCheck, 3, Duration::seconds(1)),
            reset_ip: Throttler::new("reset-ip", Style::RateCheck, 10, hour),
            enabled,
        }
    }

    /// One attempt through `pairs` (throttler, key) at `now`, inside the caller's transaction: every key is
    /// locked (so concurrent attempts on a key take turns, on every replica) and the first refusal in order
    /// wins. A refusal is recorded as a failure by failure-counting throttles; an admitted attempt is
    /// recorded as pending by them and as an attempt by rate checks.
    pub fn attempt(
        &self,
        repo: &mut dyn Repo,
        pairs: &[(&Throttler, &str)],
        now: Timestamp,
    ) -> Result<Verdict> {
        if !self.enabled {
            return Ok(Verdict::Allowed);
        }
        let now_ms = now.timestamp_millis();
        let seen = lock_all(repo, pairs, now)?;
        let mut refusal = None;
        let mut busy = false;
        for ((t, _), recent) in pairs.iter().zip(&seen) {
            if refusal.is_some() {
                break;
            }
            let counted = match t.style {
                Style::FailureCounting => recent.failures(now_ms),
                Style::RateCheck => recent.stored.clone(),
            };
            match t.judge(&counted, now) {
                Err(message) => refusal = Some(message),
                Ok(()) if t.style == Style::FailureCounting => {
                    busy |= counted.len() + recent.pending(now_ms) >= t.threshold;
                }
                Ok(()) => {}
            }
        }
        let verdict = match (refusal, busy) {
            (Some(message), _) => Verdict::Refused(message),
            (None, true) => Verdict::Wait,
            (None, false) => Verdict::Allowed,
        };
        if verdict == Verdict::Wait {
            return Ok(verdict);
        }
        let mut rows = Vec::with_capacity(pairs.len());
        for ((t, key), mut recent) in pairs.iter().zip(seen) {
            match (t.style, &verdict) {
                (Style::FailureCounting, Verdict::Refused(_)) => recent.push(now_ms),
                (Style::FailureCounting, _) => recent.push(-now_ms),
                (Style::RateCheck, Verdict::Allowed) => recent.push(now_ms),
                (Style::RateCheck, _) => continue,
            }
            rows.push(t.saved(key, recent));
        }
        if !rows.is_empty() {
            repo.save_attempts(&rows)?;
        }
        Ok(verdict)
    }

    /// Settles a sign-in attempt admitted at `at` through `pairs`.
    pub fn settle(
        &self,
        repo: &mut dyn Repo,
        pairs: &[(&Throttler, &str)],
        at: Timestamp,
        how: Settlement,
        now: Timestamp,
    ) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let at_ms = at.timestamp_millis();
        let counting: Vec<(&Throttler, &str)> = pairs
            .iter()
            .filter(|(t, _)| t.style == Style::FailureCounting)
            .copied()
            .collect();
        let mut rows = Vec::with_capacity(counting.len());
        for ((t, key), mut recent) in counting.iter().zip(lock_all(repo, &counting, now)?) {
            if recent.remove(-at_ms) {
                if how == Settlement::Failed {
                    recent.push(at_ms);
                    recent
                        .stored
                        .sort_unstable_by_key(|t| std::cmp::Reverse(t.abs()));
                }
                rows.push(t.saved(key, recent));
            }
        }
        if !rows.is_empty() {
            repo.save_attempts(&rows)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::testing::MemoryStore;
    use chrono::{TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    fn attempt(
        store: &MemoryStore,
        th: &Throttles,
        t: &Throttler,
        key: &str,
        at: Timestamp,
    ) -> Verdict {
        let s: &dyn Store = store;
        s.write(|r| th.attempt(r, &[(t, key)], at)).unwrap()
    }

    /// Settles the attempt made on `key` at `at`.
    fn settle(
        store: &MemoryStore,
        th: &Throttles,
        t: &Throttler,
        key: &str,
        at: Timestamp,
        how: Settlement,
    ) {
        let s: &dyn Store = store;
        s.write(|r| th.settle(r, &[(t, key)], at, how, at)).unwrap();
    }

    /// An attempt whose password turns out wrong.
    fn failure(
        store: &MemoryStore,
        th: &Throttles,
        t: &Throttler,
        key: &str,
        at: Timestamp,
    ) -> Verdict {
        let v = attempt(store, th, t, key, at);
        if v == Verdict::Allowed {
            settle(store, th, t, key, at, Settlement::Failed);
        }
        v
    }

    fn refused(v: Verdict) -> String {
        match v {
            Verdict::Refused(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failure_counting_refuses_at_the_threshold_with_growing_delays() {
        let store = MemoryStore::new();
        let th = Throttles::metabase();
        let t = th.login_username;
        let now = t0();
        for _ in 0..10 {
            assert_eq!(failure(&store, &th, &t, "ann", now), Verdict::Allowed);
        }
        assert_eq!(
            refused(attempt(&store, &th, &t, "ann", now)),
            must_wait(15_000.0)
        );
        assert_eq!(
            must_wait(15_000.0),
            "Too many attempts! You must wait 15 seconds before trying again."
        );
        assert_eq!(
            refused(attempt(&store, &th, &t, "ANN", now)),
            "Too many attempts! You must wait 42 seconds before trying again.",
            "keys fold case as the store does"
        );
        assert_eq!(
            refused(attempt(&store, &th, &t, "ann", now)),
            "Too many attempts! You must wait 78 seconds before trying again."
        );
        assert_eq!(
            refused(attempt(&store, &th, &t, "ann", now + Duration::minutes(30))),
            TRY_LATER,
            "blocked until the attempts age out; this refusal counts too"
        );
        assert_eq!(
            attempt(&store, &th, &t, "ann", now + Duration::minutes(91)),
            Verdict::Allowed,
            "an hour after the last attempt the key is free"
        );
        assert_eq!(attempt(&store, &th, &t, "bob", now), Verdict::Allowed);
    }

    #[test]
    fn a_forgiven_attempt_does_not_count() {
        let store = MemoryStore::new();
        let th = Throttles::metabase();
        let t = th.login_username;
        let now = t0();
        for i in 0..20 {
            let at = now + Duration::milliseconds(i);
            assert_eq!(attempt(&store, &th, &t, "ann", at), Verdict::Allowed);
            settle(&store, &th, &t, "ann", at, Settlement::Forgiven);
        }
        assert_eq!(
            store.snapshot().throttles.values().next().unwrap().0,
            Vec::<i64>::new()
        );
    }

    #[test]
    fn pending_attempts_make_later_ones_wait_not_fail() {
        let store = MemoryStore::new();
        let th = Throttles::metabase();
        let t = th.login_username;
        let now = t0();
        for _ in 0..10 {
            assert_eq!(attempt(&store, &th, &t, "ann", now), Verdict::Allowed);
        }
        assert_eq!(
            attempt(&store, &th, &t, "ann", now),
            Verdict::Wait,
            "ten are being checked"
        );
        // Nine turn out right, one wrong: there is room again.
        for _ in 0..9 {
            settle(&store, &th, &t, "ann", now, Settlement::Forgiven);
        }
        settle(&store, &th, &t, "ann", now, Settlement::Failed);
        assert_eq!(attempt(&store, &th, &t, "ann", now), Verdict::Allowed);
        // A pending attempt nobody settles counts as a failure after a minute.
        let later = now + Duration::seconds(61);
        for _ in 0..8 {
            assert_eq!(failure(&store, &th, &t, "ann", later), Verdict::Allowed);
        }
        assert!(matches!(
            attempt(&store, &th, &t, "ann", later),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn rate_check_refuses_only_during_the_delay_and_records_no_refusal() {
        let store = MemoryStore::new();
        let th = Throttles::metabase();
        let now = t0();
        for _ in 0..3 {
            assert_eq!(
                attempt(&store, &th, &th.forgot_email, "a@x.com", now),
                Verdict::Allowed
            );
        }
        assert_eq!(
            refused(attempt(&store, &th, &th.forgot_email, "a@x.com", now)),
            must_wait(15_000.0)
        );
        assert_eq!(
            attempt(
                &store,
                &th,
                &th.forgot_email,
                "a@x.com",
                now + Duration::seconds(2)
            ),
            Verdict::Allowed,
            "the 1 s window forgot them"
        );
        for _ in 0..10 {
            attempt(&store, &th, &th.reset_ip, "1.2.3.4", now);
        }
        assert!(matches!(
            attempt(
                &store,
                &th,
                &th.reset_ip,
                "1.2.3.4",
                now + Duration::seconds(5)
            ),
            Verdict::Refused(_)
        ));
        assert_eq!(
            attempt(
                &store,
                &th,
                &th.reset_ip,
                "1.2.3.4",
                now + Duration::seconds(16)
            ),
            Verdict::Allowed,
            "after the delay it is allowed again"
        );
    }

    #[test]
    fn disabled_throttles_never_refuse_and_store_nothing() {
        let store = MemoryStore::new();
        let th = Throttles::disabled();
        for _ in 0..100 {
            assert_eq!(
                attempt(&store, &th, &th.login_username, "x", t0()),
                Verdict::Allowed
            );
        }
        assert!(store.snapshot().throttles.is_empty());
    }

    #[test]
    fn keys_and_attempts_are_bounded() {
        let store = MemoryStore::new();
        let th = Throttles::metabase();
        let long = "k".repeat(10_000);
        for i in 0..500 {
            failure(
                &store,
                &th,
                &th.login_username,
                &long,
                t0() + Duration::milliseconds(i),
            );
        }
        let rows = store.snapshot().throttles;
        assert_eq!(rows.len(), 1);
        let ((_, key), (attempts, _)) = rows.iter().next().unwrap();
        assert_eq!(key.chars().count(), MAX_KEY_CHARS);
        assert_eq!(attempts.len(), 10 + KEPT_BEYOND_THRESHOLD);
        let s: &dyn Store = &store;
        assert_eq!(
            s.write(|r| r.prune_attempts(t0() + Duration::hours(2)))
                .unwrap(),
            1
        );
        assert!(store.snapshot().throttles.is_empty());
    }

    #[test]
    fn an_admitted_sign_in_lets_the_next_on_its_keys_look_at_once() {
        let th = Throttles::metabase();
        let pairs = [(&th.login_ip, "10.0.0.9")];
        let q = Settlements::default();
        let (first, behind) = q.join(&pairs);
        assert!(!behind);
        let (second, behind) = q.join(&pairs);
        assert!(behind, "the second waits behind the first");
        let (other, behind) = q.join(&[(&th.login_ip, "10.0.0.10")]);
        assert!(!behind);
        let started = std::time::Instant::now();
        let waiter = {
            let q = std::sync::Arc::new(q);
            let q2 = std::sync::Arc::clone(&q);
            let second = std::sync::Arc::clone(&second);
            let t = std::thread::spawn(move || q2.wait(&second, std::time::Duration::from_secs(5)));
            std::thread::sleep(std::time::Duration::from_millis(50));
            q.leave(&first);
            (t, q)
        };
        assert!(
            waiter.0.join().unwrap(),
            "woken by the first's leaving, not by its pause"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let q = waiter.1;
        q.rejoin(&second);
        assert!(q.is_first(&second));
        q.leave(&second);
        q.leave(&other);
    }
}

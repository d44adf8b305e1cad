//! Password hashing on a small pool of its own, at the lowest CPU priority.
//!
//! bcrypt costs ~80 ms of CPU per password at cost 10. Run on request threads, a burst of 64 logins would
//! put 64 CPU-bound threads in front of every other request; here at most one hash per core runs at a time
//! and waiting callers queue in arrival order (the latency of a burst of logins is fair instead of random).
//!
//! The hashing threads also run under `SCHED_IDLE` on Linux: the kernel then gives a core to any waking
//! request thread (or database backend) at once instead of letting a hash finish its time slice, so a burst
//! of logins only uses the CPU that requests leave idle and reads keep their latency. On a host saturated by
//! other work such threads could wait for a very long time, so a guard thread at normal priority steps in
//! when the hashing threads have finished nothing for twenty-five hashes' worth of time (2 s at cost 10):
//! it takes the oldest job that has waited that long, queued or already started by a starved thread (a
//! started job then runs twice and its caller keeps the first answer). Logins slow down, they never stop.
//! docs/performance.md ("Bcrypt storm") has the measurements.
//!
//! The queue is bounded (by default ten seconds of hashing for every thread): a caller beyond it is told at
//! once that the service is busy (503 with `Retry-After`) instead of waiting without end, so a flood of
//! sign-ins can neither grow memory nor make every caller wait longer than a client would.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use people_domain::password::{Bcrypt, PasswordHash, PasswordHasher};
use people_domain::{DomainError, Result};
use people_web::request_id::{self, RequestId};

/// One hash to compute. It may run twice (by a starved hashing thread and by the guard): the work is a
/// `Fn` and its caller keeps the first answer.
struct Job {
    work: Box<dyn Fn(&Bcrypt) + Send + Sync>,
    /// When it was queued.
    queued: Instant,
    /// Set once the guard has taken it, so that the guard never runs it twice.
    guarded: AtomicBool,
    /// The request it hashes for: what the pool logs about the job carries its id.
    request: Option<RequestId>,
}

/// What the hashing threads, the guard and the callers share.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the pool closes.
    ready: Condvar,
    /// Jobs finished by the hashing threads (not by the guard): how the guard sees progress.
    done: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Jobs in arrival order.
    waiting: VecDeque<Arc<Job>>,
    /// The job each hashing thread is running and since when, by thread index.
    running: Vec<Option<(Instant, Arc<Job>)>>,
    closed: bool,
}

impl Queue {
    /// Sets the gauges of waiting and running hashes (called under the lock, so they agree with the queue).
    fn record_depth(&self) {
        metrics::gauge!("people_password_hashes_queued").set(self.waiting.len() as f64);
        metrics::gauge!("people_password_hashes_running")
            .set(self.running.iter().flatten().count() as f64);
    }
}

/// Runs `job` and records how long it waited (`people_password_hash_wait_seconds`, from being queued to
/// starting) and how long the hash took (`people_password_hash_duration_seconds`).
fn timed(job: &Job, bcrypt: &Bcrypt) {
    let started = Instant::now();
    metrics::histogram!("people_password_hash_wait_seconds")
        .record(started.duration_since(job.queued).as_secs_f64());
    request_id::in_thread(job.request.clone(), || (job.work)(bcrypt));
    metrics::histogram!("people_password_hash_duration_seconds")
        .record(started.elapsed().as_secs_f64());
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A job never runs under the lock, so a poisoned lock still guards a consistent queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A [`PasswordHasher`] that hands every hash to the pool and waits for the result.
pub struct HashPool {
    shared: Arc<Shared>,
    /// Most jobs waiting for a thread; one more is refused as busy.
    capacity: usize,
    /// Time the pool needs to work off one waiting job (one hash divided among the threads).
    per_job: Duration,
    /// Dropped with the pool: wakes the guard so that it ends.
    _guard_stop: Sender<()>,
}

/// The default bound of the queue: ten seconds of hashing.
pub const DEFAULT_QUEUE_SECONDS: u64 = 10;

impl HashPool {
    /// Starts `threads` low-priority hashing threads and the guard, all using `cost`, with a queue of ten
    /// seconds of hashing.
    pub fn start(cost: u32, threads: usize) -> Result<HashPool> {
        Self::with_queue(cost, threads, Duration::from_secs(DEFAULT_QUEUE_SECONDS))
    }

    /// Like [`HashPool::start`], with a queue that holds `queue` worth of hashing (at least one job per
    /// thread).
    pub fn with_queue(cost: u32, threads: usize, queue: Duration) -> Result<HashPool> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                running: vec![None; threads],
                ..Queue::default()
            }),
            ready: Condvar::new(),
            done: AtomicU64::new(0),
        });
        for i in 0..threads {
            let shared = Arc::clone(&shared);
            let bcrypt = Bcrypt::new(cost)?;
            spawn(format!("people-bcrypt-{i}"), move || {
                lower_priority();
                hashing_thread(&shared, i, &bcrypt)
            })?;
        }
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let bcrypt = Bcrypt::new(cost)?;
        let stall = stall_after(cost);
        let guard_shared = Arc::clone(&shared);
        spawn("people-bcrypt-guard".into(), move || {
            guard_thread(&guard_shared, &bcrypt, stall, &stop_rx)
        })?;
        let per_job = one_hash(cost) / u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
        let capacity = usize::try_from(queue.as_nanos() / per_job.as_nanos().max(1))
            .unwrap_or(usize::MAX)
            .max(threads.max(1));
        Ok(HashPool {
            shared,
            capacity,
            per_job,
            _guard_stop: stop_tx,
        })
    }

    /// Most jobs that may wait for a thread.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs `f` on the pool and waits for its first result; `Busy` at once when the queue is full, `Internal`
    /// when the pool is gone.
    fn run<T: Send + 'static>(
        &self,
        f: impl Fn(&Bcrypt) -> T + Send + Sync + 'static,
    ) -> Result<T> {
        // Room for both answers of a job that runs twice, so that neither runner ever blocks.
        let (reply, result) = mpsc::sync_channel::<T>(2);
        let job = Arc::new(Job {
            work: Box::new(move |b| {
                // The caller may have gone (its request was dropped, or it took the other answer).
                let _ = reply.send(f(b));
            }),
            queued: Instant::now(),
            guarded: AtomicBool::new(false),
            request: request_id::current(),
        });
        {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(DomainError::Internal("the hashing pool is gone".into()));
            }
            if q.waiting.len() >= self.capacity {
                metrics::counter!("people_password_hashes_refused_total").increment(1);
                let wait = self
                    .per_job
                    .saturating_mul(u32::try_from(q.waiting.len()).unwrap_or(u32::MAX));
                return Err(DomainError::Busy {
                    retry_after_secs: wait.as_secs().saturating_add(1),
                });
            }
            q.waiting.push_back(job);
            q.record_depth();
        }
        self.shared.ready.notify_one();
        result
            .recv()
            .map_err(|_| DomainError::Internal("the hashing pool is gone".into()))
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map(drop)
        .map_err(|e| DomainError::Internal(format!("cannot start a hashing thread: {e}")))
}

/// Takes jobs in order until the pool closes and its queue is empty; `index` is its slot in `running`.
fn hashing_thread(shared: &Shared, index: usize, bcrypt: &Bcrypt) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if let Some(job) = q.waiting.pop_front() {
                    q.running[index] = Some((Instant::now(), Arc::clone(&job)));
                    q.record_depth();
                    break job;
                }
                if q.closed {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        timed(&job, bcrypt);
        let mut q = shared.lock();
        q.running[index] = None;
        q.record_depth();
        drop(q);
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every quarter of `stall`, and at once after each job it runs: if the hashing threads have finished
/// nothing for `stall`, runs at normal priority the oldest job that has waited `stall` (queued first, then
/// started by a hashing thread and not yet taken by the guard).
fn guard_thread(shared: &Shared, bcrypt: &Bcrypt, stall: Duration, stop: &mpsc::Receiver<()>) {
    let mut seen = shared.done.load(Ordering::Relaxed);
    let mut progress_at = Instant::now();
    loop {
        let done = shared.done.load(Ordering::Relaxed);
        if done != seen {
            seen = done;
            progress_at = Instant::now();
        }
        let starved = if progress_at.elapsed() >= stall {
            stalled_job(&mut shared.lock(), stall)
        } else {
            None
        };
        match starved {
            Some(job) => {
                request_id::in_thread(job.request.clone(), || {
                    log::debug!("hashing threads made no progress for {stall:?}: the guard hashes");
                });
                timed(&job, bcrypt);
            }
            None => match stop.recv_timeout(stall / 4) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            },
        }
    }
}

/// The job the guard should take, if one has waited `stall`: queued ones first (taken off the queue),
/// then ones a hashing thread started (left there, marked so that the guard takes each once).
fn stalled_job(q: &mut Queue, stall: Duration) -> Option<Arc<Job>> {
    if q.waiting
        .front()
        .is_some_and(|j| j.queued.elapsed() >= stall)
    {
        let job = q.waiting.pop_front();
        q.record_depth();
        return job;
    }
    q.running
        .iter()
        .flatten()
        .find(|(started, j)| started.elapsed() >= stall && !j.guarded.swap(true, Ordering::Relaxed))
        .map(|(_, j)| Arc::clone(j))
}

/// The time of one hash at `cost` on these machines: ~80 ms at cost 10, doubling with each step.
fn one_hash(cost: u32) -> Duration {
    let one_hash_us = 80_000u64 >> 10u32.saturating_sub(cost).min(20);
    Duration::from_micros(one_hash_us << cost.saturating_sub(10).min(20))
}

/// Twenty-five hashes' worth of time at `cost` (2 s at cost 10), at least 50 ms.
fn stall_after(cost: u32) -> Duration {
    one_hash(cost)
        .saturating_mul(25)
        .max(Duration::from_millis(50))
}

/// Moves the calling thread to `SCHED_IDLE` where the platform has it; hashing still works without.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            log::debug!("hashing thread stays at normal priority: {e:?}");
        }
    }
}

impl PasswordHasher for HashPool {
    fn hash(&self, password: &str) -> Result<PasswordHash> {
        let password = password.to_string();
        self.run(move |b| b.hash(&password))?
    }

    fn verify(&self, password: &str, salt: &str, hash: &str) -> Result<bool> {
        let (password, salt, hash) = (password.to_string(), salt.to_string(), hash.to_string());
        self.run(move |b| b.verify(&password, &salt, &hash))?
    }

    fn dummy_verify(&self, password: &str) -> Result<()> {
        let password = password.to_string();
        self.run(move |b| b.dummy_verify(&password))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies_on_the_pool() {
        let pool = HashPool::start(4, 2).unwrap();
        let h = pool.hash("unc0mmonpw").unwrap();
        assert!(pool.verify("unc0mmonpw", &h.salt, &h.hash).unwrap());
        assert!(!pool.verify("other", &h.salt, &h.hash).unwrap());
        pool.dummy_verify("x").unwrap();
        let pool = Arc::new(pool);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || pool.hash(&format!("pw{i}-unc0mmon")).is_ok())
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }

    /// With no hashing thread able to run (here: none at all), the guard still serves every caller.
    #[test]
    fn the_guard_hashes_when_the_hashing_threads_make_no_progress() {
        let pool = Arc::new(HashPool::start(4, 0).unwrap());
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || {
                    let h = pool.hash(&format!("pw{i}-unc0mmon")).unwrap();
                    pool.verify(&format!("pw{i}-unc0mmon"), &h.salt, &h.hash)
                        .unwrap()
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
        assert_eq!(pool.shared.done.load(Ordering::Relaxed), 0);
    }

    /// The hashing threads really run under `SCHED_IDLE` (policy 5 in `/proc/<pid>/task/<tid>/stat`).
    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_run_at_idle_priority() {
        let pool = HashPool::start(4, 1).unwrap();
        // Once the hashing thread has finished a job it has set its policy.
        let started = Instant::now();
        while pool.shared.done.load(Ordering::Relaxed) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no job finished"
            );
            pool.dummy_verify("x").unwrap();
        }
        let mut policies = vec![];
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap();
            if comm.trim() == "people-bcrypt-0" {
                let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
                // Fields after the parenthesised name; `policy` is field 41 of stat, the 39th after it.
                let after_name = stat.rsplit_once(") ").unwrap().1;
                policies.push(after_name.split(' ').nth(38).unwrap().to_string());
            }
        }
        assert!(!policies.is_empty(), "no hashing thread found");
        assert!(policies.iter().all(|p| p == "5"), "{policies:?}");
    }

    fn job_replying_to(reply: mpsc::SyncSender<bool>, queued: Instant) -> Arc<Job> {
        Arc::new(Job {
            work: Box::new(move |b| {
                let _ = reply.send(b.verify("pw", "salt", "not-a-hash").unwrap_or(true));
            }),
            queued,
            guarded: AtomicBool::new(false),
            request: None,
        })
    }

    #[test]
    fn a_hash_runs_under_the_request_id_of_its_caller() {
        let pool = HashPool::start(4, 1).unwrap();
        let id = RequestId::generate();
        let seen = request_id::in_thread(Some(id.clone()), || pool.run(|_| request_id::current()))
            .unwrap();
        assert_eq!(seen, Some(id));
        assert_eq!(pool.run(|_| request_id::current()).unwrap(), None);
    }

    #[test]
    fn the_guard_takes_old_jobs_queued_first_then_started_once() {
        let stall = Duration::from_millis(50);
        let (tx, _rx) = mpsc::sync_channel(8);
        let now = Instant::now();
        let old = now.checked_sub(stall * 2).unwrap();
        let mut q = Queue::default();
        q.waiting.push_back(job_replying_to(tx.clone(), now));
        q.running = vec![None, Some((old, job_replying_to(tx.clone(), old)))];
        // The queued job is too young; the started one is old: taken once.
        assert!(stalled_job(&mut q, stall).is_some());
        assert_eq!(q.waiting.len(), 1);
        assert!(stalled_job(&mut q, stall).is_none());
        // An old queued job comes before any started one, and leaves the queue.
        q.waiting.push_front(job_replying_to(tx, old));
        assert!(stalled_job(&mut q, stall).is_some());
        assert_eq!(q.waiting.len(), 1);
    }

    /// A job a hashing thread started and never finishes (a thread starved by the scheduler) is answered by
    /// the guard.
    #[test]
    fn the_guard_answers_for_a_starved_hashing_thread() {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            done: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::sync_channel(2);
        shared.lock().running = vec![Some((Instant::now(), job_replying_to(tx, Instant::now())))];
        let (stop_tx, stop_rx) = mpsc::channel();
        let guard_shared = Arc::clone(&shared);
        let guard = std::thread::spawn(move || {
            guard_thread(
                &guard_shared,
                &Bcrypt::new(4).unwrap(),
                stall_after(4),
                &stop_rx,
            )
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(false));
        drop(stop_tx);
        guard.join().unwrap();
    }

    #[test]
    fn a_closed_pool_answers_instead_of_hanging() {
        let pool = HashPool::start(4, 1).unwrap();
        pool.shared.lock().closed = true;
        assert!(pool.hash("unc0mmonpw").is_err());
        assert!(pool.verify("x", "y", "z").is_err());
    }

    /// Past its bound the queue refuses at once, with how long the work waiting will take.
    #[test]
    fn a_full_queue_answers_busy_at_once() {
        // No hashing thread: nothing leaves the queue until the guard's stall (500 ms at cost 8) has passed.
        let pool = Arc::new(HashPool::with_queue(8, 0, Duration::from_millis(1)).unwrap());
        assert_eq!(pool.capacity(), 1);
        let waiting = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.hash("unc0mmonpw").is_ok())
        };
        let start = Instant::now();
        while pool.shared.lock().waiting.is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the first job never queued"
            );
            std::thread::yield_now();
        }
        match pool.verify("x", "y", "z") {
            Err(DomainError::Busy { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("{other:?}"),
        }
        assert!(waiting.join().unwrap(), "the queued job is still served");
        assert!(pool.verify("x", "y", "z").is_ok(), "room again");
        let ten_seconds = HashPool::start(10, 2).unwrap();
        assert_eq!(
            ten_seconds.capacity(),
            250,
            "10 s of 80 ms hashes on two threads"
        );
    }

    #[test]
    fn the_guard_waits_twenty_five_hashes_worth_of_time() {
        assert_eq!(stall_after(10), Duration::from_secs(2));
        assert_eq!(stall_after(12), Duration::from_secs(8));
        assert_eq!(stall_after(4), Duration::from_millis(50));
        assert_eq!(stall_after(31), Duration::from_micros(80_000 << 20) * 25);
    }
}

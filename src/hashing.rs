//! argon2id hashing on a fixed set of threads. A flood of sign-ins queues
//! here instead of taking every blocking thread (each hash holds 19 MiB, and
//! glibc keeps a thread's buffers: unbounded `spawn_blocking` grew the
//! process to gigabytes in the design's measurements).
//!
//! Two lanes share the threads. Existing logins (sign-ins, password
//! changes and resets) have their own queue and are always taken first;
//! new logins (registrations) have a smaller queue of their own, so a
//! registration flood fills only its lane and is refused before any
//! sign-in waits behind it.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex},
};

use std::cell::RefCell;

use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use tokio::sync::{oneshot, OnceCell};

type Job = Box<dyn FnOnce() + Send>;

/// Which queue a hash waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A login that exists: signing in, changing or resetting a password.
    Existing,
    /// A login being made (registration): refused first when busy.
    NewLogin,
}

/// The jobs waiting, one queue a lane; the threads empty `existing` first.
#[derive(Default)]
struct Queues {
    existing: VecDeque<Job>,
    new_login: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

/// The hasher's hold on the threads: when the last `Hasher` clone goes,
/// the threads finish what is queued and end.
struct Threads(Arc<Shared>);

impl Drop for Threads {
    fn drop(&mut self) {
        if let Ok(mut q) = self.0.queues.lock() {
            q.closed = true;
        }
        self.0.ready.notify_all();
    }
}

#[derive(Clone)]
pub struct Hasher {
    threads: Arc<Threads>,
    /// Bound each lane's queue: past it, the visitor is told to retry
    /// instead of adding to a backlog that would keep the CPU busy after a
    /// flood.
    existing: Arc<tokio::sync::Semaphore>,
    new_login: Arc<tokio::sync::Semaphore>,
    capacity: usize,
    /// Verified against for unknown emails, so they take as long as known ones.
    dummy: Arc<OnceCell<String>>,
}

/// Waiting hashes allowed per hashing thread before sign-ins are refused.
const QUEUE_PER_THREAD: usize = 32;
/// Waiting registrations allowed per hashing thread: a quarter of the
/// sign-ins', and a lane of their own.
const NEW_LOGINS_PER_THREAD: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("busy")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

impl Hasher {
    pub fn new(threads: usize) -> Hasher {
        let threads = threads.max(1);
        let shared = Arc::new(Shared { queues: Mutex::new(Queues::default()), ready: Condvar::new() });
        for i in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    while let Some(job) = shared.next_job() {
                        job();
                    }
                })
                .expect("cannot start a hashing thread");
        }
        let capacity = threads * (QUEUE_PER_THREAD + NEW_LOGINS_PER_THREAD);
        Hasher {
            threads: Arc::new(Threads(shared)),
            existing: Arc::new(tokio::sync::Semaphore::new(threads * QUEUE_PER_THREAD)),
            new_login: Arc::new(tokio::sync::Semaphore::new(threads * NEW_LOGINS_PER_THREAD)),
            capacity,
            dummy: Arc::new(OnceCell::new()),
        }
    }

    /// Hashes waiting or running now, both lanes (for `/metrics`).
    pub fn queued(&self) -> usize {
        self.capacity - self.existing.available_permits() - self.new_login.available_permits()
    }

    async fn run<T: Send + 'static>(&self, lane: Lane, f: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let semaphore = match lane {
            Lane::Existing => &self.existing,
            Lane::NewLogin => &self.new_login,
        };
        let permit = semaphore.clone().try_acquire_owned().map_err(|_| {
            let lane = match lane {
                Lane::Existing => "existing",
                Lane::NewLogin => "new_login",
            };
            metrics::counter!("panel_hashing_rejections_total", "lane" => lane).increment(1);
            HashError::Busy
        })?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _permit = permit;
            // The visitor gave up (closed the connection): skip the work.
            if !tx.is_closed() {
                let _ = tx.send(f());
            }
        });
        self.threads.0.push(lane, job)?;
        rx.await.map_err(|_| HashError::Failed("hashing job dropped".into()))
    }

    /// Hashes a new password of an existing login (a change or a reset).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.hash_in(Lane::Existing, password).await
    }

    /// Hashes the password of a login being made: the lane refused first.
    pub async fn hash_new_login(&self, password: &str) -> Result<String, HashError> {
        self.hash_in(Lane::NewLogin, password).await
    }

    async fn hash_in(&self, lane: Lane, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(lane, move || hash_blocking(&password).map_err(|e| HashError::Failed(format!("hashing failed: {e}"))))
            .await?
    }

    /// Checks `password` against `stored`; with no stored hash (unknown
    /// user) it still does the same work and answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let (hash, known) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.get_or_try_init(|| self.hash("not a real password")).await?.clone(), false),
        };
        let password = password.to_owned();
        let ok = self.run(Lane::Existing, move || verify_blocking(&password, &hash)).await?;
        Ok(ok && known)
    }
}

impl Shared {
    fn push(&self, lane: Lane, job: Job) -> Result<(), HashError> {
        let mut q = self.queues.lock().map_err(|_| HashError::Failed("hashing threads are gone".into()))?;
        match lane {
            Lane::Existing => q.existing.push_back(job),
            Lane::NewLogin => q.new_login.push_back(job),
        }
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, existing logins' first; None once the hasher is gone.
    fn next_job(&self) -> Option<Job> {
        let mut q = self.queues.lock().ok()?;
        loop {
            if let Some(job) = q.existing.pop_front().or_else(|| q.new_login.pop_front()) {
                return Some(job);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).ok()?;
        }
    }
}

thread_local! {
    /// Each hashing thread's argon2 working memory (19 MiB), allocated once
    /// and reused. Allocating and freeing 19 MiB per hash let glibc keep
    /// freed blocks around: a sign-in flood grew the server to 110 MB
    /// (measured with bench/run's flood); with the buffer reused it stays
    /// near threads x 19 MiB.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn with_memory<T>(params: &Params, f: impl FnOnce(&mut [Block]) -> T) -> T {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        let need = params.block_count();
        if m.len() < need {
            m.resize(need, Block::default());
        }
        f(&mut m[..need])
    })
}

/// argon2id with the OWASP minimum (m=19456 KiB, t=2, p=1), as a PHC string.
fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_memory(&params, |mem| argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, mem))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Recomputes with the stored hash's own algorithm, parameters and salt;
/// `Output`'s comparison is constant-time.
fn verify_blocking(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let Ok(version) = Version::try_from(parsed.version.unwrap_or(0x13)) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else { return false };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = with_memory(&params, |mem| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, mem)
    });
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// Hashing is meant to be slow; pages are not. On Linux each thread has its
/// own scheduling policy: SCHED_IDLE runs the hashing threads only when no
/// normal thread wants the CPU (a nice value of 10 still took a share, and
/// a sign-in flood doubled other pages' p99). Under a flood the bounded
/// queue fills and further sign-ins get "try again" rather than pages
/// slowing down. Should the call be refused, the thread keeps its priority.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler reads the parameter struct we own for the
    // duration of the call and changes only this thread's (pid 0) policy.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sign-in floods must not slow pages: the hashing threads run only
    /// when nothing else wants the CPU.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    #[allow(unsafe_code)]
    async fn hashing_threads_run_at_the_idle_scheduling_policy() {
        let hasher = Hasher::new(1);
        // SAFETY: sched_getscheduler only reads the calling thread's policy.
        let policy = hasher.run(Lane::Existing, || unsafe { libc::sched_getscheduler(0) }).await.unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
    }

    #[test]
    fn hashes_verify_and_match_the_crates_own_format() {
        let h = hash_blocking("a long password").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("a long password", &h));
        assert!(!verify_blocking("a long passwore", &h));
        assert!(!verify_blocking("a long password", "not a hash"));
        // A hash made by the crate's own API verifies here too.
        use argon2::password_hash::PasswordHasher;
        let theirs =
            Argon2::default().hash_password(b"other password", &SaltString::generate(&mut OsRng)).unwrap().to_string();
        assert!(verify_blocking("other password", &theirs));
    }
}

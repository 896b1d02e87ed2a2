//! argon2id hashing on a fixed set of threads. A flood of sign-ins queues
//! here instead of taking every blocking thread (each hash holds 19 MiB, and
//! glibc keeps a thread's buffers: unbounded `spawn_blocking` grew the
//! process to gigabytes in the design's measurements).

use std::sync::{mpsc, Arc, Mutex};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use tokio::sync::{oneshot, OnceCell};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    /// Bounds the queue: past it, a sign-in is told to retry instead of
    /// adding to a backlog that would keep the CPU busy after a flood.
    queue: Arc<tokio::sync::Semaphore>,
    /// Verified against for unknown emails, so they take as long as known ones.
    dummy: Arc<OnceCell<String>>,
}

/// Waiting hashes allowed per hashing thread before sign-ins are refused.
const QUEUE_PER_THREAD: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("busy")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

impl From<HashError> for crate::error::AppError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => crate::error::AppError::Busy,
            HashError::Failed(m) => crate::error::AppError::Internal(anyhow::anyhow!(m)),
        }
    }
}

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 256;

/// Passwords must be long enough to resist guessing, and bounded so a
/// megabyte "password" cannot be used to burn CPU.
pub fn check_strength(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("Choose a password of at least {MIN_PASSWORD_LEN} characters."));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(format!("Choose a password of at most {MAX_PASSWORD_LEN} characters."));
    }
    Ok(())
}

impl Hasher {
    pub fn new(threads: usize) -> Hasher {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("cannot start a hashing thread");
        }
        let queue = Arc::new(tokio::sync::Semaphore::new(threads.max(1) * QUEUE_PER_THREAD));
        Hasher { jobs: tx, queue, dummy: Arc::new(OnceCell::new()) }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let permit = self.queue.clone().try_acquire_owned().map_err(|_| HashError::Busy)?;
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _permit = permit;
                // The visitor gave up (closed the connection): skip the work.
                if !tx.is_closed() {
                    let _ = tx.send(f());
                }
            }))
            .map_err(|_| HashError::Failed("hashing threads are gone".into()))?;
        rx.await.map_err(|_| HashError::Failed("hashing job dropped".into()))
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(format!("hashing failed: {e}")))
        })
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
        let ok = self
            .run(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await?;
        Ok(ok && known)
    }
}

/// Hashing is meant to be slow; pages are not. On Linux a thread has its own
/// nice value, so the hashing threads yield the CPU to request handling.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

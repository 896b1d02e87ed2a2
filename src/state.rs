use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use webauthn_rs::Webauthn;

use std::future::Future;

use crate::{config::Config, error::AppError, hashing::Hasher};

/// Everything a handler may need; cloned per request (all fields are handles).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    /// Wakes the mail worker when a transaction has queued mail.
    pub mail_wakeup: Arc<Notify>,
    /// Wakes the webhook worker likewise (each worker needs its own permit).
    pub webhook_wakeup: Arc<Notify>,
    /// Passkeys' relying party; `None` when BASE_URL cannot have passkeys
    /// (see `security::webauthn::relying_party`).
    pub webauthn: Option<Arc<Webauthn>>,
    /// Each account's members' changes under way (`write_slots::WRITES_AT_ONCE`).
    pub writes: Arc<crate::write_slots::WritesUnderWay>,
    /// Bounds the work run after an answer (`after_answer`).
    pub detached: Arc<tokio::sync::Semaphore>,
}

/// Work after answers at once; past it, a request does its work before it
/// answers (slower, never lost).
pub const DETACHED_AT_ONCE: usize = 64;

impl AppState {
    /// Runs `work` apart from the request, which answers without waiting:
    /// for routes whose answer must not tell whether an address has a
    /// login, by its words or by how long it takes ("Forgot password?",
    /// "Mail me a sign-in link"). A failure is logged; the person asks
    /// again, as for a mail that did not come.
    pub async fn after_answer(
        &self,
        what: &'static str,
        work: impl Future<Output = Result<(), AppError>> + Send + 'static,
    ) {
        let report = move |r: Result<(), AppError>| {
            if let Err(e) = r {
                tracing::warn!(error = %e, what, "work after the answer failed");
            }
        };
        match self.detached.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    report(work.await);
                    drop(permit);
                });
            }
            Err(_) => report(work.await),
        }
    }

    /// After a commit that may have queued mail or webhook deliveries: both
    /// workers look at once instead of at their next poll.
    pub fn wake_outboxes(&self) {
        self.mail_wakeup.notify_one();
        self.webhook_wakeup.notify_one();
    }
}

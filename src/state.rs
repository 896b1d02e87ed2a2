use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use webauthn_rs::Webauthn;

use crate::{config::Config, hashing::Hasher};

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
}

impl AppState {
    /// After a commit that may have queued mail or webhook deliveries: both
    /// workers look at once instead of at their next poll.
    pub fn wake_outboxes(&self) {
        self.mail_wakeup.notify_one();
        self.webhook_wakeup.notify_one();
    }
}

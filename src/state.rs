use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::{config::Config, hashing::Hasher};

/// Everything a handler may need; cloned per request (all fields are handles).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    /// Wakes the mail worker when a transaction has queued mail.
    pub mail_wakeup: Arc<Notify>,
}

//! What the mail and webhook workers share: how an item is claimed, how
//! long one try may take, and how long to wait after a failure.
//!
//! A claim is a lease, committed before the try: the item's next attempt is
//! pushed `CLAIM_LEASE` ahead, and the try's outcome sets it for real, but
//! only while that lease is still the item's (`next_attempt_at` unchanged),
//! so a late outcome never undoes a newer claim. No transaction stays open
//! and no row stays locked while a slow server answers (an open transaction
//! would also hold back vacuum for every table), and an item whose worker
//! died or was stopped mid-try is tried again when the lease ends.

use std::{future::Future, time::Duration};

use tokio::sync::watch;

use crate::config::Config;

/// How long a claimed item is kept from other workers: well over
/// `SEND_LIMIT` plus `STOP_GRACE`, so a worker still trying never loses its
/// claim; short, so an item whose worker died is not held up for long.
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// The longest one try may take, all its steps together.
pub const SEND_LIMIT: Duration = Duration::from_secs(60);

/// How long a try may go on once the server is told to stop: the process
/// must exit well within the service manager's patience.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

// Half a minute to spare for recording the outcome.
const _: () = assert!(CLAIM_LEASE.as_secs() >= SEND_LIMIT.as_secs() + STOP_GRACE.as_secs() + 30);

/// How a try ended.
pub enum Attempt<T> {
    Done(T),
    /// Over `SEND_LIMIT`: a failure, recorded as one.
    TookTooLong,
    /// Cut off by a stop: nothing is recorded; the lease brings it back.
    Stopped,
}

/// Runs one try within `SEND_LIMIT`, and no longer than `STOP_GRACE` after
/// a stop.
pub async fn attempt<T>(try_it: impl Future<Output = T>, stop: &mut watch::Receiver<bool>) -> Attempt<T> {
    let stopping = async {
        let _ = stop.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(STOP_GRACE).await;
    };
    tokio::select! {
        outcome = tokio::time::timeout(SEND_LIMIT, try_it) => outcome.map_or(Attempt::TookTooLong, Attempt::Done),
        _ = stopping => Attempt::Stopped,
    }
}

/// How long to wait after the `attempts`th failure: the base delay,
/// doubled at each failure, at most an hour.
pub fn retry_delay(config: &Config, attempts: i32) -> Duration {
    config.mail_retry_base.saturating_mul(1u32 << (attempts - 1).clamp(0, 16) as u32).min(Duration::from_secs(3600))
}

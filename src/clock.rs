//! The time two-factor codes are checked against: the system clock, or in
//! tests a clock they set and move (so drift and reuse can be tested
//! without waiting for real 30-second steps).

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// A clock that stands at `unix_seconds` until it is moved.
    pub fn manual(unix_seconds: u64) -> Clock {
        Clock(Some(Arc::new(AtomicU64::new(unix_seconds))))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_now(&self) -> u64 {
        match &self.0 {
            Some(at) => at.load(Ordering::SeqCst),
            None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }

    /// The time now, as a timestamp.
    pub fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(self.unix_now() as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// Moves a manual clock by `seconds` (back when negative); the system
    /// clock cannot be moved.
    pub fn advance(&self, seconds: i64) {
        if let Some(at) = &self.0 {
            at.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| Some(t.saturating_add_signed(seconds)))
                .expect("the closure always answers");
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "manual" } else { "system" })
    }
}

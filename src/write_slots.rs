//! How many members' changes each account has under way in this server
//! copy (`AccountChange::by_member` takes a slot for each). Kept apart from
//! `change` so the application state can hold the count without the state
//! and the change importing each other.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

/// Members' changes one account may have under way at once in one server
/// copy. A person clicks one button at a time; a script or a burst from
/// one account beyond this gets an immediate 429 before it opens a
/// transaction, so it cannot take the pool's connections or the CPU from
/// other customers (bench/run: "contact burst").
pub const WRITES_AT_ONCE: usize = 4;

/// Each account's changes under way (see `WRITES_AT_ONCE`).
#[derive(Default)]
pub struct WritesUnderWay(Mutex<HashMap<Uuid, usize>>);

impl WritesUnderWay {
    /// A slot for one more change in `account`, if it has one free.
    pub fn take(self: &Arc<Self>, account: Uuid) -> Option<WriteSlot> {
        let mut under_way = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = under_way.entry(account).or_insert(0);
        if *n >= WRITES_AT_ONCE {
            return None;
        }
        *n += 1;
        Some(WriteSlot { all: self.clone(), account })
    }
}

/// Gives its slot back when the change ends, however it ends.
pub struct WriteSlot {
    all: Arc<WritesUnderWay>,
    account: Uuid,
}

impl Drop for WriteSlot {
    fn drop(&mut self) {
        let mut under_way = self.all.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = under_way.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                under_way.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_gets_write_slots_up_to_the_limit_and_each_comes_back_when_dropped() {
        let writes = Arc::new(WritesUnderWay::default());
        let (busy, other) = (Uuid::new_v4(), Uuid::new_v4());
        let held: Vec<WriteSlot> = (0..WRITES_AT_ONCE).map(|_| writes.take(busy).expect("a free slot")).collect();
        assert!(writes.take(busy).is_none(), "past the limit");
        assert!(writes.take(other).is_some(), "another account is not held up");
        drop(held);
        assert!(writes.take(busy).is_some(), "slots come back");
        assert!(writes.0.lock().unwrap().is_empty(), "an account with nothing under way is forgotten");
    }
}

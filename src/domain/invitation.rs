//! An invitation's status, from its dates alone.

use std::fmt;

use time::OffsetDateTime;

/// How long an invitation link works after it was (re)sent.
pub const VALID_DAYS: i64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Expired,
    Accepted,
    Cancelled,
    /// The invited person said no.
    Declined,
    /// A newer invitation to the same address took its place.
    Replaced,
}

/// An invitation's dates, as its row holds them.
#[derive(Clone, Copy, Debug)]
pub struct InvitationDates {
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    /// Set for every ending but acceptance (cancelled, declined, replaced).
    pub cancelled_at: Option<OffsetDateTime>,
    pub declined: bool,
    pub replaced: bool,
}

impl InvitationDates {
    pub fn status(&self, now: OffsetDateTime) -> InvitationStatus {
        match self.cancelled_at {
            Some(_) if self.declined => InvitationStatus::Declined,
            Some(_) if self.replaced => InvitationStatus::Replaced,
            _ => InvitationStatus::of(self.accepted_at, self.cancelled_at, self.expires_at, now),
        }
    }

    /// When it ended (accepted, cancelled, declined or replaced), if it did.
    pub fn ended_at(&self) -> Option<OffsetDateTime> {
        self.accepted_at.or(self.cancelled_at)
    }
}

impl InvitationStatus {
    /// Cancelled wins over accepted (a cancelled row is never accepted
    /// later); an open invitation is expired from its expiry instant on.
    pub fn of(
        accepted: Option<OffsetDateTime>,
        cancelled: Option<OffsetDateTime>,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> InvitationStatus {
        if cancelled.is_some() {
            InvitationStatus::Cancelled
        } else if accepted.is_some() {
            InvitationStatus::Accepted
        } else if expires <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }

    /// The label the owner sees in the invitation list.
    pub fn label(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "Pending",
            InvitationStatus::Expired => "Expired",
            InvitationStatus::Accepted => "Accepted",
            InvitationStatus::Cancelled => "Cancelled",
            InvitationStatus::Declined => "Declined",
            InvitationStatus::Replaced => "Replaced",
        }
    }

    /// Still open: it can be resent or cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, InvitationStatus::Pending | InvitationStatus::Expired)
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use time::{macros::datetime, Duration};

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    #[test]
    fn status_follows_the_dates() {
        let later = NOW + Duration::days(1);
        let earlier = NOW - Duration::seconds(1);
        assert_eq!(InvitationStatus::of(None, None, later, NOW), InvitationStatus::Pending);
        assert_eq!(InvitationStatus::of(None, None, earlier, NOW), InvitationStatus::Expired);
        assert_eq!(InvitationStatus::of(None, None, NOW, NOW), InvitationStatus::Expired, "expiry instant is expired");
        assert_eq!(InvitationStatus::of(Some(earlier), None, earlier, NOW), InvitationStatus::Accepted);
        assert_eq!(InvitationStatus::of(None, Some(earlier), later, NOW), InvitationStatus::Cancelled);
        assert_eq!(InvitationStatus::of(Some(earlier), Some(earlier), later, NOW), InvitationStatus::Cancelled);
    }

    #[test]
    fn declined_and_replaced_are_endings_of_their_own() {
        let ended = NOW - Duration::hours(1);
        let dates = |declined, replaced| InvitationDates {
            expires_at: NOW + Duration::days(3),
            accepted_at: None,
            cancelled_at: Some(ended),
            declined,
            replaced,
        };
        assert_eq!(dates(true, false).status(NOW), InvitationStatus::Declined);
        assert_eq!(dates(false, true).status(NOW), InvitationStatus::Replaced);
        assert_eq!(dates(false, false).status(NOW), InvitationStatus::Cancelled);
        assert_eq!(dates(true, false).ended_at(), Some(ended));
        let open = InvitationDates { cancelled_at: None, ..dates(false, false) };
        assert_eq!((open.status(NOW), open.ended_at()), (InvitationStatus::Pending, None));
    }

    #[test]
    fn only_pending_and_expired_are_open() {
        let open: Vec<_> = [
            InvitationStatus::Pending,
            InvitationStatus::Expired,
            InvitationStatus::Accepted,
            InvitationStatus::Cancelled,
            InvitationStatus::Declined,
            InvitationStatus::Replaced,
        ]
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
        assert_eq!(open, [InvitationStatus::Pending, InvitationStatus::Expired]);
    }
}

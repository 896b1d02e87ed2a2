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
    fn only_pending_and_expired_are_open() {
        let open: Vec<_> = [
            InvitationStatus::Pending,
            InvitationStatus::Expired,
            InvitationStatus::Accepted,
            InvitationStatus::Cancelled,
        ]
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
        assert_eq!(open, [InvitationStatus::Pending, InvitationStatus::Expired]);
    }
}

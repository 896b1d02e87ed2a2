//! The events an owner can subscribe a webhook endpoint to. Each is an
//! audited action: recording the action is what queues its deliveries
//! (`audit::record`), so no change can happen without its event.

use std::{fmt, str::FromStr};

use super::audit::AuditAction;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    InvitationSent,
    InvitationAccepted,
    InvitationDeclined,
    InvitationExpired,
    InvitationCancelled,
    MemberPermissionsChanged,
    MemberRemoved,
    OwnershipTransferred,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::InvitationSent,
        WebhookEvent::InvitationAccepted,
        WebhookEvent::InvitationDeclined,
        WebhookEvent::InvitationExpired,
        WebhookEvent::InvitationCancelled,
        WebhookEvent::MemberPermissionsChanged,
        WebhookEvent::MemberRemoved,
        WebhookEvent::OwnershipTransferred,
    ];

    /// The event's `type` in a delivery, and what an endpoint row stores.
    pub fn code(self) -> &'static str {
        match self {
            WebhookEvent::InvitationSent => "invitation.sent",
            WebhookEvent::InvitationAccepted => "invitation.accepted",
            WebhookEvent::InvitationDeclined => "invitation.declined",
            WebhookEvent::InvitationExpired => "invitation.expired",
            WebhookEvent::InvitationCancelled => "invitation.cancelled",
            WebhookEvent::MemberPermissionsChanged => "member.permissions_changed",
            WebhookEvent::MemberRemoved => "member.removed",
            WebhookEvent::OwnershipTransferred => "ownership.transferred",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            WebhookEvent::InvitationSent => "Invitation sent (or resent)",
            WebhookEvent::InvitationAccepted => "Invitation accepted",
            WebhookEvent::InvitationDeclined => "Invitation declined",
            WebhookEvent::InvitationExpired => "Invitation expired",
            WebhookEvent::InvitationCancelled => "Invitation cancelled",
            WebhookEvent::MemberPermissionsChanged => "Member's permissions changed",
            WebhookEvent::MemberRemoved => "Member removed",
            WebhookEvent::OwnershipTransferred => "Ownership transferred",
        }
    }

    /// The event an audited action announces, if any.
    pub fn of(action: AuditAction) -> Option<WebhookEvent> {
        Some(match action {
            AuditAction::InvitationSent | AuditAction::InvitationResent => WebhookEvent::InvitationSent,
            AuditAction::InvitationAccepted => WebhookEvent::InvitationAccepted,
            AuditAction::InvitationDeclined => WebhookEvent::InvitationDeclined,
            AuditAction::InvitationExpired => WebhookEvent::InvitationExpired,
            AuditAction::InvitationCancelled => WebhookEvent::InvitationCancelled,
            AuditAction::MemberPermissionsChanged => WebhookEvent::MemberPermissionsChanged,
            AuditAction::MemberRemoved => WebhookEvent::MemberRemoved,
            AuditAction::OwnershipTransferred => WebhookEvent::OwnershipTransferred,
            _ => return None,
        })
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a webhook event.")]
pub struct UnknownEvent(pub String);

impl FromStr for WebhookEvent {
    type Err = UnknownEvent;

    fn from_str(code: &str) -> Result<WebhookEvent, UnknownEvent> {
        WebhookEvent::ALL.iter().copied().find(|e| e.code() == code).ok_or_else(|| UnknownEvent(code.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_announced_by_an_audited_action_and_parses_back() {
        for event in WebhookEvent::ALL {
            assert_eq!(event.code().parse::<WebhookEvent>(), Ok(event));
            assert!(AuditAction::ALL.iter().any(|a| WebhookEvent::of(*a) == Some(event)), "{event:?} never sent");
        }
        assert_eq!(WebhookEvent::of(AuditAction::PasswordChanged), None);
        assert!("ping".parse::<WebhookEvent>().is_err());
    }
}

//! What the audit log records: each action a variant with its stored code
//! and the plain words people read. A misspelled action does not compile,
//! and no page shows a raw code.

use std::{fmt, str::FromStr};

macro_rules! actions {
    ($($variant:ident => $code:literal, $label:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The code stored in `audit_events.action`.
            pub fn code(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $code,)*
                }
            }

            /// What the audit log pages show.
            pub fn label(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $label,)*
                }
            }
        }
    };
}

actions! {
    InvitationSent => "invitation.sent", "Invitation sent";
    InvitationResent => "invitation.resent", "Invitation resent";
    InvitationCancelled => "invitation.cancelled", "Invitation cancelled";
    InvitationAccepted => "invitation.accepted", "Invitation accepted";
    InvitationDeclined => "invitation.declined", "Invitation declined";
    MemberPermissionsChanged => "member.permissions_changed", "Permissions changed";
    MemberRemoved => "member.removed", "Access removed";
    UserRegistered => "user.registered", "Account created";
    OwnershipTransferred => "ownership.transferred", "Ownership transferred";
    PasswordResetRequested => "password.reset_requested", "Password reset requested";
    PasswordReset => "password.reset", "Password reset";
    PasswordChanged => "password.changed", "Password changed";
    UserSessionsEnded => "user.sessions_ended", "Sessions ended by support";
    UserDisabled => "user.disabled", "Login disabled";
    UserEnabled => "user.enabled", "Login enabled";
    SupportViewStarted => "staff.sign_in_as.start", "Support signed in as the client";
    SupportViewEnded => "staff.sign_in_as.end", "Support view ended";
    ProfileChanged => "account.profile_changed", "Account profile changed";
    ServicePasswordChanged => "service.password_changed", "Service password changed";
    ServiceSingleSignOn => "service.single_sign_on", "Single sign-on to a service";
    DomainChanged => "domain.changed", "Domain settings changed";
    InvoicePaid => "invoice.paid", "Invoice paid";
    QuoteAccepted => "quote.accepted", "Quote accepted";
    WithdrawalRequested => "affiliate.withdrawal_requested", "Affiliate withdrawal requested";
    OrderPlaced => "order.placed", "Order placed";
    OrderUpgraded => "order.upgraded", "Service upgraded";
    CancellationRequested => "order.cancellation_requested", "Cancellation requested";
    MailBudgetExceeded => "mail.budget_exceeded", "Mail budget reached";
    NoticeSkipped => "mail.notice_skipped", "Notice not sent (mail budget)";
    EmailConfirmed => "user.email_confirmed", "Email address confirmed";
    ContactConfirmed => "contact.confirmed", "Contact confirmed";
    TwoFactorEnabled => "user.two_factor_on", "Two-factor sign-in turned on";
    TwoFactorDisabled => "user.two_factor_off", "Two-factor sign-in turned off";
    RecoveryCodeUsed => "user.recovery_code_used", "Recovery code used";
    RecoveryCodesReplaced => "user.recovery_codes_replaced", "New recovery codes made";
    PasskeyAdded => "user.passkey_added", "Passkey added";
    PasskeyRemoved => "user.passkey_removed", "Passkey removed";
    NewBrowserSignIn => "user.new_browser", "Signed in from a new browser";
    SessionsSignedOut => "user.sessions_signed_out", "Sessions signed out from Security";
    TwoFactorReset => "user.two_factor_reset", "Two-factor sign-in turned off by support";
    TwoFactorRuleChanged => "account.two_factor_rule", "Two-factor sign-in rule changed";
    InvitationExpired => "invitation.expired", "Invitation expired";
    ApiTokenCreated => "api_token.created", "API token created";
    ApiTokenRevoked => "api_token.revoked", "API token revoked";
    WebhookAdded => "webhook.added", "Webhook endpoint added";
    WebhookRemoved => "webhook.removed", "Webhook endpoint removed";
    WebhookEnabled => "webhook.enabled", "Webhook endpoint turned on again";
    MemberAccessEnded => "member.access_ended", "Access ended on its end date";
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an audit action.")]
pub struct UnknownAction(pub String);

impl FromStr for AuditAction {
    type Err = UnknownAction;

    fn from_str(code: &str) -> Result<AuditAction, UnknownAction> {
        AuditAction::ALL.iter().copied().find(|a| a.code() == code).ok_or_else(|| UnknownAction(code.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_back_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert_eq!(a.code().parse::<AuditAction>(), Ok(*a));
            assert!(seen.insert(a.code()), "{} twice", a.code());
            assert!(!a.label().contains('.') && !a.label().contains('_'), "{} reads like a code", a.label());
        }
        assert_eq!("quote.accept".parse::<AuditAction>(), Err(UnknownAction("quote.accept".into())));
    }
}

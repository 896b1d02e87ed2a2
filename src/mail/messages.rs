//! Every mail the panel sends: its data and its two templates (plain text
//! and HTML, both escaped by askama where HTML).

use askama::Template;

use super::{Mail, MailKind};

/// A message's two bodies: `$text` and `$html` render `templates/$txt` and
/// `templates/$html_path` with the message as `m`.
macro_rules! bodies {
    ($message:ident, $text:ident, $html:ident, $txt:tt, $html_path:tt) => {
        #[derive(Template)]
        #[template(path = $txt)]
        struct $text<'a> {
            m: &'a $message<'a>,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $message<'a>,
        }
    };
}

pub struct PasswordReset<'a> {
    pub name: &'a str,
    pub link: &'a str,
}

bodies!(PasswordReset, PasswordResetText, PasswordResetHtml, "mail/password_reset.txt", "mail/password_reset.html");

impl PasswordReset<'_> {
    pub fn to(&self, email: &str) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Auth,
            email,
            None,
            "Reset your password".into(),
            &PasswordResetText { m: self },
            &PasswordResetHtml { m: self },
        )
    }
}

pub struct InvitationMail<'a> {
    pub inviter_name: &'a str,
    pub inviter_email: &'a str,
    pub account_name: &'a str,
    pub permissions: Vec<&'static str>,
    pub link: &'a str,
    pub expires: String,
    /// The account requires two-factor sign-in of everyone with access.
    pub requires_two_factor: bool,
}

bodies!(InvitationMail, InvitationText, InvitationHtml, "mail/invitation.txt", "mail/invitation.html");

impl InvitationMail<'_> {
    pub fn to(&self, email: &str, account_id: uuid::Uuid) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Invitation,
            email,
            Some(account_id),
            format!("{} has invited you to their account", self.account_name),
            &InvitationText { m: self },
            &InvitationHtml { m: self },
        )
    }
}

pub struct InvitationAccepted<'a> {
    pub owner_name: &'a str,
    pub member_name: &'a str,
    pub member_email: &'a str,
    pub account_name: &'a str,
    pub permissions: Vec<&'static str>,
}

bodies!(
    InvitationAccepted,
    InvitationAcceptedText,
    InvitationAcceptedHtml,
    "mail/invitation_accepted.txt",
    "mail/invitation_accepted.html"
);

impl InvitationAccepted<'_> {
    pub fn to(&self, email: &str, account_id: uuid::Uuid) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Account,
            email,
            Some(account_id),
            format!("{} accepted your invitation to {}", self.member_name, self.account_name),
            &InvitationAcceptedText { m: self },
            &InvitationAcceptedHtml { m: self },
        )
    }
}

pub struct OwnershipChanged<'a> {
    pub name: &'a str,
    pub account_name: &'a str,
    pub message: &'a str,
}

bodies!(
    OwnershipChanged,
    OwnershipChangedText,
    OwnershipChangedHtml,
    "mail/ownership_changed.txt",
    "mail/ownership_changed.html"
);

impl OwnershipChanged<'_> {
    pub fn to(&self, email: &str, account_id: uuid::Uuid) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Account,
            email,
            Some(account_id),
            format!("The owner of {} has changed", self.account_name),
            &OwnershipChangedText { m: self },
            &OwnershipChangedHtml { m: self },
        )
    }
}

/// Access that ends on a date: "ends in three days", "has ended"; to the
/// member and to the owner.
pub struct AccessEnding<'a> {
    pub name: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
}

bodies!(AccessEnding, AccessEndingText, AccessEndingHtml, "mail/access_ending.txt", "mail/access_ending.html");

impl AccessEnding<'_> {
    pub fn to(&self, email: &str, account_id: uuid::Uuid) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Account,
            email,
            Some(account_id),
            self.subject.to_string(),
            &AccessEndingText { m: self },
            &AccessEndingHtml { m: self },
        )
    }
}

pub struct InvitationDeclined<'a> {
    pub owner_name: &'a str,
    pub invited_email: &'a str,
    pub account_name: &'a str,
}

bodies!(
    InvitationDeclined,
    InvitationDeclinedText,
    InvitationDeclinedHtml,
    "mail/invitation_declined.txt",
    "mail/invitation_declined.html"
);

impl InvitationDeclined<'_> {
    pub fn to(&self, email: &str, account_id: uuid::Uuid) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Account,
            email,
            Some(account_id),
            format!("{} declined your invitation to {}", self.invited_email, self.account_name),
            &InvitationDeclinedText { m: self },
            &InvitationDeclinedHtml { m: self },
        )
    }
}

pub struct SignInLinkMail<'a> {
    pub name: &'a str,
    pub link: &'a str,
}

bodies!(SignInLinkMail, SignInLinkText, SignInLinkHtml, "mail/sign_in_link.txt", "mail/sign_in_link.html");

impl SignInLinkMail<'_> {
    pub fn to(&self, email: &str) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Auth,
            email,
            None,
            "Your sign-in link".into(),
            &SignInLinkText { m: self },
            &SignInLinkHtml { m: self },
        )
    }
}

/// A new login's link to confirm its address (and finish signing up).
pub struct ConfirmLogin<'a> {
    pub name: &'a str,
    pub link: &'a str,
}

bodies!(ConfirmLogin, ConfirmLoginText, ConfirmLoginHtml, "mail/confirm_login.txt", "mail/confirm_login.html");

impl ConfirmLogin<'_> {
    pub fn to(&self, email: &str) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Confirmation,
            email,
            None,
            "Confirm your email address".into(),
            &ConfirmLoginText { m: self },
            &ConfirmLoginHtml { m: self },
        )
    }
}

/// Registration with an address that already has a login: the answer on
/// the page says nothing, this mail tells the address's real owner.
pub struct RegistrationAttempt<'a> {
    pub name: &'a str,
    pub sign_in: &'a str,
    pub reset: &'a str,
}

bodies!(
    RegistrationAttempt,
    RegistrationAttemptText,
    RegistrationAttemptHtml,
    "mail/registration_attempt.txt",
    "mail/registration_attempt.html"
);

impl RegistrationAttempt<'_> {
    pub fn to(&self, email: &str) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Confirmation,
            email,
            None,
            "Someone tried to register with your address".into(),
            &RegistrationAttemptText { m: self },
            &RegistrationAttemptHtml { m: self },
        )
    }
}

/// A new contact's link to say yes to the account's notices.
pub struct ConfirmContact<'a> {
    pub contact_name: &'a str,
    pub account_name: &'a str,
    pub link: &'a str,
}

bodies!(
    ConfirmContact,
    ConfirmContactText,
    ConfirmContactHtml,
    "mail/confirm_contact.txt",
    "mail/confirm_contact.html"
);

impl ConfirmContact<'_> {
    pub fn to(&self, email: &str, account_id: uuid::Uuid) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Confirmation,
            email,
            Some(account_id),
            format!("Confirm that you want mail about {}", self.account_name),
            &ConfirmContactText { m: self },
            &ConfirmContactHtml { m: self },
        )
    }
}

/// A change to a login's sign-in security, told to the login.
pub struct SecurityNotice<'a> {
    pub name: &'a str,
    pub message: &'a str,
    /// The Security page's address.
    pub security: &'a str,
}

bodies!(
    SecurityNotice,
    SecurityNoticeText,
    SecurityNoticeHtml,
    "mail/security_notice.txt",
    "mail/security_notice.html"
);

impl SecurityNotice<'_> {
    pub fn to(&self, email: &str, subject: &str) -> Result<Mail, askama::Error> {
        Mail::new(
            MailKind::Account,
            email,
            None,
            subject.to_string(),
            &SecurityNoticeText { m: self },
            &SecurityNoticeHtml { m: self },
        )
    }
}

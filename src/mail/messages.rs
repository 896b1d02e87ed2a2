//! Every mail the panel sends: its data and its two templates (plain text
//! and HTML, both escaped by askama where HTML).

use askama::Template;

use super::{Mail, MailKind};

pub struct PasswordReset<'a> {
    pub name: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct PasswordResetText<'a> {
    m: &'a PasswordReset<'a>,
}

#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct PasswordResetHtml<'a> {
    m: &'a PasswordReset<'a>,
}

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
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationText<'a> {
    m: &'a InvitationMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a> {
    m: &'a InvitationMail<'a>,
}

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

#[derive(Template)]
#[template(path = "mail/invitation_accepted.txt")]
struct InvitationAcceptedText<'a> {
    m: &'a InvitationAccepted<'a>,
}

#[derive(Template)]
#[template(path = "mail/invitation_accepted.html")]
struct InvitationAcceptedHtml<'a> {
    m: &'a InvitationAccepted<'a>,
}

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

#[derive(Template)]
#[template(path = "mail/ownership_changed.txt")]
struct OwnershipChangedText<'a> {
    m: &'a OwnershipChanged<'a>,
}

#[derive(Template)]
#[template(path = "mail/ownership_changed.html")]
struct OwnershipChangedHtml<'a> {
    m: &'a OwnershipChanged<'a>,
}

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

pub struct InvitationDeclined<'a> {
    pub owner_name: &'a str,
    pub invited_email: &'a str,
    pub account_name: &'a str,
}

#[derive(Template)]
#[template(path = "mail/invitation_declined.txt")]
struct InvitationDeclinedText<'a> {
    m: &'a InvitationDeclined<'a>,
}

#[derive(Template)]
#[template(path = "mail/invitation_declined.html")]
struct InvitationDeclinedHtml<'a> {
    m: &'a InvitationDeclined<'a>,
}

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

#[derive(Template)]
#[template(path = "mail/sign_in_link.txt")]
struct SignInLinkText<'a> {
    m: &'a SignInLinkMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/sign_in_link.html")]
struct SignInLinkHtml<'a> {
    m: &'a SignInLinkMail<'a>,
}

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

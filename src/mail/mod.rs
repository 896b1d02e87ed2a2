//! Mail: written to the outbox in the caller's transaction, sent later by
//! the worker. A mail server that is down therefore loses nothing.

pub mod budget;
pub mod messages;
pub mod worker;

use askama::Template;
use sqlx::PgConnection;
use uuid::Uuid;

/// What caused a mail: an account's mail is budgeted by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    /// An invitation or its resend.
    Invitation,
    /// A notice to the owner and contacts about the account's activity.
    Notice,
    /// Mail about the account itself (accepted, declined, ownership).
    Account,
    /// A password reset or sign-in link.
    Auth,
    /// Proving an address: a new login's link, "someone tried to register
    /// with your address", a contact's confirmation.
    Confirmation,
}

impl MailKind {
    pub fn code(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::Notice => "notice",
            MailKind::Account => "account",
            MailKind::Auth => "auth",
            MailKind::Confirmation => "confirmation",
        }
    }

    /// Whether this mail may go only to an address that proved it receives
    /// mail (a verified login, a confirmed contact of the account). Links
    /// that prove an address or let its owner in are the exceptions, and
    /// each is budgeted where it is sent.
    fn needs_proven_address(self) -> bool {
        matches!(self, MailKind::Notice | MailKind::Account)
    }
}

/// A rendered mail waiting in the outbox.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The account the mail is about; it then shows in that account's
    /// email history.
    pub account_id: Option<Uuid>,
    /// A token inside the bodies, removed from the stored copy once sent.
    pub secret: Option<String>,
    pub kind: MailKind,
    /// The service, domain or ticket the mail is about (View Emails shows
    /// it only within a member's scope).
    pub about: Option<Uuid>,
}

impl Mail {
    /// Renders both parts of a message (see `messages`).
    pub fn new(
        kind: MailKind,
        to: &str,
        account_id: Option<Uuid>,
        subject: String,
        text: &impl Template,
        html: &impl Template,
    ) -> Result<Mail, askama::Error> {
        let (text, html) = (text.render()?, html.render()?);
        Ok(Mail { to: to.to_string(), subject, text, html, account_id, secret: None, kind, about: None })
    }

    pub fn about(mut self, about: Option<Uuid>) -> Mail {
        self.about = about;
        self
    }

    pub fn with_secret(mut self, secret: &str) -> Mail {
        self.secret = Some(secret.to_string());
        self
    }

    /// Queues the mail, unless it needs a proven address and `to` has not
    /// proved itself: then nothing is queued. The queued mail's key.
    pub async fn queue(self, conn: &mut PgConnection) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar!(
            "INSERT INTO mail_outbox (to_email, subject, text_body, html_body, account_id, secret, kind, about)
             SELECT $1, $2, $3, $4, $5, $6, $7, $9
             WHERE NOT $8
                OR EXISTS (SELECT 1 FROM users WHERE email = $1 AND email_verified_at IS NOT NULL)
                OR EXISTS (SELECT 1 FROM contacts WHERE email = $1 AND account_id = $5 AND confirmed_at IS NOT NULL)
             RETURNING id",
            self.to,
            self.subject,
            self.text,
            self.html,
            self.account_id,
            self.secret,
            self.kind.code(),
            self.kind.needs_proven_address(),
            self.about
        )
        .fetch_optional(conn)
        .await
    }
}

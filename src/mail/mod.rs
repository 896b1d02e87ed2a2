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
}

impl MailKind {
    pub fn code(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::Notice => "notice",
            MailKind::Account => "account",
            MailKind::Auth => "auth",
        }
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
        Ok(Mail { to: to.to_string(), subject, text, html, account_id, secret: None, kind })
    }

    pub fn with_secret(mut self, secret: &str) -> Mail {
        self.secret = Some(secret.to_string());
        self
    }

    pub async fn queue(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "INSERT INTO mail_outbox (to_email, subject, text_body, html_body, account_id, secret, kind)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            self.to,
            self.subject,
            self.text,
            self.html,
            self.account_id,
            self.secret,
            self.kind.code()
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

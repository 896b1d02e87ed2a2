//! Mail: written to the outbox in the caller's transaction, sent later by
//! the worker. A mail server that is down therefore loses nothing.

pub mod messages;
pub mod worker;

use askama::Template;
use sqlx::PgConnection;
use uuid::Uuid;

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
}

impl Mail {
    /// Renders both parts of a message (see `messages`).
    pub fn new(
        to: &str,
        account_id: Option<Uuid>,
        subject: String,
        text: &impl Template,
        html: &impl Template,
    ) -> Result<Mail, askama::Error> {
        Ok(Mail { to: to.to_string(), subject, text: text.render()?, html: html.render()?, account_id, secret: None })
    }

    pub fn with_secret(mut self, secret: &str) -> Mail {
        self.secret = Some(secret.to_string());
        self
    }

    pub async fn queue(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "INSERT INTO mail_outbox (to_email, subject, text_body, html_body, account_id, secret)
             VALUES ($1, $2, $3, $4, $5, $6)",
            self.to,
            self.subject,
            self.text,
            self.html,
            self.account_id,
            self.secret
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

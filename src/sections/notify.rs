//! Account notifications: to the owner and to every contact who asked for
//! that kind of mail (invoices, domains, products, support).

use askama::Template;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    change::{AccountChange, Target},
    domain::audit::AuditAction,
    error::Internal,
    mail::{
        budget::{self, ACCOUNT_MAIL},
        Mail, MailKind,
    },
};

#[derive(Clone, Copy)]
pub enum Kind {
    Invoices,
    Domains,
    Products,
    Support,
}

impl Kind {
    fn column(&self) -> &'static str {
        match self {
            Kind::Invoices => "notify_invoices",
            Kind::Domains => "notify_domains",
            Kind::Products => "notify_products",
            Kind::Support => "notify_support",
        }
    }
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    account_name: &'a str,
    lines: &'a [String],
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    account_name: &'a str,
    lines: &'a [String],
}

/// Queues `subject` with `lines` (in the change's transaction) for the
/// owner and the contacts who receive this kind of mail, within the
/// account's hourly notice budget (`ACCOUNT_MAILS_PER_HOUR`). Past it the
/// notice is skipped and the skip recorded: a payment or an order never
/// fails for want of mail budget.
///
/// `about`: the service, domain or ticket the notice is about, so View
/// Emails shows it only to members whose scope reaches it.
pub async fn send(
    change: &mut AccountChange<'_>,
    kind: Kind,
    about: Option<Uuid>,
    subject: &str,
    lines: &[String],
) -> Result<(), Internal> {
    let Some(account_id) = change.account_id else { return Ok(()) };
    let conn: &mut PgConnection = change;
    // The column name comes from our own enum, never from input.
    let recipients: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT u.email, a.name FROM memberships m JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = m.account_id
         WHERE m.account_id = $1 AND m.is_owner
         UNION
         SELECT c.email, a.name FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.account_id = $1 AND c.{}",
        kind.column()
    ))
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    let limit = change.config().account_mails_per_hour - recipients.len() as i64 + 1;
    if budget::exceeded(change, account_id, ACCOUNT_MAIL, limit.max(0)).await?.is_some() {
        let details = serde_json::json!({ "subject": subject, "recipients": recipients.len() });
        change.audit(AuditAction::NoticeSkipped, Target::default(), details).await?;
        return Ok(());
    }
    let conn: &mut PgConnection = change;
    for (email, account_name) in recipients {
        Mail::new(
            MailKind::Notice,
            &email,
            Some(account_id),
            subject.to_string(),
            &NoticeText { account_name: &account_name, lines },
            &NoticeHtml { account_name: &account_name, lines },
        )?
        .about(about)
        .queue(conn)
        .await?;
    }
    Ok(())
}

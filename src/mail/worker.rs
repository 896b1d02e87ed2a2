//! The outbox worker: claims due mail (so several server copies never send
//! one mail twice), sends it over SMTP, and retries with exponential
//! backoff up to a bound, then marks it failed.
//!
//! A claim is a lease, committed before the send: the mail's next attempt
//! is pushed `CLAIM_LEASE` ahead, and the outcome sets it for real. So no
//! transaction stays open and no row stays locked while a slow mail server
//! answers (an open transaction would also hold back vacuum for every
//! table), and a worker that dies mid-send leaves the mail to be tried
//! again once the lease is over.

use std::{sync::Arc, time::Duration};

use lettre::{
    message::{Mailbox, MultiPart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::PgPool;
use tokio::sync::{watch, Notify};

use crate::config::Config;

struct Due {
    id: i64,
    to_email: String,
    subject: String,
    text_body: String,
    html_body: String,
    attempts: i32,
}

pub async fn run(db: PgPool, config: Arc<Config>, wakeup: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let Some(url) = config.smtp_url.clone() else { return };
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&url) {
        Ok(b) => b.timeout(Some(Duration::from_secs(20))).build(),
        Err(e) => {
            tracing::error!(error = %e, "SMTP_URL unusable; mail stays in the outbox");
            return;
        }
    };
    loop {
        if *stop.borrow() {
            return;
        }
        match send_one(&db, &config, &transport).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "mail worker could not reach the database"),
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(config.mail_poll_interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How long a claimed mail (or webhook delivery) is kept from other workers.
/// Longer than `SEND_LIMIT`, so a worker still sending never loses its
/// claim; short, so a mail whose worker died is not held up for long.
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// The longest one mail (or one webhook post) may take, all steps together.
pub const SEND_LIMIT: Duration = Duration::from_secs(60);

/// Sends the next due mail, if any; true when one was handled.
async fn send_one(
    db: &PgPool,
    config: &Config,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
) -> Result<bool, sqlx::Error> {
    // The outer conditions are checked again on the newest row: a worker
    // whose snapshot predates another's claim takes nothing.
    let claimed = sqlx::query_as!(
        Due,
        "UPDATE mail_outbox SET next_attempt_at = now() + make_interval(secs => $1)
         WHERE id = (SELECT id FROM mail_outbox
                     WHERE status = 'pending' AND next_attempt_at <= now()
                     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           AND status = 'pending' AND next_attempt_at <= now()
         RETURNING id, to_email, subject, text_body, html_body, attempts",
        CLAIM_LEASE.as_secs_f64()
    )
    .fetch_optional(db)
    .await?;
    let Some(mail) = claimed else { return Ok(false) };
    let domain = mail.to_email.rsplit('@').next().unwrap_or("").to_string();
    let outcome = match tokio::time::timeout(SEND_LIMIT, deliver(config, transport, &mail)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow::anyhow!("the mail server took over {} s", SEND_LIMIT.as_secs())),
    };
    let mut tx = crate::db::begin(db).await?;
    // `status = 'pending'`: an outcome never revives a mail that another
    // worker settled after this claim's lease ran out.
    match outcome {
        Ok(()) => {
            sqlx::query!(
                "UPDATE mail_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL
                 WHERE id = $1 AND status = 'pending'",
                mail.id
            )
            .execute(&mut *tx)
            .await?;
            tracing::info!(mail_id = mail.id, to_domain = %domain, "mail sent");
            metrics::counter!("panel_mails_sent_total").increment(1);
        }
        Err(e) => {
            let attempts = mail.attempts + 1;
            let give_up = attempts >= config.mail_max_attempts;
            let delay = retry_delay(config, attempts);
            sqlx::query!(
                "UPDATE mail_outbox SET attempts = $2, last_error = $3,
                        status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                        next_attempt_at = now() + make_interval(secs => $5)
                 WHERE id = $1 AND status = 'pending'",
                mail.id,
                attempts,
                e.to_string(),
                give_up,
                delay.as_secs_f64()
            )
            .execute(&mut *tx)
            .await?;
            tracing::warn!(mail_id = mail.id, to_domain = %domain, attempts, give_up, error = %e, "mail not sent");
            let outcome = if give_up { "given_up" } else { "will_retry" };
            metrics::counter!("panel_mail_failures_total", "outcome" => outcome).increment(1);
        }
    }
    // Sent or given up: the stored copy no longer needs a working link.
    sqlx::query!(
        "UPDATE mail_outbox SET text_body = replace(text_body, secret, '[link removed after sending]'),
                                html_body = replace(html_body, secret, '[link removed after sending]'), secret = NULL
         WHERE id = $1 AND secret IS NOT NULL AND status <> 'pending'",
        mail.id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// How long to wait after the `attempts`th failure: the base delay,
/// doubled at each failure, at most an hour. Webhooks wait the same way.
pub fn retry_delay(config: &Config, attempts: i32) -> Duration {
    config.mail_retry_base.saturating_mul(1u32 << (attempts - 1).clamp(0, 16) as u32).min(Duration::from_secs(3600))
}

async fn deliver(config: &Config, transport: &AsyncSmtpTransport<Tokio1Executor>, mail: &Due) -> anyhow::Result<()> {
    let to: Mailbox = mail.to_email.parse()?;
    let message = Message::builder()
        .from(config.mail_from.clone())
        .to(to)
        .subject(&mail.subject)
        .multipart(MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone()))?;
    transport.send(message).await?;
    Ok(())
}

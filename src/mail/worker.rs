//! The outbox worker: claims due mail (so several server copies never send
//! one mail twice; see `crate::delivery` for the claim's lease), sends it
//! over SMTP, and retries with exponential backoff up to a bound, then
//! marks it failed.

use std::{sync::Arc, time::Duration};

use lettre::{
    message::{Mailbox, MultiPart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use crate::{
    config::Config,
    delivery::{attempt, retry_delay, Attempt, CLAIM_LEASE, SEND_LIMIT},
};

type Transport = AsyncSmtpTransport<Tokio1Executor>;

struct Due {
    id: i64,
    /// The claim's lease: the outcome is recorded only while it is unchanged.
    leased_until: OffsetDateTime,
    to_email: String,
    subject: String,
    text_body: String,
    html_body: String,
    attempts: i32,
}

pub async fn run(db: PgPool, config: Arc<Config>, wakeup: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let Some(url) = config.smtp_url.clone() else { return };
    let Some(mut transport) = connect(&url) else { return };
    loop {
        if *stop.borrow() {
            return;
        }
        match send_one(&db, &config, &url, &mut transport, &mut stop).await {
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

/// The SMTP transport; its pool opens connections as mail is sent.
fn connect(url: &str) -> Option<Transport> {
    match Transport::from_url(url) {
        Ok(b) => Some(b.timeout(Some(Duration::from_secs(20))).build()),
        Err(e) => {
            tracing::error!(error = %e, "SMTP_URL unusable; mail stays in the outbox");
            None
        }
    }
}

/// Sends the next due mail, if any; true when one was taken.
async fn send_one(
    db: &PgPool,
    config: &Config,
    url: &str,
    transport: &mut Transport,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, sqlx::Error> {
    // The outer conditions are checked again on the newest row: a worker
    // whose snapshot predates another's claim takes nothing.
    let claimed = sqlx::query_as!(
        Due,
        r#"UPDATE mail_outbox SET next_attempt_at = now() + make_interval(secs => $1)
           WHERE id = (SELECT id FROM mail_outbox
                       WHERE status = 'pending' AND next_attempt_at <= now()
                       ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             AND status = 'pending' AND next_attempt_at <= now()
           RETURNING id, next_attempt_at AS leased_until, to_email, subject, text_body, html_body, attempts"#,
        CLAIM_LEASE.as_secs_f64()
    )
    .fetch_optional(db)
    .await?;
    let Some(mail) = claimed else { return Ok(false) };
    let domain = mail.to_email.rsplit('@').next().unwrap_or("").to_string();
    let outcome = match attempt(deliver(config, transport, &mail), stop).await {
        Attempt::Done(outcome) => outcome,
        cut_off => {
            // lettre puts a connection cut off mid-command back in its
            // pool (only errors mark one broken), where the next mail would
            // read this one's late replies: start afresh, before anything
            // else can fail.
            if let Some(fresh) = connect(url) {
                *transport = fresh;
            }
            match cut_off {
                Attempt::TookTooLong => Err(anyhow::anyhow!("the mail server took over {} s", SEND_LIMIT.as_secs())),
                _ => return Ok(true),
            }
        }
    };
    // A database that is restarting must not turn a sent mail into a second
    // send: the outcome is recorded again for a while (late is harmless,
    // the lease fences it) before the lease is left to bring the mail back.
    let give_up_at = tokio::time::Instant::now() + RECORD_RETRY;
    let (recorded, failure) = loop {
        match record(db, config, &mail, &outcome).await {
            Ok(done) => break done,
            Err(e) if tokio::time::Instant::now() < give_up_at && !*stop.borrow() => {
                tracing::warn!(mail_id = mail.id, error = %e, "mail outcome not recorded yet; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    };
    match (recorded, failure) {
        (false, _) => tracing::warn!(mail_id = mail.id, "outcome dropped: another claim took the mail over"),
        (true, None) => {
            tracing::info!(mail_id = mail.id, to_domain = %domain, "mail sent");
            metrics::counter!("panel_mails_sent_total").increment(1);
        }
        (true, Some(failure)) => metrics::counter!("panel_mail_failures_total", "outcome" => failure).increment(1),
    }
    Ok(true)
}

/// How long a worker keeps trying to record an outcome the database did
/// not take (well within the claim's spare half minute).
const RECORD_RETRY: Duration = Duration::from_secs(20);

/// Records a try's outcome while the claim's lease is unchanged: whether it
/// was recorded, and the failure counter it adds to (none: sent).
async fn record(
    db: &PgPool,
    config: &Config,
    mail: &Due,
    outcome: &anyhow::Result<()>,
) -> Result<(bool, Option<&'static str>), sqlx::Error> {
    let mut tx = crate::db::begin(db).await?;
    let done = match outcome {
        Ok(()) => {
            let done = sqlx::query!(
                "UPDATE mail_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL
                 WHERE id = $1 AND next_attempt_at = $2",
                mail.id,
                mail.leased_until
            )
            .execute(&mut *tx)
            .await?;
            (done.rows_affected() == 1, None)
        }
        Err(e) => {
            let attempts = mail.attempts + 1;
            let give_up = attempts >= config.mail_max_attempts;
            let delay = retry_delay(config, attempts);
            let done = sqlx::query!(
                "UPDATE mail_outbox SET attempts = $2, last_error = $3,
                        status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                        next_attempt_at = now() + make_interval(secs => $5)
                 WHERE id = $1 AND next_attempt_at = $6",
                mail.id,
                attempts,
                e.to_string(),
                give_up,
                delay.as_secs_f64(),
                mail.leased_until
            )
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                let domain = mail.to_email.rsplit('@').next().unwrap_or("");
                tracing::warn!(mail_id = mail.id, to_domain = %domain, attempts, give_up, error = %e, "mail not sent");
            }
            (done.rows_affected() == 1, Some(if give_up { "given_up" } else { "will_retry" }))
        }
    };
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
    Ok(done)
}

async fn deliver(config: &Config, transport: &Transport, mail: &Due) -> anyhow::Result<()> {
    let to: Mailbox = mail.to_email.parse()?;
    let message = Message::builder()
        .from(config.mail_from.clone())
        .to(to)
        .subject(&mail.subject)
        .multipart(MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone()))?;
    transport.send(message).await?;
    Ok(())
}

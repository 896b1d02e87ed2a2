//! The webhook worker: delivers each endpoint's events in the order they
//! happened, once each, with the mail outbox's retry and backoff.
//!
//! Only the oldest pending delivery of an endpoint is ever tried: while it
//! fails, the ones after it wait, so a receiver that recovers gets them in
//! order. That delivery is claimed with a lease (`crate::delivery`), so
//! while it is being posted the endpoint has nothing due: several lanes and
//! server copies never post the same event twice, nor two events of one
//! endpoint at once. Nothing stays locked while a slow receiver answers, so
//! the account's changes (each queues a delivery that references the
//! endpoint) and the owner's edits of the endpoint never wait for it.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use super::{address, signature};
use crate::{
    config::Config,
    delivery::{attempt, retry_delay, Attempt, CLAIM_LEASE},
};

/// Endpoints served at once, so a slow receiver (each try may take up to
/// the client's 10 s) holds up its own events, not every account's.
const LANES: usize = 4;

pub async fn run(db: PgPool, config: Arc<Config>, wakeup: Arc<Notify>, stop: watch::Receiver<bool>) {
    let client = match address::client(config.webhooks_allow_private) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; deliveries wait");
            return;
        }
    };
    let lanes: Vec<_> = (0..LANES)
        .map(|_| tokio::spawn(lane(db.clone(), config.clone(), client.clone(), wakeup.clone(), stop.clone())))
        .collect();
    for lane in lanes {
        if let Err(e) = lane.await {
            tracing::error!(error = %e, "a webhook lane ended abnormally");
        }
    }
}

/// One delivery at a time, until told to stop.
async fn lane(
    db: PgPool,
    config: Arc<Config>,
    client: reqwest::Client,
    wakeup: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match claim(&db).await {
            Ok(Some(due)) => {
                // A wake-up reaches one lane: one that found work passes it
                // on before its post, so a burst spreads over the lanes.
                wakeup.notify_one();
                if let Err(e) = deliver(&db, &config, &client, &due, &mut stop).await {
                    tracing::warn!(error = %e, delivery_id = due.id, "webhook outcome not recorded; tried again after the lease");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "webhook worker could not reach the database"),
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(config.mail_poll_interval) => {}
            _ = stop.changed() => return,
        }
    }
}

struct Due {
    id: i64,
    /// The claim's lease: the outcome is recorded only while it is unchanged.
    leased_until: OffsetDateTime,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    body: String,
    attempts: i32,
    url: String,
    secret: String,
}

/// Claims the head delivery of one due endpoint. The endpoint's row is
/// locked only for this statement, and with `NO KEY`, which the foreign-key
/// checks of new deliveries do not wait for. The outer conditions are
/// checked again on the newest row: a lane whose snapshot predates another's
/// claim takes nothing.
async fn claim(db: &PgPool) -> Result<Option<Due>, sqlx::Error> {
    sqlx::query_as!(
        Due,
        r#"UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $1)
           FROM (SELECT head.id, e.url, e.secret
                 FROM webhook_endpoints e
                 CROSS JOIN LATERAL (SELECT id, next_attempt_at
                                     FROM webhook_deliveries
                                     WHERE endpoint_id = e.id AND status = 'pending'
                                     ORDER BY id LIMIT 1) head
                 WHERE head.next_attempt_at <= now()
                 ORDER BY head.next_attempt_at, head.id
                 LIMIT 1 FOR NO KEY UPDATE OF e SKIP LOCKED) due
           WHERE d.id = due.id AND d.status = 'pending' AND d.next_attempt_at <= now()
           RETURNING d.id, d.next_attempt_at AS leased_until, d.endpoint_id, d.event_id, d.event_type, d.body,
                     d.attempts, due.url AS "url!", due.secret AS "secret!""#,
        CLAIM_LEASE.as_secs_f64()
    )
    .fetch_optional(db)
    .await
}

/// Posts a claimed delivery and records how it went.
async fn deliver(
    db: &PgPool,
    config: &Config,
    client: &reqwest::Client,
    due: &Due,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), sqlx::Error> {
    let outcome = match attempt(post(config, client, due), stop).await {
        Attempt::Done(outcome) => outcome,
        Attempt::TookTooLong => Err((None, "the endpoint took too long to answer".to_string())),
        Attempt::Stopped => return Ok(()),
    };
    // As for mail (`mail::worker`): a database that is restarting must not
    // turn a delivered event into a second delivery, so the outcome is
    // recorded again for a while; late is harmless, the lease fences it.
    let give_up_at = tokio::time::Instant::now() + RECORD_RETRY;
    let recorded = loop {
        match record(db, config, due, &outcome).await {
            Ok(n) => break n,
            Err(e) if tokio::time::Instant::now() < give_up_at && !*stop.borrow() => {
                tracing::warn!(delivery_id = due.id, error = %e, "webhook outcome not recorded yet; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    };
    match &outcome {
        _ if recorded == 0 => {
            tracing::warn!(delivery_id = due.id, "outcome dropped: another claim took the delivery over");
        }
        Ok(_) => {
            tracing::info!(delivery_id = due.id, endpoint_id = %due.endpoint_id, event = %due.event_type, "webhook delivered");
        }
        Err((_, error)) => {
            tracing::warn!(delivery_id = due.id, endpoint_id = %due.endpoint_id, attempts = due.attempts + 1, error = %error, "webhook not delivered");
        }
    }
    Ok(())
}

/// How long a lane keeps trying to record an outcome the database did not
/// take (well within the claim's spare half minute).
const RECORD_RETRY: Duration = Duration::from_secs(20);

/// Records a try's outcome while the claim's lease is unchanged; the rows
/// it changed (0: another claim took the delivery over).
async fn record(
    db: &PgPool,
    config: &Config,
    due: &Due,
    outcome: &Result<u16, (Option<u16>, String)>,
) -> Result<u64, sqlx::Error> {
    let done = match outcome {
        Ok(status) => sqlx::query!(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = now(),
                        response_status = $2, last_error = NULL
                 WHERE id = $1 AND next_attempt_at = $3",
            due.id,
            i32::from(*status),
            due.leased_until
        )
        .execute(db)
        .await?
        .rows_affected(),
        Err((status, error)) => {
            let attempts = due.attempts + 1;
            let give_up = attempts >= config.mail_max_attempts;
            sqlx::query!(
                "UPDATE webhook_deliveries SET attempts = $2, last_attempt_at = now(), response_status = $3,
                        last_error = $4, status = CASE WHEN $5 THEN 'failed' ELSE 'pending' END,
                        next_attempt_at = now() + make_interval(secs => $6)
                 WHERE id = $1 AND next_attempt_at = $7",
                due.id,
                attempts,
                status.map(i32::from),
                error,
                give_up,
                retry_delay(config, attempts).as_secs_f64(),
                due.leased_until
            )
            .execute(db)
            .await?
            .rows_affected()
        }
    };
    Ok(done)
}

/// Posts one delivery. Ok(status) for a 2xx answer; anything else (a
/// redirect included) is a failure with the status, if there was one.
async fn post(config: &Config, client: &reqwest::Client, due: &Due) -> Result<u16, (Option<u16>, String)> {
    // An endpoint's address is checked again: an address literal is not
    // looked up, so the resolver alone would not see it.
    if let Err(e) = address::check(&due.url, config.webhooks_allow_private, &config.webhook_ports).await {
        return Err((None, e.to_string()));
    }
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let answer = client
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER, signature::sign(&due.secret, timestamp, &due.body))
        .header("panel-event", &due.event_type)
        .header("panel-event-id", due.event_id.to_string())
        .header("panel-delivery", due.id.to_string())
        .body(due.body.clone())
        .send()
        .await;
    match answer {
        Ok(res) if res.status().is_success() => Ok(res.status().as_u16()),
        Ok(res) if res.status().is_redirection() => {
            Err((Some(res.status().as_u16()), "the endpoint answered with a redirect, which is not followed".into()))
        }
        Ok(res) => Err((Some(res.status().as_u16()), format!("the endpoint answered {}", res.status()))),
        Err(e) => {
            let (reason, detail) = describe(e);
            tracing::warn!(delivery_id = due.id, endpoint_id = %due.endpoint_id, error = %detail, "webhook connection failed");
            Err((None, reason.to_string()))
        }
    }
}

/// A transport error as the owner sees it, and in full for the server log.
/// The owner gets only the kind of failure: the full text (refused, reset,
/// which TLS alert) would tell them whether a port is open on a host they
/// name, which makes the form a port scanner. The URL is left out of both:
/// receivers often carry a secret in its path.
fn describe(e: reqwest::Error) -> (&'static str, String) {
    let timed_out = e.is_timeout();
    let detail: String = crate::error::chain(&e.without_url()).chars().take(500).collect();
    let lower = detail.to_lowercase();
    let reason = if timed_out {
        "the endpoint took too long to answer"
    } else if ["certificate", "tls", "handshake"].iter().any(|w| lower.contains(w)) {
        "TLS failed: the endpoint's certificate or encryption was not accepted"
    } else {
        "could not connect to the endpoint"
    };
    (reason, detail)
}

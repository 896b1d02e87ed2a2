//! Paying an invoice (View & Pay Invoices), from account credit or through
//! the payment gateway, exactly once.
//!
//! Credit is ours: one transaction debits it and marks the invoice paid.
//! The gateway is not: a pending attempt with an idempotency key is written
//! and committed first, the gateway is called outside any transaction, and
//! the payment completes after it answers. A retry (a crash, a lost answer,
//! a second click) reuses the pending attempt's key, so the gateway charges
//! at most once, and an invoice is never marked paid without a charge.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    notify,
    providers::{self, GatewayError, PaymentGateway},
};
use crate::{
    auth::{csrf::CsrfForm, session::Member},
    change::{AccountChange, Target},
    domain::{audit::AuditAction, money},
    error::AppError,
    state::AppState,
    web::ClientIp,
};

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PayForm {
    method: String,
}

struct Unpaid {
    number: i64,
    total_cents: i64,
}

/// Locks an invoice of the active account and checks there is something to
/// pay: 404 for another account's, 409 when it is not unpaid.
async fn lock_unpaid(conn: &mut PgConnection, m: &Member, id: Uuid) -> Result<Unpaid, AppError> {
    let inv = sqlx::query!(
        "SELECT number, status, total_cents FROM invoices WHERE id = $1 AND account_id = $2 FOR UPDATE",
        id,
        m.account.id
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| super::not_found("invoice"))?;
    if inv.status != "Unpaid" {
        return Err(AppError::Conflict(format!("Invoice #{} is {}: there is nothing to pay.", inv.number, inv.status)));
    }
    Ok(Unpaid { number: inv.number, total_cents: inv.total_cents })
}

pub async fn pay(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<PayForm>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &m, &ip).await?;
    // The row lock makes two payments at once wait for each other; the
    // second then sees "Paid" and is refused.
    let inv = lock_unpaid(&mut change, &m, id).await?;
    match f.method.as_str() {
        "credit" => {
            // A gateway payment on its way may already have charged: paying
            // from credit now could charge twice.
            if gateway_payment_pending(&mut change, id).await? {
                return Err(AppError::Conflict(format!(
                    "A payment of invoice #{} through the payment gateway is still being completed. Reload the page \
                     in a moment before paying again.",
                    inv.number
                )));
            }
            let paid = sqlx::query!(
                "UPDATE accounts SET credit_cents = credit_cents - $2 WHERE id = $1 AND credit_cents >= $2",
                m.account.id,
                inv.total_cents
            )
            .execute(&mut *change)
            .await?;
            if paid.rows_affected() == 0 {
                return Err(AppError::Conflict(format!(
                    "The account credit is less than {}. Pay through the payment gateway instead.",
                    money::format(inv.total_cents)
                )));
            }
            let reference = format!("CREDIT-{}", inv.number);
            complete(change, &m, id, &inv, "Account credit", &reference).await
        }
        "gateway" => {
            drop(change);
            pay_through_gateway(&state, &ip, &m, id).await
        }
        _ => Err(AppError::BadRequest("Choose how to pay: account credit or the payment gateway.".into())),
    }
}

async fn pay_through_gateway(state: &AppState, ip: &str, m: &Member, id: Uuid) -> Result<Response, AppError> {
    let gateway = providers::payment_gateway(&state.config, &state.db)?;
    // Step 1: the attempt and its key, committed before the gateway is called.
    let (key, inv) = {
        let mut tx = crate::db::begin(&state.db).await?;
        let inv = lock_unpaid(&mut tx, m, id).await?;
        let pending =
            sqlx::query_scalar!("SELECT id FROM payment_attempts WHERE invoice_id = $1 AND status = 'pending'", id)
                .fetch_optional(&mut *tx)
                .await?;
        let key = match pending {
            Some(key) => key,
            None => {
                let key = Uuid::new_v4();
                sqlx::query!(
                    "INSERT INTO payment_attempts (id, invoice_id, account_id, gateway, amount_cents)
                     VALUES ($1, $2, $3, $4, $5)",
                    key,
                    id,
                    m.account.id,
                    gateway.name(),
                    inv.total_cents
                )
                .execute(&mut *tx)
                .await?;
                key
            }
        };
        tx.commit().await?;
        (key, inv)
    };
    // Step 2: the charge, holding no lock while the gateway thinks.
    let reference = match gateway.charge(key, inv.number, inv.total_cents).await {
        Ok(reference) => reference,
        Err(GatewayError::Declined(why)) => {
            sqlx::query!(
                "UPDATE payment_attempts SET status = 'declined', finished_at = now() WHERE id = $1 AND status = 'pending'",
                key
            )
            .execute(&state.db)
            .await?;
            return Err(AppError::Conflict(format!("The payment was declined: {why}")));
        }
        Err(GatewayError::Unavailable(why)) => {
            tracing::warn!(invoice = inv.number, error = %why, "payment gateway did not answer");
            return Err(AppError::Unavailable);
        }
    };
    // Step 3: complete, once, whichever try gets here first.
    let mut change = AccountChange::by_member(state, m, ip).await?;
    let inv = match lock_unpaid(&mut change, m, id).await {
        Ok(inv) => inv,
        Err(closed) => {
            // Charged, but the invoice was closed meanwhile (which the
            // credit path refuses while this attempt is pending): the
            // attempt stays pending and the charge is logged for a refund.
            tracing::error!(invoice = %id, key = %key, reference = %reference, "gateway charged a closed invoice; refund it");
            return Err(closed);
        }
    };
    let completed = sqlx::query!(
        "UPDATE payment_attempts SET status = 'completed', reference = $2, finished_at = now()
         WHERE id = $1 AND status = 'pending'",
        key,
        reference
    )
    .execute(&mut *change)
    .await?;
    if completed.rows_affected() == 0 {
        return Err(AppError::Conflict(format!(
            "Invoice #{}'s payment is being completed. Reload the page.",
            inv.number
        )));
    }
    complete(change, m, id, &inv, gateway.name(), &reference).await
}

async fn gateway_payment_pending(conn: &mut PgConnection, invoice_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payment_attempts WHERE invoice_id = $1 AND status = 'pending') AS "pending!""#,
        invoice_id
    )
    .fetch_one(conn)
    .await
}

/// Records the transaction, marks the invoice paid, starts what it paid for,
/// and tells the account.
async fn complete(
    mut change: AccountChange<'_>,
    m: &Member,
    id: Uuid,
    inv: &Unpaid,
    via: &str,
    reference: &str,
) -> Result<Response, AppError> {
    let (number, total) = (inv.number, inv.total_cents);
    sqlx::query!(
        "INSERT INTO transactions (id, account_id, invoice_id, gateway, reference, amount_cents)
         VALUES ($1, $2, $3, $4, $5, $6)",
        Uuid::new_v4(),
        m.account.id,
        id,
        via,
        reference,
        total
    )
    .execute(&mut *change)
    .await?;
    sqlx::query!("UPDATE invoices SET status = 'Paid', paid_at = now() WHERE id = $1", id)
        .execute(&mut *change)
        .await?;
    // An order's service starts, and a paid-for upgrade applies, once its
    // invoice is paid.
    sqlx::query!(
        "UPDATE services SET status = 'Active'
         WHERE account_id = $1 AND status = 'Pending' AND id IN (SELECT service_id FROM order_invoices WHERE invoice_id = $2)",
        m.account.id,
        id
    )
    .execute(&mut *change)
    .await?;
    sqlx::query!(
        "UPDATE services s SET product_id = u.product_id, amount_cents = u.amount_cents
         FROM pending_upgrades u WHERE u.invoice_id = $2 AND s.id = u.service_id AND s.account_id = $1",
        m.account.id,
        id
    )
    .execute(&mut *change)
    .await?;
    let details = serde_json::json!({ "invoice": number, "amount": money::format(total), "via": via });
    change.audit(AuditAction::InvoicePaid, Target::default(), details).await?;
    let line = format!(
        "We received {} for invoice #{number} ({via}, reference {reference}). Thank you.",
        money::format(total)
    );
    let subject = format!("Payment received for invoice #{number}");
    notify::send(&mut change, notify::Kind::Invoices, None, &subject, &[line]).await?;
    change.finish(&format!("Invoice #{number} is paid. Thank you!"), &format!("/invoices/{id}")).await
}

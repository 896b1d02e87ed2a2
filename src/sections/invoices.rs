//! View & Pay Invoices: invoices with their lines; paying an unpaid one from
//! account credit or through the payment gateway records one transaction
//! and marks it paid, exactly once.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use super::{
    notify,
    providers::{PaymentGateway, TestGateway},
    SectionRoutes,
};
use crate::{
    auth::{csrf::CsrfForm, session::Member},
    change::{AccountChange, Target},
    domain::{audit::AuditAction, money, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Invoices)
        .get("/invoices", index)
        .get("/invoices/{invoice}", show)
        .post("/invoices/{invoice}/pay", pay)
}

#[derive(sqlx::FromRow)]
pub struct Invoice {
    id: Uuid,
    number: i64,
    status: String,
    issued_on: Date,
    due_on: Date,
    total_cents: i64,
}

#[derive(sqlx::FromRow)]
pub struct Line {
    pub description: String,
    pub amount_cents: i64,
}

/// Creates an unpaid invoice with `lines`, due in `due_days`; returns its
/// id and number. Used by orders and accepted quotes.
pub async fn create(
    conn: &mut PgConnection,
    account_id: Uuid,
    lines: &[Line],
    due_days: i32,
) -> Result<(Uuid, i64), sqlx::Error> {
    let id = Uuid::new_v4();
    let total: i64 = lines.iter().map(|l| l.amount_cents).sum();
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO invoices (id, account_id, status, due_on, total_cents) VALUES ($1, $2, 'Unpaid', current_date + $3, $4) RETURNING number",
    )
    .bind(id)
    .bind(account_id)
    .bind(due_days)
    .bind(total)
    .fetch_one(&mut *conn)
    .await?;
    let (descriptions, amounts): (Vec<&str>, Vec<i64>) =
        lines.iter().map(|l| (l.description.as_str(), l.amount_cents)).unzip();
    sqlx::query("INSERT INTO invoice_lines (invoice_id, description, amount_cents) SELECT $1, d, a FROM unnest($2::text[], $3::int8[]) AS t(d, a)")
        .bind(id)
        .bind(descriptions)
        .bind(amounts)
        .execute(&mut *conn)
        .await?;
    Ok((id, number))
}

#[derive(Template)]
#[template(path = "sections/invoices.html")]
struct IndexPage {
    layout: Layout,
    invoices: Vec<Invoice>,
}

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let invoices = sqlx::query_as(
        "SELECT id, number, status, issued_on, due_on, total_cents FROM invoices WHERE account_id = $1 ORDER BY issued_on DESC, number DESC LIMIT 100",
    )
    .bind(m.account.id)
    .fetch_all(&state.db)
    .await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), invoices })
}

#[derive(Template)]
#[template(path = "sections/invoice.html")]
struct ShowPage {
    layout: Layout,
    i: Invoice,
    lines: Vec<Line>,
    credit_cents: i64,
}

async fn show(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let i: Invoice = sqlx::query_as(
        "SELECT id, number, status, issued_on, due_on, total_cents FROM invoices WHERE id = $1 AND account_id = $2",
    )
    .bind(id)
    .bind(m.account.id)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| super::not_found("invoice"))?;
    let (lines, credit_cents) = tokio::try_join!(
        sqlx::query_as::<_, Line>(
            "SELECT description, amount_cents FROM invoice_lines WHERE invoice_id = $1 ORDER BY id"
        )
        .bind(id)
        .fetch_all(&state.db),
        sqlx::query_scalar::<_, i64>("SELECT credit_cents FROM accounts WHERE id = $1")
            .bind(m.account.id)
            .fetch_one(&state.db),
    )?;
    web::render(&ShowPage { layout: Layout::of(&m.user), i, lines, credit_cents })
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PayForm {
    method: String,
}

async fn pay(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<PayForm>,
) -> Result<Response, AppError> {
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    // The row lock makes two payments at once wait for each other; the
    // second then sees "Paid" and is refused.
    let inv: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT number, status, total_cents FROM invoices WHERE id = $1 AND account_id = $2 FOR UPDATE")
            .bind(id)
            .bind(m.account.id)
            .fetch_optional(&mut *tx)
            .await?;
    let (number, status, total) = inv.ok_or_else(|| super::not_found("invoice"))?;
    let from_credit = match f.method.as_str() {
        "credit" => true,
        "gateway" => false,
        _ => return Err(AppError::BadRequest("Choose how to pay: account credit or the payment gateway.".into())),
    };
    if status != "Unpaid" {
        return Err(AppError::Conflict(format!("Invoice #{number} is {status}: there is nothing to pay.")));
    }
    let (gateway, reference) = if from_credit {
        let paid =
            sqlx::query("UPDATE accounts SET credit_cents = credit_cents - $2 WHERE id = $1 AND credit_cents >= $2")
                .bind(m.account.id)
                .bind(total)
                .execute(&mut *tx)
                .await?;
        if paid.rows_affected() == 0 {
            return Err(AppError::Conflict(format!(
                "The account credit is less than {}. Pay through the payment gateway instead.",
                money::format(total)
            )));
        }
        ("Account credit".to_string(), format!("CREDIT-{number}"))
    } else {
        let reference = TestGateway
            .charge(number, total)
            .await
            .map_err(|e| AppError::Conflict(format!("The payment was declined: {e}")))?;
        (TestGateway.name().to_string(), reference)
    };
    sqlx::query("INSERT INTO transactions (id, account_id, invoice_id, gateway, reference, amount_cents) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Uuid::new_v4()).bind(m.account.id).bind(id).bind(&gateway).bind(&reference).bind(total)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE invoices SET status = 'Paid', paid_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // An order's service starts, and a paid-for upgrade applies, once its
    // invoice is paid.
    sqlx::query("UPDATE services SET status = 'Active' WHERE account_id = $1 AND status = 'Pending' AND id IN (SELECT service_id FROM order_invoices WHERE invoice_id = $2)")
        .bind(m.account.id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE services s SET product_id = u.product_id, amount_cents = u.amount_cents
         FROM pending_upgrades u WHERE u.invoice_id = $2 AND s.id = u.service_id AND s.account_id = $1",
    )
    .bind(m.account.id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.audit(
        AuditAction::InvoicePaid,
        Target::default(),
        serde_json::json!({ "invoice": number, "amount": money::format(total), "via": gateway }),
    )
    .await?;
    notify::send(
        &mut tx,
        m.account.id,
        notify::Kind::Invoices,
        &format!("Payment received for invoice #{number}"),
        &[format!(
            "We received {} for invoice #{number} ({gateway}, reference {reference}). Thank you.",
            money::format(total)
        )],
    )
    .await?;
    tx.finish(&format!("Invoice #{number} is paid. Thank you!"), &format!("/invoices/{id}")).await
}

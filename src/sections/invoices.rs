//! View & Pay Invoices: invoices with their lines (paying one is in
//! `payment.rs`).

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use super::{
    providers::{self, PaymentGateway},
    SectionRoutes,
};
use crate::{
    auth::session::Member,
    domain::permissions::Permission,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Invoices)
        .get("/invoices", index)
        .get("/invoices/{invoice}", show)
        .post("/invoices/{invoice}/pay", super::payment::pay)
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
    /// The payment gateway's name, or None when none is connected.
    gateway: Option<&'static str>,
    not_connected: &'static str,
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
    let gateway = providers::payment_gateway(&state.config, &state.db).ok().map(|g| g.name());
    let not_connected = providers::PAYMENT_NOT_CONNECTED;
    web::render(&ShowPage { layout: Layout::of(&m.user), i, lines, credit_cents, gateway, not_connected })
}

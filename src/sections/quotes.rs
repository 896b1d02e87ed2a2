//! View & Accept Quotes: accepting an open, unexpired quote records it and
//! creates its invoice, once.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use time::Date;
use uuid::Uuid;

use super::{
    invoices::{self, Line},
    notify, SectionRoutes,
};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Member,
    },
    change::{AccountChange, Target},
    domain::{audit::AuditAction, money, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Quotes)
        .get("/quotes", index)
        .get("/quotes/{quote}", show)
        .post("/quotes/{quote}/accept", accept)
}

#[derive(sqlx::FromRow)]
struct Quote {
    id: Uuid,
    number: i64,
    subject: String,
    status: String,
    valid_until: Date,
    total_cents: i64,
    expired: bool,
    invoice_id: Option<Uuid>,
}

impl Quote {
    fn shown_status(&self) -> &str {
        if self.status == "Open" && self.expired {
            "Expired"
        } else {
            &self.status
        }
    }
}

const COLUMNS: &str =
    "id, number, subject, status, valid_until, total_cents, valid_until < current_date AS expired, invoice_id";

#[derive(Template)]
#[template(path = "sections/quotes.html")]
struct IndexPage {
    layout: Layout,
    quotes: Vec<Quote>,
}

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let quotes =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM quotes WHERE account_id = $1 ORDER BY number DESC LIMIT 100"))
            .bind(m.account.id)
            .fetch_all(&state.db)
            .await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), quotes })
}

#[derive(Template)]
#[template(path = "sections/quote.html")]
struct ShowPage {
    layout: Layout,
    q: Quote,
    lines: Vec<Line>,
    can_pay: bool,
}

async fn show(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let q: Quote = sqlx::query_as(&format!("SELECT {COLUMNS} FROM quotes WHERE id = $1 AND account_id = $2"))
        .bind(id)
        .bind(m.account.id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| super::not_found("quote"))?;
    let lines = sqlx::query_as("SELECT description, amount_cents FROM quote_lines WHERE quote_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&state.db)
        .await?;
    let can_pay = m.account.allows(Permission::Invoices);
    web::render(&ShowPage { layout: Layout::of(&m.user), q, lines, can_pay })
}

async fn accept(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    let q: Quote =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM quotes WHERE id = $1 AND account_id = $2 FOR UPDATE"))
            .bind(id)
            .bind(m.account.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| super::not_found("quote"))?;
    if q.status == "Accepted" {
        return Err(AppError::Conflict(format!("Quote #{} was already accepted.", q.number)));
    }
    if q.expired {
        return Err(AppError::Conflict(format!(
            "Quote #{} expired on {}. Ask us for a new quote in a support ticket.",
            q.number, q.valid_until
        )));
    }
    let lines: Vec<Line> =
        sqlx::query_as("SELECT description, amount_cents FROM quote_lines WHERE quote_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    let (invoice_id, invoice_number) = invoices::create(&mut tx, m.account.id, &lines, 14).await?;
    sqlx::query("UPDATE quotes SET status = 'Accepted', accepted_at = now(), invoice_id = $2 WHERE id = $1")
        .bind(id)
        .bind(invoice_id)
        .execute(&mut *tx)
        .await?;
    tx.audit(
        AuditAction::QuoteAccepted,
        Target::default(),
        serde_json::json!({ "quote": q.number, "invoice": invoice_number }),
    )
    .await?;
    notify::send(
        &mut tx,
        notify::Kind::Invoices,
        None,
        &format!("Invoice #{invoice_number} for quote #{}", q.number),
        &[format!(
            "{} accepted quote #{} ({}). Invoice #{invoice_number} of {} is due in 14 days.",
            m.user.name,
            q.number,
            q.subject,
            money::format(q.total_cents)
        )],
    )
    .await?;
    // Back to the quote, which the member may see whatever else they hold;
    // it links to the invoice only for those who may open it.
    tx.finish(
        &format!("Quote #{} accepted. Invoice #{invoice_number} was created.", q.number),
        &format!("/quotes/{id}"),
    )
    .await
}

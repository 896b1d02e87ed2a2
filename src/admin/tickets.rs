//! Support tickets across accounts: the open ones, a thread, and replies.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, TicketRow};
use crate::{
    auth::{csrf::CsrfForm, session::Staff},
    change::AccountChange,
    error::AppError,
    layout::Layout,
    sections::{notify, tickets},
    state::AppState,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "admin/tickets.html")]
struct TicketsPage {
    layout: Layout,
    tickets: Vec<TicketRow>,
}

pub async fn index(State(state): State<AppState>, Staff(me): Staff) -> Result<Response, AppError> {
    let tickets = store::open_tickets(&state.db).await?;
    web::render(&TicketsPage { layout: Layout::of(&me), tickets })
}

#[derive(Template)]
#[template(path = "admin/ticket.html")]
struct TicketPage {
    layout: Layout,
    t: TicketRow,
    thread: tickets::Thread,
    error: Option<String>,
}

async fn find(state: &AppState, id: Uuid) -> Result<TicketRow, AppError> {
    store::ticket(&state.db, id).await?.ok_or_else(|| AppError::NotFound("There is no such ticket.".into()))
}

pub async fn show(
    State(state): State<AppState>,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    Query(q): Query<tickets::ThreadQuery>,
) -> Result<Response, AppError> {
    let t = find(&state, id).await?;
    let thread = tickets::thread(&state.db, id, q.before()).await?;
    web::render(&TicketPage { layout: Layout::of(&me), t, thread, error: None })
}

#[derive(Deserialize)]
pub struct ReplyForm {
    message: String,
}

pub async fn reply(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<ReplyForm>,
) -> Result<Response, AppError> {
    let t = find(&state, id).await?;
    let body = match tickets::check_body(&f.message) {
        Ok(b) => b,
        Err(e) => {
            let thread = tickets::thread(&state.db, id, None).await?;
            let page = TicketPage { layout: Layout::of(&me), t, thread, error: Some(e) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut change = AccountChange::by_staff(&state, &me, Some(t.account_id), &ip).await?;
    store::lock_ticket(&mut change, id).await?;
    tickets::add_message(&mut change, id, me.id, true, &body).await?;
    tickets::set_status(&mut change, id, "Answered").await?;
    let subject = format!("Ticket #{} answered: {}", t.number, t.subject);
    let lines = [format!("Support answered ticket #{}:", t.number), body];
    notify::send(&mut change, notify::Kind::Support, Some(id), &subject, &lines).await?;
    change.finish("Reply sent.", &format!("/admin/tickets/{id}")).await
}

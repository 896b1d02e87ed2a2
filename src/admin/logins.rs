//! A client login for staff: its details and accounts; end its sessions,
//! disable or enable it.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use uuid::Uuid;

use super::store::{self, LoginAction};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{CurrentUser, Staff},
    },
    change::{AccountChange, Target},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    u: store::UserView,
    accounts: Vec<store::UserAccount>,
}

pub async fn page(State(state): State<AppState>, Staff(me): Staff, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let (u, accounts) = tokio::try_join!(store::user(&state.db, id), store::accounts_of(&state.db, id))?;
    let u = u.ok_or_else(super::user_not_found)?;
    web::render(&UserPage { layout: Layout::of(&me), u, accounts })
}

/// Runs one staff action on a client login, with its audit event.
async fn act(
    state: &AppState,
    me: &CurrentUser,
    ip: &str,
    id: Uuid,
    action: LoginAction,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_staff(state, me, None, ip).await?;
    let email = store::lock_client_login(&mut change, id).await?.ok_or_else(super::user_not_found)?;
    store::apply(&mut change, action, id).await?;
    change.audit(action.audited_as(), Target { user_id: Some(id), email: Some(&email) }, serde_json::json!({})).await?;
    change.finish(action.done(), &format!("/admin/users/{id}")).await
}

pub async fn end_sessions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    act(&state, &me, &ip, id, LoginAction::EndSessions).await
}

pub async fn disable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    act(&state, &me, &ip, id, LoginAction::Disable).await
}

pub async fn enable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    act(&state, &me, &ip, id, LoginAction::Enable).await
}

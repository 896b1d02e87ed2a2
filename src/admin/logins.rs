//! A client login for staff: its details and accounts; end its sessions,
//! disable or enable it.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, LoginAction};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{CurrentUser, Staff},
    },
    change::{AccountChange, Target},
    domain::audit::AuditAction,
    error::AppError,
    layout::Layout,
    security,
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

#[derive(Deserialize)]
pub struct ResetForm {
    reason: String,
}

/// Turns a client's two-factor sign-in off (they lost their phone and their
/// recovery codes): a reason is required, the change is audited and the
/// client mailed. Staff can never turn it on for anyone.
pub async fn reset_two_factor(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response, AppError> {
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(AppError::BadRequest(
            "Give a reason (up to 1000 characters): it goes into the audit log and the mail to the client. Nothing was changed."
                .into(),
        ));
    }
    let mut change = AccountChange::by_staff(&state, &me, None, &ip).await?;
    let email = store::lock_client_login(&mut change, id).await?.ok_or_else(super::user_not_found)?;
    if !security::store::two_factor_on(&mut *change, id).await? {
        return Err(AppError::Conflict(format!("{email} does not use two-factor sign-in.")));
    }
    security::store::remove_every_factor(&mut change, id).await?;
    let details = serde_json::json!({ "reason": reason });
    change.audit(AuditAction::TwoFactorReset, Target { user_id: Some(id), email: Some(&email) }, details).await?;
    security::notices::reset_by_support(&mut change, &state.config, id, reason).await?;
    change
        .finish(&format!("Two-factor sign-in is off for {email}, who has been mailed."), &format!("/admin/users/{id}"))
        .await
}

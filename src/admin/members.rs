//! Staff helping with an account's invitations and members, on the owner's
//! behalf: through the same code as User Management, audited as staff.

use axum::{
    extract::{Path, State},
    response::Response,
};
use uuid::Uuid;

use super::store;
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Staff,
    },
    change::AccountChange,
    domain::permissions::Grant,
    error::AppError,
    invitations::send::{self, Inviter},
    state::AppState,
    users::{store as members, GrantForm},
    web::ClientIp,
};

fn not_a_member() -> AppError {
    AppError::NotFound("That person is not a member of this account.".into())
}

pub async fn resend_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, inv)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let owner = store::owner_of(&state.db, id).await?.ok_or_else(super::account_not_found)?;
    let from = Inviter {
        account_id: id,
        account_name: &owner.account_name,
        owner_name: &owner.owner_name,
        owner_email: &owner.owner_email,
        config: &state.config,
    };
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    let email = send::resend(&mut change, &from, inv).await?;
    change.finish(&format!("A new invitation was sent to {email}."), &format!("/admin/accounts/{id}")).await
}

pub async fn cancel_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, inv)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    let email = send::cancel(&mut change, id, inv).await?;
    change.finish(&format!("The invitation to {email} was cancelled."), &format!("/admin/accounts/{id}")).await
}

pub async fn set_permissions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, AppError> {
    let grant = Grant::parse(&form.mode, &form.permissions)
        .map_err(|e| AppError::BadRequest(format!("{e} Nothing was changed.")))?;
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    if !members::set_permissions(&mut change, user_id, &grant).await? {
        return Err(not_a_member());
    }
    change.finish(&format!("Permissions saved: {}.", grant.describe()), &format!("/admin/accounts/{id}")).await
}

pub async fn remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    if !members::remove(&mut change, user_id).await? {
        return Err(not_a_member());
    }
    change.finish("Access removed.", &format!("/admin/accounts/{id}")).await
}

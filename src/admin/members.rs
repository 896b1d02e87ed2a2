//! Staff helping with an account's invitations and members, on the owner's
//! behalf: through the same code as User Management, audited as staff.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::store;
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Staff,
    },
    change::AccountChange,
    domain::{end_date, permissions::Grant},
    error::AppError,
    invitations::send::{self, Inviter},
    layout::Layout,
    state::AppState,
    users::{
        scope::{self, ScopeChoice},
        store::{self as members, MemberRow},
        GrantChoice,
    },
    web::{self, ClientIp},
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
        confirmed: true,
        config: &state.config,
    };
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    let email = match send::resend(&mut change, &from, inv).await {
        Ok(email) => email,
        Err(e) => return Err(send::refusal(change, e).await),
    };
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

#[derive(Template)]
#[template(path = "admin/member_permissions.html")]
struct PermissionsPage {
    layout: Layout,
    account_id: Uuid,
    account_name: String,
    member: MemberRow,
    grant: GrantChoice,
    /// The end date as typed (a day), or empty.
    access_until: String,
    scope: ScopeChoice,
    reason: String,
    error: Option<String>,
}

/// The member and the account's name, or 404.
async fn member(state: &AppState, id: Uuid, user_id: Uuid) -> Result<(MemberRow, String), AppError> {
    let owner = store::owner_of(&state.db, id).await?.ok_or_else(super::account_not_found)?;
    let member = members::member(&state.db, id, user_id).await?.ok_or_else(not_a_member)?;
    Ok((member, owner.account_name))
}

/// Staff's Manage Permissions: the owner's grant form, plus a reason.
pub async fn permissions_page(
    State(state): State<AppState>,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, AppError> {
    let (member, account_name) = member(&state, id, user_id).await?;
    let grant = GrantChoice::of(&member.grant());
    let scope = ScopeChoice::of(&state.db, id, member.scope.as_deref()).await?;
    let page = PermissionsPage {
        layout: Layout::of(&me),
        account_id: id,
        account_name,
        access_until: member.access_until_day(),
        member,
        grant,
        scope,
        reason: String::new(),
        error: None,
    };
    web::render(&page)
}

#[derive(Deserialize)]
pub struct StaffGrantForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    access_until: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    scope_ids: Vec<String>,
    #[serde(default)]
    scope_search: String,
    find: Option<String>,
    #[serde(default)]
    reason: String,
}

pub async fn set_permissions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    CsrfForm(form): CsrfForm<StaffGrantForm>,
) -> Result<Response, AppError> {
    let (member, account_name) = member(&state, id, user_id).await?;
    let scope = ScopeChoice::from_form(&state.db, id, &form.scope, &form.scope_ids, &form.scope_search).await?;
    // The form as sent: after Find (200), or refused (422).
    let as_sent = |error: Option<String>| -> Result<Response, AppError> {
        let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
        let page = PermissionsPage {
            layout: Layout::of(&me),
            account_id: id,
            account_name,
            member,
            grant: GrantChoice::from_form(&form.mode, &form.permissions),
            access_until: form.access_until.chars().take(20).collect(),
            scope,
            reason: form.reason.chars().take(1000).collect(),
            error,
        };
        Ok((status, web::render(&page)?).into_response())
    };
    if form.find.is_some() {
        return as_sent(None);
    }
    let reason = form.reason.trim();
    let today = state.config.clock.now().date();
    let checked = Grant::parse(&form.mode, &form.permissions).map_err(|e| e.to_string()).and_then(|grant| {
        let until = end_date::parse(&form.access_until, today).map_err(|e| e.to_string())?;
        match reason.chars().count() {
            0 => Err("Give a reason for the change: it goes into the audit log.".to_string()),
            1..=1000 => Ok((grant, until)),
            _ => Err("The reason is too long (at most 1000 characters).".to_string()),
        }
    });
    let (grant, until) = match checked {
        Ok(v) => v,
        Err(error) => return as_sent(Some(error)),
    };
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    let only = form.scope == "only";
    let scope = match scope::check(&mut change, id, only, &scope::ticked(&form.scope_ids)).await? {
        Ok(scope) => scope,
        Err(e) => {
            drop(change);
            return as_sent(Some(e.to_string()));
        }
    };
    let access = Some(members::Access { until, scope });
    if !members::set_permissions(&mut change, user_id, &grant, access, Some(reason)).await? {
        return Err(not_a_member());
    }
    change.finish(&format!("Permissions saved: {}.", grant.describe()), &format!("/admin/accounts/{id}")).await
}

#[derive(Template)]
#[template(path = "admin/member_remove.html")]
struct RemovePage {
    layout: Layout,
    account_id: Uuid,
    account_name: String,
    member: MemberRow,
}

/// Staff's Remove Access asks for Confirm, as the owner's does.
pub async fn remove_page(
    State(state): State<AppState>,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, AppError> {
    let (member, account_name) = member(&state, id, user_id).await?;
    web::render(&RemovePage { layout: Layout::of(&me), account_id: id, account_name, member })
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

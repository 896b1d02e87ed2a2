//! Invite New User, and Resend / Cancel in the invitation list.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    scope::{self, ScopeChoice},
    GrantChoice,
};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Owner,
    },
    change::AccountChange,
    domain::{
        email::Email,
        end_date,
        permissions::{Grant, Permission, PRESETS},
    },
    error::AppError,
    invitations::send::{self, InviteError, Inviter},
    layout::Layout,
    mail::MailKind,
    state::AppState,
    web::{self, ClientIp},
};

#[derive(Template)]
#[template(path = "users/invite.html")]
struct InvitePage {
    layout: Layout,
    email: String,
    grant: GrantChoice,
    /// The end date as typed (a day), or empty.
    access_until: String,
    scope: ScopeChoice,
    presets: &'static [(&'static str, &'static [Permission])],
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct InviteQuery {
    preset: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Query(q): Query<InviteQuery>,
) -> Result<Response, AppError> {
    // A preset ticks its boxes under Choose Permissions; it works without
    // JavaScript because it is a link.
    let grant = q.preset.as_deref().and_then(preset).unwrap_or_else(|| GrantChoice::of(&Grant::All));
    web::render(&InvitePage {
        layout: Layout::of(&me.user),
        email: String::new(),
        grant,
        access_until: String::new(),
        scope: ScopeChoice::of(&state.db, me.account.id, None).await?,
        presets: &PRESETS,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
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
    /// The pick list's Find button: show the list for the search, send nothing.
    find: Option<String>,
    /// A preset button was pressed: tick its boxes, keep the rest, send nothing.
    preset: Option<String>,
}

/// The preset whose button says `name` (or whose lower-case name is `name`).
fn preset(name: &str) -> Option<GrantChoice> {
    PRESETS
        .iter()
        .find(|(preset, _)| name == *preset || name == preset.to_lowercase())
        .map(|(_, keys)| GrantChoice::of(&Grant::Chosen(keys.iter().copied().collect())))
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, AppError> {
    // The form as sent: after a preset or Find (status 200), or refused.
    // Its pick list is read only then: a sent invitation does not need it.
    let as_sent = async |status: StatusCode, grant: GrantChoice, error: Option<String>| -> Result<Response, AppError> {
        let scope =
            ScopeChoice::from_form(&state.db, me.account.id, &form.scope, &form.scope_ids, &form.scope_search).await?;
        let page = InvitePage {
            layout: Layout::of(&me.user),
            email: form.email.chars().take(254).collect(),
            grant,
            access_until: form.access_until.chars().take(20).collect(),
            scope,
            presets: &PRESETS,
            error,
        };
        Ok((status, web::render(&page)?).into_response())
    };
    if let Some(name) = &form.preset {
        let grant = preset(name).ok_or_else(|| AppError::BadRequest(format!("\"{name}\" is not a preset.")))?;
        return as_sent(StatusCode::OK, grant, None).await;
    }
    if form.find.is_some() {
        return as_sent(StatusCode::OK, GrantChoice::from_form(&form.mode, &form.permissions), None).await;
    }
    let refuse = async |status: StatusCode, message: String| {
        as_sent(status, GrantChoice::from_form(&form.mode, &form.permissions), Some(message)).await
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).await,
    };
    let grant = match Grant::parse(&form.mode, &form.permissions) {
        Ok(g) => g,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).await,
    };
    let until = match end_date::parse(&form.access_until, state.config.clock.now().date()) {
        Ok(until) => until,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).await,
    };
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let only = form.scope == "only";
    let scope = match scope::check(&mut change, me.account.id, only, &scope::ticked(&form.scope_ids)).await? {
        Ok(scope) => scope,
        Err(e) => {
            drop(change);
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).await;
        }
    };
    let offer = send::Offered { grant: &grant, until, scope };
    match send::invite(&mut change, &Inviter::owner(&me, &state.config), &email, &offer).await {
        Ok(_) => change.finish(&format!("Invitation sent to {email}. It is valid for 7 days."), "/users").await,
        Err(InviteError::Internal(e)) => Err(e.into()),
        Err(e @ (InviteError::OverBudget(..) | InviteError::Cooldown(..))) => {
            if e.is_budget() {
                change.refused_by_mail_budget(MailKind::Invitation).await?;
            }
            refuse(StatusCode::TOO_MANY_REQUESTS, e.to_string()).await
        }
        Err(e) => refuse(StatusCode::CONFLICT, e.to_string()).await,
    }
}

pub async fn resend(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let email = match send::resend(&mut change, &Inviter::owner(&me, &state.config), id).await {
        Ok(email) => email,
        Err(e) => return Err(send::refusal(change, e).await),
    };
    change.finish(&format!("A new invitation was sent to {email}; the earlier link no longer works."), "/users").await
}

pub async fn cancel(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let email = send::cancel(&mut change, me.account.id, id).await?;
    change.finish(&format!("The invitation to {email} was cancelled."), "/users").await
}

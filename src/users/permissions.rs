//! Manage Permissions: change what a member may do.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    scope::{self, ScopeChoice},
    store::{self, Access, MemberRow},
    AccessForm, GrantChoice,
};
use crate::{
    auth::{
        csrf::CsrfForm,
        session::{Member, Owner},
    },
    change::AccountChange,
    domain::{end_date, permissions::Grant},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

#[derive(Template)]
#[template(path = "users/permissions.html")]
struct PermissionsPage {
    layout: Layout,
    member: MemberRow,
    grant: GrantChoice,
    /// The end date as typed (a day), or empty.
    access_until: String,
    scope: ScopeChoice,
    error: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    let grant = GrantChoice::of(&member.grant());
    let access_until = member.access_until_day();
    let scope = ScopeChoice::of(&state.db, me.account.id, member.scope.as_deref()).await?;
    web::render(&PermissionsPage { layout: Layout::of(&me.user), member, grant, access_until, scope, error: None })
}

/// The form again, as it was sent: after Find (200), or refused (422).
async fn as_sent(
    state: &AppState,
    me: &Member,
    member: MemberRow,
    form: &AccessForm,
    error: Option<String>,
) -> Result<Response, AppError> {
    let scope =
        ScopeChoice::from_form(&state.db, me.account.id, &form.scope, &form.scope_ids, &form.scope_search).await?;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = PermissionsPage {
        layout: Layout::of(&me.user),
        member,
        grant: GrantChoice::from_form(&form.mode, &form.permissions),
        access_until: form.access_until.chars().take(20).collect(),
        scope,
        error,
    };
    Ok((status, web::render(&page)?).into_response())
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
    CsrfForm(form): CsrfForm<AccessForm>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    if form.find.is_some() {
        return as_sent(&state, &me, member, &form, None).await;
    }
    let today = state.config.clock.now().date();
    let checked = Grant::parse(&form.mode, &form.permissions)
        .map_err(|e| e.to_string())
        .and_then(|g| Ok((g, end_date::parse(&form.access_until, today).map_err(|e| e.to_string())?)));
    let (grant, until) = match checked {
        Ok(v) => v,
        Err(message) => return as_sent(&state, &me, member, &form, Some(message)).await,
    };
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let only = form.scope == "only";
    let scope = match scope::check(&mut change, me.account.id, only, &scope::ticked(&form.scope_ids)).await? {
        Ok(scope) => scope,
        Err(e) => {
            drop(change);
            return as_sent(&state, &me, member, &form, Some(e.to_string())).await;
        }
    };
    let access = Some(Access { until, scope });
    if !store::set_permissions(&mut change, user_id, &grant, access, None).await? {
        return Err(super::not_a_member());
    }
    change.finish(&format!("Permissions of {} saved: {}.", member.name, grant.describe()), "/users").await
}

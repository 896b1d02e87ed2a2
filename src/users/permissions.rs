//! Manage Permissions: change what a member may do.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    store::{self, EndDate, MemberRow},
    AccessForm, GrantChoice,
};
use crate::{
    auth::{csrf::CsrfForm, session::Owner},
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
    web::render(&PermissionsPage { layout: Layout::of(&me.user), member, grant, access_until, error: None })
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
    CsrfForm(form): CsrfForm<AccessForm>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    let today = state.config.clock.now().date();
    let checked = Grant::parse(&form.mode, &form.permissions)
        .map_err(|e| e.to_string())
        .and_then(|g| Ok((g, end_date::parse(&form.access_until, today).map_err(|e| e.to_string())?)));
    let (grant, until) = match checked {
        Ok(v) => v,
        Err(message) => {
            let page = PermissionsPage {
                layout: Layout::of(&me.user),
                member,
                grant: GrantChoice::from_form(&form.mode, &form.permissions),
                access_until: form.access_until.chars().take(20).collect(),
                error: Some(message),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    if !store::set_permissions(&mut change, user_id, &grant, EndDate::To(until), None).await? {
        return Err(super::not_a_member());
    }
    change.finish(&format!("Permissions of {} saved: {}.", member.name, grant.describe()), "/users").await
}

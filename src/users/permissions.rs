//! Manage Permissions: change what a member may do.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    store::{self, MemberRow},
    GrantChoice, GrantForm,
};
use crate::{
    auth::{csrf::CsrfForm, session::Owner},
    change::AccountChange,
    domain::permissions::Grant,
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
    error: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    let grant = GrantChoice::of(&member.grant());
    web::render(&PermissionsPage { layout: Layout::of(&me.user), member, grant, error: None })
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    let grant = match Grant::parse(&form.mode, &form.permissions) {
        Ok(g) => g,
        Err(e) => {
            let page = PermissionsPage {
                layout: Layout::of(&me.user),
                member,
                grant: GrantChoice::from_form(&form.mode, &form.permissions),
                error: Some(e.to_string()),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    if !store::set_permissions(&mut change, user_id, &grant, None).await? {
        return Err(super::not_a_member());
    }
    change.finish(&format!("Permissions of {} saved: {}.", member.name, grant.describe()), "/users").await
}

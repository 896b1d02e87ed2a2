//! Remove Access: the rubbish bin, then Confirm.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use uuid::Uuid;

use super::store::{self, MemberRow};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Owner,
    },
    change::AccountChange,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

#[derive(Template)]
#[template(path = "users/remove.html")]
struct RemovePage {
    layout: Layout,
    member: MemberRow,
    account_name: String,
}

pub async fn page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    web::render(&RemovePage { layout: Layout::of(&me.user), member, account_name: me.account.name.clone() })
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(super::not_a_member)?;
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    if !store::remove(&mut change, user_id).await? {
        return Err(super::not_a_member());
    }
    change.finish(&format!("{} no longer has access to this account.", member.name), "/users").await
}

//! "Tokens with access to this account": the owner's list (from User
//! Management), with Revoke for any of them.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use uuid::Uuid;

use super::store::{self, TokenRow};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Owner,
    },
    change::{AccountChange, Target},
    domain::audit::AuditAction,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "tokens/account.html")]
struct AccountTokensPage {
    layout: Layout,
    account_name: String,
    tokens: Vec<TokenRow>,
}

pub async fn page(State(state): State<AppState>, Owner(me): Owner) -> Result<Response, AppError> {
    let tokens = store::of_account(&state.db, me.account.id).await?;
    web::render(&AccountTokensPage { layout: Layout::of(&me.user), account_name: me.account.name.clone(), tokens })
}

pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let (name, holder, _) =
        store::revoke(&mut change, id, None, Some(me.account.id)).await?.ok_or_else(super::no_such_token)?;
    let target = Target { user_id: Some(holder), email: None };
    change.audit(AuditAction::ApiTokenRevoked, target, serde_json::json!({ "token_id": id, "name": name })).await?;
    change.finish(&format!("The API token \"{name}\" was revoked: it no longer works."), "/users/tokens").await
}

//! API tokens on the login's own page (Hello menu → API tokens): the list,
//! a new token for the active account, and Revoke.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::store::{self, NewToken, TokenRow};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{CurrentUser, Member},
    },
    change::{AccountChange, Target},
    domain::{audit::AuditAction, end_date, permissions::Grant},
    error::AppError,
    layout::Layout,
    state::AppState,
    users::GrantChoice,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "tokens/own.html")]
struct OwnPage {
    layout: Layout,
    tokens: Vec<TokenRow>,
    /// The active account a new token would be for (none: no form).
    account_name: Option<String>,
    is_owner: bool,
    name: String,
    grant: GrantChoice,
    manage_users: bool,
    expires_on: String,
    error: Option<String>,
    /// A token just made: (its name, the secret), shown this once.
    created: Option<(String, String)>,
}

impl OwnPage {
    fn blank(user: &CurrentUser, tokens: Vec<TokenRow>) -> OwnPage {
        OwnPage {
            layout: Layout::of(user),
            tokens,
            // Support viewing the client area never makes the client a key.
            account_name: user.account.as_ref().filter(|_| user.impersonator.is_none()).map(|a| a.name.clone()),
            is_owner: user.account.as_ref().is_some_and(|a| a.is_owner),
            name: String::new(),
            grant: GrantChoice::of(&Grant::All),
            manage_users: false,
            expires_on: String::new(),
            error: None,
            created: None,
        }
    }
}

pub async fn page(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let tokens = store::of_user(&state.db, user.id).await?;
    web::render(&OwnPage::blank(&user, tokens))
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    permissions: Vec<String>,
    manage_users: Option<String>,
    #[serde(default)]
    expires_on: String,
}

/// What the form asks for, checked against what the login holds in the
/// account: a token is never given more than its maker has.
fn check(me: &Member, form: &CreateForm, today: Date) -> Result<(String, Grant, Option<OffsetDateTime>), String> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Give the token a name of up to 100 characters, such as the script that will use it.".into());
    }
    let grant = Grant::parse(&form.mode, &form.permissions).map_err(|e| e.to_string())?;
    if !me.account.grant.includes(&grant) {
        return Err(format!(
            "A token cannot have more permissions than you have in {}. You have: {}.",
            me.account.name,
            me.account.grant.describe()
        ));
    }
    if form.manage_users.is_some() && !me.account.is_owner {
        return Err(format!("Only the owner of {} can give a token Manage Users.", me.account.name));
    }
    let expires_at = end_date::parse(&form.expires_on, today).map_err(|e| e.to_string())?;
    Ok((name.to_string(), grant, expires_at))
}

pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    me: Member,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, AppError> {
    if me.user.impersonator.is_some() {
        return Err(AppError::Forbidden(
            "Support cannot make API tokens while viewing a client's account: the client makes their own.".into(),
        ));
    }
    let today = OffsetDateTime::now_utc().date();
    let (name, grant, expires_at) = match check(&me, &form, today) {
        Ok(v) => v,
        Err(message) => {
            let mut page = OwnPage::blank(&me.user, store::of_user(&state.db, me.user.id).await?);
            page.name = form.name.chars().take(100).collect();
            page.grant = GrantChoice::from_form(&form.mode, &form.permissions);
            page.manage_users = form.manage_users.is_some();
            page.expires_on = form.expires_on.chars().take(20).collect();
            page.error = Some(message);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let manage_users = form.manage_users.is_some();
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    // A cap on live tokens: each has its own API rate window, so tokens
    // without end would be calls without end.
    let live = store::live_count(&mut change, me.user.id).await?;
    let cap = state.config.api_tokens_per_login;
    if live >= cap {
        return Err(AppError::Conflict(format!(
            "You have {live} API tokens that still work, the most one login may have. Revoke one you no longer use, then make this one. Nothing was changed."
        )));
    }
    let new = NewToken {
        user_id: me.user.id,
        account_id: me.account.id,
        name: &name,
        grant: &grant,
        manage_users,
        expires_at,
    };
    let (id, secret) = store::create(&mut change, new).await?;
    let details = serde_json::json!({
        "token_id": id,
        "name": name,
        "permissions": grant.describe(),
        "manage_users": manage_users,
        "expires_at": expires_at.map(|t| web::datetime(&t)),
    });
    let target = Target { user_id: Some(me.user.id), email: Some(&me.user.email) };
    change.audit(AuditAction::ApiTokenCreated, target, details).await?;
    change.commit().await?;
    // The secret goes straight onto this page, never into a stored flash.
    let mut page = OwnPage::blank(&me.user, store::of_user(&state.db, me.user.id).await?);
    page.created = Some((name, secret));
    Ok((StatusCode::CREATED, web::render(&page)?).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::begin(&state, user.session_id, user.id, None, &ip).await?;
    let (name, _, account_id) =
        store::revoke(&mut change, id, Some(user.id), None).await?.ok_or_else(super::no_such_token)?;
    change.account_id = Some(account_id);
    let target = Target { user_id: Some(user.id), email: Some(&user.email) };
    change.audit(AuditAction::ApiTokenRevoked, target, serde_json::json!({ "token_id": id, "name": name })).await?;
    change.finish(&format!("The API token \"{name}\" was revoked: it no longer works."), "/api-tokens").await
}

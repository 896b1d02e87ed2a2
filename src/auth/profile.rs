//! The login's own profile: its name and its password.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{csrf::CsrfForm, session, session::CurrentUser, store};
use crate::{
    audit,
    domain::{audit::AuditAction, names::clean_name, password},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

#[derive(Template)]
#[template(path = "auth/profile.html")]
struct ProfilePage {
    layout: Layout,
    name: String,
    email: String,
    error: Option<String>,
}

pub async fn page(user: CurrentUser) -> Result<Response, AppError> {
    web::render(&ProfilePage {
        layout: Layout::of(&user),
        name: user.name.clone(),
        email: user.email.clone(),
        error: None,
    })
}

fn refused(user: &CurrentUser, message: String) -> Result<Response, AppError> {
    let page = ProfilePage {
        layout: Layout::of(user),
        name: user.name.clone(),
        email: user.email.clone(),
        error: Some(message),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response())
}

#[derive(Deserialize)]
pub struct NameForm {
    name: String,
}

pub async fn change_name(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, AppError> {
    let name = match clean_name(&form.name, "your name") {
        Ok(n) => n,
        Err(m) => return refused(&user, m),
    };
    store::set_name(&state.db, user.id, &name).await?;
    session::set_flash(&state.db, user.session_id, "Your name has been saved.").await?;
    Ok(Redirect::to("/profile").into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    password: String,
    confirm: String,
    /// "Also end my API tokens and remembered browsers" (ticked on the form).
    end_everything: Option<String>,
}

pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    if !super::confirm_password(&state, &ip, &user, &form.current).await? {
        return refused(&user, "Your current password is not correct.".into());
    }
    if let Err(m) = password::check_strength(&form.password) {
        return refused(&user, m);
    }
    if form.password != form.confirm {
        return refused(&user, "The two new passwords do not match.".into());
    }
    let hash = state.hasher.hash(&form.password).await?;
    let mut tx = crate::db::begin(&state.db).await?;
    let sessions = store::set_password(&mut tx, user.id, &hash, Some(user.session_id)).await?;
    let flash = if form.end_everything.is_some() {
        let ended = super::recover::end_everything(&mut tx, user.id, sessions).await?;
        super::recover::tell(&mut tx, &state.config, user.id, "changed", &ended).await?;
        "Your password has been changed. Your other sessions, API tokens and remembered browsers have been ended; we have mailed you what to check."
    } else {
        "Your password has been changed. Your other sessions have been signed out."
    };
    session::set_flash(&mut *tx, user.session_id, flash).await?;
    let event = audit::Event {
        actor_id: Some(user.id),
        account_id: None,
        target_user_id: Some(user.id),
        target_email: None,
        action: AuditAction::PasswordChanged,
        details: serde_json::json!({}),
        ip: &ip,
    };
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    state.wake_outboxes();
    Ok(Redirect::to("/profile").into_response())
}

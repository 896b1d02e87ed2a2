//! Setting up the authenticator app (a QR code and the key in text, then a
//! code to confirm before it is on), turning it off (password and a code),
//! and making new recovery codes (password).

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{check_code, notices, page, recovery, store, totp, Checked};
use crate::{
    audit,
    auth::{
        self,
        csrf::{CsrfForm, NoFields},
        rate_limit,
        session::{self, CurrentUser},
    },
    domain::audit::AuditAction,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

/// Starts a setup: a fresh key, waiting for its first code.
pub async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if !store::start_key(&state.db, user.id, &totp::new_secret()).await? {
        return Err(AppError::Conflict("Two-factor sign-in is on already.".into()));
    }
    Ok(Redirect::to("/security/totp").into_response())
}

#[derive(Template)]
#[template(path = "security/enrol.html")]
struct EnrolPage {
    layout: Layout,
    qr_svg: String,
    key: String,
    error: Option<String>,
}

async fn enrol(state: &AppState, user: &CurrentUser, error: Option<String>) -> Result<Response, AppError> {
    let Some((secret, false)) = store::key(&state.db, user.id).await? else {
        return Ok(Redirect::to("/security").into_response());
    };
    let uri = totp::setup_uri(&secret, &user.email).map_err(|e| AppError::Internal(e.into()))?;
    let qr_svg = totp::qr_svg(&uri).map_err(|e| AppError::Internal(anyhow::anyhow!("{e:?}")))?;
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    let page = EnrolPage { layout: Layout::of(user), qr_svg, key: totp::key_text(&secret), error };
    Ok((status, web::render(&page)?).into_response())
}

pub async fn enrol_page(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    enrol(&state, &user, None).await
}

#[derive(Template)]
#[template(path = "security/recovery_codes.html")]
struct CodesPage {
    layout: Layout,
    codes: Vec<String>,
    just_turned_on: bool,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    code: String,
}

/// The first code from the app turns the key on; the recovery codes are
/// made and shown, once.
pub async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<Response, AppError> {
    let Some((secret, false)) = store::key(&state.db, user.id).await? else {
        return Ok(Redirect::to("/security").into_response());
    };
    let Some(step) = totp::matching_step(&secret, &form.code, state.config.clock.unix_now()) else {
        let message = "That code is not right. Check that the app shows the code for this panel and your device's clock is correct, then enter the code it shows now.";
        return enrol(&state, &user, Some(message.into())).await;
    };
    let mut tx = crate::db::begin(&state.db).await?;
    if !store::confirm_key(&mut tx, user.id, step).await? {
        return Err(AppError::Conflict("Two-factor sign-in is on already.".into()));
    }
    let codes = recovery::replace(&mut tx, user.id).await?;
    notices::two_factor_on(&mut tx, &state.config, user.id, &ip).await?;
    tx.commit().await?;
    state.wake_outboxes();
    web::render(&CodesPage { layout: Layout::of(&user), codes, just_turned_on: true })
}

#[derive(Deserialize)]
pub struct OffForm {
    password: String,
    code: String,
}

pub async fn turn_off(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<OffForm>,
) -> Result<Response, AppError> {
    if let Some(message) = super::rule::refuses_ending(&state.db, user.id).await? {
        return page::render(&state, &user, Some(message)).await;
    }
    if !auth::confirm_password(&state, &ip, &user, &form.password).await? {
        return page::render(&state, &user, Some("Your password is not correct. Nothing was changed.".into())).await;
    }
    // A code typed here counts against the sign-in limits like one at the
    // second step: the password alone must not buy unlimited guesses.
    let attempt = rate_limit::begin(&state.db, &ip, &user.email, true).await?;
    let mut tx = crate::db::begin(&state.db).await?;
    if check_code(&mut tx, &state.config.clock, user.id, &form.code).await? == Checked::Wrong {
        drop(tx);
        let message = "That code is not right, or was used already. Nothing was changed.";
        return page::render(&state, &user, Some(message.into())).await;
    }
    rate_limit::succeeded(&state.db, attempt).await?;
    store::remove(&mut tx, user.id).await?;
    notices::two_factor_off(&mut tx, &state.config, user.id, &ip).await?;
    session::set_flash(&mut *tx, user.session_id, "Two-factor sign-in is off.").await?;
    tx.commit().await?;
    state.wake_outboxes();
    Ok(Redirect::to("/security").into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

pub async fn new_recovery_codes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    if !auth::confirm_password(&state, &ip, &user, &form.password).await? {
        return page::render(&state, &user, Some("Your password is not correct. Nothing was changed.".into())).await;
    }
    if !store::two_factor_on(&state.db, user.id).await? {
        return Err(AppError::Conflict("Recovery codes come with two-factor sign-in: turn it on first.".into()));
    }
    let mut tx = crate::db::begin(&state.db).await?;
    let codes = recovery::replace(&mut tx, user.id).await?;
    let event = audit::Event {
        actor_id: Some(user.id),
        account_id: None,
        target_user_id: Some(user.id),
        target_email: None,
        action: AuditAction::RecoveryCodesReplaced,
        details: serde_json::json!({}),
        ip: &ip,
    };
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    web::render(&CodesPage { layout: Layout::of(&user), codes, just_turned_on: false })
}

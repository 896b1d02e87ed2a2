//! "Forgot password?": a mailed single-use link valid for an hour; using it
//! sets a new password and signs out every other session.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    csrf::{AnonCsrf, CsrfForm},
    store,
};
use crate::{
    audit,
    domain::{audit::AuditAction, email::Email, password, token},
    error::AppError,
    layout::Layout,
    mail::messages::PasswordReset,
    state::AppState,
    web::{self, ClientIp},
};

pub const RESET_VALID_MINUTES: i32 = 60;
/// Reset mails per address per hour: enough for a typo, not for a mail bomb.
const RESETS_PER_HOUR: i64 = 3;

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    csrf_token: String,
    sent: bool,
    error: Option<String>,
}

pub async fn forgot_page(AnonCsrf(csrf_token): AnonCsrf) -> Result<Response, AppError> {
    web::render(&ForgotPage { layout: Layout::signed_out(), csrf_token, sent: false, error: None })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<Response, AppError> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let page = ForgotPage { layout: Layout::signed_out(), csrf_token, sent: false, error: Some(e.to_string()) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut tx = state.db.begin().await?;
    // The page says the same whether or not the address has a login.
    if let Some(login) = store::reset_candidate(&mut tx, email.as_str()).await?.filter(|u| u.recent < RESETS_PER_HOUR) {
        let (user_id, name) = (login.id, login.name);
        let token = token::generate();
        store::create_reset(&mut tx, &token, user_id, RESET_VALID_MINUTES).await?;
        let link = format!("{}/password/reset/{token}", state.config.base_url);
        PasswordReset { name: &name, link: &link }.to(email.as_str())?.with_secret(&token).queue(&mut tx).await?;
        let event = audit::Event {
            actor_id: None,
            account_id: None,
            target_user_id: Some(user_id),
            target_email: None,
            action: AuditAction::PasswordResetRequested,
            details: serde_json::json!({ "recent": login.recent }),
            ip: &ip,
        };
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    web::render(&ForgotPage { layout: Layout::signed_out(), csrf_token, sent: true, error: None })
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    layout: Layout,
    csrf_token: String,
    token: String,
    error: Option<String>,
}

fn reset_link_dead() -> AppError {
    AppError::Gone(
        "This password reset link has expired or has already been used. Ask for a new one on the \"Forgot password?\" page."
            .into(),
    )
}

async fn check_link(state: &AppState, token: &str) -> Result<(), AppError> {
    if token::well_formed(token) && store::reset_is_valid(&state.db, token).await? {
        Ok(())
    } else {
        Err(reset_link_dead())
    }
}

pub async fn page(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    check_link(&state, &token).await?;
    web::render(&ResetPage { layout: Layout::signed_out(), csrf_token, token, error: None })
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
    confirm: String,
}

pub async fn submit(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response, AppError> {
    check_link(&state, &token).await?;
    let problem = password::check_strength(&form.password)
        .err()
        .or_else(|| (form.password != form.confirm).then(|| "The two passwords do not match.".to_string()));
    if let Some(error) = problem {
        let page = ResetPage { layout: Layout::signed_out(), csrf_token, token, error: Some(error) };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
    }
    let hash = state.hasher.hash(&form.password).await?;
    let mut tx = state.db.begin().await?;
    let Some(user_id) = store::use_reset(&mut tx, &token).await? else { return Err(reset_link_dead()) };
    store::set_password(&mut tx, user_id, &hash, None).await?;
    let account_id = store::default_account(&mut *tx, user_id).await?;
    let event = audit::Event {
        actor_id: Some(user_id),
        account_id: None,
        target_user_id: Some(user_id),
        target_email: None,
        action: AuditAction::PasswordReset,
        details: serde_json::json!({}),
        ip: &ip,
    };
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    let flash = Some("Your password has been changed. Other sessions have been signed out.");
    super::sign_in_response(&state, &headers, user_id, account_id, &ip, "/", flash).await
}

//! "Forgot password?": a mailed single-use link valid for an hour; using it
//! sets a new password and signs out every other session.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    csrf::{AnonCsrf, CsrfForm},
    login::NextQuery,
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
/// The browser's note of where to return after a reset.
pub const RETURN_COOKIE: &str = "panel_return_to";
/// Reset mails per address per hour: enough for a typo, not for a mail bomb.
const RESETS_PER_HOUR: i64 = 3;

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    csrf_token: String,
    /// Where to go after the reset (an invitation being accepted); "/" for home.
    next: String,
    sent: bool,
    error: Option<String>,
}

pub async fn forgot_page(AnonCsrf(csrf_token): AnonCsrf, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
    let next = web::safe_next(q.next.as_deref());
    web::render(&ForgotPage { layout: Layout::signed_out(), csrf_token, next, sent: false, error: None })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
    next: Option<String>,
}

pub async fn forgot(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<Response, AppError> {
    let next = web::safe_next(form.next.as_deref());
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let error = Some(e.to_string());
            let page = ForgotPage { layout: Layout::signed_out(), csrf_token, next, sent: false, error };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    // The page says the same, as fast, whether or not the address has a
    // login: the mail is made after the answer.
    state.after_answer("password reset mail", mail_reset(state.clone(), email, ip)).await;
    let page = web::render(&ForgotPage {
        layout: Layout::signed_out(),
        csrf_token,
        next: next.clone(),
        sent: true,
        error: None,
    })?;
    // Where to return after the reset (the invitation being accepted) stays
    // in this browser, not in the mail or the database: the path may hold
    // an invitation's token.
    if next == "/" || !cookie_safe(&next) {
        return Ok(page);
    }
    let cookie =
        web::set_cookie(RETURN_COOKIE, &next, Some(60 * i64::from(RESET_VALID_MINUTES)), state.config.secure_cookies());
    Ok(([(header::SET_COOKIE, cookie)], page).into_response())
}

/// Makes a reset link for `email`'s login, if it has one and has not had
/// `RESETS_PER_HOUR` links this hour, and mails it.
async fn mail_reset(state: AppState, email: Email, ip: String) -> Result<(), AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
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
    state.wake_outboxes();
    Ok(())
}

/// Paths such as `/invitations/<token>` go into a cookie as they are.
fn cookie_safe(path: &str) -> bool {
    path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
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
    let mut tx = crate::db::begin(&state.db).await?;
    let Some(user_id) = store::use_reset(&mut tx, &token).await? else { return Err(reset_link_dead()) };
    let sessions = store::set_password(&mut tx, user_id, &hash, None).await?;
    let ended = super::recover::end_everything(&mut tx, user_id, sessions).await?;
    super::recover::tell(&mut tx, &state.config, user_id, "reset", &ended).await?;
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
    state.wake_outboxes();
    let flash = Some(
        "Your password has been changed. Your other sessions, API tokens and remembered browsers have been ended; we have mailed you what to check.",
    );
    let return_to = web::cookie(&headers, RETURN_COOKIE).filter(|p| cookie_safe(p));
    let next = web::safe_next(return_to);
    let mut res = super::sign_in_after_reset(&state, &headers, user_id, account_id, &ip, &next, flash).await?;
    res.headers_mut()
        .append(header::SET_COOKIE, web::set_cookie(RETURN_COOKIE, "", Some(0), state.config.secure_cookies()));
    Ok(res)
}

//! Signing in with email and password, and signing out.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    csrf::{AnonCsrf, CsrfForm, NoFields},
    session::{self, CurrentUser},
    store,
};
use crate::{
    audit,
    domain::{audit::AuditAction, email::Email},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    next: String,
    email: String,
    error: Option<String>,
    /// Passkeys work at this address: offer "Sign in with a passkey".
    passkeys: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
    signed_out: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let mut layout = Layout::signed_out();
    if q.signed_out.is_some() {
        layout = layout.with_flash("You have signed out.");
    }
    web::render(&LoginPage {
        layout,
        csrf_token,
        next: web::safe_next(q.next.as_deref()),
        email: String::new(),
        error: None,
        passkeys: state.webauthn.is_some(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, AppError> {
    let next = web::safe_next(form.next.as_deref());
    let failed = |email: String, status, message: &str| -> Result<Response, AppError> {
        let page = LoginPage {
            layout: Layout::signed_out(),
            csrf_token: csrf_token.clone(),
            next: next.clone(),
            email,
            error: Some(message.into()),
            passkeys: state.webauthn.is_some(),
        };
        Ok((status, web::render(&page)?).into_response())
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return failed(form.email.chars().take(254).collect(), StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let trusted = super::trusted_browser(&state, &headers, email.as_str()).await?;
    let Some(login) = super::verify_password(&state, &ip, email.as_str(), &form.password, trusted).await? else {
        metrics::counter!("panel_sign_in_refusals_total").increment(1);
        return failed(email.to_string(), StatusCode::UNAUTHORIZED, "Incorrect email or password.");
    };
    if login.disabled {
        return failed(
            email.to_string(),
            StatusCode::FORBIDDEN,
            "This login has been disabled. Please contact support.",
        );
    }
    store::record_sign_in(&state.db, login.id).await?;
    let account = store::default_account(&state.db, login.id).await?;
    super::sign_in_remembering_device(&state, &headers, login.id, account, &ip, &next, None).await
}

pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    session::end(&mut *tx, user.session_id).await?;
    // Signing out of a support view ends it: the audit log says so.
    if let Some((staff_id, _)) = user.impersonator {
        let event = audit::Event {
            actor_id: Some(staff_id),
            account_id: user.account.as_ref().map(|a| a.id),
            target_user_id: Some(user.id),
            target_email: Some(&user.email),
            action: AuditAction::SupportViewEnded,
            details: serde_json::json!({ "by": "sign out" }),
            ip: &ip,
        };
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    let mut res = ([(header::SET_COOKIE, session::clear_session_cookie(&state))], Redirect::to("/login?signed_out=1"))
        .into_response();
    super::forget_browser_notes(&state, &mut res);
    Ok(res)
}

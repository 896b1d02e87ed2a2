//! Creating a login: every new login also owns a new client account. The
//! answer is "check your mail" whether or not the address is taken, so the
//! page reveals nothing; the mail that follows is the real answer (a link
//! to confirm the address, or "someone tried to register with it").

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use sqlx::PgConnection;

use super::{
    csrf::{AnonCsrf, CsrfForm},
    login::NextQuery,
    rate_limit,
    store::{self, NewUser, Registered},
};
use crate::{
    addresses, audit,
    config::Config,
    domain::{audit::AuditAction, email::Email, names::clean_name, password},
    error::{AppError, Internal},
    layout::Layout,
    mail::{budget, messages::RegistrationAttempt},
    state::AppState,
    web::{self, ClientIp},
};

/// Registration attempts one address (an IPv6 /64) may make per hour: each
/// login can send invitation mail, and each attempt costs a hash.
pub const REGISTRATIONS_PER_HOUR: i64 = 10;

#[derive(Template)]
#[template(path = "auth/register.html")]
struct RegisterPage {
    layout: Layout,
    csrf_token: String,
    next: String,
    name: String,
    email: String,
    account_name: String,
    error: Option<String>,
}

pub async fn page(AnonCsrf(csrf_token): AnonCsrf, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
    web::render(&RegisterPage {
        layout: Layout::signed_out(),
        csrf_token,
        next: web::safe_next(q.next.as_deref()),
        name: String::new(),
        email: String::new(),
        account_name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct RegisterForm {
    name: String,
    email: String,
    password: String,
    account_name: String,
    next: Option<String>,
}

/// Validates a new login's fields; the message names the first problem.
pub fn check_new_login(name: &str, email: &str, password: &str) -> Result<(String, Email), String> {
    let name = clean_name(name, "your name")?;
    let email = Email::parse(email).map_err(|e| e.to_string())?;
    password::check_strength(password)?;
    Ok((name, email))
}

pub async fn submit(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, AppError> {
    // Counted first, before anything is checked or hashed.
    if rate_limit::registration_attempt(&state.db, &ip).await? >= REGISTRATIONS_PER_HOUR {
        return Err(AppError::TooManyRequests(
            "Too many accounts were tried from your address in the last hour. Please try again later.".into(),
        ));
    }
    // And in total: a flood from many addresses cannot fill the logins
    // table or the hashing lane; checked before hashing, so a few requests
    // at the same moment may pass it together.
    if rate_limit::new_logins_last_minute(&state.db).await? >= state.config.registrations_per_minute {
        metrics::counter!("panel_registration_cap_refusals_total").increment(1);
        return Err(AppError::SignUpsBusy);
    }
    let next = web::safe_next(form.next.as_deref());
    let fail = |message: String| -> Result<Response, AppError> {
        let page = RegisterPage {
            layout: Layout::signed_out(),
            csrf_token: csrf_token.clone(),
            next: next.clone(),
            name: form.name.chars().take(200).collect(),
            email: form.email.chars().take(254).collect(),
            account_name: form.account_name.chars().take(200).collect(),
            error: Some(message),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response())
    };
    let (name, email) = match check_new_login(&form.name, &form.email, &form.password) {
        Ok(v) => v,
        Err(m) => return fail(m),
    };
    let account_name = match clean_name(&form.account_name, "an account name") {
        Ok(v) => v,
        Err(m) => return fail(m),
    };
    // Hashed whether or not the address is taken, so the answer takes as
    // long either way.
    let hash = state.hasher.hash_new_login(&form.password).await.map_err(AppError::from_new_login)?;
    let mut tx = crate::db::begin(&state.db).await?;
    let new =
        NewUser { name: &name, email: &email, password_hash: &hash, account_name: &account_name, verified: false };
    match store::create_user(&mut tx, new).await? {
        Registered::Created { user_id, account_id } => {
            let event = audit::Event {
                actor_id: Some(user_id),
                account_id: Some(account_id),
                target_user_id: Some(user_id),
                target_email: None,
                action: AuditAction::UserRegistered,
                details: serde_json::json!({}),
                ip: &ip,
            };
            audit::record(&mut tx, event).await?;
            addresses::send_login_link(&mut tx, &state.config, user_id, &name, email.as_str(), &next).await?;
        }
        Registered::EmailTaken => tell_address_owner(&mut tx, &state.config, &email).await?,
    }
    tx.commit().await?;
    state.wake_outboxes();
    web::render(&CheckMailPage { layout: Layout::signed_out(), email: email.to_string() })
}

#[derive(Template)]
#[template(path = "auth/register_sent.html")]
struct CheckMailPage {
    layout: Layout,
    email: String,
}

/// Registration with an address that has a login: the page says only
/// "check your mail", and the mail tells the address's owner (within the
/// address's hourly share of such mail; past it, nothing more is sent).
async fn tell_address_owner(conn: &mut PgConnection, config: &Config, email: &Email) -> Result<(), Internal> {
    let name = sqlx::query_scalar!("SELECT name FROM users WHERE email = $1 AND disabled_at IS NULL", email.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(name) = name else { return Ok(()) };
    if budget::login_confirmations_exceeded(conn, email.as_str()).await?.is_some() {
        return Ok(());
    }
    let (sign_in, reset) = (format!("{}/login", config.base_url), format!("{}/password/forgot", config.base_url));
    RegistrationAttempt { name: &name, sign_in: &sign_in, reset: &reset }.to(email.as_str())?.queue(conn).await?;
    Ok(())
}

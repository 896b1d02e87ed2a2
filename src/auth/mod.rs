//! Signing in and out, registering, resetting a forgotten password, and the
//! user's own profile.

pub mod csrf;
pub mod password;
pub mod rate_limit;
pub mod registration;
pub mod session;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    audit,
    domain::{email::Email, token},
    error::AppError,
    layout::Layout,
    mail::messages::PasswordReset,
    state::AppState,
    web::{self, ClientIp},
};
use csrf::{AnonCsrf, CsrfForm, NoFields};
use registration::{NewUser, Registered};
use session::CurrentUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/register", get(register_page).post(register))
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset/{token}", get(reset_page).post(reset))
        .route("/profile", get(profile_page))
        .route("/profile/name", post(change_name))
        .route("/profile/password", post(change_password))
}

/// Signs the browser in: a new session (the old one ends) and its cookie.
pub async fn sign_in_response(
    state: &AppState,
    headers: &HeaderMap,
    user_id: Uuid,
    account_id: Option<Uuid>,
    ip: &str,
    next: &str,
    flash: Option<&str>,
) -> Result<Response, AppError> {
    let previous = session::session_token(state, headers);
    let token = session::start(&state.db, user_id, account_id, previous, ip, flash, None).await?;
    Ok(([(header::SET_COOKIE, session::session_cookie(state, &token))], Redirect::to(next)).into_response())
}

// ---- sign in ------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

async fn login_page(AnonCsrf(csrf_token): AnonCsrf, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
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
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// A login whose password was just checked.
#[derive(sqlx::FromRow)]
pub struct VerifiedLogin {
    pub id: Uuid,
    pub name: String,
    pub is_staff: bool,
    pub disabled: bool,
    /// Where a fresh session starts: the user's own account, else any.
    pub account_id: Option<Uuid>,
    password_hash: String,
}

/// One sign-in attempt (the sign-in page, or signing in on an invitation):
/// counted against the limits before the password is checked, with an
/// unknown email taking as long as a known one. The login, if the password
/// is right.
pub async fn verify_password(
    state: &AppState,
    ip: &str,
    email: &str,
    given: &str,
) -> Result<Option<VerifiedLogin>, AppError> {
    if given.len() > 4 * password::MAX_PASSWORD_LEN {
        return Ok(None);
    }
    let attempt = rate_limit::begin(&state.db, ip, email).await?;
    let row: Option<VerifiedLogin> = sqlx::query_as(
        "SELECT u.id, u.name, u.is_staff, u.disabled_at IS NOT NULL AS disabled, u.password_hash,
                (SELECT m.account_id FROM memberships m WHERE m.user_id = u.id
                 ORDER BY m.is_owner DESC, m.created_at LIMIT 1) AS account_id
         FROM users u WHERE u.email = $1",
    )
    .bind(email)
    .fetch_optional(&state.db)
    .await?;
    if !state.hasher.verify(given, row.as_ref().map(|r| r.password_hash.as_str())).await? {
        return Ok(None);
    }
    rate_limit::succeeded(&state.db, attempt).await?;
    Ok(row)
}

async fn login(
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
        };
        Ok((status, web::render(&page)?).into_response())
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return failed(form.email.chars().take(254).collect(), axum::http::StatusCode::BAD_REQUEST, &e.to_string())
        }
    };
    let Some(row) = verify_password(&state, &ip, email.as_str(), &form.password).await? else {
        return failed(email.to_string(), axum::http::StatusCode::UNAUTHORIZED, "Incorrect email or password.");
    };
    if row.disabled {
        return failed(
            email.to_string(),
            axum::http::StatusCode::FORBIDDEN,
            "This login has been disabled. Please contact support.",
        );
    }
    sqlx::query("UPDATE users SET last_sign_in_at = now() WHERE id = $1").bind(row.id).execute(&state.db).await?;
    sign_in_response(&state, &headers, row.id, row.account_id, &ip, &next, None).await
}

async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(user.session_id).execute(&state.db).await?;
    Ok(([(header::SET_COOKIE, session::clear_session_cookie(&state))], Redirect::to("/login?signed_out=1"))
        .into_response())
}

// ---- register -----------------------------------------------------------

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

async fn register_page(AnonCsrf(csrf_token): AnonCsrf, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
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
struct RegisterForm {
    name: String,
    email: String,
    password: String,
    account_name: String,
    next: Option<String>,
}

/// New logins one address may create per hour.
pub const REGISTRATIONS_PER_HOUR: i64 = 10;

/// Validates a new login's fields; the message names the first problem.
pub fn check_new_login(name: &str, email: &str, password: &str) -> Result<(String, Email), String> {
    let name = registration::clean_name(name, "your name")?;
    let email = Email::parse(email).map_err(|e| e.to_string())?;
    password::check_strength(password)?;
    Ok((name, email))
}

async fn register(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, AppError> {
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
        Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response())
    };
    let (name, email) = match check_new_login(&form.name, &form.email, &form.password) {
        Ok(v) => v,
        Err(m) => return fail(m),
    };
    let account_name = match registration::clean_name(&form.account_name, "an account name") {
        Ok(v) => v,
        Err(m) => return fail(m),
    };
    // Each login can send invitation mail: bound how many one address makes.
    let recent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'user.registered' AND ip = $1 AND at > now() - interval '1 hour'",
    )
    .bind(&ip)
    .fetch_one(&state.db)
    .await?;
    if recent >= REGISTRATIONS_PER_HOUR {
        return Err(AppError::TooManyRequests(
            "Too many accounts were created from your address in the last hour. Please try again later.".into(),
        ));
    }
    let hash = state.hasher.hash(&form.password).await?;
    let mut tx = state.db.begin().await?;
    let new = NewUser { name: &name, email: &email, password_hash: &hash, account_name: &account_name };
    let (user_id, account_id) =
        match registration::create(&mut tx, new).await? {
            Registered::Created { user_id, account_id } => (user_id, account_id),
            Registered::EmailTaken => return fail(
                "This email address cannot be used to register. If it is yours, sign in or use \"Forgot password?\"."
                    .into(),
            ),
        };
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(user_id),
            account_id: Some(account_id),
            target_user_id: Some(user_id),
            target_email: None,
            action: "user.registered",
            details: serde_json::json!({}),
            ip: &ip,
        },
    )
    .await?;
    tx.commit().await?;
    sign_in_response(&state, &headers, user_id, Some(account_id), &ip, &next, Some("Welcome! Your account is ready."))
        .await
}

// ---- forgotten password -------------------------------------------------

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    csrf_token: String,
    sent: bool,
    error: Option<String>,
}

async fn forgot_page(AnonCsrf(csrf_token): AnonCsrf) -> Result<Response, AppError> {
    web::render(&ForgotPage { layout: Layout::signed_out(), csrf_token, sent: false, error: None })
}

#[derive(Deserialize)]
struct ForgotForm {
    email: String,
}

pub const RESET_VALID_MINUTES: i32 = 60;
/// Reset mails per address per hour: enough for a typo, not for a mail bomb.
const RESETS_PER_HOUR: i64 = 3;

async fn forgot(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<Response, AppError> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let page = ForgotPage { layout: Layout::signed_out(), csrf_token, sent: false, error: Some(e.to_string()) };
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut tx = state.db.begin().await?;
    let user: Option<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.name, (SELECT count(*) FROM password_resets r WHERE r.user_id = u.id AND r.created_at > now() - interval '1 hour')
         FROM users u WHERE u.email = $1 AND u.disabled_at IS NULL FOR UPDATE",
    )
    .bind(email.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    // The page says the same whether or not the address has a login.
    if let Some((user_id, name, recent)) = user.filter(|u| u.2 < RESETS_PER_HOUR) {
        let token = token::generate();
        sqlx::query("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3))")
            .bind(token::hash(&token))
            .bind(user_id)
            .bind(RESET_VALID_MINUTES)
            .execute(&mut *tx)
            .await?;
        let link = format!("{}/password/reset/{token}", state.config.base_url);
        PasswordReset { name: &name, link: &link }.to(email.as_str())?.with_secret(&token).queue(&mut tx).await?;
        audit::record(
            &mut tx,
            audit::Event {
                actor_id: None,
                account_id: None,
                target_user_id: Some(user_id),
                target_email: None,
                action: "password.reset_requested",
                details: serde_json::json!({ "recent": recent }),
                ip: &ip,
            },
        )
        .await?;
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
    AppError::Gone("This password reset link has expired or has already been used. Ask for a new one on the \"Forgot password?\" page.".into())
}

async fn valid_reset(db: &sqlx::PgPool, token: &str) -> Result<bool, AppError> {
    if !token::well_formed(token) {
        return Err(reset_link_dead());
    }
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now())")
        .bind(token::hash(token))
        .fetch_one(db)
        .await?)
}

async fn reset_page(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if !valid_reset(&state.db, &token).await? {
        return Err(reset_link_dead());
    }
    web::render(&ResetPage { layout: Layout::signed_out(), csrf_token, token, error: None })
}

#[derive(Deserialize)]
struct ResetForm {
    password: String,
    confirm: String,
}

async fn reset(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response, AppError> {
    if !valid_reset(&state.db, &token).await? {
        return Err(reset_link_dead());
    }
    let problem = password::check_strength(&form.password)
        .err()
        .or_else(|| (form.password != form.confirm).then(|| "The two passwords do not match.".to_string()));
    if let Some(error) = problem {
        let page = ResetPage { layout: Layout::signed_out(), csrf_token, token, error: Some(error) };
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
    }
    let hash = state.hasher.hash(&form.password).await?;
    let mut tx = state.db.begin().await?;
    // Locks the token, so two uses at once cannot both pass.
    let user_id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE password_resets SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(token::hash(&token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = user_id else { return Err(reset_link_dead()) };
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    // Every other session ends, and every other reset link dies.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let account_id: Option<Uuid> = sqlx::query_scalar(
        "SELECT account_id FROM memberships WHERE user_id = $1 ORDER BY is_owner DESC, created_at LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(user_id),
            account_id: None,
            target_user_id: Some(user_id),
            target_email: None,
            action: "password.reset",
            details: serde_json::json!({}),
            ip: &ip,
        },
    )
    .await?;
    tx.commit().await?;
    sign_in_response(
        &state,
        &headers,
        user_id,
        account_id,
        &ip,
        "/",
        Some("Your password has been changed. Other sessions have been signed out."),
    )
    .await
}

// ---- profile ------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/profile.html")]
struct ProfilePage {
    layout: Layout,
    name: String,
    email: String,
    error: Option<String>,
}

async fn profile_page(user: CurrentUser) -> Result<Response, AppError> {
    web::render(&ProfilePage {
        layout: Layout::of(&user),
        name: user.name.clone(),
        email: user.email.clone(),
        error: None,
    })
}

fn profile_error(user: &CurrentUser, message: String) -> Result<Response, AppError> {
    let page = ProfilePage {
        layout: Layout::of(user),
        name: user.name.clone(),
        email: user.email.clone(),
        error: Some(message),
    };
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response())
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn change_name(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, AppError> {
    let name = match registration::clean_name(&form.name, "your name") {
        Ok(n) => n,
        Err(m) => return profile_error(&user, m),
    };
    sqlx::query("UPDATE users SET name = $2 WHERE id = $1").bind(user.id).bind(&name).execute(&state.db).await?;
    session::set_flash(&state.db, user.session_id, "Your name has been saved.").await?;
    Ok(Redirect::to("/profile").into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    password: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let attempt = rate_limit::begin(&state.db, &ip, &user.email).await?;
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(user.id).fetch_one(&state.db).await?;
    if form.current.len() > 4 * password::MAX_PASSWORD_LEN || !state.hasher.verify(&form.current, Some(&stored)).await?
    {
        return profile_error(&user, "Your current password is not correct.".into());
    }
    rate_limit::succeeded(&state.db, attempt).await?;
    if let Err(m) = password::check_strength(&form.password) {
        return profile_error(&user, m);
    }
    if form.password != form.confirm {
        return profile_error(&user, "The two new passwords do not match.".into());
    }
    let hash = state.hasher.hash(&form.password).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user.id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user.id)
        .bind(user.session_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET flash = $2 WHERE id = $1")
        .bind(user.session_id)
        .bind("Your password has been changed. Your other sessions have been signed out.")
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(user.id),
            account_id: None,
            target_user_id: Some(user.id),
            target_email: None,
            action: "password.changed",
            details: serde_json::json!({}),
            ip: &ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/profile").into_response())
}

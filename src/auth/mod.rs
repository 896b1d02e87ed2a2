//! Who is signing in: sign in and out, registration, forgotten passwords,
//! the login's own profile, and the session, CSRF and rate-limit machinery
//! every other area stands on. One file per flow; the SQL is in `store`.

pub mod csrf;
pub mod login;
pub mod profile;
pub mod rate_limit;
pub mod register;
pub mod reset;
pub mod session;
pub mod sign_in_link;
pub mod store;

use axum::{
    http::{header, HeaderMap},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use uuid::Uuid;

use crate::{
    domain::{password, token},
    error::AppError,
    state::AppState,
};
use session::CurrentUser;
use store::StoredLogin;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/login/link", get(sign_in_link::request_page).post(sign_in_link::request))
        .route("/login/link/{token}", get(sign_in_link::page).post(sign_in_link::use_link))
        .route("/register", get(register::page).post(register::submit))
        .route("/password/forgot", get(reset::forgot_page).post(reset::forgot))
        .route("/password/reset/{token}", get(reset::page).post(reset::submit))
        .route("/profile", get(profile::page))
        .route("/profile/name", post(profile::change_name))
        .route("/profile/password", post(profile::change_password))
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

/// The one password check of the panel (the sign-in page, signing in on an
/// invitation, and every "enter your password again"): counted against the
/// sign-in limits before the hash is checked, with an unknown email taking
/// as long as a known one. The login, if the password is right.
pub async fn verify_password(
    state: &AppState,
    ip: &str,
    email: &str,
    given: &str,
    device: Option<&str>,
) -> Result<Option<StoredLogin>, AppError> {
    if password::too_long_to_check(given) {
        return Ok(None);
    }
    let trusted = match device {
        Some(device) => store::device_known(&state.db, device, email).await?,
        None => false,
    };
    let attempt = rate_limit::begin(&state.db, ip, email, trusted).await?;
    let login = store::login_by_email(&state.db, email).await?;
    if !state.hasher.verify(given, login.as_ref().map(|l| l.password_hash.as_str())).await? {
        return Ok(None);
    }
    rate_limit::succeeded(&state.db, attempt).await?;
    Ok(login)
}

/// "Enter your password again" for a signed-in login (a password change,
/// a staff ownership transfer).
pub async fn confirm_password(state: &AppState, ip: &str, user: &CurrentUser, given: &str) -> Result<bool, AppError> {
    // Signed in already: this browser is trusted for the account-wide limit.
    Ok(verify_password(state, ip, &user.email, given, None).await?.is_some_and(|login| login.id == user.id))
}

/// The browser's device cookie: set at the first successful sign-in, it lets
/// the browser past the account-wide limit later (see `rate_limit`).
pub const DEVICE_COOKIE: &str = "panel_device";

/// The device token a request carries, if it looks like one we issued.
pub fn device_token(headers: &HeaderMap) -> Option<&str> {
    crate::web::cookie(headers, DEVICE_COOKIE).filter(|t| token::well_formed(t))
}

/// Signs the browser in (`sign_in_response`) and remembers it as one this
/// login signs in from: the device cookie is set when it has none.
pub async fn sign_in_remembering_device(
    state: &AppState,
    headers: &HeaderMap,
    user_id: Uuid,
    account_id: Option<Uuid>,
    ip: &str,
    next: &str,
    flash: Option<&str>,
) -> Result<Response, AppError> {
    let (device, fresh) = match device_token(headers) {
        Some(d) => (d.to_string(), false),
        None => (token::generate(), true),
    };
    store::remember_device(&state.db, &device, user_id).await?;
    let mut res = sign_in_response(state, headers, user_id, account_id, ip, next, flash).await?;
    if fresh {
        let year = 365 * 24 * 3600;
        let cookie = crate::web::set_cookie(DEVICE_COOKIE, &device, Some(year), state.config.secure_cookies());
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(res)
}

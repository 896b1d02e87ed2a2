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
    let mut res = ([(header::SET_COOKIE, session::session_cookie(state, &token))], Redirect::to(next)).into_response();
    forget_browser_notes(state, &mut res);
    Ok(res)
}

/// Clears what the browser noted for the previous person (the last page,
/// where to return after a reset): at sign-in and sign-out.
pub fn forget_browser_notes(state: &AppState, res: &mut Response) {
    let secure = state.config.secure_cookies();
    for name in [crate::web::LAST_PAGE_COOKIE, reset::RETURN_COOKIE] {
        res.headers_mut().append(header::SET_COOKIE, crate::web::set_cookie(name, "", Some(0), secure));
    }
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
    trusted: bool,
) -> Result<Option<StoredLogin>, AppError> {
    if password::too_long_to_check(given) {
        return Ok(None);
    }
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
    // Signed in already: this browser is trusted for the account-wide limit
    // (the per-address limits still apply).
    Ok(verify_password(state, ip, &user.email, given, true).await?.is_some_and(|login| login.id == user.id))
}

/// The browser's device cookie: set at a successful sign-in, it lets the
/// browser past the account-wide limit later (see `rate_limit`). The
/// `__Host-` prefix over https stops a sibling subdomain from planting one.
pub fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-panel_device"
    } else {
        "panel_device"
    }
}

/// The device token a request carries, if it looks like one we issued.
pub fn device_token<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    crate::web::cookie(headers, device_cookie_name(state.config.secure_cookies())).filter(|t| token::well_formed(t))
}

/// Whether this browser signed in as `email` before (its device cookie).
pub async fn trusted_browser(state: &AppState, headers: &HeaderMap, email: &str) -> Result<bool, AppError> {
    Ok(match device_token(state, headers) {
        Some(device) => store::device_known(&state.db, device, email).await?,
        None => false,
    })
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
    // A token the browser presents is kept only if it is already this
    // login's: anything else (planted, or another login's) is replaced by a
    // fresh one of ours.
    let presented = match device_token(state, headers) {
        Some(d) if store::device_of(&state.db, d, user_id).await? => Some(d.to_string()),
        _ => None,
    };
    let fresh = presented.is_none();
    let device = presented.unwrap_or_else(token::generate);
    store::remember_device(&state.db, &device, user_id).await?;
    let mut res = sign_in_response(state, headers, user_id, account_id, ip, next, flash).await?;
    if fresh {
        let year = 365 * 24 * 3600;
        let secure = state.config.secure_cookies();
        let cookie = crate::web::set_cookie(device_cookie_name(secure), &device, Some(year), secure);
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(res)
}

//! Who is signing in: sign in and out, registration, forgotten passwords,
//! the login's own profile, and the session, CSRF and rate-limit machinery
//! every other area stands on. One file per flow; the SQL is in `store`.

pub mod csrf;
pub mod login;
pub mod profile;
pub mod rate_limit;
pub mod recover;
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

/// A sign-in whose first factor is proven: the password, or a link mailed
/// to the login.
pub struct SignIn<'a> {
    pub user_id: Uuid,
    pub account_id: Option<Uuid>,
    pub ip: &'a str,
    pub next: &'a str,
    pub flash: Option<&'a str>,
    /// Remember the browser as one this login signs in from (the device
    /// cookie; see `rate_limit`).
    pub remember_device: bool,
    /// The first factor was a link mailed to the login (a sign-in link or
    /// a password reset): its second step has a budget of its own, which no
    /// stranger can spend (see `security::second_step`).
    pub mailbox_proven: bool,
}

/// Every sign-in comes through here: a login with two-factor sign-in goes
/// on to its second step (`security::second_step`) in a half-signed-in
/// session that opens nothing else; any other is signed in.
pub async fn sign_in(state: &AppState, headers: &HeaderMap, s: &SignIn<'_>) -> Result<Response, AppError> {
    if crate::security::store::two_factor_on(&state.db, s.user_id).await? {
        return crate::security::second_step::begin(state, headers, s).await;
    }
    finish_sign_in(state, headers, s).await
}

/// Signs the browser in (a password reset: the browser is not remembered;
/// the link came through the mailbox).
pub async fn sign_in_after_reset(
    state: &AppState,
    headers: &HeaderMap,
    user_id: Uuid,
    account_id: Option<Uuid>,
    ip: &str,
    next: &str,
    flash: Option<&str>,
) -> Result<Response, AppError> {
    let s = SignIn { user_id, account_id, ip, next, flash, remember_device: false, mailbox_proven: true };
    sign_in(state, headers, &s).await
}

/// Signs the browser in and remembers it as one this login signs in from.
pub async fn sign_in_remembering_device(
    state: &AppState,
    headers: &HeaderMap,
    user_id: Uuid,
    account_id: Option<Uuid>,
    ip: &str,
    next: &str,
    flash: Option<&str>,
) -> Result<Response, AppError> {
    let s = SignIn { user_id, account_id, ip, next, flash, remember_device: true, mailbox_proven: false };
    sign_in(state, headers, &s).await
}

/// The sign-in itself, every factor proven: a new session (the browser's
/// old one, or its half-signed-in one, ends) and its cookie; and when the
/// browser is remembered, its device cookie (set when it has none; a login
/// that signed in elsewhere before is mailed about a new browser).
pub async fn finish_sign_in(state: &AppState, headers: &HeaderMap, s: &SignIn<'_>) -> Result<Response, AppError> {
    let previous = session::session_token(state, headers);
    let token = session::start(&state.db, s.user_id, s.account_id, previous, s.ip, s.flash, None).await?;
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    session::note_user_agent(&state.db, &token, user_agent).await?;
    let mut res =
        ([(header::SET_COOKIE, session::session_cookie(state, &token))], Redirect::to(s.next)).into_response();
    forget_browser_notes(state, &mut res);
    if s.remember_device {
        remember_device(state, headers, s.user_id, s.ip, &mut res).await?;
    }
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
    let verified = match state.hasher.verify(given, login.as_ref().map(|l| l.password_hash.as_str())).await {
        Ok(v) => v,
        Err(e) => {
            // Busy (or broken) is not a wrong password: the attempt is
            // taken back, so a flood of other work never becomes a lockout.
            rate_limit::not_counted(&state.db, attempt).await?;
            return Err(e.into());
        }
    };
    if !verified {
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

/// Sets the device cookie when the browser has none of this login's.
async fn remember_device(
    state: &AppState,
    headers: &HeaderMap,
    user_id: Uuid,
    ip: &str,
    res: &mut Response,
) -> Result<(), AppError> {
    // A token the browser presents is kept only if it is already this
    // login's: anything else (planted, or another login's) is replaced by a
    // fresh one of ours.
    if let Some(known) = device_token(state, headers) {
        if store::device_of(&state.db, known, user_id).await? {
            store::remember_device(&state.db, known, user_id).await?;
            return Ok(());
        }
    }
    let device = token::generate();
    if store::remember_device(&state.db, &device, user_id).await? {
        crate::security::notices::new_browser(state, user_id, ip).await?;
    }
    let year = 365 * 24 * 3600;
    let secure = state.config.secure_cookies();
    let cookie = crate::web::set_cookie(device_cookie_name(secure), &device, Some(year), secure);
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(())
}

//! The second step of signing in: after the password (or a mailed link), a
//! login with two-factor sign-in gets a half-signed-in session. It opens
//! nothing but this page and "Cancel" (the session loader ignores it), lasts
//! 5 minutes, and its codes count against the sign-in limits like passwords.

use askama::Template;
use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{check_code, notices, Checked};
use crate::{
    auth::{
        self,
        csrf::{AnonCsrf, CsrfForm, NoFields},
        rate_limit, session, SignIn,
    },
    domain::token,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

/// How long the second step waits for its code.
pub const MINUTES: i32 = 5;
/// Wrong codes a second step begun from a mailed link may take before it
/// ends (a new link starts another). The link proved the mailbox; at most
/// `sign_in_link::LIVE_LINKS` links live at once, 15 minutes each.
pub const LINK_TRIES: i32 = 5;

/// Starts the half-signed-in session and sends the browser to the second step.
pub async fn begin(state: &AppState, headers: &HeaderMap, s: &SignIn<'_>) -> Result<Response, AppError> {
    let token = token::generate();
    let previous = session::session_token(state, headers).map(token::hash).unwrap_or_default();
    sqlx::query!(
        "WITH gone AS (DELETE FROM sessions WHERE token_hash = $7)
         INSERT INTO sessions (id, token_hash, user_id, active_account_id, csrf_token, ip, flash, second_step_due,
                               next_path, remember_device, mailbox_proven)
         VALUES ($1, $2, $3, $4, $5, $6, $8, true, $9, $10, $11)",
        Uuid::new_v4(),
        token::hash(&token),
        s.user_id,
        s.account_id,
        token::generate(),
        s.ip,
        previous,
        s.flash,
        s.next,
        s.remember_device,
        s.mailbox_proven
    )
    .execute(&state.db)
    .await?;
    let cookie = session::session_cookie(state, &token);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login/two-factor")).into_response())
}

/// The browser's half-signed-in session, if it has one still waiting.
pub(super) struct Pending {
    id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    account_id: Option<Uuid>,
    next: String,
    flash: Option<String>,
    remember_device: bool,
    /// Begun from a mailed link: held to `LINK_TRIES`, not the sign-in limits.
    mailbox_proven: bool,
}

pub(super) async fn pending(state: &AppState, headers: &HeaderMap) -> Result<Option<Pending>, AppError> {
    let Some(cookie) = session::session_token(state, headers) else { return Ok(None) };
    let row = sqlx::query!(
        r#"SELECT s.id, s.user_id, u.email, s.active_account_id, s.next_path, s.flash, s.remember_device,
                  s.mailbox_proven
           FROM sessions s JOIN users u ON u.id = s.user_id AND u.disabled_at IS NULL
           WHERE s.token_hash = $1 AND s.second_step_due AND s.created_at > now() - make_interval(mins => $2)"#,
        token::hash(cookie),
        MINUTES
    )
    .fetch_optional(&state.db)
    .await?;
    Ok(row.map(|r| Pending {
        id: r.id,
        user_id: r.user_id,
        email: r.email,
        account_id: r.active_account_id,
        next: web::safe_next(r.next_path.as_deref()),
        flash: r.flash,
        remember_device: r.remember_device,
        mailbox_proven: r.mailbox_proven,
    }))
}

pub(super) fn start_again() -> AppError {
    AppError::Gone(format!(
        "This sign-in is no longer waiting for a code: it waits {MINUTES} minutes, and ends if cancelled. Please sign in again."
    ))
}

#[derive(Template)]
#[template(path = "security/second_step.html")]
struct StepPage {
    layout: Layout,
    csrf_token: String,
    error: Option<String>,
    /// The login has a passkey (and passkeys work here): offer it.
    passkeys: bool,
}

async fn page_with(
    state: &AppState,
    p: &Pending,
    csrf_token: String,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let passkeys = state.webauthn.is_some()
        && sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1) AS "any!""#, p.user_id)
            .fetch_one(&state.db)
            .await?;
    let page = StepPage { layout: Layout::signed_out(), csrf_token, error, passkeys };
    Ok((status, web::render(&page)?).into_response())
}

pub async fn page(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let p = pending(&state, &headers).await?.ok_or_else(start_again)?;
    page_with(&state, &p, csrf_token, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn submit(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, AppError> {
    let Some(p) = pending(&state, &headers).await? else { return Err(start_again()) };
    let attempt = count_try(&state, &headers, &ip, &p).await?;
    let mut tx = crate::db::begin(&state.db).await?;
    let checked = check_code(&mut tx, &state.config.clock, p.user_id, &form.code).await?;
    if checked == Checked::Wrong {
        drop(tx);
        failed(&state, &ip, &p).await?;
        let message =
            "That code is not right, or was used already. Enter the code your app shows now, or a recovery code.";
        return page_with(&state, &p, csrf_token, StatusCode::UNAUTHORIZED, Some(message.into())).await;
    }
    if let Checked::Recovery { left } = checked {
        notices::recovery_code_used(&mut tx, &state.config, p.user_id, left, &ip).await?;
    }
    tx.commit().await?;
    if let Some(attempt) = attempt {
        rate_limit::succeeded(&state.db, attempt).await?;
    }
    complete(&state, &headers, &ip, &p).await
}

/// Counts a try at the second step. Begun from a mailed link, it is held
/// to the half-signed-in session's own budget (`LINK_TRIES`): failures
/// from elsewhere can never stop the person who holds the mailbox and the
/// second factor. Otherwise it counts like a password: per address, per
/// login and address, and per login (unless the browser is known).
pub(super) async fn count_try(
    state: &AppState,
    headers: &HeaderMap,
    ip: &str,
    p: &Pending,
) -> Result<Option<rate_limit::Attempt>, AppError> {
    if p.mailbox_proven {
        // Counted before the code is checked (and gone with the session
        // once it passes), so parallel tries cannot slip past the budget.
        let counted = sqlx::query!(
            "UPDATE sessions SET second_step_failures = second_step_failures + 1
             WHERE id = $1 AND second_step_failures < $2",
            p.id,
            LINK_TRIES
        )
        .execute(&state.db)
        .await?
        .rows_affected();
        if counted == 0 {
            session::end(&state.db, p.id).await?;
            return Err(AppError::TooManyRequests(format!(
                "That was {LINK_TRIES} wrong codes, so this sign-in has ended. Ask for a new sign-in link on the sign-in page to try again."
            )));
        }
        return Ok(None);
    }
    let trusted = auth::trusted_browser(state, headers, &p.email).await?;
    Ok(Some(rate_limit::begin(&state.db, ip, &p.email, trusted).await?))
}

/// A wrong code or passkey at the second step: the password (or link) was
/// right. Recorded for the login's Security page, and told to the login by
/// mail (`notices`).
pub(super) async fn failed(state: &AppState, ip: &str, p: &Pending) -> Result<(), AppError> {
    metrics::counter!("panel_second_step_failures_total").increment(1);
    let mut tx = crate::db::begin(&state.db).await?;
    sqlx::query!("INSERT INTO second_step_failures (user_id, ip) VALUES ($1, $2)", p.user_id, ip)
        .execute(&mut *tx)
        .await?;
    let told = notices::second_step_failures(&mut tx, &state.config, p.user_id).await?;
    tx.commit().await?;
    if told {
        state.wake_outboxes();
    }
    Ok(())
}

/// Signs in the login of a half-signed-in session whose second step passed
/// (a code here, or a passkey in `passkeys`).
pub(super) async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    ip: &str,
    p: &Pending,
) -> Result<Response, AppError> {
    auth::store::record_sign_in(&state.db, p.user_id).await?;
    let s = SignIn {
        user_id: p.user_id,
        account_id: p.account_id,
        ip,
        next: &p.next,
        flash: p.flash.as_deref(),
        remember_device: p.remember_device,
        mailbox_proven: p.mailbox_proven,
    };
    // The half-signed-in session is the browser's "previous" one: it ends here.
    let res = auth::finish_sign_in(state, headers, &s).await?;
    sqlx::query!("DELETE FROM sessions WHERE id = $1", p.id).execute(&state.db).await?;
    state.wake_outboxes();
    Ok(res)
}

/// Gives up the second step: the half-signed-in session ends.
pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if let Some(p) = pending(&state, &headers).await? {
        session::end(&state.db, p.id).await?;
    }
    let clear = session::clear_session_cookie(&state);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}

//! The Security page: two-factor sign-in's state, and the login's open
//! sessions with "Sign out" for each and for all the others.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::store;
use crate::{
    audit,
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{self, CurrentUser},
    },
    domain::audit::AuditAction,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub struct OpenSession {
    pub id: Uuid,
    pub browser: String,
    pub ip: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub current: bool,
}

pub struct PasskeyRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Template)]
#[template(path = "security/page.html")]
struct SecurityPage {
    layout: Layout,
    /// Two-factor sign-in is on: an authenticator app or a passkey.
    two_factor: bool,
    app_on: bool,
    recovery_left: i64,
    passkeys: Vec<PasskeyRow>,
    /// Passkeys work at this panel's address (see `webauthn::relying_party`).
    passkeys_available: bool,
    sessions: Vec<OpenSession>,
    /// Second steps failed after a right password, the last 30 days.
    failures: Vec<FailedStep>,
    error: Option<String>,
}

pub struct FailedStep {
    pub ip: String,
    pub at: OffsetDateTime,
}

/// The Security page, with `error` when one of its forms was refused.
pub async fn render(state: &AppState, user: &CurrentUser, error: Option<String>) -> Result<Response, AppError> {
    let two_factor = store::two_factor_on(&state.db, user.id).await?;
    let app_on = matches!(store::key(&state.db, user.id).await?, Some((_, true)));
    let passkeys = sqlx::query_as!(
        PasskeyRow,
        "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at",
        user.id
    )
    .fetch_all(&state.db)
    .await?;
    let recovery_left = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"#,
        user.id
    )
    .fetch_one(&state.db)
    .await?;
    // Support views are the staff member's, not the login's: not listed.
    let rows = sqlx::query!(
        r#"SELECT id, user_agent, ip, created_at, last_seen_at FROM sessions
           WHERE user_id = $1 AND impersonator_id IS NULL AND NOT second_step_due
             AND last_seen_at > now() - make_interval(mins => $2)
             AND created_at > now() - make_interval(hours => $3)
           ORDER BY last_seen_at DESC"#,
        user.id,
        session::IDLE_TIMEOUT_MINUTES as i32,
        session::ABSOLUTE_TIMEOUT_HOURS as i32
    )
    .fetch_all(&state.db)
    .await?;
    let sessions = rows
        .into_iter()
        .map(|r| OpenSession {
            id: r.id,
            browser: browser_name(r.user_agent.as_deref()),
            ip: r.ip.unwrap_or_default(),
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            current: r.id == user.session_id,
        })
        .collect();
    let failures = sqlx::query_as!(
        FailedStep,
        "SELECT ip, at FROM second_step_failures WHERE user_id = $1 AND at > now() - interval '30 days'
         ORDER BY at DESC LIMIT 20",
        user.id
    )
    .fetch_all(&state.db)
    .await?;
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    let page = SecurityPage {
        layout: Layout::of(user),
        two_factor,
        app_on,
        recovery_left,
        passkeys,
        passkeys_available: state.webauthn.is_some(),
        sessions,
        failures,
        error,
    };
    Ok((status, web::render(&page)?).into_response())
}

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    render(&state, &user, None).await
}

/// "Firefox on Linux" from a User-Agent header, for people to recognise
/// their own browsers; anything unrecognised is said plainly.
pub fn browser_name(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .into_iter()
        .find(|(mark, _)| ua.contains(mark))
        .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "An unknown browser".to_string(),
    }
}

async fn signed_out(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    ended: u64,
    flash: &str,
) -> Result<Response, AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    let event = audit::Event {
        actor_id: Some(user.id),
        account_id: None,
        target_user_id: Some(user.id),
        target_email: None,
        action: AuditAction::SessionsSignedOut,
        details: serde_json::json!({ "sessions": ended }),
        ip,
    };
    audit::record(&mut tx, event).await?;
    session::set_flash(&mut *tx, user.session_id, flash).await?;
    tx.commit().await?;
    Ok(Redirect::to("/security").into_response())
}

pub async fn end_one(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if id == user.session_id {
        return Err(AppError::BadRequest("To end this session, use Sign out in the menu.".into()));
    }
    let ended =
        sqlx::query!("DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND impersonator_id IS NULL", id, user.id)
            .execute(&state.db)
            .await?
            .rows_affected();
    if ended == 0 {
        return Err(AppError::NotFound("That session has ended already.".into()));
    }
    signed_out(&state, &user, &ip, ended, "That session is signed out.").await
}

pub async fn end_others(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let ended = sqlx::query!(
        "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 AND impersonator_id IS NULL",
        user.id,
        user.session_id
    )
    .execute(&state.db)
    .await?
    .rows_affected();
    signed_out(&state, &user, &ip, ended, "Every other session is signed out.").await
}

#[cfg(test)]
mod tests {
    use super::browser_name;

    #[test]
    fn browsers_are_named_as_people_know_them() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";
        assert_eq!(browser_name(Some(chrome)), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36 Edg/130.0";
        assert_eq!(browser_name(Some(edge)), "Edge on Windows");
        assert_eq!(
            browser_name(Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/131.0")),
            "Firefox on macOS"
        );
        assert_eq!(browser_name(None), "An unknown browser");
    }
}

//! "Sign in as" a client: staff open the client area as the client in a
//! session of its own (read-only, with a banner), and return from it. The
//! client's own sessions are untouched; start and end are audited.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::store;
use crate::{
    audit,
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{self, CurrentUser, Staff},
    },
    domain::audit::AuditAction,
    error::AppError,
    state::AppState,
    web::ClientIp,
};

pub async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    let (email, account_id) = store::enabled_client(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::NotFound("There is no such enabled client login.".into()))?;
    let event = audit::Event {
        actor_id: Some(me.id),
        account_id,
        target_user_id: Some(id),
        target_email: Some(&email),
        action: AuditAction::SupportViewStarted,
        details: serde_json::json!({}),
        ip: &ip,
    };
    audit::record(&mut tx, event).await?;
    let previous = session::session_token(&state, &headers);
    let token = session::start(&mut *tx, id, account_id, previous, &ip, None, Some(me.id)).await?;
    // The support view ends when the staff session would have: switching
    // back and forth cannot stretch a staff session past its timeout.
    session::backdate(&mut *tx, &token, me.session_started).await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, session::session_cookie(&state, &token))], Redirect::to("/")).into_response())
}

pub async fn end(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let Some((staff_id, _)) = user.impersonator else {
        return Err(AppError::Forbidden("You are not viewing the client area on a client's behalf.".into()));
    };
    let mut tx = crate::db::begin(&state.db).await?;
    session::end(&mut *tx, user.session_id).await?;
    let event = audit::Event {
        actor_id: Some(staff_id),
        account_id: user.account.as_ref().map(|a| a.id),
        target_user_id: Some(user.id),
        target_email: Some(&user.email),
        action: AuditAction::SupportViewEnded,
        details: serde_json::json!({}),
        ip: &ip,
    };
    audit::record(&mut tx, event).await?;
    if !store::is_enabled_staff(&mut tx, staff_id).await? {
        tx.commit().await?;
        return Ok(
            ([(header::SET_COOKIE, session::clear_session_cookie(&state))], Redirect::to("/login")).into_response()
        );
    }
    let previous = session::session_token(&state, &headers);
    let back = Some("You are back in the staff area.");
    let token = session::start(&mut *tx, staff_id, None, previous, &ip, back, None).await?;
    session::backdate(&mut *tx, &token, user.session_started).await?;
    tx.commit().await?;
    let to = format!("/admin/users/{}", user.id);
    Ok(([(header::SET_COOKIE, session::session_cookie(&state, &token))], Redirect::to(&to)).into_response())
}

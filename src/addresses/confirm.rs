//! The confirmation link's page (`/confirm/{token}`), for a login's address
//! and a contact's alike, and "Send the link again" for a signed-in login.
//! Opening the link (GET) never uses it: mail scanners open links too.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use crate::{
    audit,
    auth::{
        self,
        csrf::{AnonCsrf, CsrfForm, NoFields},
        session::{self, CurrentUser},
        store as login_store,
    },
    domain::{audit::AuditAction, token},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

fn link_dead() -> AppError {
    AppError::Gone(
        "This confirmation link has expired, has already been used, or is for an address that has changed since."
            .into(),
    )
}

/// What an open link would confirm: a login's address (by its name) or a
/// contact's (for an account).
struct Pending {
    email: String,
    login_name: Option<String>,
    contact: Option<(String, String)>,
}

async fn pending(state: &AppState, token: &str) -> Result<Pending, AppError> {
    if !token::well_formed(token) {
        return Err(link_dead());
    }
    let row = sqlx::query!(
        r#"SELECT c.email, u.name AS "login_name?", ct.name AS "contact_name?", a.name AS "account_name?"
           FROM address_confirmations c
           LEFT JOIN users u ON u.id = c.user_id AND u.email = c.email AND u.disabled_at IS NULL AND NOT u.is_staff
           LEFT JOIN contacts ct ON ct.id = c.contact_id AND ct.email = c.email
           LEFT JOIN accounts a ON a.id = ct.account_id
           WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now()
             AND (u.id IS NOT NULL OR ct.id IS NOT NULL)"#,
        token::hash(token)
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(link_dead)?;
    Ok(Pending { email: row.email, login_name: row.login_name, contact: row.contact_name.zip(row.account_name) })
}

#[derive(Template)]
#[template(path = "addresses/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    csrf_token: String,
    token: String,
    p: Pending,
}

pub async fn page(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let p = pending(&state, &token).await?;
    web::render(&ConfirmPage { layout: Layout::signed_out(), csrf_token, token, p })
}

#[derive(Template)]
#[template(path = "addresses/contact_confirmed.html")]
struct ContactConfirmedPage {
    layout: Layout,
    email: String,
    account_name: String,
}

/// Uses the link: the address is proven. A login is then signed in (the
/// link reached its mailbox, as a sign-in link would); a contact is thanked.
pub async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if !token::well_formed(&token) {
        return Err(link_dead());
    }
    let mut tx = crate::db::begin(&state.db).await?;
    let link = sqlx::query!(
        "UPDATE address_confirmations SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id, contact_id, email, next",
        token::hash(&token)
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(link_dead)?;
    if let Some(user_id) = link.user_id {
        let confirmed = sqlx::query_scalar!(
            "UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
             WHERE id = $1 AND email = $2 AND disabled_at IS NULL AND NOT is_staff RETURNING id",
            user_id,
            link.email
        )
        .fetch_optional(&mut *tx)
        .await?;
        if confirmed.is_none() {
            return Err(link_dead());
        }
        let event = audit::Event {
            actor_id: Some(user_id),
            account_id: None,
            target_user_id: Some(user_id),
            target_email: Some(&link.email),
            action: AuditAction::EmailConfirmed,
            details: serde_json::json!({}),
            ip: &ip,
        };
        audit::record(&mut tx, event).await?;
        login_store::record_sign_in(&mut *tx, user_id).await?;
        let account = login_store::default_account(&mut *tx, user_id).await?;
        tx.commit().await?;
        let flash = format!("Thank you: {} is confirmed, and your account is ready.", link.email);
        let next = web::safe_next(Some(&link.next));
        return auth::sign_in_remembering_device(&state, &headers, user_id, account, &ip, &next, Some(&flash)).await;
    }
    let contact_id: Option<Uuid> = link.contact_id;
    let contact = sqlx::query!(
        "UPDATE contacts c SET confirmed_at = coalesce(c.confirmed_at, now()) FROM accounts a
         WHERE c.id = $1 AND c.email = $2 AND a.id = c.account_id RETURNING c.account_id, a.name",
        contact_id,
        link.email
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(link_dead)?;
    let event = audit::Event {
        actor_id: None,
        account_id: Some(contact.account_id),
        target_user_id: None,
        target_email: Some(&link.email),
        action: AuditAction::ContactConfirmed,
        details: serde_json::json!({ "contact_id": contact_id }),
        ip: &ip,
    };
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    let page = ContactConfirmedPage { layout: Layout::signed_out(), email: link.email, account_name: contact.name };
    Ok(web::render(&page)?.into_response())
}

/// "Send the link again", from the banner every page shows a login whose
/// address is not confirmed yet.
pub async fn again(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if user.email_verified || user.impersonator.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let mut tx = crate::db::begin(&state.db).await?;
    let sent = super::send_login_link(&mut tx, &state.config, user.id, &user.name, &user.email, "/").await?;
    if let Some(lifts) = sent {
        return Err(AppError::TooManyRequests(format!(
            "We have sent {} several links in the last hour. You can ask for another from {}.",
            user.email,
            web::datetime(&lifts)
        )));
    }
    let flash = format!("We have sent a new link to {}. It works for 3 days.", user.email);
    session::set_flash(&mut *tx, user.session_id, &flash).await?;
    tx.commit().await?;
    state.wake_outboxes();
    Ok(Redirect::to("/").into_response())
}

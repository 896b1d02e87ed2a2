//! The support staff area under /admin: find clients, move an account to a
//! new owner, help with invitations and members, manage logins, sign in as
//! a client, and read the audit log across accounts. Every route takes
//! `Staff`, so a client gets 403 whatever their permissions.

pub mod ownership;
pub mod store;

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
    auth::{
        self,
        csrf::{CsrfForm, NoFields},
        session::{self, CurrentUser, Staff},
    },
    domain::{email::Email, permissions::Grant},
    error::AppError,
    invitations::service::{self as invitations, Inviter},
    layout::Layout,
    state::AppState,
    users::{
        store::{self as members, Change},
        GrantForm,
    },
    web::{self, ClientIp},
};
use ownership::{Transfer, TransferError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(search))
        .route("/admin/accounts/{id}", get(account))
        .route("/admin/accounts/{id}/transfer", post(transfer))
        .route("/admin/accounts/{id}/invitations/{inv}/resend", post(resend_invitation))
        .route("/admin/accounts/{id}/invitations/{inv}/cancel", post(cancel_invitation))
        .route("/admin/accounts/{id}/members/{user}/permissions", post(set_permissions))
        .route("/admin/accounts/{id}/members/{user}/remove", post(remove_member))
        .route("/admin/users/{id}", get(user))
        .route("/admin/users/{id}/end-sessions", post(end_sessions))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/sign-in-as", post(sign_in_as))
        .route("/admin/return", post(return_to_staff))
        .route("/admin/tickets", get(tickets))
        .route("/admin/tickets/{id}", get(ticket))
        .route("/admin/tickets/{id}/reply", post(reply_ticket))
        .route("/admin/audit", get(audit_log))
        .route("/admin/mail", get(failed_mail))
}

fn account_not_found() -> AppError {
    AppError::NotFound("There is no such account.".into())
}

fn user_not_found() -> AppError {
    AppError::NotFound("There is no such login.".into())
}

// ---- search -------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    accounts: Vec<store::SearchHit>,
    logins: Vec<store::StaffLogin>,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search(
    State(state): State<AppState>,
    Staff(me): Staff,
    Query(query): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let q: String = query.q.trim().chars().take(200).collect();
    let (accounts, logins) = if q.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        tokio::try_join!(store::search(&state.db, &q), store::staff_matching(&state.db, &q))?
    };
    web::render(&SearchPage { layout: Layout::of(&me), q, accounts, logins })
}

// ---- an account ---------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    layout: Layout,
    a: store::AccountView,
    error: Option<String>,
}

impl AccountPage {
    fn events(&self) -> &[store::AuditRow] {
        &self.a.audit
    }
}

async fn account_page(
    state: &AppState,
    me: &CurrentUser,
    id: Uuid,
    error: Option<String>,
) -> Result<Response, AppError> {
    let a = store::account(&state.db, id).await?.ok_or_else(account_not_found)?;
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    Ok((status, web::render(&AccountPage { layout: Layout::of(me), a, error })?).into_response())
}

async fn account(State(state): State<AppState>, Staff(me): Staff, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    account_page(&state, &me, id, None).await
}

#[derive(Deserialize)]
struct TransferForm {
    expected_owner: Uuid,
    new_owner_email: String,
    #[serde(default)]
    keep_old_owner: Option<String>,
    reason: String,
    password: String,
}

async fn transfer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<TransferForm>,
) -> Result<Response, AppError> {
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return account_page(
            &state,
            &me,
            id,
            Some("Give a reason for the transfer (up to 1000 characters): it goes into the audit log.".into()),
        )
        .await;
    }
    let new_owner = match Email::parse(&form.new_owner_email) {
        Ok(e) => e,
        Err(e) => return account_page(&state, &me, id, Some(e.to_string())).await,
    };
    let attempt = auth::rate_limit::begin(&state.db, &ip, &me.email).await?;
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(me.id).fetch_one(&state.db).await?;
    if form.password.len() > 1024 || !state.hasher.verify(&form.password, Some(&stored)).await? {
        return account_page(&state, &me, id, Some("Your password is not correct. Nothing was changed.".into())).await;
    }
    auth::rate_limit::succeeded(&state.db, attempt).await?;
    let t = Transfer {
        account_id: id,
        expected_owner: form.expected_owner,
        new_owner: &new_owner,
        keep_old_owner: form.keep_old_owner.is_some(),
        reason,
        staff_id: me.id,
        ip: &ip,
    };
    match ownership::transfer(&state.db, &t).await {
        Ok(()) => {}
        Err(TransferError::NoAccount) => return Err(account_not_found()),
        Err(TransferError::Db(e)) => return Err(e.into()),
        Err(TransferError::Render(e)) => return Err(e.into()),
        Err(e @ TransferError::OwnerChanged) => return Err(AppError::Conflict(e.to_string())),
        Err(e) => return account_page(&state, &me, id, Some(e.to_string())).await,
    }
    state.mail_wakeup.notify_one();
    session::set_flash(&state.db, me.session_id, &format!("Ownership moved to {new_owner}.")).await?;
    Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response())
}

/// The account's name and owner, in whose name invitation mail goes out.
struct OnBehalfOf {
    account_name: String,
    owner_name: String,
    owner_email: String,
}

impl OnBehalfOf {
    fn inviter<'a>(&'a self, me: &CurrentUser, account_id: Uuid, ip: &'a str, state: &'a AppState) -> Inviter<'a> {
        Inviter {
            actor_id: me.id,
            account_id,
            account_name: &self.account_name,
            owner_name: &self.owner_name,
            owner_email: &self.owner_email,
            ip,
            config: &state.config,
        }
    }
}

async fn on_behalf_of(state: &AppState, account_id: Uuid) -> Result<OnBehalfOf, AppError> {
    let (account_name, owner_name, owner_email): (String, String, String) = sqlx::query_as(
        "SELECT a.name, u.name, u.email FROM accounts a JOIN memberships m ON m.account_id = a.id AND m.is_owner
         JOIN users u ON u.id = m.user_id WHERE a.id = $1",
    )
    .bind(account_id)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(account_not_found)?;
    Ok(OnBehalfOf { account_name, owner_name, owner_email })
}

async fn resend_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, inv)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let owner = on_behalf_of(&state, id).await?;
    let email = invitations::resend(&state.db, &owner.inviter(&me, id, &ip, &state), inv).await?;
    state.mail_wakeup.notify_one();
    session::set_flash(&state.db, me.session_id, &format!("A new invitation was sent to {email}.")).await?;
    Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response())
}

async fn cancel_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, inv)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let owner = on_behalf_of(&state, id).await?;
    let email = invitations::cancel(&state.db, &owner.inviter(&me, id, &ip, &state), inv).await?;
    session::set_flash(&state.db, me.session_id, &format!("The invitation to {email} was cancelled.")).await?;
    Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response())
}

async fn set_permissions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, AppError> {
    let grant = Grant::parse(&form.mode, &form.permissions)
        .map_err(|e| AppError::BadRequest(format!("{e} Nothing was changed.")))?;
    let mut tx = state.db.begin().await?;
    if !members::set_permissions(&mut tx, &Change { actor_id: me.id, account_id: id, user_id, ip: &ip }, &grant).await?
    {
        return Err(AppError::NotFound("That person is not a member of this account.".into()));
    }
    session::set_flash(&mut *tx, me.session_id, &format!("Permissions saved: {}.", grant.describe())).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response())
}

async fn remove_member(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = state.db.begin().await?;
    if !members::remove(&mut tx, &Change { actor_id: me.id, account_id: id, user_id, ip: &ip }).await? {
        return Err(AppError::NotFound("That person is not a member of this account.".into()));
    }
    session::set_flash(&mut *tx, me.session_id, "Access removed.").await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response())
}

// ---- logins -------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    u: store::UserView,
    accounts: Vec<store::UserAccount>,
}

async fn user(State(state): State<AppState>, Staff(me): Staff, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let (u, accounts) = tokio::try_join!(store::user(&state.db, id), store::accounts_of(&state.db, id))?;
    let u = u.ok_or_else(user_not_found)?;
    web::render(&UserPage { layout: Layout::of(&me), u, accounts })
}

/// Runs one staff action on a client login, with its audit event.
async fn on_client(
    state: &AppState,
    me: &CurrentUser,
    ip: &str,
    id: Uuid,
    action: &str,
    sql: &str,
    done: &str,
) -> Result<Response, AppError> {
    let mut tx = state.db.begin().await?;
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND NOT is_staff FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let email = email.ok_or_else(user_not_found)?;
    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(me.id),
            account_id: None,
            target_user_id: Some(id),
            target_email: Some(&email),
            action,
            details: serde_json::json!({}),
            ip,
        },
    )
    .await?;
    session::set_flash(&mut *tx, me.session_id, done).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

async fn end_sessions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    on_client(
        &state,
        &me,
        &ip,
        id,
        "user.sessions_ended",
        "DELETE FROM sessions WHERE user_id = $1",
        "All sessions of this login have ended.",
    )
    .await
}

async fn disable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    on_client(
        &state, &me, &ip, id, "user.disabled",
        "WITH s AS (DELETE FROM sessions WHERE user_id = $1) UPDATE users SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL",
        "The login is disabled and its sessions have ended.",
    )
    .await
}

async fn enable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    on_client(
        &state,
        &me,
        &ip,
        id,
        "user.enabled",
        "UPDATE users SET disabled_at = NULL WHERE id = $1",
        "The login is enabled again.",
    )
    .await
}

/// Opens the client area as this client in a session of its own; the
/// client's own sessions are untouched. Returning ends it.
async fn sign_in_as(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = state.db.begin().await?;
    let client: Option<(String, Option<Uuid>)> = sqlx::query_as(
        "SELECT u.email, (SELECT m.account_id FROM memberships m WHERE m.user_id = u.id ORDER BY m.is_owner DESC, m.created_at LIMIT 1)
         FROM users u WHERE u.id = $1 AND NOT u.is_staff AND u.disabled_at IS NULL",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (email, account_id) =
        client.ok_or_else(|| AppError::NotFound("There is no such enabled client login.".into()))?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(me.id),
            account_id,
            target_user_id: Some(id),
            target_email: Some(&email),
            action: "staff.sign_in_as.start",
            details: serde_json::json!({}),
            ip: &ip,
        },
    )
    .await?;
    let token =
        session::start(&mut *tx, id, account_id, session::session_token(&state, &headers), &ip, None, Some(me.id))
            .await?;
    // The support view ends when the staff session would have: switching
    // back and forth cannot stretch a staff session past its timeout.
    sqlx::query("UPDATE sessions SET created_at = $2 WHERE token_hash = $1")
        .bind(crate::domain::token::hash(&token))
        .bind(me.session_started)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, session::session_cookie(&state, &token))], Redirect::to("/")).into_response())
}

async fn return_to_staff(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let Some((staff_id, _)) = user.impersonator else {
        return Err(AppError::Forbidden("You are not viewing the client area on a client's behalf.".into()));
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(user.session_id).execute(&mut *tx).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(staff_id),
            account_id: user.account.as_ref().map(|a| a.id),
            target_user_id: Some(user.id),
            target_email: Some(&user.email),
            action: "staff.sign_in_as.end",
            details: serde_json::json!({}),
            ip: &ip,
        },
    )
    .await?;
    let still_staff: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_staff AND disabled_at IS NULL)")
            .bind(staff_id)
            .fetch_one(&mut *tx)
            .await?;
    if !still_staff {
        tx.commit().await?;
        return Ok(
            ([(header::SET_COOKIE, session::clear_session_cookie(&state))], Redirect::to("/login")).into_response()
        );
    }
    let token = session::start(
        &mut *tx,
        staff_id,
        None,
        session::session_token(&state, &headers),
        &ip,
        Some("You are back in the staff area."),
        None,
    )
    .await?;
    sqlx::query("UPDATE sessions SET created_at = $2 WHERE token_hash = $1")
        .bind(crate::domain::token::hash(&token))
        .bind(user.session_started)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((
        [(header::SET_COOKIE, session::session_cookie(&state, &token))],
        Redirect::to(&format!("/admin/users/{}", user.id)),
    )
        .into_response())
}

// ---- audit and mail -----------------------------------------------------

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<store::AuditRow>,
    account: String,
    actor: String,
    action: String,
    from: String,
    to: String,
}

impl AuditPage {
    fn events(&self) -> &[store::AuditRow] {
        &self.rows
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    account: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

fn parse_date(s: &str) -> Result<Option<time::Date>, AppError> {
    if s.is_empty() {
        return Ok(None);
    }
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("\"{s}\" is not a date like 2026-11-23.")))
}

async fn audit_log(
    State(state): State<AppState>,
    Staff(me): Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = store::AuditFilter {
        account: match non_empty(&q.account) {
            None => None,
            Some(s) => Some(
                Uuid::parse_str(&s)
                    .map_err(|_| AppError::BadRequest("The account filter takes an account id.".into()))?,
            ),
        },
        actor_email: non_empty(&q.actor).map(|s| s.to_lowercase()),
        action: non_empty(&q.action),
        from: parse_date(q.from.trim())?,
        to: parse_date(q.to.trim())?,
    };
    let events = store::audit_log(&state.db, &filter).await?;
    web::render(&AuditPage {
        layout: Layout::of(&me),
        rows: events,
        account: q.account,
        actor: q.actor,
        action: q.action,
        from: q.from,
        to: q.to,
    })
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    layout: Layout,
    mails: Vec<store::MailRow>,
}

async fn failed_mail(State(state): State<AppState>, Staff(me): Staff) -> Result<Response, AppError> {
    let mails = store::failed_mail(&state.db).await?;
    web::render(&MailPage { layout: Layout::of(&me), mails })
}

// ---- support tickets ----------------------------------------------------

#[derive(sqlx::FromRow)]
struct TicketRow {
    id: Uuid,
    number: i64,
    account_name: String,
    department: String,
    subject: String,
    status: String,
    updated_at: time::OffsetDateTime,
}

#[derive(Template)]
#[template(path = "admin/tickets.html")]
struct TicketsPage {
    layout: Layout,
    tickets: Vec<TicketRow>,
}

const TICKET_COLUMNS: &str = "t.id, t.number, a.name AS account_name, t.department, t.subject, t.status, t.updated_at";

async fn tickets(State(state): State<AppState>, Staff(me): Staff) -> Result<Response, AppError> {
    let tickets = sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN accounts a ON a.id = t.account_id WHERE t.status <> 'Closed' ORDER BY t.updated_at DESC LIMIT $1"
    ))
    .bind(store::LIMIT)
    .fetch_all(&state.db)
    .await?;
    web::render(&TicketsPage { layout: Layout::of(&me), tickets })
}

#[derive(Template)]
#[template(path = "admin/ticket.html")]
struct TicketPage {
    layout: Layout,
    t: TicketRow,
    messages: Vec<crate::sections::tickets::Message>,
    error: Option<String>,
}

async fn find_ticket(state: &AppState, id: Uuid) -> Result<TicketRow, AppError> {
    sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::NotFound("There is no such ticket.".into()))
}

async fn ticket(State(state): State<AppState>, Staff(me): Staff, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let t = find_ticket(&state, id).await?;
    let messages = crate::sections::tickets::messages(&state.db, id).await?;
    web::render(&TicketPage { layout: Layout::of(&me), t, messages, error: None })
}

#[derive(Deserialize)]
struct ReplyForm {
    message: String,
}

async fn reply_ticket(
    State(state): State<AppState>,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<ReplyForm>,
) -> Result<Response, AppError> {
    let t = find_ticket(&state, id).await?;
    let body = match crate::sections::tickets::check_body(&f.message) {
        Ok(b) => b,
        Err(e) => {
            let messages = crate::sections::tickets::messages(&state.db, id).await?;
            let page = TicketPage { layout: Layout::of(&me), t, messages, error: Some(e) };
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut tx = state.db.begin().await?;
    let account_id: Uuid = sqlx::query_scalar("SELECT account_id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO ticket_messages (ticket_id, author_id, from_staff, body) VALUES ($1, $2, true, $3)")
        .bind(id)
        .bind(me.id)
        .bind(&body)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE tickets SET status = 'Answered', updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    crate::sections::notify::send(
        &mut tx,
        account_id,
        crate::sections::notify::Kind::Support,
        &format!("Ticket #{} answered: {}", t.number, t.subject),
        &[format!("Support answered ticket #{}:", t.number), body.clone()],
    )
    .await?;
    session::set_flash(&mut *tx, me.session_id, "Reply sent.").await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&format!("/admin/tickets/{id}")).into_response())
}

//! User Management: the owner's page for inviting people, changing what
//! they may do, and removing them. Every route here takes `Owner`: a member
//! never manages users, even with All Permissions.

pub mod store;

use std::collections::BTreeSet;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{self, Owner},
    },
    domain::{
        email::Email,
        permissions::{Grant, Permission, PERMISSIONS, PRESETS},
    },
    error::AppError,
    invitations::service::{self, ChangeError, InviteError, Inviter},
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};
use store::{AuditRow, Change, Cursor, InvitationRow, MemberRow};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(index))
        .route("/users/invite", get(invite_page).post(invite))
        .route("/users/audit", get(audit_log))
        .route("/users/{user_id}/permissions", get(permissions_page).post(set_permissions))
        .route("/users/{user_id}/remove", get(remove_page).post(remove))
        .route("/users/invitations/{id}/resend", post(resend))
        .route("/users/invitations/{id}/cancel", post(cancel))
}

/// The All Permissions / Choose Permissions choice, as a form shows it.
pub struct GrantChoice {
    pub all: bool,
    pub chosen: BTreeSet<&'static str>,
}

impl GrantChoice {
    fn of(grant: &Grant) -> GrantChoice {
        match grant {
            Grant::All => GrantChoice { all: true, chosen: BTreeSet::new() },
            Grant::Chosen(set) => GrantChoice { all: false, chosen: set.clone() },
        }
    }

    /// What the form sent, kept so a refused form shows what was ticked.
    fn from_form(mode: &str, keys: &[String]) -> GrantChoice {
        GrantChoice {
            all: mode == "all",
            chosen: PERMISSIONS.iter().filter(|p| keys.iter().any(|k| k == p.key)).map(|p| p.key).collect(),
        }
    }

    pub fn permissions(&self) -> &'static [Permission] {
        &PERMISSIONS
    }

    pub fn ticked(&self, key: &str) -> bool {
        self.chosen.contains(key)
    }
}

fn bad_cursor() -> AppError {
    AppError::BadRequest("That page link is not valid. Go back to the first page.".into())
}

fn parse_cursor(raw: Option<&str>) -> Result<Option<Cursor>, AppError> {
    raw.filter(|s| !s.is_empty()).map(|s| Cursor::parse(s).ok_or_else(bad_cursor)).transpose()
}

// ---- the page -----------------------------------------------------------

#[derive(Template)]
#[template(path = "users/index.html")]
struct IndexPage {
    layout: Layout,
    owner_name: String,
    owner_email: String,
    members: Vec<MemberRow>,
    next_members: Option<String>,
    invitations: Vec<InvitationRow>,
    next_invitations: Option<String>,
    /// Keeps the other list's position in the pager links.
    members_at: String,
    invitations_at: String,
}

#[derive(Deserialize)]
struct IndexQuery {
    after: Option<String>,
    iafter: Option<String>,
}

async fn index(
    State(state): State<AppState>,
    Owner(me): Owner,
    Query(q): Query<IndexQuery>,
) -> Result<Response, AppError> {
    let after = parse_cursor(q.after.as_deref())?;
    let iafter = parse_cursor(q.iafter.as_deref())?;
    let ((members, next_m), (invitations, next_i)) = store::lists(&state.db, me.account.id, after, iafter).await?;
    web::render(&IndexPage {
        layout: Layout::of(&me.user),
        owner_name: me.user.name.clone(),
        owner_email: me.user.email.clone(),
        members,
        next_members: next_m.map(|c| c.encode()),
        invitations,
        next_invitations: next_i.map(|c| c.encode()),
        members_at: q.after.unwrap_or_default(),
        invitations_at: q.iafter.unwrap_or_default(),
    })
}

// ---- Invite New User ----------------------------------------------------

#[derive(Template)]
#[template(path = "users/invite.html")]
struct InvitePage {
    layout: Layout,
    email: String,
    grant: GrantChoice,
    presets: &'static [(&'static str, &'static [&'static str])],
    error: Option<String>,
}

#[derive(Deserialize)]
struct InviteQuery {
    preset: Option<String>,
}

async fn invite_page(Owner(me): Owner, Query(q): Query<InviteQuery>) -> Result<Response, AppError> {
    // A preset ticks its boxes under Choose Permissions; it works without
    // JavaScript because it is a link.
    let grant = match PRESETS.iter().find(|(name, _)| q.preset.as_deref() == Some(&name.to_lowercase())) {
        Some((_, keys)) => GrantChoice { all: false, chosen: keys.iter().copied().collect() },
        None => GrantChoice { all: true, chosen: BTreeSet::new() },
    };
    web::render(&InvitePage {
        layout: Layout::of(&me.user),
        email: String::new(),
        grant,
        presets: &PRESETS,
        error: None,
    })
}

/// The All Permissions / Choose Permissions part of a form, as sent (the
/// owner's Manage Permissions and the staff's change of a member).
#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    permissions: Vec<String>,
}

async fn invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, AppError> {
    let refuse = |status: StatusCode, message: String| -> Result<Response, AppError> {
        let page = InvitePage {
            layout: Layout::of(&me.user),
            email: form.email.chars().take(254).collect(),
            grant: GrantChoice::from_form(&form.mode, &form.permissions),
            presets: &PRESETS,
            error: Some(message),
        };
        Ok((status, web::render(&page)?).into_response())
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let grant = match Grant::parse(&form.mode, &form.permissions) {
        Ok(g) => g,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let from = Inviter::owner(&me, &ip, &state.config);
    match service::invite(&state.db, &from, &email, &grant).await {
        Ok(()) => {}
        Err(InviteError::Db(e)) => return Err(e.into()),
        Err(InviteError::Render(e)) => return Err(e.into()),
        Err(e @ InviteError::RateLimited(_)) => return refuse(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        Err(e) => return refuse(StatusCode::CONFLICT, e.to_string()),
    }
    state.mail_wakeup.notify_one();
    session::set_flash(&state.db, me.user.session_id, &format!("Invitation sent to {email}. It is valid for 7 days."))
        .await?;
    Ok(Redirect::to("/users").into_response())
}

impl From<ChangeError> for AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound => AppError::NotFound(e.to_string()),
            ChangeError::Closed(_) => AppError::Conflict(e.to_string()),
            ChangeError::Invite(InviteError::Db(e)) => e.into(),
            ChangeError::Invite(InviteError::Render(e)) => e.into(),
            ChangeError::Invite(e @ InviteError::RateLimited(_)) => AppError::TooManyRequests(e.to_string()),
            ChangeError::Invite(e) => AppError::Conflict(e.to_string()),
        }
    }
}

async fn resend(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let from = Inviter::owner(&me, &ip, &state.config);
    let email = service::resend(&state.db, &from, id).await?;
    state.mail_wakeup.notify_one();
    session::set_flash(
        &state.db,
        me.user.session_id,
        &format!("A new invitation was sent to {email}; the earlier link no longer works."),
    )
    .await?;
    Ok(Redirect::to("/users").into_response())
}

async fn cancel(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let email = service::cancel(&state.db, &Inviter::owner(&me, &ip, &state.config), id).await?;
    session::set_flash(&state.db, me.user.session_id, &format!("The invitation to {email} was cancelled.")).await?;
    Ok(Redirect::to("/users").into_response())
}

// ---- Manage Permissions -------------------------------------------------

#[derive(Template)]
#[template(path = "users/permissions.html")]
struct PermissionsPage {
    layout: Layout,
    member: MemberRow,
    grant: GrantChoice,
    error: Option<String>,
}

fn not_a_member() -> AppError {
    AppError::NotFound("That person does not have access to this account.".into())
}

async fn permissions_page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(not_a_member)?;
    let grant = GrantChoice::of(&member.grant());
    web::render(&PermissionsPage { layout: Layout::of(&me.user), member, grant, error: None })
}

async fn set_permissions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(not_a_member)?;
    let grant = match Grant::parse(&form.mode, &form.permissions) {
        Ok(g) => g,
        Err(e) => {
            let page = PermissionsPage {
                layout: Layout::of(&me.user),
                member,
                grant: GrantChoice::from_form(&form.mode, &form.permissions),
                error: Some(e.to_string()),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    let mut tx = state.db.begin().await?;
    let change = Change { actor_id: me.user.id, account_id: me.account.id, user_id, ip: &ip };
    if !store::set_permissions(&mut tx, &change, &grant).await? {
        return Err(not_a_member());
    }
    session::set_flash(
        &mut *tx,
        me.user.session_id,
        &format!("Permissions of {} saved: {}.", member.name, grant.describe()),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/users").into_response())
}

// ---- Remove Access ------------------------------------------------------

#[derive(Template)]
#[template(path = "users/remove.html")]
struct RemovePage {
    layout: Layout,
    member: MemberRow,
    account_name: String,
}

async fn remove_page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(not_a_member)?;
    web::render(&RemovePage { layout: Layout::of(&me.user), member, account_name: me.account.name.clone() })
}

async fn remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(user_id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let member = store::member(&state.db, me.account.id, user_id).await?.ok_or_else(not_a_member)?;
    let mut tx = state.db.begin().await?;
    let change = Change { actor_id: me.user.id, account_id: me.account.id, user_id, ip: &ip };
    if !store::remove(&mut tx, &change).await? {
        return Err(not_a_member());
    }
    session::set_flash(&mut *tx, me.user.session_id, &format!("{} no longer has access to this account.", member.name))
        .await?;
    tx.commit().await?;
    Ok(Redirect::to("/users").into_response())
}

// ---- audit log ----------------------------------------------------------

#[derive(Template)]
#[template(path = "users/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<AuditRow>,
    next: Option<i64>,
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<String>,
}

async fn audit_log(
    State(state): State<AppState>,
    Owner(me): Owner,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let before = q.before.as_deref().map(|s| s.parse::<i64>().map_err(|_| bad_cursor())).transpose()?;
    let (events, next) = store::audit_log(&state.db, me.account.id, before).await?;
    web::render(&AuditPage { layout: Layout::of(&me.user), events, next })
}

/// Plain words for the audit log's action codes.
pub fn describe_action(action: &str) -> &str {
    match action {
        "invitation.sent" => "Invitation sent",
        "invitation.resent" => "Invitation resent",
        "invitation.cancelled" => "Invitation cancelled",
        "invitation.accepted" => "Invitation accepted",
        "member.permissions_changed" => "Permissions changed",
        "member.removed" => "Access removed",
        "user.registered" => "Account created",
        "ownership.transferred" => "Ownership transferred",
        other => other,
    }
}

/// An audit event's details as "key: value" pairs, ids left out.
pub fn details_text(details: &serde_json::Value) -> String {
    details
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !k.ends_with("_id"))
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        k.replace('_', " "),
                        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

//! Invitations: create, list with status, resend, cancel, through the same
//! `invitations::send` functions as Invite New User and its list.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    Json,
};
use uuid::Uuid;

use super::{
    caller::ApiOwner,
    problem::Problem,
    schema::{self, InvitationJson, InvitationPage, NewInvitation, PageQuery},
    ApiJson, ApiPath,
};
use crate::{
    change::AccountChange,
    domain::email::Email,
    error::AppError,
    invitations::send::{self, InviteError, Inviter},
    mail::MailKind,
    state::AppState,
    users::store,
};

fn no_such_invitation() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "There is no such invitation in this account.")
}

/// The account's invitations, newest first, each with its status.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "invitations", params(PageQuery),
    responses((status = 200, description = "A page of invitations", body = InvitationPage)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    Query(q): Query<PageQuery>,
) -> Result<Json<InvitationPage>, Problem> {
    let after = super::cursor(q.cursor.as_deref())?;
    let lists = store::lists(&state.db, caller.member.account.id, None, after).await?;
    Ok(Json(InvitationPage {
        items: lists.invitations.into_iter().map(InvitationJson::from).collect(),
        next_cursor: lists.next_invitations.map(|c| c.encode()),
    }))
}

/// Invites someone by email (Invite New User): the invitation mail goes
/// out, valid for 7 days.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "invitations", request_body = NewInvitation,
    responses(
        (status = 201, description = "Invitation sent", body = InvitationJson),
        (status = 409, description = "Already a member, or an invitation is pending", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_invitation(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<InvitationJson>), Problem> {
    let email = Email::parse(&body.email).map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let grant = body.permissions.parse()?;
    schema::check_until(body.access_until, state.config.clock.now())?;
    let me = &caller.member;
    let mut change = AccountChange::by_member(&state, me, &caller.ip).await?;
    let scope = schema::check_scope(&mut change, me.account.id, body.scope.as_deref()).await?;
    let offer = send::Offered { grant: &grant, until: body.access_until, scope };
    let id = match send::invite(&mut change, &Inviter::owner(me, &state.config), &email, &offer).await {
        Ok(id) => id,
        Err(InviteError::Internal(e)) => return Err(AppError::from(e).into()),
        Err(e @ (InviteError::OverBudget(..) | InviteError::Cooldown(..))) => {
            if e.is_budget() {
                change.refused_by_mail_budget(MailKind::Invitation).await?;
            }
            return Err(Problem::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()));
        }
        Err(e) => return Err(Problem::new(StatusCode::CONFLICT, e.to_string())),
    };
    let invitation = store::invitation(&mut change, me.account.id, id).await?.ok_or_else(no_such_invitation)?;
    change.commit().await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// Sends the invitation again with a new link and seven more days.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/resend", tag = "invitations",
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Sent again", body = InvitationJson),
        (status = 409, description = "The invitation is closed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resend_invitation(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<InvitationJson>, Problem> {
    let me = &caller.member;
    let mut change = AccountChange::by_member(&state, me, &caller.ip).await?;
    if let Err(e) = send::resend(&mut change, &Inviter::owner(me, &state.config), id).await {
        return Err(send::refusal(change, e).await.into());
    }
    let invitation = store::invitation(&mut change, me.account.id, id).await?.ok_or_else(no_such_invitation)?;
    change.commit().await?;
    Ok(Json(invitation.into()))
}

/// Cancels an open invitation; its link stops working.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/cancel", tag = "invitations",
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Cancelled", body = InvitationJson),
        (status = 409, description = "The invitation is closed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_invitation(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<InvitationJson>, Problem> {
    let me = &caller.member;
    let mut change = AccountChange::by_member(&state, me, &caller.ip).await?;
    send::cancel(&mut change, me.account.id, id).await.map_err(AppError::from)?;
    let invitation = store::invitation(&mut change, me.account.id, id).await?.ok_or_else(no_such_invitation)?;
    change.commit().await?;
    Ok(Json(invitation.into()))
}

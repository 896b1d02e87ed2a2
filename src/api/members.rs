//! Members: list, get, change permissions, remove. The changes go through
//! the same store functions and `AccountChange` as Manage Permissions and
//! Remove Access, so the audit log reads the same whichever door was used.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    Json,
};
use uuid::Uuid;

use super::{
    caller::ApiOwner,
    problem::Problem,
    schema::{check_scope, check_until, MemberAccess, MemberJson, MemberPage, PageQuery},
    ApiJson, ApiPath,
};
use crate::{change::AccountChange, state::AppState, users::store};

fn not_a_member() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "That person does not have access to this account.")
}

/// The account's members (not the owner), in the order they joined.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(PageQuery),
    responses((status = 200, description = "A page of members", body = MemberPage)))]
pub async fn list_members(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    Query(q): Query<PageQuery>,
) -> Result<Json<MemberPage>, Problem> {
    let after = super::cursor(q.cursor.as_deref())?;
    // User Management's own query (its invitation half is the first page,
    // and is not used here).
    let lists = store::lists(&state.db, caller.member.account.id, after, None).await?;
    Ok(Json(MemberPage {
        items: lists.members.into_iter().map(MemberJson::from).collect(),
        next_cursor: lists.next_members.map(|c| c.encode()),
    }))
}

#[utoipa::path(get, path = "/api/v1/members/{user_id}", tag = "members",
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    responses((status = 200, description = "The member", body = MemberJson)))]
pub async fn get_member(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<Json<MemberJson>, Problem> {
    let member = store::member(&state.db, caller.member.account.id, user_id).await?.ok_or_else(not_a_member)?;
    Ok(Json(member.into()))
}

/// Replaces the member's permissions and end date (Manage Permissions).
#[utoipa::path(put, path = "/api/v1/members/{user_id}/permissions", tag = "members",
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    request_body = MemberAccess,
    responses((status = 200, description = "The member, with the new permissions", body = MemberJson)))]
pub async fn set_permissions(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    ApiPath(user_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<MemberAccess>,
) -> Result<Json<MemberJson>, Problem> {
    let account_id = caller.member.account.id;
    let now = store::member(&state.db, account_id, user_id).await?.ok_or_else(not_a_member)?;
    let grant = body.permissions.parse()?;
    check_until(body.access_until, state.config.clock.now())?;
    let mut change = AccountChange::by_member(&state, &caller.member, &caller.ip).await?;
    // Left out, the scope stays: a call about permissions never widens a
    // member limited to chosen services and domains.
    let scope = match &body.scope {
        None => now.scope,
        Some(sent) => check_scope(&mut change, account_id, sent.as_deref()).await?,
    };
    let access = Some(store::Access { until: body.access_until, scope });
    if !store::set_permissions(&mut change, user_id, &grant, access, None).await? {
        return Err(not_a_member());
    }
    change.commit().await?;
    let member = store::member(&state.db, account_id, user_id).await?.ok_or_else(not_a_member)?;
    Ok(Json(member.into()))
}

/// Ends the member's access (Remove Access); their API tokens for this
/// account stop working with it.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members",
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    responses((status = 204, description = "Access removed")))]
pub async fn remove_member(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    let mut change = AccountChange::by_member(&state, &caller.member, &caller.ip).await?;
    if !store::remove(&mut change, user_id).await? {
        return Err(not_a_member());
    }
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

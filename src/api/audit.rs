//! `GET /api/v1/audit`: the account's audit log, newest first.

use axum::{
    extract::{Query, State},
    Json,
};

use super::{
    caller::ApiOwner,
    problem::Problem,
    schema::{AuditEventJson, AuditPage, PageQuery},
};
use crate::{state::AppState, users::store};

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageQuery),
    responses((status = 200, description = "A page of audit events", body = AuditPage)))]
pub async fn list_audit(
    State(state): State<AppState>,
    ApiOwner(caller): ApiOwner,
    Query(q): Query<PageQuery>,
) -> Result<Json<AuditPage>, Problem> {
    let before = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| super::bad_cursor())?),
    };
    let (events, next) = store::audit_log(&state.db, caller.member.account.id, before).await?;
    Ok(Json(AuditPage {
        items: events.into_iter().map(AuditEventJson::from).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

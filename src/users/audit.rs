//! The owner's audit log of their account, newest first, paged.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

use super::store::{self, AuditRow};
use crate::{
    auth::session::Owner,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters},
};

#[derive(Template)]
#[template(path = "users/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<AuditRow>,
    next: Option<i64>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let before = q.before.as_deref().map(|s| s.parse::<i64>().map_err(|_| super::bad_cursor())).transpose()?;
    let (events, next) = store::audit_log(&state.db, me.account.id, before).await?;
    web::render(&AuditPage { layout: Layout::of(&me.user), events, next })
}

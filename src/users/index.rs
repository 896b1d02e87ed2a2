//! The User Management page: members and invitations, each list paged.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

use super::store::{self, InvitationRow, MemberRow};
use crate::{
    auth::session::Owner,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters},
};

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
    /// The account's rule: everyone with access uses two-factor sign-in.
    requires_two_factor: bool,
    /// Whether the owner does (needed before the rule can be set).
    owner_two_factor: bool,
    /// Keeps the other list's position in the pager links.
    members_at: String,
    invitations_at: String,
    /// The clock's time, against which end dates are shown as passed.
    now: time::OffsetDateTime,
}

#[derive(Deserialize)]
pub struct IndexQuery {
    after: Option<String>,
    iafter: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Owner(me): Owner,
    Query(q): Query<IndexQuery>,
) -> Result<Response, AppError> {
    let after = super::parse_cursor(q.after.as_deref())?;
    let iafter = super::parse_cursor(q.iafter.as_deref())?;
    let lists = store::lists(&state.db, me.account.id, after, iafter).await?;
    web::render(&IndexPage {
        layout: Layout::of(&me.user),
        owner_name: me.user.name.clone(),
        owner_email: me.user.email.clone(),
        members: lists.members,
        next_members: lists.next_members.map(|c| c.encode()),
        invitations: lists.invitations,
        next_invitations: lists.next_invitations.map(|c| c.encode()),
        members_at: q.after.unwrap_or_default(),
        invitations_at: q.iafter.unwrap_or_default(),
        requires_two_factor: lists.require_two_factor,
        owner_two_factor: me.user.two_factor,
        now: state.config.clock.now(),
    })
}

//! Finding clients by email, name or account name.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

use super::store;
use crate::{auth::session::Staff, error::AppError, layout::Layout, state::AppState, web};

#[derive(Template)]
#[template(path = "admin/search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    accounts: Vec<store::SearchHit>,
    logins: Vec<store::StaffLogin>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn page(
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

//! The client-area home of the active account, and Switch Account.

use askama::Template;
use axum::{response::Response, routing::get, Router};

use crate::{
    auth::session::CurrentUser,
    error::AppError,
    layout::Layout,
    state::AppState,
    web,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template)]
#[template(path = "accounts/home.html")]
struct HomePage {
    layout: Layout,
    account_name: Option<String>,
    is_owner: bool,
    permissions: Vec<&'static str>,
}

async fn home(user: CurrentUser) -> Result<Response, AppError> {
    let (account_name, is_owner, permissions) = match &user.account {
        Some(a) => (Some(a.name.clone()), a.is_owner, if a.is_owner { vec!["All Permissions"] } else { a.grant.labels() }),
        None => (None, false, Vec::new()),
    };
    web::render(&HomePage { layout: Layout::of(&user), account_name, is_owner, permissions })
}

//! The support staff area under /admin: find clients, move an account to a
//! new owner, help with invitations and members, manage logins, sign in as
//! a client, answer tickets, and read the audit log across accounts. Every
//! route takes `Staff`, so a client gets 403 whatever their permissions.
//! One file per flow; the SQL is in `store`.

pub mod accounts;
pub mod audit;
pub mod logins;
pub mod members;
pub mod ownership;
pub mod search;
pub mod store;
pub mod support_view;
pub mod tickets;

use axum::{
    routing::{get, post},
    Router,
};

use crate::{error::AppError, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(search::page))
        .route("/admin/accounts/{id}", get(accounts::page))
        .route("/admin/accounts/{id}/transfer", post(accounts::transfer))
        .route("/admin/accounts/{id}/invitations/{inv}/resend", post(members::resend_invitation))
        .route("/admin/accounts/{id}/invitations/{inv}/cancel", post(members::cancel_invitation))
        .route(
            "/admin/accounts/{id}/members/{user}/permissions",
            get(members::permissions_page).post(members::set_permissions),
        )
        .route("/admin/accounts/{id}/members/{user}/remove", get(members::remove_page).post(members::remove))
        .route("/admin/users/{id}", get(logins::page))
        .route("/admin/users/{id}/end-sessions", post(logins::end_sessions))
        .route("/admin/users/{id}/disable", post(logins::disable))
        .route("/admin/users/{id}/enable", post(logins::enable))
        .route("/admin/users/{id}/two-factor/reset", post(logins::reset_two_factor))
        .route("/admin/users/{id}/sign-in-as", post(support_view::start))
        .route("/admin/return", post(support_view::end))
        .route("/admin/tickets", get(tickets::index))
        .route("/admin/tickets/{id}", get(tickets::show))
        .route("/admin/tickets/{id}/reply", post(tickets::reply))
        .route("/admin/audit", get(audit::log))
        .route("/admin/mail", get(audit::failed_mail))
}

fn account_not_found() -> AppError {
    AppError::NotFound("There is no such account.".into())
}

fn user_not_found() -> AppError {
    AppError::NotFound("There is no such login.".into())
}

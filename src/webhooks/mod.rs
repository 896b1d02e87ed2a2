//! Webhooks: the owner's HTTPS endpoints that hear about invitations,
//! members and ownership as they happen (User Management → Webhooks).
//! Events are queued by `audit::record` in the change's own transaction
//! and delivered by `deliver`, signed (`signature`), only to public
//! addresses (`address`).

pub mod address;
pub mod deliver;
pub mod endpoint;
pub mod endpoints;
pub mod signature;
pub mod store;

use axum::{
    routing::{get, post},
    Router,
};

use crate::{error::AppError, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/webhooks", get(endpoints::page).post(endpoints::add))
        .route("/users/webhooks/{id}", get(endpoint::page))
        .route("/users/webhooks/{id}/test", post(endpoint::send_test))
        .route("/users/webhooks/{id}/enable", post(endpoint::enable))
        .route("/users/webhooks/{id}/remove", post(endpoint::remove))
}

fn no_such_endpoint() -> AppError {
    AppError::NotFound("There is no such webhook endpoint in this account.".into())
}

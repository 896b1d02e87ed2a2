//! Personal API tokens (the members API's only key): a login makes one for
//! the account it works in, with chosen permissions that can never exceed
//! its own there (checked when made, and narrowed again at every call), and
//! revokes it. The owner sees and can revoke every token with access to the
//! account.

pub mod account;
pub mod own;
pub mod store;

use axum::{
    routing::{get, post},
    Router,
};

use crate::{error::AppError, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-tokens", get(own::page).post(own::create))
        .route("/api-tokens/{id}/revoke", post(own::revoke))
        .route("/users/tokens", get(account::page))
        .route("/users/tokens/{id}/revoke", post(account::revoke))
}

fn no_such_token() -> AppError {
    AppError::NotFound("There is no such API token that can still be revoked.".into())
}

//! `GET /api/v1/account` (who and what the token is) and
//! `GET /api/v1/permissions` (the thirteen, with their labels).

use axum::Json;

use super::{
    caller::ApiCaller,
    problem::Problem,
    schema::{AccountJson, CallerJson, GrantJson, PermissionJson, TokenJson},
};
use crate::domain::permissions::Permission;

/// The token's account, its login, and what the token may do now.
#[utoipa::path(get, path = "/api/v1/account", tag = "account",
    responses((status = 200, description = "The token's account", body = AccountJson)))]
pub async fn get_account(caller: ApiCaller) -> Result<Json<AccountJson>, Problem> {
    let (user, account) = (&caller.member.user, &caller.member.account);
    Ok(Json(AccountJson {
        id: account.id,
        name: account.name.clone(),
        caller: CallerJson {
            user_id: user.id,
            name: user.name.clone(),
            email: user.email.clone(),
            is_owner: caller.login_is_owner,
        },
        token: TokenJson {
            id: caller.token_id,
            permissions: GrantJson::of(&account.grant),
            manage_users: account.is_owner,
        },
    }))
}

/// The thirteen permissions a member (or a token) can be given.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "account",
    responses((status = 200, description = "Every permission, in the forms' order", body = Vec<PermissionJson>)))]
pub async fn list_permissions(_caller: ApiCaller) -> Json<Vec<PermissionJson>> {
    Json(Permission::ALL.into_iter().map(PermissionJson::of).collect())
}

//! Who is calling the API: the bearer token, checked in one statement
//! (`tokens::store::authenticate`), narrowed to what its login holds in the
//! account right now. Session cookies are never looked at here, so the API
//! has no CSRF surface: a browser cannot be made to send a bearer token.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::problem::Problem;
use crate::{
    auth::session::{ActiveAccount, CurrentUser, Member},
    domain::permissions::Grant,
    state::AppState,
    tokens::store::{self, PREFIX},
    web::ClientIp,
};

/// A token holder working in the token's account, as the page handlers'
/// `Member` (so a change goes through the same `AccountChange`). Its grant
/// is the token's narrowed to the login's, and it counts as the owner only
/// when the login owns the account and the token may manage users.
pub struct ApiCaller {
    pub member: Member,
    pub token_id: Uuid,
    /// The token's own grant and Manage Users, before narrowing.
    pub login_is_owner: bool,
    pub ip: String,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Problem::unauthorized(
                    "Send an API token: Authorization: Bearer pnl_…. Make one under API tokens in the Hello menu. Session cookies are not accepted here.",
                )
            })?;
        let well_formed = secret.strip_prefix(PREFIX).is_some_and(crate::domain::token::well_formed);
        if !well_formed {
            return Err(Problem::unauthorized("This API token is not valid."));
        }
        let Some(c) = store::authenticate(&state.db, secret, &ip, state.config.clock.now()).await? else {
            return Err(Problem::unauthorized(store::refusal(&state.db, secret).await?));
        };
        let limit = state.config.api_calls_per_minute;
        if c.window_calls > limit {
            let elapsed = (OffsetDateTime::now_utc() - c.window_started_at).whole_seconds();
            return Err(Problem::rate_limited((60 - elapsed).clamp(1, 60) as u64));
        }
        if c.requires_two_factor && !c.is_owner && !c.two_factor {
            return Err(Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                format!(
                    "{} requires two-factor sign-in for everyone with access. Set it up on your Security page; this token works again once it is on.",
                    c.account_name
                ),
            ));
        }
        let login_grant = if c.is_owner { Grant::All } else { Grant::from_row(c.member_all, &c.member_permissions) };
        let grant = Grant::from_row(c.token_all, &c.token_permissions).narrowed_to(&login_grant);
        let account = ActiveAccount {
            id: c.account_id,
            name: c.account_name,
            is_owner: c.is_owner && c.manage_users,
            grant,
            scope: c.scope,
        };
        let user = CurrentUser {
            // The API has no session: nothing it does sets a flash message
            // (its changes end with `commit`, never `finish`).
            session_id: Uuid::nil(),
            session_started: OffsetDateTime::now_utc(),
            id: c.user_id,
            email: c.email,
            email_verified: true,
            two_factor: c.two_factor,
            name: c.name,
            is_staff: false,
            csrf_token: String::new(),
            flash: None,
            account: Some(account.clone()),
            impersonator: None,
            stand_in_notice: None,
        };
        Ok(ApiCaller { member: Member { user, account }, token_id: c.token_id, login_is_owner: c.is_owner, ip })
    }
}

/// A caller allowed to manage users: the account's owner, with a token
/// given Manage Users.
pub struct ApiOwner(pub ApiCaller);

impl FromRequestParts<AppState> for ApiOwner {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let caller = ApiCaller::from_request_parts(parts, state).await?;
        let name = &caller.member.account.name;
        let forbidden = |detail: String| Problem::new(axum::http::StatusCode::FORBIDDEN, detail);
        if !caller.login_is_owner {
            return Err(forbidden(format!("Only the owner of {name} can manage its users.")));
        }
        if !caller.member.account.is_owner {
            return Err(forbidden(
                "This token was not given Manage Users. Make a token with it under API tokens.".to_string(),
            ));
        }
        Ok(ApiOwner(caller))
    }
}

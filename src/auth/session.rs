//! Server-side sessions in Postgres and the `CurrentUser` extractor.
//!
//! The cookie holds a random token; the table holds only its hash. One query
//! resolves session, user and the membership of the active account, so
//! removing access or a permission takes effect on the very next request.

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::{request::Parts, HeaderMap, HeaderValue, Method},
};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{
    domain::{permissions::Grant, token},
    error::AppError,
    state::AppState,
    web,
};

pub const IDLE_TIMEOUT_MINUTES: i64 = 120;
pub const ABSOLUTE_TIMEOUT_HOURS: i64 = 24;

pub fn cookie_name(secure: bool) -> &'static str {
    // The __Host- prefix stops a sibling subdomain from planting the cookie.
    if secure {
        "__Host-panel_session"
    } else {
        "panel_session"
    }
}

use crate::identity::SeenUser;
pub use crate::identity::{ActiveAccount, CurrentUser};

/// The person a request's session cookie belongs to, if any (for pages
/// whose handler never asked, such as a 404).
pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Option<CurrentUser>, AppError> {
    match session_token(state, headers) {
        Some(token) => load(state, token).await,
        None => Ok(None),
    }
}

/// Creates a session for `user_id` working in `account_id`; returns the
/// token for the cookie. Any session the browser had before is ended, so the
/// id always changes at sign-in.
pub async fn start(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    account_id: Option<Uuid>,
    previous_cookie: Option<&str>,
    ip: &str,
    flash: Option<&str>,
    impersonator: Option<Uuid>,
) -> Result<String, sqlx::Error> {
    let token = token::generate();
    let previous = previous_cookie.map(token::hash).unwrap_or_default();
    sqlx::query!(
        "WITH gone AS (DELETE FROM sessions WHERE token_hash = $6)
         INSERT INTO sessions (id, token_hash, user_id, active_account_id, csrf_token, ip, flash, impersonator_id)
         VALUES ($1, $2, $3, $4, $5, $7, $8, $9)",
        Uuid::new_v4(),
        token::hash(&token),
        user_id,
        account_id as Option<Uuid>,
        token::generate(),
        previous,
        ip,
        flash as Option<&str>,
        impersonator as Option<Uuid>
    )
    .execute(db)
    .await?;
    Ok(token)
}

/// Notes which browser a session is in, for the Security page's list.
pub async fn note_user_agent(
    db: impl PgExecutor<'_>,
    token: &str,
    user_agent: Option<&str>,
) -> Result<(), sqlx::Error> {
    let user_agent: Option<String> = user_agent.map(|ua| ua.chars().take(300).collect());
    sqlx::query!("UPDATE sessions SET user_agent = $2 WHERE token_hash = $1", token::hash(token), user_agent)
        .execute(db)
        .await?;
    Ok(())
}

pub fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = state.config.secure_cookies();
    web::set_cookie(cookie_name(secure), token, Some(ABSOLUTE_TIMEOUT_HOURS * 3600), secure)
}

pub fn clear_session_cookie(state: &AppState) -> HeaderValue {
    let secure = state.config.secure_cookies();
    web::set_cookie(cookie_name(secure), "", Some(0), secure)
}

pub fn session_token<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    web::cookie(headers, cookie_name(state.config.secure_cookies())).filter(|t| token::well_formed(t))
}

/// Makes a new session count its absolute timeout from `started` (a support
/// view lives no longer than the staff session it came from).
pub async fn backdate(db: impl PgExecutor<'_>, token: &str, started: time::OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE sessions SET created_at = $2 WHERE token_hash = $1", token::hash(token), started)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends one session (sign out, leaving a support view).
pub async fn end(db: impl PgExecutor<'_>, session_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM sessions WHERE id = $1", session_id).execute(db).await?;
    Ok(())
}

/// Makes `account_id` the session's active account, with a message.
pub async fn switch_account(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    account_id: Uuid,
    flash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE sessions SET active_account_id = $2, flash = $3 WHERE id = $1", session_id, account_id, flash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_flash(db: impl PgExecutor<'_>, session_id: Uuid, message: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE sessions SET flash = $2 WHERE id = $1", session_id, message).execute(db).await?;
    Ok(())
}

struct IdentityRow {
    session_id: Uuid,
    session_started: time::OffsetDateTime,
    csrf_token: String,
    flash: Option<String>,
    active_account_id: Option<Uuid>,
    user_id: Uuid,
    email: String,
    email_verified: bool,
    two_factor: bool,
    name: String,
    is_staff: bool,
    account_name: Option<String>,
    requires_two_factor: Option<bool>,
    is_owner: Option<bool>,
    all_permissions: Option<bool>,
    permissions: Option<Vec<String>>,
    scope: Option<Vec<Uuid>>,
    impersonator_id: Option<Uuid>,
    impersonator_name: Option<String>,
}

async fn load(state: &AppState, token: &str) -> Result<Option<CurrentUser>, AppError> {
    // Session + user + active membership in one round trip. Also refreshes
    // the idle clock (at most once a minute) and consumes the flash message.
    let row = sqlx::query_as!(
        IdentityRow,
        r#"
WITH s AS (
    SELECT id, user_id, active_account_id, csrf_token, flash, last_seen_at, impersonator_id, created_at
    FROM sessions
    WHERE token_hash = $1 AND NOT second_step_due
      AND last_seen_at > now() - make_interval(mins => $2)
      AND created_at > now() - make_interval(hours => $3)
), touched AS (
    UPDATE sessions SET last_seen_at = now(), flash = NULL
    FROM s
    WHERE sessions.id = s.id AND (s.last_seen_at < now() - interval '1 minute' OR s.flash IS NOT NULL)
)
SELECT s.id AS "session_id!", s.created_at AS "session_started!", s.csrf_token AS "csrf_token!", s.flash,
       s.active_account_id, u.id AS user_id, u.email, u.email_verified_at IS NOT NULL AS "email_verified!",
       tf.enabled AS "two_factor!", u.name, u.is_staff, a.require_two_factor AS "requires_two_factor?",
       a.name AS "account_name?", m.is_owner AS "is_owner?", m.all_permissions AS "all_permissions?",
       m.permissions AS "permissions?", m.scope AS "scope?", s.impersonator_id, imp.name AS "impersonator_name?"
FROM s
JOIN users u ON u.id = s.user_id AND u.disabled_at IS NULL
CROSS JOIN LATERAL two_factor_of(u.id) tf
LEFT JOIN users imp ON imp.id = s.impersonator_id
LEFT JOIN memberships m ON m.account_id = s.active_account_id AND m.user_id = s.user_id
      AND (m.access_until IS NULL OR m.access_until > $4)
LEFT JOIN accounts a ON a.id = m.account_id"#,
        token::hash(token),
        IDLE_TIMEOUT_MINUTES as i32,
        ABSOLUTE_TIMEOUT_HOURS as i32,
        // Access with an end date stops at the first request after it.
        state.config.clock.now()
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // An account that requires two-factor sign-in is not open to a member
    // without it (the owner has it: the rule cannot be set otherwise).
    let refused_by_rule = row.requires_two_factor == Some(true) && row.is_owner == Some(false) && !row.two_factor;
    let account = match (row.account_name, row.is_owner) {
        _ if refused_by_rule => None,
        (Some(name), Some(is_owner)) => Some(ActiveAccount {
            id: row.active_account_id.expect("joined on it"),
            name,
            is_owner,
            grant: Grant::from_row(row.all_permissions.unwrap_or(false), &row.permissions.unwrap_or_default()),
            scope: row.scope,
        }),
        _ => None,
    };
    let mut user = CurrentUser {
        session_id: row.session_id,
        session_started: row.session_started,
        id: row.user_id,
        email: row.email,
        email_verified: row.email_verified,
        two_factor: row.two_factor,
        name: row.name,
        is_staff: row.is_staff,
        csrf_token: row.csrf_token,
        flash: row.flash,
        account,
        impersonator: row.impersonator_id.zip(row.impersonator_name),
        stand_in_notice: state.config.outside.notice().cloned(),
    };
    if let (None, Some(lost)) = (&user.account, row.active_account_id) {
        fall_back_to_own_account(state, &mut user, lost, refused_by_rule).await?;
    }
    Ok(Some(user))
}

/// Access to the active account has ended (removed, or the account moved),
/// or the account requires two-factor sign-in the user has not set up: go
/// back to the user's own account and say why.
async fn fall_back_to_own_account(
    state: &AppState,
    user: &mut CurrentUser,
    lost: Uuid,
    refused_by_rule: bool,
) -> Result<(), AppError> {
    let own = sqlx::query!(
        r#"WITH own AS (
               SELECT a.id, a.name FROM memberships m JOIN accounts a ON a.id = m.account_id
               WHERE m.user_id = $1 AND m.is_owner ORDER BY m.created_at, a.id LIMIT 1
           ), upd AS (
               UPDATE sessions SET active_account_id = (SELECT id FROM own) WHERE id = $2
           )
           SELECT id AS "id!", name AS "name!" FROM own"#,
        user.id,
        user.session_id
    )
    .fetch_optional(&state.db)
    .await?
    .map(|own| (own.id, own.name));
    let lost_name =
        sqlx::query_scalar!("SELECT name FROM accounts WHERE id = $1", lost).fetch_optional(&state.db).await?;
    let lost_name = lost_name.as_deref().unwrap_or("that account");
    user.flash = Some(if refused_by_rule {
        format!(
            "{lost_name} requires two-factor sign-in for everyone with access. Set it up on your Security page to work in it again; you are back in your own account."
        )
    } else {
        format!("Your access to {lost_name} has ended. You are back in your own account.")
    });
    user.account = own.map(|(id, name)| ActiveAccount { id, name, is_owner: true, grant: Grant::All, scope: None });
    Ok(())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let sign_in = || AppError::SignInRequired {
            next: if parts.method == Method::GET {
                parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
            } else {
                "/".into()
            },
        };
        let Some(token) = session_token(state, &parts.headers) else { return Err(sign_in()) };
        match load(state, token).await? {
            Some(user) => {
                if let Some(seen) = parts.extensions.get::<SeenUser>() {
                    seen.set(&user);
                }
                // Later extractors (the CSRF form check) read it from here.
                parts.extensions.insert(user.clone());
                Ok(user)
            }
            None => Err(sign_in()),
        }
    }
}

impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, AppError> {
        match <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(AppError::SignInRequired { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A signed-in client working in an account: the base of every
/// account-scoped route.
pub struct Member {
    pub user: CurrentUser,
    pub account: ActiveAccount,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        match user.account.clone() {
            Some(account) => Ok(Member { user, account }),
            None if user.is_staff => Err(AppError::Forbidden(
                "Support staff logins have no client account. Use the staff area, or \"Sign in as\" a client from there.".into(),
            )),
            None => Err(AppError::Forbidden(
                "You have no access to any account right now. Open Switch Account to choose one.".into(),
            )),
        }
    }
}

/// The owner of the active account. Only the owner manages users: a member
/// never does, even with All Permissions.
pub struct Owner(pub Member);

impl FromRequestParts<AppState> for Owner {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let member = Member::from_request_parts(parts, state).await?;
        if !member.account.is_owner {
            return Err(AppError::Forbidden(format!(
                "Only the owner of {} can manage its users. Ask the owner if you need a change to your access.",
                member.account.name
            )));
        }
        Ok(Owner(member))
    }
}

/// A support staff member in their own staff session (not while viewing
/// the client area as a client). Clients get 403 whatever their permissions.
pub struct Staff(pub CurrentUser);

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if !user.is_staff {
            return Err(AppError::Forbidden("This area is for support staff only.".into()));
        }
        // A staff login reaches every client's data: a password alone is not enough.
        if state.config.staff_two_factor && !user.two_factor {
            return Err(AppError::Forbidden(
                "Staff logins must use two-factor sign-in. Set it up on your Security page (in the Hello menu); the staff area opens once it is on.".into(),
            ));
        }
        Ok(Staff(user))
    }
}

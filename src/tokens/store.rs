//! API tokens in Postgres: made, listed, revoked, and checked at each call.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{permissions::Grant, token};

/// What a token is shown as: a prefix that secret scanners and people can
/// recognise, then 256 random bits.
pub const PREFIX: &str = "pnl_";

pub struct NewToken<'a> {
    pub user_id: Uuid,
    pub account_id: Uuid,
    pub name: &'a str,
    pub grant: &'a Grant,
    pub manage_users: bool,
    pub expires_at: Option<OffsetDateTime>,
}

/// Stores a new token and returns (its id, the secret shown once).
pub async fn create(conn: &mut PgConnection, new: NewToken<'_>) -> Result<(Uuid, String), sqlx::Error> {
    let secret = format!("{PREFIX}{}", token::generate());
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO api_tokens (id, token_hash, user_id, account_id, name, all_permissions, permissions, manage_users, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id,
        token::hash(&secret),
        new.user_id,
        new.account_id,
        new.name,
        new.grant.is_all(),
        &new.grant.keys(),
        new.manage_users,
        new.expires_at
    )
    .execute(conn)
    .await?;
    Ok((id, secret))
}

pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub account_name: String,
    /// Whose token it is (the owner's list shows every member's).
    pub holder: String,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    pub manage_users: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
}

impl TokenRow {
    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }

    /// "Active", "Expired" or "Revoked", as the lists show it.
    pub fn status(&self) -> &'static str {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => "Revoked",
            (None, Some(at)) if at <= OffsetDateTime::now_utc() => "Expired",
            _ => "Active",
        }
    }
}

/// A login's tokens, in every account, newest first (at most 100: tokens
/// are made by hand).
pub async fn of_user(db: &PgPool, user_id: Uuid) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as!(
        TokenRow,
        "SELECT t.id, t.name, a.name AS account_name, u.email AS holder, t.all_permissions, t.permissions,
                t.manage_users, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.last_used_ip
         FROM api_tokens t JOIN accounts a ON a.id = t.account_id JOIN users u ON u.id = t.user_id
         WHERE t.user_id = $1 ORDER BY t.created_at DESC LIMIT 100",
        user_id
    )
    .fetch_all(db)
    .await
}

/// The tokens with access to an account (the owner's list): those that can
/// still be used, newest first.
pub async fn of_account(db: &PgPool, account_id: Uuid) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as!(
        TokenRow,
        "SELECT t.id, t.name, a.name AS account_name, u.email AS holder, t.all_permissions, t.permissions,
                t.manage_users, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.last_used_ip
         FROM api_tokens t JOIN accounts a ON a.id = t.account_id JOIN users u ON u.id = t.user_id
         JOIN memberships m ON m.account_id = t.account_id AND m.user_id = t.user_id
         WHERE t.account_id = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
         ORDER BY t.created_at DESC LIMIT 200",
        account_id
    )
    .fetch_all(db)
    .await
}

/// Revokes a token that is the login's own (`user_id`) or, with
/// `account_id`, any token of that account (its owner). Returns the name
/// and holder, or None when no such usable token is there to revoke.
pub async fn revoke(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Option<Uuid>,
    account_id: Option<Uuid>,
) -> Result<Option<(String, Uuid, Uuid)>, sqlx::Error> {
    let row = sqlx::query!(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)
           AND ($3::uuid IS NULL OR account_id = $3) AND ($2::uuid IS NOT NULL OR $3::uuid IS NOT NULL)
         RETURNING name, user_id, account_id",
        id,
        user_id as Option<Uuid>,
        account_id as Option<Uuid>
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.name, r.user_id, r.account_id)))
}

/// Ends every token a login holds for an account: its access there ended
/// (Remove Access). A later invitation back does not bring them to life.
pub async fn revoke_all_of(conn: &mut PgConnection, account_id: Uuid, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE api_tokens SET revoked_at = now() WHERE account_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        account_id,
        user_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A token that was presented and is usable, with its holder's standing in
/// the account as of this call.
pub struct Caller {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub account_id: Uuid,
    pub account_name: String,
    pub is_owner: bool,
    pub two_factor: bool,
    pub requires_two_factor: bool,
    pub token_all: bool,
    pub token_permissions: Vec<String>,
    pub manage_users: bool,
    pub member_all: bool,
    pub member_permissions: Vec<String>,
    pub scope: Option<Vec<Uuid>>,
    /// The login's calls in the current one-minute window, through all
    /// its tokens, this one included.
    pub window_calls: i32,
    pub window_started_at: OffsetDateTime,
}

/// Checks a presented token in one statement: it must be unrevoked and
/// unexpired, its login enabled and still a member of the account. The
/// same statement counts the call in the token's rate window and notes
/// when and from where it was used.
///
/// That count does not wait for the disk (`synchronous_commit` off for
/// this statement's transaction only): the token's row stays locked until
/// the commit, so with the wait every call of one token queued behind the
/// previous call's flush: in `bench/run` (32 connections, one token) the
/// API list ran at two thirds of the rate it has without the wait, with
/// about twice the p99 (issue 17). A crash can forget the last fraction
/// of a second of counts and "last used" times, which a rate limit and a
/// usage note can afford; nothing else is written here.
pub async fn authenticate(
    db: &PgPool,
    secret: &str,
    ip: &str,
    now: OffsetDateTime,
) -> Result<Option<Caller>, sqlx::Error> {
    sqlx::query_as!(
        Caller,
        r#"WITH t AS (
               UPDATE api_tokens SET
                   window_calls = CASE WHEN window_started_at > now() - interval '1 minute' THEN window_calls + 1 ELSE 1 END,
                   window_started_at = CASE WHEN window_started_at > now() - interval '1 minute' THEN window_started_at ELSE now() END,
                   last_used_at = now(), last_used_ip = $2
               WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                 AND set_config('synchronous_commit', 'off', true) = 'off'
               RETURNING id, user_id, account_id, all_permissions, permissions, manage_users, window_calls, window_started_at
           )
           SELECT t.id AS token_id, t.user_id, u.email, u.name, t.account_id, a.name AS account_name, m.is_owner,
                  has_two_factor(u.id) AS "two_factor!", a.require_two_factor AS requires_two_factor, t.all_permissions AS token_all,
                  t.permissions AS token_permissions, t.manage_users, m.all_permissions AS member_all,
                  m.permissions AS member_permissions, m.scope, t.window_started_at,
                  -- The login's calls this minute through all its tokens
                  -- (a handful: API_TOKENS_PER_LOGIN caps them).
                  t.window_calls + (SELECT coalesce(sum(o.window_calls), 0)::int FROM api_tokens o
                                    WHERE o.user_id = t.user_id AND o.id <> t.id
                                      AND o.window_started_at > now() - interval '1 minute') AS "window_calls!"
           FROM t JOIN users u ON u.id = t.user_id AND u.disabled_at IS NULL
           JOIN memberships m ON m.account_id = t.account_id AND m.user_id = t.user_id
                AND (m.access_until IS NULL OR m.access_until > $3)
           JOIN accounts a ON a.id = t.account_id"#,
        token::hash(secret),
        ip,
        now
    )
    .fetch_optional(db)
    .await
}

/// Why a presented token was refused (asked only after a refusal): the
/// person holding it learns what to fix, and nobody else learns anything.
pub async fn refusal(db: &PgPool, secret: &str) -> Result<&'static str, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT t.revoked_at, t.expires_at <= now() AS "expired?", u.disabled_at IS NOT NULL AS "disabled!"
           FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"#,
        token::hash(secret)
    )
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => "This API token is not valid.",
        Some(r) if r.revoked_at.is_some() => "This API token was revoked.",
        Some(r) if r.expired == Some(true) => "This API token has expired.",
        Some(r) if r.disabled => "The login this API token belongs to is disabled.",
        Some(_) => "The login this API token belongs to no longer has access to the account.",
    })
}

/// The login's tokens that still work (not revoked, not expired), in every
/// account. Locks the login's row so two tokens made at once both count.
pub async fn live_count(conn: &mut PgConnection, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query!("SELECT 1 AS locked FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM api_tokens
           WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"#,
        user_id
    )
    .fetch_one(conn)
    .await
}

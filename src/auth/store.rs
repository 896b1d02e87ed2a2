//! The SQL of signing in, registering, resetting and changing passwords.
//! Every query is checked against the schema at compile time (`.sqlx/`).

use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::{email::Email, token};

/// A login as sign-in finds it by email, with its password hash.
pub struct StoredLogin {
    pub id: Uuid,
    pub name: String,
    pub is_staff: bool,
    pub disabled: bool,
    pub password_hash: String,
}

pub async fn login_by_email(db: &PgPool, email: &str) -> Result<Option<StoredLogin>, sqlx::Error> {
    sqlx::query_as!(
        StoredLogin,
        r#"SELECT id, name, is_staff, disabled_at IS NOT NULL AS "disabled!", password_hash FROM users WHERE email = $1"#,
        email
    )
    .fetch_optional(db)
    .await
}

/// Where a fresh session of this login starts: its own account, else the
/// account it joined first.
pub async fn default_account(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    // Switch Account's order, to the last key: an invited person's own
    // account and their membership of the inviter's are written in one
    // transaction, so after a transfer both can share `created_at`. The
    // list's index gave this order already; the statement now says so.
    sqlx::query_scalar!(
        "SELECT account_id FROM memberships WHERE user_id = $1 ORDER BY is_owner DESC, created_at, account_id LIMIT 1",
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn record_sign_in(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET last_sign_in_at = now() WHERE id = $1", user_id).execute(db).await?;
    Ok(())
}

/// Sets a new password hash; every session of the login ends except
/// `keep` (the one that made the change, if any), and every unused reset
/// and sign-in link dies. How many of the login's own sessions ended
/// (support's views of it not counted).
pub async fn set_password(
    conn: &mut PgConnection,
    user_id: Uuid,
    hash: &str,
    keep: Option<Uuid>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH s AS (DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $3 RETURNING impersonator_id),
              r AS (UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL),
              l AS (UPDATE sign_in_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL),
              u AS (UPDATE users SET password_hash = $2 WHERE id = $1)
         SELECT count(*) AS "ended!" FROM s WHERE impersonator_id IS NULL"#,
        user_id,
        hash,
        keep as Option<Uuid>
    )
    .fetch_one(conn)
    .await
}

pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub account_name: &'a str,
    /// The address is already proven (the login came through a link mailed
    /// to it, or an operator made it).
    pub verified: bool,
}

pub enum Registered {
    Created { user_id: Uuid, account_id: Uuid },
    EmailTaken,
}

/// Creates a login and the client account it owns.
pub async fn create_user(conn: &mut PgConnection, u: NewUser<'_>) -> Result<Registered, sqlx::Error> {
    let user_id = Uuid::new_v4();
    let account_id = Uuid::new_v4();
    let inserted = sqlx::query!(
        "INSERT INTO users (id, email, name, password_hash, email_verified_at)
         VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) ON CONFLICT (email) DO NOTHING",
        user_id,
        u.email.as_str(),
        u.name,
        u.password_hash,
        u.verified
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Registered::EmailTaken);
    }
    sqlx::query!(
        "WITH a AS (INSERT INTO accounts (id, name) VALUES ($1, $2))
         INSERT INTO memberships (account_id, user_id, is_owner, all_permissions) VALUES ($1, $3, true, true)",
        account_id,
        u.account_name,
        user_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(Registered::Created { user_id, account_id })
}

pub async fn set_name(db: &PgPool, user_id: Uuid, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET name = $2 WHERE id = $1", user_id, name).execute(db).await?;
    Ok(())
}

/// An enabled login that asked for a reset or sign-in link.
pub struct ResetCandidate {
    pub id: Uuid,
    pub name: String,
    /// The links counted against its cap: resets sent in the last hour (a
    /// reset link lives an hour), or sign-in links still usable.
    pub recent: i64,
}

/// Locks the login with `email`, if there is one, in a statement of its
/// own: a count read in the same statement as the lock would see the
/// snapshot from before the wait, and two requests waiting on each other
/// would both count the same "before".
async fn lock_by_email(conn: &mut PgConnection, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT 1 AS locked FROM users WHERE email = $1 FOR UPDATE", email).fetch_optional(conn).await?;
    Ok(())
}

/// An enabled login by email, locked.
pub async fn reset_candidate(conn: &mut PgConnection, email: &str) -> Result<Option<ResetCandidate>, sqlx::Error> {
    lock_by_email(conn, email).await?;
    sqlx::query_as!(
        ResetCandidate,
        r#"SELECT u.id, u.name,
                  (SELECT count(*) FROM password_resets r
                   WHERE r.user_id = u.id AND r.created_at > now() - interval '1 hour') AS "recent!"
           FROM users u WHERE u.email = $1 AND u.disabled_at IS NULL FOR UPDATE"#,
        email
    )
    .fetch_optional(conn)
    .await
}

pub async fn create_reset(
    conn: &mut PgConnection,
    token: &str,
    user_id: Uuid,
    valid_minutes: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3))",
        token::hash(token),
        user_id,
        valid_minutes
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn reset_is_valid(db: &PgPool, token: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now())
           AS "valid!""#,
        token::hash(token)
    )
    .fetch_one(db)
    .await
}

/// Marks a reset link used, locking it so two uses at once cannot both
/// pass; the login it belongs to, if it was still usable. The link reached
/// the login's mailbox, so its address is proven too.
pub async fn use_reset(conn: &mut PgConnection, token: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let user_id = sqlx::query_scalar!(
        "UPDATE password_resets SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        token::hash(token)
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = user_id {
        address_proven(conn, id).await?;
    }
    Ok(user_id)
}

/// A link mailed to the login's address was used: the address receives mail.
/// (A login's address never changes, so the link went to this one.)
pub async fn address_proven(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET email_verified_at = now() WHERE id = $1 AND email_verified_at IS NULL", user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether `device` (a browser's device cookie) signed in as this user before.
pub async fn device_of(db: &PgPool, device: &str, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM known_devices WHERE token_hash = $1 AND user_id = $2) AS "known!""#,
        token::hash(device),
        user_id
    )
    .fetch_one(db)
    .await
}

/// Whether `device` (a browser's device cookie) signed in as `email` before.
pub async fn device_known(db: &PgPool, device: &str, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM known_devices d JOIN users u ON u.id = d.user_id
                         WHERE d.token_hash = $1 AND u.email = $2) AS "known!""#,
        token::hash(device),
        email
    )
    .fetch_one(db)
    .await
}

/// Remembers the browser holding `device` as one `user_id` signed in from;
/// true when the login had signed in from another browser before (so a new
/// one is worth telling it about).
pub async fn remember_device(db: &PgPool, device: &str, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let had_others = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM known_devices WHERE user_id = $1 AND token_hash <> $2) AS "had!""#,
        user_id,
        token::hash(device)
    )
    .fetch_one(db)
    .await?;
    sqlx::query!(
        "INSERT INTO known_devices (token_hash, user_id) VALUES ($1, $2)
         ON CONFLICT (token_hash) DO UPDATE SET last_used_at = now() WHERE known_devices.user_id = $2",
        token::hash(device),
        user_id
    )
    .execute(db)
    .await?;
    Ok(had_others)
}

/// An enabled client login by email, locked, with how many of its sign-in
/// links are still usable (unused, unexpired): each sits in the login's
/// own mailbox, so a cap on them can never keep the real person out.
pub async fn link_candidate(conn: &mut PgConnection, email: &str) -> Result<Option<ResetCandidate>, sqlx::Error> {
    lock_by_email(conn, email).await?;
    sqlx::query_as!(
        ResetCandidate,
        r#"SELECT u.id, u.name,
                  (SELECT count(*) FROM sign_in_links l
                   WHERE l.user_id = u.id AND l.used_at IS NULL AND l.expires_at > now()) AS "recent!"
           FROM users u WHERE u.email = $1 AND u.disabled_at IS NULL AND NOT u.is_staff FOR UPDATE"#,
        email
    )
    .fetch_optional(conn)
    .await
}

pub async fn create_sign_in_link(
    conn: &mut PgConnection,
    token: &str,
    user_id: Uuid,
    valid_minutes: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sign_in_links (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3))",
        token::hash(token),
        user_id,
        valid_minutes
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The email a usable sign-in link is for (looking does not use it).
pub async fn sign_in_link_email(db: &PgPool, token: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT u.email FROM sign_in_links l JOIN users u ON u.id = l.user_id
         WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.disabled_at IS NULL",
        token::hash(token)
    )
    .fetch_optional(db)
    .await
}

/// Uses a sign-in link once; whose it was, if it was still usable (its
/// address is then proven, as by a reset link).
pub async fn use_sign_in_link(conn: &mut PgConnection, token: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let user_id = sqlx::query_scalar!(
        "UPDATE sign_in_links l SET used_at = now() FROM users u
         WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now()
           AND u.id = l.user_id AND u.disabled_at IS NULL
         RETURNING l.user_id",
        token::hash(token)
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = user_id {
        address_proven(conn, id).await?;
    }
    Ok(user_id)
}

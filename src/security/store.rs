//! The SQL of two-factor sign-in: authenticator keys and their last
//! accepted step.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Whether the login signs in with a second step.
pub async fn two_factor_on(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT has_two_factor($1) AS "on!""#, user_id).fetch_one(db).await
}

/// The login's authenticator key, and whether it is confirmed (on).
pub async fn key(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Option<(Vec<u8>, bool)>, sqlx::Error> {
    let row =
        sqlx::query!(r#"SELECT secret, confirmed_at IS NOT NULL AS "on!" FROM totp_keys WHERE user_id = $1"#, user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|r| (r.secret, r.on)))
}

/// Starts setting up a key (replacing a setup left unfinished); false if a
/// confirmed key exists already.
pub async fn start_key(db: impl PgExecutor<'_>, user_id: Uuid, secret: &[u8]) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO totp_keys (user_id, secret) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = now() WHERE totp_keys.confirmed_at IS NULL",
        user_id,
        secret
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns the key being set up on, `step` being the step of the code that
/// confirmed it; false if there was none to confirm.
pub async fn confirm_key(conn: &mut PgConnection, user_id: Uuid, step: u64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE totp_keys SET confirmed_at = now(), last_step = $2 WHERE user_id = $1 AND confirmed_at IS NULL",
        user_id,
        i64::try_from(step).unwrap_or(i64::MAX)
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Accepts a code of time step `step` once: false if a code of this step
/// or a later one was accepted already (RFC 6238 section 5.2). Atomic, so
/// two requests with one code cannot both pass.
pub async fn use_step(conn: &mut PgConnection, user_id: Uuid, step: u64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE totp_keys SET last_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
        user_id,
        i64::try_from(step).unwrap_or(i64::MAX)
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns the authenticator app off: the key and the recovery codes go.
pub async fn remove(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM totp_keys WHERE user_id = $1", user_id).execute(&mut *conn).await?;
    sqlx::query!("DELETE FROM recovery_codes WHERE user_id = $1", user_id).execute(conn).await?;
    Ok(())
}

/// Ends every second factor (support's reset): the app, the recovery codes
/// and the passkeys.
pub async fn remove_every_factor(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    remove(&mut *conn, user_id).await?;
    sqlx::query!("DELETE FROM passkeys WHERE user_id = $1", user_id).execute(conn).await?;
    Ok(())
}

//! The one rule every way out of two-factor sign-in obeys: a login that
//! owns an account requiring two-factor sign-in of everyone with access
//! keeps its own. Turning off the authenticator app and removing the last
//! passkey both ask it (and both need the password); support's reset, the
//! way back for a client who lost every factor, is the one exception: it
//! ends every factor, is audited with a reason, and the client is mailed.

use sqlx::PgExecutor;
use uuid::Uuid;

/// Why the login may not end its two-factor sign-in itself, if it may not.
pub async fn refuses_ending(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    let ruling = sqlx::query_scalar!(
        "SELECT a.name FROM memberships m JOIN accounts a ON a.id = m.account_id
         WHERE m.user_id = $1 AND m.is_owner AND a.require_two_factor ORDER BY a.name LIMIT 1",
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(ruling.map(|account| {
        format!(
            "You require two-factor sign-in of everyone with access to {account}, so you keep it too. Nothing was changed. Stop requiring it on User Management first."
        )
    }))
}

//! What staff do to a client login: lock it, end its sessions, disable or
//! enable it, and open a support view as it.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{auth::store::default_account, domain::audit::AuditAction};

/// What staff may do to a client login.
#[derive(Clone, Copy)]
pub enum LoginAction {
    EndSessions,
    Disable,
    Enable,
}

impl LoginAction {
    pub fn audited_as(self) -> AuditAction {
        match self {
            LoginAction::EndSessions => AuditAction::UserSessionsEnded,
            LoginAction::Disable => AuditAction::UserDisabled,
            LoginAction::Enable => AuditAction::UserEnabled,
        }
    }

    /// The message staff see afterwards.
    pub fn done(self) -> &'static str {
        match self {
            LoginAction::EndSessions => "All sessions of this login have ended.",
            LoginAction::Disable => "The login is disabled and its sessions have ended.",
            LoginAction::Enable => "The login is enabled again.",
        }
    }
}

/// Locks a client (not staff) login; its email, or None.
pub async fn lock_client_login(conn: &mut PgConnection, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT email FROM users WHERE id = $1 AND NOT is_staff FOR UPDATE", id)
        .fetch_optional(conn)
        .await
}

pub async fn apply(conn: &mut PgConnection, action: LoginAction, id: Uuid) -> Result<(), sqlx::Error> {
    match action {
        LoginAction::EndSessions => sqlx::query!("DELETE FROM sessions WHERE user_id = $1", id).execute(conn).await?,
        LoginAction::Disable => {
            sqlx::query!(
                "WITH s AS (DELETE FROM sessions WHERE user_id = $1)
                 UPDATE users SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL",
                id
            )
            .execute(conn)
            .await?
        }
        LoginAction::Enable => {
            sqlx::query!("UPDATE users SET disabled_at = NULL WHERE id = $1", id).execute(conn).await?
        }
    };
    Ok(())
}

/// An enabled client login's email and the account a session of it starts in.
pub async fn enabled_client(conn: &mut PgConnection, id: Uuid) -> Result<Option<(String, Option<Uuid>)>, sqlx::Error> {
    let email =
        sqlx::query_scalar!("SELECT email FROM users WHERE id = $1 AND NOT is_staff AND disabled_at IS NULL", id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(email) = email else { return Ok(None) };
    Ok(Some((email, default_account(conn, id).await?)))
}

pub async fn is_enabled_staff(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_staff AND disabled_at IS NULL) AS "yes!""#,
        id
    )
    .fetch_one(conn)
    .await
}

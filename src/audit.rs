//! The audit trail: who did what to whom, when and from where. Written in
//! the same transaction as the change it records.

use sqlx::PgConnection;
use uuid::Uuid;

pub struct Event<'a> {
    pub actor_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub target_user_id: Option<Uuid>,
    pub target_email: Option<&'a str>,
    pub action: &'a str,
    pub details: serde_json::Value,
    pub ip: &'a str,
}

pub async fn record(conn: &mut PgConnection, e: Event<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (actor_id, account_id, target_user_id, target_email, action, details, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.actor_id)
    .bind(e.account_id)
    .bind(e.target_user_id)
    .bind(e.target_email)
    .bind(e.action)
    .bind(e.details)
    .bind(e.ip)
    .execute(conn)
    .await?;
    Ok(())
}

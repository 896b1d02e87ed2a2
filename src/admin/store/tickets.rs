//! Support tickets across accounts, for staff.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::LIMIT;

pub struct TicketRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub number: i64,
    pub account_name: String,
    pub department: String,
    pub subject: String,
    pub status: String,
    pub updated_at: OffsetDateTime,
}

pub async fn open_tickets(db: &PgPool) -> Result<Vec<TicketRow>, sqlx::Error> {
    sqlx::query_as!(
        TicketRow,
        "SELECT t.id, t.account_id, t.number, a.name AS account_name, t.department, t.subject, t.status, t.updated_at
         FROM tickets t JOIN accounts a ON a.id = t.account_id
         WHERE t.status <> 'Closed' ORDER BY t.updated_at DESC LIMIT $1",
        LIMIT
    )
    .fetch_all(db)
    .await
}

pub async fn ticket(db: &PgPool, id: Uuid) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as!(
        TicketRow,
        "SELECT t.id, t.account_id, t.number, a.name AS account_name, t.department, t.subject, t.status, t.updated_at
         FROM tickets t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// Locks a ticket for a reply, so replies to one ticket go in one at a time.
pub async fn lock_ticket(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT id FROM tickets WHERE id = $1 FOR UPDATE", id).fetch_optional(conn).await?;
    Ok(())
}

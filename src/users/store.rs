//! User Management queries. Lists are keyset-paginated over indexes, so a
//! page costs the same with 50 rows in the table or 10,000.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    audit,
    domain::permissions::Grant,
    error::AppError,
    web::{next_page, PAGE_SIZE},
};

/// A position in a list: the sort time and id of the last row shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    pub at: OffsetDateTime,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.unix_timestamp_nanos() / 1000, self.id.simple())
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (micros, id) = s.split_once('_')?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(micros.parse::<i128>().ok()? * 1000).ok()?;
        Some(Cursor { at, id: Uuid::parse_str(id).ok()? })
    }
}

#[derive(sqlx::FromRow, serde::Deserialize)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
}

impl MemberRow {
    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }
}

#[derive(sqlx::FromRow, serde::Deserialize)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
}

impl InvitationRow {
    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }

    pub fn status(&self) -> crate::invitations::service::Status {
        crate::invitations::service::Status::of(self.accepted_at, self.cancelled_at, self.expires_at)
    }
}

/// The User Management page's two lists: a page of members (not the owner)
/// in the order they joined, and a page of invitations, newest first, each
/// with the cursor of its next page. One statement, so the page costs two
/// round trips with the identity check; each list is read straight off its
/// index, whatever the table's size.
pub async fn lists(
    db: &PgPool,
    account_id: Uuid,
    after: Option<Cursor>,
    iafter: Option<Cursor>,
) -> Result<((Vec<MemberRow>, Option<Cursor>), (Vec<InvitationRow>, Option<Cursor>)), AppError> {
    // Fixed fragments chosen by whether a cursor is given (a prepared
    // statement's generic plan cannot drop a "$3 IS NULL OR ..." condition,
    // and then misses the index); every value is bound.
    let member_after = if after.is_some() {
        "AND (m.created_at, m.user_id) > ($3, $4)"
    } else {
        "AND $3::timestamptz IS NULL AND $4::uuid IS NULL"
    };
    let invitation_after = if iafter.is_some() {
        "AND (i.sent_at, i.id) < ($5, $6)"
    } else {
        "AND $5::timestamptz IS NULL AND $6::uuid IS NULL"
    };
    let sql = format!(
        "SELECT
           (SELECT coalesce(json_agg(x), '[]') FROM (
              SELECT m.user_id, u.name, u.email, m.all_permissions, m.permissions, m.created_at, u.last_sign_in_at
              FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE m.account_id = $1 AND NOT m.is_owner {member_after}
              ORDER BY m.created_at, m.user_id LIMIT $2) x),
           (SELECT coalesce(json_agg(y), '[]') FROM (
              SELECT i.id, i.email, i.all_permissions, i.permissions, i.sent_at, i.expires_at, i.accepted_at, i.cancelled_at
              FROM invitations i
              WHERE i.account_id = $1 {invitation_after}
              ORDER BY i.sent_at DESC, i.id DESC LIMIT $2) y)"
    );
    let (members, invitations): (serde_json::Value, serde_json::Value) = sqlx::query_as(&sql)
        .bind(account_id)
        .bind(PAGE_SIZE + 1)
        .bind(after.map(|c| c.at))
        .bind(after.map(|c| c.id))
        .bind(iafter.map(|c| c.at))
        .bind(iafter.map(|c| c.id))
        .fetch_one(db)
        .await?;
    let mut members: Vec<MemberRow> = serde_json::from_value(members).map_err(anyhow::Error::from)?;
    let mut invitations: Vec<InvitationRow> = serde_json::from_value(invitations).map_err(anyhow::Error::from)?;
    let next_m = next_page(&mut members, |r| Cursor { at: r.created_at, id: r.user_id });
    let next_i = next_page(&mut invitations, |r| Cursor { at: r.sent_at, id: r.id });
    Ok(((members, next_m), (invitations, next_i)))
}

/// A member of this account (never the owner), or None: ids from the URL
/// are only ever looked up within the active account.
pub async fn member(db: &PgPool, account_id: Uuid, user_id: Uuid) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.user_id, u.name, u.email, m.all_permissions, m.permissions, m.created_at, u.last_sign_in_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.account_id = $1 AND m.user_id = $2 AND NOT m.is_owner",
    )
    .bind(account_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub struct Change<'a> {
    pub actor_id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub ip: &'a str,
}

/// Sets a member's permissions; false when they are not a member (any more).
pub async fn set_permissions(conn: &mut PgConnection, c: &Change<'_>, grant: &Grant) -> Result<bool, sqlx::Error> {
    let before: Option<(bool, Vec<String>, String)> = sqlx::query_as(
        "SELECT m.all_permissions, m.permissions, u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.account_id = $1 AND m.user_id = $2 AND NOT m.is_owner FOR UPDATE OF m",
    )
    .bind(c.account_id)
    .bind(c.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((all, keys, email)) = before else { return Ok(false) };
    sqlx::query("UPDATE memberships SET all_permissions = $3, permissions = $4 WHERE account_id = $1 AND user_id = $2")
        .bind(c.account_id)
        .bind(c.user_id)
        .bind(grant.is_all())
        .bind(grant.keys())
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        audit::Event {
            actor_id: Some(c.actor_id),
            account_id: Some(c.account_id),
            target_user_id: Some(c.user_id),
            target_email: Some(&email),
            action: "member.permissions_changed",
            details: serde_json::json!({ "before": Grant::from_row(all, &keys).describe(), "after": grant.describe() }),
            ip: c.ip,
        },
    )
    .await?;
    Ok(true)
}

/// Ends a member's access; false when they were not a member.
pub async fn remove(conn: &mut PgConnection, c: &Change<'_>) -> Result<bool, sqlx::Error> {
    let removed: Option<(bool, Vec<String>)> = sqlx::query_as(
        "DELETE FROM memberships WHERE account_id = $1 AND user_id = $2 AND NOT is_owner RETURNING all_permissions, permissions",
    )
    .bind(c.account_id)
    .bind(c.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((all, keys)) = removed else { return Ok(false) };
    let email: Option<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1").bind(c.user_id).fetch_optional(&mut *conn).await?;
    audit::record(
        conn,
        audit::Event {
            actor_id: Some(c.actor_id),
            account_id: Some(c.account_id),
            target_user_id: Some(c.user_id),
            target_email: email.as_deref(),
            action: "member.removed",
            details: serde_json::json!({ "had": Grant::from_row(all, &keys).describe() }),
            ip: c.ip,
        },
    )
    .await?;
    Ok(true)
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: Option<String>,
    pub action: String,
    pub target_email: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

/// One page of the account's audit log, newest first (`before`: an event id).
pub async fn audit_log(
    db: &PgPool,
    account_id: Uuid,
    before: Option<i64>,
) -> Result<(Vec<AuditRow>, Option<i64>), sqlx::Error> {
    let mut rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT e.id, e.at, coalesce(u.name || ' (' || u.email || ')', 'deleted user') AS actor, e.action, e.target_email, e.details, e.ip
         FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id
         WHERE e.account_id = $1 AND ($2::int8 IS NULL OR e.id < $2)
         ORDER BY e.id DESC LIMIT $3",
    )
    .bind(account_id)
    .bind(before)
    .bind(PAGE_SIZE + 1)
    .fetch_all(db)
    .await?;
    let next = next_page(&mut rows, |r| r.id);
    Ok((rows, next))
}

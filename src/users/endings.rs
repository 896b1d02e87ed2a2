//! Access that ends on a date: the member and the owner are mailed three
//! days before and once it has ended (and the end is recorded in the audit
//! log). The janitor runs this with the clock's time; each mail goes once
//! per end date (changing the date re-arms both), also with several server
//! copies: the UPDATE that claims a row re-checks it after any lock wait.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{audit, domain::audit::AuditAction, error::Internal, mail::messages::AccessEnding, web};

struct Due {
    account_id: Uuid,
    account_name: String,
    user_id: Uuid,
    name: String,
    email: String,
    owner_name: String,
    owner_email: String,
    access_until: Option<OffsetDateTime>,
}

/// Mails what is due at `now`; returns how many memberships were told.
pub async fn mail_due(db: &PgPool, now: OffsetDateTime) -> Result<usize, Internal> {
    let mut tx = crate::db::begin(db).await?;
    let ending = sqlx::query_as!(
        Due,
        r#"UPDATE memberships m SET ending_mailed_at = $1
           FROM users u, accounts a, memberships om, users o
           WHERE m.access_until > $1 AND m.access_until <= $1 + interval '3 days' AND m.ending_mailed_at IS NULL
             AND u.id = m.user_id AND a.id = m.account_id AND om.account_id = m.account_id AND om.is_owner
             AND o.id = om.user_id
           RETURNING m.account_id, a.name AS account_name, m.user_id, u.name, u.email, o.name AS owner_name,
                     o.email AS owner_email, m.access_until"#,
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    for due in &ending {
        let when = due.access_until.map(|t| web::datetime(&t)).unwrap_or_default();
        let subject = format!("Access to {} ends on {when}", due.account_name);
        tell(
            &mut tx,
            due,
            &subject,
            &format!("Your access to {} ends on {when}. Ask its owner if you need it longer.", due.account_name),
            &format!(
                "{}'s access to {} ends on {when}. To let them keep it, change the date under Manage Permissions.",
                due.name, due.account_name
            ),
        )
        .await?;
    }
    let ended = sqlx::query_as!(
        Due,
        r#"UPDATE memberships m SET ended_mailed_at = $1, ending_mailed_at = coalesce(m.ending_mailed_at, $1)
           FROM users u, accounts a, memberships om, users o
           WHERE m.access_until <= $1 AND m.ended_mailed_at IS NULL
             AND u.id = m.user_id AND a.id = m.account_id AND om.account_id = m.account_id AND om.is_owner
             AND o.id = om.user_id
           RETURNING m.account_id, a.name AS account_name, m.user_id, u.name, u.email, o.name AS owner_name,
                     o.email AS owner_email, m.access_until"#,
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    for due in &ended {
        let subject = format!("Access to {} has ended", due.account_name);
        tell(
            &mut tx,
            due,
            &subject,
            &format!("Your access to {} has ended, as its owner set. Ask them if you need it again.", due.account_name),
            &format!(
                "{}'s access to {} has ended, on the date you set. To give it back, set a new date (or none) under Manage Permissions; to tidy up, use Remove Access.",
                due.name, due.account_name
            ),
        )
        .await?;
        let event = audit::Event {
            actor_id: None,
            account_id: Some(due.account_id),
            target_user_id: Some(due.user_id),
            target_email: Some(&due.email),
            action: AuditAction::MemberAccessEnded,
            details: serde_json::json!({ "access_until": due.access_until.map(|t| web::datetime(&t)) }),
            ip: "",
        };
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(ending.len() + ended.len())
}

/// Queues the member's and the owner's mail.
async fn tell(
    conn: &mut PgConnection,
    due: &Due,
    subject: &str,
    to_member: &str,
    to_owner: &str,
) -> Result<(), Internal> {
    let member = AccessEnding { name: &due.name, subject, message: to_member };
    member.to(&due.email, due.account_id)?.queue(&mut *conn).await?;
    let owner = AccessEnding { name: &due.owner_name, subject, message: to_owner };
    owner.to(&due.owner_email, due.account_id)?.queue(conn).await?;
    Ok(())
}

//! Invitations that expire unanswered: the janitor records each once, in
//! the audit log, which also announces it to the account's webhooks.

use sqlx::PgPool;

use crate::{audit, domain::audit::AuditAction};

/// Records the invitations that have expired since the last look (at most
/// 500 a run; the next run takes the rest). Returns how many were recorded.
/// Safe on several server copies at once: rows are claimed with SKIP LOCKED.
pub async fn note_expired(db: &PgPool) -> Result<usize, sqlx::Error> {
    let mut tx = crate::db::begin(db).await?;
    let expired = sqlx::query!(
        "UPDATE invitations SET expiry_noted_at = now()
         WHERE id IN (SELECT id FROM invitations
                      WHERE expires_at <= now() AND accepted_at IS NULL AND cancelled_at IS NULL
                        AND expiry_noted_at IS NULL
                      ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED)
         RETURNING id, account_id, email"
    )
    .fetch_all(&mut *tx)
    .await?;
    for invitation in &expired {
        let event = audit::Event {
            actor_id: None,
            account_id: Some(invitation.account_id),
            target_user_id: None,
            target_email: Some(&invitation.email),
            action: AuditAction::InvitationExpired,
            details: serde_json::json!({ "invitation_id": invitation.id }),
            ip: "",
        };
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(expired.len())
}

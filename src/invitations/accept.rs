//! The invitation link: finding it without consuming it, and accepting it
//! in one locked transaction.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    audit,
    domain::{audit::AuditAction, invitation::InvitationStatus, permissions::Grant, token},
    error::{internal_error_from, AppError, Internal},
    mail::messages::InvitationAccepted,
};

/// What the invitation page shows.
pub struct Offer {
    pub email: String,
    pub account_id: Uuid,
    pub account_name: String,
    pub inviter_name: Option<String>,
    pub inviter_email: Option<String>,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    /// Whether a login with the invited address exists already.
    pub has_login: bool,
}

impl Offer {
    pub fn status(&self) -> InvitationStatus {
        InvitationStatus::of(self.accepted_at, self.cancelled_at, self.expires_at, OffsetDateTime::now_utc())
    }

    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }
}

/// Looks an invitation up by its token without changing anything (mail
/// scanners open links too).
pub async fn find(db: &PgPool, token: &str) -> Result<Option<Offer>, sqlx::Error> {
    if !token::well_formed(token) {
        return Ok(None);
    }
    sqlx::query_as!(
        Offer,
        r#"SELECT i.email, i.account_id, a.name AS account_name, u.name AS "inviter_name?", u.email AS "inviter_email?",
                  i.all_permissions, i.permissions, i.expires_at, i.accepted_at, i.cancelled_at,
                  EXISTS (SELECT 1 FROM users x WHERE x.email = i.email) AS "has_login!"
           FROM invitations i JOIN accounts a ON a.id = i.account_id LEFT JOIN users u ON u.id = i.invited_by
           WHERE i.token_hash = $1"#,
        token::hash(token)
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("This invitation link is not valid. Check that you copied the whole link from the mail, or ask the account owner to send a new invitation.")]
    Unknown,
    #[error("This invitation has expired (invitations are valid for 7 days). Ask the account owner to resend it.")]
    Expired,
    #[error(
        "This invitation was cancelled by the account owner. Ask them to send a new one if you still need access."
    )]
    Cancelled,
    #[error("This invitation has already been used. If you accepted it, the account is in your Switch Account list.")]
    Used,
    #[error("This invitation was sent to {0}, so only a login with that address can accept it.")]
    WrongLogin(String),
    #[error("You already have access to {0}.")]
    AlreadyMember(String),
    #[error("Support staff logins cannot accept invitations.")]
    Staff,
    #[error(transparent)]
    Internal(Internal),
}
internal_error_from!(AcceptError);

impl From<AcceptError> for AppError {
    fn from(e: AcceptError) -> Self {
        let message = e.to_string();
        match e {
            AcceptError::Unknown => AppError::NotFound(message),
            AcceptError::Expired | AcceptError::Cancelled | AcceptError::Used => AppError::Gone(message),
            AcceptError::WrongLogin(_) | AcceptError::Staff => AppError::Forbidden(message),
            AcceptError::AlreadyMember(_) => AppError::Conflict(message),
            AcceptError::Internal(e) => e.into(),
        }
    }
}

pub struct Accepted {
    pub account_id: Uuid,
    pub account_name: String,
}

pub struct Acceptor<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub is_staff: bool,
    pub ip: &'a str,
}

/// Accepts inside the caller's transaction: locks the invitation row,
/// re-checks everything, writes the membership, the invitation's end, the
/// audit event and the owner's mail together.
pub async fn accept(conn: &mut PgConnection, token: &str, who: &Acceptor<'_>) -> Result<Accepted, AcceptError> {
    if !token::well_formed(token) {
        return Err(AcceptError::Unknown);
    }
    let row = sqlx::query!(
        "SELECT i.id, i.account_id, a.name, i.email, i.all_permissions, i.permissions, i.expires_at, i.accepted_at,
                i.cancelled_at
         FROM invitations i JOIN accounts a ON a.id = i.account_id
         WHERE i.token_hash = $1 FOR UPDATE OF i",
        token::hash(token)
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AcceptError::Unknown)?;
    let (id, account_id, account_name, email) = (row.id, row.account_id, row.name, row.email);
    let (all, keys, expires, accepted, cancelled) =
        (row.all_permissions, row.permissions, row.expires_at, row.accepted_at, row.cancelled_at);
    match InvitationStatus::of(accepted, cancelled, expires, OffsetDateTime::now_utc()) {
        InvitationStatus::Cancelled => return Err(AcceptError::Cancelled),
        InvitationStatus::Accepted => return Err(AcceptError::Used),
        InvitationStatus::Expired => return Err(AcceptError::Expired),
        InvitationStatus::Pending => {}
    }
    if who.email != email {
        return Err(AcceptError::WrongLogin(email));
    }
    if who.is_staff {
        return Err(AcceptError::Staff);
    }
    let inserted = sqlx::query!(
        "INSERT INTO memberships (account_id, user_id, all_permissions, permissions) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, user_id) DO NOTHING",
        account_id,
        who.user_id,
        all,
        &keys
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AcceptError::AlreadyMember(account_name));
    }
    sqlx::query!("UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1", id, who.user_id)
        .execute(&mut *conn)
        .await?;
    let grant = Grant::from_row(all, &keys);
    audit::record(
        conn,
        audit::Event {
            actor_id: Some(who.user_id),
            account_id: Some(account_id),
            target_user_id: Some(who.user_id),
            target_email: Some(&email),
            action: AuditAction::InvitationAccepted,
            details: serde_json::json!({ "invitation_id": id, "permissions": grant.describe() }),
            ip: who.ip,
        },
    )
    .await?;
    let owner = sqlx::query!(
        "SELECT u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND m.is_owner",
        account_id
    )
    .fetch_one(&mut *conn)
    .await?;
    InvitationAccepted {
        owner_name: &owner.name,
        member_name: who.name,
        member_email: &email,
        account_name: &account_name,
        permissions: grant.labels(),
    }
    .to(&owner.email, account_id)?
    .queue(conn)
    .await?;
    Ok(Accepted { account_id, account_name })
}

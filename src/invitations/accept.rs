//! The invitation link: finding it without consuming it, and accepting it
//! in one locked transaction.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    audit,
    auth::store as login_store,
    domain::{
        audit::AuditAction,
        invitation::{InvitationDates, InvitationStatus},
        permissions::Grant,
        token,
    },
    error::{internal_error_from, AppError, Internal},
    mail::messages::{InvitationAccepted, InvitationDeclined},
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
    pub declined_at: Option<OffsetDateTime>,
    /// When the invitation that replaced this one was sent.
    pub newer_sent_at: Option<OffsetDateTime>,
    /// When the access it offers ends, if it does.
    pub access_until: Option<OffsetDateTime>,
    /// Whether a login with the invited address exists already.
    pub has_login: bool,
    /// The account requires two-factor sign-in of everyone with access.
    pub requires_two_factor: bool,
}

impl Offer {
    pub fn status(&self) -> InvitationStatus {
        let dates = InvitationDates {
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            cancelled_at: self.cancelled_at,
            declined: self.declined_at.is_some(),
            replaced: self.newer_sent_at.is_some(),
        };
        dates.status(OffsetDateTime::now_utc())
    }

    /// Why this invitation cannot be accepted now, if it cannot.
    pub fn refusal(&self) -> Option<AcceptError> {
        refusal(self.status(), self.newer_sent_at)
    }

    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }
}

/// Why an invitation in `status` cannot be accepted, if it cannot.
fn refusal(status: InvitationStatus, newer_sent_at: Option<OffsetDateTime>) -> Option<AcceptError> {
    match status {
        InvitationStatus::Pending => None,
        InvitationStatus::Expired => Some(AcceptError::Expired),
        InvitationStatus::Cancelled => Some(AcceptError::Cancelled),
        InvitationStatus::Accepted => Some(AcceptError::Used),
        InvitationStatus::Declined => Some(AcceptError::Declined),
        InvitationStatus::Replaced => newer_sent_at.map(AcceptError::Superseded).or(Some(AcceptError::Cancelled)),
    }
}

/// For a link that no longer opens an invitation: when the newer one that
/// replaced it (by a resend) was sent.
pub async fn superseded(db: &PgPool, token: &str) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    if !token::well_formed(token) {
        return Ok(None);
    }
    sqlx::query_scalar!(
        "SELECT i.sent_at FROM invitation_old_tokens o JOIN invitations i ON i.id = o.invitation_id WHERE o.token_hash = $1",
        token::hash(token)
    )
    .fetch_optional(db)
    .await
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
                  i.all_permissions, i.permissions, i.expires_at, i.accepted_at, i.cancelled_at, i.declined_at,
                  n.sent_at AS "newer_sent_at?", i.access_until,
                  EXISTS (SELECT 1 FROM users x WHERE x.email = i.email) AS "has_login!",
                  a.require_two_factor AS requires_two_factor
           FROM invitations i JOIN accounts a ON a.id = i.account_id LEFT JOIN users u ON u.id = i.invited_by
           LEFT JOIN invitations n ON n.id = i.replaced_by
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
    #[error("This invitation was declined. If that was a mistake, ask the account owner to send a new one.")]
    Declined,
    #[error(
        "A newer invitation was sent on {}. This link no longer works: use the link in the newest mail.",
        crate::web::datetime(.0)
    )]
    Superseded(OffsetDateTime),
    #[error("This invitation was sent to {0}, so only a login with that address can accept it.")]
    WrongLogin(String),
    #[error("You already have access to {0}.")]
    AlreadyMember(String),
    #[error("Support staff logins cannot accept invitations.")]
    Staff,
    #[error(
        "{0} requires two-factor sign-in for everyone with access. Set it up on your Security page, then open this invitation again to accept it."
    )]
    TwoFactorRequired(String),
    #[error(
        "The access this invitation offered to {0} has already ended. Ask the account owner for a new invitation."
    )]
    AccessEnded(String),
    #[error(transparent)]
    Internal(Internal),
}
internal_error_from!(AcceptError);

impl From<AcceptError> for AppError {
    fn from(e: AcceptError) -> Self {
        let message = e.to_string();
        match e {
            AcceptError::Unknown => AppError::NotFound(message),
            AcceptError::Expired
            | AcceptError::Cancelled
            | AcceptError::Used
            | AcceptError::Declined
            | AcceptError::Superseded(_)
            | AcceptError::AccessEnded(_) => AppError::Gone(message),
            AcceptError::WrongLogin(_) | AcceptError::Staff | AcceptError::TwoFactorRequired(_) => {
                AppError::Forbidden(message)
            }
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
    /// The time now (the access an invitation offers may already have ended).
    pub now: OffsetDateTime,
}

/// An invitation row locked by its token, and why it can no longer be
/// accepted (if so).
struct Locked {
    id: Uuid,
    account_id: Uuid,
    account_name: String,
    email: String,
    all_permissions: bool,
    permissions: Vec<String>,
    access_until: Option<OffsetDateTime>,
    scope: Option<Vec<Uuid>>,
    requires_two_factor: bool,
    refusal: Option<AcceptError>,
}

/// Locks the invitation a link opens (FOR UPDATE), for accepting or
/// declining; an unknown or malformed token is `Unknown`.
async fn lock(conn: &mut PgConnection, token: &str) -> Result<Locked, AcceptError> {
    if !token::well_formed(token) {
        return Err(AcceptError::Unknown);
    }
    let row = sqlx::query!(
        r#"SELECT i.id, i.account_id, a.name, i.email, i.all_permissions, i.permissions, i.expires_at, i.accepted_at,
                  i.cancelled_at, i.declined_at, n.sent_at AS "newer_sent_at?", a.require_two_factor, i.access_until, i.scope
           FROM invitations i JOIN accounts a ON a.id = i.account_id LEFT JOIN invitations n ON n.id = i.replaced_by
           WHERE i.token_hash = $1 FOR UPDATE OF i"#,
        token::hash(token)
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AcceptError::Unknown)?;
    let dates = InvitationDates {
        expires_at: row.expires_at,
        accepted_at: row.accepted_at,
        cancelled_at: row.cancelled_at,
        declined: row.declined_at.is_some(),
        replaced: row.newer_sent_at.is_some(),
    };
    Ok(Locked {
        refusal: refusal(dates.status(OffsetDateTime::now_utc()), row.newer_sent_at),
        id: row.id,
        account_id: row.account_id,
        account_name: row.name,
        email: row.email,
        all_permissions: row.all_permissions,
        permissions: row.permissions,
        access_until: row.access_until,
        scope: row.scope,
        requires_two_factor: row.require_two_factor,
    })
}

/// Accepts inside the caller's transaction: locks the invitation row,
/// re-checks everything, writes the membership, the invitation's end, the
/// audit event and the owner's mail together.
pub async fn accept(conn: &mut PgConnection, token: &str, who: &Acceptor<'_>) -> Result<Accepted, AcceptError> {
    let row = lock(conn, token).await?;
    if let Some(refused) = row.refusal {
        return Err(refused);
    }
    let (id, account_id, account_name, email) = (row.id, row.account_id, row.account_name, row.email);
    let (all, keys) = (row.all_permissions, row.permissions);
    if who.email != email {
        return Err(AcceptError::WrongLogin(email));
    }
    if who.is_staff {
        return Err(AcceptError::Staff);
    }
    if row.requires_two_factor && !crate::security::store::two_factor_on(&mut *conn, who.user_id).await? {
        return Err(AcceptError::TwoFactorRequired(account_name));
    }
    if row.access_until.is_some_and(|until| until <= who.now) {
        return Err(AcceptError::AccessEnded(account_name));
    }
    let inserted = sqlx::query!(
        "INSERT INTO memberships (account_id, user_id, all_permissions, permissions, access_until, scope)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, user_id) DO NOTHING",
        account_id,
        who.user_id,
        all,
        &keys,
        row.access_until,
        row.scope.as_deref() as Option<&[Uuid]>
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AcceptError::AlreadyMember(account_name));
    }
    sqlx::query!("UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1", id, who.user_id)
        .execute(&mut *conn)
        .await?;
    // The invitation link went to this login's address: it is proven.
    login_store::address_proven(conn, who.user_id).await?;
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

/// Declines inside the caller's transaction: anyone holding the link may
/// say no for the address it was sent to. Locks the row, re-checks it is
/// still open, ends it, records who declined (`actor_id`, when signed in)
/// and mails the owner. The account's name.
pub async fn decline(
    conn: &mut PgConnection,
    token: &str,
    actor_id: Option<Uuid>,
    ip: &str,
) -> Result<String, AcceptError> {
    let row = lock(conn, token).await?;
    // An expired invitation can still be declined: the owner learns the answer.
    match row.refusal {
        None | Some(AcceptError::Expired) => {}
        Some(refused) => return Err(refused),
    }
    sqlx::query!("UPDATE invitations SET cancelled_at = now(), declined_at = now() WHERE id = $1", row.id)
        .execute(&mut *conn)
        .await?;
    let event = audit::Event {
        actor_id,
        account_id: Some(row.account_id),
        target_user_id: None,
        target_email: Some(&row.email),
        action: AuditAction::InvitationDeclined,
        details: serde_json::json!({ "invitation_id": row.id }),
        ip,
    };
    audit::record(conn, event).await?;
    let owner = sqlx::query!(
        "SELECT u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND m.is_owner",
        row.account_id
    )
    .fetch_one(&mut *conn)
    .await?;
    InvitationDeclined { owner_name: &owner.name, invited_email: &row.email, account_name: &row.account_name }
        .to(&owner.email, row.account_id)?
        .queue(conn)
        .await?;
    Ok(row.account_name)
}

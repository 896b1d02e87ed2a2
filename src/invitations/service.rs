//! Invitation rules (DESIGN.md section 4): who may be invited, the token's
//! life, and accepting it in one locked transaction.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    audit,
    auth::session::Member,
    config::Config,
    domain::{email::Email, permissions::Grant, token},
    mail::messages::{InvitationAccepted, InvitationMail},
};

pub const VALID_DAYS: i64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Expired,
    Accepted,
    Cancelled,
}

impl Status {
    pub fn of(accepted: Option<OffsetDateTime>, cancelled: Option<OffsetDateTime>, expires: OffsetDateTime) -> Status {
        if cancelled.is_some() {
            Status::Cancelled
        } else if accepted.is_some() {
            Status::Accepted
        } else if expires <= OffsetDateTime::now_utc() {
            Status::Expired
        } else {
            Status::Pending
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Expired => "Expired",
            Status::Accepted => "Accepted",
            Status::Cancelled => "Cancelled",
        }
    }

    /// Still open: it can be resent or cancelled.
    pub fn is_open(&self) -> bool {
        matches!(self, Status::Pending | Status::Expired)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("{0} is your own address: you already own this account.")]
    OwnAddress(String),
    #[error("{0} already has access to this account. Use Manage Permissions to change what they can do.")]
    AlreadyMember(String),
    #[error("An invitation to {0} is already pending. You can resend or cancel it in the list of invitations.")]
    AlreadyPending(String),
    #[error("{0} belongs to a support staff login and cannot be invited.")]
    Staff(String),
    #[error("This account has sent {0} invitations in the last hour. Please try again later.")]
    RateLimited(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Render(#[from] askama::Error),
}

/// Who acts on an account's invitations (its owner, or support staff on
/// the owner's behalf), and whose name the invitation mail carries.
pub struct Inviter<'a> {
    pub actor_id: Uuid,
    pub account_id: Uuid,
    pub account_name: &'a str,
    /// The mail always invites on the owner's behalf.
    pub owner_name: &'a str,
    pub owner_email: &'a str,
    pub ip: &'a str,
    pub config: &'a Config,
}

impl<'a> Inviter<'a> {
    /// The owner, working in their active account.
    pub fn owner(member: &'a Member, ip: &'a str, config: &'a Config) -> Inviter<'a> {
        Inviter {
            actor_id: member.user.id,
            account_id: member.account.id,
            account_name: &member.account.name,
            owner_name: &member.user.name,
            owner_email: &member.user.email,
            ip,
            config,
        }
    }
}

async fn check_rate(conn: &mut PgConnection, from: &Inviter<'_>) -> Result<(), InviteError> {
    let recent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM invitations WHERE account_id = $1 AND sent_at > now() - interval '1 hour'",
    )
    .bind(from.account_id)
    .fetch_one(&mut *conn)
    .await?;
    let limit = from.config.invitations_per_hour;
    if recent >= limit {
        return Err(InviteError::RateLimited(limit));
    }
    Ok(())
}

async fn queue_invitation_mail(
    conn: &mut PgConnection,
    from: &Inviter<'_>,
    email: &str,
    grant: &Grant,
    token: &str,
    expires_at: OffsetDateTime,
) -> Result<(), InviteError> {
    let link = format!("{}/invitations/{token}", from.config.base_url);
    let m = InvitationMail {
        inviter_name: from.owner_name,
        inviter_email: from.owner_email,
        account_name: from.account_name,
        permissions: grant.labels(),
        link: &link,
        expires: crate::web::datetime(&expires_at),
    };
    m.to(email, from.account_id)?.with_secret(token).queue(conn).await?;
    Ok(())
}

pub async fn invite(db: &PgPool, from: &Inviter<'_>, email: &Email, grant: &Grant) -> Result<(), InviteError> {
    if email.as_str() == from.owner_email {
        return Err(InviteError::OwnAddress(email.to_string()));
    }
    let mut tx = db.begin().await?;
    // Serialises invitations of one account, for the rate limit and checks.
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE").bind(from.account_id).execute(&mut *tx).await?;
    // First, so the answers below cannot be used to probe addresses freely.
    check_rate(&mut tx, from).await?;
    let (is_member, is_staff, open): (bool, bool, Option<(Uuid, OffsetDateTime)>) = {
        let row: (bool, bool, Option<Uuid>, Option<OffsetDateTime>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND u.email = $2),
                    EXISTS (SELECT 1 FROM users WHERE email = $2 AND is_staff),
                    i.id, i.expires_at
             FROM (SELECT 1) one
             LEFT JOIN invitations i ON i.account_id = $1 AND i.email = $2 AND i.accepted_at IS NULL AND i.cancelled_at IS NULL",
        )
        .bind(from.account_id)
        .bind(email.as_str())
        .fetch_one(&mut *tx)
        .await?;
        (row.0, row.1, row.2.zip(row.3))
    };
    if is_member {
        return Err(InviteError::AlreadyMember(email.to_string()));
    }
    if is_staff {
        return Err(InviteError::Staff(email.to_string()));
    }
    match open {
        Some((_, expires)) if expires > OffsetDateTime::now_utc() => {
            return Err(InviteError::AlreadyPending(email.to_string()))
        }
        // An expired invitation gives way to the new one.
        Some((id, _)) => {
            sqlx::query("UPDATE invitations SET cancelled_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
        }
        None => {}
    }
    let token = token::generate();
    let id = Uuid::new_v4();
    let expires_at: OffsetDateTime = sqlx::query_scalar(
        "INSERT INTO invitations (id, account_id, email, token_hash, all_permissions, permissions, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8)) RETURNING expires_at",
    )
    .bind(id)
    .bind(from.account_id)
    .bind(email.as_str())
    .bind(token::hash(&token))
    .bind(grant.is_all())
    .bind(grant.keys())
    .bind(from.actor_id)
    .bind(VALID_DAYS as i32)
    .fetch_one(&mut *tx)
    .await?;
    queue_invitation_mail(&mut tx, from, email.as_str(), grant, &token, expires_at).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(from.actor_id),
            account_id: Some(from.account_id),
            target_user_id: None,
            target_email: Some(email.as_str()),
            action: "invitation.sent",
            details: serde_json::json!({ "invitation_id": id, "permissions": grant.describe() }),
            ip: from.ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("There is no such invitation in this account.")]
    NotFound,
    #[error("This invitation was already {0} and cannot be changed.")]
    Closed(&'static str),
    #[error(transparent)]
    Invite(#[from] InviteError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Invite(InviteError::Db(e))
    }
}

/// Locks an invitation of the active account; refuses closed ones.
async fn lock_open(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> Result<(String, Grant), ChangeError> {
    let row: Option<(String, bool, Vec<String>, Option<OffsetDateTime>, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT email, all_permissions, permissions, accepted_at, cancelled_at FROM invitations
         WHERE id = $1 AND account_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (email, all, keys, accepted, cancelled) = row.ok_or(ChangeError::NotFound)?;
    if accepted.is_some() {
        return Err(ChangeError::Closed("accepted"));
    }
    if cancelled.is_some() {
        return Err(ChangeError::Closed("cancelled"));
    }
    Ok((email, Grant::from_row(all, &keys)))
}

/// A new token and seven more days; the old link dies.
pub async fn resend(db: &PgPool, from: &Inviter<'_>, id: Uuid) -> Result<String, ChangeError> {
    let account_id = from.account_id;
    let mut tx = db.begin().await?;
    let (email, grant) = lock_open(&mut tx, account_id, id).await?;
    check_rate(&mut tx, from).await?;
    let token = token::generate();
    let expires_at: OffsetDateTime = sqlx::query_scalar(
        "UPDATE invitations SET token_hash = $2, sent_at = now(), expires_at = now() + make_interval(days => $3)
         WHERE id = $1 RETURNING expires_at",
    )
    .bind(id)
    .bind(token::hash(&token))
    .bind(VALID_DAYS as i32)
    .fetch_one(&mut *tx)
    .await?;
    queue_invitation_mail(&mut tx, from, &email, &grant, &token, expires_at).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(from.actor_id),
            account_id: Some(account_id),
            target_user_id: None,
            target_email: Some(&email),
            action: "invitation.resent",
            details: serde_json::json!({ "invitation_id": id }),
            ip: from.ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(email)
}

pub async fn cancel(db: &PgPool, by: &Inviter<'_>, id: Uuid) -> Result<String, ChangeError> {
    let mut tx = db.begin().await?;
    let (email, _) = lock_open(&mut tx, by.account_id, id).await?;
    sqlx::query("UPDATE invitations SET cancelled_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor_id: Some(by.actor_id),
            account_id: Some(by.account_id),
            target_user_id: None,
            target_email: Some(&email),
            action: "invitation.cancelled",
            details: serde_json::json!({ "invitation_id": id }),
            ip: by.ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(email)
}

/// What the invitation page shows.
#[derive(sqlx::FromRow)]
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
    pub fn status(&self) -> Status {
        Status::of(self.accepted_at, self.cancelled_at, self.expires_at)
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
    sqlx::query_as(
        "SELECT i.email, i.account_id, a.name AS account_name, u.name AS inviter_name, u.email AS inviter_email,
                i.all_permissions, i.permissions, i.expires_at, i.accepted_at, i.cancelled_at,
                EXISTS (SELECT 1 FROM users x WHERE x.email = i.email) AS has_login
         FROM invitations i JOIN accounts a ON a.id = i.account_id LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.token_hash = $1",
    )
    .bind(token::hash(token))
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
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Render(#[from] askama::Error),
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
    let row: Option<(Uuid, Uuid, String, String, bool, Vec<String>, OffsetDateTime, Option<OffsetDateTime>, Option<OffsetDateTime>)> =
        sqlx::query_as(
            "SELECT i.id, i.account_id, a.name, i.email, i.all_permissions, i.permissions, i.expires_at, i.accepted_at, i.cancelled_at
             FROM invitations i JOIN accounts a ON a.id = i.account_id
             WHERE i.token_hash = $1 FOR UPDATE OF i",
        )
        .bind(token::hash(token))
        .fetch_optional(&mut *conn)
        .await?;
    let (id, account_id, account_name, email, all, keys, expires, accepted, cancelled) =
        row.ok_or(AcceptError::Unknown)?;
    match Status::of(accepted, cancelled, expires) {
        Status::Cancelled => return Err(AcceptError::Cancelled),
        Status::Accepted => return Err(AcceptError::Used),
        Status::Expired => return Err(AcceptError::Expired),
        Status::Pending => {}
    }
    if who.email != email {
        return Err(AcceptError::WrongLogin(email));
    }
    if who.is_staff {
        return Err(AcceptError::Staff);
    }
    let inserted = sqlx::query(
        "INSERT INTO memberships (account_id, user_id, all_permissions, permissions) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, user_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(who.user_id)
    .bind(all)
    .bind(&keys)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AcceptError::AlreadyMember(account_name));
    }
    sqlx::query("UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1")
        .bind(id)
        .bind(who.user_id)
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
            action: "invitation.accepted",
            details: serde_json::json!({ "invitation_id": id, "permissions": grant.describe() }),
            ip: who.ip,
        },
    )
    .await?;
    let owner: (String, String) = sqlx::query_as(
        "SELECT u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND m.is_owner",
    )
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await?;
    InvitationAccepted {
        owner_name: &owner.0,
        member_name: who.name,
        member_email: &email,
        account_name: &account_name,
        permissions: grant.labels(),
    }
    .to(&owner.1, account_id)?
    .queue(conn)
    .await?;
    Ok(Accepted { account_id, account_name })
}

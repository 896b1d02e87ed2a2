//! Sending, resending and cancelling invitations (DESIGN.md section 4): who
//! may be invited, the rate limit, and the token's life. The owner's User
//! Management and the staff area both come through here, inside their
//! `AccountChange`, so the audit log reads the same whoever acted.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    auth::session::Member,
    change::{AccountChange, Target},
    config::Config,
    domain::{audit::AuditAction, email::Email, invitation::VALID_DAYS, permissions::Grant, token},
    error::{internal_error_from, AppError, Internal},
    mail::{budget, messages::InvitationMail, Mail, MailKind},
    web,
};

/// Why a login whose own address is unconfirmed sends nobody mail: a
/// registration flood would otherwise make hundreds of logins mailing
/// strangers words of their choosing.
pub const UNCONFIRMED: &str = "Confirm your own email address first, with the link we mailed you (you can have it sent again from the top of any page). Until then nothing is mailed from your account to anyone else. Nothing was changed.";

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("{}", UNCONFIRMED)]
    SenderUnconfirmed,
    #[error("{0} is your own address: you already own this account.")]
    OwnAddress(String),
    #[error("{0} already has access to this account. Use Manage Permissions to change what they can do.")]
    AlreadyMember(String),
    #[error("An invitation to {0} is already pending. You can resend or cancel it in the list of invitations.")]
    AlreadyPending(String),
    #[error(
        "This account has sent {limit} invitations in the last hour, its limit. Please try again later: you can send more from {when}.",
        limit = .0,
        when = crate::web::datetime(.1)
    )]
    OverBudget(i64, OffsetDateTime),
    #[error(
        "{email} was sent an invitation a few minutes ago. You can send another from {when}.",
        email = .0,
        when = crate::web::datetime(.1)
    )]
    Cooldown(String, OffsetDateTime),
    #[error(transparent)]
    Internal(Internal),
}
internal_error_from!(InviteError);

/// Resending or cancelling an invitation of the account.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("There is no such invitation in this account.")]
    NotFound,
    #[error("This invitation was already {0} and cannot be changed.")]
    Closed(&'static str),
    #[error("{}", UNCONFIRMED)]
    SenderUnconfirmed,
    /// The mail budget or the address's cooldown: said as for a new invitation.
    #[error(transparent)]
    Limited(InviteError),
    #[error(transparent)]
    Internal(Internal),
}
internal_error_from!(ChangeError);

impl From<ChangeError> for AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound => AppError::NotFound(e.to_string()),
            ChangeError::Closed(_) | ChangeError::SenderUnconfirmed => AppError::Conflict(e.to_string()),
            ChangeError::Limited(_) => AppError::TooManyRequests(e.to_string()),
            ChangeError::Internal(e) => e.into(),
        }
    }
}

/// What an invitation offers: the permissions, when the access ends, and
/// the services and domains it reaches (None: all).
pub struct Offered<'a> {
    pub grant: &'a Grant,
    pub until: Option<OffsetDateTime>,
    pub scope: Option<Vec<Uuid>>,
}

/// The account whose invitations are handled, and whose owner's name the
/// invitation mail carries (staff act on the owner's behalf).
pub struct Inviter<'a> {
    pub account_id: Uuid,
    pub account_name: &'a str,
    pub owner_name: &'a str,
    pub owner_email: &'a str,
    /// The sender's own address is confirmed (staff: always).
    pub confirmed: bool,
    pub config: &'a Config,
}

impl<'a> Inviter<'a> {
    /// The owner, working in their active account.
    pub fn owner(member: &'a Member, config: &'a Config) -> Inviter<'a> {
        Inviter {
            account_id: member.account.id,
            account_name: &member.account.name,
            owner_name: &member.user.name,
            owner_email: &member.user.email,
            confirmed: member.user.email_verified,
            config,
        }
    }
}

/// Queues the invitation mail, then takes the account's lock and checks
/// the mail against the account's invitation budget
/// (`INVITATIONS_PER_HOUR`, resends included, counted by whole minutes)
/// and the address's cooldown (`INVITE_RESEND_MINUTES`), in one call
/// (migration 18). The lock serialises every invitation mail of the
/// account, so a burst cannot all count the same "before"; it is held to
/// the commit, so everything else is done first (issue 17). Over budget,
/// the caller rolls everything back, this mail included.
async fn queue_within_budget(
    conn: &mut PgConnection,
    from: &Inviter<'_>,
    email: &str,
    mail: Mail,
) -> Result<(), InviteError> {
    let queued = mail.queue(conn).await?;
    let used = sqlx::query!(
        "SELECT full_until, last_to_recipient FROM lock_invitation_budget($1, $2, $3, $4)",
        from.account_id,
        email,
        queued,
        from.config.invitations_per_hour
    )
    .fetch_one(conn)
    .await?;
    if let Some(lifts) = used.full_until {
        return Err(InviteError::OverBudget(from.config.invitations_per_hour, lifts));
    }
    match budget::cooldown_lifts(used.last_to_recipient, from.config.invite_cooldown_minutes) {
        Some(lifts) => Err(InviteError::Cooldown(email.to_string(), lifts)),
        None => Ok(()),
    }
}

/// The answer to a refused resend; a refusal by the mail budget is recorded
/// first (the change itself is undone).
pub async fn refusal(change: AccountChange<'_>, e: ChangeError) -> AppError {
    if let ChangeError::Limited(limited) = &e {
        if limited.is_budget() {
            if let Err(db) = change.refused_by_mail_budget(MailKind::Invitation).await {
                return db.into();
            }
        }
    }
    e.into()
}

impl InviteError {
    /// A refusal by the mail budget, which staff are shown.
    pub fn is_budget(&self) -> bool {
        matches!(self, InviteError::OverBudget(..))
    }
}

/// The invitation mail, rendered before the account's lock is taken.
fn invitation_mail(
    from: &Inviter<'_>,
    email: &str,
    grant: &Grant,
    token: &str,
    expires_at: OffsetDateTime,
    requires_two_factor: bool,
) -> Result<Mail, Internal> {
    let link = format!("{}/invitations/{token}", from.config.base_url);
    let m = InvitationMail {
        requires_two_factor,
        inviter_name: from.owner_name,
        inviter_email: from.owner_email,
        account_name: from.account_name,
        permissions: grant.labels(),
        link: &link,
        expires: web::datetime(&expires_at),
    };
    Ok(m.to(email, from.account_id)?.with_secret(token))
}

/// Writes the invitation and its mail, then checks the mail against the
/// budget (see `queue_within_budget`). Over budget, the caller rolls
/// everything back.
pub async fn invite(
    change: &mut AccountChange<'_>,
    from: &Inviter<'_>,
    email: &Email,
    offer: &Offered<'_>,
) -> Result<Uuid, InviteError> {
    let (grant, access_until) = (offer.grant, offer.until);
    if !from.confirmed {
        return Err(InviteError::SenderUnconfirmed);
    }
    if email.as_str() == from.owner_email {
        return Err(InviteError::OwnAddress(email.to_string()));
    }
    // First, so the answers below cannot be used to probe addresses freely.
    let found = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                          WHERE m.account_id = $1 AND u.email = $2) AS "is_member!",
                  i.id AS "open_id?", i.expires_at AS "open_expires?",
                  (SELECT require_two_factor FROM accounts WHERE id = $1) AS "requires_two_factor!"
           FROM (SELECT 1) one
           LEFT JOIN invitations i
             ON i.account_id = $1 AND i.email = $2 AND i.accepted_at IS NULL AND i.cancelled_at IS NULL"#,
        from.account_id,
        email.as_str()
    )
    .fetch_one(&mut **change)
    .await?;
    let (is_member, open_id, open_expires) = (found.is_member, found.open_id, found.open_expires);
    let requires_two_factor = found.requires_two_factor;
    if is_member {
        return Err(InviteError::AlreadyMember(email.to_string()));
    }
    // A support staff address is invited like any other (the mail goes
    // out, accepting is refused): a distinct answer here would tell anyone
    // with an account which addresses belong to staff.
    if open_expires.is_some_and(|expires| expires > OffsetDateTime::now_utc()) {
        return Err(InviteError::AlreadyPending(email.to_string()));
    }
    // An expired invitation gives way to the new one (closed first: one open
    // invitation per address), and says so: "Replaced".
    let replaced = match open_id {
        Some(old) => {
            sqlx::query!("UPDATE invitations SET cancelled_at = now() WHERE id = $1", old)
                .execute(&mut **change)
                .await?;
            Some(old)
        }
        None => None,
    };
    let token = token::generate();
    let id = Uuid::new_v4();
    // Two invitations of one address at once: the second waits here for
    // the first (one open invitation per address is a unique index) and is
    // refused as pending once the first is in.
    let expires_at = sqlx::query_scalar!(
        "INSERT INTO invitations (id, account_id, email, token_hash, all_permissions, permissions, invited_by, expires_at,
                                  access_until, scope)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8), $9, $10) RETURNING expires_at",
        id,
        from.account_id,
        email.as_str(),
        token::hash(&token),
        grant.is_all(),
        &grant.keys(),
        change.actor_id,
        VALID_DAYS as i32,
        access_until,
        offer.scope.as_deref() as Option<&[Uuid]>
    )
    .fetch_one(&mut **change)
    .await
    .map_err(|e| match e.as_database_error() {
        Some(db) if db.constraint() == Some("invitations_one_open") => InviteError::AlreadyPending(email.to_string()),
        _ => e.into(),
    })?;
    if let Some(old) = replaced {
        sqlx::query!("UPDATE invitations SET replaced_by = $2 WHERE id = $1", old, id).execute(&mut **change).await?;
    }
    let mut details = serde_json::json!({ "invitation_id": id, "permissions": grant.describe() });
    if let Some(until) = access_until {
        details["access_until"] = web::datetime(&until).into();
    }
    if offer.scope.is_some() {
        details["scope"] = crate::users::scope::describe(change, offer.scope.as_deref()).await?.into();
    }
    change.audit(AuditAction::InvitationSent, Target { user_id: None, email: Some(email.as_str()) }, details).await?;
    // Members and pending invitations are the owner's own to see; past
    // them, the mail must fit the budget, or all of the above is undone.
    let mail = invitation_mail(from, email.as_str(), grant, &token, expires_at, requires_two_factor)?;
    queue_within_budget(change, from, email.as_str(), mail).await?;
    Ok(id)
}

/// An open invitation, locked, and the account's two-factor rule (which
/// the mail mentions).
struct Open {
    email: String,
    grant: Grant,
    requires_two_factor: bool,
}

/// Locks an invitation of the account; refuses closed ones.
async fn lock_open(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> Result<Open, ChangeError> {
    let row = sqlx::query!(
        r#"SELECT email, all_permissions, permissions, accepted_at, cancelled_at, declined_at, replaced_by,
                  (SELECT require_two_factor FROM accounts WHERE id = $2) AS "requires_two_factor!"
           FROM invitations WHERE id = $1 AND account_id = $2 FOR UPDATE OF invitations"#,
        id,
        account_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ChangeError::NotFound)?;
    let closed = match (row.accepted_at, row.cancelled_at, row.declined_at, row.replaced_by) {
        (Some(_), ..) => Some("accepted"),
        (_, Some(_), Some(_), _) => Some("declined"),
        (_, Some(_), _, Some(_)) => Some("replaced by a newer one"),
        (_, Some(_), ..) => Some("cancelled"),
        _ => None,
    };
    if let Some(how) = closed {
        return Err(ChangeError::Closed(how));
    }
    let grant = Grant::from_row(row.all_permissions, &row.permissions);
    Ok(Open { email: row.email, grant, requires_two_factor: row.requires_two_factor })
}

/// A new token and seven more days; the old link dies. The invited address.
pub async fn resend(change: &mut AccountChange<'_>, from: &Inviter<'_>, id: Uuid) -> Result<String, ChangeError> {
    if !from.confirmed {
        return Err(ChangeError::SenderUnconfirmed);
    }
    let Open { email, grant, requires_two_factor } = lock_open(change, from.account_id, id).await?;
    let token = token::generate();
    // The old link then says a newer invitation was sent, instead of "not valid".
    sqlx::query!(
        "INSERT INTO invitation_old_tokens (token_hash, invitation_id) SELECT token_hash, id FROM invitations WHERE id = $1",
        id
    )
    .execute(&mut **change)
    .await?;
    let expires_at = sqlx::query_scalar!(
        "UPDATE invitations SET token_hash = $2, sent_at = now(), expires_at = now() + make_interval(days => $3)
         WHERE id = $1 RETURNING expires_at",
        id,
        token::hash(&token),
        VALID_DAYS as i32
    )
    .fetch_one(&mut **change)
    .await?;
    let target = Target { user_id: None, email: Some(&email) };
    change.audit(AuditAction::InvitationResent, target, serde_json::json!({ "invitation_id": id })).await?;
    let mail = invitation_mail(from, &email, &grant, &token, expires_at, requires_two_factor)?;
    queue_within_budget(change, from, &email, mail).await.map_err(|e| match e {
        InviteError::Internal(e) => ChangeError::Internal(e),
        limited => ChangeError::Limited(limited),
    })?;
    Ok(email)
}

/// Ends an open invitation; its link dies. The invited address.
pub async fn cancel(change: &mut AccountChange<'_>, account_id: Uuid, id: Uuid) -> Result<String, ChangeError> {
    let Open { email, .. } = lock_open(change, account_id, id).await?;
    sqlx::query!("UPDATE invitations SET cancelled_at = now() WHERE id = $1", id).execute(&mut **change).await?;
    let target = Target { user_id: None, email: Some(&email) };
    change.audit(AuditAction::InvitationCancelled, target, serde_json::json!({ "invitation_id": id })).await?;
    Ok(email)
}

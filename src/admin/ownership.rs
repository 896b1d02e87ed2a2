//! Moving an account to a new owner: staff only, in one transaction, with
//! exactly one owner before and after.

use uuid::Uuid;

use crate::{
    change::{AccountChange, Target},
    domain::{audit::AuditAction, email::Email},
    error::{internal_error_from, AppError, Internal},
    mail::messages::OwnershipChanged,
};

pub struct Transfer<'a> {
    pub account_id: Uuid,
    /// The owner the staff member saw: if it changed meanwhile (another
    /// transfer won), this one is refused instead of silently stacking.
    pub expected_owner: Uuid,
    pub new_owner: &'a Email,
    pub keep_old_owner: bool,
    pub reason: &'a str,
    /// The staff member saw the warning that the new owner's address is
    /// not confirmed, and goes ahead.
    pub unconfirmed_ok: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("There is no such account.")]
    NoAccount,
    #[error("No login uses {0}. The new owner must already have a login.")]
    UnknownUser(String),
    #[error("{0} is a support staff login and cannot own an account.")]
    Staff(String),
    #[error("{0} is disabled. Enable the login first.")]
    Disabled(String),
    #[error("{0} already owns this account.")]
    SameOwner(String),
    #[error(
        "{0} has not confirmed its email address: nobody has shown that the person who controls this login receives its mail. Check with the client, then tick \"Transfer to an unconfirmed address\" to go ahead."
    )]
    Unconfirmed(String),
    #[error(
        "The owner of this account changed while you were working. Reload the page and check before trying again."
    )]
    OwnerChanged,
    #[error(transparent)]
    Internal(Internal),
}
internal_error_from!(TransferError);

impl From<TransferError> for AppError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::NoAccount => AppError::NotFound(e.to_string()),
            TransferError::OwnerChanged => AppError::Conflict(e.to_string()),
            TransferError::Internal(e) => e.into(),
            refused => AppError::BadRequest(refused.to_string()),
        }
    }
}

/// Moves the account in the staff member's `AccountChange`.
pub async fn transfer(tx: &mut AccountChange<'_>, t: &Transfer<'_>) -> Result<(), TransferError> {
    // The account row lock serialises transfers of one account.
    let account_name = sqlx::query_scalar!("SELECT name FROM accounts WHERE id = $1 FOR UPDATE", t.account_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(TransferError::NoAccount)?;
    let old = sqlx::query!(
        "SELECT u.id, u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.account_id = $1 AND m.is_owner",
        t.account_id
    )
    .fetch_one(&mut **tx)
    .await?;
    if old.id != t.expected_owner {
        return Err(TransferError::OwnerChanged);
    }
    let new = sqlx::query!(
        r#"SELECT id, name, is_staff, disabled_at IS NOT NULL AS "disabled!", email_verified_at IS NOT NULL AS "confirmed!"
           FROM users WHERE email = $1"#,
        t.new_owner.as_str()
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| TransferError::UnknownUser(t.new_owner.to_string()))?;
    if new.is_staff {
        return Err(TransferError::Staff(t.new_owner.to_string()));
    }
    if new.disabled {
        return Err(TransferError::Disabled(t.new_owner.to_string()));
    }
    if new.id == old.id {
        return Err(TransferError::SameOwner(t.new_owner.to_string()));
    }
    if !new.confirmed && !t.unconfirmed_ok {
        return Err(TransferError::Unconfirmed(t.new_owner.to_string()));
    }
    if t.keep_old_owner {
        sqlx::query!(
            "UPDATE memberships SET is_owner = false, all_permissions = true, permissions = '{}'
             WHERE account_id = $1 AND user_id = $2",
            t.account_id,
            old.id
        )
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query!("DELETE FROM memberships WHERE account_id = $1 AND user_id = $2", t.account_id, old.id)
            .execute(&mut **tx)
            .await?;
        crate::tokens::store::revoke_all_of(tx, t.account_id, old.id).await?;
    }
    // An owner reaches the whole account with no end date, whatever they
    // had as a member.
    sqlx::query!(
        "INSERT INTO memberships (account_id, user_id, is_owner, all_permissions) VALUES ($1, $2, true, true)
         ON CONFLICT (account_id, user_id)
         DO UPDATE SET is_owner = true, all_permissions = true, permissions = '{}', scope = NULL, access_until = NULL",
        t.account_id,
        new.id
    )
    .execute(&mut **tx)
    .await?;
    // An open invitation to the new owner is moot now.
    sqlx::query!(
        "UPDATE invitations SET cancelled_at = now()
         WHERE account_id = $1 AND email = $2 AND accepted_at IS NULL AND cancelled_at IS NULL",
        t.account_id,
        t.new_owner.as_str()
    )
    .execute(&mut **tx)
    .await?;
    let target = Target { user_id: Some(new.id), email: Some(t.new_owner.as_str()) };
    let details = serde_json::json!({
        "from": old.email,
        "to": t.new_owner.as_str(),
        "old_owner_kept_access": t.keep_old_owner,
        "new_owner_address_confirmed": new.confirmed,
        "reason": t.reason,
    });
    tx.audit(AuditAction::OwnershipTransferred, target, details).await?;
    // The previous owner's endpoints hear of the transfer (queued just
    // above) and of nothing after it, until the new owner turns them on.
    crate::webhooks::store::disable_all(tx, t.account_id).await?;
    let (old_name, old_email, new_name) = (old.name, old.email, new.name);
    let old_access = if t.keep_old_owner {
        "You keep access as a member with All Permissions."
    } else {
        "You no longer have access to it."
    };
    OwnershipChanged {
        name: &old_name,
        account_name: &account_name,
        message: &format!("Support has moved the ownership of {account_name} to {new_name}. {old_access}"),
    }
    .to(&old_email, t.account_id)?
    .queue(tx)
    .await?;
    OwnershipChanged {
        name: &new_name,
        account_name: &account_name,
        message: &format!(
            "Support has made you the owner of {account_name}. You can now manage its users under User Management."
        ),
    }
    .to(t.new_owner.as_str(), t.account_id)?
    .queue(tx)
    .await?;
    Ok(())
}

//! One way to finish a change: every section, User Management and staff
//! handler that changes something opens an `AccountChange`, does its work
//! in its transaction, records audit events through it, and ends with
//! `finish`, which sets the flash message, commits and wakes the mail
//! worker before redirecting. Forgetting the wake-up is impossible, and the
//! audit event always carries the actor, account and address of the request.
//!
//! Lock order, for every transaction that takes row locks (so no two wait
//! on each other in a cycle):
//! 1. the actor's membership (FOR SHARE, `by_member`);
//! 2. the account row, FOR NO KEY UPDATE (contacts' and webhooks' budgets,
//!    invitations' mail lock): never FOR UPDATE, which would also wait on
//!    every foreign-key check of a child row being inserted;
//! 3. the login's row, FOR NO KEY UPDATE (API tokens' cap, second-step notices);
//! 4. the child rows the change touches (an invitation, a quote, an
//!    invoice, a service, FOR UPDATE, one row per request).
//!
//! Staff's ownership transfer takes the account (2) before memberships
//! (1); a member's change racing it can deadlock, Postgres ends one after
//! `deadlock_timeout`, and it answers 409 "try again" (`error.rs`).
//! Every transaction is bounded by `db::begin`'s statement and lock
//! timeouts, so a queue on one account cannot hold the pool.

use std::ops::{Deref, DerefMut};

use axum::response::{IntoResponse, Redirect, Response};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    audit,
    auth::session,
    config::Config,
    domain::{audit::AuditAction, permissions::Grant},
    error::AppError,
    mail::MailKind,
    state::AppState,
    write_slots::WriteSlot,
};

pub struct AccountChange<'a> {
    tx: Transaction<'static, Postgres>,
    /// A member's change holds one of its account's write slots.
    _slot: Option<WriteSlot>,
    state: &'a AppState,
    /// The session that made the change: it gets the flash message.
    session_id: Uuid,
    pub actor_id: Uuid,
    /// The account changed (`None` for a staff action on a login).
    pub account_id: Option<Uuid>,
    pub ip: &'a str,
}

/// Whom an audit event is about, beyond the account.
#[derive(Clone, Copy, Default)]
pub struct Target<'t> {
    pub user_id: Option<Uuid>,
    pub email: Option<&'t str>,
}

impl<'a> AccountChange<'a> {
    /// Opens the transaction of a change by the signed-in `actor_id`.
    pub async fn begin(
        state: &'a AppState,
        session_id: Uuid,
        actor_id: Uuid,
        account_id: Option<Uuid>,
        ip: &'a str,
    ) -> Result<AccountChange<'a>, sqlx::Error> {
        let tx = crate::db::begin(&state.db).await?;
        Ok(AccountChange { tx, _slot: None, state, session_id, actor_id, account_id, ip })
    }

    /// Records `action` in the audit log, in this change's transaction.
    pub async fn audit(
        &mut self,
        action: AuditAction,
        target: Target<'_>,
        details: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let event = audit::Event {
            actor_id: Some(self.actor_id),
            account_id: self.account_id,
            target_user_id: target.user_id,
            target_email: target.email,
            action,
            details,
            ip: self.ip,
        };
        audit::record(&mut self.tx, event).await
    }

    /// Commits with `flash` for the next page, wakes the mail worker (mail
    /// queued in the transaction goes out at once) and redirects to `to`.
    pub async fn finish(mut self, flash: &str, to: &str) -> Result<Response, AppError> {
        session::set_flash(&mut *self.tx, self.session_id, flash).await?;
        self.commit().await?;
        Ok(Redirect::to(to).into_response())
    }

    /// The mail budget refused this change: it is undone (nothing is
    /// queued), and the refusal alone is recorded, for the owner's audit log
    /// and the staff area's list of accounts over budget.
    pub async fn refused_by_mail_budget(self, kind: MailKind) -> Result<(), sqlx::Error> {
        let AccountChange { tx, state, actor_id, account_id, ip, .. } = self;
        tx.rollback().await?;
        let mut conn = state.db.acquire().await?;
        let event = audit::Event {
            actor_id: Some(actor_id),
            account_id,
            target_user_id: None,
            target_email: None,
            action: AuditAction::MailBudgetExceeded,
            details: serde_json::json!({ "kind": kind.code() }),
            ip,
        };
        audit::record(&mut conn, event).await
    }

    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Commits and wakes the mail worker, for a change whose answer is not
    /// a redirect with a message (a page re-rendered, a sign-on link).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.state.wake_outboxes();
        Ok(())
    }
    /// A change by a member (or the owner) in their active account. The
    /// membership is checked again inside the transaction and held (FOR
    /// SHARE) until it commits: access removed while this request was on
    /// its way stops it here, and cannot be removed halfway through it.
    pub async fn by_member(
        state: &'a AppState,
        m: &session::Member,
        ip: &'a str,
    ) -> Result<AccountChange<'a>, AppError> {
        let slot = state.writes.take(m.account.id).ok_or_else(|| {
            metrics::counter!("panel_account_write_refusals_total").increment(1);
            AppError::TooManyRequests(
                "This account has several changes under way at this moment, so nothing was changed. Please try again in a moment."
                    .into(),
            )
        })?;
        let mut change = AccountChange::begin(state, m.user.session_id, m.user.id, Some(m.account.id), ip).await?;
        change._slot = Some(slot);
        let still = sqlx::query!(
            "SELECT is_owner, all_permissions, permissions, scope FROM memberships
             WHERE account_id = $1 AND user_id = $2 AND (access_until IS NULL OR access_until > $3) FOR SHARE",
            m.account.id,
            m.user.id,
            state.config.clock.now()
        )
        .fetch_optional(&mut *change.tx)
        .await?;
        let name = &m.account.name;
        match still {
            None => Err(AppError::Forbidden(format!("Your access to {name} has ended. Nothing was changed."))),
            Some(row) if m.account.is_owner && !row.is_owner => {
                Err(AppError::Forbidden(format!("You are no longer the owner of {name}. Nothing was changed.")))
            }
            // The request was let in under the grant it started with: a
            // narrower one now may no longer hold the permission it used.
            Some(row)
                if !Grant::from_row(row.all_permissions, &row.permissions).includes(&m.account.grant)
                    || !scope_includes(row.scope.as_deref(), m.account.scope()) =>
            {
                Err(AppError::Forbidden(format!(
                    "Your permissions in {name} changed while this was on its way. Nothing was changed: reload the page."
                )))
            }
            Some(_) => Ok(change),
        }
    }
    /// A change by support staff, to an account or (with `None`) a login.
    pub async fn by_staff(
        state: &'a AppState,
        staff: &session::CurrentUser,
        account_id: Option<Uuid>,
        ip: &'a str,
    ) -> Result<AccountChange<'a>, sqlx::Error> {
        AccountChange::begin(state, staff.session_id, staff.id, account_id, ip).await
    }
}

/// Whether a scope (None: everything) still covers the one a request was
/// let in under.
fn scope_includes(now: Option<&[Uuid]>, then: Option<&[Uuid]>) -> bool {
    match (now, then) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(now), Some(then)) => then.iter().all(|id| now.contains(id)),
    }
}

impl Deref for AccountChange<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for AccountChange<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

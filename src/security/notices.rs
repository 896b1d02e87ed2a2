//! What a login is told (by mail, and in the audit log) when its sign-in
//! security changes: two-factor on or off, a recovery code used, a sign-in
//! from a browser it had not used before.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    audit, config::Config, domain::audit::AuditAction, error::AppError, mail::messages::SecurityNotice, state::AppState,
};

/// Records `action` on the login's own record and mails it `message`.
async fn tell(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    action: AuditAction,
    subject: &str,
    message: &str,
    ip: &str,
) -> Result<(), AppError> {
    let event = audit::Event {
        actor_id: Some(user_id),
        account_id: None,
        target_user_id: Some(user_id),
        target_email: None,
        action,
        details: serde_json::json!({}),
        ip,
    };
    audit::record(conn, event).await?;
    mail(conn, config, user_id, subject, message).await
}

/// Mails the login `message` about its sign-in security.
async fn mail(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    subject: &str,
    message: &str,
) -> Result<(), AppError> {
    let who = sqlx::query!("SELECT name, email FROM users WHERE id = $1", user_id).fetch_one(&mut *conn).await?;
    let security = format!("{}/security", config.base_url);
    SecurityNotice { name: &who.name, message, security: &security }.to(&who.email, subject)?.queue(conn).await?;
    Ok(())
}

/// Support turned the login's two-factor sign-in off (the staff member's
/// change records it).
pub async fn reset_by_support(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    reason: &str,
) -> Result<(), AppError> {
    let message = format!(
        "Support has turned off two-factor sign-in for your login, giving this reason: \"{reason}\". Your authenticator app, recovery codes and passkeys no longer sign you in, and signing in now asks only for your password. Set it up again on your Security page; if you did not ask for this, contact support and change your password."
    );
    mail(conn, config, user_id, "Support turned off your two-factor sign-in", &message).await
}

pub async fn two_factor_on(conn: &mut PgConnection, config: &Config, user_id: Uuid, ip: &str) -> Result<(), AppError> {
    let message = "Two-factor sign-in is now on for your login: signing in asks for a code from your authenticator app (or a recovery code) after your password.";
    tell(conn, config, user_id, AuditAction::TwoFactorEnabled, "Two-factor sign-in is on", message, ip).await
}

pub async fn two_factor_off(conn: &mut PgConnection, config: &Config, user_id: Uuid, ip: &str) -> Result<(), AppError> {
    let message = "Two-factor sign-in has been turned off for your login: signing in now asks only for your password. If this was not you, change your password and turn it on again.";
    tell(conn, config, user_id, AuditAction::TwoFactorDisabled, "Two-factor sign-in is off", message, ip).await
}

pub async fn recovery_code_used(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    left: i64,
    ip: &str,
) -> Result<(), AppError> {
    let message = format!(
        "A recovery code was used to sign in to your login. {left} unused codes are left; you can make new ones on the Security page. If this was not you, change your password at once."
    );
    tell(conn, config, user_id, AuditAction::RecoveryCodeUsed, "A recovery code was used", &message, ip).await
}

pub async fn passkey_added(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    name: &str,
    ip: &str,
) -> Result<(), AppError> {
    let message = format!(
        "A passkey named \"{name}\" was added to your login: it can now sign you in. If this was not you, remove it on the Security page and change your password."
    );
    tell(conn, config, user_id, AuditAction::PasskeyAdded, "A passkey was added", &message, ip).await
}

pub async fn passkey_removed(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    name: &str,
    ip: &str,
) -> Result<(), AppError> {
    let message = format!("The passkey named \"{name}\" was removed from your login and no longer signs you in.");
    tell(conn, config, user_id, AuditAction::PasskeyRemoved, "A passkey was removed", &message, ip).await
}

/// A sign-in from a browser the login had not signed in from (it had from
/// others before).
pub async fn new_browser(state: &AppState, user_id: Uuid, ip: &str) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    let message = format!(
        "Your login was just signed in to from a browser it had not used before (address {ip}). If this was you, there is nothing to do. If not, change your password and sign out the other sessions on the Security page."
    );
    tell(&mut conn, &state.config, user_id, AuditAction::NewBrowserSignIn, "New sign-in to your login", &message, ip)
        .await?;
    state.wake_outboxes();
    Ok(())
}

/// Wrong second steps after a right password before the login is told.
pub const SECOND_STEP_FAILURES_TOLD_AFTER: i64 = 3;

/// Mails the login about second steps that failed after a right password
/// (someone may hold the password), listing addresses and times, once
/// `SECOND_STEP_FAILURES_TOLD_AFTER` are untold, and at most once an hour.
/// True when a mail was queued.
pub async fn second_step_failures(conn: &mut PgConnection, config: &Config, user_id: Uuid) -> Result<bool, AppError> {
    // The login's row lock makes two failures at once send one mail.
    let due = sqlx::query_scalar!(
        r#"SELECT second_step_told_at IS NULL OR second_step_told_at < now() - interval '1 hour' AS "due!"
           FROM users WHERE id = $1 FOR NO KEY UPDATE"#,
        user_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if !due {
        return Ok(false);
    }
    let untold = sqlx::query!(
        "SELECT ip, at FROM second_step_failures
         WHERE user_id = $1 AND NOT told AND at > now() - interval '1 day' ORDER BY at DESC LIMIT 20",
        user_id
    )
    .fetch_all(&mut *conn)
    .await?;
    if (untold.len() as i64) < SECOND_STEP_FAILURES_TOLD_AFTER {
        return Ok(false);
    }
    let list: Vec<String> =
        untold.iter().map(|f| format!("{} from address {}", crate::web::datetime(&f.at), f.ip)).collect();
    let message = format!(
        "Someone got past the first step of signing in to your login (your password, or a link mailed to you) but then failed the second step {} times: {}. If this was not you, someone knows your password or reads your mail: change your password now, and check your sessions on the Security page.",
        untold.len(),
        list.join("; ")
    );
    sqlx::query!(
        "WITH t AS (UPDATE second_step_failures SET told = true WHERE user_id = $1 AND NOT told)
         UPDATE users SET second_step_told_at = now() WHERE id = $1",
        user_id
    )
    .execute(&mut *conn)
    .await?;
    mail(conn, config, user_id, "Failed sign-ins to your login", &message).await?;
    Ok(true)
}

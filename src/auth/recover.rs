//! Taking a login back: after a password reset (and, when ticked, a
//! password change) everything an intruder holding the old password could
//! have made is ended, and the login is mailed what ended and what it must
//! review itself. Passkeys, the authenticator app and webhook endpoints are
//! not ended by us: the real person may rely on them, and only they can
//! tell theirs from an intruder's.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{config::Config, error::AppError, mail::messages::SecurityNotice};

/// What ended with the new password, and what is left for the person to
/// review.
pub struct Ended {
    /// Ended by `store::set_password`, which every new password goes through.
    pub sessions: i64,
    pub api_tokens: i64,
    pub browsers: i64,
    pub passkeys: i64,
    pub app_on: bool,
    pub webhooks: i64,
}

/// After `store::set_password` (which ended the other sessions and unused
/// links, `sessions` of them): ends every remembered browser and live API
/// token of the login too.
pub async fn end_everything(conn: &mut PgConnection, user_id: Uuid, sessions: i64) -> Result<Ended, sqlx::Error> {
    let r = sqlx::query!(
        r#"WITH d AS (DELETE FROM known_devices WHERE user_id = $1 RETURNING 1),
                t AS (UPDATE api_tokens SET revoked_at = now()
                      WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                      RETURNING 1)
           SELECT (SELECT count(*) FROM t) AS "api_tokens!",
                  (SELECT count(*) FROM d) AS "browsers!",
                  (SELECT count(*) FROM passkeys WHERE user_id = $1) AS "passkeys!",
                  EXISTS (SELECT 1 FROM totp_keys WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS "app_on!",
                  (SELECT count(*) FROM webhook_endpoints e JOIN memberships m ON m.account_id = e.account_id
                   WHERE m.user_id = $1 AND m.is_owner AND e.disabled_at IS NULL) AS "webhooks!""#,
        user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(Ended {
        sessions,
        api_tokens: r.api_tokens,
        browsers: r.browsers,
        passkeys: r.passkeys,
        app_on: r.app_on,
        webhooks: r.webhooks,
    })
}

/// Mails the login what ended with its new password, and what to review.
pub async fn tell(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    how: &str,
    e: &Ended,
) -> Result<(), AppError> {
    let who = sqlx::query!("SELECT name, email FROM users WHERE id = $1", user_id).fetch_one(&mut *conn).await?;
    let base = &config.base_url;
    let mut review = Vec::new();
    if e.passkeys > 0 {
        review.push(format!("{} passkey(s) on your Security page ({base}/security)", e.passkeys));
    }
    if e.app_on {
        review.push(format!("the authenticator app on your Security page ({base}/security)"));
    }
    if e.webhooks > 0 {
        review.push(format!("{} webhook endpoint(s) in the accounts you own ({base}/users/webhooks)", e.webhooks));
    }
    let review = if review.is_empty() {
        String::new()
    } else {
        format!(
            " We cannot tell yours from someone else's, so these still work: please check {}, and remove any you do not recognise.",
            review.join("; ")
        )
    };
    let message = format!(
        "Your password was {how}. To shut out anyone who knew the old one, we ended {} other session(s), {} API token(s) (make new ones on {base}/api-tokens), {} remembered browser(s) and every unused sign-in link.{review}",
        e.sessions, e.api_tokens, e.browsers
    );
    let security = format!("{base}/security");
    SecurityNotice { name: &who.name, message: &message, security: &security }
        .to(&who.email, "Your password was changed: what we ended")?
        .queue(conn)
        .await?;
    Ok(())
}

//! How much mail an account's actions may cause per hour (DESIGN.md: the
//! mail budget). Counted from the outbox itself, in the caller's
//! transaction: every mail queued for the account in the last hour, by kind.
//! Invitation mails have their own budget, counted per minute under the
//! account's lock (`invitations::send`, migration 18): every one of an
//! account's waits for that lock, so the count must not grow with the hour.

use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::MailKind;

/// The kinds an account's `ACCOUNT_MAILS_PER_HOUR` counts: its notices and
/// its contacts' confirmations (invitations have their own budget).
pub const ACCOUNT_MAIL: &[MailKind] = &[MailKind::Notice, MailKind::Confirmation];

/// When the budget lifts, if the account has used up `limit` mails of
/// `kinds` in the last hour (the oldest of them then leaves the window).
pub async fn exceeded(
    conn: &mut PgConnection,
    account_id: Uuid,
    kinds: &[MailKind],
    limit: i64,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
    let used = sqlx::query!(
        r#"SELECT count(*) AS "n!", min(created_at) AS oldest FROM mail_outbox
           WHERE account_id = $1 AND kind = ANY($2) AND created_at > now() - interval '1 hour'"#,
        account_id,
        &kinds as &[&str]
    )
    .fetch_one(conn)
    .await?;
    Ok((used.n >= limit).then(|| used.oldest.unwrap_or_else(OffsetDateTime::now_utc) + Duration::hours(1)))
}

/// When `to` may get another mail of `kind` from the account, if its last
/// one went out less than `cooldown_minutes` ago.
pub async fn cooldown(
    conn: &mut PgConnection,
    account_id: Uuid,
    kind: MailKind,
    to: &str,
    cooldown_minutes: i64,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let last = sqlx::query_scalar!(
        "SELECT max(created_at) FROM mail_outbox WHERE account_id = $1 AND kind = $2 AND to_email = $3",
        account_id,
        kind.code(),
        to
    )
    .fetch_one(conn)
    .await?;
    Ok(cooldown_lifts(last, cooldown_minutes))
}

/// When a cooldown of `cooldown_minutes` after the `last` mail lifts, if
/// it has not lifted yet.
pub fn cooldown_lifts(last: Option<OffsetDateTime>, cooldown_minutes: i64) -> Option<OffsetDateTime> {
    last.map(|at| at + Duration::minutes(cooldown_minutes)).filter(|at| *at > OffsetDateTime::now_utc())
}

/// Mail about an address's own login (its confirmation link, "someone tried
/// to register with your address") one address may get per hour: enough to
/// ask again twice, too few to make the panel a relay.
pub const LOGIN_CONFIRMATIONS_PER_HOUR: i64 = 3;

/// When `to` may get more mail about its login, if it has had
/// `LOGIN_CONFIRMATIONS_PER_HOUR` in the last hour.
pub async fn login_confirmations_exceeded(
    conn: &mut PgConnection,
    to: &str,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let used = sqlx::query!(
        r#"SELECT count(*) AS "n!", min(created_at) AS oldest FROM mail_outbox
           WHERE to_email = $1 AND kind = 'confirmation' AND account_id IS NULL
             AND created_at > now() - interval '1 hour'"#,
        to
    )
    .fetch_one(conn)
    .await?;
    Ok((used.n >= LOGIN_CONFIRMATIONS_PER_HOUR)
        .then(|| used.oldest.unwrap_or_else(OffsetDateTime::now_utc) + Duration::hours(1)))
}

//! How much mail an account's actions may cause per hour (DESIGN.md: the
//! mail budget). Counted from the outbox itself, in the caller's
//! transaction: every mail queued for the account in the last hour, by kind.

use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::MailKind;

/// When the budget lifts, if the account has used up `limit` mails of
/// `kind` in the last hour (the oldest of them then leaves the window).
pub async fn exceeded(
    conn: &mut PgConnection,
    account_id: Uuid,
    kind: MailKind,
    limit: i64,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let used = sqlx::query!(
        r#"SELECT count(*) AS "n!", min(created_at) AS oldest FROM mail_outbox
           WHERE account_id = $1 AND kind = $2 AND created_at > now() - interval '1 hour'"#,
        account_id,
        kind.code()
    )
    .fetch_one(conn)
    .await?;
    Ok((used.n >= limit).then(|| used.oldest.unwrap_or_else(OffsetDateTime::now_utc) + Duration::hours(1)))
}

/// When `to` may get another invitation from the account, if its last one
/// went out less than `cooldown_minutes` ago.
pub async fn invitation_cooldown(
    conn: &mut PgConnection,
    account_id: Uuid,
    to: &str,
    cooldown_minutes: i64,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let last = sqlx::query_scalar!(
        "SELECT max(created_at) FROM mail_outbox WHERE account_id = $1 AND kind = 'invitation' AND to_email = $2",
        account_id,
        to
    )
    .fetch_one(conn)
    .await?;
    let lifts = last.map(|at| at + Duration::minutes(cooldown_minutes));
    Ok(lifts.filter(|at| *at > OffsetDateTime::now_utc()))
}

//! Sign-in rate limits, kept in Postgres so every server copy shares them.
//!
//! Failures count within a sliding window, so a limit always lifts on its
//! own. The tight per-account limit is counted per address: an attacker
//! elsewhere cannot lock the real user out, only their own address.

use sqlx::PgPool;

use crate::error::AppError;

pub const WINDOW_MINUTES: i32 = 15;
/// Failed sign-ins from one address, across all accounts (password spraying).
pub const PER_IP: i64 = 30;
/// Failed sign-ins on one account from one address (guessing).
pub const PER_ACCOUNT_AND_IP: i64 = 5;
/// Failed sign-ins on one account from anywhere (a distributed guess).
pub const PER_ACCOUNT: i64 = 100;

/// The key a client's limits are counted under: its address, or for IPv6
/// its /64 (one customer's network hands out many addresses of one /64).
pub fn client_group(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_string(),
    }
}

/// Counts a registration attempt from `ip` and answers how many came from
/// its group in the last hour before it. Called before any hashing, under a
/// lock on the group, so a flood from one place never reaches argon2.
pub async fn registration_attempt(db: &PgPool, ip: &str) -> Result<i64, sqlx::Error> {
    let group = client_group(ip);
    let mut tx = crate::db::begin(db).await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('register ' || $1))", group).fetch_one(&mut *tx).await?;
    let before = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM registration_attempts WHERE ip = $1 AND at > now() - interval '1 hour'"#,
        group
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!("INSERT INTO registration_attempts (ip) VALUES ($1)", group).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(before)
}

/// Logins made in the last minute whose address is not confirmed yet, from
/// anywhere (the total registration cap).
pub async fn new_logins_last_minute(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM users WHERE email_verified_at IS NULL AND created_at > now() - interval '1 minute'"#
    )
    .fetch_one(db)
    .await
}

/// An attempt counted as failed until `succeeded` says otherwise.
pub struct Attempt(i64);

/// Checks the limits and counts this attempt, under locks on the address
/// and the email: parallel guesses see each other, so a burst of requests
/// cannot slip past the limit before any failure is written.
///
/// A `trusted` browser (one that signed in as this email before) is not held
/// by the account-wide limit: failures from elsewhere cannot lock the real
/// person out. Anyone else it stops is offered a mailed sign-in link.
pub async fn begin(db: &PgPool, ip: &str, email: &str, trusted: bool) -> Result<Attempt, AppError> {
    let group = client_group(ip);
    let ip = group.as_str();
    let mut tx = crate::db::begin(db).await?;
    // Always address first, then email: no two requests wait on each other in a cycle.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('sign-in ip ' || $1)),
                pg_advisory_xact_lock(hashtext('sign-in email ' || $2))",
        ip,
        email
    )
    .fetch_one(&mut *tx)
    .await?;
    check(&mut tx, ip, email, trusted).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO sign_in_attempts (ip, email, success) VALUES ($1, $2, false) RETURNING id",
        ip,
        email
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Attempt(id))
}

pub async fn succeeded(db: &PgPool, attempt: Attempt) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE sign_in_attempts SET success = true WHERE id = $1", attempt.0).execute(db).await?;
    Ok(())
}

/// Takes an attempt back: the password was never checked (hashing was busy).
pub async fn not_counted(db: &PgPool, attempt: Attempt) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM sign_in_attempts WHERE id = $1", attempt.0).execute(db).await?;
    Ok(())
}

/// Marks the latest failed attempt of `ip` on `email` as a success: a
/// passkey sign-in began (and was counted) in one request and signed in in
/// the next.
pub async fn succeeded_latest(db: &PgPool, ip: &str, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sign_in_attempts SET success = true WHERE id = (
             SELECT id FROM sign_in_attempts WHERE ip = $1 AND email = $2 AND NOT success ORDER BY at DESC LIMIT 1)",
        client_group(ip),
        email
    )
    .execute(db)
    .await?;
    Ok(())
}

async fn check(conn: &mut sqlx::PgConnection, ip: &str, email: &str, trusted: bool) -> Result<(), AppError> {
    // For the address limits: the failures in the window, and when the
    // oldest of them leaves it (which is when the limit lifts); for the
    // account, the failures from anywhere.
    let w = sqlx::query!(
        r#"WITH w AS (
               SELECT ip, email, at FROM sign_in_attempts
               WHERE NOT success AND at > now() - make_interval(mins => $3) AND (ip = $1 OR email = $2)
           )
           SELECT count(*) FILTER (WHERE ip = $1) AS "ip_n!",
                  extract(epoch FROM min(at) FILTER (WHERE ip = $1) + make_interval(mins => $3) - now())::float8
                      AS ip_until,
                  count(*) FILTER (WHERE ip = $1 AND email = $2) AS "pair_n!",
                  extract(epoch FROM min(at) FILTER (WHERE ip = $1 AND email = $2) + make_interval(mins => $3) - now())::float8
                      AS pair_until,
                  count(*) FILTER (WHERE email = $2) AS "acct_n!"
           FROM w"#,
        ip,
        email,
        WINDOW_MINUTES
    )
    .fetch_one(conn)
    .await?;
    let (ip_n, ip_until, pair_n, pair_until, acct_n) = (w.ip_n, w.ip_until, w.pair_n, w.pair_until, w.acct_n);
    let blocked_for = [(ip_n, PER_IP, ip_until), (pair_n, PER_ACCOUNT_AND_IP, pair_until)]
        .into_iter()
        .filter(|(n, limit, _)| n >= limit)
        .filter_map(|(_, _, until)| until)
        .fold(None::<f64>, |acc, s| Some(acc.map_or(s, |a| a.max(s))));
    if blocked_for.is_none() && acct_n >= PER_ACCOUNT && !trusted {
        return Err(AppError::TooManyRequests(
            "This login has had many failed sign-ins from elsewhere, so it only signs in from browsers it has signed in \
             from before. To sign in here, have a one-time sign-in link mailed to you: use \"Mail me a sign-in link\" on \
             the sign-in page."
                .into(),
        ));
    }

    if let Some(seconds) = blocked_for {
        let minutes = (seconds / 60.0).ceil().max(1.0) as i64;
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        return Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts. For your security, please try again in {minutes} {unit}, or use \"Forgot password?\" to choose a new password."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::client_group;

    #[test]
    fn ipv6_clients_are_grouped_by_their_64_and_others_by_address() {
        assert_eq!(client_group("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(client_group("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(client_group("2001:db8:1:3::1"), client_group("2001:db8:1:2::1"));
        assert_eq!(client_group("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_group("::ffff:203.0.113.7"), "::ffff:203.0.113.7");
        assert_eq!(client_group("unknown"), "unknown");
    }
}

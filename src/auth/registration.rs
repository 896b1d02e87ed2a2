//! Creating a login: every new user also gets a client account of their own.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::email::Email;

pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub account_name: &'a str,
}

pub enum Registered {
    Created { user_id: Uuid, account_id: Uuid },
    EmailTaken,
}

/// Checks a name-like field: trimmed, 1 to 200 characters, printable.
pub fn clean_name(raw: &str, what: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(format!("Enter {what}."));
    }
    if s.chars().count() > 200 {
        return Err(format!("{} is too long (at most 200 characters).", capitalise(what)));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{} contains characters that are not allowed.", capitalise(what)));
    }
    Ok(s.to_string())
}

fn capitalise(what: &str) -> String {
    let what = what
        .strip_prefix("your ")
        .or_else(|| what.strip_prefix("an "))
        .or_else(|| what.strip_prefix("a "))
        .unwrap_or(what);
    let mut c = what.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

pub async fn create(conn: &mut PgConnection, u: NewUser<'_>) -> Result<Registered, sqlx::Error> {
    let user_id = Uuid::new_v4();
    let account_id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING",
    )
    .bind(user_id)
    .bind(u.email.as_str())
    .bind(u.name)
    .bind(u.password_hash)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Registered::EmailTaken);
    }
    sqlx::query(
        "WITH a AS (INSERT INTO accounts (id, name) VALUES ($1, $2))
         INSERT INTO memberships (account_id, user_id, is_owner, all_permissions) VALUES ($1, $3, true, true)",
    )
    .bind(account_id)
    .bind(u.account_name)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(Registered::Created { user_id, account_id })
}

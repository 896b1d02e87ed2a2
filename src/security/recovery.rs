//! Recovery codes: ten single-use codes for when the authenticator app is
//! lost, shown once and stored as SHA-256 (each carries 80 random bits).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::token;

pub const COUNT: usize = 10;
/// Letters and digits that cannot be mistaken for each other when typed (no
/// i, l or o), 32 of them: each random byte's low 5 bits pick one evenly.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";

fn new_code() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    let chars: Vec<char> = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 31)])).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// A code as typed: case, spaces and dashes do not matter.
fn normalise(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Whether `code` is shaped like a recovery code (and not an app's code).
pub fn looks_like_one(code: &str) -> bool {
    normalise(code).len() == 16
}

/// Replaces the login's codes with ten new ones, returned to be shown once.
pub async fn replace(conn: &mut PgConnection, user_id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query!("DELETE FROM recovery_codes WHERE user_id = $1", user_id).execute(&mut *conn).await?;
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| token::hash(&normalise(c))).collect();
    sqlx::query!(
        "INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) AS h",
        user_id,
        &hashes
    )
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

/// Uses `code` once: how many unused codes are left, or `None` if it is
/// not one of the login's unused codes.
pub async fn use_code(conn: &mut PgConnection, user_id: Uuid, code: &str) -> Result<Option<i64>, sqlx::Error> {
    let used = sqlx::query_scalar!(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING id",
        user_id,
        token::hash(&normalise(code))
    )
    .fetch_optional(&mut *conn)
    .await?;
    if used.is_none() {
        return Ok(None);
    }
    let left = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"#,
        user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(Some(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_typeable_and_forgiving_of_case_and_dashes() {
        let (a, b) = (new_code(), new_code());
        assert_ne!(a, b);
        assert_eq!(a.len(), 19, "four groups of four: {a}");
        assert!(looks_like_one(&a) && looks_like_one(&a.to_uppercase().replace('-', " ")));
        assert_eq!(normalise(&a.to_uppercase()), normalise(&a.replace('-', "")));
        assert!(!looks_like_one("123456"));
    }
}

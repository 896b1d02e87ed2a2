//! What a password must be before it is hashed.

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 256;

/// Passwords must be long enough to resist guessing, and bounded so a
/// megabyte "password" cannot be used to burn CPU.
pub fn check_strength(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("Choose a password of at least {MIN_PASSWORD_LEN} characters."));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(format!("Choose a password of at most {MAX_PASSWORD_LEN} characters."));
    }
    Ok(())
}

/// A password given to be checked (not chosen) that is longer than any we
/// accept is wrong without hashing it: no CPU is spent on a megabyte.
pub fn too_long_to_check(given: &str) -> bool {
    given.len() > 4 * MAX_PASSWORD_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert!(check_strength("123456789").is_err());
        assert!(check_strength("1234567890").is_ok());
        assert!(check_strength(&"é".repeat(256)).is_ok());
        assert!(check_strength(&"é".repeat(257)).is_err());
        assert!(!too_long_to_check(&"é".repeat(256)) && too_long_to_check(&"x".repeat(1025)));
    }
}

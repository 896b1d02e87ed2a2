//! Secret tokens for mailed links and session cookies: 256 bits from the OS
//! random source, URL-safe, and stored only as their SHA-256.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

/// Length of an encoded token: 32 bytes in unpadded URL-safe base64.
pub const TOKEN_LEN: usize = 43;

pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token. Tokens have full entropy, so a plain hash is
/// enough: nobody can guess back from it.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// True when `s` could be a token we issued; anything else is rejected
/// before it reaches the database.
pub fn well_formed(s: &str) -> bool {
    s.len() == TOKEN_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_well_formed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        assert!(!well_formed(&a[1..]) && !well_formed(&format!("{a}=")) && !well_formed(&a.replace(|_| true, "%")));
    }
}

//! Signing deliveries the way Stripe does: HMAC-SHA256, keyed with the
//! endpoint's secret, over "<unix time>.<body>", sent as
//! `Panel-Signature: t=<unix time>,v1=<hex>`. The receiver recomputes it
//! and refuses old timestamps, so a captured delivery cannot be replayed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "panel-signature";

pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// A new endpoint secret: 256 random bits, recognisable by its prefix.
pub fn new_secret() -> String {
    format!("whsec_{}", crate::domain::token::generate())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_time_and_the_body() {
        let a = sign("whsec_x", 1_700_000_000, "{}");
        assert!(a.starts_with("t=1700000000,v1=") && a.len() == "t=1700000000,v1=".len() + 64);
        assert_ne!(a, sign("whsec_x", 1_700_000_001, "{}"));
        assert_ne!(a, sign("whsec_x", 1_700_000_000, "{ }"));
        assert_ne!(a, sign("whsec_y", 1_700_000_000, "{}"));
        // RFC 4231 test case 2, to show it is HMAC-SHA256 and nothing home-made.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}

//! Authenticator-app codes (RFC 6238): SHA-1, 6 digits, 30-second steps,
//! one step of drift either way. Which step a code matched is returned so
//! the caller can refuse a code that was accepted before (section 5.2).

use qrcode::{render::svg, QrCode};
use totp_rs::{Builder, Secret, Totp};

/// 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// The name the app shows beside the codes.
const ISSUER: &str = "Billing Panel";

pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    bytes
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, totp_rs::TotpError> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account.replace(':', ""))
        .with_issuer(Some(ISSUER))
        .build()
}

/// The time step `code` belongs to at `unix_now`, if it is right for this
/// key (this step, the one before, or the one after).
pub fn matching_step(secret: &[u8], code: &str, unix_now: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "").ok()?.check(&code, unix_now)
}

/// The code an app shows at `unix_now` (for tests and the setup check).
pub fn code_at(secret: &[u8], unix_now: u64) -> String {
    totp(secret, "").map(|t| t.generate(unix_now).to_string()).unwrap_or_default()
}

/// The key as the app's "enter a key" screen wants it: base32, in groups
/// of four.
pub fn key_text(secret: &[u8]) -> String {
    let b32 = Secret::from(secret.to_vec()).to_base32();
    b32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The `otpauth://` address the QR code carries.
pub fn setup_uri(secret: &[u8], account: &str) -> Result<String, totp_rs::TotpError> {
    totp(secret, account)?.to_url()
}

/// The QR code as an SVG element, drawn here (no outside service sees the key).
pub fn qr_svg(uri: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::new(uri.as_bytes())?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now);
        assert_eq!(matching_step(&secret, &code, now), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(now / 30), "one step late");
        assert_eq!(matching_step(&secret, &code, now - 30), Some(now / 30), "one step early");
        assert_eq!(matching_step(&secret, &code, now + 60), None, "two steps late");
        assert_eq!(matching_step(&secret, &format!("{} {}", &code[..3], &code[3..]), now), Some(now / 30));
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn the_key_text_and_qr_code_carry_the_key() {
        let secret = new_secret();
        let text = key_text(&secret);
        assert_eq!(text.replace(' ', "").len(), 32, "160 bits in base32");
        let uri = setup_uri(&secret, "ann@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/") && uri.contains(&text.replace(' ', "")), "{uri}");
        assert!(qr_svg(&uri).unwrap().starts_with("<?xml") || qr_svg(&uri).unwrap().contains("<svg"));
    }
}

//! An email address after parsing: trimmed, lower-cased and valid. Code past
//! the form handlers holds an `Email`, never a raw string.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("That email address is too long (at most 254 characters).")]
    TooLong,
    #[error("That does not look like an email address (for example name@example.com).")]
    Invalid,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(EmailError::Invalid);
        }
        let parsed = s.parse::<email_address::EmailAddress>().map_err(|_| EmailError::Invalid)?;
        // Mail is delivered over the internet: insist on a dotted domain and
        // no display-name or quoted forms the parser would also accept.
        let domain = parsed.domain();
        let plain_local =
            parsed.local_part().bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-'!#$&*/=?^`{|}~".contains(&b));
        if parsed.as_str() != s
            || !plain_local
            || !domain.contains('.')
            || domain.starts_with('[')
            || domain.ends_with('.')
        {
            return Err(EmailError::Invalid);
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`: what logs may name instead of the address.
    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or("")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_spaces() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "a@",
            "@b",
            "a@b@c",
            "a@b",
            "a b@example.com",
            "a@example.com\0",
            "\"x\"@example.com",
            "Ann <a@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(Email::parse(&format!("{}@example.com", "a".repeat(250))), Err(EmailError::TooLong));
    }
}

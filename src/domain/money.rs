//! Money as the panel keeps it: integer cents, never floating point.

/// Cents as the panel shows money: `$25.50`, `-$3.00`.
pub fn format(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}${}.{:02}", c / 100, c % 100)
}

/// Parses an amount typed by a person ("25", "25.5", "25.50", "$25") into
/// cents; anything else (negative, more than two decimals, exponents,
/// more than nine whole digits) is `None`.
pub fn parse(raw: &str) -> Option<i64> {
    let s = raw.trim().trim_start_matches('$');
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 9 || !digits(whole) || frac.len() > 2 || !digits(frac) {
        return None;
    }
    let frac = format!("{frac:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_cents() {
        assert_eq!(format(2550), "$25.50");
        assert_eq!(format(5), "$0.05");
        assert_eq!(format(-300), "-$3.00");
        assert_eq!(format(i64::MIN), "-$92233720368547758.08");
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(parse("25.5"), Some(2550));
        assert_eq!(parse("$25"), Some(2500));
        assert_eq!(parse(" 0.07 "), Some(7));
        assert_eq!(parse("25."), Some(2500));
        assert_eq!(parse("999999999.99"), Some(99_999_999_999));
    }

    #[test]
    fn refuses_everything_else() {
        for bad in ["", "abc", "1.234", "-5", "1e3", "9999999999", ".5", "1,5", "$", "1.2.3", "+5", "٣"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

//! Name-like fields (a person's name, an account name, a subject).

/// Checks a name-like field: trimmed, 1 to 200 characters, printable.
/// `what` names the field in the message ("your name", "an account name").
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds_names() {
        assert_eq!(clean_name("  Ann Lee ", "your name"), Ok("Ann Lee".into()));
        assert_eq!(clean_name("   ", "your name"), Err("Enter your name.".into()));
        assert_eq!(clean_name(&"é".repeat(200), "a name").map(|s| s.chars().count()), Ok(200));
        assert_eq!(
            clean_name(&"x".repeat(201), "an account name"),
            Err("Account name is too long (at most 200 characters).".into())
        );
        assert_eq!(clean_name("a\u{7}b", "a subject"), Err("Subject contains characters that are not allowed.".into()));
    }
}

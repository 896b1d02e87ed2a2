//! Every mail the panel sends: its data and its two templates (plain text
//! and HTML, both escaped by askama where HTML).

use askama::Template;

use super::Mail;

pub struct PasswordReset<'a> {
    pub name: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct PasswordResetText<'a> {
    m: &'a PasswordReset<'a>,
}

#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct PasswordResetHtml<'a> {
    m: &'a PasswordReset<'a>,
}

impl PasswordReset<'_> {
    pub fn to(&self, email: &str) -> Result<Mail, askama::Error> {
        Mail::new(
            email,
            None,
            "Reset your password".into(),
            &PasswordResetText { m: self },
            &PasswordResetHtml { m: self },
        )
    }
}

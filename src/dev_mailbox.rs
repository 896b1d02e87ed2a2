//! The local mailbox: with no SMTP server configured, mail stays in the
//! outbox and this page shows it, so a newcomer can click the links. It is
//! off when SMTP_URL is set or BASE_URL is not on this machine, and answers
//! only requests from this machine.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
    routing::get,
    Router,
};
use time::OffsetDateTime;

use crate::{
    error::AppError,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/dev/mailbox", get(index)).route("/dev/mailbox/{id}", get(show))
}

fn guard(state: &AppState, ip: &str) -> Result<(), AppError> {
    let local = ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback());
    if state.config.smtp_url.is_some() || !state.config.base_url_is_local() || !local {
        return Err(AppError::NotFound("There is no page at this address.".into()));
    }
    Ok(())
}

struct Row {
    id: i64,
    to_email: String,
    subject: String,
    created_at: OffsetDateTime,
}

#[derive(Template)]
#[template(path = "dev/mailbox.html")]
struct IndexPage {
    mails: Vec<Row>,
}

async fn index(State(state): State<AppState>, ClientIp(ip): ClientIp) -> Result<Response, AppError> {
    guard(&state, &ip)?;
    let mails =
        sqlx::query_as!(Row, "SELECT id, to_email, subject, created_at FROM mail_outbox ORDER BY id DESC LIMIT 100")
            .fetch_all(&state.db)
            .await?;
    web::render(&IndexPage { mails })
}

#[derive(Template)]
#[template(path = "dev/mail.html")]
struct ShowPage {
    to_email: String,
    subject: String,
    /// Each line of the text part, and whether it is a link to follow.
    lines: Vec<(String, bool)>,
}

async fn show(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    guard(&state, &ip)?;
    let mail = sqlx::query!("SELECT to_email, subject, text_body FROM mail_outbox WHERE id = $1", id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("There is no mail with that number.".into()))?;
    let (to_email, subject) = (mail.to_email, mail.subject);
    let lines = mail
        .text_body
        .lines()
        .map(|l| (l.to_string(), l.starts_with("http://") || l.starts_with("https://")))
        .collect();
    web::render(&ShowPage { to_email, subject, lines })
}

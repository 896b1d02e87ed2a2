//! View Emails: the mail the company sent about the account (its outbox
//! rows), newest first.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use time::OffsetDateTime;

use super::SectionRoutes;
use crate::{
    auth::session::Member,
    domain::permissions::Permission,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Emails).get("/emails", index).get("/emails/{email}", show)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    to_email: String,
    subject: String,
    created_at: OffsetDateTime,
}

#[derive(Template)]
#[template(path = "sections/emails.html")]
struct IndexPage {
    layout: Layout,
    mails: Vec<Row>,
}

/// A mail about a service, domain or ticket shows only to a member whose
/// scope reaches it (`$2`: the scope; NULL, everything).
const IN_SCOPE: &str = "($2::uuid[] IS NULL OR about IS NULL OR about = ANY ($2)
     OR about IN (SELECT id FROM visible_tickets(account_id, $2)))";

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let mails = sqlx::query_as(&format!(
        "SELECT id, to_email, subject, created_at FROM mail_outbox WHERE account_id = $1 AND {IN_SCOPE}
         ORDER BY id DESC LIMIT 100"
    ))
    .bind(m.account.id)
    .bind(m.account.scope())
    .fetch_all(&state.db)
    .await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), mails })
}

#[derive(Template)]
#[template(path = "sections/email.html")]
struct ShowPage {
    layout: Layout,
    to_email: String,
    subject: String,
    created_at: OffsetDateTime,
    body: String,
}

async fn show(State(state): State<AppState>, m: Member, Path(id): Path<i64>) -> Result<Response, AppError> {
    let (to_email, subject, created_at, body): (String, String, OffsetDateTime, String) =
        // A mail not yet sent still holds its link (an invitation's token):
        // never shown here, or a member could accept in the invitee's place.
        sqlx::query_as(&format!(
            "SELECT to_email, subject, created_at,
                    CASE WHEN secret IS NULL THEN text_body ELSE replace(text_body, secret, '[link hidden until sent]') END
             FROM mail_outbox WHERE id = $3 AND account_id = $1 AND {IN_SCOPE}"
        ))
            .bind(m.account.id)
            .bind(m.account.scope())
            .bind(id)
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(|| super::not_found("email"))?;
    web::render(&ShowPage { layout: Layout::of(&m.user), to_email, subject, created_at, body })
}

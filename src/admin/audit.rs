//! The audit log across all accounts, with filters, and mail that failed
//! after its retries.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;
use uuid::Uuid;

use super::store;
use crate::{
    auth::session::Staff,
    domain::audit::AuditAction,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters},
};

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<store::AuditRow>,
    account: String,
    actor: String,
    action: String,
    from: String,
    to: String,
}

impl AuditPage {
    fn events(&self) -> &[store::AuditRow] {
        &self.rows
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    account: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

fn parse_date(s: &str) -> Result<Option<time::Date>, AppError> {
    if s.is_empty() {
        return Ok(None);
    }
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("\"{s}\" is not a date like 2026-11-23.")))
}

pub async fn log(
    State(state): State<AppState>,
    Staff(me): Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = store::AuditFilter {
        account: match non_empty(&q.account) {
            None => None,
            Some(s) => Some(
                Uuid::parse_str(&s)
                    .map_err(|_| AppError::BadRequest("The account filter takes an account id.".into()))?,
            ),
        },
        actor_email: non_empty(&q.actor).map(|s| s.to_lowercase()),
        action: match non_empty(&q.action) {
            None => None,
            Some(code) => Some(code.parse::<AuditAction>().map_err(|e| AppError::BadRequest(e.to_string()))?),
        },
        from: parse_date(q.from.trim())?,
        to: parse_date(q.to.trim())?,
    };
    let rows = store::audit_log(&state.db, &filter).await?;
    web::render(&AuditPage {
        layout: Layout::of(&me),
        rows,
        account: q.account,
        actor: q.actor,
        action: q.action,
        from: q.from,
        to: q.to,
    })
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    layout: Layout,
    mails: Vec<store::MailRow>,
    over_budget: Vec<store::OverBudget>,
}

pub async fn failed_mail(State(state): State<AppState>, Staff(me): Staff) -> Result<Response, AppError> {
    let (mails, over_budget) = tokio::try_join!(store::failed_mail(&state.db), store::over_budget(&state.db))?;
    web::render(&MailPage { layout: Layout::of(&me), mails, over_budget })
}

//! View & Open Support Tickets: open (department, subject, message), reply,
//! close; staff replies (from the staff area) appear in the thread.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{notify, SectionRoutes};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Member,
    },
    change::AccountChange,
    domain::{names::clean_name, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub const DEPARTMENTS: [&str; 3] = ["Support", "Billing", "Sales"];

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Tickets)
        .get("/tickets", index)
        .get("/tickets/new", new_page)
        .post("/tickets/new", open)
        .get("/tickets/{ticket}", show)
        .post("/tickets/{ticket}/reply", reply)
        .post("/tickets/{ticket}/close", close)
}

#[derive(sqlx::FromRow)]
pub struct Ticket {
    pub id: Uuid,
    pub number: i64,
    pub department: String,
    pub subject: String,
    pub status: String,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    pub author: Option<String>,
    pub from_staff: bool,
    pub body: String,
    pub created_at: OffsetDateTime,
}

/// Tickets one account may open per hour, and replies its people may post.
pub const OPENINGS_PER_HOUR: i64 = 10;
pub const REPLIES_PER_HOUR: i64 = 60;

/// One page of a ticket's thread, oldest first: the newest messages, or
/// those before a message id; with the cursor of the page before, if any.
pub struct Thread {
    pub messages: Vec<Message>,
    pub earlier: Option<i64>,
}

pub async fn thread(db: &sqlx::PgPool, ticket_id: Uuid, before: Option<i64>) -> Result<Thread, sqlx::Error> {
    let mut messages: Vec<Message> = sqlx::query_as(
        "SELECT t.id, u.name AS author, t.from_staff, t.body, t.created_at
         FROM ticket_messages t LEFT JOIN users u ON u.id = t.author_id
         WHERE t.ticket_id = $1 AND ($2::int8 IS NULL OR t.id < $2) ORDER BY t.id DESC LIMIT $3",
    )
    .bind(ticket_id)
    .bind(before)
    .bind(web::PAGE_SIZE + 1)
    .fetch_all(db)
    .await?;
    let earlier = web::next_page(&mut messages, |m| m.id);
    messages.reverse();
    Ok(Thread { messages, earlier })
}

/// `?before=` on a ticket page: the id of the oldest message shown.
#[derive(Deserialize)]
pub struct ThreadQuery {
    before: Option<i64>,
}

impl ThreadQuery {
    pub fn before(&self) -> Option<i64> {
        self.before
    }
}

/// Refuses with 429 when the account opened (`openings`) or replied `limit`
/// times in the last hour: a ticket mails the owner and contacts.
async fn over_hourly(state: &AppState, account_id: Uuid, limit: i64, openings: bool) -> Result<(), AppError> {
    // scope-exempt: account-wide counts for the hourly limit; they show nothing.
    let n: i64 = if openings {
        sqlx::query_scalar(
            "SELECT count(*) FROM tickets WHERE account_id = $1 AND created_at > now() - interval '1 hour'",
        )
    } else {
        sqlx::query_scalar(
            "SELECT count(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
             WHERE t.account_id = $1 AND NOT m.from_staff AND m.created_at > now() - interval '1 hour'",
        )
    }
    .bind(account_id)
    .fetch_one(&state.db)
    .await?;
    if n >= limit {
        let what = if openings { "tickets opened" } else { "replies posted" };
        return Err(AppError::TooManyRequests(format!(
            "This account has {n} {what} in the last hour, its limit. Please try again later, or add to an open ticket."
        )));
    }
    Ok(())
}

/// A message body: 1 to 10,000 characters.
pub fn check_body(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("Write a message.".into());
    }
    if s.chars().count() > 10_000 {
        return Err("The message is too long (at most 10,000 characters).".into());
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err("The message contains characters that are not allowed.".into());
    }
    Ok(s.to_string())
}

#[derive(Template)]
#[template(path = "sections/tickets.html")]
struct IndexPage {
    layout: Layout,
    tickets: Vec<Ticket>,
}

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let tickets = sqlx::query_as("SELECT id, number, department, subject, status, updated_at FROM visible_tickets($1, $2) ORDER BY updated_at DESC, id LIMIT 100")
        .bind(m.account.id)
        .bind(m.account.scope())
        .fetch_all(&state.db)
        .await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), tickets })
}

#[derive(Template)]
#[template(path = "sections/ticket_new.html")]
struct NewPage {
    layout: Layout,
    departments: [&'static str; 3],
    department: String,
    subject: String,
    message: String,
    /// What the ticket can be about: ("service:<id>" or "domain:<id>", label).
    abouts: Vec<(String, String)>,
    about: String,
    /// A member limited to chosen services and domains must pick one.
    scoped: bool,
    error: Option<String>,
}

impl NewPage {
    fn is_selected(&self, d: &str) -> bool {
        self.department == d
    }
}

/// The services and domains in the member's scope, as the form offers them.
async fn abouts(state: &AppState, m: &Member) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "(SELECT 'service:' || s.id, p.name || ' (' || s.domain || ')' FROM visible_services($1, $2) s
          JOIN products p ON p.id = s.product_id ORDER BY s.created_at LIMIT 200)
         UNION ALL
         (SELECT 'domain:' || d.id, d.name FROM visible_domains($1, $2) d ORDER BY d.name LIMIT 200)",
    )
    .bind(m.account.id)
    .bind(m.account.scope())
    .fetch_all(&state.db)
    .await
}

async fn new_page(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    web::render(&NewPage {
        layout: Layout::of(&m.user),
        departments: DEPARTMENTS,
        department: "Support".into(),
        subject: String::new(),
        message: String::new(),
        abouts: abouts(&state, &m).await?,
        about: String::new(),
        scoped: m.account.scope.is_some(),
        error: None,
    })
}

#[derive(Deserialize)]
struct OpenForm {
    department: String,
    subject: String,
    message: String,
    #[serde(default)]
    about: String,
}

async fn open(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    CsrfForm(f): CsrfForm<OpenForm>,
) -> Result<Response, AppError> {
    let checked = (|| {
        if !DEPARTMENTS.contains(&f.department.as_str()) {
            return Err("Choose a department.".to_string());
        }
        let subject = clean_name(&f.subject, "a subject")?;
        Ok((subject, check_body(&f.message)?))
    })();
    // Only what the form offered this member: their scope decides.
    let offered = abouts(&state, &m).await?;
    let about = match f.about.as_str() {
        "" if m.account.scope.is_some() => Err("Choose the service or domain the ticket is about.".to_string()),
        "" => Ok((None, None)),
        chosen if offered.iter().any(|(value, _)| value == chosen) => {
            let id = chosen.split_once(':').and_then(|(_, id)| Uuid::parse_str(id).ok());
            Ok(if chosen.starts_with("service:") { (id, None) } else { (None, id) })
        }
        _ => Err("Choose the service or domain the ticket is about from the list.".to_string()),
    };
    let ((subject, body), (service_id, domain_id)) = match checked.and_then(|v| Ok((v, about?))) {
        Ok(v) => v,
        Err(e) => {
            return super::refused(web::render(&NewPage {
                layout: Layout::of(&m.user),
                departments: DEPARTMENTS,
                department: f.department.chars().take(20).collect(),
                subject: f.subject.chars().take(200).collect(),
                message: f.message.chars().take(10_000).collect(),
                abouts: offered,
                about: f.about.chars().take(60).collect(),
                scoped: m.account.scope.is_some(),
                error: Some(e),
            }))
        }
    };
    over_hourly(&state, m.account.id, OPENINGS_PER_HOUR, true).await?;
    let id = Uuid::new_v4();
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    let number: i64 = sqlx::query_scalar("INSERT INTO tickets (id, account_id, department, subject, status, service_id, domain_id) VALUES ($1, $2, $3, $4, 'Open', $5, $6) RETURNING number")
        .bind(id).bind(m.account.id).bind(&f.department).bind(&subject).bind(service_id).bind(domain_id)
        .fetch_one(&mut *tx)
        .await?;
    add_message(&mut tx, id, m.user.id, false, &body).await?;
    notify::send(
        &mut tx,
        notify::Kind::Support,
        Some(id),
        &format!("Ticket #{number} opened: {subject}"),
        &[format!("{} opened ticket #{number} with {}: {subject}.", m.user.name, f.department)],
    )
    .await?;
    tx.finish(&format!("Ticket #{number} opened. We will answer soon."), &format!("/tickets/{id}")).await
}

async fn find(state: &AppState, m: &Member, id: Uuid) -> Result<Ticket, AppError> {
    sqlx::query_as(
        "SELECT id, number, department, subject, status, updated_at FROM visible_tickets($2, $3) WHERE id = $1",
    )
    .bind(id)
    .bind(m.account.id)
    .bind(m.account.scope())
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| super::not_found("ticket"))
}

#[derive(Template)]
#[template(path = "sections/ticket.html")]
struct ShowPage {
    layout: Layout,
    t: Ticket,
    thread: Thread,
    error: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<ThreadQuery>,
) -> Result<Response, AppError> {
    let t = find(&state, &m, id).await?;
    let messages = thread(&state.db, id, q.before()).await?;
    web::render(&ShowPage { layout: Layout::of(&m.user), t, thread: messages, error: None })
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ReplyForm {
    message: String,
}

async fn reply(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<ReplyForm>,
) -> Result<Response, AppError> {
    let t = find(&state, &m, id).await?;
    if t.status == "Closed" {
        return Err(AppError::Conflict(format!(
            "Ticket #{} is closed. Open a new ticket if you need more help.",
            t.number
        )));
    }
    let body = match check_body(&f.message) {
        Ok(b) => b,
        Err(e) => {
            let messages = thread(&state.db, id, None).await?;
            return super::refused(web::render(&ShowPage {
                layout: Layout::of(&m.user),
                t,
                thread: messages,
                error: Some(e),
            }));
        }
    };
    over_hourly(&state, m.account.id, REPLIES_PER_HOUR, false).await?;
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    add_message(&mut tx, id, m.user.id, false, &body).await?;
    set_status(&mut tx, id, "Customer-Reply").await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

async fn close(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let t = find(&state, &m, id).await?;
    if t.status == "Closed" {
        return Err(AppError::Conflict(format!("Ticket #{} is already closed.", t.number)));
    }
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    set_status(&mut tx, id, "Closed").await?;
    tx.finish(&format!("Ticket #{} closed.", t.number), &format!("/tickets/{id}")).await
}

/// Adds a message to a ticket's thread (the client's or support's).
pub async fn add_message(
    conn: &mut PgConnection,
    ticket_id: Uuid,
    author_id: Uuid,
    from_staff: bool,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ticket_messages (ticket_id, author_id, from_staff, body) VALUES ($1, $2, $3, $4)")
        .bind(ticket_id)
        .bind(author_id)
        .bind(from_staff)
        .bind(body)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_status(conn: &mut PgConnection, ticket_id: Uuid, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET status = $2, updated_at = now() WHERE id = $1")
        .bind(ticket_id)
        .bind(status)
        .execute(conn)
        .await?;
    Ok(())
}

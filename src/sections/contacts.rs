//! View & Manage Contacts: people on the account who receive chosen kinds
//! of notification mail (invoices, domains, products, support). A contact
//! gets none until it confirms its address through a mailed link
//! (`addresses`); that mail counts against the account's mail budget.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{profile::field, SectionRoutes};
use crate::{
    addresses,
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Member,
    },
    change::AccountChange,
    domain::{email::Email, names::clean_name, permissions::Permission},
    error::AppError,
    layout::Layout,
    mail::{
        budget::{self, ACCOUNT_MAIL},
        MailKind,
    },
    state::AppState,
    web::{self, ClientIp},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Contacts)
        .get("/contacts", index)
        .get("/contacts/new", new_page)
        .post("/contacts/new", create)
        .get("/contacts/{contact}", edit_page)
        .post("/contacts/{contact}", update)
        .post("/contacts/{contact}/confirm", confirm_again)
        .post("/contacts/{contact}/delete", delete)
}

#[derive(sqlx::FromRow, Default, Clone)]
pub struct Contact {
    id: Uuid,
    name: String,
    email: String,
    phone: String,
    notify_invoices: bool,
    notify_domains: bool,
    notify_products: bool,
    notify_support: bool,
    /// The address confirmed it wants the account's notices.
    confirmed: bool,
}

/// The columns a `Contact` is read from.
const COLUMNS: &str =
    "id, name, email, phone, notify_invoices, notify_domains, notify_products, notify_support, confirmed_at IS NOT NULL AS confirmed";

impl Contact {
    fn notifications(&self) -> String {
        let kinds: Vec<&str> = [
            (self.notify_invoices, "Invoices"),
            (self.notify_domains, "Domains"),
            (self.notify_products, "Products"),
            (self.notify_support, "Support"),
        ]
        .into_iter()
        .filter_map(|(on, k)| on.then_some(k))
        .collect();
        if kinds.is_empty() {
            "None".into()
        } else {
            kinds.join(", ")
        }
    }
}

#[derive(Template)]
#[template(path = "sections/contacts.html")]
struct IndexPage {
    layout: Layout,
    contacts: Vec<Contact>,
}

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let contacts =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM contacts WHERE account_id = $1 ORDER BY name, id LIMIT 200"))
            .bind(m.account.id)
            .fetch_all(&state.db)
            .await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), contacts })
}

#[derive(Template)]
#[template(path = "sections/contact_form.html")]
struct FormPage {
    layout: Layout,
    c: Contact,
    is_new: bool,
    error: Option<String>,
}

async fn new_page(m: Member) -> Result<Response, AppError> {
    web::render(&FormPage { layout: Layout::of(&m.user), c: Contact::default(), is_new: true, error: None })
}

async fn find(state: &AppState, m: &Member, id: Uuid) -> Result<Contact, AppError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM contacts WHERE id = $1 AND account_id = $2"))
        .bind(id)
        .bind(m.account.id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| super::not_found("contact"))
}

async fn edit_page(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let c = find(&state, &m, id).await?;
    web::render(&FormPage { layout: Layout::of(&m.user), c, is_new: false, error: None })
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Form {
    name: String,
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    notify: Vec<String>,
}

/// The form checked, as a contact; or the form as typed, with the problem.
fn check(f: &Form, id: Uuid) -> Result<Contact, (Contact, String)> {
    let has = |k: &str| f.notify.iter().any(|n| n == k);
    let typed = Contact {
        id,
        name: f.name.chars().take(200).collect(),
        email: f.email.chars().take(254).collect(),
        phone: f.phone.chars().take(40).collect(),
        notify_invoices: has("invoices"),
        notify_domains: has("domains"),
        notify_products: has("products"),
        notify_support: has("support"),
        confirmed: false,
    };
    if let Some(unknown) =
        f.notify.iter().find(|n| !["invoices", "domains", "products", "support"].contains(&n.as_str()))
    {
        return Err((typed, format!("\"{unknown}\" is not a kind of notification.")));
    }
    let name = clean_name(&f.name, "a name").map_err(|e| (typed.clone(), e))?;
    let email = Email::parse(&f.email).map_err(|e| (typed.clone(), e.to_string()))?;
    let phone = field(&f.phone, "Phone", 40).map_err(|e| (typed.clone(), e))?;
    Ok(Contact { name, email: email.to_string(), phone, ..typed })
}

/// Saves the contact. `Some(true)` when its address is new (added, or
/// changed): it must confirm again, and its confirmation is owed. `None`:
/// no such contact in the account.
async fn save(
    conn: &mut PgConnection,
    account_id: Uuid,
    c: &Contact,
    is_new: bool,
) -> Result<Option<bool>, sqlx::Error> {
    let sql = if is_new {
        "INSERT INTO contacts (id, account_id, name, email, phone, notify_invoices, notify_domains, notify_products, notify_support)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING true"
    } else {
        // In SET and the subquery, `c.email` is still the address before the change.
        "UPDATE contacts c SET name = $3, email = $4, phone = $5, notify_invoices = $6, notify_domains = $7,
                notify_products = $8, notify_support = $9, confirmed_at = CASE WHEN c.email = $4 THEN c.confirmed_at END
         FROM (SELECT email FROM contacts WHERE id = $1 AND account_id = $2 FOR UPDATE) old
         WHERE c.id = $1 AND c.account_id = $2 RETURNING old.email <> $4"
    };
    sqlx::query_scalar(sql)
        .bind(c.id)
        .bind(account_id)
        .bind(&c.name)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(c.notify_invoices)
        .bind(c.notify_domains)
        .bind(c.notify_products)
        .bind(c.notify_support)
        .fetch_optional(conn)
        .await
}

/// Why a contact's confirmation mail was not sent.
enum NotSent {
    /// The account's mail budget is spent: the change is refused (429).
    OverBudget(OffsetDateTime),
    /// The address had one from this account a few minutes ago.
    Cooldown(OffsetDateTime),
    /// The member's own address is not confirmed yet: the panel sends no
    /// mail on their behalf to anyone else until it is (the change is refused).
    SenderUnconfirmed,
}

/// Mails `c` its confirmation link, within the account's mail budget
/// (`ACCOUNT_MAILS_PER_HOUR`, with its notices) and the address's cooldown
/// (`INVITE_RESEND_MINUTES`, as for invitations).
async fn send_confirmation(
    change: &mut AccountChange<'_>,
    m: &Member,
    c: &Contact,
) -> Result<Result<(), NotSent>, AppError> {
    if !m.user.email_verified {
        return Ok(Err(NotSent::SenderUnconfirmed));
    }
    let config = change.config().clone();
    if let Some(lifts) = budget::exceeded(change, m.account.id, ACCOUNT_MAIL, config.account_mails_per_hour).await? {
        return Ok(Err(NotSent::OverBudget(lifts)));
    }
    let cooldown = config.invite_cooldown_minutes;
    if let Some(lifts) = budget::cooldown(change, m.account.id, MailKind::Confirmation, &c.email, cooldown).await? {
        return Ok(Err(NotSent::Cooldown(lifts)));
    }
    addresses::send_contact_link(change, &config, m.account.id, &m.account.name, c.id, &c.name, &c.email).await?;
    Ok(Ok(()))
}

fn over_budget(lifts: OffsetDateTime) -> AppError {
    AppError::TooManyRequests(format!(
        "This account has sent as much mail as it may in an hour, so nothing was changed. Please try again from {}.",
        web::datetime(&lifts)
    ))
}

/// Saves `c` and, when its address is new, mails it its confirmation; the
/// flash says which.
async fn save_and_confirm(
    state: &AppState,
    ip: &str,
    m: &Member,
    c: &Contact,
    is_new: bool,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(state, m, ip).await?;
    // The account row lock serialises the account's budgeted mail. Taken
    // before the contact's row is written (the lock order in `change.rs`),
    // and FOR NO KEY UPDATE, which the foreign-key checks of other
    // requests' inserts do not wait on: a burst of new contacts queues
    // here, within `db::begin`'s bounds, instead of deadlocking.
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(m.account.id)
        .execute(&mut *change)
        .await?;
    let Some(address_is_new) = save(&mut change, m.account.id, c, is_new).await? else {
        return Err(super::not_found("contact"));
    };
    let saved = if is_new { "added" } else { "saved" };
    let flash = if !address_is_new {
        format!("Contact {} saved.", c.name)
    } else {
        match send_confirmation(&mut change, m, c).await? {
            Ok(()) => format!(
                "Contact {} {saved}. We have mailed {} a link: it gets no notices until it confirms.",
                c.name, c.email
            ),
            Err(NotSent::Cooldown(_)) => format!(
                "Contact {} {saved}. {} was sent a confirmation link a few minutes ago; it gets no notices until it confirms.",
                c.name, c.email
            ),
            Err(NotSent::OverBudget(lifts)) => {
                change.refused_by_mail_budget(MailKind::Confirmation).await?;
                return Err(over_budget(lifts));
            }
            Err(NotSent::SenderUnconfirmed) => return Err(AppError::Conflict(crate::invitations::send::UNCONFIRMED.into())),
        }
    };
    change.finish(&flash, "/contacts").await
}

async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    CsrfForm(f): CsrfForm<Form>,
) -> Result<Response, AppError> {
    match check(&f, Uuid::new_v4()) {
        Err((c, e)) => {
            super::refused(web::render(&FormPage { layout: Layout::of(&m.user), c, is_new: true, error: Some(e) }))
        }
        Ok(c) => save_and_confirm(&state, &ip, &m, &c, true).await,
    }
}

async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<Form>,
) -> Result<Response, AppError> {
    find(&state, &m, id).await?;
    match check(&f, id) {
        Err((c, e)) => {
            super::refused(web::render(&FormPage { layout: Layout::of(&m.user), c, is_new: false, error: Some(e) }))
        }
        Ok(c) => save_and_confirm(&state, &ip, &m, &c, false).await,
    }
}

async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &m, &ip).await?;
    let gone = sqlx::query("DELETE FROM contacts WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(m.account.id)
        .execute(&mut *change)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(super::not_found("contact"));
    }
    change.finish("Contact deleted.", "/contacts").await
}

/// "Send the link again" for a contact that has not confirmed yet.
async fn confirm_again(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let c = find(&state, &m, id).await?;
    if c.confirmed {
        return Err(AppError::Conflict(format!("{} has already confirmed its address.", c.email)));
    }
    let mut change = AccountChange::by_member(&state, &m, &ip).await?;
    match send_confirmation(&mut change, &m, &c).await? {
        Ok(()) => change.finish(&format!("We have mailed {} a new link.", c.email), "/contacts").await,
        Err(NotSent::Cooldown(lifts)) => Err(AppError::TooManyRequests(format!(
            "{} was sent a link a few minutes ago. You can send another from {}.",
            c.email,
            web::datetime(&lifts)
        ))),
        Err(NotSent::OverBudget(lifts)) => {
            change.refused_by_mail_budget(MailKind::Confirmation).await?;
            Err(over_budget(lifts))
        }
        Err(NotSent::SenderUnconfirmed) => Err(AppError::Conflict(crate::invitations::send::UNCONFIRMED.into())),
    }
}

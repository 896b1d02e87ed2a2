//! View & Manage Contacts: people on the account who receive chosen kinds
//! of notification mail (invoices, domains, products, support).

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{profile::field, SectionRoutes};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Member,
    },
    change::AccountChange,
    domain::{email::Email, names::clean_name, permissions::Permission},
    error::AppError,
    layout::Layout,
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
}

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
    let contacts = sqlx::query_as(
        "SELECT id, name, email, phone, notify_invoices, notify_domains, notify_products, notify_support
         FROM contacts WHERE account_id = $1 ORDER BY name, id LIMIT 200",
    )
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
    sqlx::query_as(
        "SELECT id, name, email, phone, notify_invoices, notify_domains, notify_products, notify_support
         FROM contacts WHERE id = $1 AND account_id = $2",
    )
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

async fn save(conn: &mut PgConnection, account_id: Uuid, c: &Contact, is_new: bool) -> Result<bool, sqlx::Error> {
    let sql = if is_new {
        "INSERT INTO contacts (id, account_id, name, email, phone, notify_invoices, notify_domains, notify_products, notify_support)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    } else {
        "UPDATE contacts SET name = $3, email = $4, phone = $5, notify_invoices = $6, notify_domains = $7, notify_products = $8, notify_support = $9
         WHERE id = $1 AND account_id = $2"
    };
    let done = sqlx::query(sql)
        .bind(c.id)
        .bind(account_id)
        .bind(&c.name)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(c.notify_invoices)
        .bind(c.notify_domains)
        .bind(c.notify_products)
        .bind(c.notify_support)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
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
        Ok(c) => {
            let mut change = AccountChange::by_member(&state, &m, &ip).await?;
            save(&mut change, m.account.id, &c, true).await?;
            change.finish(&format!("Contact {} added.", c.name), "/contacts").await
        }
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
        Ok(c) => {
            let mut change = AccountChange::by_member(&state, &m, &ip).await?;
            if !save(&mut change, m.account.id, &c, false).await? {
                return Err(super::not_found("contact"));
            }
            change.finish(&format!("Contact {} saved.", c.name), "/contacts").await
        }
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

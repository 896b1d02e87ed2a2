//! Modify Master Account Profile: the account's billing details. Some
//! fields only support may change (the help article says "most of this data
//! can only be changed through our support"): shown read-only here.

use askama::Template;
use axum::{extract::State, response::Response};
use serde::Deserialize;

use super::SectionRoutes;
use crate::{
    auth::{csrf::CsrfForm, session::Member},
    change::{AccountChange, Target},
    domain::{audit::AuditAction, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Profile).get("/account/profile", show).post("/account/profile", save)
}

#[derive(sqlx::FromRow)]
struct Profile {
    name: String,
    address: String,
    city: String,
    region: String,
    postcode: String,
    country: String,
    phone: String,
    tax_id: String,
}

#[derive(Template)]
#[template(path = "sections/profile.html")]
struct Page {
    layout: Layout,
    p: Profile,
    error: Option<String>,
}

async fn load(state: &AppState, m: &Member) -> Result<Profile, AppError> {
    Ok(sqlx::query_as(
        "SELECT name, address, city, region, postcode, country, phone, tax_id FROM accounts WHERE id = $1",
    )
    .bind(m.account.id)
    .fetch_one(&state.db)
    .await?)
}

async fn show(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let p = load(&state, &m).await?;
    web::render(&Page { layout: Layout::of(&m.user), p, error: None })
}

#[derive(Deserialize)]
struct Form {
    address: String,
    city: String,
    region: String,
    postcode: String,
    phone: String,
}

/// Trims a free-text field and checks its length and characters.
pub fn field(raw: &str, label: &str, max: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().count() > max {
        return Err(format!("{label} is too long (at most {max} characters)."));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{label} contains characters that are not allowed."));
    }
    Ok(s.to_string())
}

async fn save(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    CsrfForm(f): CsrfForm<Form>,
) -> Result<Response, AppError> {
    let checked = (|| {
        Ok::<_, String>((
            field(&f.address, "Address", 200)?,
            field(&f.city, "City", 100)?,
            field(&f.region, "Region", 100)?,
            field(&f.postcode, "Postcode", 20)?,
            field(&f.phone, "Phone", 40)?,
        ))
    })();
    let (address, city, region, postcode, phone) = match checked {
        Ok(v) => v,
        Err(e) => {
            let p = load(&state, &m).await?;
            return super::refused(web::render(&Page { layout: Layout::of(&m.user), p, error: Some(e) }));
        }
    };
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    sqlx::query("UPDATE accounts SET address = $2, city = $3, region = $4, postcode = $5, phone = $6 WHERE id = $1")
        .bind(m.account.id)
        .bind(&address)
        .bind(&city)
        .bind(&region)
        .bind(&postcode)
        .bind(&phone)
        .execute(&mut *tx)
        .await?;
    tx.audit(AuditAction::ProfileChanged, Target::default(), serde_json::json!({})).await?;
    tx.finish("The account profile has been saved.", "/account/profile").await
}

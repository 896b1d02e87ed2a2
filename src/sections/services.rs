//! Services: View Products & Services (list, detail), View & Modify Product
//! Passwords (the control-panel password), Perform Single Sign-On (a
//! single-use link into the control panel).

use askama::Template;
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use time::Date;
use uuid::Uuid;

use super::{
    notify,
    providers::{self, ControlPanel},
    SectionRoutes,
};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{ActiveAccount, Member},
    },
    change::{AccountChange, Target},
    config::{Config, ControlPanelKind},
    domain::{audit::AuditAction, password, permissions::Permission, token},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub fn view_routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Products).get("/services", index).get("/services/{service}", show)
}

/// Product passwords can be used alone: their own list of the services
/// they act on, without "View Products & Services".
pub fn manage_routes() -> SectionRoutes {
    SectionRoutes::new(Permission::ManageProducts)
        .get("/services/passwords", passwords_index)
        .get("/services/{service}/password", password_page)
        .post("/services/{service}/password", change_password)
}

/// Single sign-on can be used alone too: its own list of services.
pub fn sso_routes() -> SectionRoutes {
    SectionRoutes::new(Permission::ProductSso).get("/services/sign-on", sso_index).post("/services/{service}/sso", sso)
}

/// The built-in control panel's sign-on landing (stands in for cPanel's),
/// mounted only while that stand-in is the configured control panel;
/// public by explicit choice: the single-use token is the credential.
pub fn control_panel_router(config: &Config) -> Router<AppState> {
    match config.outside.control_panel {
        Some(ControlPanelKind::Local) => Router::new().route("/control-panel/sso/{token}", get(control_panel_landing)),
        None => Router::new(),
    }
}

#[derive(sqlx::FromRow)]
pub struct Service {
    pub id: Uuid,
    pub product: String,
    pub product_group: String,
    pub domain: String,
    pub status: String,
    pub billing_cycle: String,
    pub amount_cents: i64,
    pub next_due_date: Date,
    pub is_addon: bool,
    pub cancellation: Option<String>,
}

pub const SERVICE_COLUMNS: &str =
    "s.id, p.name AS product, p.product_group, s.domain, s.status, s.billing_cycle, s.amount_cents,
     s.next_due_date, s.parent_id IS NOT NULL AS is_addon, s.cancellation";

/// A service of the active account within the member's scope, or 404
/// (exactly as another account's service).
pub async fn find(state: &AppState, account: &ActiveAccount, id: Uuid) -> Result<Service, AppError> {
    sqlx::query_as(&format!(
        "SELECT {SERVICE_COLUMNS} FROM visible_services($2, $3) s JOIN products p ON p.id = s.product_id WHERE s.id = $1"
    ))
        .bind(id)
        .bind(account.id)
        .bind(account.scope())
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| super::not_found("service"))
}

#[derive(Template)]
#[template(path = "sections/services.html")]
struct IndexPage {
    layout: Layout,
    services: Vec<Service>,
}

/// The account's services within the member's scope, oldest first.
async fn list(state: &AppState, account: &ActiveAccount) -> Result<Vec<Service>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SERVICE_COLUMNS} FROM visible_services($1, $2) s JOIN products p ON p.id = s.product_id
         ORDER BY s.created_at, s.id LIMIT 200"
    ))
    .bind(account.id)
    .bind(account.scope())
    .fetch_all(&state.db)
    .await
}

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let services = list(&state, &m.account).await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), services })
}

/// A list of services with one action each (change the password, sign on).
#[derive(Template)]
#[template(path = "sections/service_actions.html")]
struct ActionsPage {
    layout: Layout,
    services: Vec<Service>,
    sign_on: bool,
    not_connected: Option<&'static str>,
}

impl ActionsPage {
    async fn render(state: &AppState, m: &Member, sign_on: bool) -> Result<Response, AppError> {
        let services = list(state, &m.account).await?;
        let not_connected =
            providers::control_panel(&state.config).err().map(|_| providers::CONTROL_PANEL_NOT_CONNECTED);
        web::render(&ActionsPage { layout: Layout::of(&m.user), services, sign_on, not_connected })
    }
}

async fn passwords_index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    ActionsPage::render(&state, &m, false).await
}

async fn sso_index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    ActionsPage::render(&state, &m, true).await
}

#[derive(Template)]
#[template(path = "sections/service.html")]
struct ShowPage {
    layout: Layout,
    s: Service,
    can_manage: bool,
    can_sso: bool,
    can_order: bool,
    control_panel_connected: bool,
    control_panel_not_connected: &'static str,
}

async fn show(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let s = find(&state, &m.account, id).await?;
    web::render(&ShowPage {
        layout: Layout::of(&m.user),
        can_manage: m.account.allows(Permission::ManageProducts),
        can_sso: m.account.allows(Permission::ProductSso),
        can_order: m.account.allows(Permission::Orders),
        control_panel_connected: providers::control_panel(&state.config).is_ok(),
        control_panel_not_connected: providers::CONTROL_PANEL_NOT_CONNECTED,
        s,
    })
}

#[derive(Template)]
#[template(path = "sections/service_password.html")]
struct PasswordPage {
    layout: Layout,
    s: Service,
    error: Option<String>,
    /// Why the password cannot be changed: no control panel is connected.
    not_connected: Option<&'static str>,
}

impl PasswordPage {
    fn new(state: &AppState, m: &Member, s: Service, error: Option<String>) -> PasswordPage {
        let not_connected =
            providers::control_panel(&state.config).err().map(|_| providers::CONTROL_PANEL_NOT_CONNECTED);
        PasswordPage { layout: Layout::of(&m.user), s, error, not_connected }
    }
}

async fn password_page(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let s = find(&state, &m.account, id).await?;
    web::render(&PasswordPage::new(&state, &m, s, None))
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    password: String,
    confirm: String,
}

/// Control-panel passwords: long, and not only letters or only digits.
fn check_panel_password(p: &str) -> Result<(), String> {
    password::check_strength(p)?;
    let has_letter = p.chars().any(char::is_alphabetic);
    let has_other = p.chars().any(|c| !c.is_alphabetic());
    if !(has_letter && has_other) {
        return Err("Use letters and at least one digit or symbol.".into());
    }
    Ok(())
}

async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let s = find(&state, &m.account, id).await?;
    let panel = providers::control_panel(&state.config)?;
    let problem = check_panel_password(&f.password)
        .err()
        .or_else(|| (f.password != f.confirm).then(|| "The two passwords do not match.".to_string()));
    if let Some(e) = problem {
        return super::refused(web::render(&PasswordPage::new(&state, &m, s, Some(e))));
    }
    if s.status != "Active" {
        return Err(AppError::Conflict(format!(
            "The service is {}: its password can be changed once it is active.",
            s.status
        )));
    }
    let hash = state.hasher.hash(&f.password).await?;
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    panel.set_password(&mut tx, id, &hash).await?;
    tx.audit(AuditAction::ServicePasswordChanged, Target::default(), serde_json::json!({ "service": s.domain }))
        .await?;
    notify::send(
        &mut tx,
        notify::Kind::Products,
        Some(id),
        &format!("Control panel password changed for {}", s.domain),
        &[format!("{} changed the control panel password of {} ({}).", m.user.name, s.domain, s.product)],
    )
    .await?;
    // Back where the member can see the service: its page, or with the
    // password permission alone, the list of passwords.
    let back =
        if m.account.allows(Permission::Products) { format!("/services/{id}") } else { "/services/passwords".into() };
    tx.finish("The control panel password has been changed.", &back).await
}

async fn sso(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let s = find(&state, &m.account, id).await?;
    let panel = providers::control_panel(&state.config)?;
    if s.status != "Active" {
        return Err(AppError::Conflict(format!("The service is {}: sign-on works once it is active.", s.status)));
    }
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    let link = panel.sso_link(&mut tx, id, &state.config.base_url).await?;
    tx.audit(AuditAction::ServiceSingleSignOn, Target::default(), serde_json::json!({ "service": s.domain })).await?;
    tx.commit().await?;
    Ok(Redirect::to(&link).into_response())
}

#[derive(Template)]
#[template(path = "sections/control_panel.html")]
struct ControlPanelPage {
    domain: String,
    username: String,
}

async fn control_panel_landing(State(state): State<AppState>, Path(t): Path<String>) -> Result<Response, AppError> {
    let dead = || {
        AppError::Gone(
            "This sign-on link has expired or was already used. Use \"Log in to control panel\" again.".into(),
        )
    };
    if !token::well_formed(&t) {
        return Err(dead());
    }
    // scope-exempt: the control panel's landing, reached by a single-use
    // link made for a service the member could open.
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "WITH used AS (
             UPDATE control_panel_sso SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING service_id
         )
         SELECT s.domain, l.username FROM used JOIN services s ON s.id = used.service_id
         LEFT JOIN control_panel_logins l ON l.service_id = s.id",
    )
    .bind(token::hash(&t))
    .fetch_optional(&state.db)
    .await?;
    let (domain, username) = row.ok_or_else(dead)?;
    web::render(&ControlPanelPage { username: username.unwrap_or_else(|| "admin".into()), domain })
}

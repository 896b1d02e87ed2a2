//! View Domains (list, detail) and Manage Domain Settings (nameservers,
//! registrar lock, EPP code, WHOIS contact), through the `Registrar` trait.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use time::Date;
use uuid::Uuid;

use super::{
    notify,
    providers::{self, Registrar},
    SectionRoutes,
};
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::{ActiveAccount, Member},
    },
    change::{AccountChange, Target},
    domain::{audit::AuditAction, email::Email, names::clean_name, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, ClientIp},
};

pub fn view_routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Domains).get("/domains", index).get("/domains/{domain}", show)
}

/// Domain settings can be used alone: their own list of the domains they
/// act on, without "View Domains".
pub fn manage_routes() -> SectionRoutes {
    SectionRoutes::new(Permission::ManageDomains)
        .get("/domains/settings", settings_index)
        .get("/domains/{domain}/manage", manage_page)
        .post("/domains/{domain}/nameservers", set_nameservers)
        .post("/domains/{domain}/lock", set_lock)
        .post("/domains/{domain}/epp", epp_code)
        .post("/domains/{domain}/whois", set_whois)
}

#[derive(sqlx::FromRow)]
pub struct Domain {
    id: Uuid,
    name: String,
    registered_on: Date,
    expires_on: Date,
    status: String,
    auto_renew: bool,
    registrar_lock: bool,
    nameservers: Vec<String>,
    epp_code: Option<String>,
    whois_name: String,
    whois_email: String,
}

impl Domain {
    /// The nameserver in form slot `i` (blank when there are fewer).
    fn slot(&self, i: &usize) -> &str {
        self.nameservers.get(*i).map(String::as_str).unwrap_or("")
    }
}

const COLUMNS: &str = "id, name, registered_on, expires_on, status, auto_renew, registrar_lock, nameservers, epp_code, whois_name, whois_email";

async fn find(state: &AppState, m: &Member, id: Uuid) -> Result<Domain, AppError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM visible_domains($2, $3) WHERE id = $1"))
        .bind(id)
        .bind(m.account.id)
        .bind(m.account.scope())
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| super::not_found("domain"))
}

#[derive(Template)]
#[template(path = "sections/domains.html")]
struct IndexPage {
    layout: Layout,
    domains: Vec<Domain>,
    /// The Domain Settings list: each domain links to its settings.
    settings: bool,
}

async fn list(state: &AppState, account: &ActiveAccount) -> Result<Vec<Domain>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM visible_domains($1, $2) ORDER BY name LIMIT 200"))
        .bind(account.id)
        .bind(account.scope())
        .fetch_all(&state.db)
        .await
}

async fn index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let domains = list(&state, &m.account).await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), domains, settings: false })
}

async fn settings_index(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    let domains = list(&state, &m.account).await?;
    web::render(&IndexPage { layout: Layout::of(&m.user), domains, settings: true })
}

#[derive(Template)]
#[template(path = "sections/domain.html")]
struct ShowPage {
    layout: Layout,
    d: Domain,
    can_manage: bool,
}

async fn show(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let d = find(&state, &m, id).await?;
    web::render(&ShowPage { layout: Layout::of(&m.user), can_manage: m.account.allows(Permission::ManageDomains), d })
}

#[derive(Template)]
#[template(path = "sections/domain_manage.html")]
struct ManagePage {
    layout: Layout,
    d: Domain,
    error: Option<String>,
    /// Why the settings cannot be changed: no registrar is connected.
    not_connected: Option<&'static str>,
}

impl ManagePage {
    fn new(state: &AppState, m: &Member, d: Domain, error: Option<String>) -> ManagePage {
        let not_connected = providers::registrar(&state.config).err().map(|_| providers::REGISTRAR_NOT_CONNECTED);
        ManagePage { layout: Layout::of(&m.user), d, error, not_connected }
    }
}

async fn manage_page(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let d = find(&state, &m, id).await?;
    web::render(&ManagePage::new(&state, &m, d, None))
}

/// A host name as registries accept it: dotted labels of letters, digits
/// and hyphens, 1 to 63 characters each, at most 253 in all.
pub fn valid_host(h: &str) -> bool {
    let h = h.trim_end_matches('.');
    h.len() <= 253
        && h.contains('.')
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Runs a registrar change with its audit event and notification.
async fn change(
    state: &AppState,
    m: &Member,
    ip: &str,
    d: &Domain,
    what: &str,
    flash: &str,
    apply: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<(), sqlx::Error>,
) -> Result<Response, AppError> {
    let mut tx = AccountChange::by_member(state, m, ip).await?;
    apply(&mut tx).await?;
    tx.audit(AuditAction::DomainChanged, Target::default(), serde_json::json!({ "domain": d.name, "change": what }))
        .await?;
    notify::send(
        &mut tx,
        notify::Kind::Domains,
        Some(d.id),
        &format!("{} was changed", d.name),
        &[format!("{} changed the {what} of {}.", m.user.name, d.name)],
    )
    .await?;
    tx.finish(flash, &format!("/domains/{}/manage", d.id)).await
}

#[derive(Deserialize)]
struct NameserversForm {
    #[serde(default)]
    nameservers: Vec<String>,
}

async fn set_nameservers(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<NameserversForm>,
) -> Result<Response, AppError> {
    let mut d = find(&state, &m, id).await?;
    let registrar = providers::registrar(&state.config)?;
    let ns: Vec<String> = f.nameservers.iter().map(|n| n.trim().to_lowercase()).filter(|n| !n.is_empty()).collect();
    let problem = if !(2..=5).contains(&ns.len()) {
        Some("Enter between 2 and 5 nameservers.".to_string())
    } else {
        ns.iter().find(|n| !valid_host(n)).map(|n| {
            format!(
                "\"{}\" is not a valid host name (for example ns1.example.com).",
                n.chars().take(100).collect::<String>()
            )
        })
    }
    .or_else(|| {
        let mut sorted = ns.clone();
        sorted.sort();
        sorted.dedup();
        (sorted.len() != ns.len()).then(|| "Each nameserver may be listed only once.".to_string())
    });
    if let Some(e) = problem {
        // Show what was typed, so it can be corrected.
        d.nameservers = f.nameservers.iter().take(5).map(|n| n.chars().take(253).collect()).collect();
        return super::refused(web::render(&ManagePage::new(&state, &m, d, Some(e))));
    }
    change(&state, &m, &ip, &d, "nameservers", "Nameservers saved.", async |c| {
        registrar.set_nameservers(c, id, &ns).await
    })
    .await
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LockForm {
    locked: String,
}

async fn set_lock(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<LockForm>,
) -> Result<Response, AppError> {
    let d = find(&state, &m, id).await?;
    let registrar = providers::registrar(&state.config)?;
    let locked = match f.locked.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::BadRequest("Choose to lock or unlock the domain.".into())),
    };
    let flash =
        if locked { "The registrar lock is on." } else { "The registrar lock is off: the domain can be transferred." };
    change(&state, &m, &ip, &d, "registrar lock", flash, async |c| registrar.set_lock(c, id, locked).await).await
}

async fn epp_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let d = find(&state, &m, id).await?;
    let registrar = providers::registrar(&state.config)?;
    if d.registrar_lock {
        let error = Some("Turn the registrar lock off before asking for the transfer code.".into());
        return super::refused(web::render(&ManagePage::new(&state, &m, d, error)));
    }
    change(
        &state,
        &m,
        &ip,
        &d,
        "transfer (EPP) code",
        "A transfer (EPP) code was issued: it is shown below.",
        async |c| registrar.epp_code(c, id).await.map(|_| ()),
    )
    .await
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WhoisForm {
    name: String,
    email: String,
}

async fn set_whois(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<WhoisForm>,
) -> Result<Response, AppError> {
    let d = find(&state, &m, id).await?;
    let registrar = providers::registrar(&state.config)?;
    let checked = clean_name(&f.name, "the contact's name")
        .and_then(|n| Email::parse(&f.email).map(|e| (n, e)).map_err(|e| e.to_string()));
    let (name, email) = match checked {
        Ok(v) => v,
        Err(e) => return super::refused(web::render(&ManagePage::new(&state, &m, d, Some(e)))),
    };
    change(&state, &m, &ip, &d, "WHOIS contact", "WHOIS contact saved.", async |c| {
        registrar.set_whois(c, id, &name, email.as_str()).await
    })
    .await
}

//! Place New Orders/Upgrades/Cancellations: order from the catalogue (a
//! pending service and its invoice), upgrade a service within its product
//! group, request cancellation now or at the end of the billing period.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    domains::valid_host,
    invoices::{self, Line},
    notify, services, SectionRoutes,
};
use crate::{
    auth::{csrf::CsrfForm, session::Member},
    change::{AccountChange, Target},
    domain::{audit::AuditAction, money, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Orders)
        .get("/orders", catalogue)
        .post("/orders", order)
        .get("/orders/upgrade/{service}", upgrade_page)
        .post("/orders/upgrade/{service}", upgrade)
        .get("/orders/cancel/{service}", cancel_page)
        .post("/orders/cancel/{service}", cancel)
}

#[derive(sqlx::FromRow, Clone)]
pub struct Product {
    id: Uuid,
    product_group: String,
    name: String,
    description: String,
    monthly_cents: i64,
}

impl Product {
    /// The price for a billing cycle: a year costs ten months.
    fn price(&self, cycle: &str) -> i64 {
        if cycle == "Annually" {
            self.monthly_cents * 10
        } else {
            self.monthly_cents
        }
    }
}

async fn products(state: &AppState) -> Result<Vec<Product>, sqlx::Error> {
    sqlx::query_as("SELECT id, product_group, name, description, monthly_cents FROM products ORDER BY sort")
        .fetch_all(&state.db)
        .await
}

/// An unpaid invoice of an order or upgrade: the order starts once it is paid.
#[derive(sqlx::FromRow)]
struct Awaiting {
    id: Uuid,
    number: i64,
    total_cents: i64,
}

#[derive(Template)]
#[template(path = "sections/orders.html")]
struct CataloguePage {
    layout: Layout,
    products: Vec<Product>,
    awaiting: Vec<Awaiting>,
    /// Pay links only for those who may open invoices.
    can_pay: bool,
    error: Option<String>,
}

impl CataloguePage {
    async fn load(state: &AppState, m: &Member, error: Option<String>) -> Result<CataloguePage, AppError> {
        let (products, awaiting) = tokio::try_join!(
            products(state),
            sqlx::query_as(
                "SELECT i.id, i.number, i.total_cents FROM invoices i
                 WHERE i.account_id = $1 AND i.status = 'Unpaid'
                   AND (EXISTS (SELECT 1 FROM order_invoices o WHERE o.invoice_id = i.id)
                        OR EXISTS (SELECT 1 FROM pending_upgrades u WHERE u.invoice_id = i.id))
                 ORDER BY i.number DESC LIMIT 20",
            )
            .bind(m.account.id)
            .fetch_all(&state.db)
        )?;
        let can_pay = m.account.allows(Permission::Invoices);
        Ok(CataloguePage { layout: Layout::of(&m.user), products, awaiting, can_pay, error })
    }
}

async fn catalogue(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    web::render(&CataloguePage::load(&state, &m, None).await?)
}

#[derive(Deserialize)]
struct OrderForm {
    product_id: String,
    domain: String,
    billing_cycle: String,
}

async fn order(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    CsrfForm(f): CsrfForm<OrderForm>,
) -> Result<Response, AppError> {
    let all = products(&state).await?;
    let domain = f.domain.trim().to_lowercase();
    let product = all.iter().find(|p| p.id.to_string() == f.product_id).cloned();
    let problem = match &product {
        None => Some("Choose a product from the list.".to_string()),
        Some(_) if !["Monthly", "Annually"].contains(&f.billing_cycle.as_str()) => {
            Some("Choose Monthly or Annually.".into())
        }
        Some(_) if !valid_host(&domain) => Some("Enter the domain for the service, such as example.com.".into()),
        _ => None,
    };
    let (Some(product), None) = (product, problem.clone()) else {
        return super::refused(web::render(&CataloguePage::load(&state, &m, problem).await?));
    };
    let amount = product.price(&f.billing_cycle);
    let months = if f.billing_cycle == "Annually" { 12 } else { 1 };
    let service_id = Uuid::new_v4();
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    sqlx::query(
        "INSERT INTO services (id, account_id, product_id, domain, status, billing_cycle, amount_cents, next_due_date)
         VALUES ($1, $2, $3, $4, 'Pending', $5, $6, (current_date + make_interval(months => $7))::date)",
    )
    .bind(service_id)
    .bind(m.account.id)
    .bind(product.id)
    .bind(&domain)
    .bind(&f.billing_cycle)
    .bind(amount)
    .bind(months)
    .execute(&mut *tx)
    .await?;
    let line = Line {
        description: format!("{} ({}) for {domain}, {}", product.name, product.product_group, f.billing_cycle),
        amount_cents: amount,
    };
    let (invoice_id, number) = invoices::create(&mut tx, m.account.id, &[line], 7).await?;
    sqlx::query("INSERT INTO order_invoices (invoice_id, service_id) VALUES ($1, $2)")
        .bind(invoice_id)
        .bind(service_id)
        .execute(&mut *tx)
        .await?;
    tx.audit(
        AuditAction::OrderPlaced,
        Target::default(),
        serde_json::json!({ "product": product.name, "domain": domain, "invoice": number }),
    )
    .await?;
    notify::send(
        &mut tx,
        notify::Kind::Invoices,
        None,
        &format!("Invoice #{number} for your order"),
        &[format!(
            "{} ordered {} for {domain}. Invoice #{number} of {} is due in 7 days; the service starts once it is paid.",
            m.user.name,
            product.name,
            money::format(amount)
        )],
    )
    .await?;
    // The orders page, which the member may see whatever else they hold; it
    // lists the invoice, with a pay link for those who may pay.
    let flash =
        format!("Order placed: {} for {domain}. Invoice #{number} starts the service once it is paid.", product.name);
    tx.finish(&flash, "/orders").await
}

#[derive(Template)]
#[template(path = "sections/upgrade.html")]
struct UpgradePage {
    layout: Layout,
    s: services::Service,
    options: Vec<Product>,
    error: Option<String>,
}

async fn upgrade_options(state: &AppState, s: &services::Service) -> Result<Vec<Product>, AppError> {
    Ok(products(state)
        .await?
        .into_iter()
        .filter(|p| p.product_group == s.product_group && p.name != s.product)
        .collect())
}

async fn upgrade_page(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let s = services::find(&state, &m.account, id).await?;
    let options = upgrade_options(&state, &s).await?;
    web::render(&UpgradePage { layout: Layout::of(&m.user), s, options, error: None })
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct UpgradeForm {
    product_id: String,
}

async fn upgrade(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<UpgradeForm>,
) -> Result<Response, AppError> {
    let s = services::find(&state, &m.account, id).await?;
    let options = upgrade_options(&state, &s).await?;
    let Some(target) = options.iter().find(|p| p.id.to_string() == f.product_id).cloned() else {
        return super::refused(web::render(&UpgradePage {
            layout: Layout::of(&m.user),
            s,
            options,
            error: Some("Choose one of the listed products of this group.".into()),
        }));
    };
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    // Re-read under a lock: the price difference is worked out from the
    // service as it is now, not as it was when the page was read.
    // scope-exempt: `services::find` above already read it through the scope.
    let (product_id, amount, status): (Uuid, i64, String) = sqlx::query_as(
        "SELECT product_id, amount_cents, status FROM services WHERE id = $1 AND account_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(m.account.id)
    .fetch_one(&mut *tx)
    .await?;
    if status != "Active" {
        return Err(AppError::Conflict(format!("The service is {status}: it can be upgraded once it is active.")));
    }
    if product_id == target.id {
        return Err(AppError::Conflict(format!("{} already runs {}.", s.domain, target.name)));
    }
    let new_amount = target.price(&s.billing_cycle);
    let difference = new_amount - amount;
    let flash = if difference > 0 {
        // A dearer product starts when its difference is paid.
        let line = Line {
            description: format!("Upgrade of {} from {} to {}", s.domain, s.product, target.name),
            amount_cents: difference,
        };
        let (invoice_id, number) = invoices::create(&mut tx, m.account.id, &[line], 7).await?;
        sqlx::query(
            "INSERT INTO pending_upgrades (invoice_id, service_id, product_id, amount_cents) VALUES ($1, $2, $3, $4)",
        )
        .bind(invoice_id)
        .bind(id)
        .bind(target.id)
        .bind(new_amount)
        .execute(&mut *tx)
        .await?;
        format!(
            "Invoice #{number} for the difference of {} was created: {} moves to {} once it is paid.",
            money::format(difference),
            s.domain,
            target.name
        )
    } else {
        sqlx::query("UPDATE services SET product_id = $2, amount_cents = $3 WHERE id = $1")
            .bind(id)
            .bind(target.id)
            .bind(new_amount)
            .execute(&mut *tx)
            .await?;
        format!("{} now runs {}.", s.domain, target.name)
    };
    tx.audit(
        AuditAction::OrderUpgraded,
        Target::default(),
        serde_json::json!({ "service": s.domain, "from": s.product, "to": target.name }),
    )
    .await?;
    notify::send(
        &mut tx,
        notify::Kind::Products,
        Some(s.id),
        &format!("Change of {} to {}", s.domain, target.name),
        &[format!("{} asked to change {} from {} to {}.", m.user.name, s.domain, s.product, target.name)],
    )
    .await?;
    tx.finish(&flash, &format!("/orders/upgrade/{id}")).await
}

#[derive(Template)]
#[template(path = "sections/cancel.html")]
struct CancelPage {
    layout: Layout,
    s: services::Service,
}

async fn cancel_page(State(state): State<AppState>, m: Member, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let s = services::find(&state, &m.account, id).await?;
    web::render(&CancelPage { layout: Layout::of(&m.user), s })
}

/// Missing fields parse as empty, so the object is looked up (404 for
/// another account's) before the form is judged.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CancelForm {
    when: String,
}

async fn cancel(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    Path(id): Path<Uuid>,
    CsrfForm(f): CsrfForm<CancelForm>,
) -> Result<Response, AppError> {
    let s = services::find(&state, &m.account, id).await?;
    let when = match f.when.as_str() {
        "immediate" => "Immediate",
        "end" => "End of Billing Period",
        _ => {
            return Err(AppError::BadRequest(
                "Choose when to cancel: immediately or at the end of the billing period.".into(),
            ))
        }
    };
    let already = || AppError::Conflict(format!("Cancellation of {} was already requested.", s.domain));
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    // The guard in the statement settles two requests at once: one wins.
    let done = sqlx::query(
        "UPDATE services SET cancellation = $3, status = CASE WHEN $3 = 'Immediate' THEN 'Cancelled' ELSE status END
         WHERE id = $1 AND account_id = $2 AND cancellation IS NULL AND status <> 'Cancelled'",
    )
    .bind(id)
    .bind(m.account.id)
    .bind(when)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(already());
    }
    tx.audit(
        AuditAction::CancellationRequested,
        Target::default(),
        serde_json::json!({ "service": s.domain, "when": when }),
    )
    .await?;
    notify::send(
        &mut tx,
        notify::Kind::Products,
        Some(s.id),
        &format!("Cancellation of {} requested", s.domain),
        &[format!("{} requested cancellation of {} ({}): {when}.", m.user.name, s.domain, s.product)],
    )
    .await?;
    tx.finish(&format!("Cancellation of {} requested ({when}).", s.domain), "/orders").await
}

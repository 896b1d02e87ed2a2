//! The client-area sections behind the thirteen permissions.
//!
//! Deny by default: a section's routes can only be mounted through
//! `SectionRoutes`, which names the permission they need; `router` wraps each
//! section in a guard that checks it on every request, and `route_table`
//! lists every route with its permission, so the permission-matrix test
//! covers a new route the moment it is added.

pub mod affiliates;
pub mod contacts;
pub mod domains;
pub mod emails;
pub mod invoices;
pub mod notify;
pub mod orders;
pub mod profile;
pub mod providers;
pub mod quotes;
pub mod services;
pub mod tickets;

use axum::{
    extract::{FromRequestParts, Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::MethodRouter,
    Router,
};

use crate::{auth::session::Member, domain::permissions, error::AppError, state::AppState};

#[derive(Clone, Debug)]
pub struct RouteInfo {
    pub permission: &'static str,
    pub methods: &'static [&'static str],
    /// With `{service}`, `{domain}`, `{invoice}`, `{quote}`, `{ticket}`,
    /// `{contact}` or `{email}` for the id of that kind of object.
    pub path: &'static str,
}

pub struct SectionRoutes {
    permission: &'static str,
    router: Router<AppState>,
    routes: Vec<RouteInfo>,
}

impl SectionRoutes {
    pub fn new(permission: &'static str) -> SectionRoutes {
        assert!(permissions::label(permission).is_some(), "{permission} is not a permission");
        SectionRoutes { permission, router: Router::new(), routes: Vec::new() }
    }

    pub fn route(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        handler: MethodRouter<AppState>,
    ) -> SectionRoutes {
        self.router = self.router.route(path, handler);
        self.routes.push(RouteInfo { permission: self.permission, methods, path });
        self
    }
}

fn all() -> Vec<SectionRoutes> {
    vec![
        profile::routes(),
        contacts::routes(),
        services::view_routes(),
        services::manage_routes(),
        services::sso_routes(),
        domains::view_routes(),
        domains::manage_routes(),
        invoices::routes(),
        quotes::routes(),
        tickets::routes(),
        affiliates::routes(),
        emails::routes(),
        orders::routes(),
    ]
}

/// Every section route with the permission it needs.
pub fn route_table() -> Vec<RouteInfo> {
    all().into_iter().flat_map(|s| s.routes).collect()
}

pub fn router(state: &AppState) -> Router<AppState> {
    all().into_iter().fold(Router::new(), |app, s| {
        let guard = middleware::from_fn_with_state((state.clone(), s.permission), require);
        app.merge(s.router.route_layer(guard))
    })
}

/// The guard in front of every section route: a member of the active
/// account with the section's permission (the owner has them all).
async fn require(State((state, permission)): State<(AppState, &'static str)>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let member = match Member::from_request_parts(&mut parts, &state).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    if !member.account.allows(permission) {
        let label = permissions::label(permission).unwrap_or(permission);
        return AppError::Forbidden(format!(
            "Your access to {} does not include \"{label}\". Ask the account owner if you need it.",
            member.account.name
        ))
        .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The client-area navigation: only what the member may open.
pub const NAV: [(&str, &str, &str); 10] = [
    ("profile", "Account Profile", "/account/profile"),
    ("contacts", "Contacts", "/contacts"),
    ("products", "Services", "/services"),
    ("domains", "Domains", "/domains"),
    ("invoices", "Invoices", "/invoices"),
    ("quotes", "Quotes", "/quotes"),
    ("tickets", "Support Tickets", "/tickets"),
    ("affiliates", "Affiliates", "/affiliates"),
    ("emails", "Emails", "/emails"),
    ("orders", "Order", "/orders"),
];

/// Cents as the panel shows money.
pub fn money(cents: &i64) -> String {
    let sign = if *cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}${}.{:02}", c / 100, c % 100)
}

/// Parses an amount typed by a person ("25", "25.5", "25.50") into cents.
pub fn parse_money(raw: &str) -> Option<i64> {
    let s = raw.trim().trim_start_matches('$');
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || whole.len() > 9
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = format!("{frac:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

fn not_found(what: &str) -> AppError {
    AppError::NotFound(format!("There is no such {what} in this account."))
}

/// Re-renders a form with its error (422).
fn refused(page: Result<Response, AppError>) -> Result<Response, AppError> {
    page.map(|r| (axum::http::StatusCode::UNPROCESSABLE_ENTITY, r).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips() {
        assert_eq!(money(&2550), "$25.50");
        assert_eq!(parse_money("25.5"), Some(2550));
        assert_eq!(parse_money("$25"), Some(2500));
        for bad in ["", "abc", "1.234", "-5", "1e3", "9999999999"] {
            assert_eq!(parse_money(bad), None, "{bad}");
        }
    }
}

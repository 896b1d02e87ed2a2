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
pub mod payment;
pub mod profile;
pub mod providers;
pub mod quotes;
pub mod services;
pub mod tickets;

use axum::{
    extract::{FromRequestParts, Request, State},
    handler::Handler,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{self, MethodRouter},
    Router,
};

use crate::{auth::session::Member, domain::permissions::Permission, error::AppError, state::AppState};

#[derive(Clone, Debug)]
pub struct RouteInfo {
    pub permission: Permission,
    /// The methods the route answers, as its handlers were added
    /// (`.get(..)`, `.post(..)`): the list cannot drift from the router.
    pub methods: Vec<&'static str>,
    /// With `{service}`, `{domain}`, `{invoice}`, `{quote}`, `{ticket}`,
    /// `{contact}` or `{email}` for the id of that kind of object.
    pub path: &'static str,
}

/// One section's routes, all behind one permission.
pub struct SectionRoutes {
    permission: Permission,
    routes: Vec<(RouteInfo, MethodRouter<AppState>)>,
}

impl SectionRoutes {
    pub fn new(permission: Permission) -> SectionRoutes {
        SectionRoutes { permission, routes: Vec::new() }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> SectionRoutes {
        self.add(path, "GET", routing::get(handler))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> SectionRoutes {
        self.add(path, "POST", routing::post(handler))
    }

    fn add(mut self, path: &'static str, method: &'static str, handler: MethodRouter<AppState>) -> SectionRoutes {
        match self.routes.iter_mut().find(|(info, _)| info.path == path) {
            Some((info, existing)) => {
                *existing = std::mem::replace(existing, MethodRouter::new()).merge(handler);
                info.methods.push(method);
            }
            None => {
                let info = RouteInfo { permission: self.permission, methods: vec![method], path };
                self.routes.push((info, handler));
            }
        }
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
    all().into_iter().flat_map(|s| s.routes).map(|(info, _)| info).collect()
}

pub fn router(state: &AppState) -> Router<AppState> {
    all().into_iter().fold(Router::new(), |app, s| {
        let guard = middleware::from_fn_with_state((state.clone(), s.permission), require);
        let section = s.routes.into_iter().fold(Router::new(), |r, (info, handler)| r.route(info.path, handler));
        app.merge(section.route_layer(guard))
    })
}

/// The guard in front of every section route: a member of the active
/// account with the section's permission (the owner has them all).
async fn require(State((state, permission)): State<(AppState, Permission)>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let member = match Member::from_request_parts(&mut parts, &state).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    if !member.account.allows(permission) {
        let label = permission.label();
        return AppError::Forbidden(format!(
            "Your access to {} does not include \"{label}\". Ask the account owner if you need it.",
            member.account.name
        ))
        .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
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
    /// The scope (issue 16) is applied in one place, the `visible_*` SQL
    /// functions: no section reads services, domains or tickets straight
    /// from their tables, unless a `scope-exempt:` comment just above says
    /// why that read is safe. A new section that forgets fails here.
    #[test]
    fn sections_read_services_domains_and_tickets_only_through_the_scope() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sections");
        let mut unscoped = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let reads = ["FROM ", "JOIN "].iter().any(|verb| {
                    ["services", "domains", "tickets"].iter().any(|table| {
                        let needle = format!("{verb}{table}");
                        line.match_indices(&needle).any(|(at, _)| {
                            let next = line[at + needle.len()..].chars().next();
                            !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        })
                    })
                });
                let exempt = lines[i.saturating_sub(8)..i].iter().any(|l| l.contains("scope-exempt:"));
                if reads && !exempt {
                    unscoped.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
        assert!(unscoped.is_empty(), "read without the member's scope:\n{}", unscoped.join("\n"));
    }
}

//! User Management: the owner's page for inviting people, changing what
//! they may do, and removing them. Every route here takes `Owner`: a member
//! never manages users, even with All Permissions. One file per flow; the
//! SQL is in `store`.

pub mod audit;
pub mod endings;
pub mod index;
pub mod invite;
pub mod permissions;
pub mod remove;
pub mod scope;
pub mod store;
pub mod two_factor_rule;

use axum::{
    routing::{get, post},
    Router,
};
use serde::Deserialize;

use crate::{
    domain::{
        cursor::Cursor,
        permissions::{Grant, Permission, PermissionSet},
    },
    error::AppError,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(index::page))
        .route("/users/invite", get(invite::page).post(invite::submit))
        .route("/users/audit", get(audit::page))
        .route("/users/two-factor-rule", post(two_factor_rule::submit))
        .route("/users/{user_id}/permissions", get(permissions::page).post(permissions::submit))
        .route("/users/{user_id}/remove", get(remove::page).post(remove::submit))
        .route("/users/invitations/{id}/resend", post(invite::resend))
        .route("/users/invitations/{id}/cancel", post(invite::cancel))
}

/// The All Permissions / Choose Permissions choice, as a form shows it.
pub struct GrantChoice {
    pub all: bool,
    pub chosen: PermissionSet,
}

impl GrantChoice {
    pub fn of(grant: &Grant) -> GrantChoice {
        match grant {
            Grant::All => GrantChoice { all: true, chosen: PermissionSet::default() },
            Grant::Chosen(set) => GrantChoice { all: false, chosen: *set },
        }
    }

    /// What the form sent, kept so a refused form shows what was ticked.
    pub fn from_form(mode: &str, keys: &[String]) -> GrantChoice {
        GrantChoice { all: mode == "all", chosen: keys.iter().filter_map(|k| k.parse().ok()).collect() }
    }

    pub fn permissions(&self) -> [Permission; 13] {
        Permission::ALL
    }

    pub fn ticked(&self, permission: &Permission) -> bool {
        self.chosen.contains(*permission)
    }
}

/// Manage Permissions' form, as sent: the All Permissions / Choose
/// Permissions choice, when the access ends, and which services and
/// domains it reaches.
#[derive(Deserialize)]
pub struct AccessForm {
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub access_until: String,
    /// "all" or "only": All services and domains, or Only these.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub scope_ids: Vec<String>,
    #[serde(default)]
    pub scope_search: String,
    /// The pick list's Find button: show the list for the search, save nothing.
    pub find: Option<String>,
}

fn bad_cursor() -> AppError {
    AppError::BadRequest("That page link is not valid. Go back to the first page.".into())
}

fn parse_cursor(raw: Option<&str>) -> Result<Option<Cursor>, AppError> {
    raw.filter(|s| !s.is_empty()).map(|s| Cursor::parse(s).ok_or_else(bad_cursor)).transpose()
}

fn not_a_member() -> AppError {
    AppError::NotFound("That person does not have access to this account.".into())
}

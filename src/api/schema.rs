//! The API's JSON: what the endpoints take and give, with their OpenAPI
//! schemas derived from the same types (so the document cannot drift).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::problem::Problem;
use crate::{
    domain::permissions::{Grant, GrantError, Permission},
    users::store::{AuditRow, InvitationRow, MemberRow},
};

/// All Permissions, or the chosen permission keys (see `GET /api/v1/permissions`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantJson {
    /// True for All Permissions; then `permissions` is empty.
    pub all: bool,
    #[serde(default)]
    pub permissions: Vec<String>,
}

impl GrantJson {
    pub fn of(grant: &Grant) -> GrantJson {
        GrantJson { all: grant.is_all(), permissions: grant.keys() }
    }

    /// The grant asked for, checked as the forms check it.
    pub fn parse(&self) -> Result<Grant, Problem> {
        let mode = if self.all { "all" } else { "choose" };
        Grant::parse(mode, &self.permissions).map_err(|e: GrantError| {
            let detail = match e {
                GrantError::NoneChosen => "Give \"all\": true, or at least one permission key.".to_string(),
                GrantError::AllWithTicks => {
                    "\"all\" is true but permissions were listed too: send one or the other.".to_string()
                }
                other => other.to_string(),
            };
            Problem::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, detail)
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct PermissionJson {
    pub key: &'static str,
    /// The label, word for word as in the help articles.
    pub label: &'static str,
    pub explanation: &'static str,
}

impl PermissionJson {
    pub fn of(p: Permission) -> PermissionJson {
        PermissionJson { key: p.key(), label: p.label(), explanation: p.explanation() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberJson {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub permissions: GrantJson,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
    /// The member signs in with a second step.
    pub two_factor: bool,
    /// When the member's access ends (or ended); null: no end.
    #[serde(with = "time::serde::rfc3339::option")]
    pub access_until: Option<OffsetDateTime>,
    /// The ids of the services and domains they reach; null: all of them.
    pub scope: Option<Vec<Uuid>>,
}

impl From<MemberRow> for MemberJson {
    fn from(m: MemberRow) -> MemberJson {
        MemberJson {
            permissions: GrantJson::of(&m.grant()),
            user_id: m.user_id,
            name: m.name,
            email: m.email,
            added_at: m.created_at,
            last_sign_in_at: m.last_sign_in_at,
            two_factor: m.two_factor,
            access_until: m.access_until,
            scope: m.scope,
        }
    }
}

/// An invitation's state, as User Management shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatusJson {
    Pending,
    Expired,
    Accepted,
    Cancelled,
    Declined,
    Replaced,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationJson {
    pub id: Uuid,
    pub email: String,
    pub permissions: GrantJson,
    pub status: InvitationStatusJson,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When the access it offers ends; null: no end.
    #[serde(with = "time::serde::rfc3339::option")]
    pub access_until: Option<OffsetDateTime>,
    /// The services and domains it reaches; null: all of them.
    pub scope: Option<Vec<Uuid>>,
}

impl From<InvitationRow> for InvitationJson {
    fn from(i: InvitationRow) -> InvitationJson {
        use crate::domain::invitation::InvitationStatus as S;
        let status = match i.status() {
            S::Pending => InvitationStatusJson::Pending,
            S::Expired => InvitationStatusJson::Expired,
            S::Accepted => InvitationStatusJson::Accepted,
            S::Cancelled => InvitationStatusJson::Cancelled,
            S::Declined => InvitationStatusJson::Declined,
            S::Replaced => InvitationStatusJson::Replaced,
        };
        InvitationJson {
            permissions: GrantJson::of(&i.grant()),
            status,
            id: i.id,
            email: i.email,
            sent_at: i.sent_at,
            expires_at: i.expires_at,
            access_until: i.access_until,
            scope: i.scope,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventJson {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who acted: "Name (address)".
    pub actor: Option<String>,
    /// The action's stable code, such as `member.permissions_changed`.
    pub action: &'static str,
    /// The action in words, as the audit log page shows it.
    pub action_label: &'static str,
    pub target_email: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

impl From<AuditRow> for AuditEventJson {
    fn from(e: AuditRow) -> AuditEventJson {
        AuditEventJson {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action.code(),
            action_label: e.action.label(),
            target_email: e.target_email,
            details: e.details,
            ip: e.ip,
        }
    }
}

/// One page of a list; `next_cursor` fetches the next (null on the last).
#[derive(Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberJson>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationPage {
    pub items: Vec<InvitationJson>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventJson>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page; leave out for the first.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountJson {
    pub id: Uuid,
    pub name: String,
    /// The login the token belongs to.
    pub caller: CallerJson,
    /// What this token may do now: its grant narrowed to the login's.
    pub token: TokenJson,
}

#[derive(Serialize, ToSchema)]
pub struct CallerJson {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub is_owner: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TokenJson {
    pub id: Uuid,
    pub permissions: GrantJson,
    pub manage_users: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct NewInvitation {
    pub email: String,
    pub permissions: GrantJson,
    /// When the access ends (RFC 3339); leave out for no end.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub access_until: Option<OffsetDateTime>,
    /// Only these services and domains (their ids); leave out for all.
    #[serde(default)]
    pub scope: Option<Vec<Uuid>>,
}

/// A member's access, as Manage Permissions sets it.
#[derive(Deserialize, ToSchema)]
pub struct MemberAccess {
    pub permissions: GrantJson,
    /// When the access ends (RFC 3339); null or left out: no end.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub access_until: Option<OffsetDateTime>,
    /// Only these services and domains (their ids); null: all of them;
    /// left out: the member's scope stays as it is.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub scope: Option<Option<Vec<Uuid>>>,
}

/// A field that was sent, null or not (`Some`), apart from one left out
/// (`None`, by `serde(default)`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A scope sent to the API, checked as the forms check it.
pub async fn check_scope(
    conn: &mut sqlx::PgConnection,
    account_id: Uuid,
    scope: Option<&[Uuid]>,
) -> Result<Option<Vec<Uuid>>, Problem> {
    crate::users::scope::check(conn, account_id, scope.is_some(), scope.unwrap_or_default())
        .await?
        .map_err(|e| Problem::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// An end date sent to the API must be in the future.
pub fn check_until(until: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), Problem> {
    match until {
        Some(at) if at <= now => {
            Err(Problem::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "access_until must be in the future."))
        }
        _ => Ok(()),
    }
}

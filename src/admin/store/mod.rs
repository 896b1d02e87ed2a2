//! What the staff area reads and changes: client search, an account's full
//! picture, a login's details, the cross-account audit log and failed mail
//! here; logins and tickets beside it. Every query is checked against the
//! schema at compile time.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

mod logins;
mod tickets;

pub use logins::{apply, enabled_client, is_enabled_staff, lock_client_login, LoginAction};
pub use tickets::{lock_ticket, open_tickets, ticket, TicketRow};

use crate::{
    domain::{
        audit::AuditAction,
        invitation::{InvitationDates, InvitationStatus},
        permissions::Grant,
    },
    web::contains_pattern,
};

/// How many rows a staff list shows at most.
pub const LIMIT: i64 = 100;

pub struct SearchHit {
    pub account_id: Uuid,
    pub account_name: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub owner_email: String,
}

/// Accounts whose name, or whose owner's or a member's name or email,
/// contains `q` (case-insensitive).
pub async fn search(db: &PgPool, q: &str) -> Result<Vec<SearchHit>, sqlx::Error> {
    let pattern = contains_pattern(&q.to_lowercase());
    sqlx::query_as!(
        SearchHit,
        "SELECT DISTINCT a.id AS account_id, a.name AS account_name, o.id AS owner_id, o.name AS owner_name,
                o.email AS owner_email
         FROM accounts a
         JOIN memberships om ON om.account_id = a.id AND om.is_owner
         JOIN users o ON o.id = om.user_id
         WHERE lower(a.name) LIKE $1
            OR a.id IN (SELECT m.account_id FROM memberships m JOIN users u ON u.id = m.user_id
                        WHERE u.email LIKE $1 OR lower(u.name) LIKE $1)
         ORDER BY a.name, a.id LIMIT $2",
        pattern,
        LIMIT
    )
    .fetch_all(db)
    .await
}

pub struct StaffLogin {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// Client logins whose name or email contains `q`.
pub async fn staff_matching(db: &PgPool, q: &str) -> Result<Vec<StaffLogin>, sqlx::Error> {
    let pattern = contains_pattern(&q.to_lowercase());
    sqlx::query_as!(
        StaffLogin,
        "SELECT id, name, email FROM users WHERE NOT is_staff AND (email LIKE $1 OR lower(name) LIKE $1)
         ORDER BY email LIMIT $2",
        pattern,
        LIMIT
    )
    .fetch_all(db)
    .await
}

pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub is_owner: bool,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
}

impl Member {
    pub fn access(&self) -> String {
        if self.is_owner {
            "Owner".into()
        } else {
            Grant::from_row(self.all_permissions, &self.permissions).describe()
        }
    }
}

pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    pub sent_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub declined_at: Option<OffsetDateTime>,
    pub replaced_by: Option<Uuid>,
}

impl Invitation {
    pub fn dates(&self) -> InvitationDates {
        InvitationDates {
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            cancelled_at: self.cancelled_at,
            declined: self.declined_at.is_some(),
            replaced: self.replaced_by.is_some(),
        }
    }

    pub fn status(&self) -> InvitationStatus {
        self.dates().status(OffsetDateTime::now_utc())
    }

    pub fn access(&self) -> String {
        Grant::from_row(self.all_permissions, &self.permissions).describe()
    }
}

pub struct MailRow {
    pub id: i64,
    pub to_email: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
}

pub struct AuditRow {
    pub at: OffsetDateTime,
    pub actor: Option<String>,
    pub account_id: Option<Uuid>,
    pub account_name: Option<String>,
    pub action: AuditAction,
    pub target_email: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

pub struct AccountView {
    pub id: Uuid,
    pub name: String,
    pub owner: Member,
    pub members: Vec<Member>,
    pub invitations: Vec<Invitation>,
    pub mails: Vec<MailRow>,
    pub audit: Vec<AuditRow>,
}

pub async fn account(db: &PgPool, id: Uuid) -> Result<Option<AccountView>, sqlx::Error> {
    let Some(name) = sqlx::query_scalar!("SELECT name FROM accounts WHERE id = $1", id).fetch_optional(db).await?
    else {
        return Ok(None);
    };
    let by_account = AuditFilter { account: Some(id), ..AuditFilter::default() };
    let (mut members, invitations, mails, audit) = tokio::try_join!(
        sqlx::query_as!(
            Member,
            "SELECT m.user_id, u.name, u.email, m.is_owner, m.all_permissions, m.permissions
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1
             ORDER BY m.is_owner DESC, m.created_at, m.user_id LIMIT $2",
            id,
            LIMIT + 1
        )
        .fetch_all(db),
        sqlx::query_as!(
            Invitation,
            "SELECT id, email, all_permissions, permissions, sent_at, expires_at, accepted_at, cancelled_at, declined_at,
                    replaced_by
             FROM invitations WHERE account_id = $1 ORDER BY sent_at DESC, id DESC LIMIT $2",
            id,
            LIMIT
        )
        .fetch_all(db),
        sqlx::query_as!(
            MailRow,
            "SELECT id, to_email, subject, status, attempts, last_error, created_at FROM mail_outbox
             WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
            id,
            LIMIT
        )
        .fetch_all(db),
        audit_log(db, &by_account),
    )?;
    let owner = members.remove(0);
    Ok(Some(AccountView { id, name, owner, members, invitations, mails, audit }))
}

#[derive(Default)]
pub struct AuditFilter {
    pub account: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: Option<AuditAction>,
    pub from: Option<time::Date>,
    pub to: Option<time::Date>,
}

pub async fn audit_log(db: &PgPool, f: &AuditFilter) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as!(
        AuditRow,
        r#"SELECT e.at, u.name || ' (' || u.email || ')' AS actor, e.account_id, a.name AS "account_name?",
                  e.action AS "action: AuditAction", e.target_email, e.details, e.ip
           FROM audit_events e
           LEFT JOIN users u ON u.id = e.actor_id
           LEFT JOIN accounts a ON a.id = e.account_id
           WHERE ($1::uuid IS NULL OR e.account_id = $1)
             AND ($2::text IS NULL OR u.email = $2)
             AND ($3::text IS NULL OR e.action = $3)
             AND ($4::date IS NULL OR e.at >= $4)
             AND ($5::date IS NULL OR e.at < $5 + 1)
           ORDER BY e.id DESC LIMIT $6"#,
        f.account,
        f.actor_email,
        f.action.map(AuditAction::code),
        f.from,
        f.to,
        LIMIT
    )
    .fetch_all(db)
    .await
}

pub async fn failed_mail(db: &PgPool) -> Result<Vec<MailRow>, sqlx::Error> {
    sqlx::query_as!(
        MailRow,
        "SELECT id, to_email, subject, status, attempts, last_error, created_at FROM mail_outbox
         WHERE status = 'failed' ORDER BY id DESC LIMIT $1",
        LIMIT
    )
    .fetch_all(db)
    .await
}

/// An account whose mail the budget held back lately.
pub struct OverBudget {
    pub account_id: Uuid,
    pub account_name: String,
    pub times: i64,
    pub last: OffsetDateTime,
}

pub async fn over_budget(db: &PgPool) -> Result<Vec<OverBudget>, sqlx::Error> {
    sqlx::query_as!(
        OverBudget,
        r#"SELECT a.id AS account_id, a.name AS account_name, count(*) AS "times!", max(e.at) AS "last!"
           FROM audit_events e JOIN accounts a ON a.id = e.account_id
           WHERE e.action IN ($1, $2) AND e.at > now() - interval '7 days'
           GROUP BY a.id, a.name ORDER BY max(e.at) DESC LIMIT $3"#,
        AuditAction::MailBudgetExceeded.code(),
        AuditAction::NoticeSkipped.code(),
        LIMIT
    )
    .fetch_all(db)
    .await
}

pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub two_factor: bool,
    pub is_staff: bool,
    pub disabled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub sessions: i64,
}

pub async fn user(db: &PgPool, id: Uuid) -> Result<Option<UserView>, sqlx::Error> {
    sqlx::query_as!(
        UserView,
        r#"SELECT u.id, u.name, u.email, u.email_verified_at, has_two_factor(u.id) AS "two_factor!", u.is_staff, u.disabled_at, u.created_at, u.last_sign_in_at,
                  (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.impersonator_id IS NULL) AS "sessions!"
           FROM users u WHERE u.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub struct UserAccount {
    pub account_id: Uuid,
    pub name: String,
    pub is_owner: bool,
}

pub async fn accounts_of(db: &PgPool, user_id: Uuid) -> Result<Vec<UserAccount>, sqlx::Error> {
    sqlx::query_as!(
        UserAccount,
        "SELECT a.id AS account_id, a.name, m.is_owner FROM memberships m JOIN accounts a ON a.id = m.account_id
         WHERE m.user_id = $1 ORDER BY m.is_owner DESC, a.name LIMIT $2",
        user_id,
        LIMIT
    )
    .fetch_all(db)
    .await
}

/// An account's name and its owner, in whose name staff send invitations.
pub struct OwnerOf {
    pub account_name: String,
    pub owner_name: String,
    pub owner_email: String,
}

pub async fn owner_of(db: &PgPool, account_id: Uuid) -> Result<Option<OwnerOf>, sqlx::Error> {
    sqlx::query_as!(
        OwnerOf,
        "SELECT a.name AS account_name, u.name AS owner_name, u.email AS owner_email
         FROM accounts a JOIN memberships m ON m.account_id = a.id AND m.is_owner JOIN users u ON u.id = m.user_id
         WHERE a.id = $1",
        account_id
    )
    .fetch_optional(db)
    .await
}

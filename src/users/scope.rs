//! "All services and domains" or "Only these": the part of Invite New User,
//! Manage Permissions and the API that limits a member to chosen services
//! and domains (on top of their permissions). The sections apply it through
//! the `visible_*` SQL functions; this is where it is chosen and checked.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One service or domain of the account, as the pick list shows it.
#[derive(sqlx::FromRow)]
pub struct ScopeOption {
    pub id: Uuid,
    pub label: String,
    pub kind: String,
}

/// The choice as a form shows it.
pub struct ScopeChoice {
    pub only: bool,
    pub ticked: Vec<Uuid>,
    /// The search typed in the pick list ("Find"), kept across re-renders.
    pub search: String,
    /// What the list shows: what matches the search, and everything ticked.
    pub options: Vec<ScopeOption>,
}

impl ScopeChoice {
    pub fn is_ticked(&self, id: &Uuid) -> bool {
        self.ticked.contains(id)
    }
}

/// The account's services and domains (at most 200 of each), optionally
/// only those whose label contains `search`, always with the ticked ones.
pub async fn options(
    db: &PgPool,
    account_id: Uuid,
    search: &str,
    ticked: &[Uuid],
) -> Result<Vec<ScopeOption>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, label, kind FROM (
             (SELECT s.id, p.name || ' (' || s.domain || ')' AS label, 'Service' AS kind, 0 AS k, s.created_at::text AS o
              FROM services s JOIN products p ON p.id = s.product_id WHERE s.account_id = $1
              ORDER BY s.created_at LIMIT 200)
             UNION ALL
             (SELECT d.id, d.name, 'Domain', 1, d.name FROM domains d WHERE d.account_id = $1 ORDER BY d.name LIMIT 200)
         ) o
         WHERE $2 = '' OR label ILIKE '%' || $2 || '%' OR id = ANY ($3)
         ORDER BY k, o",
    )
    .bind(account_id)
    .bind(search.replace(['%', '_', '\\'], ""))
    .bind(ticked)
    .fetch_all(db)
    .await
}

impl ScopeChoice {
    /// What a member's (or an invitation's) scope shows as.
    pub async fn of(db: &PgPool, account_id: Uuid, scope: Option<&[Uuid]>) -> Result<ScopeChoice, sqlx::Error> {
        let ticked = scope.map(<[Uuid]>::to_vec).unwrap_or_default();
        let options = options(db, account_id, "", &ticked).await?;
        Ok(ScopeChoice { only: scope.is_some(), ticked, search: String::new(), options })
    }

    /// What the form sent (`scope`, `scope_ids`, `scope_search`), with
    /// the list for its search.
    pub async fn from_form(
        db: &PgPool,
        account_id: Uuid,
        scope: &str,
        ids: &[String],
        search: &str,
    ) -> Result<ScopeChoice, sqlx::Error> {
        let ticked = ticked(ids);
        let search: String = search.trim().chars().take(100).collect();
        let options = options(db, account_id, &search, &ticked).await?;
        Ok(ScopeChoice { only: scope == "only", ticked, search, options })
    }
}

/// The ids a form ticked (anything that is not an id is left out, and
/// then fails `check` as not in the account).
pub fn ticked(ids: &[String]) -> Vec<Uuid> {
    ids.iter().map(|s| Uuid::parse_str(s).unwrap_or_else(|_| Uuid::nil())).collect()
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("Under \"Only these\", tick at least one service or domain.")]
    NoneTicked,
    #[error("Only services and domains of this account can be chosen.")]
    NotInAccount,
}

/// The scope asked for, checked: None for all; the ids must be services or
/// domains of the account.
pub async fn check(
    conn: &mut PgConnection,
    account_id: Uuid,
    only: bool,
    ids: &[Uuid],
) -> Result<Result<Option<Vec<Uuid>>, ScopeError>, sqlx::Error> {
    if !only {
        return Ok(Ok(None));
    }
    if ids.is_empty() {
        return Ok(Err(ScopeError::NoneTicked));
    }
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    let found: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM services WHERE account_id = $1 AND id = ANY ($2))
              + (SELECT count(*) FROM domains WHERE account_id = $1 AND id = ANY ($2))",
    )
    .bind(account_id)
    .bind(&ids)
    .fetch_one(conn)
    .await?;
    Ok(if found == ids.len() as i64 { Ok(Some(ids)) } else { Err(ScopeError::NotInAccount) })
}

/// A scope in words, for the audit log and the member list.
pub async fn describe(conn: &mut PgConnection, scope: Option<&[Uuid]>) -> Result<String, sqlx::Error> {
    let Some(ids) = scope else { return Ok("All services and domains".into()) };
    let labels: Vec<String> = sqlx::query_scalar(
        "SELECT label FROM (
             SELECT p.name || ' (' || s.domain || ')' AS label, 0 AS k FROM services s JOIN products p ON p.id = s.product_id
             WHERE s.id = ANY ($1)
             UNION ALL SELECT d.name, 1 FROM domains d WHERE d.id = ANY ($1)) l ORDER BY k, label",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(format!("Only {}", labels.join(", ")))
}

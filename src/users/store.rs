//! User Management queries. Lists are keyset-paginated over indexes, so a
//! page costs the same with 50 rows in the table or 10,000.

use sqlx::{PgPool, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    change::{AccountChange, Target},
    domain::{
        audit::AuditAction,
        cursor::Cursor,
        invitation::{InvitationDates, InvitationStatus},
        permissions::Grant,
    },
    web::{next_page, PAGE_SIZE},
};

#[derive(sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub all_permissions: bool,
    pub permissions: Vec<String>,
    pub created_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
    /// The member signs in with a second step.
    pub two_factor: bool,
    /// When the member's access ends (or ended), if it does.
    pub access_until: Option<OffsetDateTime>,
    /// The services and domains they reach; None: all.
    pub scope: Option<Vec<Uuid>>,
}

impl MemberRow {
    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }

    /// The end date as the forms show it (a day, or empty).
    pub fn access_until_day(&self) -> String {
        crate::domain::end_date::form_value(self.access_until)
    }

    /// Whether the access has ended by `now` (the row stays until the
    /// owner removes or extends it).
    pub fn ended(&self, now: &OffsetDateTime) -> bool {
        self.access_until.is_some_and(|t| t <= *now)
    }
}

/// What a change of permissions does to the end date and the scope:
/// staff's form leaves them as they are; Manage Permissions and the API
/// set them (None: no end, all services and domains).
pub struct Access {
    pub until: Option<OffsetDateTime>,
    pub scope: Option<Vec<Uuid>>,
}

#[derive(sqlx::FromRow)]
pub struct InvitationRow {
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
    /// When the access it offers ends, if it does.
    pub access_until: Option<OffsetDateTime>,
    /// The services and domains it reaches; None: all.
    pub scope: Option<Vec<Uuid>>,
}

impl InvitationRow {
    pub fn grant(&self) -> Grant {
        Grant::from_row(self.all_permissions, &self.permissions)
    }

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
}

/// The User Management page's data: a page of members (not the owner) in
/// the order they joined, a page of invitations, newest first, each with
/// the cursor of its next page, and the account's two-factor rule.
pub struct Lists {
    pub members: Vec<MemberRow>,
    pub next_members: Option<Cursor>,
    pub invitations: Vec<InvitationRow>,
    pub next_invitations: Option<Cursor>,
    pub require_two_factor: bool,
}

/// Reads `lists`: one statement, so the page costs two round trips with the
/// identity check; each list is read straight off its index, whatever the
/// table's size. Typed rows, not JSON: building JSON in Postgres and
/// parsing it again here was most of the page's cost.
pub async fn lists(
    db: &PgPool,
    account_id: Uuid,
    after: Option<Cursor>,
    iafter: Option<Cursor>,
) -> Result<Lists, sqlx::Error> {
    // Fixed fragments chosen by whether a cursor is given (a prepared
    // statement's generic plan cannot drop a "$3 IS NULL OR ..." condition,
    // and then misses the index); every value is bound.
    let member_after = if after.is_some() {
        "AND (m.created_at, m.user_id) > ($3, $4)"
    } else {
        "AND $3::timestamptz IS NULL AND $4::uuid IS NULL"
    };
    let invitation_after = if iafter.is_some() {
        "AND (i.sent_at, i.id) < ($5, $6)"
    } else {
        "AND $5::timestamptz IS NULL AND $6::uuid IS NULL"
    };
    let sql = format!(
        "(SELECT 0 AS kind, m.user_id AS id, u.name, u.email, m.all_permissions, m.permissions, m.created_at AS at,
                 u.last_sign_in_at, tf.enabled AS flag, m.access_until, m.scope,
                 NULL::timestamptz AS expires_at, NULL::timestamptz AS accepted_at, NULL::timestamptz AS cancelled_at,
                 NULL::timestamptz AS declined_at, NULL::uuid AS replaced_by
          FROM memberships m JOIN users u ON u.id = m.user_id CROSS JOIN LATERAL two_factor_of(m.user_id) tf
          WHERE m.account_id = $1 AND NOT m.is_owner {member_after}
          ORDER BY m.created_at, m.user_id LIMIT $2)
         UNION ALL
         (SELECT 1, i.id, NULL, i.email, i.all_permissions, i.permissions, i.sent_at, NULL, NULL, i.access_until, i.scope,
                 i.expires_at, i.accepted_at, i.cancelled_at, i.declined_at, i.replaced_by
          FROM invitations i
          WHERE i.account_id = $1 {invitation_after}
          ORDER BY i.sent_at DESC, i.id DESC LIMIT $2)
         UNION ALL
         SELECT 2, a.id, NULL, NULL, NULL, NULL, NULL, NULL, a.require_two_factor, NULL, NULL, NULL, NULL, NULL, NULL, NULL
         FROM accounts a WHERE a.id = $1"
    );
    let rows = sqlx::query(&sql)
        .bind(account_id)
        .bind(PAGE_SIZE + 1)
        .bind(after.map(|c| c.at))
        .bind(after.map(|c| c.id))
        .bind(iafter.map(|c| c.at))
        .bind(iafter.map(|c| c.id))
        .fetch_all(db)
        .await?;
    let mut lists = Lists {
        members: Vec::with_capacity(rows.len()),
        next_members: None,
        invitations: Vec::with_capacity(rows.len()),
        next_invitations: None,
        require_two_factor: false,
    };
    // Each row is a member (kind 0), an invitation (1) or the account (2),
    // in the columns they share. Columns are read by position, in the
    // statement's order: a page decodes some 1,600, and by name each was a
    // hash lookup (issue 17). A NULL where a value must be fails the decode.
    for r in &rows {
        match r.try_get::<i32, _>(0)? {
            0 => lists.members.push(MemberRow {
                user_id: r.try_get(1)?,
                name: r.try_get(2)?,
                email: r.try_get(3)?,
                all_permissions: r.try_get(4)?,
                permissions: r.try_get(5)?,
                created_at: r.try_get(6)?,
                last_sign_in_at: r.try_get(7)?,
                two_factor: r.try_get(8)?,
                access_until: r.try_get(9)?,
                scope: r.try_get(10)?,
            }),
            1 => lists.invitations.push(InvitationRow {
                id: r.try_get(1)?,
                email: r.try_get(3)?,
                all_permissions: r.try_get(4)?,
                permissions: r.try_get(5)?,
                sent_at: r.try_get(6)?,
                access_until: r.try_get(9)?,
                scope: r.try_get(10)?,
                expires_at: r.try_get(11)?,
                accepted_at: r.try_get(12)?,
                cancelled_at: r.try_get(13)?,
                declined_at: r.try_get(14)?,
                replaced_by: r.try_get(15)?,
            }),
            _ => lists.require_two_factor = r.try_get(8)?,
        }
    }
    // UNION ALL keeps each branch's order in practice but SQL does not
    // promise it; sorting an already sorted page of 51 is next to free.
    lists.members.sort_unstable_by_key(|m| (m.created_at, m.user_id));
    lists.invitations.sort_unstable_by_key(|i| std::cmp::Reverse((i.sent_at, i.id)));
    lists.next_members = next_page(&mut lists.members, |r| Cursor { at: r.created_at, id: r.user_id });
    lists.next_invitations = next_page(&mut lists.invitations, |r| Cursor { at: r.sent_at, id: r.id });
    Ok(lists)
}

/// A member of this account (never the owner), or None: ids from the URL
/// are only ever looked up within the active account.
pub async fn member(db: &PgPool, account_id: Uuid, user_id: Uuid) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"SELECT m.user_id, u.name, u.email, m.all_permissions, m.permissions, m.created_at, u.last_sign_in_at,
                  tf.enabled AS "two_factor!", m.access_until, m.scope
           FROM memberships m JOIN users u ON u.id = m.user_id CROSS JOIN LATERAL two_factor_of(m.user_id) tf
           WHERE m.account_id = $1 AND m.user_id = $2 AND NOT m.is_owner"#,
        account_id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// An invitation of this account, or None (the API answers with it).
pub async fn invitation(
    conn: &mut sqlx::PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as!(
        InvitationRow,
        "SELECT id, email, all_permissions, permissions, sent_at, expires_at, accepted_at, cancelled_at, declined_at,
                replaced_by, access_until, scope
         FROM invitations WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Sets a member's permissions; false when they are not a member (any more).
/// `reason`: why support made the change (staff give one; owners do not).
pub async fn set_permissions(
    change: &mut AccountChange<'_>,
    user_id: Uuid,
    grant: &Grant,
    access: Option<Access>,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let account_id = change.account_id;
    let before = sqlx::query!(
        "SELECT m.all_permissions, m.permissions, m.access_until, m.scope, u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.account_id = $1 AND m.user_id = $2 AND NOT m.is_owner FOR UPDATE OF m",
        account_id as Option<Uuid>,
        user_id
    )
    .fetch_optional(&mut **change)
    .await?;
    let Some(before) = before else { return Ok(false) };
    let (after_until, after_scope) = match access {
        None => (before.access_until, before.scope.clone()),
        Some(Access { until, scope }) => (until, scope),
    };
    // A new date gets its own "ends soon" and "ended" mails.
    sqlx::query!(
        "UPDATE memberships SET all_permissions = $3, permissions = $4, access_until = $5, scope = $6,
                ending_mailed_at = CASE WHEN access_until IS DISTINCT FROM $5 THEN NULL ELSE ending_mailed_at END,
                ended_mailed_at = CASE WHEN access_until IS DISTINCT FROM $5 THEN NULL ELSE ended_mailed_at END
         WHERE account_id = $1 AND user_id = $2",
        account_id as Option<Uuid>,
        user_id,
        grant.is_all(),
        &grant.keys(),
        after_until,
        after_scope.as_deref() as Option<&[Uuid]>
    )
    .execute(&mut **change)
    .await?;
    let email = before.email;
    let mut details = serde_json::json!({
        "before": Grant::from_row(before.all_permissions, &before.permissions).describe(),
        "after": grant.describe(),
    });
    if before.access_until != after_until {
        let said = |t: Option<OffsetDateTime>| t.map_or_else(|| "no end".to_string(), |t| crate::web::datetime(&t));
        details["access_until_before"] = said(before.access_until).into();
        details["access_until_after"] = said(after_until).into();
    }
    if before.scope != after_scope {
        details["scope_before"] = super::scope::describe(change, before.scope.as_deref()).await?.into();
        details["scope_after"] = super::scope::describe(change, after_scope.as_deref()).await?.into();
    }
    if let Some(reason) = reason {
        details["reason"] = reason.into();
    }
    let target = Target { user_id: Some(user_id), email: Some(&email) };
    change.audit(AuditAction::MemberPermissionsChanged, target, details).await?;
    Ok(true)
}

/// Ends a member's access; false when they were not a member.
pub async fn remove(change: &mut AccountChange<'_>, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query!(
        "DELETE FROM memberships m USING users u
         WHERE m.account_id = $1 AND m.user_id = $2 AND NOT m.is_owner AND u.id = m.user_id
         RETURNING m.all_permissions, m.permissions, u.email",
        change.account_id as Option<Uuid>,
        user_id
    )
    .fetch_optional(&mut **change)
    .await?;
    let Some(removed) = removed else { return Ok(false) };
    let account_id = change.account_id.unwrap_or_default();
    crate::tokens::store::revoke_all_of(change, account_id, user_id).await?;
    let email = removed.email;
    let details =
        serde_json::json!({ "had": Grant::from_row(removed.all_permissions, &removed.permissions).describe() });
    change.audit(AuditAction::MemberRemoved, Target { user_id: Some(user_id), email: Some(&email) }, details).await?;
    Ok(true)
}

pub struct AuditRow {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: Option<String>,
    pub action: AuditAction,
    pub target_email: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

/// One page of the account's audit log, newest first (`before`: an event id).
pub async fn audit_log(
    db: &PgPool,
    account_id: Uuid,
    before: Option<i64>,
) -> Result<(Vec<AuditRow>, Option<i64>), sqlx::Error> {
    let mut rows = sqlx::query_as!(
        AuditRow,
        r#"SELECT e.id, e.at, coalesce(u.name || ' (' || u.email || ')', 'deleted user') AS actor,
                  e.action AS "action: AuditAction", e.target_email, e.details, e.ip
           FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id
           WHERE e.account_id = $1 AND ($2::int8 IS NULL OR e.id < $2)
           ORDER BY e.id DESC LIMIT $3"#,
        account_id,
        before,
        PAGE_SIZE + 1
    )
    .fetch_all(db)
    .await?;
    let next = next_page(&mut rows, |r| r.id);
    Ok((rows, next))
}

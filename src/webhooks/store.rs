//! Webhook endpoints and their delivery log in Postgres.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::webhook_event::WebhookEvent;

/// How many endpoints one account may have.
pub const MAX_ENDPOINTS: i64 = 10;

pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

impl EndpointRow {
    /// The labels of the events it gets, in the form's order.
    pub fn event_labels(&self) -> String {
        let labels: Vec<&str> =
            WebhookEvent::ALL.iter().filter(|e| self.events.iter().any(|c| c == e.code())).map(|e| e.label()).collect();
        labels.join(", ")
    }
}

pub async fn list(db: &PgPool, account_id: Uuid) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as!(
        EndpointRow,
        "SELECT id, url, secret, events, created_at, disabled_at FROM webhook_endpoints
         WHERE account_id = $1 ORDER BY created_at, id",
        account_id
    )
    .fetch_all(db)
    .await
}

/// An endpoint of this account, or None: ids from the URL are only ever
/// looked up within the active account.
pub async fn get(db: &PgPool, account_id: Uuid, id: Uuid) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as!(
        EndpointRow,
        "SELECT id, url, secret, events, created_at, disabled_at FROM webhook_endpoints
         WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Adds an endpoint unless the account has `MAX_ENDPOINTS` already (the
/// account row is locked, so two at once cannot both fit the last place).
/// Returns the new id, or None when the account is full.
pub async fn create(
    conn: &mut PgConnection,
    account_id: Uuid,
    url: &str,
    secret: &str,
    events: &[WebhookEvent],
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query!("SELECT 1 AS locked FROM accounts WHERE id = $1 FOR NO KEY UPDATE", account_id)
        .fetch_optional(&mut *conn)
        .await?;
    let count =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM webhook_endpoints WHERE account_id = $1"#, account_id)
            .fetch_one(&mut *conn)
            .await?;
    if count >= MAX_ENDPOINTS {
        return Ok(None);
    }
    let id = Uuid::new_v4();
    let codes: Vec<String> = events.iter().map(|e| e.code().to_string()).collect();
    sqlx::query!(
        "INSERT INTO webhook_endpoints (id, account_id, url, secret, events) VALUES ($1, $2, $3, $4, $5)",
        id,
        account_id,
        url,
        secret,
        &codes
    )
    .execute(conn)
    .await?;
    Ok(Some(id))
}

/// Removes an endpoint and its log; its address, or None if not there.
pub async fn remove(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("DELETE FROM webhook_endpoints WHERE account_id = $1 AND id = $2 RETURNING url", account_id, id)
        .fetch_optional(conn)
        .await
}

/// Turns a paused endpoint on again with a new secret; its address, or
/// None if not paused. Endpoints are paused only when the account's
/// ownership moves, and the previous owner's secret is theirs: the new
/// owner must not be able to sign events that the previous owner's system
/// would trust.
pub async fn enable(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE webhook_endpoints SET disabled_at = NULL, secret = $3
         WHERE account_id = $1 AND id = $2 AND disabled_at IS NOT NULL
         RETURNING url",
        account_id,
        id,
        super::signature::new_secret()
    )
    .fetch_optional(conn)
    .await
}

/// Pauses every endpoint of the account (ownership moved).
pub async fn disable_all(conn: &mut PgConnection, account_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE webhook_endpoints SET disabled_at = now() WHERE account_id = $1 AND disabled_at IS NULL",
        account_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Test events one endpoint may be sent per hour: enough to try a
/// receiver, too few to crowd other accounts' deliveries out of the worker.
pub const TESTS_PER_HOUR: i64 = 10;

/// Test events sent to the endpoint in the last hour.
pub async fn recent_tests(conn: &mut PgConnection, endpoint_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM webhook_deliveries
           WHERE endpoint_id = $1 AND event_type = 'ping' AND created_at > now() - interval '1 hour'"#,
        endpoint_id
    )
    .fetch_one(conn)
    .await
}

/// Queues a `ping` event for one endpoint ("Send test event").
pub async fn queue_test(conn: &mut PgConnection, account_id: Uuid, endpoint_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, body)
         SELECT $2::uuid, one.id, 'ping',
                json_build_object('id', one.id, 'type', 'ping', 'created_at', now(), 'account_id', $1::uuid,
                                  'data', json_build_object('message', 'A test event from User Management.'))::text
         FROM (SELECT gen_random_uuid() AS id) one",
        account_id,
        endpoint_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub struct DeliveryRow {
    pub id: i64,
    pub event_type: String,
    pub event_id: Uuid,
    pub created_at: OffsetDateTime,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
}

/// The endpoint's latest deliveries, newest first.
pub async fn deliveries(db: &PgPool, endpoint_id: Uuid) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as!(
        DeliveryRow,
        "SELECT id, event_type, event_id, created_at, status, attempts, next_attempt_at, last_attempt_at,
                response_status, last_error
         FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT 50",
        endpoint_id
    )
    .fetch_all(db)
    .await
}

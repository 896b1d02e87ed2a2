//! The audit trail: who did what to whom, when and from where. Written in
//! the same transaction as the change it records.

use sqlx::{
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    Decode, Encode, PgConnection, Postgres, Type,
};
use uuid::Uuid;

use crate::domain::{audit::AuditAction, webhook_event::WebhookEvent};

pub struct Event<'a> {
    pub actor_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub target_user_id: Option<Uuid>,
    pub target_email: Option<&'a str>,
    pub action: AuditAction,
    pub details: serde_json::Value,
    pub ip: &'a str,
}

/// Records the event and, in the same statement, queues its webhook
/// deliveries for the account's endpoints subscribed to it: an event is
/// announced exactly when its change commits, and never without it.
pub async fn record(conn: &mut PgConnection, e: Event<'_>) -> Result<(), sqlx::Error> {
    let event = WebhookEvent::of(e.action).map(WebhookEvent::code);
    sqlx::query!(
        r#"WITH ev AS (
               INSERT INTO audit_events (actor_id, account_id, target_user_id, target_email, action, details, ip)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING at
           )
           INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, body)
           SELECT w.id, one.event_id, $8::text,
                  json_build_object('id', one.event_id, 'type', $8::text, 'created_at', ev.at, 'account_id', $2::uuid,
                                    'data', json_build_object('user_id', $3::uuid, 'email', $4::text, 'details', $6::jsonb))::text
           FROM ev, (SELECT gen_random_uuid() AS event_id) one, webhook_endpoints w
           WHERE $8::text IS NOT NULL AND w.account_id = $2 AND w.disabled_at IS NULL AND $8 = ANY (w.events)"#,
        e.actor_id,
        e.account_id,
        e.target_user_id,
        e.target_email,
        e.action as AuditAction,
        e.details,
        e.ip,
        event
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `audit_events.action` holds the action's code; reading back a code this
/// release does not know is a decoding error, never a raw code on a page.
impl Type<Postgres> for AuditAction {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for AuditAction {
    fn decode(value: PgValueRef<'r>) -> Result<AuditAction, BoxDynError> {
        Ok(<&str as Decode<Postgres>>::decode(value)?.parse()?)
    }
}

impl Encode<'_, Postgres> for AuditAction {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode_by_ref(&self.code(), buf)
    }
}

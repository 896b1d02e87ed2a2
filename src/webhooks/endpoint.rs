//! One webhook endpoint: its secret, its delivery log, "Send test event",
//! turning it on again after a change of owner, and removing it.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use uuid::Uuid;

use super::store;
use crate::{
    auth::{
        csrf::{CsrfForm, NoFields},
        session::Owner,
    },
    change::{AccountChange, Target},
    domain::audit::AuditAction,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "webhooks/endpoint.html")]
struct EndpointPage {
    layout: Layout,
    endpoint: store::EndpointRow,
    deliveries: Vec<store::DeliveryRow>,
    /// Support viewing the account: the signing secret stays the owner's.
    support_view: bool,
}

pub async fn page(State(state): State<AppState>, Owner(me): Owner, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let endpoint = store::get(&state.db, me.account.id, id).await?.ok_or_else(super::no_such_endpoint)?;
    let deliveries = store::deliveries(&state.db, id).await?;
    let support_view = me.user.impersonator.is_some();
    web::render(&EndpointPage { layout: Layout::of(&me.user), endpoint, deliveries, support_view })
}

pub async fn send_test(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let endpoint = store::get(&state.db, me.account.id, id).await?.ok_or_else(super::no_such_endpoint)?;
    if endpoint.disabled_at.is_some() {
        return Err(AppError::Conflict(
            "This endpoint is paused: turn it on again first (it then gets a new signing secret).".into(),
        ));
    }
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    if store::recent_tests(&mut change, id).await? >= store::TESTS_PER_HOUR {
        return Err(AppError::TooManyRequests(format!(
            "This endpoint has had {} test events in the last hour; please wait before sending another.",
            store::TESTS_PER_HOUR
        )));
    }
    store::queue_test(&mut change, me.account.id, id).await?;
    change.finish("A test event is on its way; its delivery shows below.", &format!("/users/webhooks/{id}")).await
}

pub async fn enable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let url = store::enable(&mut change, me.account.id, id).await?.ok_or_else(super::no_such_endpoint)?;
    let details = serde_json::json!({ "endpoint_id": id, "url": url });
    change.audit(AuditAction::WebhookEnabled, Target::default(), details).await?;
    change
        .finish(
            &format!("{url} gets events again, signed with a new secret (below)."),
            &format!("/users/webhooks/{id}"),
        )
        .await
}

pub async fn remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    Path(id): Path<Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let url = store::remove(&mut change, me.account.id, id).await?.ok_or_else(super::no_such_endpoint)?;
    let details = serde_json::json!({ "endpoint_id": id, "url": url });
    change.audit(AuditAction::WebhookRemoved, Target::default(), details).await?;
    change.finish(&format!("{url} no longer gets events."), "/users/webhooks").await
}

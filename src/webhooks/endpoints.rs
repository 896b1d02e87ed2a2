//! The list of an account's webhook endpoints, and adding one.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{address, signature, store};
use crate::{
    auth::{csrf::CsrfForm, session::Owner},
    change::{AccountChange, Target},
    domain::{audit::AuditAction, webhook_event::WebhookEvent},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "webhooks/endpoints.html")]
struct EndpointsPage {
    layout: Layout,
    endpoints: Vec<store::EndpointRow>,
    events: [WebhookEvent; 8],
    url: String,
    ticked: Vec<String>,
    error: Option<String>,
}

impl EndpointsPage {
    fn is_ticked(&self, event: &WebhookEvent) -> bool {
        self.ticked.iter().any(|c| c == event.code())
    }
}

pub async fn page(State(state): State<AppState>, Owner(me): Owner) -> Result<Response, AppError> {
    let endpoints = store::list(&state.db, me.account.id).await?;
    // A new endpoint hears of everything unless the owner unticks some.
    let ticked = WebhookEvent::ALL.iter().map(|e| e.code().to_string()).collect();
    web::render(&EndpointsPage {
        layout: Layout::of(&me.user),
        endpoints,
        events: WebhookEvent::ALL,
        url: String::new(),
        ticked,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

pub async fn add(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, AppError> {
    let refuse = |endpoints, message: String| -> Result<Response, AppError> {
        let page = EndpointsPage {
            layout: Layout::of(&me.user),
            endpoints,
            events: WebhookEvent::ALL,
            url: form.url.chars().take(2000).collect(),
            ticked: form.events.clone(),
            error: Some(message),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response())
    };
    let events: Result<Vec<WebhookEvent>, _> = form.events.iter().map(|c| c.parse::<WebhookEvent>()).collect();
    let events = match events {
        Ok(events) if events.is_empty() => {
            return refuse(store::list(&state.db, me.account.id).await?, "Tick at least one event.".into())
        }
        Ok(events) => events,
        Err(e) => return refuse(store::list(&state.db, me.account.id).await?, e.to_string()),
    };
    if form.url.len() > 2000 {
        return refuse(store::list(&state.db, me.account.id).await?, "That address is too long.".into());
    }
    let url = match address::check(&form.url, state.config.webhooks_allow_private, &state.config.webhook_ports).await {
        Ok(url) => url,
        Err(e) => return refuse(store::list(&state.db, me.account.id).await?, e.to_string()),
    };
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let Some(id) = store::create(&mut change, me.account.id, url.as_str(), &signature::new_secret(), &events).await?
    else {
        drop(change);
        let full = format!("An account can have at most {} webhook endpoints. Remove one first.", store::MAX_ENDPOINTS);
        return refuse(store::list(&state.db, me.account.id).await?, full);
    };
    let codes: Vec<&str> = events.iter().map(|e| e.code()).collect();
    let details = serde_json::json!({ "endpoint_id": id, "url": url.as_str(), "events": codes });
    change.audit(AuditAction::WebhookAdded, Target::default(), details).await?;
    change
        .finish(
            "Webhook endpoint added. Its signing secret is below: give it to the receiving end.",
            &format!("/users/webhooks/{id}"),
        )
        .await
}

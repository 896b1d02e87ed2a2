//! The Host header must name this panel. A page served under a foreign name
//! could be read by that name's scripts (DNS rebinding: a page on
//! evil.example resolves its own name to 127.0.0.1 and reads the local
//! mailbox), so anything else is answered 421 before any route runs.

use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::state::AppState;

pub async fn require_known_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_ascii_lowercase()));
    match host {
        Some(h) if state.config.allowed_hosts().contains(&h) => next.run(req).await,
        Some(_) => (
            StatusCode::MISDIRECTED_REQUEST,
            "This panel does not answer to that host name. Use the address in BASE_URL.",
        )
            .into_response(),
        None => (StatusCode::BAD_REQUEST, "A Host header is required.").into_response(),
    }
}

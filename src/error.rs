//! One error type for every handler. Whatever a user can cause becomes a
//! plain page with the right status; internal failures become a 500 page that
//! names the request id, and are logged once, inside the request's span.

use std::sync::Arc;

use crate::{hashing::HashError, layout::Layout};
use askama::Template;
use axum::{
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("What you sent is too large.")]
    TooLarge,
    #[error("The database is not answering. Please try again in a moment.")]
    Unavailable,
    #[error("Many people are signing in right now. Please try again in a moment.")]
    Busy,
    /// The request's transaction ran into its time bound (`db::begin`).
    #[error("This is busy right now, so nothing was changed. Please try again in a moment.")]
    TooBusy,
    /// New logins are refused first when hashing is busy (see `hashing`).
    #[error("Many people are signing up right now. Please try again in a minute.")]
    SignUpsBusy,
    /// Not signed in: send the visitor to sign in, then back here.
    #[error("sign in required")]
    SignInRequired { next: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if database_unavailable(&e) {
            if matches!(e, sqlx::Error::PoolTimedOut) {
                // The pool's worst waits, which never reach its wait histogram.
                metrics::counter!("panel_db_pool_timeouts_total").increment(1);
            }
            return AppError::Unavailable;
        }
        if let Some(kind) = took_too_long(&e) {
            tracing::warn!(error = %e, "a transaction ran into its time bound");
            metrics::counter!("panel_db_timeouts_total", "kind" => kind).increment(1);
            return AppError::TooBusy;
        }
        if lost_a_race(&e) {
            tracing::warn!(error = %e, "a change lost a race with another and was rolled back");
            metrics::counter!("panel_db_conflicts_total").increment(1);
            return AppError::Conflict(
                "This clashed with another change made at the same moment and did not finish. Please try again.".into(),
            );
        }
        AppError::Internal(e.into())
    }
}

/// Two transactions wanted each other's rows and Postgres rolled this one
/// back to end the wait (40P01): the transaction left nothing behind and
/// the same request would now work. (The message does not promise that
/// nothing was saved: a few requests commit one transaction before they
/// begin another.) Known to happen: a member's change holds their
/// membership (FOR SHARE) and then wants the account, while the owner's
/// rename holds the account and rewrites every membership's copy of the
/// owner's name.
fn lost_a_race(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01"))
}

/// A statement ran past `statement_timeout` (57014) or waited past
/// `lock_timeout` for a row another request holds (55P03): see `db::begin`.
fn took_too_long(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("57014") => Some("statement"),
            Some("55P03") => Some("lock"),
            _ => None,
        },
        _ => None,
    }
}

/// The database is down, restarting or unreachable: a plain 503 that tells
/// the visitor to retry, not a 500.
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        // 57P01-57P03: shutting down or starting up; class 08: connection failures.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => AppError::Busy,
            HashError::Failed(m) => AppError::Internal(anyhow::anyhow!(m)),
        }
    }
}

impl AppError {
    /// A hashing error while making a new login: busy says "signing up".
    pub fn from_new_login(e: HashError) -> AppError {
        match e {
            HashError::Busy => AppError::SignUpsBusy,
            other => other.into(),
        }
    }
}

/// The one internal variant of every service's error enum: the database
/// failed, or a mail could not be rendered. Kept apart from `anyhow` so a
/// database that is down still becomes a 503, not a 500.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Render(#[from] askama::Error),
}

impl From<Internal> for AppError {
    fn from(e: Internal) -> Self {
        match e {
            Internal::Db(e) => e.into(),
            Internal::Render(e) => e.into(),
        }
    }
}

/// Gives a service error enum with an `Internal(Internal)` variant the
/// conversions `?` needs from sqlx and askama errors.
macro_rules! internal_error_from {
    ($service_error:ty) => {
        impl From<$crate::error::Internal> for $service_error {
            fn from(e: $crate::error::Internal) -> Self {
                Self::Internal(e)
            }
        }
        impl From<sqlx::Error> for $service_error {
            fn from(e: sqlx::Error) -> Self {
                Self::Internal(e.into())
            }
        }
        impl From<askama::Error> for $service_error {
            fn from(e: askama::Error) -> Self {
                Self::Internal(e.into())
            }
        }
    };
}
pub(crate) use internal_error_from;

/// Marks a response as an internal failure for `render_errors`.
#[derive(Clone)]
struct InternalFailure(Arc<anyhow::Error>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "That did not work"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            AppError::Gone(_) => (StatusCode::GONE, "This link no longer works"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "That did not work"),
            AppError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
            AppError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Too large"),
            AppError::Unavailable | AppError::Busy | AppError::SignUpsBusy | AppError::TooBusy => {
                (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable")
            }
            AppError::SignInRequired { next } => {
                return Redirect::to(&format!("/login?next={}", url_encode(next))).into_response()
            }
            AppError::Internal(e) => {
                let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                res.extensions_mut().insert(InternalFailure(Arc::new(anyhow::anyhow!("{e:#}"))));
                return res;
            }
        };
        error_page(status, title, &self.to_string(), None)
    }
}

/// Percent-encodes a path for the `next=` parameter (`/` kept readable).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    details: &'a ErrorDetails,
    /// A page the person could open before (see `error_pages`).
    back: Option<&'a str>,
}

/// What an error page says; kept on the response so `error_pages` can show
/// it again inside a signed-in person's own page frame.
#[derive(Clone, Debug)]
pub struct ErrorDetails {
    pub title: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl ErrorDetails {
    /// The page, in `layout`'s frame.
    pub fn render(&self, status: StatusCode, layout: Layout, back: Option<&str>) -> Response {
        let page = ErrorPage { layout, details: self, back };
        let mut res = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.message.clone()).into_response(),
        };
        res.extensions_mut().insert(self.clone());
        res
    }
}

/// The error page as a signed-out visitor sees it.
pub fn error_page(status: StatusCode, title: &str, message: &str, request_id: Option<&str>) -> Response {
    let details = ErrorDetails {
        title: title.to_string(),
        message: message.to_string(),
        request_id: request_id.map(str::to_string),
    };
    details.render(status, Layout::signed_out(), None)
}

/// Turns bare error responses (ours, axum's 404/405, body-limit 413, timeout
/// 408) into pages, and logs internal failures with the request id.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    // The API answers every error as a problem document, never a page.
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    if let Some(InternalFailure(err)) = res.extensions().get::<InternalFailure>().cloned() {
        tracing::error!(error = %err, "request failed");
        return error_page(
            status,
            "Something went wrong",
            "An unexpected error happened on our side. Nothing you did caused it. If it keeps happening, tell support this request id:",
            Some(&request_id),
        );
    }
    let is_bare = !res.headers().contains_key(header::CONTENT_TYPE)
        || res.headers().get(header::CONTENT_TYPE) == Some(&HeaderValue::from_static("text/plain; charset=utf-8"));
    if (status.is_client_error() || status.is_server_error()) && is_bare && is_api {
        let mut problem = crate::api::problem::Problem::for_bare(status);
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                problem.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return problem;
    }
    if (status.is_client_error() || status.is_server_error()) && is_bare {
        let message = match status {
            StatusCode::NOT_FOUND => "There is no page at this address.",
            StatusCode::METHOD_NOT_ALLOWED => "This address does not accept that kind of request.",
            StatusCode::PAYLOAD_TOO_LARGE => "What you sent is too large.",
            StatusCode::REQUEST_TIMEOUT => "That took too long. Please try again.",
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
                "The form was not sent in a way we understand. Please reload the page and try again."
            }
            StatusCode::BAD_REQUEST => {
                "That address or form could not be understood. Check the link, or reload the page and try again."
            }
            s if s.is_server_error() => "The service is temporarily unavailable. Please try again in a moment.",
            _ => "That request could not be handled.",
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let mut page = error_page(status, title, message, None);
        // Keep headers such as Allow on 405.
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                page.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return page;
    }
    res
}

/// An error with its causes, "outer: inner: ...": the top-level message of
/// a transport error alone is often just "error sending request".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

//! RFC 9457 problem details: every error the API gives, as
//! `application/problem+json`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// What went wrong, in words a script's author can act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's name, such as "Not Found".
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Seconds until the rate limit lifts (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn rate_limited(retry_after: u64) -> Problem {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("This token has made too many calls in the last minute. Try again in {retry_after} seconds."),
        );
        p.retry_after = Some(retry_after);
        p
    }

    /// The answer for an error response that has no problem body yet (an
    /// unknown path, a method the path does not take, a body too large).
    pub fn for_bare(status: StatusCode) -> Response {
        let detail = match status {
            StatusCode::NOT_FOUND => "There is no such API path. See /api/v1/openapi.json for the paths.",
            StatusCode::METHOD_NOT_ALLOWED => "This path does not take that method.",
            StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
            StatusCode::REQUEST_TIMEOUT => "The request took too long.",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Send the body as JSON, with Content-Type: application/json.",
            s if s.is_server_error() => "The service is temporarily unavailable. Please try again in a moment.",
            _ => "The request could not be understood.",
        };
        Problem::new(status, detail).into_response()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
        }
        res
    }
}

/// The page handlers' errors, said the API's way; the messages are the same.
impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        let status = match &e {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable | AppError::Busy | AppError::SignUpsBusy | AppError::TooBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::SignInRequired { .. } => StatusCode::UNAUTHORIZED,
            AppError::Internal(err) => {
                tracing::error!(error = %err, "API request failed");
                return Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An unexpected error happened on our side. If it keeps happening, tell support the x-request-id of this answer.",
                );
            }
        };
        Problem::new(status, e.to_string())
    }
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Problem {
        AppError::from(e).into()
    }
}

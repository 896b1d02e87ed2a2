//! The members API, `/api/v1`: JSON over HTTPS with a bearer token (see
//! `tokens`), for scripts that do what User Management does. Every change
//! goes through the page handlers' own functions and `AccountChange`.
//!
//! Routes are registered with `utoipa-axum`, so the OpenAPI 3.1 document at
//! `/api/v1/openapi.json` is generated from these very handlers. Errors are
//! RFC 9457 problems (`problem`); lists are cursor-paged.

pub mod account;
pub mod audit;
pub mod caller;
pub mod invitations;
pub mod members;
pub mod problem;
pub mod schema;

use std::sync::{Arc, LazyLock};

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use serde::de::DeserializeOwned;
use utoipa::{
    openapi::{
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        Content, OpenApi as Document, Ref, ResponseBuilder,
    },
    Modify, OpenApi,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{domain::cursor::Cursor, state::AppState};
use problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Panel members API",
        description = "Manage who has access to a client account: members, invitations, permissions and the audit log. \
                       Authenticate with a personal API token (Authorization: Bearer pnl_…).",
    ),
    components(schemas(Problem)),
    security(("token" = [])),
)]
struct ApiDoc;

/// What every operation shares: the bearer token scheme, and the problem
/// answers any call can get (a token refused, the rate limit, a bad
/// request, an id not in the account, an error on our side).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token, pnl_…"))
                    .build(),
            ),
        );
        let common = [
            ("400", "The request could not be understood (a bad cursor, a malformed id or body)"),
            ("401", "No token, or a token that is not valid, revoked, expired, or whose login lost access"),
            ("403", "The token or its login may not do this"),
            ("404", "No such object in this account"),
            ("422", "The body was understood but is not acceptable (an address, a permission key)"),
            ("429", "Too many calls from this token (see Retry-After), or the account's invitation limit"),
            ("500", "An error on our side"),
            ("503", "The service is busy or the database is not answering"),
        ];
        for item in doc.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for (status, description) in common {
                    operation.responses.responses.entry(status.to_string()).or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(problem::CONTENT_TYPE, Content::new(Some(Ref::from_schema_name("Problem"))))
                            .build()
                            .into()
                    });
                }
            }
        }
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(account::get_account))
        .routes(routes!(account::list_permissions))
        .routes(routes!(members::list_members))
        .routes(routes!(members::get_member, members::remove_member))
        .routes(routes!(members::set_permissions))
        .routes(routes!(invitations::list_invitations, invitations::create_invitation))
        .routes(routes!(invitations::resend_invitation))
        .routes(routes!(invitations::cancel_invitation))
        .routes(routes!(audit::list_audit))
        .routes(routes!(openapi_json))
}

/// The OpenAPI document, made once.
pub fn openapi() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(|| {
        // The modifier runs once every route is in (derive-time modifiers
        // would see no paths yet).
        let mut doc = api_router().into_openapi();
        Conventions.modify(&mut doc);
        doc
    });
    &DOC
}

pub fn router() -> Router<AppState> {
    let (router, _) = api_router().split_for_parts();
    router
}

/// This document: OpenAPI 3.1, generated from the handlers.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json")))]
async fn openapi_json() -> Response {
    static JSON: LazyLock<Arc<str>> =
        LazyLock::new(|| openapi().to_pretty_json().unwrap_or_else(|_| "{}".into()).into());
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], JSON.to_string()).into_response()
}

fn bad_cursor() -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "That cursor is not valid. Leave it out to start from the first page.")
}

fn cursor(raw: Option<&str>) -> Result<Option<Cursor>, Problem> {
    raw.filter(|s| !s.is_empty()).map(|s| Cursor::parse(s).ok_or_else(bad_cursor)).transpose()
}

/// A JSON body, refused as a problem (not axum's plain text) when it is
/// missing, not JSON, or not the expected shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(Problem::new(e.status(), e.body_text())),
        }
    }
}

/// A path id, refused as a problem when it is not an id at all.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(_) => Err(Problem::new(StatusCode::NOT_FOUND, "There is no such object: that id is not valid.")),
        }
    }
}

//! CSRF protection for every POST: the browser must say the request comes
//! from this site (Sec-Fetch-Site / Origin), and the form must carry the
//! token of this session (signed in) or of this browser (signed out).

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap},
    middleware::Next,
    response::Response,
};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::{auth::session::CurrentUser, domain::token, error::AppError, state::AppState, web};

const ANON_COOKIE: &str = "panel_csrf";

/// The only forms staff may send while viewing the client area as a
/// client: anything else would be recorded as the client's own doing.
const SUPPORT_VIEW_POSTS: [&str; 3] = ["/admin/return", "/accounts/switch", "/logout"];

/// The signed-out visitor's CSRF token (from its cookie, or new).
#[derive(Clone)]
pub struct AnonCsrf(pub String);

/// Gives every visitor a CSRF cookie, so signed-out forms (sign in,
/// register, reset) are protected without a database row per visitor.
pub async fn ensure_anon_cookie(state: axum::extract::State<AppState>, mut req: Request, next: Next) -> Response {
    let existing = web::cookie(req.headers(), ANON_COOKIE).filter(|t| token::well_formed(t)).map(str::to_string);
    let token = existing.clone().unwrap_or_else(token::generate);
    req.extensions_mut().insert(AnonCsrf(token.clone()));
    let mut res = next.run(req).await;
    if existing.is_none() {
        res.headers_mut()
            .append(header::SET_COOKIE, web::set_cookie(ANON_COOKIE, &token, None, state.config.secure_cookies()));
    }
    res
}

impl<S: Send + Sync> FromRequestParts<S> for AnonCsrf {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<AnonCsrf>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("ensure_anon_cookie layer missing")))
    }
}

fn refused() -> AppError {
    AppError::Forbidden(
        "This form could not be accepted because it did not come from this site's current page. Nothing was changed. Reload the page and try again.".into(),
    )
}

/// Browsers say where a request came from; refuse anything cross-site.
/// Sec-Fetch-Site, where sent, decides (pages cannot forge it; and our
/// `Referrer-Policy: no-referrer` makes browsers send `Origin: null` on
/// forms). Otherwise an Origin must be this panel's own (BASE_URL's, or the
/// listen address's), never merely whatever the Host header claims.
fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("").to_ascii_lowercase()) {
        Some(origin) if origin != "null" => state.config.allowed_origins().contains(&origin),
        // No Origin (not a browser, or an old one): the token still decides.
        _ => true,
    }
}

/// The body of a form that is only a button (and its CSRF token).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// A form body that passed the CSRF checks, parsed into `T` (repeated keys,
/// such as ticked checkboxes, collect into a `Vec`).
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        if !same_origin(req.headers(), state) {
            return Err(refused());
        }
        let expected = match req.extensions().get::<CurrentUser>() {
            Some(user) if user.impersonator.is_some() && !SUPPORT_VIEW_POSTS.contains(&req.uri().path()) => {
                return Err(AppError::Forbidden(
                    "The support view is read-only. Make changes for the client from the staff area, where they are recorded as yours.".into(),
                ))
            }
            Some(user) => user.csrf_token.clone(),
            None => req.extensions().get::<AnonCsrf>().map(|c| c.0.clone()).ok_or_else(refused)?,
        };
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::BadRequest("Please send this form from its page.".into()));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge
            } else {
                AppError::BadRequest("The form could not be read.".into())
            }
        })?;
        if !decodes_to_utf8(&body) {
            return Err(malformed());
        }
        let TokenField { csrf_token } = serde_html_form::from_bytes(&body).map_err(|_| malformed())?;
        let given = csrf_token.unwrap_or_default();
        if given.len() != expected.len() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(refused());
        }
        serde_html_form::from_bytes(&body).map(CsrfForm).map_err(|_| malformed())
    }
}

fn malformed() -> AppError {
    AppError::BadRequest(
        "The form was not filled in as expected. Nothing was changed. Reload the page and try again.".into(),
    )
}

/// Form decoding replaces invalid UTF-8 with U+FFFD without a word; we
/// refuse such a form instead of storing mangled text.
fn decodes_to_utf8(body: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'%' if i + 2 < body.len() => {
                let hex = std::str::from_utf8(&body[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        decoded.push(b);
                        i += 3;
                    }
                    None => return false,
                }
            }
            b'&' | b'=' => {
                if std::str::from_utf8(&decoded).is_err() {
                    return false;
                }
                decoded.clear();
                i += 1;
            }
            b => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::decodes_to_utf8;

    #[test]
    fn plain_and_percent_encoded_utf8_forms_decode() {
        assert!(decodes_to_utf8(b""));
        assert!(decodes_to_utf8(b"name=Ann&email=ann%40example.com"));
        assert!(decodes_to_utf8("name=Zo%C3%AB&city=K%C3%B8benhavn".as_bytes()));
        assert!(decodes_to_utf8("name=Zoë".as_bytes()), "raw UTF-8 bytes are fine too");
        assert!(decodes_to_utf8(b"a=100%"), "a lone % at the end is kept as text");
    }

    #[test]
    fn invalid_utf8_is_refused_in_keys_values_and_across_escapes() {
        assert!(!decodes_to_utf8(b"name=%FF"));
        assert!(!decodes_to_utf8(b"%C3=x"), "a key cut in the middle of a character");
        assert!(!decodes_to_utf8(b"name=%C3&x=%A9"), "a character split across two fields");
        assert!(!decodes_to_utf8(b"name=%ZZabc"), "an escape that is not hex");
        assert!(!decodes_to_utf8(&[b'a', b'=', 0xC3]), "raw invalid bytes");
    }
}

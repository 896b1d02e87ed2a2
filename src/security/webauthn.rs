//! Passkeys' plumbing: the relying party (from BASE_URL), the ceremonies
//! under way (each challenge waits in Postgres between its two requests,
//! its token in a short-lived cookie), and the stored passkeys.

use axum::http::{header, HeaderMap, HeaderValue};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;
use webauthn_rs::{
    prelude::{Passkey, PasskeyAuthentication, PublicKeyCredential, Url},
    Webauthn, WebauthnBuilder,
};

use crate::{domain::token, error::AppError, state::AppState, web};

/// How long a ceremony waits for the browser's answer.
const CEREMONY_MINUTES: i32 = 5;
const COOKIE: &str = "panel_webauthn";

/// The relying party for BASE_URL: its host name and origin. Browsers allow
/// passkeys only for a domain name over https, or `localhost` over http; a
/// local BASE_URL on 127.0.0.1 or ::1 therefore offers them at
/// `http://localhost:<port>`. Any other address: no passkeys (`None`).
pub fn relying_party(base_url: &str) -> Option<Webauthn> {
    let mut origin = Url::parse(base_url).ok()?;
    let loopback = origin
        .host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if loopback {
        origin.set_host(Some("localhost")).ok()?;
    }
    let rp_id = origin.domain()?.to_string();
    if origin.scheme() != "https" && rp_id != "localhost" {
        return None;
    }
    WebauthnBuilder::new(&rp_id, &origin).ok()?.rp_name("Billing Panel").build().ok()
}

pub fn unavailable() -> AppError {
    AppError::NotFound(
        "Passkeys are not available here: the panel must be reached by its domain name over https (or at localhost)."
            .into(),
    )
}

/// Keeps a ceremony's state until the browser answers; the cookie to set.
pub async fn begin<S: Serialize>(
    state: &AppState,
    user_id: Uuid,
    purpose: &str,
    passkey_name: Option<&str>,
    ceremony: &S,
) -> Result<HeaderValue, AppError> {
    let token = token::generate();
    let json = serde_json::to_value(ceremony).map_err(|e| AppError::Internal(e.into()))?;
    sqlx::query!(
        "INSERT INTO webauthn_ceremonies (token_hash, user_id, purpose, passkey_name, state, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(mins => $6))",
        token::hash(&token),
        user_id,
        purpose,
        passkey_name,
        json,
        CEREMONY_MINUTES
    )
    .execute(&state.db)
    .await?;
    let secure = state.config.secure_cookies();
    Ok(web::set_cookie(COOKIE, &token, Some(i64::from(CEREMONY_MINUTES) * 60), secure))
}

/// A ceremony taken (once) by the browser's cookie.
pub struct Ceremony<S> {
    pub user_id: Uuid,
    pub passkey_name: Option<String>,
    pub state: S,
}

fn expired() -> AppError {
    AppError::Gone("That passkey request has expired or was used already. Please try again.".into())
}

pub async fn take<S: DeserializeOwned>(
    conn: &mut PgConnection,
    headers: &HeaderMap,
    purpose: &str,
) -> Result<Ceremony<S>, AppError> {
    let cookie = web::cookie(headers, COOKIE).filter(|t| token::well_formed(t)).ok_or_else(expired)?;
    let row = sqlx::query!(
        "DELETE FROM webauthn_ceremonies WHERE token_hash = $1 AND purpose = $2 AND expires_at > now()
         RETURNING user_id, passkey_name, state",
        token::hash(cookie),
        purpose
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(expired)?;
    let state = serde_json::from_value(row.state).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Ceremony { user_id: row.user_id, passkey_name: row.passkey_name, state })
}

/// The cookie that ends a ceremony in the browser.
pub fn clear_cookie(state: &AppState) -> (header::HeaderName, HeaderValue) {
    (header::SET_COOKIE, web::set_cookie(COOKIE, "", Some(0), state.config.secure_cookies()))
}

/// The browser's answer, as the page's script sends it (a form field).
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, AppError> {
    serde_json::from_str(json).map_err(|_| AppError::BadRequest("The passkey's answer could not be read.".into()))
}

/// A login's passkeys, as webauthn-rs keeps them.
pub async fn passkeys_of(db: impl sqlx::PgExecutor<'_>, user_id: Uuid) -> Result<Vec<Passkey>, AppError> {
    let rows = sqlx::query_scalar!("SELECT passkey FROM passkeys WHERE user_id = $1 ORDER BY created_at", user_id)
        .fetch_all(db)
        .await?;
    rows.into_iter().map(|v| serde_json::from_value(v).map_err(|e| AppError::Internal(e.into()))).collect()
}

/// Checks the browser's signed answer against the ceremony the cookie names
/// (for `expected` when the login is known already), and keeps the
/// passkey's counter. The login it signed in.
pub async fn finish_authentication(
    state: &AppState,
    webauthn: &Webauthn,
    headers: &HeaderMap,
    credential: &str,
    expected: Option<Uuid>,
) -> Result<Uuid, AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    let ceremony: Ceremony<PasskeyAuthentication> = take(&mut tx, headers, "authenticate").await?;
    if expected.is_some_and(|u| u != ceremony.user_id) {
        return Err(expired());
    }
    let credential: PublicKeyCredential = parse(credential)?;
    let refused =
        || AppError::Forbidden("That passkey did not sign in. Try again, or use another way to sign in.".into());
    let result = webauthn.finish_passkey_authentication(&credential, &ceremony.state).map_err(|_| refused())?;
    let row = sqlx::query!(
        "SELECT id, passkey FROM passkeys WHERE user_id = $1 AND credential_id = $2 FOR UPDATE",
        ceremony.user_id,
        result.cred_id().as_slice()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(refused)?;
    let mut passkey: Passkey = serde_json::from_value(row.passkey).map_err(|e| AppError::Internal(e.into()))?;
    passkey.update_credential(&result);
    let json = serde_json::to_value(&passkey).map_err(|e| AppError::Internal(e.into()))?;
    sqlx::query!("UPDATE passkeys SET passkey = $2, last_used_at = now() WHERE id = $1", row.id, json)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ceremony.user_id)
}

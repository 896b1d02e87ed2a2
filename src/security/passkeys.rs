//! Passkeys: adding one (named) on the Security page, removing one (with
//! the password), using one as the second step, and "Sign in with a
//! passkey" on the sign-in page (a passkey is two factors in one: the
//! device, and the fingerprint or PIN that unlocks it). The browser's side
//! is `static/passkeys.js`; without JavaScript every other way still works.

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Json, Redirect, Response},
};
use serde::Deserialize;
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyAuthentication, PasskeyRegistration, RegisterPublicKeyCredential};

use super::{notices, page, second_step, store, webauthn};
use crate::{
    auth::{
        self,
        csrf::{CsrfForm, NoFields},
        rate_limit,
        session::{self, CurrentUser},
        store as login_store, SignIn,
    },
    domain::{email::Email, names::clean_name},
    error::AppError,
    state::AppState,
    web::ClientIp,
};

fn relying_party(state: &AppState) -> Result<&webauthn_rs::Webauthn, AppError> {
    state.webauthn.as_deref().ok_or_else(webauthn::unavailable)
}

#[derive(Deserialize)]
pub struct NameForm {
    name: String,
}

/// Starts adding a passkey: the options the browser's authenticator needs.
pub async fn add_start(
    State(state): State<AppState>,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, AppError> {
    let rp = relying_party(&state)?;
    let name =
        clean_name(&form.name, "a name for the passkey (such as \"Work laptop\")").map_err(AppError::BadRequest)?;
    if name.chars().count() > 100 {
        return Err(AppError::BadRequest("A passkey's name is at most 100 characters.".into()));
    }
    let existing = webauthn::passkeys_of(&state.db, user.id).await?;
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (options, registration) = rp
        .start_passkey_registration(user.id, &user.email, &user.name, Some(exclude))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey registration: {e:?}")))?;
    let cookie = webauthn::begin(&state, user.id, "register", Some(&name), &registration).await?;
    Ok(([(axum::http::header::SET_COOKIE, cookie)], Json(options)).into_response())
}

#[derive(Deserialize)]
pub struct CredentialForm {
    credential: String,
}

pub async fn add_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<CredentialForm>,
) -> Result<Response, AppError> {
    let rp = relying_party(&state)?;
    let mut tx = crate::db::begin(&state.db).await?;
    let ceremony: webauthn::Ceremony<PasskeyRegistration> = webauthn::take(&mut tx, &headers, "register").await?;
    if ceremony.user_id != user.id {
        return Err(AppError::Forbidden("That passkey request belongs to another sign-in.".into()));
    }
    let credential: RegisterPublicKeyCredential = webauthn::parse(&form.credential)?;
    let passkey = rp
        .finish_passkey_registration(&credential, &ceremony.state)
        .map_err(|_| AppError::BadRequest("The passkey could not be added. Please try again.".into()))?;
    let name = ceremony.passkey_name.unwrap_or_else(|| "Passkey".into());
    let json = serde_json::to_value(&passkey).map_err(|e| AppError::Internal(e.into()))?;
    sqlx::query!(
        "INSERT INTO passkeys (id, user_id, name, credential_id, passkey) VALUES ($1, $2, $3, $4, $5)",
        Uuid::new_v4(),
        user.id,
        name,
        passkey.cred_id().as_slice(),
        json
    )
    .execute(&mut *tx)
    .await?;
    notices::passkey_added(&mut tx, &state.config, user.id, &name, &ip).await?;
    session::set_flash(&mut *tx, user.session_id, &format!("Passkey \"{name}\" added.")).await?;
    tx.commit().await?;
    state.wake_outboxes();
    Ok(([webauthn::clear_cookie(&state)], Redirect::to("/security")).into_response())
}

#[derive(Deserialize)]
pub struct RemoveForm {
    password: String,
}

pub async fn remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Result<Response, AppError> {
    if !auth::confirm_password(&state, &ip, &user, &form.password).await? {
        return page::render(&state, &user, Some("Your password is not correct. Nothing was changed.".into())).await;
    }
    let mut tx = crate::db::begin(&state.db).await?;
    let name = sqlx::query_scalar!("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name", id, user.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound("There is no such passkey on your login.".into()))?;
    // The last second factor going ends two-factor sign-in: the same rule
    // as turning off the authenticator app.
    let ends_two_factor = !store::two_factor_on(&mut *tx, user.id).await?;
    if ends_two_factor {
        if let Some(message) = super::rule::refuses_ending(&mut *tx, user.id).await? {
            drop(tx);
            return page::render(&state, &user, Some(message)).await;
        }
    }
    notices::passkey_removed(&mut tx, &state.config, user.id, &name, &ip).await?;
    if ends_two_factor {
        notices::two_factor_off(&mut tx, &state.config, user.id, &ip).await?;
    }
    session::set_flash(&mut *tx, user.session_id, &format!("Passkey \"{name}\" removed.")).await?;
    tx.commit().await?;
    state.wake_outboxes();
    Ok(Redirect::to("/security").into_response())
}

/// Options for signing in with one of `user_id`'s passkeys, and the cookie
/// that carries the ceremony.
async fn authentication_options(state: &AppState, user_id: Uuid) -> Result<Response, AppError> {
    let rp = relying_party(state)?;
    let passkeys = webauthn::passkeys_of(&state.db, user_id).await?;
    if passkeys.is_empty() {
        return Err(AppError::NotFound("No passkey is registered for this login here.".into()));
    }
    let (options, auth): (_, PasskeyAuthentication) = rp
        .start_passkey_authentication(&passkeys)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey authentication: {e:?}")))?;
    let cookie = webauthn::begin(state, user_id, "authenticate", None, &auth).await?;
    Ok(([(axum::http::header::SET_COOKIE, cookie)], Json(options)).into_response())
}

/// The second step with a passkey: its options.
pub async fn second_step_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let p = second_step::pending(&state, &headers).await?.ok_or_else(second_step::start_again)?;
    authentication_options(&state, p.user_id).await
}

/// The second step with a passkey: its signed answer. Counted against the
/// sign-in limits like a code.
pub async fn second_step_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<CredentialForm>,
) -> Result<Response, AppError> {
    let rp = relying_party(&state)?;
    let p = second_step::pending(&state, &headers).await?.ok_or_else(second_step::start_again)?;
    let attempt = second_step::count_try(&state, &headers, &ip, &p).await?;
    if let Err(e) = webauthn::finish_authentication(&state, rp, &headers, &form.credential, Some(p.user_id)).await {
        second_step::failed(&state, &ip, &p).await?;
        return Err(e);
    }
    if let Some(attempt) = attempt {
        rate_limit::succeeded(&state.db, attempt).await?;
    }
    let mut res = second_step::complete(&state, &headers, &ip, &p).await?;
    let (name, value) = webauthn::clear_cookie(&state);
    res.headers_mut().append(name, value);
    Ok(res)
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

/// "Sign in with a passkey" on the sign-in page: the address typed, then
/// its login's passkey. Each try counts against the sign-in limits.
pub async fn sign_in_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, AppError> {
    relying_party(&state)?;
    let email = Email::parse(&form.email).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let trusted = auth::trusted_browser(&state, &headers, email.as_str()).await?;
    // Counted as a failure until the passkey signs in.
    rate_limit::begin(&state.db, &ip, email.as_str(), trusted).await?;
    let login = login_store::login_by_email(&state.db, email.as_str()).await?;
    match login {
        Some(l) if !l.disabled => authentication_options(&state, l.id).await,
        _ => Err(AppError::NotFound("No passkey is registered for this address here.".into())),
    }
}

pub async fn sign_in_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<CredentialForm>,
) -> Result<Response, AppError> {
    let rp = relying_party(&state)?;
    let user_id = webauthn::finish_authentication(&state, rp, &headers, &form.credential, None).await?;
    let email = sqlx::query_scalar!("SELECT email FROM users WHERE id = $1 AND disabled_at IS NULL", user_id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::Forbidden("This login has been disabled. Please contact support.".into()))?;
    rate_limit::succeeded_latest(&state.db, &ip, &email).await?;
    login_store::record_sign_in(&state.db, user_id).await?;
    let account_id = login_store::default_account(&state.db, user_id).await?;
    // Both factors are proven: the device, and what unlocked it.
    let s =
        SignIn { user_id, account_id, ip: &ip, next: "/", flash: None, remember_device: true, mailbox_proven: false };
    let mut res = auth::finish_sign_in(&state, &headers, &s).await?;
    let (name, value) = webauthn::clear_cookie(&state);
    res.headers_mut().append(name, value);
    Ok(res)
}

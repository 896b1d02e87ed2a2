//! The invitation link: what the invited person sees and does.

pub mod accept;
pub mod expiry;
pub mod send;

use askama::Template;
use axum::{
    extract::{FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;

use crate::{
    auth::{
        self,
        csrf::{AnonCsrf, CsrfForm, NoFields},
        register::check_new_login,
        session::{self, CurrentUser},
        store::{self as login_store, NewUser, Registered},
    },
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};
use accept::{AcceptError, Acceptor, Offer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invitations/{token}", get(show))
        .route("/invitations/{token}/accept", post(accept))
        .route("/invitations/{token}/switch-login", post(switch_login))
        .route("/invitations/{token}/sign-in", post(sign_in_and_accept))
        .route("/invitations/{token}/register", post(register_and_accept))
        .route("/invitations/{token}/decline", post(decline))
}

/// The token from an invitation link. A path that does not even decode
/// (a stray `%` can make invalid UTF-8) is just another link that is not
/// valid: the same 404 page, never axum's bare 400.
struct LinkToken(String);

impl<S: Send + Sync> FromRequestParts<S> for LinkToken {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(token)) => Ok(LinkToken(token)),
            Err(_) => Err(AcceptError::Unknown.into()),
        }
    }
}

/// Loads a usable invitation, or the page that says why it is not.
async fn open_offer(state: &AppState, token: &str) -> Result<Offer, AppError> {
    let Some(offer) = accept::find(&state.db, token).await? else {
        return Err(match accept::superseded(&state.db, token).await? {
            Some(sent_at) => AcceptError::Superseded(sent_at).into(),
            None => AcceptError::Unknown.into(),
        });
    };
    match offer.refusal() {
        None => Ok(offer),
        Some(refused) => Err(refused.into()),
    }
}

/// Who is looking at the invitation.
enum Viewer {
    Invited,
    SomeoneElse(String),
    SignedOut,
}

#[derive(Template)]
#[template(path = "invitations/show.html")]
struct ShowPage {
    layout: Layout,
    csrf_token: String,
    token: String,
    offer: Offer,
    permissions: Vec<&'static str>,
    expires: String,
    viewer: Viewer,
    error: Option<String>,
}

fn show_page(
    user: Option<&CurrentUser>,
    anon_csrf: String,
    token: String,
    offer: Offer,
    error: Option<String>,
) -> Result<Response, AppError> {
    let (layout, csrf_token, viewer) = match user {
        Some(u) if u.email == offer.email => (Layout::of(u), u.csrf_token.clone(), Viewer::Invited),
        Some(u) => (Layout::of(u), u.csrf_token.clone(), Viewer::SomeoneElse(u.email.clone())),
        None => (Layout::signed_out(), anon_csrf, Viewer::SignedOut),
    };
    let page = ShowPage {
        layout,
        csrf_token,
        token,
        permissions: offer.grant().labels(),
        expires: web::datetime(&offer.expires_at),
        offer,
        viewer,
        error: error.clone(),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, web::render(&page)?).into_response())
}

/// Opening the link (GET) never consumes it.
async fn show(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    AnonCsrf(anon): AnonCsrf,
    LinkToken(token): LinkToken,
) -> Result<Response, AppError> {
    let offer = open_offer(&state, &token).await?;
    show_page(user.as_ref(), anon, token, offer, None)
}

/// Accepts, then makes the shared account the active one.
async fn accept(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    LinkToken(token): LinkToken,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    let who = Acceptor {
        user_id: user.id,
        email: &user.email,
        name: &user.name,
        is_staff: user.is_staff,
        ip: &ip,
        now: state.config.clock.now(),
    };
    let accepted = accept::accept(&mut tx, &token, &who).await?;
    let flash = format!("You now have access to {}. You are working in it now.", accepted.account_name);
    session::switch_account(&mut *tx, user.session_id, accepted.account_id, &flash).await?;
    tx.commit().await?;
    state.wake_outboxes();
    Ok(Redirect::to("/").into_response())
}

/// "Continue as the invited address": ends this session and comes back to
/// the invitation signed out, ready to sign in or register as that address.
async fn switch_login(
    State(state): State<AppState>,
    user: CurrentUser,
    LinkToken(token): LinkToken,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    open_offer(&state, &token).await?;
    session::end(&state.db, user.session_id).await?;
    Ok(([(header::SET_COOKIE, session::clear_session_cookie(&state))], Redirect::to(&format!("/invitations/{token}")))
        .into_response())
}

#[derive(Deserialize)]
struct SignInForm {
    password: String,
}

async fn sign_in_and_accept(
    State(state): State<AppState>,
    AnonCsrf(anon): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    LinkToken(token): LinkToken,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<Response, AppError> {
    let offer = open_offer(&state, &token).await?;
    let trusted = auth::trusted_browser(&state, &headers, &offer.email).await?;
    let Some(login) = auth::verify_password(&state, &ip, &offer.email, &form.password, trusted).await? else {
        return show_page(None, anon, token, offer, Some("Incorrect password.".into()));
    };
    let (user_id, name, is_staff) = (login.id, login.name, login.is_staff);
    if login.disabled {
        return Err(AppError::Forbidden("This login has been disabled. Please contact support.".into()));
    }
    if crate::security::store::two_factor_on(&state.db, user_id).await? {
        // Accepting waits for the second step, which returns to this page.
        let account = login_store::default_account(&state.db, user_id).await?;
        let next = format!("/invitations/{token}");
        return auth::sign_in_remembering_device(&state, &headers, user_id, account, &ip, &next, None).await;
    }
    let mut tx = crate::db::begin(&state.db).await?;
    let who = Acceptor { user_id, email: &offer.email, name: &name, is_staff, ip: &ip, now: state.config.clock.now() };
    let accepted = accept::accept(&mut tx, &token, &who).await?;
    login_store::record_sign_in(&mut *tx, user_id).await?;
    tx.commit().await?;
    state.wake_outboxes();
    let flash = format!("You now have access to {}. You are working in it now.", accepted.account_name);
    auth::sign_in_remembering_device(&state, &headers, user_id, Some(accepted.account_id), &ip, "/", Some(&flash)).await
}

#[derive(Deserialize)]
struct RegisterForm {
    name: String,
    password: String,
}

async fn register_and_accept(
    State(state): State<AppState>,
    AnonCsrf(anon): AnonCsrf,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    LinkToken(token): LinkToken,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, AppError> {
    let offer = open_offer(&state, &token).await?;
    let (name, email) = match check_new_login(&form.name, &offer.email, &form.password) {
        Ok(v) => v,
        Err(m) => return show_page(None, anon, token, offer, Some(m)),
    };
    let hash = state.hasher.hash_new_login(&form.password).await.map_err(AppError::from_new_login)?;
    let mut tx = crate::db::begin(&state.db).await?;
    let own_account = format!("{name}'s account");
    // The invitation link reached this address: it is proven.
    let new = NewUser { name: &name, email: &email, password_hash: &hash, account_name: &own_account, verified: true };
    let (user_id, own_account_id) = match login_store::create_user(&mut tx, new).await? {
        Registered::Created { user_id, account_id } => (user_id, account_id),
        Registered::EmailTaken => {
            drop(tx);
            return show_page(
                None,
                anon,
                token,
                offer,
                Some("A login with this address exists already: sign in with it instead.".into()),
            );
        }
    };
    if offer.requires_two_factor {
        // The account's rule: the new login sets up two-factor sign-in
        // first, then accepts from the link.
        tx.commit().await?;
        let flash = format!(
            "Your login is ready. {} requires two-factor sign-in for everyone with access: set it up here, then open your invitation link again to accept.",
            offer.account_name
        );
        let own = Some(own_account_id);
        return auth::sign_in_remembering_device(&state, &headers, user_id, own, &ip, "/security", Some(&flash)).await;
    }
    let who = Acceptor {
        user_id,
        email: email.as_str(),
        name: &name,
        is_staff: false,
        ip: &ip,
        now: state.config.clock.now(),
    };
    let accepted = accept::accept(&mut tx, &token, &who).await?;
    tx.commit().await?;
    state.wake_outboxes();
    let flash =
        format!("Welcome! You now have access to {}. Your own account is in Switch Account.", accepted.account_name);
    auth::sign_in_remembering_device(&state, &headers, user_id, Some(accepted.account_id), &ip, "/", Some(&flash)).await
}

#[derive(Template)]
#[template(path = "invitations/declined.html")]
struct DeclinedPage {
    layout: Layout,
    account_name: String,
}

/// Says no to the invitation: whoever holds the link (it went to the
/// invited address), signed in or not.
async fn decline(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: Option<CurrentUser>,
    LinkToken(token): LinkToken,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    let account_name = accept::decline(&mut tx, &token, user.as_ref().map(|u| u.id), &ip).await?;
    tx.commit().await?;
    state.wake_outboxes();
    let layout = user.as_ref().map_or_else(Layout::signed_out, Layout::of);
    web::render(&DeclinedPage { layout, account_name })
}

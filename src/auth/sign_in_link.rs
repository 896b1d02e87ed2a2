//! "Mail me a sign-in link": a one-time link that signs a browser in without
//! the password, for when the account-wide limit stops a browser it does not
//! know (failures from elsewhere must never lock the real person out).

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    csrf::{AnonCsrf, CsrfForm, NoFields},
    store,
};
use crate::{
    domain::{email::Email, token},
    error::AppError,
    layout::Layout,
    mail::messages::SignInLinkMail,
    state::AppState,
    web::{self, ClientIp},
};

pub const LINK_VALID_MINUTES: i32 = 15;
/// Usable links a login may have at once: enough for a slow mailbox, not
/// for a mail bomb (at most 12 an hour). Counting usable links rather than
/// links sent means that when a stranger has asked for them all, the real
/// person still finds a working one in their mailbox.
const LIVE_LINKS: i64 = 3;

#[derive(Template)]
#[template(path = "auth/link_request.html")]
struct RequestPage {
    layout: Layout,
    csrf_token: String,
    sent: bool,
    error: Option<String>,
}

pub async fn request_page(AnonCsrf(csrf_token): AnonCsrf) -> Result<Response, AppError> {
    web::render(&RequestPage { layout: Layout::signed_out(), csrf_token, sent: false, error: None })
}

#[derive(Deserialize)]
pub struct RequestForm {
    email: String,
}

pub async fn request(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    CsrfForm(form): CsrfForm<RequestForm>,
) -> Result<Response, AppError> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let page =
                RequestPage { layout: Layout::signed_out(), csrf_token, sent: false, error: Some(e.to_string()) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)?).into_response());
        }
    };
    // The page says the same, as fast, whether or not the address has a
    // login: the mail is made after the answer.
    state.after_answer("sign-in link mail", mail_link(state.clone(), email)).await;
    web::render(&RequestPage { layout: Layout::signed_out(), csrf_token, sent: true, error: None })
}

/// Makes a sign-in link for `email`'s login, if it has one with fewer than
/// `LIVE_LINKS` usable, and mails it.
async fn mail_link(state: AppState, email: Email) -> Result<(), AppError> {
    let mut tx = crate::db::begin(&state.db).await?;
    if let Some(login) = store::link_candidate(&mut tx, email.as_str()).await?.filter(|l| l.recent < LIVE_LINKS) {
        let token = token::generate();
        store::create_sign_in_link(&mut tx, &token, login.id, LINK_VALID_MINUTES).await?;
        let link = format!("{}/login/link/{token}", state.config.base_url);
        SignInLinkMail { name: &login.name, link: &link }
            .to(email.as_str())?
            .with_secret(&token)
            .queue(&mut tx)
            .await?;
    }
    tx.commit().await?;
    state.wake_outboxes();
    Ok(())
}

#[derive(Template)]
#[template(path = "auth/link.html")]
struct LinkPage {
    layout: Layout,
    csrf_token: String,
    token: String,
    email: String,
}

fn link_dead() -> AppError {
    AppError::Gone(
        "This sign-in link has expired or has already been used. Ask for a new one on the sign-in page.".into(),
    )
}

/// Opening the link (GET) never uses it: mail scanners open links too.
pub async fn page(
    State(state): State<AppState>,
    AnonCsrf(csrf_token): AnonCsrf,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if !token::well_formed(&token) {
        return Err(link_dead());
    }
    let email = store::sign_in_link_email(&state.db, &token).await?.ok_or_else(link_dead)?;
    web::render(&LinkPage { layout: Layout::signed_out(), csrf_token, token, email })
}

pub async fn use_link(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if !token::well_formed(&token) {
        return Err(link_dead());
    }
    let mut tx = crate::db::begin(&state.db).await?;
    let user_id = store::use_sign_in_link(&mut tx, &token).await?.ok_or_else(link_dead)?;
    store::record_sign_in(&mut *tx, user_id).await?;
    let account = store::default_account(&mut *tx, user_id).await?;
    tx.commit().await?;
    let s = super::SignIn {
        user_id,
        account_id: account,
        ip: &ip,
        next: "/",
        flash: Some("You are signed in."),
        remember_device: true,
        mailbox_proven: true,
    };
    super::sign_in(&state, &headers, &s).await
}

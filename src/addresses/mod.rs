//! Addresses that proved they receive mail: a login's own and a contact's.
//! The proof is a one-time link mailed to the address; until it is used the
//! panel sends that address nothing but such links, invitations and resets
//! (`MailKind::needs_proven_address`). One link page serves both (`confirm`).

pub mod confirm;

use axum::{
    routing::{get, post},
    Router,
};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    config::Config,
    domain::token,
    error::Internal,
    mail::{
        budget,
        messages::{ConfirmContact, ConfirmLogin},
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/confirm/again", post(confirm::again))
        .route("/confirm/{token}", get(confirm::page).post(confirm::confirm))
}

/// How long a confirmation link works: long enough for a weekend.
pub const LINK_VALID_HOURS: i32 = 72;

/// Whose address a link proves.
pub enum Owner {
    Login(Uuid),
    Contact(Uuid),
}

async fn create_link(conn: &mut PgConnection, owner: &Owner, email: &str, next: &str) -> Result<String, sqlx::Error> {
    let token = token::generate();
    let (user_id, contact_id) = match owner {
        Owner::Login(id) => (Some(*id), None),
        Owner::Contact(id) => (None, Some(*id)),
    };
    sqlx::query!(
        "INSERT INTO address_confirmations (token_hash, user_id, contact_id, email, next, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))",
        token::hash(&token),
        user_id,
        contact_id,
        email,
        next,
        LINK_VALID_HOURS
    )
    .execute(conn)
    .await?;
    Ok(token)
}

/// Mails a login its confirmation link, unless the address has had its
/// hourly share of such mail (`LOGIN_CONFIRMATIONS_PER_HOUR`): then nothing
/// is queued and the answer is when that lifts.
pub async fn send_login_link(
    conn: &mut PgConnection,
    config: &Config,
    user_id: Uuid,
    name: &str,
    email: &str,
    next: &str,
) -> Result<Option<OffsetDateTime>, Internal> {
    if let Some(lifts) = budget::login_confirmations_exceeded(conn, email).await? {
        return Ok(Some(lifts));
    }
    let token = create_link(conn, &Owner::Login(user_id), email, next).await?;
    let link = format!("{}/confirm/{token}", config.base_url);
    ConfirmLogin { name, link: &link }.to(email)?.with_secret(&token).queue(conn).await?;
    Ok(None)
}

/// A contact's confirmation mail, in the caller's transaction. The budget
/// is checked by the caller (`sections::contacts`), which answers for it.
pub async fn send_contact_link(
    conn: &mut PgConnection,
    config: &Config,
    account_id: Uuid,
    account_name: &str,
    contact_id: Uuid,
    contact_name: &str,
    email: &str,
) -> Result<(), Internal> {
    let token = create_link(conn, &Owner::Contact(contact_id), email, "/").await?;
    let link = format!("{}/confirm/{token}", config.base_url);
    ConfirmContact { contact_name, account_name, link: &link }
        .to(email, account_id)?
        .with_secret(&token)
        .queue(conn)
        .await?;
    Ok(())
}

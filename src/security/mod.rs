//! The login's sign-in security: two-factor sign-in with an authenticator
//! app and recovery codes (`setup`) or passkeys (`passkeys`, on
//! `webauthn`), the second step of signing in (`second_step`), and the
//! Security page with the open sessions (`page`).

pub mod notices;
mod page;
mod passkeys;
pub mod recovery;
pub mod rule;
pub mod second_step;
mod setup;
pub mod store;
pub mod totp;
pub mod webauthn;

use axum::{
    routing::{get, post},
    Router,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{clock::Clock, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/security", get(page::show))
        .route("/security/sessions/others/end", post(page::end_others))
        .route("/security/sessions/{session}/end", post(page::end_one))
        .route("/security/totp", get(setup::enrol_page))
        .route("/security/totp/start", post(setup::start))
        .route("/security/totp/confirm", post(setup::confirm))
        .route("/security/totp/off", post(setup::turn_off))
        .route("/security/recovery-codes", post(setup::new_recovery_codes))
        .route("/security/passkeys/start", post(passkeys::add_start))
        .route("/security/passkeys/finish", post(passkeys::add_finish))
        .route("/security/passkeys/{id}/remove", post(passkeys::remove))
        .route("/login/passkey/start", post(passkeys::sign_in_start))
        .route("/login/passkey/finish", post(passkeys::sign_in_finish))
        .route("/login/two-factor/passkey/start", post(passkeys::second_step_start))
        .route("/login/two-factor/passkey/finish", post(passkeys::second_step_finish))
        .route("/login/two-factor", get(second_step::page).post(second_step::submit))
        .route("/login/two-factor/cancel", post(second_step::cancel))
}

/// What a second-step code turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// The authenticator app's code, not used before.
    App,
    /// An unused recovery code (now used), with how many are left.
    Recovery {
        left: i64,
    },
    Wrong,
}

/// Checks a code typed at a second step: the app's (accepted once per time
/// step) or a recovery code (accepted once).
pub async fn check_code(
    conn: &mut PgConnection,
    clock: &Clock,
    user_id: Uuid,
    code: &str,
) -> Result<Checked, sqlx::Error> {
    if recovery::looks_like_one(code) {
        return Ok(match recovery::use_code(conn, user_id, code).await? {
            Some(left) => Checked::Recovery { left },
            None => Checked::Wrong,
        });
    }
    let Some((secret, true)) = store::key(&mut *conn, user_id).await? else { return Ok(Checked::Wrong) };
    match totp::matching_step(&secret, code, clock.unix_now()) {
        Some(step) if store::use_step(conn, user_id, step).await? => Ok(Checked::App),
        _ => Ok(Checked::Wrong),
    }
}

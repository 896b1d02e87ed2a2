//! An account's full picture for staff, and moving it to a new owner.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    ownership::{self, Transfer, TransferError},
    store,
};
use crate::{
    auth::{
        self,
        csrf::CsrfForm,
        session::{CurrentUser, Staff},
    },
    change::AccountChange,
    domain::email::Email,
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    layout: Layout,
    a: store::AccountView,
    error: Option<String>,
    /// The transfer form as the staff member filled it, when it was refused.
    draft: TransferDraft,
}

/// The transfer form's fields, kept when a transfer is refused so the
/// staff member only fixes what was wrong.
#[derive(Default)]
struct TransferDraft {
    new_owner_email: String,
    reason: String,
    keep_old_owner: bool,
    /// The new owner's address is unconfirmed: the form asks to go ahead.
    ask_unconfirmed: bool,
}

impl AccountPage {
    fn events(&self) -> &[store::AuditRow] {
        &self.a.audit
    }
}

/// The account page, with `error` (422) and the form as it was filled when
/// the transfer was refused.
async fn render(
    state: &AppState,
    me: &CurrentUser,
    id: Uuid,
    refused: Option<(String, TransferDraft)>,
) -> Result<Response, AppError> {
    let a = store::account(&state.db, id).await?.ok_or_else(super::account_not_found)?;
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let (error, draft) = match refused {
        Some((error, draft)) => (Some(error), draft),
        None => (None, TransferDraft { keep_old_owner: true, ..TransferDraft::default() }),
    };
    Ok((status, web::render(&AccountPage { layout: Layout::of(me), a, error, draft })?).into_response())
}

pub async fn page(State(state): State<AppState>, Staff(me): Staff, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    render(&state, &me, id, None).await
}

#[derive(Deserialize)]
pub struct TransferForm {
    expected_owner: Uuid,
    new_owner_email: String,
    #[serde(default)]
    keep_old_owner: Option<String>,
    reason: String,
    password: String,
    #[serde(default)]
    unconfirmed_ok: Option<String>,
}

pub async fn transfer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Staff(me): Staff,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<TransferForm>,
) -> Result<Response, AppError> {
    let draft = |ask_unconfirmed: bool| TransferDraft {
        new_owner_email: form.new_owner_email.chars().take(254).collect(),
        reason: form.reason.chars().take(1000).collect(),
        keep_old_owner: form.keep_old_owner.is_some(),
        ask_unconfirmed,
    };
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        let message = "Give a reason for the transfer (up to 1000 characters): it goes into the audit log.";
        return render(&state, &me, id, Some((message.into(), draft(false)))).await;
    }
    let new_owner = match Email::parse(&form.new_owner_email) {
        Ok(e) => e,
        Err(e) => return render(&state, &me, id, Some((e.to_string(), draft(false)))).await,
    };
    if !auth::confirm_password(&state, &ip, &me, &form.password).await? {
        let message = "Your password is not correct. Nothing was changed.";
        return render(&state, &me, id, Some((message.into(), draft(false)))).await;
    }
    let t = Transfer {
        account_id: id,
        expected_owner: form.expected_owner,
        new_owner: &new_owner,
        keep_old_owner: form.keep_old_owner.is_some(),
        reason,
        unconfirmed_ok: form.unconfirmed_ok.is_some(),
    };
    let mut change = AccountChange::by_staff(&state, &me, Some(id), &ip).await?;
    match ownership::transfer(&mut change, &t).await {
        Ok(()) => change.finish(&format!("Ownership moved to {new_owner}."), &format!("/admin/accounts/{id}")).await,
        Err(e @ (TransferError::NoAccount | TransferError::OwnerChanged | TransferError::Internal(_))) => Err(e.into()),
        Err(refused) => {
            drop(change);
            let ask = matches!(refused, TransferError::Unconfirmed(_));
            render(&state, &me, id, Some((refused.to_string(), draft(ask)))).await
        }
    }
}

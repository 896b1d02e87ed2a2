//! View & Manage Affiliate Account: referral link, referrals, commission
//! balance, and withdrawals (at least the minimum, at most the balance).

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::SectionRoutes;
use crate::{
    auth::{csrf::CsrfForm, session::Member},
    change::{AccountChange, Target},
    domain::{audit::AuditAction, money, permissions::Permission},
    error::AppError,
    layout::Layout,
    state::AppState,
    web::{self, filters, ClientIp},
};

pub const MIN_WITHDRAWAL_CENTS: i64 = 2500;

pub fn routes() -> SectionRoutes {
    SectionRoutes::new(Permission::Affiliates).get("/affiliates", show).post("/affiliates/withdraw", withdraw)
}

#[derive(sqlx::FromRow)]
struct Referral {
    referred_name: String,
    signed_up_on: Date,
    commission_cents: i64,
    status: String,
}

#[derive(sqlx::FromRow)]
struct Withdrawal {
    amount_cents: i64,
    status: String,
    requested_at: OffsetDateTime,
}

#[derive(Template)]
#[template(path = "sections/affiliates.html")]
struct Page {
    layout: Layout,
    link: String,
    balance_cents: i64,
    minimum_cents: i64,
    referrals: Vec<Referral>,
    withdrawals: Vec<Withdrawal>,
    error: Option<String>,
}

async fn page(state: &AppState, m: &Member, error: Option<String>) -> Result<Response, AppError> {
    // The code is made with the account (a GET never writes).
    let (code, balance_cents): (String, i64) =
        sqlx::query_as("SELECT coalesce(referral_code, ''), affiliate_balance_cents FROM accounts WHERE id = $1")
            .bind(m.account.id)
            .fetch_one(&state.db)
            .await?;
    let (referrals, withdrawals) = tokio::try_join!(
        sqlx::query_as::<_, Referral>("SELECT referred_name, signed_up_on, commission_cents, status FROM referrals WHERE account_id = $1 ORDER BY id DESC LIMIT 100").bind(m.account.id).fetch_all(&state.db),
        sqlx::query_as::<_, Withdrawal>("SELECT amount_cents, status, requested_at FROM withdrawals WHERE account_id = $1 ORDER BY requested_at DESC LIMIT 100").bind(m.account.id).fetch_all(&state.db),
    )?;
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    let p = Page {
        layout: Layout::of(&m.user),
        link: format!("{}/register?ref={code}", state.config.base_url),
        balance_cents,
        minimum_cents: MIN_WITHDRAWAL_CENTS,
        referrals,
        withdrawals,
        error,
    };
    Ok((status, web::render(&p)?).into_response())
}

async fn show(State(state): State<AppState>, m: Member) -> Result<Response, AppError> {
    page(&state, &m, None).await
}

#[derive(Deserialize)]
struct Form {
    amount: String,
}

async fn withdraw(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    m: Member,
    CsrfForm(f): CsrfForm<Form>,
) -> Result<Response, AppError> {
    let Some(amount) = money::parse(&f.amount) else {
        return page(&state, &m, Some("Enter an amount such as 25.00.".into())).await;
    };
    if amount < MIN_WITHDRAWAL_CENTS {
        return page(&state, &m, Some(format!("The smallest withdrawal is {}.", money::format(MIN_WITHDRAWAL_CENTS))))
            .await;
    }
    let mut tx = AccountChange::by_member(&state, &m, &ip).await?;
    // Deducted in the same statement that checks it: two requests at once
    // cannot both take the same money.
    let taken = sqlx::query("UPDATE accounts SET affiliate_balance_cents = affiliate_balance_cents - $2 WHERE id = $1 AND affiliate_balance_cents >= $2")
        .bind(m.account.id)
        .bind(amount)
        .execute(&mut *tx)
        .await?;
    if taken.rows_affected() == 0 {
        drop(tx);
        return page(
            &state,
            &m,
            Some(format!("You can withdraw at most your balance; {} is more than that.", money::format(amount))),
        )
        .await;
    }
    sqlx::query("INSERT INTO withdrawals (id, account_id, amount_cents) VALUES ($1, $2, $3)")
        .bind(Uuid::new_v4())
        .bind(m.account.id)
        .bind(amount)
        .execute(&mut *tx)
        .await?;
    tx.audit(
        AuditAction::WithdrawalRequested,
        Target::default(),
        serde_json::json!({ "amount": money::format(amount) }),
    )
    .await?;
    tx.finish(&format!("Withdrawal of {} requested.", money::format(amount)), "/affiliates").await
}

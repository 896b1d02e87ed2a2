//! "Require two-factor sign-in for everyone with access": the owner's rule
//! for the account. The owner must use it first. Members without it are
//! held to it by the session loader (they fall back to their own account),
//! Switch Account and accepting an invitation.

use axum::{extract::State, response::Response};
use serde::Deserialize;

use crate::{
    auth::{csrf::CsrfForm, session::Owner},
    change::{AccountChange, Target},
    domain::audit::AuditAction,
    error::AppError,
    state::AppState,
    web::ClientIp,
};

#[derive(Deserialize)]
pub struct RuleForm {
    require: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Owner(me): Owner,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Result<Response, AppError> {
    let require = match form.require.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(AppError::BadRequest("Choose whether to require two-factor sign-in.".into())),
    };
    if require && !me.user.two_factor {
        return Err(AppError::Conflict(
            "Turn on two-factor sign-in for your own login first (on your Security page): you cannot require of others what you do not use.".into(),
        ));
    }
    let mut change = AccountChange::by_member(&state, &me, &ip).await?;
    let changed = sqlx::query!(
        "UPDATE accounts SET require_two_factor = $2 WHERE id = $1 AND require_two_factor <> $2",
        me.account.id,
        require
    )
    .execute(&mut *change)
    .await?
    .rows_affected();
    if changed == 0 {
        return change.finish("Nothing changed.", "/users").await;
    }
    let without = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM memberships CROSS JOIN LATERAL two_factor_of(user_id) tf
           WHERE account_id = $1 AND NOT is_owner AND NOT tf.enabled"#,
        me.account.id
    )
    .fetch_one(&mut *change)
    .await?;
    change
        .audit(AuditAction::TwoFactorRuleChanged, Target::default(), serde_json::json!({ "required": require }))
        .await?;
    let flash = if require {
        format!(
            "Everyone with access to {} must now use two-factor sign-in. {without} without it are sent to set it up when they next open this account.",
            me.account.name
        )
    } else {
        format!("Two-factor sign-in is no longer required for {}.", me.account.name)
    };
    change.finish(&flash, "/users").await
}

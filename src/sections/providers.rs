//! What the panel does not own: the control panel of a service, the domain
//! registrar, the payment gateway. Each sits behind a trait; the built-in
//! stand-ins keep their state in Postgres so the quick start works end to
//! end with no outside service. Which implementation answers is chosen by
//! configuration (`PAYMENT_GATEWAY`, `CONTROL_PANEL`, `REGISTRAR`): a real
//! deployment adds a variant to the setting's kind in `config.rs` and an arm
//! below that builds its implementation (cPanel/Plesk's API, a registrar's
//! EPP or REST API, a payment provider). With `none`, every action is
//! refused with the plain message below.

// The traits are implemented and called with concrete types only: the
// functions below name the type they build, so handlers' futures stay Send.
// A second implementation of a trait turns that type into an enum over them.
#![allow(async_fn_in_trait)]

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    config::{Config, ControlPanelKind, PaymentGatewayKind, RegistrarKind},
    domain::token,
    error::AppError,
};

pub const PAYMENT_NOT_CONNECTED: &str = "Online payment is not available; please contact support.";
pub const CONTROL_PANEL_NOT_CONNECTED: &str =
    "The control panel of this service is not connected here, so passwords and sign-on are not available; please contact support.";
pub const REGISTRAR_NOT_CONNECTED: &str =
    "Domain settings cannot be changed here because no registrar is connected; please contact support.";

/// The configured control panel, or the refusal a forged request gets.
pub fn control_panel(config: &Config) -> Result<LocalControlPanel, AppError> {
    match config.outside.control_panel {
        Some(ControlPanelKind::Local) => Ok(LocalControlPanel),
        None => Err(AppError::Conflict(CONTROL_PANEL_NOT_CONNECTED.into())),
    }
}

/// The configured registrar, or the refusal a forged request gets.
pub fn registrar(config: &Config) -> Result<LocalRegistrar, AppError> {
    match config.outside.registrar {
        Some(RegistrarKind::Local) => Ok(LocalRegistrar),
        None => Err(AppError::Conflict(REGISTRAR_NOT_CONNECTED.into())),
    }
}

/// The configured payment gateway, or the refusal a forged request gets.
pub fn payment_gateway(config: &Config, db: &PgPool) -> Result<TestGateway, AppError> {
    match config.outside.payment_gateway {
        Some(PaymentGatewayKind::Test) => Ok(TestGateway { db: db.clone(), delay: config.test_gateway_delay }),
        None => Err(AppError::Conflict(PAYMENT_NOT_CONNECTED.into())),
    }
}

/// A service's control panel (cPanel, Plesk, ...).
pub trait ControlPanel {
    /// Sets the control-panel password of the service's login.
    async fn set_password(
        &self,
        conn: &mut PgConnection,
        service_id: Uuid,
        password_hash: &str,
    ) -> Result<(), sqlx::Error>;
    /// A single-use, short-lived sign-in link for the service's panel.
    async fn sso_link(&self, conn: &mut PgConnection, service_id: Uuid, base_url: &str) -> Result<String, sqlx::Error>;
}

/// The built-in control panel: logins and sign-on tokens in Postgres, and a
/// page at /control-panel/sso/{token} that stands in for the panel itself.
pub struct LocalControlPanel;

pub const SSO_VALID_SECONDS: i32 = 60;

impl ControlPanel for LocalControlPanel {
    async fn set_password(
        &self,
        conn: &mut PgConnection,
        service_id: Uuid,
        password_hash: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO control_panel_logins (service_id, username, password_hash, changed_at)
             VALUES ($1, 'user' || substr(replace($1::text, '-', ''), 1, 8), $2, now())
             ON CONFLICT (service_id) DO UPDATE SET password_hash = $2, changed_at = now()",
        )
        .bind(service_id)
        .bind(password_hash)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn sso_link(&self, conn: &mut PgConnection, service_id: Uuid, base_url: &str) -> Result<String, sqlx::Error> {
        let t = token::generate();
        sqlx::query("INSERT INTO control_panel_sso (token_hash, service_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))")
            .bind(token::hash(&t))
            .bind(service_id)
            .bind(SSO_VALID_SECONDS)
            .execute(conn)
            .await?;
        Ok(format!("{base_url}/control-panel/sso/{t}"))
    }
}

/// A domain registrar.
pub trait Registrar {
    async fn set_nameservers(
        &self,
        conn: &mut PgConnection,
        domain_id: Uuid,
        nameservers: &[String],
    ) -> Result<(), sqlx::Error>;
    async fn set_lock(&self, conn: &mut PgConnection, domain_id: Uuid, locked: bool) -> Result<(), sqlx::Error>;
    /// The transfer (EPP) code, issued now.
    async fn epp_code(&self, conn: &mut PgConnection, domain_id: Uuid) -> Result<String, sqlx::Error>;
    async fn set_whois(
        &self,
        conn: &mut PgConnection,
        domain_id: Uuid,
        name: &str,
        email: &str,
    ) -> Result<(), sqlx::Error>;
}

/// The built-in registrar: the domain rows are its registry.
pub struct LocalRegistrar;

impl Registrar for LocalRegistrar {
    async fn set_nameservers(
        &self,
        conn: &mut PgConnection,
        domain_id: Uuid,
        nameservers: &[String],
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE domains SET nameservers = $2 WHERE id = $1")
            .bind(domain_id)
            .bind(nameservers)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn set_lock(&self, conn: &mut PgConnection, domain_id: Uuid, locked: bool) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE domains SET registrar_lock = $2 WHERE id = $1")
            .bind(domain_id)
            .bind(locked)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn epp_code(&self, conn: &mut PgConnection, domain_id: Uuid) -> Result<String, sqlx::Error> {
        let code: String = token::generate().chars().filter(char::is_ascii_alphanumeric).take(16).collect();
        sqlx::query("UPDATE domains SET epp_code = $2 WHERE id = $1").bind(domain_id).bind(&code).execute(conn).await?;
        Ok(code)
    }

    async fn set_whois(
        &self,
        conn: &mut PgConnection,
        domain_id: Uuid,
        name: &str,
        email: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE domains SET whois_name = $2, whois_email = $3 WHERE id = $1")
            .bind(domain_id)
            .bind(name)
            .bind(email)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A payment gateway. Charges carry an idempotency key: the same key
/// charges at most once, however often it is sent (a retry after a crash or
/// a lost answer), as real gateways' idempotency keys promise.
pub trait PaymentGateway {
    fn name(&self) -> &'static str;
    /// Charges `amount_cents` once per `key`; the gateway's reference.
    async fn charge(&self, key: Uuid, invoice_number: i64, amount_cents: i64) -> Result<String, GatewayError>;
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The gateway refused the charge: nothing was charged.
    #[error("{0}")]
    Declined(String),
    /// No answer: the charge may or may not have happened. The same key is
    /// sent again on the next try.
    #[error("{0}")]
    Unavailable(String),
}

/// The built-in test gateway: approves every charge. Its ledger of charges
/// (one per key) is the `test_gateway_charges` table, standing in for the
/// gateway's own records.
pub struct TestGateway {
    db: PgPool,
    /// Answers this much later (`TEST_GATEWAY_DELAY_MS`, for fault drills).
    delay: Duration,
}

impl PaymentGateway for TestGateway {
    fn name(&self) -> &'static str {
        "Test gateway"
    }

    async fn charge(&self, key: Uuid, invoice_number: i64, amount_cents: i64) -> Result<String, GatewayError> {
        let unavailable = |e: sqlx::Error| GatewayError::Unavailable(format!("the test gateway failed: {e}"));
        let fresh = format!("TEST-{invoice_number}-{}", &token::generate()[..8]);
        // One charge per key even when two tries arrive at once: the second
        // waits for the first, then finds its charge.
        let mut tx = crate::db::begin(&self.db).await.map_err(unavailable)?;
        sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", key.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query!(
            "INSERT INTO test_gateway_charges (idempotency_key, reference, amount_cents) VALUES ($1, $2, $3)
             ON CONFLICT (idempotency_key) DO NOTHING",
            key,
            fresh,
            amount_cents
        )
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let reference =
            sqlx::query_scalar!("SELECT reference FROM test_gateway_charges WHERE idempotency_key = $1", key)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        tokio::time::sleep(self.delay).await;
        Ok(reference)
    }
}

//! What the panel does not own: the control panel of a service, the domain

// The traits are implemented and called with concrete types only.
#![allow(async_fn_in_trait)]
//! registrar, the payment gateway. Each sits behind a trait; the built-in
//! implementations keep their state in Postgres so the panel works end to
//! end with no outside service. A real deployment plugs in cPanel/Plesk's
//! API, a registrar's API (e.g. an EPP client), and a payment gateway here.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::token;

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

/// A payment gateway.
pub trait PaymentGateway {
    fn name(&self) -> &'static str;
    /// Charges `amount_cents`; returns the gateway's reference.
    async fn charge(&self, invoice_number: i64, amount_cents: i64) -> Result<String, String>;
}

/// The built-in test gateway: approves every charge with a reference.
pub struct TestGateway;

impl PaymentGateway for TestGateway {
    fn name(&self) -> &'static str {
        "Test gateway"
    }

    async fn charge(&self, invoice_number: i64, _amount_cents: i64) -> Result<String, String> {
        Ok(format!("TEST-{invoice_number}-{}", &token::generate()[..8]))
    }
}

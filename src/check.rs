//! `panel check`: what an operator runs before starting (or after
//! changing a setting): the configuration, the database and its migration
//! state, and the SMTP server (connect, EHLO, STARTTLS or TLS as the URL
//! says, authentication), and with `--send-test-mail ADDRESS` one real mail.
//! Nothing is changed: migrations are reported, never applied.

use std::{collections::HashSet, time::Duration};

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{config::Config, db, error::chain};

/// One line of the report; `ok: false` lines make the command fail.
pub struct Line {
    pub ok: bool,
    pub text: String,
}

fn ok(text: impl Into<String>) -> Line {
    Line { ok: true, text: text.into() }
}

fn problem(text: impl Into<String>) -> Line {
    Line { ok: false, text: text.into() }
}

pub async fn run(config: &Config, test_mail_to: Option<&str>) -> Vec<Line> {
    let mut lines =
        vec![ok(format!("config: valid (BASE_URL {}, LISTEN_ADDR {})", config.base_url, config.listen_addr))];
    lines.push(database(config).await);
    lines.extend(mail(config, test_mail_to).await);
    lines
}

async fn database(config: &Config) -> Line {
    let Some(url) = &config.database_url else {
        return ok("database: none set; `panel serve` starts the embedded local Postgres under PANEL_DATA_DIR");
    };
    let pool = match db::connect(url, 1).await {
        Ok(pool) => pool,
        Err(e) => return problem(format!("database: cannot connect with DATABASE_URL: {e}")),
    };
    let applied: Result<Vec<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&pool).await;
    pool.close().await;
    let applied: HashSet<i64> = match applied {
        Ok(v) => v.into_iter().collect(),
        // A new, empty database: nothing applied yet.
        Err(_) => HashSet::new(),
    };
    let known: Vec<i64> = db::MIGRATOR.iter().map(|m| m.version).collect();
    let pending = known.iter().filter(|v| !applied.contains(v)).count();
    let unknown = applied.iter().filter(|v| !known.contains(v)).count();
    match (pending, unknown) {
        (0, 0) => ok(format!("database: connected; all {} migrations applied", known.len())),
        (_, 0) => problem(format!(
            "database: connected; {pending} of {} migrations not applied yet: run `panel migrate` before starting this version",
            known.len()
        )),
        (_, _) => problem(format!(
            "database: connected; it has {unknown} migrations this version does not know: it was upgraded by a newer panel"
        )),
    }
}

async fn mail(config: &Config, test_mail_to: Option<&str>) -> Vec<Line> {
    let Some(url) = &config.smtp_url else {
        let mut lines = vec![ok("mail: no SMTP_URL; mail stays in the local mailbox (/dev/mailbox)")];
        if test_mail_to.is_some() {
            lines.push(problem("mail: --send-test-mail needs SMTP_URL"));
        }
        return lines;
    };
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(b) => b.timeout(Some(Duration::from_secs(15))).build(),
        Err(e) => return vec![problem(format!("mail: SMTP_URL is not usable: {e}"))],
    };
    // Connects, says EHLO, upgrades to TLS and authenticates as the URL asks.
    match transport.test_connection().await {
        Ok(true) => {}
        Ok(false) => return vec![problem("mail: the SMTP server did not accept the connection")],
        Err(e) => return vec![problem(format!("mail: cannot use the SMTP server: {}", chain(&e)))],
    }
    let mut lines = vec![ok("mail: SMTP server reached, greeting, TLS and sign-in as configured work")];
    if let Some(to) = test_mail_to {
        lines.push(match send_test(config, &transport, to).await {
            Ok(()) => ok(format!("mail: test mail accepted by the server for {to}")),
            Err(e) => problem(format!("mail: the test mail to {to} was not accepted: {e}")),
        });
    }
    lines
}

async fn send_test(config: &Config, transport: &AsyncSmtpTransport<Tokio1Executor>, to: &str) -> anyhow::Result<()> {
    let message = Message::builder()
        .from(config.mail_from.clone())
        .to(to.parse()?)
        .subject("Billing panel: test mail")
        .body(format!("This is a test mail from `panel check` at {}. Mail works.", config.base_url))?;
    transport.send(message).await?;
    Ok(())
}

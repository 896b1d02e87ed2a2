//! The panel's one binary: `serve` (the default), `migrate`, `check`,
//! `create-staff` and `seed-demo`.

use std::io::{BufRead, IsTerminal};

use panel::{app::App, config::Config, db, seed};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, Layer};

const USAGE: &str =
    "usage: panel [serve | migrate | check [--send-test-mail ADDRESS] | create-staff EMAIL | seed-demo]";

fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // The pool's waits feed `/metrics`, whatever RUST_LOG lets through.
    let logs = tracing_subscriber::registry().with(config.metrics_addr.map(|_| panel::telemetry::pool_waits()));
    if config.log_json {
        // One object per line; each event carries its request's span
        // fields (request id, method, route), never a body or a header.
        let json = tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false);
        logs.with(json.with_filter(filter)).init();
    } else {
        logs.with(tracing_subscriber::fmt::layer().with_filter(filter)).init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    let result = runtime.block_on(async {
        match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            [] | ["serve"] => serve(config).await,
            ["check"] => check(&config, None).await,
            ["check", "--send-test-mail", to] => check(&config, Some(to)).await,
            ["migrate"] => with_db(&config, |_| async { Ok(()) }).await.map(|_| println!("migrations applied")),
            ["create-staff", email] => {
                let password = read_password()?;
                with_db(&config, |pool| async move { seed::create_staff(&pool, email, &password).await }).await?;
                println!("staff login {email} created; sign in at {}/login", config.base_url);
                if config.staff_two_factor {
                    println!(
                        "staff logins must use two-factor sign-in: at the first sign-in, open Security in the Hello menu and set up an authenticator app; the staff area opens once it is on"
                    );
                }
                Ok(())
            }
            ["seed-demo"] => {
                let text = with_db(&config, |pool| async move { seed::demo(&pool).await }).await?;
                println!("{text}");
                Ok(())
            }
            _ => Err(anyhow::anyhow!(USAGE)),
        }
    });
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Prints one line per check; fails when any line is a problem.
async fn check(config: &Config, test_mail_to: Option<&str>) -> anyhow::Result<()> {
    let lines = panel::check::run(config, test_mail_to).await;
    for line in &lines {
        println!("{} {}", if line.ok { "ok     " } else { "PROBLEM" }, line.text);
    }
    match lines.iter().filter(|l| !l.ok).count() {
        0 => Ok(()),
        n => Err(anyhow::anyhow!("{n} problem(s) found")),
    }
}

/// Opens the database (starting the embedded cluster if needed), applies
/// migrations, runs `f`, and stops the cluster again.
async fn with_db<T, F, Fut>(config: &Config, f: F) -> anyhow::Result<T>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let (pool, pg) = db::open(config).await?;
    db::MIGRATOR.run(&pool).await?;
    let result = f(pool.clone()).await;
    pool.close().await;
    if let Some(pg) = pg {
        pg.stop();
    }
    result
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (pool, pg) = db::open(&config).await?;
    let result = async {
        db::MIGRATOR.run(&pool).await?;
        let base_url = config.base_url.clone();
        let local_mailbox = config.smtp_url.is_none();
        let log_json = config.log_json;
        let app = App::build(config, pool.clone()).await?;
        let outside = app.state().config.outside.startup_lines();
        if log_json {
            // Standard output is the log collector's: JSON lines only.
            tracing::info!(%base_url, local_mailbox, "billing panel running");
            for line in outside {
                tracing::info!("{line}");
            }
        } else {
            println!("Billing panel running at {base_url}");
            println!(
                "Create a login at {base_url}/register, or run `cargo run --release -- seed-demo` for demo logins."
            );
            if local_mailbox {
                println!("No SMTP_URL set: mail is kept in the local mailbox at {base_url}/dev/mailbox");
            }
            for line in outside {
                println!("{line}");
            }
        }
        app.run_until(shutdown_signal()).await
    }
    .await;
    pool.close().await;
    if let Some(pg) = pg {
        pg.stop();
    }
    result
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// The staff password: PANEL_STAFF_PASSWORD, or asked for on the terminal,
/// or the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("PANEL_STAFF_PASSWORD") {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(rpassword::prompt_password("Password for the staff login: ")?);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

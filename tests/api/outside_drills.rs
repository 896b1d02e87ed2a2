//! Drills with the real binary for the outside systems: the start-up lines
//! naming them, and a gateway payment killed between charge and completion.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    drills::wait_ready,
    helpers::{spawn_app, Browser},
};

/// The real binary on `db_url` with extra settings, its start-up output piped.
fn start_server_piped(db_url: &str, extra: &[(&str, &str)]) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_panel"));
    cmd.env("DATABASE_URL", db_url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env_remove("PAYMENT_GATEWAY")
        .env_remove("CONTROL_PANEL")
        .env_remove("REGISTRAR")
        .env_remove("TEST_GATEWAY_DELAY_MS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    (cmd.spawn().unwrap(), format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn the_server_names_its_outside_systems_at_start_up() {
    let app = spawn_app().await;
    let smtp = format!("smtp://127.0.0.1:{}", app.mail.port());
    for (extra, expected) in [
        (
            vec![("SMTP_URL", smtp.as_str())],
            [
                "Payment gateway: none, not connected (PAYMENT_GATEWAY); its actions are refused",
                "Control panel: none, not connected (CONTROL_PANEL); its actions are refused",
                "Registrar: none, not connected (REGISTRAR); its actions are refused",
            ],
        ),
        (
            vec![("SMTP_URL", smtp.as_str()), ("PAYMENT_GATEWAY", "test"), ("REGISTRAR", "local")],
            [
                "Payment gateway: built-in test gateway, no money moves (PAYMENT_GATEWAY)",
                "Control panel: none, not connected (CONTROL_PANEL); its actions are refused",
                "Registrar: built-in stand-in (REGISTRAR)",
            ],
        ),
    ] {
        let (mut server, base) = start_server_piped(&app.db_url, &extra);
        let stdout = server.stdout.take().unwrap();
        let lines = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            std::io::BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>()
        });
        // The lines are printed before the server answers; it is then
        // stopped, which ends the reader.
        wait_ready(&base).await;
        server.kill().unwrap();
        server.wait().unwrap();
        let lines = lines.await.unwrap();
        for line in expected {
            assert!(lines.iter().any(|l| l == line), "missing {line:?} in {lines:?}");
        }
    }
}

#[tokio::test]
async fn sigkill_between_a_gateway_charge_and_its_completion_never_charges_twice() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let invoice: String =
        sqlx::query_scalar("SELECT id::text FROM invoices WHERE account_id = $1 AND status = 'Unpaid' LIMIT 1")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let cookie = format!("panel_session={}", owner.cookie("panel_session").unwrap());
    let pay = format!("/invoices/{invoice}/pay");
    // A slow gateway: the charge is recorded, then the answer takes 30 s.
    let (mut slow, base) =
        start_server_piped(&app.db_url, &[("PAYMENT_GATEWAY", "test"), ("TEST_GATEWAY_DELAY_MS", "30000")]);
    wait_ready(&base).await;
    let in_flight = {
        let (b, pay) = (Browser::with_cookie(&base, &cookie), pay.clone());
        tokio::spawn(async move { b.post_form(&pay, &[("method", "gateway")]).await.status })
    };
    let start = Instant::now();
    while app.count("SELECT count(*) FROM test_gateway_charges").await == 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "the gateway was never called");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slow.kill().unwrap(); // SIGKILL: the completion never runs.
    slow.wait().unwrap();
    let _ = in_flight.await;
    let paid = format!("SELECT count(*) FROM invoices WHERE id = '{invoice}' AND status = 'Paid'");
    let transactions = format!("SELECT count(*) FROM transactions WHERE invoice_id = '{invoice}'");
    assert_eq!(app.count(&paid).await, 0, "not paid without completion");
    assert_eq!(app.count("SELECT count(*) FROM payment_attempts WHERE status = 'pending'").await, 1);
    assert_eq!(app.count(&transactions).await, 0);

    // The member tries again on a restarted server.
    let (mut server, base) = start_server_piped(&app.db_url, &[("PAYMENT_GATEWAY", "test")]);
    wait_ready(&base).await;
    let again = Browser::with_cookie(&base, &cookie).post_form(&pay, &[("method", "gateway")]).await;
    again.assert_redirect_to(&format!("/invoices/{invoice}"));
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 1, "charged once");
    assert_eq!(app.count(&transactions).await, 1);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM transactions t JOIN test_gateway_charges c ON c.reference = t.reference
             JOIN payment_attempts a ON a.id = c.idempotency_key AND a.status = 'completed' AND a.reference = t.reference"
        )
        .await,
        1,
        "the transaction, the attempt and the gateway's charge agree"
    );
    assert_eq!(app.count(&paid).await, 1);
}

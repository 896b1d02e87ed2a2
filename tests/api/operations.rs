//! What an operator runs and watches: `panel check` against the test
//! Postgres and the loopback SMTP server (good and bad settings), the JSON
//! logs, and `/metrics` on its own address.

use tokio::process::Command;

use crate::helpers::{postgres::empty_database, smtp::MailSink, spawn_app, spawn_app_with, Options};

async fn panel_check(vars: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_panel"));
    for var in ["DATABASE_URL", "SMTP_URL", "MAIL_FROM", "BASE_URL", "LISTEN_ADDR", "RUST_LOG"] {
        c.env_remove(var);
    }
    let out = c.arg("check").args(args).envs(vars.iter().copied()).output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn panel_check_passes_with_good_settings_and_sends_a_test_mail() {
    let app = spawn_app().await;
    let smtp = format!("smtp://127.0.0.1:{}", app.mail.port());
    let vars = [("DATABASE_URL", app.db_url.as_str()), ("SMTP_URL", smtp.as_str())];
    let (passed, out) = panel_check(&vars, &[]).await;
    assert!(passed, "{out}");
    assert!(out.contains("database: connected; all") && out.contains("migrations applied"), "{out}");
    assert!(out.contains("mail: SMTP server reached"), "{out}");
    assert!(!out.contains("PROBLEM"), "{out}");
    let (passed, out) = panel_check(&vars, &["--send-test-mail", "ops@example.com"]).await;
    assert!(passed, "{out}");
    let mail = app.mail.wait_for("ops@example.com", "Billing panel: test mail").await;
    assert!(mail.text.contains("Mail works"));
}

#[tokio::test]
async fn panel_check_names_each_problem_on_its_own_line_and_fails() {
    let closed = MailSink::reserve().await;
    let smtp = format!("smtp://127.0.0.1:{}", closed.port());
    let (passed, out) =
        panel_check(&[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"), ("SMTP_URL", smtp.as_str())], &[]).await;
    assert!(!passed, "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| l.starts_with("PROBLEM")).collect();
    assert_eq!(problems.len(), 2, "{out}");
    assert!(problems[0].contains("database: cannot connect"), "{out}");
    assert!(problems[1].contains("mail: cannot use the SMTP server"), "{out}");
    assert!(out.contains("2 problem(s) found"), "{out}");

    // A database this version has not migrated yet: reported, not changed.
    let empty = empty_database().await;
    let (passed, out) = panel_check(&[("DATABASE_URL", empty.as_str())], &[]).await;
    assert!(!passed, "{out}");
    assert!(out.contains("migrations not applied yet: run `panel migrate`"), "{out}");
    let (passed, again) = panel_check(&[("DATABASE_URL", empty.as_str())], &[]).await;
    assert!(!passed && again.contains("not applied yet"), "check applied nothing: {again}");

    let (passed, out) =
        panel_check(&[("DATABASE_URL", empty.as_str())], &["--send-test-mail", "ops@example.com"]).await;
    assert!(!passed && out.contains("--send-test-mail needs SMTP_URL"), "{out}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The panel binary on a fresh database and a free port, mail to the local
/// mailbox, standard error discarded; its address. Each test adds its own
/// settings and decides what becomes of standard output.
async fn server_command() -> (Command, String) {
    let db_url = crate::helpers::postgres::fresh_database().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut c = Command::new(env!("CARGO_BIN_EXE_panel"));
    c.env("DATABASE_URL", &db_url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("BASE_URL", &base)
        .env_remove("SMTP_URL")
        .env_remove("LOG_FORMAT")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    (c, base)
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_request_fields_and_no_secrets() {
    let (mut command, base) = server_command().await;
    let mut server =
        command.env("LOG_FORMAT", "json").env("RUST_LOG", "info").stdout(std::process::Stdio::piped()).spawn().unwrap();
    crate::drills::wait_ready(&base).await;
    // A failed sign-in: its email and password must not reach the log.
    let b = crate::helpers::Browser::new(&base);
    let page = b.post_form("/login", &[("email", "secret.person@example.com"), ("password", "hunter2 hunter2")]).await;
    assert_eq!(page.status, 401, "{}", page.body);
    server.start_kill().unwrap();
    let out = server.wait_with_output().await.unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object: {l}: {e}")))
        .collect();
    let sign_in = lines
        .iter()
        .find(|l| l["span"]["route"] == "/login" && l["span"]["method"] == "POST" && l["fields"]["status"].is_number())
        .unwrap_or_else(|| panic!("no response line for POST /login in {text}"));
    assert_eq!(sign_in["fields"]["status"], 401);
    assert!(sign_in["fields"]["latency"].is_string(), "{sign_in}");
    assert!(sign_in["span"]["request_id"].as_str().is_some_and(|id| id.len() == 36), "{sign_in}");
    assert!(!text.contains("hunter2") && !text.contains("secret.person"), "{text}");
}

/// The value of the first sample of `name` whose labels include every one
/// of `labels` (as `key="value"`), or 0 when there is none yet.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_move_with_requests_without_secrets() {
    let app = spawn_app_with(Options { settings: vec![("METRICS_ADDR", "127.0.0.1:0")], ..Options::default() }).await;
    let metrics = format!("{}/metrics", app.metrics_address.clone().expect("a metrics address"));
    let scrape = || async { reqwest::get(&metrics).await.unwrap().text().await.unwrap() };
    assert_eq!(
        reqwest::get(format!("{}/metrics", app.address)).await.unwrap().status(),
        404,
        "not on the public address"
    );

    let before = scrape().await;
    let owner = app.register("Mia Metrics", "mia.metrics@example.com").await;
    owner.get("/users").await;
    let wrong = app
        .browser()
        .post_form("/login", &[("email", "mia.metrics@example.com"), ("password", "not her password 9")])
        .await;
    assert_eq!(wrong.status, 401);
    let mut after = scrape().await;
    // The confirmation mail is counted after the worker records it sent.
    for _ in 0..50 {
        if sample(&after, "panel_mails_sent_total", &[]) > sample(&before, "panel_mails_sent_total", &[]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = scrape().await;
    }

    let users = ["route=\"/users\"", "status=\"200\""];
    assert!(
        sample(&after, "panel_http_requests_total", &users) > sample(&before, "panel_http_requests_total", &users),
        "{after}"
    );
    assert!(sample(&after, "panel_http_request_duration_seconds_count", &["route=\"/users\""]) >= 1.0, "{after}");
    assert!(after.contains("panel_http_request_duration_seconds_bucket{route=\"/users\",le=\"0.005\"}"), "{after}");
    assert!(sample(&after, "panel_sign_in_refusals_total", &[]) > sample(&before, "panel_sign_in_refusals_total", &[]));
    assert!(sample(&after, "panel_mails_sent_total", &[]) > sample(&before, "panel_mails_sent_total", &[]), "{after}");
    assert!(sample(&after, "panel_sessions_active", &[]) >= 1.0, "{after}");
    assert!(sample(&after, "panel_db_up", &[]) == 1.0, "{after}");
    for gauge in [
        "panel_db_pool_connections{state=\"in_use\"}",
        "panel_db_pool_connections{state=\"idle\"}",
        "panel_mail_outbox_pending",
        "panel_mail_outbox_oldest_pending_seconds",
        "panel_hashing_queue_depth",
        "panel_webhook_deliveries_pending",
    ] {
        assert!(after.lines().any(|l| l.starts_with(gauge)), "{gauge} missing: {after}");
    }
    // Routes, not paths: a confirmation link's token never becomes a label.
    assert!(after.contains("route=\"/confirm/{token}\""), "{after}");
    for secret in ["mia.metrics", "not her password", "@example.com"] {
        assert!(!after.contains(secret), "{secret} in {after}");
    }
}

#[tokio::test]
async fn metrics_show_how_long_requests_waited_for_a_database_connection() {
    let (mut command, base) = server_command().await;
    let metrics_port = free_port();
    // A pool of one connection, so requests at once must queue for it.
    let _server = command
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("DB_MAX_CONNECTIONS", "1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::drills::wait_ready(&base).await;
    let client = reqwest::Client::new();
    let readyz = (0..40).map(|_| client.get(format!("{base}/readyz")).send());
    for answer in tokio::task::JoinSet::from_iter(readyz).join_all().await {
        assert_eq!(answer.unwrap().status(), 200);
    }
    let text =
        client.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await.unwrap().text().await.unwrap();
    let waits = sample(&text, "panel_db_acquire_wait_seconds_count", &[]);
    assert!(waits >= 40.0, "every readyz asked the pool: {text}");
    let quick = sample(&text, "panel_db_acquire_wait_seconds_bucket", &["le=\"0.001\""]);
    assert!(quick < waits, "some of 40 requests at once waited over 1 ms for the one connection: {text}");
}

#[tokio::test]
async fn each_new_kind_of_refusal_is_counted_in_metrics() {
    let app = spawn_app_with(Options {
        settings: vec![("METRICS_ADDR", "127.0.0.1:0"), ("REGISTRATIONS_PER_MINUTE", "1"), ("MAX_CONNECTIONS", "30")],
        ..Options::default()
    })
    .await;
    let metrics = format!("{}/metrics", app.metrics_address.clone().expect("a metrics address"));
    let scrape = || async { reqwest::get(&metrics).await.unwrap().text().await.unwrap() };
    let before = scrape().await;
    // The registration cap (one unconfirmed login a minute).
    let ann = app.register("Ann", "ann@example.com").await;
    app.fill_registration(&app.browser(), "Una", "una@example.net", "U").await;
    let late = app
        .browser()
        .post_form(
            "/register",
            &[("name", "B"), ("email", "b@example.net"), ("password", "a long password 1"), ("account_name", "B")],
        )
        .await;
    assert_eq!(late.status, 503);
    // A lock waited on past its bound (the default 3 s: see `db::begin`).
    let account = app.own_account_id("ann@example.com").await;
    let mut holder = panel::db::begin(&app.db).await.unwrap();
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE").bind(account).execute(&mut *holder).await.unwrap();
    assert_eq!(ann.post_form("/contacts/new", &[("name", "D"), ("email", "d@example.net")]).await.status, 503);
    holder.rollback().await.unwrap();
    // A second step failed after the right password.
    app.turn_on_two_factor(&ann).await;
    let thief = app.browser();
    thief.post_form("/login", &[("email", "ann@example.com"), ("password", crate::helpers::PASSWORD)]).await;
    thief.post_form_from("/login/two-factor", "/login/two-factor", &[("code", "000000")]).await;
    // The connection cap.
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = scrape().await;
    drop(held);
    for name in [
        "panel_registration_cap_refusals_total",
        "panel_db_timeouts_total",
        "panel_second_step_failures_total",
        "panel_connection_cap_refusals_total",
    ] {
        assert!(sample(&after, name, &[]) > sample(&before, name, &[]), "{name} moved:\n{after}");
    }
}

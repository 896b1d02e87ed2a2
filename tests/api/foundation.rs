//! What every page relies on: CSRF, security headers, error pages, probes,
//! the mail outbox and its worker, configuration and the subcommands.

use std::process::Command;

use crate::helpers::{spawn_app, spawn_app_with, Options, PASSWORD};

#[tokio::test]
async fn a_post_without_the_csrf_token_or_from_another_site_changes_nothing() {
    let app = spawn_app().await;
    let b = app.register("Ann", "ann@example.com").await;
    let token = b.csrf().await;
    let cases = [
        ("name=Mallory".to_string(), vec![]),
        ("name=Mallory&csrf_token=wrong".to_string(), vec![]),
        (format!("name=Mallory&csrf_token={token}"), vec![("sec-fetch-site", "cross-site")]),
        (format!("name=Mallory&csrf_token={token}"), vec![("origin", "https://evil.example")]),
    ];
    for (body, headers) in cases {
        let res = b.post_raw("/profile/name", &body, &headers).await;
        assert_eq!(res.status, 403, "{body} {headers:?}");
        assert!(res.body.contains("Nothing was changed"));
    }
    let name: String = sqlx::query_scalar("SELECT name FROM users").fetch_one(&app.db).await.unwrap();
    assert_eq!(name, "Ann");
    // The same form with the token goes through.
    let ok = b
        .post_raw("/profile/name", &format!("name=Annie&csrf_token={token}"), &[("sec-fetch-site", "same-origin")])
        .await;
    ok.assert_redirect_to("/profile");
}

#[tokio::test]
async fn a_signed_out_form_needs_the_browsers_csrf_token_too() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let b = app.browser();
    let res =
        b.post_raw("/login", &format!("email=ann%40example.com&password={}", PASSWORD.replace(' ', "+")), &[]).await;
    assert_eq!(res.status, 403);
    assert!(b.cookie("panel_session").is_none());
}

#[tokio::test]
async fn every_response_carries_the_security_headers_error_pages_included() {
    let app = spawn_app().await;
    let b = app.browser();
    for (path, status) in [("/login", 200), ("/no-such-page", 404), ("/logout", 405)] {
        let res = b.get(path).await;
        assert_eq!(res.status, status, "{path}");
        let csp = res.headers.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(res.headers.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(res.headers.get("referrer-policy").unwrap(), "no-referrer");
        assert!(res.headers.get("x-request-id").is_some());
        assert!(
            res.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/html"),
            "{path} is a page"
        );
    }
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_samesite_lax() {
    let app = spawn_app().await;
    let b = app.browser();
    app.fill_registration(&b, "Ann", "ann@example.com", "A").await;
    let res = b.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    let cookie = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("panel_session="))
        .expect("session cookie set");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_a_clear_4xx_page() {
    let app = spawn_app().await;
    let b = app.register("Ann", "ann@example.com").await;
    let token = b.csrf().await;
    let huge = format!("csrf_token={token}&name={}", "x".repeat(1_100_000));
    let res = b.post_raw("/profile/name", &huge, &[]).await;
    assert_eq!(res.status, 413);
    assert!(res.body.contains("too large"));
    let bad_utf8 = format!("csrf_token={token}&name=%FF%FE");
    let res = b.post_raw("/profile/name", &bad_utf8, &[]).await;
    assert_eq!(res.status, 400);
    let name: String = sqlx::query_scalar("SELECT name FROM users").fetch_one(&app.db).await.unwrap();
    assert_eq!(name, "Ann");
}

#[tokio::test]
async fn healthz_needs_no_database_and_readyz_asks_it() {
    let app = spawn_app().await;
    let b = app.browser();
    assert_eq!(b.get("/healthz").await.status, 200);
    assert_eq!(b.get("/readyz").await.status, 200);
    app.db.close().await;
}

#[tokio::test]
async fn the_menu_under_hello_works_without_javascript_and_shows_user_management_to_the_owner() {
    let app = spawn_app().await;
    let b = app.register("Ann", "ann@example.com").await;
    let home = b.get("/").await;
    let items = home.texts("details.menu li");
    assert_eq!(items, vec!["User Management", "Switch Account", "API tokens", "Profile", "Security", "Sign out"]);
    assert_eq!(home.attr("details.menu a[href='/users']", "href").as_deref(), Some("/users"));
    assert!(!home.body.contains("<script"), "no scripts needed");
}

/// Pages link the stylesheet and script by a version of the static files,
/// so an upgrade's files are fetched at once; only this version's link may
/// be kept for a year, so an old server copy's answer to a new link during
/// a rolling upgrade never sticks.
#[tokio::test]
async fn pages_link_static_files_by_version_and_only_this_version_is_kept_long() {
    let app = spawn_app().await;
    let b = app.browser();
    let login = b.get("/login").await;
    let css = login.attr("link[rel=stylesheet]", "href").unwrap();
    let version = css.strip_prefix("/static/app.css?v=").expect("the stylesheet's link has a version").to_string();
    assert_eq!(version.len(), 12, "{css}");
    assert_eq!(
        login.attr("script[src^='/static/passkeys.js']", "src"),
        Some(format!("/static/passkeys.js?v={version}"))
    );

    let cache = |page: &crate::helpers::browser::Page| page.headers["cache-control"].to_str().unwrap().to_string();
    let kept = b.get(&css).await;
    assert_eq!(kept.status, 200);
    assert!(kept.body.contains("body"), "the stylesheet itself");
    assert_eq!(cache(&kept), "public, max-age=31536000, immutable");
    let other = b.get("/static/app.css?v=0123456789ab").await;
    assert_eq!((other.status, cache(&other).as_str()), (200, "no-cache"), "another version's link is asked again");
    let bare = b.get("/static/remove.svg").await;
    assert_eq!((bare.status, cache(&bare).as_str()), (200, "public, max-age=3600"), "the stylesheet's own link");
    let missing = b.get(&format!("/static/nothing.css?v={version}")).await;
    assert_eq!((missing.status, cache(&missing).as_str()), (404, "no-cache"));
    // Asking again whether a kept copy changed: the answer says the same.
    let since = kept.headers["last-modified"].to_str().unwrap().to_string();
    let unchanged = b.get_with(&css, &[("if-modified-since", since.as_str())]).await;
    assert_eq!((unchanged.status, cache(&unchanged).as_str()), (304, "public, max-age=31536000, immutable"));
    let with_more = b.get(&format!("/static/app.css?lang=en&v={version}")).await;
    assert_eq!(cache(&with_more), "public, max-age=31536000, immutable", "the version among other parameters");
}

#[tokio::test]
async fn the_mail_worker_retries_while_smtp_is_down_and_delivers_exactly_once_when_it_returns() {
    let app = spawn_app_with(Options { smtp_down: true, ..Options::default() }).await;
    // Registering queues the address's confirmation link; the reset is the second mail.
    app.register_unconfirmed("Ann", "ann@example.com").await;
    app.browser().post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    let reset = "SELECT coalesce(max(attempts), 0)::int8 FROM mail_outbox WHERE subject = 'Reset your password'";
    // The worker tries and fails while nothing listens.
    for _ in 0..100 {
        if app.count(reset).await >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM mail_outbox WHERE subject = 'Reset your password'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status, "pending");
    assert!(attempts >= 1 && error.is_some(), "the failure is recorded");
    app.mail.come_up().await;
    app.mail.wait_for("ann@example.com", "Reset your password").await;
    app.mail.wait_for("ann@example.com", "Confirm your email address").await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(app.mail.all().len(), 2, "each sent once");
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE status = 'sent'").await, 2);
}

#[tokio::test]
async fn mail_that_keeps_failing_is_marked_failed_not_dropped() {
    let app = spawn_app_with(Options { smtp_down: true, ..Options::default() }).await;
    app.register_unconfirmed("Ann", "ann@example.com").await;
    app.browser().post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    // Skip the waiting between tries: make each try due at once (not the
    // one a worker holds: its lease, two minutes, is its own).
    for _ in 0..400 {
        sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = now()
             WHERE status = 'pending' AND next_attempt_at < now() + interval '1 minute'",
        )
        .execute(&app.db)
        .await
        .unwrap();
        if app.count("SELECT count(*) FROM mail_outbox WHERE status = 'failed'").await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM mail_outbox WHERE subject = 'Reset your password'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 8));
}

#[tokio::test]
async fn without_smtp_the_local_mailbox_shows_mail_with_clickable_links() {
    let app = spawn_app_with(Options { smtp: false, ..Options::default() }).await;
    app.register_unconfirmed("Ann", "ann@example.com").await;
    let b = app.browser();
    b.post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    // The reset mail is made just after the answer (it must not tell, by
    // its timing, whether the address has a login).
    let mut href = None;
    for _ in 0..100 {
        let index = b.get("/dev/mailbox").await;
        assert_eq!(index.status, 200);
        href = index
            .html()
            .select(&scraper::Selector::parse("td a").unwrap())
            .find(|a| a.text().collect::<String>().contains("Reset your password"))
            .and_then(|a| a.value().attr("href").map(str::to_string));
        if href.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let href = href.expect("the reset mail is listed");
    let mail = b.get(&href).await;
    let link = mail.attr(".mail-body a", "href").expect("its link is clickable");
    assert!(link.contains("/password/reset/"));
}

#[tokio::test]
async fn with_smtp_configured_there_is_no_local_mailbox() {
    let app = spawn_app().await;
    assert_eq!(app.browser().get("/dev/mailbox").await.status, 404);
}

fn panel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_panel"));
    for var in ["DATABASE_URL", "SMTP_URL", "MAIL_FROM", "BASE_URL", "LISTEN_ADDR", "RUST_LOG"] {
        c.env_remove(var);
    }
    c
}

#[test]
fn a_bad_configuration_value_stops_the_server_with_one_line() {
    for (var, value) in [
        ("LISTEN_ADDR", "nonsense"),
        ("BASE_URL", "ftp://x"),
        ("SMTP_URL", "http://mail"),
        ("DATABASE_URL", "mysql://x"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("MAIL_FROM", "not an address"),
        ("TRUST_X_FORWARDED_FOR", "maybe"),
    ] {
        let out = panel().env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(var), "{err}");
    }
}

#[tokio::test]
async fn create_staff_and_seed_demo_work_against_the_configured_database() {
    let app = spawn_app().await;
    let out = panel()
        .args(["create-staff", "Help@Example.com"])
        .env("DATABASE_URL", &app.db_url)
        .env("PANEL_STAFF_PASSWORD", "a long staff password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'help@example.com' AND is_staff").await, 1);
    let again = panel()
        .args(["create-staff", "help@example.com"])
        .env("DATABASE_URL", &app.db_url)
        .env("PANEL_STAFF_PASSWORD", "a long staff password")
        .output()
        .unwrap();
    assert!(!again.status.success());

    let out = panel().arg("seed-demo").env("DATABASE_URL", &app.db_url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("owner@demo.example.com") && printed.contains(panel::seed::DEMO_PASSWORD));
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE NOT is_owner").await, 2);
    let owner = app.browser();
    owner
        .post_form("/login", &[("email", "owner@demo.example.com"), ("password", panel::seed::DEMO_PASSWORD)])
        .await
        .assert_redirect_to("/");
}

#[tokio::test]
async fn an_internal_failure_shows_a_plain_500_page_with_the_request_id() {
    let app = spawn_app().await;
    // Break the database under the app: registering needs this table.
    sqlx::query("DROP TABLE audit_events").execute(&app.db).await.unwrap();
    let res = app
        .browser()
        .post_form(
            "/register",
            &[("name", "Ann"), ("email", "ann@example.com"), ("password", PASSWORD), ("account_name", "A")],
        )
        .await;
    assert_eq!(res.status, 500);
    let id = res.headers.get("x-request-id").unwrap().to_str().unwrap().to_string();
    assert!(res.text().contains(&id), "the page names the request id");
    assert!(!res.text().contains("audit_events"), "no internals shown");
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0, "the transaction rolled back");
}

#[tokio::test]
async fn a_sent_mail_keeps_no_working_link_in_the_outbox() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    app.browser().post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    let mail = app.mail.wait_for("ann@example.com", "Reset your password").await;
    let link = crate::helpers::link_in(&mail, &app, "/password/reset/");
    let token = link.rsplit('/').next().unwrap().to_string();
    for _ in 0..100 {
        if app.count("SELECT count(*) FROM mail_outbox WHERE secret IS NULL").await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (text, html): (String, String) =
        sqlx::query_as("SELECT text_body, html_body FROM mail_outbox").fetch_one(&app.db).await.unwrap();
    assert!(!text.contains(&token) && !html.contains(&token));
    assert!(text.contains("[link removed after sending]"));
    assert_eq!(app.browser().get(&link).await.status, 200, "the delivered link still works");
}

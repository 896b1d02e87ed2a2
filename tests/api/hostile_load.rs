//! Hostile load: what a stranger, or one careless member, can do to other
//! customers. Each attack is repeated briefly, from real loopback source
//! addresses (127.0.1.x) where it is spread over many; the figures under
//! longer floods are `bench/run`'s.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{link_in, spawn_app_with, Browser, Options, TestApp, PASSWORD};

fn address(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, (n % 250 + 1) as u8))
}

fn from(app: &TestApp, n: u32) -> Browser {
    Browser::from_address(&app.address, address(n))
}

#[tokio::test]
async fn a_registration_flood_never_refuses_or_locks_out_a_real_sign_in() {
    // One hashing thread, and no total cap: only the hashing lanes keep the
    // real person's sign-ins apart from the flood.
    let app = spawn_app_with(Options {
        settings: vec![("HASH_CONCURRENCY", "1"), ("REGISTRATIONS_PER_MINUTE", "100000")],
        ..Options::default()
    })
    .await;
    app.register("Ann", "ann@example.com").await;
    let flood: Vec<_> = (0..80u32)
        .map(|i| {
            let b = from(&app, i);
            tokio::spawn(async move {
                let email = format!("flood{i}@example.net");
                b.post_form(
                    "/register",
                    &[("name", "F"), ("email", &email), ("password", PASSWORD), ("account_name", "F")],
                )
                .await
                .status
            })
        })
        .collect();
    let mut signed_in = 0;
    for _ in 0..5 {
        let ann = app.browser();
        let res = ann.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(res.status, 303, "a sign-in during the flood: {}", res.text());
        assert_eq!(res.location(), Some("/"));
        signed_in += 1;
    }
    let mut statuses = Vec::new();
    for f in flood {
        statuses.push(f.await.unwrap());
    }
    assert_eq!(signed_in, 5);
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "registrations: ok or 'try again' {statuses:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM sign_in_attempts WHERE email = 'ann@example.com' AND NOT success").await,
        0,
        "nothing was counted against Ann"
    );
}

#[tokio::test]
async fn registrations_past_the_total_cap_are_refused_from_any_address_and_make_nothing() {
    let app = spawn_app_with(Options { settings: vec![("REGISTRATIONS_PER_MINUTE", "3")], ..Options::default() }).await;
    for i in 0..3u32 {
        let email = format!("new{i}@example.net");
        app.fill_registration(&from(&app, i), "New", &email, "New Ltd").await;
    }
    let res = from(&app, 9)
        .post_form(
            "/register",
            &[("name", "Late"), ("email", "late@example.net"), ("password", PASSWORD), ("account_name", "L")],
        )
        .await;
    assert_eq!(res.status, 503);
    assert!(res.text().contains("Please try again in a minute"), "{}", res.text());
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'late@example.net'").await, 0);
    // Signing in is not part of the cap.
    app.browser()
        .post_form("/login", &[("email", "new0@example.net"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
}

/// Fills the login-wide limit from 20 addresses, 5 wrong passwords each,
/// as a stranger who does not know the password would.
async fn exhaust_login_limit(app: &TestApp, email: &str) {
    for n in 0..20u32 {
        let b = from(app, 100 + n);
        for _ in 0..5 {
            let res = b.post_form("/login", &[("email", email), ("password", "not the password")]).await;
            assert!(res.status == 422 || res.status == 401 || res.status == 200, "{}", res.status);
        }
    }
}

#[tokio::test]
async fn a_two_factor_owner_locked_out_from_everywhere_gets_back_in_with_a_mailed_link_and_a_code() {
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    exhaust_login_limit(&app, "ann@example.com").await;
    // A new browser with the right password is held by the login-wide limit.
    let phone = app.browser();
    let res = phone.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status, 429, "{}", res.text());
    // The way back: a mailed link, then the second step under its own budget.
    phone.post_form("/login/link", &[("email", "ann@example.com")]).await;
    let mail = app.mail.wait_for("ann@example.com", "sign-in link").await;
    let link = link_in(&mail, &app, "/login/link/");
    phone.post_form_from(&link, &link, &[]).await.assert_redirect_to("/login/two-factor");
    let wrong = phone.post_form_from("/login/two-factor", "/login/two-factor", &[("code", "000000")]).await;
    assert_eq!(wrong.status, 401, "a wrong code is just wrong: {}", wrong.text());
    phone
        .post_form_from("/login/two-factor", "/login/two-factor", &[("code", &app.code_now(&key.secret))])
        .await
        .assert_redirect_to("/");
    assert_eq!(phone.get("/").await.status, 200, "signed in");

    // A recovery code works the same way.
    let laptop = app.browser();
    app.clock.advance(30);
    laptop.post_form("/login/link", &[("email", "ann@example.com")]).await;
    let mail = loop {
        let links: Vec<_> = app
            .mail
            .all()
            .into_iter()
            .filter(|m| m.to == "ann@example.com" && m.subject.contains("sign-in link"))
            .collect();
        if links.len() == 2 {
            break links[1].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let link = link_in(&mail, &app, "/login/link/");
    laptop.post_form_from(&link, &link, &[]).await.assert_redirect_to("/login/two-factor");
    laptop
        .post_form_from("/login/two-factor", "/login/two-factor", &[("code", &key.recovery_codes[0])])
        .await
        .assert_redirect_to("/");
}

#[tokio::test]
async fn a_second_step_from_a_link_ends_after_five_wrong_codes() {
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    let b = app.browser();
    b.post_form("/login/link", &[("email", "ann@example.com")]).await;
    let link = link_in(&app.mail.wait_for("ann@example.com", "sign-in link").await, &app, "/login/link/");
    b.post_form_from(&link, &link, &[]).await.assert_redirect_to("/login/two-factor");
    for _ in 0..5 {
        let res = b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", "000000")]).await;
        assert_eq!(res.status, 401);
    }
    let res = b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &app.code_now(&key.secret))]).await;
    assert_eq!(res.status, 429, "the budget is spent: {}", res.text());
    assert!(res.text().contains("Ask for a new sign-in link"), "{}", res.text());
    assert_eq!(b.get("/").await.status, 303, "not signed in");
}

#[tokio::test]
async fn failed_second_steps_after_a_right_password_are_mailed_once_and_listed_on_the_security_page() {
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.turn_on_two_factor(&ann).await;
    for n in 0..4u32 {
        let thief = from(&app, 40 + n);
        thief
            .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
            .await
            .assert_redirect_to("/login/two-factor");
        let res = thief.post_form_from("/login/two-factor", "/login/two-factor", &[("code", "123456")]).await;
        assert_eq!(res.status, 401);
    }
    let mail = app.mail.wait_for("ann@example.com", "Failed sign-ins to your login").await;
    assert!(mail.text.contains("127.0.1.41") && mail.text.contains("127.0.1.43"), "{}", mail.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let told = app.mail.all();
    assert_eq!(told.iter().filter(|m| m.subject.contains("Failed sign-ins")).count(), 1, "once, not per failure");
    let page = ann.get("/security").await;
    let listed = page.texts("#second-step-failures td").concat();
    assert!(listed.contains("127.0.1.41") && listed.contains("127.0.1.44"), "{listed}");
}

#[tokio::test]
async fn wrong_codes_when_turning_off_the_app_are_throttled() {
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.turn_on_two_factor(&ann).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let res = ann.post_form("/security/totp/off", &[("password", PASSWORD), ("code", "000000")]).await;
        statuses.push(res.status);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(ann.get("/security").await.texts("#two-factor-state").concat().contains("On"), "still on");
}

#[tokio::test]
async fn a_burst_of_new_contacts_neither_deadlocks_nor_slows_another_customer() {
    let app = spawn_app_with(Options::default()).await;
    let ann = std::sync::Arc::new(app.register("Ann", "ann@example.com").await);
    let other = app.register("Olga", "olga@example.com").await;
    let burst: Vec<_> = (0..16u32)
        .map(|w| {
            let ann = ann.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for i in 0..6u32 {
                    let email = format!("c{w}-{i}@example.net");
                    let res = ann
                        .post_form("/contacts/new", &[("name", "Desk"), ("email", &email), ("notify", "support")])
                        .await;
                    statuses.push(res.status);
                }
                statuses
            })
        })
        .collect();
    let mut other_pages = Vec::new();
    for _ in 0..10 {
        other_pages.push(other.get("/").await.status);
    }
    let mut statuses = Vec::new();
    for b in burst {
        statuses.extend(b.await.unwrap());
    }
    assert!(other_pages.iter().all(|s| *s == 200), "{other_pages:?}");
    assert!(!statuses.contains(&409), "no deadlock: {statuses:?}");
    assert!(!statuses.contains(&500), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 303 || *s == 429), "saved, or the mail budget: {statuses:?}");
}

#[tokio::test]
async fn a_request_waiting_too_long_for_a_lock_answers_try_again_and_changes_nothing() {
    // The default lock timeout (3 s): the bound is one value for the whole
    // test process, so no test changes it under the others.
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let mut holder = panel::db::begin(&app.db).await.unwrap();
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE").bind(account).execute(&mut *holder).await.unwrap();
    let res = ann.post_form("/contacts/new", &[("name", "Desk"), ("email", "desk@example.net")]).await;
    holder.rollback().await.unwrap();
    assert_eq!(res.status, 503, "{}", res.text());
    assert!(res.text().contains("nothing was changed"), "{}", res.text());
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 0);
    ann.post_form("/contacts/new", &[("name", "Desk"), ("email", "desk@example.net")])
        .await
        .assert_redirect_to("/contacts");
}

#[tokio::test]
async fn a_password_reset_ends_api_tokens_devices_and_sessions_and_mails_what_to_review() {
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    let intruder = app.browser();
    intruder.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    let token = app.make_token(&intruder, "mine now", &[], false).await;
    let api = crate::helpers::api::Api::new(&app, Some(&token));
    assert_eq!(api.get("/api/v1/account").await.status, 200);

    let b = app.browser();
    b.post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    let link = link_in(&app.mail.wait_for("ann@example.com", "Reset your password").await, &app, "/password/reset/");
    let new = "a brand new password 42";
    b.post_form_from(&link, &link, &[("password", new), ("confirm", new)]).await.assert_redirect_to("/");

    assert_eq!(api.get("/api/v1/account").await.status, 401, "the intruder's token is dead");
    assert_eq!(intruder.get("/").await.status, 303, "the intruder is signed out");
    assert_eq!(ann.get("/").await.status, 303, "every other session too");
    assert_eq!(app.count("SELECT count(*) FROM known_devices").await, 0);
    let mail = app.mail.wait_for("ann@example.com", "what we ended").await;
    assert!(mail.text.contains("1 API token(s)"), "{}", mail.text);
    assert!(mail.text.contains("ended 2 other session(s)"), "Ann's and the intruder's: {}", mail.text);
}

#[tokio::test]
async fn a_password_change_ends_tokens_when_ticked_and_keeps_them_when_not() {
    let app = spawn_app_with(Options::default()).await;
    let ann = app.register("Ann", "ann@example.com").await;
    let token = app.make_token(&ann, "script", &[], false).await;
    let api = crate::helpers::api::Api::new(&app, Some(&token));
    let second = "second password 12345";
    ann.post_form("/profile/password", &[("current", PASSWORD), ("password", second), ("confirm", second)])
        .await
        .assert_redirect_to("/profile");
    assert_eq!(api.get("/api/v1/account").await.status, 200, "unticked: the token stays");
    let third = "third password 123456";
    ann.post_form(
        "/profile/password",
        &[("current", second), ("password", third), ("confirm", third), ("end_everything", "yes")],
    )
    .await
    .assert_redirect_to("/profile");
    assert_eq!(api.get("/api/v1/account").await.status, 401, "ticked: ended");
    assert_eq!(ann.get("/profile").await.status, 200, "this session stays");
    app.mail.wait_for("ann@example.com", "what we ended").await;
}

/// Opens `n` connections that send half a request header and stop.
async fn half_open(app: &TestApp, n: usize) -> Vec<tokio::net::TcpStream> {
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut conns = Vec::new();
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes()).await.unwrap();
        conns.push(s);
    }
    conns
}

#[tokio::test]
async fn half_open_connections_are_closed_within_seconds_and_past_the_cap_get_a_quick_503() {
    let app = spawn_app_with(Options {
        settings: vec![("MAX_CONNECTIONS", "200"), ("HEADER_READ_TIMEOUT_SECS", "2")],
        ..Options::default()
    })
    .await;
    let mut slow = half_open(&app, 300).await;
    // Past the cap: a 503 at once, not a hang.
    let busy = reqwest::Client::new().get(format!("{}/login", app.address)).send().await.unwrap();
    assert_eq!(busy.status().as_u16(), 503);
    // The server closes every one of them after the header timeout.
    let mut closed = 0;
    for s in &mut slow {
        let mut buf = [0u8; 512];
        // A read that ends (EOF or reset) within the wait: the server closed it.
        if tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.is_ok() {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "every half-open connection was closed by the server");
    let page = reqwest::Client::new().get(format!("{}/login", app.address)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "and a real visitor is served");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = spawn_app_with(Options { settings: vec![("HEADER_READ_TIMEOUT_SECS", "1")], ..Options::default() }).await;
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(format!("GET /login HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    // Read the answer, then wait: the server must close the idle connection.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"), "the page came first");
    assert_eq!(closed, Ok(true), "the idle connection was closed");
}

/// A page with its per-visitor values (the CSRF token) taken out.
fn without_tokens(body: &str) -> String {
    body.split('"').filter(|part| !(part.len() == 43 && panel::domain::token::well_formed(part))).collect()
}

#[tokio::test]
async fn forgot_password_and_sign_in_links_answer_the_same_for_known_and_unknown_addresses() {
    let app = spawn_app_with(Options::default()).await;
    app.register("Ann", "ann@example.com").await;
    for path in ["/password/forgot", "/login/link"] {
        let known = app.browser().post_form(path, &[("email", "ann@example.com")]).await;
        let unknown = app.browser().post_form(path, &[("email", "nobody@example.com")]).await;
        assert_eq!((known.status, unknown.status), (200, 200), "{path}");
        assert_eq!(without_tokens(&known.body), without_tokens(&unknown.body), "{path}: the same page");
    }
    // The mails still go out, after the answers.
    app.mail.wait_for("ann@example.com", "Reset your password").await;
    app.mail.wait_for("ann@example.com", "Your sign-in link").await;
    assert!(!app.mail.all().iter().any(|m| m.to == "nobody@example.com"));
}

//! Registration, sign-in and sign-out, the rate limit, password reset.

use crate::helpers::{link_in, spawn_app, Browser, PASSWORD};

#[tokio::test]
async fn registration_creates_a_login_that_owns_a_new_account_and_signs_in() {
    let app = spawn_app().await;
    let b = app.register("Ann Owner", "  Ann@Example.COM ").await;
    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert_eq!(home.texts("details.menu summary"), vec!["Hello, Ann Owner"]);
    assert!(home.texts(".active-account").contains(&"Ann Owner's account".to_string()));
    // Stored normalised, and the owner's membership is marked as such.
    let owners = app
        .count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ann@example.com' AND m.is_owner")
        .await;
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn registration_refuses_bad_input_with_a_message_and_writes_nothing() {
    let app = spawn_app().await;
    let long = "n".repeat(10_000);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("name", "A"), ("email", "a@"), ("password", PASSWORD), ("account_name", "X")],
            "does not look like an email",
        ),
        (
            vec![("name", "A"), ("email", "@b.com"), ("password", PASSWORD), ("account_name", "X")],
            "does not look like an email",
        ),
        (
            vec![("name", "A"), ("email", "a@b@c.com"), ("password", PASSWORD), ("account_name", "X")],
            "does not look like an email",
        ),
        (
            vec![("name", "A"), ("email", "a@example.com"), ("password", "short"), ("account_name", "X")],
            "at least 10 characters",
        ),
        (
            vec![("name", "  "), ("email", "a@example.com"), ("password", PASSWORD), ("account_name", "X")],
            "Enter your name",
        ),
        (vec![("name", &long), ("email", "a@example.com"), ("password", PASSWORD), ("account_name", "X")], "too long"),
        (
            vec![("name", "A"), ("email", "a@example.com"), ("password", PASSWORD), ("account_name", "")],
            "Enter an account name",
        ),
        (
            vec![("name", "A\u{0}"), ("email", "a@example.com"), ("password", PASSWORD), ("account_name", "X")],
            "not allowed",
        ),
    ];
    for (fields, message) in cases {
        let res = app.browser().post_form("/register", &fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(res.body.contains(message), "{fields:?} should say {message:?}: {}", res.body);
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn sign_out_ends_the_session_and_a_replayed_cookie_is_refused() {
    let app = spawn_app().await;
    let b = app.register("Ann", "ann@example.com").await;
    let cookie = b.cookie("panel_session").expect("signed in");
    b.post_form("/logout", &[]).await.assert_redirect_to("/login?signed_out=1");
    b.get("/").await.assert_redirect_to("/login?next=/");
    let replay = Browser::with_cookie(&app.address, &format!("panel_session={cookie}"));
    replay.get("/").await.assert_redirect_to("/login?next=/");
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let wrong =
        app.browser().post_form("/login", &[("email", "ann@example.com"), ("password", "not the password")]).await;
    let unknown =
        app.browser().post_form("/login", &[("email", "nobody@example.com"), ("password", "not the password")]).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.texts(".error"), unknown.texts(".error"));
    assert_eq!(wrong.texts(".error"), vec!["Incorrect email or password."]);
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_dies() {
    let app = spawn_app().await;
    let b = app.register("Ann", "ann@example.com").await;
    let before = b.cookie("panel_session").unwrap();
    let res = b.post_form_from("/login", "/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    res.assert_redirect_to("/");
    let after = b.cookie("panel_session").unwrap();
    assert_ne!(before, after);
    Browser::with_cookie(&app.address, &format!("panel_session={before}"))
        .get("/")
        .await
        .assert_redirect_to("/login?next=/");
    assert_eq!(b.get("/").await.status, 200);
}

#[tokio::test]
async fn sign_in_returns_to_a_relative_next_but_never_to_another_site() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    for (next, expected) in [
        ("/profile", "/profile"),
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ] {
        let b = app.browser();
        let res = b.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD), ("next", next)]).await;
        res.assert_redirect_to(expected);
    }
    // The page asking to sign in keeps only a safe next as well.
    let page = app.browser().get("/login?next=https://evil.example").await;
    assert_eq!(page.attr("input[name=next]", "value").as_deref(), Some("/"));
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_and_the_limit_lifts_with_time() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let b = app.browser();
    for _ in 0..5 {
        assert_eq!(
            b.post_form("/login", &[("email", "ann@example.com"), ("password", "wrong password")]).await.status,
            401
        );
    }
    // Even the right password waits now, with a plain explanation.
    let limited = b.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("try again in 15 minutes"), "{}", limited.body);
    // Fifteen minutes later the window has passed.
    sqlx::query("UPDATE sign_in_attempts SET at = at - interval '16 minutes'").execute(&app.db).await.unwrap();
    b.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
}

#[tokio::test]
async fn password_reset_works_once_through_the_mailed_link_and_ends_other_sessions() {
    let app = spawn_app().await;
    let other_session = app.register("Ann", "ann@example.com").await;
    let b = app.browser();
    let res = b.post_form("/password/forgot", &[("email", "ANN@example.com")]).await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("If a login exists for that address"));
    let mail = app.mail.wait_for("ann@example.com", "Reset your password").await;
    let link = link_in(&mail, &app, "/password/reset/");
    // The token is stored only as its hash.
    let token = link.rsplit('/').next().unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM password_resets WHERE token_hash = sha256($1::text::bytea)")
            .bind(token)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 1);

    assert_eq!(b.get(&link).await.status, 200);
    let mismatch = b.post_form(&link, &[("password", "a new password 1"), ("confirm", "something else")]).await;
    assert_eq!(mismatch.status, 422);
    let done = b.post_form(&link, &[("password", "a new password 1"), ("confirm", "a new password 1")]).await;
    done.assert_redirect_to("/");
    assert_eq!(b.get("/").await.status, 200, "the reset signs this browser in");
    other_session.get("/").await.assert_redirect_to("/login?next=/");

    // The link is dead after use; the old password no longer works.
    assert_eq!(b.get(&link).await.status, 410);
    let again =
        app.browser().post_form(&link, &[("password", "third password 1"), ("confirm", "third password 1")]).await;
    assert_eq!(again.status, 410);
    assert_eq!(
        app.browser().post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.status,
        401
    );
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", "a new password 1")])
        .await
        .assert_redirect_to("/");
}

#[tokio::test]
async fn a_reset_link_dies_after_an_hour_and_unknown_addresses_get_no_mail() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let b = app.browser();
    b.post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    let unknown = b.post_form("/password/forgot", &[("email", "nobody@example.com")]).await;
    assert!(unknown.body.contains("If a login exists for that address"), "same answer for unknown addresses");
    let mail = app.mail.wait_for("ann@example.com", "Reset your password").await;
    let link = link_in(&mail, &app, "/password/reset/");
    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 second'").execute(&app.db).await.unwrap();
    let res = b.get(&link).await;
    assert_eq!(res.status, 410);
    assert!(res.body.contains("expired or has already been used"));
    for bad in ["/password/reset/short", "/password/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        assert_eq!(b.get(bad).await.status, 410);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(app.mail.all().iter().all(|m| m.to != "nobody@example.com"));
}

#[tokio::test]
async fn changing_the_password_signs_out_other_sessions_but_not_this_one() {
    let app = spawn_app().await;
    let here = app.register("Ann", "ann@example.com").await;
    let elsewhere = app.browser();
    elsewhere
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    let wrong = here
        .post_form(
            "/profile/password",
            &[("current", "nope nope nope"), ("password", "brand new pass 1"), ("confirm", "brand new pass 1")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    here.post_form(
        "/profile/password",
        &[("current", PASSWORD), ("password", "brand new pass 1"), ("confirm", "brand new pass 1")],
    )
    .await
    .assert_redirect_to("/profile");
    assert_eq!(here.get("/").await.status, 200);
    elsewhere.get("/").await.assert_redirect_to("/login?next=/");
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_cannot_slip_past_the_limit() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let b = std::sync::Arc::new(app.browser());
    let token = b.csrf().await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let b = b.clone();
        let body = format!("csrf_token={token}&email=ann%40example.com&password=wrong+guess+here");
        tasks.push(tokio::spawn(async move { b.post_raw("/login", &body, &[]).await.status }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15, "{statuses:?}");
}

#[tokio::test]
async fn changing_the_password_kills_outstanding_reset_links() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.browser().post_form("/password/forgot", &[("email", "ann@example.com")]).await;
    let link = link_in(&app.mail.wait_for("ann@example.com", "Reset your password").await, &app, "/password/reset/");
    ann.post_form(
        "/profile/password",
        &[("current", PASSWORD), ("password", "brand new pass 1"), ("confirm", "brand new pass 1")],
    )
    .await
    .assert_redirect_to("/profile");
    assert_eq!(app.browser().get(&link).await.status, 410);
}

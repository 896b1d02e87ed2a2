//! Two-factor sign-in: the authenticator app (with the test's own clock
//! for drift and reuse), recovery codes, the half-signed-in session, and
//! the Security page's sessions.

use crate::helpers::{browser::Page, invite, link_in, spawn_app, Browser, TestApp, PASSWORD};

/// A fresh browser past the password: it now stands at the second step.
async fn password_only(app: &TestApp, email: &str) -> Browser {
    let b = app.browser();
    b.post_form("/login", &[("email", email), ("password", PASSWORD)]).await.assert_redirect_to("/login/two-factor");
    b
}

/// Sends `code` at the second step, from its page.
async fn second_step(b: &Browser, code: &str) -> Page {
    b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", code)]).await
}

#[tokio::test]
async fn the_app_is_set_up_from_the_key_on_the_page_and_is_on_only_after_a_right_code() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    assert!(ann.get("/security").await.texts("#two-factor-state").concat().contains("Off"));
    ann.post_form("/security/totp/start", &[]).await.assert_redirect_to("/security/totp");
    let page = ann.get("/security/totp").await;
    assert!(page.body.contains("<svg"), "the QR code is drawn on the page");
    let res = ann.post_form("/security/totp/confirm", &[("code", "000000")]).await;
    assert_eq!(res.status, 422);
    assert!(res.text().contains("That code is not right"));
    assert!(ann.get("/security").await.texts("#two-factor-state").concat().contains("Off"), "still off");
    // Signing in still needs only the password.
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    let key = app.turn_on_two_factor(&ann).await;
    assert!(ann.get("/security").await.texts("#two-factor-state").concat().contains("On"));
    app.mail.wait_for("ann@example.com", "Two-factor sign-in is on").await;
    let b = password_only(&app, "ann@example.com").await;
    b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &app.code_now(&key.secret))])
        .await
        .assert_redirect_to("/");
    assert_eq!(b.get("/").await.texts("details.menu summary"), ["Hello, Ann"]);
}

#[tokio::test]
async fn a_half_signed_in_session_reaches_nothing_but_the_second_step_and_ends_after_5_minutes() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    let b = password_only(&app, "ann@example.com").await;
    for path in ["/", "/security", "/users", "/profile", "/accounts/switch", "/invoices"] {
        let res = b.get(path).await;
        assert_eq!(res.status, 303, "{path}");
        assert!(res.location().unwrap_or("").starts_with("/login"), "{path} sends to sign-in");
    }
    assert_eq!(b.get("/login/two-factor").await.status, 200);
    // Five minutes later the step is gone: sign in again.
    sqlx::query("UPDATE sessions SET created_at = now() - interval '6 minutes' WHERE second_step_due")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(b.get("/login/two-factor").await.status, 410);
    let res = b.post_form_from("/login", "/login/two-factor", &[("code", &app.code_now(&key.secret))]).await;
    assert_eq!(res.status, 410);
    assert_eq!(b.get("/").await.status, 303, "still not signed in");
    // Cancel ends a waiting step.
    let c = password_only(&app, "ann@example.com").await;
    c.post_form_from("/login/two-factor", "/login/two-factor/cancel", &[]).await.assert_redirect_to("/login");
    assert_eq!(c.get("/login/two-factor").await.status, 410);
}

#[tokio::test]
async fn a_code_counts_once_within_one_step_of_drift_either_way() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    let code = app.code_now(&key.secret);
    // The phone's clock is one step behind: its code is still right.
    app.clock.advance(30);
    let first = password_only(&app, "ann@example.com").await;
    second_step(&first, &code).await.assert_redirect_to("/");
    // The same code again, within its window: refused (RFC 6238, 5.2).
    let second = password_only(&app, "ann@example.com").await;
    let res = second_step(&second, &code).await;
    assert_eq!(res.status, 401);
    assert!(res.text().contains("not right, or was used already"));
    // Two steps behind is too far.
    app.clock.advance(30);
    let old = panel::security::totp::code_at(&key.secret, app.clock.unix_now() - 60);
    assert_eq!(second_step(&second, &old).await.status, 401);
    // A code one step ahead (the phone runs fast) is right.
    let ahead = panel::security::totp::code_at(&key.secret, app.clock.unix_now() + 30);
    second_step(&second, &ahead).await.assert_redirect_to("/");
    // Once a later step was used, the current one is refused too.
    let third = password_only(&app, "ann@example.com").await;
    assert_eq!(second_step(&third, &app.code_now(&key.secret)).await.status, 401);
    assert_eq!(second_step(&third, "12345").await.status, 401);
    assert_eq!(second_step(&third, "").await.status, 401);
}

#[tokio::test]
async fn wrong_codes_are_limited_like_passwords() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    let b = password_only(&app, "ann@example.com").await;
    for i in 0..5 {
        let res = b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", "111111")]).await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &app.code_now(&key.secret))]).await;
    assert_eq!(res.status, 429, "even the right code waits");
    assert!(res.text().contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_the_login_is_told() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    let code = key.recovery_codes[3].to_uppercase().replace('-', " ");
    let b = password_only(&app, "ann@example.com").await;
    b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &code)]).await.assert_redirect_to("/");
    let mail = app.mail.wait_for("ann@example.com", "A recovery code was used").await;
    assert!(mail.text.contains("9 unused codes are left"), "{}", mail.text);
    let again = password_only(&app, "ann@example.com").await;
    let res = again.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &code)]).await;
    assert_eq!(res.status, 401, "a recovery code works once");
    assert!(ann.get("/security").await.text().contains("9 unused recovery codes"));
    // New codes replace the old ones (password needed).
    let res = ann.post_form("/security/recovery-codes", &[("password", "wrong password!")]).await;
    assert_eq!(res.status, 422);
    let fresh = ann.post_form("/security/recovery-codes", &[("password", PASSWORD)]).await;
    let codes = fresh.texts("#recovery-codes code");
    assert_eq!(codes.len(), 10);
    let res = again.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &key.recovery_codes[0])]).await;
    assert_eq!(res.status, 401, "the old codes stopped working");
    again
        .post_form_from("/login/two-factor", "/login/two-factor", &[("code", &codes[0])])
        .await
        .assert_redirect_to("/");
}

#[tokio::test]
async fn turning_two_factor_off_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let key = app.turn_on_two_factor(&ann).await;
    let code = app.code_now(&key.secret);
    let res = ann.post_form("/security/totp/off", &[("password", "not my password"), ("code", &code)]).await;
    assert_eq!(res.status, 422);
    assert!(res.text().contains("Your password is not correct. Nothing was changed."));
    let res = ann.post_form("/security/totp/off", &[("password", PASSWORD), ("code", "000000")]).await;
    assert_eq!(res.status, 422);
    assert!(res.text().contains("That code is not right"));
    assert!(ann.get("/security").await.texts("#two-factor-state").concat().contains("On"));
    ann.post_form("/security/totp/off", &[("password", PASSWORD), ("code", &code)])
        .await
        .assert_redirect_to("/security");
    assert!(ann.get("/security").await.texts("#two-factor-state").concat().contains("Off"));
    app.mail.wait_for("ann@example.com", "Two-factor sign-in is off").await;
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    assert_eq!(app.count("SELECT count(*) FROM recovery_codes").await, 0);
}

#[tokio::test]
async fn signing_in_on_an_invitation_page_returns_to_it_after_the_second_step() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.register("Bob", "bob@example.com").await;
    let key = app.turn_on_two_factor(&bob).await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &["invoices"]).await;
    let b = app.browser();
    b.post_form_from(&link, &format!("{link}/sign-in"), &[("password", PASSWORD)])
        .await
        .assert_redirect_to("/login/two-factor");
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE NOT is_owner").await, 0, "not accepted yet");
    b.post_form_from("/login/two-factor", "/login/two-factor", &[("code", &app.code_now(&key.secret))])
        .await
        .assert_redirect_to(&link);
    let page = b.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Accept"), "{}", page.text());
}

#[tokio::test]
async fn open_sessions_are_listed_and_signed_out_one_by_one_or_all_but_this_one() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let other = app.browser();
    other.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    app.mail.wait_for("ann@example.com", "New sign-in to your login").await;
    let third = app.browser();
    third.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    let page = ann.get("/security").await;
    let rows = page.texts("#sessions tbody tr");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.contains("This browser")).count(), 1);
    // Sign out the second browser alone.
    let other_id: String = sqlx::query_scalar("SELECT id::text FROM sessions ORDER BY created_at LIMIT 1 OFFSET 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    ann.post_form(&format!("/security/sessions/{other_id}/end"), &[]).await.assert_redirect_to("/security");
    assert_eq!(other.get("/").await.status, 303, "signed out");
    assert_eq!(third.get("/").await.status, 200, "the third is not");
    ann.post_form("/security/sessions/others/end", &[]).await.assert_redirect_to("/security");
    assert_eq!(third.get("/").await.status, 303);
    assert_eq!(ann.get("/").await.status, 200, "this browser stays signed in");
    // Another login's session cannot be ended from here.
    let bob = app.register("Bob", "bob@example.com").await;
    let bob_session: String = sqlx::query_scalar(
        "SELECT s.id::text FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'bob@example.com'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(ann.post_form(&format!("/security/sessions/{bob_session}/end"), &[]).await.status, 404);
    assert_eq!(bob.get("/").await.status, 200);
}

#[tokio::test]
async fn an_owners_two_factor_rule_holds_at_every_request_at_switch_and_at_accept() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    let res = ann.post_form("/users/two-factor-rule", &[("require", "yes")]).await;
    assert_eq!(res.status, 409, "the owner must use it first");
    assert!(res.text().contains("Turn on two-factor sign-in for your own login first"));
    let ann_key = app.turn_on_two_factor(&ann).await;
    ann.post_form("/users/two-factor-rule", &[("require", "yes")]).await.assert_redirect_to("/users");
    let users = ann.get("/users").await;
    assert!(users.texts(".flash").concat().contains("1 without it are sent to set it up"), "{}", users.text());
    assert_eq!(users.texts("#members td[data-label='2FA']"), ["on", "off"], "Ann, then Bob");
    let audit = "SELECT count(*) FROM audit_events WHERE action = 'account.two_factor_rule'";
    assert_eq!(app.count(audit).await, 1);
    // Bob's very next request: Ann's account is closed to him, his own stays.
    let page = bob.get("/invoices").await;
    assert_eq!(page.status, 200);
    assert!(page.texts(".flash").concat().contains("Ann's account requires two-factor sign-in"), "{}", page.text());
    assert_eq!(page.texts(".active-account"), ["Bob's account"]);
    let ann_account = app.own_account_id("ann@example.com").await.to_string();
    bob.post_form("/accounts/switch", &[("account_id", &ann_account)]).await.assert_redirect_to("/security");
    assert_eq!(bob.get("/").await.texts(".active-account"), ["Bob's account"], "the switch was refused");
    // Once Bob uses it, the account opens to him again.
    app.turn_on_two_factor(&bob).await;
    bob.post_form("/accounts/switch", &[("account_id", &ann_account)]).await.assert_redirect_to("/");
    assert_eq!(bob.get("/invoices").await.texts(".active-account"), ["Ann's account"]);
    // A new person is told in the mail and on the page, and sets it up before accepting.
    invite(&ann, "carol@example.com", &["invoices"]).await.assert_redirect_to("/users");
    let mail = app.mail.wait_for("carol@example.com", "has invited you").await;
    assert!(mail.text.contains("requires two-factor sign-in for everyone with access"), "{}", mail.text);
    let link = link_in(&mail, &app, "/invitations/");
    let carol = app.browser();
    assert!(carol.get(&link).await.texts("#two-factor-required").concat().contains("requires two-factor sign-in"));
    carol
        .post_form(&format!("{link}/register"), &[("name", "Carol"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/security");
    assert_eq!(app.count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'carol@example.com' AND NOT m.is_owner").await, 0);
    app.turn_on_two_factor(&carol).await;
    carol.post_form_from(&link, &format!("{link}/accept"), &[]).await.assert_redirect_to("/");
    assert_eq!(carol.get("/").await.texts(".active-account"), ["Ann's account"]);
    // An existing login without it cannot accept.
    app.register("Dave", "dave@example.com").await;
    invite(&ann, "dave@example.com", &["invoices"]).await.assert_redirect_to("/users");
    let link = link_in(&app.mail.wait_for("dave@example.com", "has invited you").await, &app, "/invitations/");
    let dave = app.browser();
    let res = dave.post_form_from(&link, &format!("{link}/sign-in"), &[("password", PASSWORD)]).await;
    assert_eq!(res.status, 403);
    assert!(res.text().contains("requires two-factor sign-in for everyone with access"), "{}", res.text());
    // The owner keeps it while the rule stands.
    let res =
        ann.post_form("/security/totp/off", &[("password", PASSWORD), ("code", &app.code_now(&ann_key.secret))]).await;
    assert_eq!(res.status, 422);
    assert!(res.text().contains("Stop requiring it on User Management first"));
}

#[tokio::test]
async fn staff_must_use_two_factor_and_can_turn_a_clients_off_with_a_reason_but_never_on() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    panel::seed::create_staff(&app.db, "help@example.com", crate::helpers::STAFF_PASSWORD).await.unwrap();
    let staff = app.browser();
    staff
        .post_form("/login", &[("email", "help@example.com"), ("password", crate::helpers::STAFF_PASSWORD)])
        .await
        .assert_redirect_to("/");
    let res = staff.get("/admin").await;
    assert_eq!(res.status, 403, "a password alone does not open the staff area");
    assert!(res.text().contains("Staff logins must use two-factor sign-in"));
    assert_eq!(staff.get("/security").await.status, 200, "where it is set up");
    app.turn_on_two_factor(&staff).await;
    assert_eq!(staff.get("/admin").await.status, 200);
    // Ann loses her phone and her codes; support turns hers off.
    app.turn_on_two_factor(&ann).await;
    let ann_id = app.user_id("ann@example.com").await;
    let page = format!("/admin/users/{ann_id}");
    assert_eq!(staff.get(&page).await.texts("#two-factor"), ["on"]);
    let res = staff.post_form(&format!("{page}/two-factor/reset"), &[("reason", "  ")]).await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("Give a reason"));
    assert_eq!(staff.get(&page).await.texts("#two-factor"), ["on"], "nothing changed");
    staff
        .post_form(&format!("{page}/two-factor/reset"), &[("reason", "Lost phone, identity checked by phone call")])
        .await
        .assert_redirect_to(&page);
    assert_eq!(staff.get(&page).await.texts("#two-factor"), ["off"]);
    let mail = app.mail.wait_for("ann@example.com", "Support turned off your two-factor sign-in").await;
    assert!(mail.text.contains("Lost phone, identity checked by phone call"));
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'user.two_factor_reset'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(details["reason"], "Lost phone, identity checked by phone call");
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    // There is no way for staff to turn it on: the only setup is the login's own.
    let res = staff.post_form(&format!("{page}/two-factor/reset"), &[("reason", "again")]).await;
    assert_eq!(res.status, 409);
    assert_eq!(staff.post_form(&format!("{page}/two-factor/on"), &[]).await.status, 404);
    drop(ann);
}

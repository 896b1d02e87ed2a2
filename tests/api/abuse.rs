//! Safe on the open internet: what one account, one address or one foreign
//! page can make the panel do is bounded, counted at the real SMTP server
//! and in the database.

use std::time::Duration;

use crate::helpers::{invite, spawn_app, spawn_app_with, Options, PASSWORD};

/// Invitation mails the loopback SMTP server received so far.
async fn invitation_mails(app: &crate::helpers::TestApp) -> usize {
    // The worker sends within a moment of the commit.
    tokio::time::sleep(Duration::from_millis(700)).await;
    app.mail.all().iter().filter(|m| m.subject.contains("has invited you")).count()
}

#[tokio::test]
async fn invitations_and_resends_share_the_hourly_budget_and_an_address_waits_between_mails() {
    let app = spawn_app_with(Options {
        settings: vec![("INVITATIONS_PER_HOUR", "3"), ("INVITE_RESEND_MINUTES", "10")],
        ..Options::default()
    })
    .await;
    let owner = app.register("Ann", "ann@example.com").await;
    invite(&owner, "a@example.com", &[]).await.assert_redirect_to("/users");
    let a: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations").fetch_one(&app.db).await.unwrap();
    // A resend at once is refused: the address waits between mails.
    let res = owner.post_form(&format!("/users/invitations/{a}/resend"), &[]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("a@example.com was sent an invitation a few minutes ago. You can send another from"));
    assert_eq!(invitation_mails(&app).await, 1);
    // Eleven minutes later, the resend goes out and counts against the budget.
    sqlx::query("UPDATE mail_outbox SET created_at = created_at - interval '11 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    owner.post_form(&format!("/users/invitations/{a}/resend"), &[]).await.assert_redirect_to("/users");
    invite(&owner, "b@example.com", &[]).await.assert_redirect_to("/users");
    // Three mails this hour: the budget is used up, for new invitations and resends alike.
    let res = invite(&owner, "c@example.com", &[]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("This account has sent 3 invitations in the last hour"), "{}", res.text());
    assert!(res.text().contains("you can send more from"), "says when it lifts");
    sqlx::query(
        "UPDATE mail_outbox SET created_at = created_at - interval '11 minutes' WHERE to_email = 'b@example.com'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let b: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations WHERE email = 'b@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(owner.post_form(&format!("/users/invitations/{b}/resend"), &[]).await.status, 429);
    assert_eq!(invitation_mails(&app).await, 3, "exactly three mails reached the SMTP server");
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE email = 'c@example.com'").await, 0, "nothing queued");
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'mail.budget_exceeded'").await, 2);
    // Staff see the account in their list.
    let staff = app.staff("help@example.com").await;
    let page = staff.get("/admin/mail").await;
    assert_eq!(page.texts("#over-budget td a"), ["Ann's account"]);
    assert_eq!(
        page.texts("title"),
        ["Failed mail · Staff area · Billing Panel"],
        "the table is on the page, not in its title"
    );
}

#[tokio::test]
async fn notices_past_the_budget_are_skipped_and_ticket_openings_are_limited() {
    let app = spawn_app_with(Options { settings: vec![("ACCOUNT_MAILS_PER_HOUR", "2")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    for i in 0..5 {
        owner
            .post_form(
                "/contacts/new",
                &[("name", "Desk"), ("email", &format!("desk{i}@example.com")), ("notify", "support")],
            )
            .await
            .assert_redirect_to("/contacts");
    }
    let owner = &owner;
    let open = |i: usize| async move {
        let subject = format!("Your account is suspended {i}");
        owner
            .post_form(
                "/tickets/new",
                &[("department", "Support"), ("subject", &subject), ("message", "verify at http://phish.example")],
            )
            .await
    };
    // The first notice would reach six people: over the budget of two, so
    // it is skipped and recorded; the ticket itself is opened.
    assert_eq!(open(0).await.status, 303);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(app.mail.all().iter().filter(|m| m.subject.contains("suspended")).count(), 0, "no notice mailed");
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'mail.notice_skipped'").await, 1);
    for i in 1..10 {
        assert_eq!(open(i).await.status, 303, "opening {i}");
    }
    let res = open(10).await;
    assert_eq!(res.status, 429, "ten openings an hour");
    assert!(res.text().contains("10 tickets opened in the last hour"));
    assert_eq!(app.count("SELECT count(*) FROM tickets").await, 10);
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'notice'").await, 0);
}

#[tokio::test]
async fn registration_attempts_are_counted_before_anything_is_checked_or_hashed() {
    let app = spawn_app().await;
    let b = app.browser();
    for i in 0..10 {
        // Bad attempts count: each could have cost a hash.
        let res = b
            .post_form(
                "/register",
                &[("name", "X"), ("email", &format!("x{i}@example.com")), ("password", "short"), ("account_name", "X")],
            )
            .await;
        assert_eq!(res.status, 422, "attempt {i}");
    }
    let res = b
        .post_form(
            "/register",
            &[("name", "Y"), ("email", "y@example.com"), ("password", PASSWORD), ("account_name", "Y")],
        )
        .await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("Too many accounts were tried from your address"));
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_foreign_host_or_origin_is_refused_before_anything_runs() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in ["/login", "/dev/mailbox", "/", "/healthz"] {
        let res = client.get(format!("{}{path}", app.address)).header("host", "evil.example").send().await.unwrap();
        assert_eq!(res.status().as_u16(), 421, "{path}");
    }
    let res = client
        .post(format!("{}/password/forgot", app.address))
        .header("host", "rebound.example:8080")
        .form(&[("email", "ann@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 421);
    // The right Host with a foreign Origin: the form is refused, nothing counted.
    let b = app.browser();
    let token = b.csrf().await;
    let res = b
        .post_raw(
            "/login",
            &format!("csrf_token={token}&email=ann%40example.com&password=x"),
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(app.count("SELECT count(*) FROM sign_in_attempts").await, 0);
}

#[tokio::test]
async fn signing_out_of_a_support_view_records_its_end() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let staff = app.staff("help@example.com").await;
    let ann = app.user_id("ann@example.com").await;
    staff.post_form(&format!("/admin/users/{ann}/sign-in-as"), &[]).await.assert_redirect_to("/");
    staff.post_form("/logout", &[]).await.assert_redirect_to("/login?signed_out=1");
    let ends: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'staff.sign_in_as.end'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(ends, [serde_json::json!({ "by": "sign out" })]);
}

#[tokio::test]
async fn opening_the_affiliates_page_writes_nothing() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let row = || async {
        sqlx::query_as::<_, (String, Option<String>)>("SELECT xmin::text, referral_code FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let before = row().await;
    assert!(before.1.is_some(), "the code was made with the account");
    assert_eq!(owner.get("/affiliates").await.status, 200);
    assert_eq!(row().await, before, "the row was not written");
}

#[tokio::test]
async fn ticket_threads_are_paged_and_replies_are_limited() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let res =
        owner.post_form("/tickets/new", &[("department", "Support"), ("subject", "Long"), ("message", "first")]).await;
    let path = res.location().unwrap().to_string();
    let ticket = path.trim_start_matches("/tickets/").to_string();
    sqlx::query(
        "INSERT INTO ticket_messages (ticket_id, author_id, from_staff, body, created_at)
         SELECT $1::uuid, NULL, true, 'message ' || n, now() - interval '2 hours' FROM generate_series(1, 119) n",
    )
    .bind(&ticket)
    .execute(&app.db)
    .await
    .unwrap();
    let page = owner.get(&path).await;
    assert_eq!(page.texts(".message-body").len(), 50, "one page of the newest");
    assert_eq!(page.texts(".message-body").last().map(String::as_str), Some("message 119"));
    let earlier = page.attr("a[href^='?before=']", "href").unwrap();
    let older = owner.get(&format!("{path}{earlier}")).await;
    assert_eq!(older.texts(".message-body").len(), 50);
    assert_eq!(older.texts(".message-body").last().map(String::as_str), Some("message 69"));
    // Sixty replies an hour from the account's people.
    sqlx::query(
        "INSERT INTO ticket_messages (ticket_id, author_id, from_staff, body)
         SELECT $1::uuid, NULL, false, 'reply ' || n FROM generate_series(1, 59) n",
    )
    .bind(&ticket)
    .execute(&app.db)
    .await
    .unwrap();
    let res = owner.post_form(&format!("{path}/reply"), &[("message", "one more")]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("60 replies posted in the last hour"));
}

#[tokio::test]
async fn access_removed_while_a_change_is_on_its_way_stops_the_change() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["contacts"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    // Remove Access is under way (not yet committed) when Bob's change arrives.
    let mut removal = app.db.begin().await.unwrap();
    sqlx::query("DELETE FROM memberships WHERE account_id = $1 AND user_id = $2")
        .bind(account)
        .bind(bob_id)
        .execute(&mut *removal)
        .await
        .unwrap();
    let change = tokio::spawn({
        let token = bob.csrf().await;
        let body = format!("csrf_token={token}&name=Eve&email=eve%40example.com");
        async move { bob.post_raw("/contacts/new", &body, &[]).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    removal.commit().await.unwrap();
    let res = change.await.unwrap();
    assert_eq!(res.status, 403, "{}", res.text());
    assert!(res.text().contains("Your access to Ann's account has ended. Nothing was changed."));
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 0);
}

#[tokio::test]
async fn a_staff_address_is_invited_like_any_other() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.staff("help@example.com").await;
    let staff_answer = invite(&owner, "help@example.com", &[]).await;
    let new_answer = invite(&owner, "nobody@example.com", &[]).await;
    assert_eq!((staff_answer.status, staff_answer.location()), (new_answer.status, new_answer.location()));
}

#[tokio::test]
async fn failures_from_many_addresses_never_lock_the_owner_out() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    // Ann's own browser signs in once (from 127.0.0.1) and is remembered.
    let ann = crate::helpers::Browser::new(&app.address);
    ann.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    assert!(ann.cookie("panel_device").is_some());
    ann.post_form("/logout", &[]).await;
    // Twenty addresses, five wrong passwords each: a hundred failures.
    for i in 1..=20u8 {
        let attacker = crate::helpers::Browser::from_address(&app.address, [127, 0, 1, i].into());
        for _ in 0..5 {
            let res =
                attacker.post_form("/login", &[("email", "ann@example.com"), ("password", "wrong password!")]).await;
            assert_eq!(res.status, 401, "from 127.0.1.{i}");
        }
    }
    // A browser nobody knows, from a fresh address: held, and offered a link.
    let stranger = crate::helpers::Browser::from_address(&app.address, [127, 0, 2, 1].into());
    let res = stranger.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("Mail me a sign-in link"));
    // Ann's known browser, from yet another address: signs in at once.
    let known = crate::helpers::Browser::from_address(&app.address, [127, 0, 2, 2].into());
    known.add_cookie(&format!("panel_device={}", ann.cookie("panel_device").unwrap()));
    known.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    // And the stranger's browser can be Ann's too, through a mailed link.
    stranger.post_form("/login/link", &[("email", "ann@example.com")]).await;
    let mail = app.mail.wait_for("ann@example.com", "Your sign-in link").await;
    let link = crate::helpers::link_in(&mail, &app, "/login/link/");
    assert_eq!(stranger.get(&link).await.status, 200, "opening it does not use it");
    stranger.post_form_from(&link, &link, &[]).await.assert_redirect_to("/");
    assert_eq!(stranger.get("/").await.texts(".active-account"), ["Ann's account"]);
    assert_eq!(stranger.post_form_from("/login/link", &link, &[]).await.status, 410, "once only");
}

#[tokio::test]
async fn a_planted_device_cookie_is_replaced_at_sign_in_and_staff_get_no_sign_in_links() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let planted = "A".repeat(43);
    let b = crate::helpers::Browser::with_cookie(&app.address, &format!("panel_device={planted}"));
    let res = b.post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    res.assert_redirect_to("/");
    let issued = b.cookie("panel_device").unwrap();
    assert_ne!(issued, planted, "a token the panel did not issue for this login is replaced");
    let planted_known: i64 = sqlx::query_scalar("SELECT count(*) FROM known_devices WHERE token_hash = $1")
        .bind(panel::domain::token::hash(&planted))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(planted_known, 0);
    // Staff logins never sign in by mail.
    panel::seed::create_staff(&app.db, "help@example.com", crate::helpers::STAFF_PASSWORD).await.unwrap();
    let res = app.browser().post_form("/login/link", &[("email", "help@example.com")]).await;
    assert_eq!(res.status, 200, "the same answer as for anyone");
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links").await, 0);
    // A password change kills unused sign-in links.
    app.browser().post_form("/login/link", &[("email", "ann@example.com")]).await;
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links WHERE used_at IS NULL").await, 1);
    b.post_form(
        "/profile/password",
        &[("current", PASSWORD), ("password", "another long password"), ("confirm", "another long password")],
    )
    .await
    .assert_redirect_to("/profile");
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links WHERE used_at IS NULL").await, 0);
}

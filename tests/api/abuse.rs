//! Safe on the open internet: what one account, one address or one foreign
//! page can make the panel do is bounded, counted at the real SMTP server
//! and in the database.

use std::time::Duration;

use crate::helpers::{invite, link_in, spawn_app, spawn_app_with, Options, PASSWORD};

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
    // A minute short of the hour, still refused; once every mail is an hour
    // old (counted by whole minutes), the budget lifts.
    let age = async |minutes: i32| {
        sqlx::query("UPDATE invitation_mail_counts SET minute = minute - make_interval(mins => $1)")
            .bind(minutes)
            .execute(&app.db)
            .await
            .unwrap();
    };
    age(59).await;
    assert_eq!(invite(&owner, "c@example.com", &[]).await.status, 429);
    age(2).await;
    invite(&owner, "c@example.com", &[]).await.assert_redirect_to("/users");
}

#[tokio::test]
async fn past_a_lowered_budget_the_refusal_names_the_minute_that_brings_the_count_under_it() {
    let app = spawn_app_with(Options { settings: vec![("INVITATIONS_PER_HOUR", "3")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    // Four mails this hour, sent before the budget was lowered to three: one
    // 50 minutes ago, one 40 minutes ago, two 10 minutes ago. When the oldest
    // leaves the hour three remain, still the budget: it lifts when the
    // second leaves.
    let lifts: String = sqlx::query_scalar(
        "WITH counted AS (
             INSERT INTO invitation_mail_counts (account_id, minute, sent)
             SELECT account_id, date_trunc('minute', now()) - make_interval(mins => ago), sent
             FROM memberships, unnest(ARRAY[50, 40, 10], ARRAY[1, 1, 2]) AS mails (ago, sent) WHERE is_owner)
         SELECT to_char((date_trunc('minute', now()) + interval '21 minutes') AT TIME ZONE 'UTC',
                        'DD Mon YYYY, HH24:MI \"UTC\"')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let res = invite(&owner, "a@example.com", &[]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains(&format!("you can send more from {lifts}")), "{lifts}: {}", res.text());
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0, "nothing sent");
    assert_eq!(app.count("SELECT sum(sent) FROM invitation_mail_counts").await, 4, "the refusal is not counted");
}

#[tokio::test]
async fn invitations_sent_at_once_never_pass_the_budget_nor_invite_one_address_twice() {
    let app = spawn_app_with(Options { settings: vec![("INVITATIONS_PER_HOUR", "3")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let statuses = tokio::join!(
        invite(&owner, "a@example.com", &[]),
        invite(&owner, "b@example.com", &[]),
        invite(&owner, "c@example.com", &[]),
        invite(&owner, "d@example.com", &[]),
        invite(&owner, "e@example.com", &[]),
        invite(&owner, "f@example.com", &[]),
    );
    let mut statuses = [statuses.0, statuses.1, statuses.2, statuses.3, statuses.4, statuses.5].map(|p| p.status);
    statuses.sort();
    assert_eq!(statuses, [303, 303, 303, 429, 429, 429]);
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 3, "the refused ones left nothing behind");
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'invitation.sent'").await, 3);
    assert_eq!(invitation_mails(&app).await, 3);

    let other = app.register("Bea", "bea@example.com").await;
    let (first, second) =
        tokio::join!(invite(&other, "same@example.com", &[]), invite(&other, "same@example.com", &[]));
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    let refused = if first.status == 409 { first } else { second };
    assert!(refused.text().contains("An invitation to same@example.com is already pending."), "{}", refused.text());
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE email = 'same@example.com'").await, 1);
}

#[tokio::test]
async fn notices_past_the_budget_are_skipped_and_ticket_openings_are_limited() {
    let app = spawn_app_with(Options { settings: vec![("ACCOUNT_MAILS_PER_HOUR", "8")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    // Five contacts, each confirmed: five of the eight mails an hour.
    for i in 0..5 {
        let desk = format!("desk{i}@example.com");
        owner
            .post_form("/contacts/new", &[("name", "Desk"), ("email", &desk), ("notify", "support")])
            .await
            .assert_redirect_to("/contacts");
        let link = link_in(&app.mail.wait_for(&desk, "Confirm that you want mail").await, &app, "/confirm/");
        let res = app.browser().post_form_from(&link, &link, &[]).await;
        assert!(res.text().contains("is confirmed"), "{}", res.body);
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
    // The first notice would reach six people: past the three mails left
    // of the budget, so it is skipped and recorded; the ticket is opened.
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
    let mut removal = panel::db::begin(&app.db).await.unwrap();
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
async fn a_permission_taken_away_while_a_change_is_on_its_way_stops_the_change() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["contacts", "tickets"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    // Manage Permissions takes Contacts away (not yet committed) as Bob adds one.
    let mut narrowing = panel::db::begin(&app.db).await.unwrap();
    sqlx::query("UPDATE memberships SET permissions = '{tickets}' WHERE account_id = $1 AND user_id = $2")
        .bind(account)
        .bind(bob_id)
        .execute(&mut *narrowing)
        .await
        .unwrap();
    let change = tokio::spawn({
        let token = bob.csrf().await;
        let body = format!("csrf_token={token}&name=Eve&email=eve%40example.com");
        async move { bob.post_raw("/contacts/new", &body, &[]).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    narrowing.commit().await.unwrap();
    let res = change.await.unwrap();
    assert_eq!(res.status, 403, "{}", res.text());
    assert!(res.text().contains("Your permissions in Ann's account changed while this was on its way."));
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
    let link = link_in(&mail, &app, "/login/link/");
    assert_eq!(stranger.get(&link).await.status, 200, "opening it does not use it");
    stranger.post_form_from(&link, &link, &[]).await.assert_redirect_to("/");
    assert_eq!(stranger.get("/").await.texts(".active-account"), ["Ann's account"]);
    assert_eq!(stranger.post_form_from("/login/link", &link, &[]).await.status, 410, "once only");
}

#[tokio::test]
async fn a_stranger_asking_for_sign_in_links_cannot_use_up_the_owners_way_in() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let links = |app: &crate::helpers::TestApp| {
        app.mail.all().into_iter().filter(|m| m.to == "ann@example.com" && m.subject == "Your sign-in link").count()
    };
    // A stranger asks five times: three links are mailed, then no more.
    let stranger = app.browser();
    for _ in 0..5 {
        assert_eq!(stranger.post_form("/login/link", &[("email", "ann@example.com")]).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(links(&app), 3);
    // Ann asks too: nothing new is sent, but a link in her mailbox works.
    let ann = app.browser();
    ann.post_form("/login/link", &[("email", "ann@example.com")]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(links(&app), 3);
    let mail = app.mail.all().into_iter().rev().find(|m| m.subject == "Your sign-in link").unwrap();
    let link = link_in(&mail, &app, "/login/link/");
    ann.post_form_from(&link, &link, &[]).await.assert_redirect_to("/");
    // Using one frees a place at once; expired ones too (15 minutes later).
    ann.post_form("/logout", &[]).await;
    ann.post_form("/login/link", &[("email", "ann@example.com")]).await;
    app.mail.wait_for("ann@example.com", "Your sign-in link").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(links(&app), 4);
    sqlx::query("UPDATE sign_in_links SET expires_at = now() - interval '1 second'").execute(&app.db).await.unwrap();
    ann.post_form("/login/link", &[("email", "ann@example.com")]).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(links(&app), 5);
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
    // A password change kills unused sign-in links (Ann's is made, and
    // mailed, after the answer).
    app.browser().post_form("/login/link", &[("email", "ann@example.com")]).await;
    app.mail.wait_for("ann@example.com", "Your sign-in link").await;
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links").await, 1, "none for the staff login");
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links WHERE used_at IS NULL").await, 1);
    b.post_form(
        "/profile/password",
        &[("current", PASSWORD), ("password", "another long password"), ("confirm", "another long password")],
    )
    .await
    .assert_redirect_to("/profile");
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links WHERE used_at IS NULL").await, 0);
}

#[tokio::test]
async fn registration_answers_the_same_for_a_new_a_taken_and_a_staff_address_and_mails_the_truth() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    panel::seed::create_staff(&app.db, "help@example.com", crate::helpers::STAFF_PASSWORD).await.unwrap();
    let mut answers = Vec::new();
    for email in ["new@example.com", "ANN@example.com", "help@example.com"] {
        let page = app.fill_registration(&app.browser(), "Mallory", email, "M").await;
        answers.push((page.status, page.texts("main").join(" ").replace(&email.to_lowercase(), "<address>")));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "one answer for all three: {answers:#?}");
    // The mail is the real answer: a link for the new address, a warning
    // for the addresses that have a login. No second login is made.
    app.mail.wait_for("new@example.com", "Confirm your email address").await;
    let warning = app.mail.wait_for("ann@example.com", "Someone tried to register with your address").await;
    assert!(warning.text.contains("/password/forgot") && warning.text.contains("Hello Ann,"), "{}", warning.text);
    assert!(!warning.text.contains("Mallory"), "the stranger's words are not relayed");
    app.mail.wait_for("help@example.com", "Someone tried to register with your address").await;
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email IN ('ann@example.com', 'help@example.com')").await, 2);
    // An address gets at most three such mails an hour, however often it is tried.
    for _ in 0..4 {
        app.fill_registration(&app.browser(), "Mallory", "ann@example.com", "M").await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let to_ann = |m: &&crate::helpers::ReceivedMail| m.to == "ann@example.com" && m.subject.contains("Someone tried");
    assert_eq!(
        app.mail.all().iter().filter(to_ann).count(),
        2,
        "three an hour: her own confirmation link and two warnings"
    );
}

#[tokio::test]
async fn an_unconfirmed_login_works_but_is_mailed_nothing_but_its_links_until_it_confirms() {
    let app = spawn_app().await;
    let ann = app.register_unconfirmed("Ann", "ann@example.com").await;
    let home = ann.get("/").await;
    assert_eq!(home.status, 200, "the panel works");
    assert!(home.texts("#confirm-email").join(" ").contains("Please confirm your email address"));
    // Until she confirms, nothing is mailed from her account to anyone
    // else: no invitation, no contact's confirmation link.
    let refused = invite(&ann, "bob@example.com", &[]).await;
    assert_eq!(refused.status, 409);
    assert!(refused.text().contains("Confirm your own email address first"), "{}", refused.text());
    let refused =
        ann.post_form("/contacts/new", &[("name", "Desk"), ("email", "desk@example.net"), ("notify", "support")]).await;
    assert_eq!(refused.status, 409);
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE to_email <> 'ann@example.com'").await, 0);
    // "Send the link again" works twice more within the hour, then waits.
    for _ in 0..2 {
        ann.post_form("/confirm/again", &[]).await.assert_redirect_to("/");
    }
    let res = ann.post_form("/confirm/again", &[]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("several links in the last hour"), "{}", res.body);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let links = |app: &crate::helpers::TestApp| {
        app.mail
            .all()
            .into_iter()
            .filter(|m| m.to == "ann@example.com" && m.subject == "Confirm your email address")
            .count()
    };
    assert_eq!(links(&app), 3);
    // The link is a page first (GET writes nothing), then confirms and signs in.
    let mail = app.mail.wait_for("ann@example.com", "Confirm your email address").await;
    let confirm = link_in(&mail, &app, "/confirm/");
    let other = app.browser();
    let form = other.get(&confirm).await;
    assert!(form.text().contains("Confirm and sign in"));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL AND email = 'ann@example.com'").await,
        0
    );
    let body = format!("csrf_token={}", form.attr("input[name=csrf_token]", "value").unwrap());
    other.post_raw(&confirm, &body, &[]).await.assert_redirect_to("/");
    let home = other.get("/").await;
    assert!(home.texts(".flash").join(" ").contains("ann@example.com is confirmed"));
    assert!(home.texts("#confirm-email").is_empty(), "the banner is gone");
    assert_eq!(other.post_raw(&confirm, &body, &[]).await.status, 410, "a link works once");
    // Now the owner's mail goes out.
    let link = app.invite_and_get_link(&ann, "Ann's account", "carol@example.com", &[]).await;
    app.browser().post_form(&format!("{link}/register"), &[("name", "Carol"), ("password", PASSWORD)]).await;
    app.mail.wait_for("ann@example.com", "Carol accepted your invitation").await;
}

#[tokio::test]
async fn contacts_get_no_notices_until_they_confirm_and_their_links_share_the_account_budget() {
    let app = spawn_app_with(Options { settings: vec![("ACCOUNT_MAILS_PER_HOUR", "3")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let add = |email: &'static str| {
        let owner = &owner;
        async move { owner.post_form("/contacts/new", &[("name", "Desk"), ("email", email), ("notify", "support")]).await }
    };
    add("desk@example.com").await.assert_redirect_to("/contacts");
    let list = owner.get("/contacts").await;
    assert!(list.text().contains("Not confirmed yet"), "{}", list.body);
    // A ticket notice reaches the owner, not the unconfirmed contact.
    let opened =
        owner.post_form("/tickets/new", &[("department", "Support"), ("subject", "Hello"), ("message", "First")]).await;
    assert_eq!(opened.status, 303);
    app.mail.wait_for("ann@example.com", "Hello").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!app.mail.all().iter().any(|m| m.to == "desk@example.com" && m.subject.contains("Hello")));
    // Sending the link again right away waits for the address's cooldown.
    let id: String = sqlx::query_scalar("SELECT id::text FROM contacts").fetch_one(&app.db).await.unwrap();
    let res = owner.post_form(&format!("/contacts/{id}/confirm"), &[]).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("was sent a link a few minutes ago"), "{}", res.body);
    // The contact confirms; the link names the account and asks first.
    let mail = app.mail.wait_for("desk@example.com", "Confirm that you want mail about Ann's account").await;
    let link = link_in(&mail, &app, "/confirm/");
    let stranger = app.browser();
    assert!(stranger.get(&link).await.text().contains("Yes, send me these notices"));
    let done = stranger.post_form_from(&link, &link, &[]).await;
    assert!(done.text().contains("desk@example.com is confirmed"), "{}", done.body);
    assert!(!owner.get("/contacts").await.text().contains("Not confirmed yet"));
    // Changing its address asks again: the third mail of the hour.
    owner
        .post_form(
            &format!("/contacts/{id}"),
            &[("name", "Desk"), ("email", "desk2@example.com"), ("notify", "support")],
        )
        .await
        .assert_redirect_to("/contacts");
    app.mail.wait_for("desk2@example.com", "Confirm that you want mail").await;
    assert!(owner.get("/contacts").await.text().contains("Not confirmed yet"));
    // Confirmation, notice to Ann (not to the unconfirmed desk), confirmation:
    // the budget of three is spent, and a new contact is refused whole.
    let res = add("three@example.com").await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("as much mail as it may in an hour, so nothing was changed"), "{}", res.body);
    assert_eq!(app.count("SELECT count(*) FROM contacts WHERE email = 'three@example.com'").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'mail.budget_exceeded'").await, 1);
}

#[tokio::test]
async fn staff_must_confirm_before_making_an_unconfirmed_login_the_owner() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    app.register_unconfirmed("Mallory", "mallory@example.com").await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let owner_id = app.user_id("ann@example.com").await.to_string();
    let page = format!("/admin/accounts/{account}");
    let mut fields = vec![
        ("expected_owner", owner_id.as_str()),
        ("new_owner_email", "mallory@example.com"),
        ("keep_old_owner", "yes"),
        ("reason", "Asked by phone"),
        ("password", crate::helpers::STAFF_PASSWORD),
    ];
    let res = staff.post_form_from(&page, &format!("{page}/transfer"), &fields).await;
    assert_eq!(res.status, 422);
    assert!(res.text().contains("has not confirmed its email address"), "{}", res.body);
    assert_eq!(res.attr("#new_owner_email", "value").as_deref(), Some("mallory@example.com"), "the form is kept");
    assert!(res.attr("input[name=unconfirmed_ok]", "value").is_some(), "and asks to go ahead");
    let owner = format!(
        "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE u.email = 'mallory@example.com' AND m.is_owner AND m.account_id = '{account}'"
    );
    assert_eq!(app.count(&owner).await, 0, "nothing changed");
    fields.push(("unconfirmed_ok", "yes"));
    staff.post_form_from(&page, &format!("{page}/transfer"), &fields).await.assert_redirect_to(&page);
    assert_eq!(app.count(&owner).await, 1);
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'ownership.transferred'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(details["new_owner_address_confirmed"], false);
}

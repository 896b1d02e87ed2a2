//! The seeds' flows, step by step, with the articles' labels.

use fantoccini::{
    actions::{InputSource, KeyAction, KeyActions},
    key::Key,
};

use crate::{
    driver::{check, finish, Person, Res, ONE_AT_A_TIME},
    helpers::{invite, link_in, spawn_app, Authenticator, TestApp, PASSWORD, STAFF_PASSWORD},
};

pub(crate) async fn sign_in(p: &Person, email: &str) -> Res {
    p.goto("/login").await?;
    p.fill("#email", email).await?;
    p.fill("#password", PASSWORD).await?;
    p.click_text("Sign in").await?;
    check(p.path().await? == "/", format!("signed in as {email}"))
}

/// A staff member signs in through the form and the second step, typing
/// the code their authenticator app shows.
pub(crate) async fn staff_sign_in(app: &TestApp, p: &Person, key: &Authenticator) -> Res {
    p.goto("/login").await?;
    p.fill("#email", "help@example.com").await?;
    p.fill("#password", STAFF_PASSWORD).await?;
    p.click_text("Sign in").await?;
    check(p.path().await? == "/login/two-factor", "staff are asked for the second step")?;
    p.fill("#code", &app.code_now(&key.secret)).await?;
    p.click_text("Sign in").await
}

/// Hello, <name> > User Management > Invite New User, as the article says.
async fn invite_via_ui(p: &Person, owner_name: &str, email: &str, perms: &[&str]) -> Res {
    p.click_text(&format!("Hello, {owner_name}")).await?;
    p.click_text("User Management").await?;
    p.click_text("Invite New User").await?;
    p.fill("input[placeholder='name@example.com']", email).await?;
    p.find("input[name=mode][value=choose]").await?.click().await?;
    for key in perms {
        p.find(&format!("input[name=permissions][value={key}]")).await?.click().await?;
    }
    p.click_text("Send Invite").await?;
    check(p.path().await? == "/users", "back on User Management after Send Invite")
}

async fn pending_row_for(p: &Person, email: &str) -> Res<bool> {
    let rows = p.texts("#invitations tbody tr").await?;
    Ok(rows.iter().any(|r| r.contains(email) && r.contains("Pending")))
}

#[tokio::test]
async fn scenario_1_owner_invites_a_user_with_two_chosen_permissions() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    app.register("Ann Owner", "ann@example.com").await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        invite_via_ui(&owner, "Ann Owner", "accountant@example.com", &["invoices", "quotes"]).await?;
        check(pending_row_for(&owner, "accountant@example.com").await?, "the invitation shows as Pending")?;
        let row = owner.texts("#invitations tbody tr").await?.join("\n");
        check(row.contains("View & Pay Invoices, View & Accept Quotes"), format!("permissions listed: {row}"))
    }
    .await;
    finish("1-owner-invites", vec![("owner", owner)], outcome).await;
}

#[tokio::test]
async fn scenario_2_a_new_person_accepts_from_the_mail_and_switches_accounts() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    app.register("Ann Owner", "ann@example.com").await;
    let owner = Person::open(&app.address).await;
    let newcomer = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        invite_via_ui(&owner, "Ann Owner", "dev@example.com", &["products", "domains"]).await?;
        let mail = app.mail.wait_for("dev@example.com", "Ann Owner's account has invited you to their account").await;
        let link = link_in(&mail, &app, "/invitations/");
        newcomer.goto(&link).await?;
        newcomer.fill("#name", "Dana Dev").await?;
        newcomer.fill("#password", PASSWORD).await?;
        newcomer.click_text("Create login and accept").await?;
        check(newcomer.text(".active-account").await? == "Ann Owner's account", "lands in the shared account")?;
        let body = newcomer.body().await?;
        check(
            body.contains("View Products & Services, View Domains."),
            format!("only the two granted permissions: {body}"),
        )?;
        newcomer.click_text("Hello, Dana Dev").await?;
        newcomer.click_text("Switch Account").await?;
        let accounts = newcomer.texts("#accounts td[data-label=Account]").await?;
        check(
            accounts == vec!["Dana Dev's account".to_string(), "Ann Owner's account".to_string()],
            format!("own account first: {accounts:?}"),
        )?;
        newcomer.click_text("Switch to Dana Dev's account").await?;
        check(newcomer.text(".active-account").await? == "Dana Dev's account", "switched to own account")?;
        newcomer.click_text("Hello, Dana Dev").await?;
        newcomer.click_text("Switch Account").await?;
        newcomer.click_text("Switch to Ann Owner's account").await?;
        check(newcomer.text(".active-account").await? == "Ann Owner's account", "switched back")?;
        let nav = newcomer.texts("nav.sections a").await?;
        check(
            nav == vec!["Services".to_string(), "Domains".to_string()],
            format!("only the two granted sections: {nav:?}"),
        )?;
        newcomer.click_text("Domains").await?;
        check(newcomer.path().await? == "/domains", "the granted section opens")?;
        newcomer.goto("/invoices").await?;
        check(
            newcomer.body().await?.contains("does not include \"View & Pay Invoices\""),
            "a section not granted explains why",
        )?;
        let menu = newcomer.texts("details.menu li").await?;
        check(!menu.iter().any(|m| m == "User Management"), "a member sees no User Management")
    }
    .await;
    finish("2-new-person-accepts", vec![("owner", owner), ("newcomer", newcomer)], outcome).await;
}

#[tokio::test]
async fn scenario_3_existing_user_accepts_and_owner_continues_as_second_address() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_http = app.register("Ann Owner", "ann@example.com").await;
    app.register("Bob", "bob@example.com").await;
    invite(&owner_http, "bob@example.com", &["tickets"]).await;
    invite(&owner_http, "ann.work@example.com", &["invoices"]).await;
    let subject = "Ann Owner's account has invited you to their account";
    let bob_link = link_in(&app.mail.wait_for("bob@example.com", subject).await, &app, "/invitations/");
    let self_link = link_in(&app.mail.wait_for("ann.work@example.com", subject).await, &app, "/invitations/");
    let bob = Person::open(&app.address).await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&bob, "bob@example.com").await?;
        bob.goto(&bob_link).await?;
        bob.click_text("Accept").await?;
        check(bob.text(".active-account").await? == "Ann Owner's account", "Bob is in Ann's account")?;

        sign_in(&owner, "ann@example.com").await?;
        owner.goto(&self_link).await?;
        let body = owner.body().await?;
        check(
            body.contains("You are signed in as ann@example.com, but this invitation is for ann.work@example.com"),
            body,
        )?;
        owner.click_text("Continue as ann.work@example.com").await?;
        owner.fill("#name", "Ann at work").await?;
        owner.fill("#password", PASSWORD).await?;
        owner.click_text("Create login and accept").await?;
        check(owner.text("details.menu summary").await? == "Hello, Ann at work", "now the second address")?;
        check(owner.text(".active-account").await? == "Ann Owner's account", "in the owner's account as a member")
    }
    .await;
    finish("3-existing-and-self-invite", vec![("bob", bob), ("owner", owner)], outcome).await;
}

async fn member_setup(app: &TestApp) -> (String, String) {
    let owner = app.register("Ann Owner", "ann@example.com").await;
    app.member_of(&owner, "Ann Owner's account", "Bob", "bob@example.com", &["invoices"]).await;
    let bob = app.user_id("bob@example.com").await;
    (bob.to_string(), "ann@example.com".into())
}

#[tokio::test]
async fn scenario_4_manage_permissions_then_remove_access() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let (bob_id, owner_email) = member_setup(&app).await;
    let owner = Person::open(&app.address).await;
    let member = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&member, "bob@example.com").await?;
        member.click_text("Hello, Bob").await?;
        member.click_text("Switch Account").await?;
        member.click_text("Switch to Ann Owner's account").await?;
        check(member.body().await?.contains("View & Pay Invoices."), "starts with invoices only")?;

        sign_in(&owner, &owner_email).await?;
        owner.click_text("Hello, Ann Owner").await?;
        owner.click_text("User Management").await?;
        owner.click_text("Manage Permissions").await?;
        owner.find("input[name=permissions][value=tickets]").await?.click().await?;
        owner.click_text("Save Permissions").await?;

        member.navigating(member.client.refresh()).await?;
        let body = member.body().await?;
        check(
            body.contains("View & Pay Invoices, View & Open Support Tickets."),
            format!("gains the permission on reload: {body}"),
        )?;

        owner.navigating(owner.find(&format!("a.remove[href='/users/{bob_id}/remove']")).await?.click()).await?;
        owner.click_text("Confirm").await?;
        check(!owner.text("#members").await?.contains("bob@example.com"), "gone from the table")?;

        member.click_text("Billing Panel").await?;
        check(member.text(".active-account").await? == "Bob's account", "back in his own account")?;
        let flash = member.text(".flash").await?;
        check(flash.contains("Your access to Ann Owner's account has ended"), flash)
    }
    .await;
    finish("4-manage-and-remove", vec![("owner", owner), ("member", member)], outcome).await;
}

#[tokio::test]
async fn scenario_5_expired_link_then_resend() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_http = app.register("Ann Owner", "ann@example.com").await;
    let old = app.invite_and_get_link(&owner_http, "Ann Owner's account", "late@example.com", &[]).await;
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 hour'").execute(&app.db).await.unwrap();
    // Sent a week ago, as its expiry says (past the resend cooldown).
    sqlx::query("UPDATE mail_outbox SET created_at = now() - interval '7 days'").execute(&app.db).await.unwrap();
    let invitee = Person::open(&app.address).await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        invitee.goto(&old).await?;
        let body = invitee.body().await?;
        check(
            body.contains("This invitation has expired") && body.contains("Ask the account owner to resend it"),
            body,
        )?;

        sign_in(&owner, "ann@example.com").await?;
        owner.goto("/users").await?;
        check(owner.texts("#invitations tbody tr").await?.iter().any(|r| r.contains("Expired")), "shown as Expired")?;
        owner.click_text("Resend").await?;
        check(pending_row_for(&owner, "late@example.com").await?, "Pending again")?;

        let fresh = loop {
            let mails: Vec<_> = app.mail.all().into_iter().filter(|m| m.to == "late@example.com").collect();
            if mails.len() == 2 {
                break link_in(&mails[1], &app, "/invitations/");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        invitee.goto(&old).await?;
        check(invitee.body().await?.contains("A newer invitation was sent on"), "the old link is dead and says why")?;
        invitee.goto(&fresh).await?;
        invitee.fill("#name", "Late Larry").await?;
        invitee.fill("#password", PASSWORD).await?;
        invitee.click_text("Create login and accept").await?;
        check(invitee.text(".active-account").await? == "Ann Owner's account", "the new link works")?;

        // Cancel shares its row's form with Resend (its own formaction).
        // The accepted row has neither, so this is the only Cancel.
        invite(&owner_http, "spare@example.com", &[]).await.assert_redirect_to("/users");
        owner.goto("/users").await?;
        owner.click_text("Cancel").await?;
        let rows = owner.texts("#invitations tbody tr").await?;
        check(rows.iter().any(|r| r.contains("spare@example.com") && r.contains("Cancelled")), format!("{rows:?}"))
    }
    .await;
    finish("5-expired-and-resend", vec![("owner", owner), ("invitee", invitee)], outcome).await;
}

#[tokio::test]
async fn scenario_6_staff_transfer_ownership_and_the_new_owner_sees_user_management() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_http = app.register("Ann Owner", "ann@example.com").await;
    app.member_of(&owner_http, "Ann Owner's account", "Bob", "bob@example.com", &["invoices"]).await;
    let (_, key) = app.staff_with_key("help@example.com").await;
    let staff = Person::open(&app.address).await;
    let bob = Person::open(&app.address).await;
    let outcome = async {
        staff_sign_in(&app, &staff, &key).await?;
        check(staff.path().await? == "/admin", "staff land in the staff area")?;
        staff.fill("#q", "ann@example.com").await?;
        staff.click_text("Search").await?;
        staff.click_text("Ann Owner's account").await?;
        staff.fill("#new_owner_email", "bob@example.com").await?;
        staff.fill("#reason", "Bob bought the company").await?;
        staff.fill("#password", STAFF_PASSWORD).await?;
        staff.click_text("Transfer ownership").await?;
        let body = staff.body().await?;
        check(
            body.contains("Ownership moved to bob@example.com") && body.contains("Owner: Bob (bob@example.com)"),
            body,
        )?;

        sign_in(&bob, "bob@example.com").await?;
        bob.click_text("Hello, Bob").await?;
        bob.click_text("Switch Account").await?;
        // Bob now owns two accounts that came about in one transaction (his
        // own, made when he accepted, and Ann's), so a new session may
        // start in either.
        if bob.text(".active-account").await? != "Ann Owner's account" {
            bob.click_text("Switch to Ann Owner's account").await?;
        }
        check(bob.text(".active-account").await? == "Ann Owner's account", "working in Ann Owner's account")?;
        bob.click_text("Hello, Bob").await?;
        bob.click_text("User Management").await?;
        check(bob.path().await? == "/users", "the new owner opens User Management")?;
        let members = bob.text("#members").await?;
        check(members.contains("ann@example.com") && members.contains("All Permissions"), members)
    }
    .await;
    finish("6-staff-transfer", vec![("staff", staff), ("new-owner", bob)], outcome).await;
}

/// A key pressed on the page, as a keyboard does, to whatever has focus.
/// Not WebDriver's "send keys to element": that focuses the element first,
/// which puts a date field back on its first part, so Tab never leaves it.
async fn press(p: &Person, key: Key) -> Res {
    let key = char::from(key);
    let keys =
        KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    p.client.perform_actions(keys).await?;
    Ok(())
}

async fn active_is(p: &Person, js_test: &str) -> Res<bool> {
    let v = p.client.execute(&format!("const e = document.activeElement; return !!({js_test});"), vec![]).await?;
    Ok(v.as_bool().unwrap_or(false))
}

#[tokio::test]
async fn scenario_7_keyboard_only_and_a_375_pixel_window() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_http = app.register("Ann Owner", "ann@example.com").await;
    for i in 0..3 {
        app.member_of(
            &owner_http,
            "Ann Owner's account",
            &format!("Member number {i} with a rather long name"),
            &format!("member.with.a.long.address.{i}@subdomain.example.com"),
            &["invoices", "quotes", "emails"],
        )
        .await;
    }
    invite(&owner_http, "someone.with.a.very.long.address@another-subdomain.example.com", &[]).await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        owner.goto("/users/invite").await?;
        // Every visible field has a label.
        let unlabelled = owner
            .client
            .execute("return [...document.querySelectorAll('input:not([type=hidden]):not([type=submit]), select, textarea')].filter(i => i.labels.length === 0).length;", vec![])
            .await?;
        check(unlabelled.as_i64() == Some(0), format!("unlabelled fields: {unlabelled}"))?;

        // Tab to the email field, type, then choose two permissions with
        // the arrow keys, Tab and Space, and send with Enter.
        for _ in 0..30 {
            if active_is(&owner, "e.name === 'email'").await? {
                break;
            }
            press(&owner, Key::Tab).await?;
        }
        check(active_is(&owner, "e.name === 'email'").await?, "Tab reaches the email field")?;
        owner.client.active_element().await?.send_keys("keys@example.com").await?;
        press(&owner, Key::Tab).await?;
        check(active_is(&owner, "e.name === 'mode' && e.value === 'all'").await?, "Tab reaches All Permissions")?;
        press(&owner, Key::Down).await?;
        check(active_is(&owner, "e.name === 'mode' && e.value === 'choose' && e.checked").await?, "arrow chooses Choose Permissions")?;
        for key in ["profile", "contacts"] {
            press(&owner, Key::Tab).await?;
            check(active_is(&owner, &format!("e.value === '{key}'")).await?, format!("Tab reaches {key}"))?;
            press(&owner, Key::Space).await?;
        }
        // The end date's field takes a Tab per part (month, day, year) in
        // Chromium, so the bound leaves room beyond one stop per field.
        for _ in 0..40 {
            if active_is(&owner, "e.textContent === 'Send Invite'").await? {
                break;
            }
            press(&owner, Key::Tab).await?;
        }
        owner.navigating(async { press(&owner, Key::Enter).await.map_err(|e| fantoccini::error::CmdError::NotJson(e.to_string())) }).await?;
        check(owner.path().await? == "/users", "sent with Enter")?;
        let row = owner.texts("#invitations tbody tr").await?.join("\n");
        check(row.contains("keys@example.com") && row.contains("Modify Master Account Profile, View & Manage Contacts"), row)?;

        // A phone-sized window: no sideways scrolling on User Management.
        owner.client.set_window_size(375, 800).await?;
        owner.goto("/users").await?;
        let fits = owner.client.execute("return document.documentElement.scrollWidth <= document.documentElement.clientWidth;", vec![]).await?;
        check(fits.as_bool() == Some(true), "User Management fits 375 pixels")
    }
    .await;
    finish("7-keyboard-and-phone", vec![("owner", owner)], outcome).await;
}

#[tokio::test]
async fn scenario_8_sections_work_in_the_browser_with_demo_data() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    app.register("Ann Owner", "ann@example.com").await;
    app.seed_sections("ann@example.com").await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        owner.click_text("Invoices").await?;
        let unpaid = owner
            .texts("#invoices tbody tr")
            .await?
            .into_iter()
            .find(|r| r.contains("Unpaid"))
            .ok_or("an unpaid invoice")?;
        let number = unpaid.split_whitespace().next().unwrap_or("").to_string();
        owner.click_text(&number).await?;
        owner.click_text("Pay $12.99").await?;
        check(owner.body().await?.contains("is paid. Thank you!"), "paid through the test gateway")?;

        owner.click_text("Services").await?;
        owner.click_text("Business").await?;
        owner.click_text("Log in to control panel").await?;
        check(
            owner.body().await?.contains("Signed in to the control panel"),
            "single sign-on opened the built-in panel",
        )?;

        owner.goto("/domains").await?;
        owner.navigating(owner.find("#domains a").await?.click()).await?;
        owner.click_text("Manage Domain Settings").await?;
        owner.fill("#ns1", "ns1.browser.example").await?;
        owner.fill("#ns2", "ns2.browser.example").await?;
        owner.click_text("Save Nameservers").await?;
        check(owner.body().await?.contains("Nameservers saved."), "nameservers saved")?;
        owner.fill("#ns2", "not a host").await?;
        owner.click_text("Save Nameservers").await?;
        check(owner.body().await?.contains("is not a valid host name"), "a bad nameserver is explained")?;
        let kept = owner.find("#ns2").await?.prop("value").await?.unwrap_or_default();
        check(kept == "not a host", format!("what was typed stays in the form: {kept:?}"))
    }
    .await;
    finish("8-sections", vec![("owner", owner)], outcome).await;
}

#[tokio::test]
async fn scenario_9_an_owner_sets_up_an_authenticator_app_and_signs_in_with_its_code() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    app.register("Ann Owner", "ann@example.com").await;
    let owner = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        owner.click_text("Hello, Ann Owner").await?;
        owner.click_text("Security").await?;
        owner.click_text("Set up an authenticator app").await?;
        check(owner.find(".qr svg").await.is_ok(), "the QR code is on the page")?;
        // The person types the key into their app; the test is the app.
        let key = owner.text("#totp-key").await?.replace(' ', "");
        let secret = totp_rs::Secret::try_from_base32(&key).map_err(|e| format!("{e:?}"))?.as_bytes().to_vec();
        owner.fill("#code", &app.code_now(&secret)).await?;
        owner.click_text("Turn on two-factor sign-in").await?;
        let codes = owner.texts("#recovery-codes code").await?;
        check(codes.len() == 10, format!("ten recovery codes shown: {codes:?}"))?;
        owner.click_text("I have kept them").await?;
        check(owner.text("#two-factor-state").await?.contains("On"), "the Security page says On")?;
        app.clock.advance(30);
        owner.click_text("Hello, Ann Owner").await?;
        owner.click_text("Sign out").await?;
        owner.goto("/login").await?;
        owner.fill("#email", "ann@example.com").await?;
        owner.fill("#password", PASSWORD).await?;
        owner.click_text("Sign in").await?;
        check(owner.path().await? == "/login/two-factor", "the second step is asked for")?;
        owner.fill("#code", "000000").await?;
        owner.click_text("Sign in").await?;
        check(owner.body().await?.contains("That code is not right"), "a wrong code is explained")?;
        owner.fill("#code", &app.code_now(&secret)).await?;
        owner.click_text("Sign in").await?;
        check(owner.path().await? == "/", "signed in with the app's code")
    }
    .await;
    finish("9-two-factor-app", vec![("owner", owner)], outcome).await;
}

#[tokio::test]
async fn scenario_11_a_passkey_is_added_and_signs_in_through_chromiums_virtual_authenticator() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    app.register("Ann Owner", "ann@example.com").await;
    // Browsers allow passkeys at localhost (never at a bare IP address).
    let local = app.address.replace("127.0.0.1", "localhost");
    let owner = Person::open(&local).await;
    let outcome = async {
        owner.add_virtual_authenticator().await?;
        sign_in(&owner, "ann@example.com").await?;
        owner.goto("/security").await?;
        owner.fill("#passkey-name", "This laptop").await?;
        owner.click_text("Add a passkey").await?;
        for _ in 0..100 {
            if owner.path().await? == "/security" && owner.body().await?.contains("Passkey \"This laptop\" added.") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let listed = owner.text("#passkeys").await?;
        check(listed.contains("This laptop"), format!("the passkey is listed: {listed}"))?;
        owner.click_text("Hello, Ann Owner").await?;
        owner.click_text("Sign out").await?;
        owner.goto("/login").await?;
        owner.fill("#email", "ann@example.com").await?;
        owner.click_text("Sign in with a passkey").await?;
        for _ in 0..100 {
            if owner.path().await? == "/" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        check(owner.path().await? == "/", "signed in with the passkey alone")?;
        check(owner.body().await?.contains("Hello, Ann Owner"), "as Ann")
    }
    .await;
    finish("11-passkey", vec![("owner", owner)], outcome).await;
}

#[tokio::test]
async fn scenario_12_an_owner_limits_a_developer_to_one_service() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let owner_login = app.register("Ann Owner", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    app.member_of(&owner_login, "Ann Owner's account", "Dev", "dev@example.com", &["products", "tickets"]).await;
    let vps: (String, String) =
        sqlx::query_as("SELECT id::text, domain FROM services WHERE account_id = $1 AND domain LIKE 'vps-%'")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let other: String =
        sqlx::query_scalar("SELECT id::text FROM services WHERE account_id = $1 AND domain NOT LIKE 'vps-%' LIMIT 1")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let owner = Person::open(&app.address).await;
    let dev = Person::open(&app.address).await;
    let outcome = async {
        sign_in(&owner, "ann@example.com").await?;
        owner.click_text("Hello, Ann Owner").await?;
        owner.click_text("User Management").await?;
        owner.click_text("Manage Permissions").await?;
        owner.find("input[name=scope][value=only]").await?.click().await?;
        owner.fill("#scope-search", "vps-").await?;
        owner.click_text("Find").await?;
        let shown = owner.texts("#scope label.choice").await?;
        check(shown.len() == 3, format!("Find shows the two choices and the one match: {shown:?}"))?;
        check(
            owner.find("input[name=scope][value=only]").await?.prop("checked").await?.as_deref() == Some("true"),
            "Only these stays chosen",
        )?;
        owner.find(&format!("input[name=scope_ids][value='{}']", vps.0)).await?.click().await?;
        owner.click_text("Save Permissions").await?;
        let row = owner.texts("#members tbody tr").await?.join(" ");
        check(row.contains("Only 1 chosen service and domain"), format!("the list shows the scope: {row}"))?;

        sign_in(&dev, "dev@example.com").await?;
        dev.click_text("Hello, Dev").await?;
        dev.click_text("Switch Account").await?;
        dev.click_text("Switch to Ann Owner's account").await?;
        dev.goto("/services").await?;
        let rows = dev.texts("tbody tr").await?;
        check(rows.len() == 1 && rows[0].contains(&vps.1), format!("only the chosen service is listed: {rows:?}"))?;
        dev.goto(&format!("/services/{other}")).await?;
        let refused = dev.body().await?;
        check(
            refused.contains("There is no such service in this account"),
            format!("another service is not there: {refused}"),
        )
    }
    .await;
    finish("12-scoped-developer", vec![("owner", owner), ("developer", dev)], outcome).await;
}

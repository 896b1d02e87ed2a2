//! The invitation link, from the invited person's side.

use crate::helpers::{invite, link_in, spawn_app, Browser, PASSWORD};

#[tokio::test]
async fn a_new_person_follows_the_mailed_link_creates_a_login_and_lands_in_the_shared_account() {
    let app = spawn_app().await;
    let owner = app.register("Ann Owner", "ann@example.com").await;
    invite(&owner, "Bob@Example.com", &["invoices", "quotes"]).await.assert_redirect_to("/users");
    let listing = owner.get("/users").await;
    assert!(
        listing.texts("#invitations td").contains(&"Pending".to_string()),
        "{:?}",
        listing.texts("#invitations td")
    );

    let mail = app.mail.wait_for("bob@example.com", "Ann Owner's account has invited you to their account").await;
    assert_eq!(mail.subject, "Ann Owner's account has invited you to their account");
    for needed in ["Ann Owner (ann@example.com)", "View & Pay Invoices", "View & Accept Quotes", "valid until"] {
        assert!(mail.text.contains(needed), "mail lacks {needed:?}: {}", mail.text);
    }
    let link = link_in(&mail, &app, "/invitations/");

    let bob = app.browser();
    let page = bob.get(&link).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers.get("referrer-policy").unwrap(), "no-referrer");
    assert!(page.text().contains("Ann Owner's account") && page.text().contains("View & Pay Invoices"));
    assert_eq!(page.attr("input#email", "value").as_deref(), Some("bob@example.com"));
    assert!(page.attr("input#email", "readonly").is_some(), "the invited address is fixed");

    bob.post_form(&format!("{link}/register"), &[("name", "Bob"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    let home = bob.get("/").await;
    assert_eq!(home.texts(".active-account"), vec!["Ann Owner's account"]);
    assert!(home.text().contains("View & Pay Invoices, View & Accept Quotes"));
    // Bob also got a login and an account of his own.
    assert_eq!(app.count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'bob@example.com' AND m.is_owner").await, 1);

    let told = app.mail.wait_for("ann@example.com", "accepted your invitation").await;
    assert!(told.text.contains("bob@example.com"));
    let listing = owner.get("/users").await;
    assert!(listing.texts("#invitations .status").contains(&"Accepted".to_string()));
    assert!(listing.texts("#members td").contains(&"bob@example.com".to_string()));
}

#[tokio::test]
async fn opening_the_link_never_consumes_it() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &[]).await;
    for _ in 0..3 {
        assert_eq!(app.browser().get(&link).await.status, 200);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM invitations WHERE accepted_at IS NULL AND cancelled_at IS NULL").await,
        1
    );
}

#[tokio::test]
async fn an_existing_user_signed_in_as_the_invited_address_accepts_with_one_click() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.register("Bob", "bob@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &["tickets"]).await;
    let page = bob.get(&link).await;
    assert_eq!(page.texts("button"), vec!["Sign out", "Accept", "Decline"]);
    bob.post_form(&format!("{link}/accept"), &[]).await.assert_redirect_to("/");
    let home = bob.get("/").await;
    assert_eq!(home.texts(".active-account"), vec!["Ann's account"]);
    assert!(home.text().contains("You now have access to Ann's account"));
}

#[tokio::test]
async fn an_existing_user_signed_out_signs_in_on_the_invitation_page_and_accepts_in_one_step() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.register("Bob", "bob@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &["tickets"]).await;
    let b = app.browser();
    let page = b.get(&link).await;
    assert!(page.body.contains("Sign in to accept"));
    let wrong = b.post_form(&format!("{link}/sign-in"), &[("password", "not the password")]).await;
    assert_eq!(wrong.status, 422);
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE accepted_at IS NOT NULL").await, 0);
    b.post_form(&format!("{link}/sign-in"), &[("password", PASSWORD)]).await.assert_redirect_to("/");
    assert_eq!(b.get("/").await.texts(".active-account"), vec!["Ann's account"]);
}

#[tokio::test]
async fn the_owner_inviting_a_second_address_of_their_own_continues_as_it_without_signing_out_first() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "ann.work@example.com", &["invoices"]).await;
    let page = owner.get(&link).await;
    assert!(
        page.text().contains("You are signed in as ann@example.com, but this invitation is for ann.work@example.com"),
        "{}",
        page.text()
    );
    assert!(page.texts("button").contains(&"Continue as ann.work@example.com".to_string()));
    assert!(!page.texts("button").contains(&"Accept".to_string()));
    owner.post_form(&format!("{link}/switch-login"), &[]).await.assert_redirect_to(&link);
    let page = owner.get(&link).await;
    assert!(page.body.contains("Create a login to accept"));
    owner
        .post_form(&format!("{link}/register"), &[("name", "Ann at work"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    let home = owner.get("/").await;
    assert_eq!(home.texts("details.menu summary"), vec!["Hello, Ann at work"]);
    assert_eq!(home.texts(".active-account"), vec!["Ann's account"]);
}

#[tokio::test]
async fn another_login_cannot_accept_an_invitation_sent_to_someone_else() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let mallory = app.register("Mallory", "mallory@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &[]).await;
    let res = mallory.post_form(&format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("only a login with that address can accept it"));
    // Nor by signing in or registering through the page as someone else.
    let res = app.browser().post_form(&format!("{link}/sign-in"), &[("password", PASSWORD)]).await;
    assert_eq!(res.status, 422);
    assert_eq!(app.count("SELECT count(*) FROM memberships").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE accepted_at IS NOT NULL").await, 0);
}

#[tokio::test]
async fn used_expired_cancelled_and_tampered_links_say_why_and_change_nothing() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let used = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &[]).await;
    let bob = app.browser();
    bob.post_form(&format!("{used}/register"), &[("name", "Bob"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    let res = bob.get(&used).await;
    assert_eq!(res.status, 410);
    assert!(res.body.contains("already been used"));
    assert_eq!(bob.post_form(&format!("{used}/accept"), &[]).await.status, 410);

    let expired = app.invite_and_get_link(&owner, "Ann's account", "carol@example.com", &[]).await;
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE email = 'carol@example.com'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app.browser().get(&expired).await;
    assert_eq!(res.status, 410);
    assert!(res.body.contains("has expired") && res.body.contains("Ask the account owner to resend it"));
    let res =
        app.browser().post_form(&format!("{expired}/register"), &[("name", "Carol"), ("password", PASSWORD)]).await;
    assert_eq!(res.status, 410);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'carol@example.com'").await, 0, "no login made");
    assert!(owner.get("/users").await.texts("#invitations td").contains(&"Expired".to_string()));

    let cancelled = app.invite_and_get_link(&owner, "Ann's account", "dan@example.com", &[]).await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations WHERE email = 'dan@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    owner.post_form(&format!("/users/invitations/{id}/cancel"), &[]).await.assert_redirect_to("/users");
    let res = app.browser().get(&cancelled).await;
    assert_eq!(res.status, 410);
    assert!(res.body.contains("cancelled"));

    let live = app.invite_and_get_link(&owner, "Ann's account", "erin@example.com", &[]).await;
    let token = live.trim_start_matches("/invitations/").to_string();
    let mut altered = token.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [
        token[..20].to_string(),
        altered,
        format!("{token}AAAA"),
        format!("%{}", &token[1..]),
        // Escapes that decode to bytes that are not UTF-8.
        "%FF%FE".to_string(),
        format!("%C3{}", &token[1..]),
        "x".repeat(10_000),
        "..%2F..%2Fetc".to_string(),
    ] {
        let res = app.browser().get(&format!("/invitations/{bad}")).await;
        assert_eq!(res.status, 404, "{bad}");
        assert!(res.body.contains("not valid"), "{bad}");
    }
    assert_eq!(app.browser().get(&live).await.status, 200, "the real one still works");
}

#[tokio::test]
async fn resend_mails_a_new_link_and_the_old_one_dies() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let old = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &[]).await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations").fetch_one(&app.db).await.unwrap();
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 day'").execute(&app.db).await.unwrap();
    // Sent eight days ago, as its expiry says (past the resend cooldown).
    sqlx::query("UPDATE mail_outbox SET created_at = now() - interval '8 days'").execute(&app.db).await.unwrap();
    owner.post_form(&format!("/users/invitations/{id}/resend"), &[]).await.assert_redirect_to("/users");
    let mails: Vec<_> = loop {
        let m: Vec<_> = app.mail.all().into_iter().filter(|m| m.to == "bob@example.com").collect();
        if m.len() == 2 {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let new = link_in(&mails[1], &app, "/invitations/");
    assert_ne!(old, new);
    // The old link is dead, and says why (issue 12: not "check the link").
    let dead = app.browser().get(&old).await;
    assert_eq!(dead.status, 410);
    assert!(dead.text().contains("A newer invitation was sent on"), "{}", dead.text());
    assert_eq!(app.browser().get(&new).await.status, 200);
    let expires_in_days: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM expires_at - now())::float8 / 86400 FROM invitations")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!((6.9..=7.0).contains(&expires_in_days), "{expires_in_days}");
}

#[tokio::test]
async fn two_accepts_at_once_make_one_membership() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.register("Bob", "bob@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &[]).await;
    let browsers: Vec<Browser> = futures_join(&app, 4).await;
    let mut tasks = Vec::new();
    for b in browsers {
        let link = link.clone();
        tasks.push(tokio::spawn(async move { b.post_form(&format!("{link}/accept"), &[]).await.status }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 303 || *s == 410), "{statuses:?}");
    let bob = app.user_id("bob@example.com").await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships WHERE user_id = $1 AND NOT is_owner")
        .bind(bob)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'invitation.accepted'").await, 1);
}

/// `n` browsers all signed in as bob@example.com.
async fn futures_join(app: &crate::helpers::TestApp, n: usize) -> Vec<Browser> {
    let mut out = Vec::new();
    for _ in 0..n {
        let b = app.browser();
        b.post_form_from("/login", "/login", &[("email", "bob@example.com"), ("password", PASSWORD)])
            .await
            .assert_redirect_to("/");
        out.push(b);
    }
    out
}

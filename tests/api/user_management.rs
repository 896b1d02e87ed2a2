//! The owner's User Management: invite, Manage Permissions, Remove Access,
//! and who may touch any of it.

use crate::helpers::{invite, spawn_app};

#[tokio::test]
async fn the_invite_form_has_the_articles_labels_and_presets_tick_boxes() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let users = owner.get("/users").await;
    assert_eq!(users.status, 200);
    assert!(users.texts("a").contains(&"Invite New User".to_string()));
    let form = owner.get("/users/invite").await;
    assert_eq!(form.attr("input[name=email]", "placeholder").as_deref(), Some("name@example.com"));
    let labels = form.texts("label.choice");
    for label in [
        "All Permissions",
        "Choose Permissions",
        "Modify Master Account Profile",
        "View & Manage Contacts",
        "View Products & Services",
        "View & Modify Product Passwords",
        "Perform Single Sign-On",
        "View Domains",
        "Manage Domain Settings",
        "View & Pay Invoices",
        "View & Accept Quotes",
        "View & Open Support Tickets",
        "View & Manage Affiliate Account",
        "View Emails",
        "Place New Orders/Upgrades/Cancellations",
    ] {
        assert!(labels.iter().any(|l| l.starts_with(label)), "missing {label}: {labels:?}");
    }
    assert!(labels.iter().any(|l| l.contains("View and payment access to invoices")), "explanations shown");
    assert_eq!(form.texts("button[type=submit]").last().map(String::as_str), Some("Send Invite"));
    for input in form.html().select(&scraper::Selector::parse("input:not([type=hidden])").unwrap()) {
        let labelled = input.value().id().is_some()
            || input.value().attr("type") == Some("radio")
            || input.value().attr("type") == Some("checkbox");
        assert!(labelled, "every field has a label");
    }
    let accountant = owner.get("/users/invite?preset=accountant").await;
    let ticked: Vec<String> = accountant
        .html()
        .select(&scraper::Selector::parse("input[name=permissions][checked]").unwrap())
        .map(|e| e.value().attr("value").unwrap().to_string())
        .collect();
    assert_eq!(ticked, vec!["invoices", "quotes", "emails"]);
    assert_eq!(accountant.attr("input[name=mode][checked]", "value").as_deref(), Some("choose"));
}

#[tokio::test]
async fn bad_invitations_get_a_clear_message_and_send_nothing() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    invite(&owner, "carol@example.com", &[]).await.assert_redirect_to("/users");
    let before_mail = app.count("SELECT count(*) FROM mail_outbox").await;
    let before_inv = app.count("SELECT count(*) FROM invitations").await;
    let long = format!("{}@example.com", "d".repeat(300));
    // (what is tried, the form, the status expected, words of the message)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("own address", vec![("email", "ANN@example.com"), ("mode", "all")], 409, "is your own address"),
        ("already a member", vec![("email", "bob@example.com"), ("mode", "all")], 409, "already has access"),
        ("already pending", vec![("email", "carol@example.com"), ("mode", "all")], 409, "already pending"),
        ("nothing chosen", vec![("email", "dan@example.com"), ("mode", "choose")], 422, "tick at least one permission"),
        (
            "unknown key",
            vec![("email", "dan@example.com"), ("mode", "choose"), ("permissions", "admin")],
            422,
            "is not a permission",
        ),
        ("no mode", vec![("email", "dan@example.com")], 422, "Choose \"All Permissions\" or \"Choose Permissions\""),
        ("bad email", vec![("email", "dan@"), ("mode", "all")], 422, "does not look like an email"),
        ("long email", vec![("email", &long), ("mode", "all")], 422, "too long"),
    ];
    for (what, fields, status, message) in cases {
        let res = owner.post_form("/users/invite", &fields).await;
        assert_eq!(res.status, status, "{what}");
        assert!(res.text().contains(message), "{what}: {}", res.text());
    }
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox").await, before_mail);
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, before_inv);
}

#[tokio::test]
async fn invitations_are_rate_limited_per_account() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    for i in 0..20 {
        invite(&owner, &format!("p{i}@example.com"), &[]).await.assert_redirect_to("/users");
    }
    let res = invite(&owner, "one.more@example.com", &[]).await;
    assert_eq!(res.status, 429);
    assert!(res.body.contains("try again later"));
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 20);
}

#[tokio::test]
async fn a_member_even_with_all_permissions_gets_403_on_every_user_management_route() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &[]).await;
    app.member_of(&owner, "Ann's account", "Carol", "carol@example.com", &["tickets"]).await;
    invite(&owner, "dan@example.com", &[]).await;
    let carol = app.user_id("carol@example.com").await;
    let inv: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations WHERE email = 'dan@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let home = bob.get("/").await;
    assert!(!home.texts("details.menu li").contains(&"User Management".to_string()), "hidden from members");
    for path in [
        "/users".to_string(),
        "/users/invite".into(),
        "/users/audit".into(),
        format!("/users/{carol}/permissions"),
        format!("/users/{carol}/remove"),
    ] {
        let res = bob.get(&path).await;
        assert_eq!(res.status, 403, "GET {path}");
        assert!(res.body.contains("Only the owner"), "{path}");
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/users/invite".into(), vec![("email", "eve@example.com"), ("mode", "all")]),
        (format!("/users/{carol}/permissions"), vec![("mode", "all")]),
        (format!("/users/{carol}/remove"), vec![]),
        (format!("/users/invitations/{inv}/resend"), vec![]),
        (format!("/users/invitations/{inv}/cancel"), vec![]),
    ];
    for (path, fields) in posts {
        assert_eq!(bob.post_form(&path, &fields).await.status, 403, "POST {path}");
    }
    let (all, keys): (bool, Vec<String>) =
        sqlx::query_as("SELECT all_permissions, permissions FROM memberships WHERE user_id = $1 AND NOT is_owner")
            .bind(carol)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((all, keys), (false, vec!["tickets".to_string()]));
    assert_eq!(
        app.count("SELECT count(*) FROM invitations WHERE cancelled_at IS NULL AND accepted_at IS NULL").await,
        1
    );
}

#[tokio::test]
async fn manage_permissions_applies_on_the_members_very_next_request() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    assert!(bob.get("/").await.text().contains("View & Pay Invoices."));
    let bob_id = app.user_id("bob@example.com").await;
    let page = owner.get(&format!("/users/{bob_id}/permissions")).await;
    assert_eq!(
        page.attr("input[name=permissions][checked]", "value").as_deref(),
        Some("invoices"),
        "pre-set to current"
    );
    owner
        .post_form(
            &format!("/users/{bob_id}/permissions"),
            &[("mode", "choose"), ("permissions", "invoices"), ("permissions", "domains")],
        )
        .await
        .assert_redirect_to("/users");
    assert!(bob.get("/").await.text().contains("View Domains, View & Pay Invoices."));
    owner.post_form(&format!("/users/{bob_id}/permissions"), &[("mode", "all")]).await.assert_redirect_to("/users");
    assert!(bob.get("/").await.text().contains("All Permissions"));
    // Choosing nothing is refused and changes nothing.
    let res = owner.post_form(&format!("/users/{bob_id}/permissions"), &[("mode", "choose")]).await;
    assert_eq!(res.status, 422);
    assert!(bob.get("/").await.text().contains("All Permissions"));
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'member.permissions_changed'").await, 2);
}

#[tokio::test]
async fn remove_access_asks_to_confirm_then_the_member_falls_back_to_their_own_account() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let users = owner.get("/users").await;
    assert_eq!(users.attr("a.remove", "href"), Some(format!("/users/{bob_id}/remove")));
    assert_eq!(users.texts("a.remove .visually-hidden"), vec!["Remove Access"]);
    let confirm = owner.get(&format!("/users/{bob_id}/remove")).await;
    assert!(confirm.texts("button").contains(&"Confirm".to_string()));
    owner.post_form(&format!("/users/{bob_id}/remove"), &[]).await.assert_redirect_to("/users");
    assert!(!owner.get("/users").await.texts("#members td").contains(&"bob@example.com".to_string()));

    let next = bob.get("/").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.texts(".active-account"), vec!["Bob's account"]);
    assert!(
        next.texts(".flash").iter().any(|f| f.contains("Your access to Ann's account has ended")),
        "{:?}",
        next.texts(".flash")
    );
    let switch = bob.get("/accounts/switch").await;
    assert!(!switch.text().contains("Ann's account"));
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'member.removed'").await, 1);
}

#[tokio::test]
async fn tampered_forms_and_other_accounts_ids_change_nothing() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let other_owner = app.register("Zed", "zed@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    app.member_of(&other_owner, "Zed's account", "Yan", "yan@example.com", &["invoices"]).await;
    invite(&other_owner, "xavier@example.com", &[]).await;
    let bob = app.user_id("bob@example.com").await;
    let yan = app.user_id("yan@example.com").await;
    let zed_inv: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations WHERE email = 'xavier@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();

    // An extra "owner" field is ignored: Bob stays a member with invoices only.
    owner
        .post_form(
            &format!("/users/{bob}/permissions"),
            &[("mode", "choose"), ("permissions", "invoices"), ("is_owner", "true"), ("all_permissions", "true")],
        )
        .await
        .assert_redirect_to("/users");
    let (is_owner, all): (bool, bool) = sqlx::query_as("SELECT bool_or(is_owner), bool_or(all_permissions) FROM memberships WHERE user_id = $1 AND account_id <> (SELECT account_id FROM memberships WHERE user_id = $1 AND is_owner)").bind(bob).fetch_one(&app.db).await.unwrap();
    assert!(!is_owner && !all);

    // Another account's member and invitation are not found from here.
    assert_eq!(owner.get(&format!("/users/{yan}/permissions")).await.status, 404);
    assert_eq!(owner.post_form(&format!("/users/{yan}/permissions"), &[("mode", "all")]).await.status, 404);
    assert_eq!(owner.post_form(&format!("/users/{yan}/remove"), &[]).await.status, 404);
    assert_eq!(owner.post_form(&format!("/users/invitations/{zed_inv}/cancel"), &[]).await.status, 404);
    assert_eq!(owner.post_form(&format!("/users/invitations/{zed_inv}/resend"), &[]).await.status, 404);
    // The owner's own row cannot be changed or removed this way.
    let ann = app.user_id("ann@example.com").await;
    assert_eq!(owner.post_form(&format!("/users/{ann}/remove"), &[]).await.status, 404);
    assert_eq!(owner.get("/users/not-a-uuid/permissions").await.status, 400);

    let (all, keys): (bool, Vec<String>) =
        sqlx::query_as("SELECT all_permissions, permissions FROM memberships WHERE user_id = $1 AND NOT is_owner")
            .bind(yan)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((all, keys), (false, vec!["invoices".to_string()]));
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE cancelled_at IS NOT NULL").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM memberships").await, 6);
}

#[tokio::test]
async fn every_user_management_post_needs_the_csrf_token() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    invite(&owner, "carol@example.com", &[]).await;
    let bob = app.user_id("bob@example.com").await;
    let inv: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations WHERE email = 'carol@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let before = app.count("SELECT count(*) FROM audit_events").await;
    for (path, body) in [
        ("/users/invite".to_string(), "email=dan%40example.com&mode=all"),
        (format!("/users/{bob}/permissions"), "mode=all"),
        (format!("/users/{bob}/remove"), ""),
        (format!("/users/invitations/{inv}/resend"), ""),
        (format!("/users/invitations/{inv}/cancel"), ""),
        ("/accounts/switch".to_string(), "account_id=00000000-0000-0000-0000-000000000000"),
    ] {
        assert_eq!(owner.post_raw(&path, body, &[]).await.status, 403, "{path}");
    }
    assert_eq!(app.count("SELECT count(*) FROM audit_events").await, before);
}

#[tokio::test]
async fn get_on_a_state_changing_route_is_refused() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    for path in ["/logout", "/users/invitations/00000000-0000-0000-0000-000000000000/cancel", "/profile/password"] {
        assert_eq!(owner.get(path).await.status, 405, "{path}");
    }
}

#[tokio::test]
async fn the_owner_reads_every_change_in_the_audit_log() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    let bob = app.user_id("bob@example.com").await;
    owner.post_form(&format!("/users/{bob}/permissions"), &[("mode", "all")]).await;
    owner.post_form(&format!("/users/{bob}/remove"), &[]).await;
    let log = owner.get("/users/audit").await;
    let whats = log.texts("td[data-label=What]");
    for action in ["Invitation sent", "Invitation accepted", "Permissions changed", "Access removed"] {
        assert!(whats.contains(&action.to_string()), "{action} missing from {whats:?}");
    }
    assert!(log.texts("td[data-label=From]").iter().all(|ip| ip == "127.0.0.1" || ip.is_empty()));
}

#[tokio::test]
async fn user_management_pages_through_thousands_of_members() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    sqlx::query(
        "WITH u AS (INSERT INTO users (id, email, name, password_hash)
                    SELECT gen_random_uuid(), 'm' || g || '@example.com', 'Member ' || g, 'x' FROM generate_series(1, 120) g RETURNING id)
         INSERT INTO memberships (account_id, user_id, permissions) SELECT $1, id, '{invoices}' FROM u",
    )
    .bind(account)
    .execute(&app.db)
    .await
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut path = "/users".to_string();
    let mut pages = 0;
    loop {
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "{path} {}", page.body);
        pages += 1;
        for email in page.texts("#members td[data-label=Email]") {
            if email != "ann@example.com" {
                assert!(seen.insert(email), "no member twice");
            }
        }
        let next = page
            .html()
            .select(&scraper::Selector::parse("nav.pager a").unwrap())
            .find(|a| a.text().collect::<String>() == "Next users")
            .and_then(|a| a.value().attr("href").map(str::to_string));
        match next {
            Some(n) => path = n,
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 120));
    assert_eq!(owner.get("/users?after=garbage").await.status, 400);
}

//! The support staff area.

use crate::helpers::{invite, spawn_app, Browser, PASSWORD, STAFF_PASSWORD};

async fn transfer(
    staff: &Browser,
    account: uuid::Uuid,
    expected: uuid::Uuid,
    to: &str,
    keep: bool,
    reason: &str,
    password: &str,
) -> crate::helpers::browser::Page {
    let expected = expected.to_string();
    let mut fields = vec![
        ("expected_owner", expected.as_str()),
        ("new_owner_email", to),
        ("reason", reason),
        ("password", password),
    ];
    if keep {
        fields.push(("keep_old_owner", "yes"));
    }
    staff.post_form(&format!("/admin/accounts/{account}/transfer"), &fields).await
}

#[tokio::test]
async fn staff_transfer_ownership_and_the_new_owner_manages_users() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;

    let page = staff.get(&format!("/admin/accounts/{account}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Owner: Ann (ann@example.com)"));
    transfer(&staff, account, ann_id, "bob@example.com", true, "Ann sold the business to Bob", STAFF_PASSWORD)
        .await
        .assert_redirect_to(&format!("/admin/accounts/{account}"));

    assert_eq!(bob.get("/users").await.status, 200, "the new owner sees User Management");
    assert_eq!(ann.get("/users").await.status, 403, "the old owner no longer does");
    ann.post_form("/accounts/switch", &[("account_id", &account.to_string())]).await.assert_redirect_to("/");
    assert!(ann.get("/").await.text().contains("All Permissions"), "the old owner stays a member with All Permissions");
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE is_owner AND account_id = (SELECT account_id FROM memberships WHERE is_owner AND user_id = (SELECT id FROM users WHERE email = 'bob@example.com') LIMIT 1)").await, 1);
    app.mail.wait_for("ann@example.com", "The owner of Ann's account has changed").await;
    app.mail.wait_for("bob@example.com", "The owner of Ann's account has changed").await;
    let log = staff.get(&format!("/admin/audit?account={account}")).await;
    let row = log.texts("#audit tbody tr").into_iter().find(|r| r.contains("Ownership transferred")).expect("audited");
    assert!(row.contains("help@example.com") && row.contains("Ann sold the business to Bob"), "{row}");
}

#[tokio::test]
async fn a_transfer_can_drop_the_old_owner_entirely() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.register("Carol", "carol@example.com").await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;
    transfer(&staff, account, ann_id, "carol@example.com", false, "Company moved", STAFF_PASSWORD)
        .await
        .assert_redirect_to(&format!("/admin/accounts/{account}"));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships WHERE account_id = $1 AND user_id = $2")
        .bind(account)
        .bind(ann_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let home = ann.get("/").await;
    assert!(home.text().contains("You have no access to any client account"), "{}", home.text());
}

#[tokio::test]
async fn bad_transfers_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    app.register("Bob", "bob@example.com").await;
    let staff = app.staff("help@example.com").await;
    panel::seed::create_staff(&app.db, "other.staff@example.com", STAFF_PASSWORD).await.unwrap();
    let account = app.own_account_id("ann@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;
    for (to, reason, password, message) in [
        ("nobody@example.com", "why", STAFF_PASSWORD, "No login uses nobody@example.com"),
        ("bob@example.com", "why", "wrong password!", "Your password is not correct"),
        ("bob@example.com", "   ", STAFF_PASSWORD, "Give a reason"),
        ("ann@example.com", "why", STAFF_PASSWORD, "already owns this account"),
        ("other.staff@example.com", "why", STAFF_PASSWORD, "cannot own an account"),
        ("bob@", "why", STAFF_PASSWORD, "does not look like an email"),
    ] {
        let res = transfer(&staff, account, ann_id, to, true, reason, password).await;
        assert_eq!(res.status, 422, "{to} {reason} {password}");
        assert!(res.text().contains(message), "{message}: {}", res.text());
    }
    let owner: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM memberships WHERE account_id = $1 AND is_owner")
        .bind(account)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(owner, ann_id);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'ownership.transferred'").await, 0);
}

#[tokio::test]
async fn two_transfers_at_once_cannot_both_win() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    app.register("Bob", "bob@example.com").await;
    app.register("Carol", "carol@example.com").await;
    let s1 = app.staff("one@example.com").await;
    let s2 = app.staff("two@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;
    let (a, b) = tokio::join!(
        transfer(&s1, account, ann_id, "bob@example.com", true, "first", STAFF_PASSWORD),
        transfer(&s2, account, ann_id, "carol@example.com", true, "second", STAFF_PASSWORD),
    );
    let mut statuses = vec![a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, vec![303, 409], "one wins, the other is told the owner changed");
    let owners: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships WHERE account_id = $1 AND is_owner")
        .bind(account)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(owners, 1);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'ownership.transferred'").await, 1);
}

#[tokio::test]
async fn a_client_even_with_every_permission_is_denied_on_every_staff_route() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &[]).await;
    let account = app.own_account_id("ann@example.com").await;
    let bob_id = app.user_id("bob@example.com").await;
    let z = uuid::Uuid::nil();
    for client in [&ann, &bob] {
        for path in [
            "/admin".to_string(),
            format!("/admin/accounts/{account}"),
            format!("/admin/users/{bob_id}"),
            "/admin/audit".into(),
            "/admin/mail".into(),
            "/admin/tickets".into(),
            format!("/admin/tickets/{z}"),
        ] {
            let res = client.get(&path).await;
            assert_eq!(res.status, 403, "GET {path}");
            assert!(res.text().contains("for support staff only"));
        }
        for path in [
            format!("/admin/accounts/{account}/transfer"),
            format!("/admin/accounts/{account}/invitations/{z}/resend"),
            format!("/admin/accounts/{account}/invitations/{z}/cancel"),
            format!("/admin/accounts/{account}/members/{bob_id}/permissions"),
            format!("/admin/accounts/{account}/members/{bob_id}/remove"),
            format!("/admin/users/{bob_id}/end-sessions"),
            format!("/admin/users/{bob_id}/disable"),
            format!("/admin/users/{bob_id}/enable"),
            format!("/admin/users/{bob_id}/sign-in-as"),
            format!("/admin/tickets/{z}/reply"),
        ] {
            assert_eq!(client.post_form(&path, &[("mode", "all")]).await.status, 403, "POST {path}");
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM users WHERE disabled_at IS NOT NULL").await, 0);
}

#[tokio::test]
async fn a_staff_login_cannot_be_invited_or_accept_or_use_the_client_area() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let staff = app.staff("help@example.com").await;
    // Issue 13: the invite form answers a staff address as it answers any
    // other (no enumeration of staff); a staff login still cannot accept.
    invite(&ann, "help@example.com", &[]).await.assert_redirect_to("/users");
    staff.get("/").await.assert_redirect_to("/admin");
    assert_eq!(staff.get("/users").await.status, 403);
    // An invitation made before the address became staff cannot be accepted.
    let link = app.invite_and_get_link(&ann, "Ann's account", "later.staff@example.com", &[]).await;
    let later = app.staff("later.staff@example.com").await;
    let res = later.post_form(&format!("{link}/accept"), &[]).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.is_staff").await,
        0
    );
}

#[tokio::test]
async fn a_disabled_login_loses_its_open_session_at_once_and_cannot_sign_in_until_enabled() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let staff = app.staff("help@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;
    staff
        .post_form(&format!("/admin/users/{ann_id}/disable"), &[])
        .await
        .assert_redirect_to(&format!("/admin/users/{ann_id}"));
    ann.get("/").await.assert_redirect_to("/login?next=/");
    let res = app.browser().post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status, 403);
    assert!(res.text().contains("This login has been disabled"));
    staff.post_form(&format!("/admin/users/{ann_id}/enable"), &[]).await;
    app.browser()
        .post_form("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await
        .assert_redirect_to("/");
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE target_user_id = $1 AND action LIKE 'user.%abled' ORDER BY id",
    )
    .bind(ann_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(actions, vec!["user.disabled", "user.enabled"]);
}

#[tokio::test]
async fn staff_end_all_sessions_of_a_user() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let staff = app.staff("help@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;
    staff.post_form(&format!("/admin/users/{ann_id}/end-sessions"), &[]).await;
    ann.get("/").await.assert_redirect_to("/login?next=/");
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'user.sessions_ended'").await, 1);
}

#[tokio::test]
async fn staff_help_with_invitations_and_members_is_audited_with_staff_as_actor() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    invite(&ann, "carol@example.com", &["tickets"]).await;
    app.mail.wait_for("carol@example.com", "has invited you").await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let bob = app.user_id("bob@example.com").await;
    let inv: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations WHERE email = 'carol@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let back = format!("/admin/accounts/{account}");
    // An hour later (past the resend cooldown).
    sqlx::query("UPDATE mail_outbox SET created_at = created_at - interval '1 hour'").execute(&app.db).await.unwrap();
    staff
        .post_form(&format!("/admin/accounts/{account}/invitations/{inv}/resend"), &[])
        .await
        .assert_redirect_to(&back);
    // The resent mail still invites in the owner's name.
    let mails = loop {
        let m: Vec<_> = app.mail.all().into_iter().filter(|m| m.to == "carol@example.com").collect();
        if m.len() == 2 {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(mails[1].text.contains("Ann (ann@example.com)"));
    staff
        .post_form(&format!("/admin/accounts/{account}/invitations/{inv}/cancel"), &[])
        .await
        .assert_redirect_to(&back);
    staff
        .post_form(
            &format!("/admin/accounts/{account}/members/{bob}/permissions"),
            &[("mode", "choose"), ("permissions", "tickets"), ("reason", "The owner asked by phone")],
        )
        .await
        .assert_redirect_to(&back);
    let bad = staff
        .post_form(
            &format!("/admin/accounts/{account}/members/{bob}/permissions"),
            &[("mode", "choose"), ("permissions", "root"), ("reason", "Testing")],
        )
        .await;
    assert_eq!(bad.status, 422, "the form is shown again with the message");
    assert!(bad.text().contains("\"root\" is not a permission."), "{}", bad.text());
    staff.post_form(&format!("/admin/accounts/{account}/members/{bob}/remove"), &[]).await.assert_redirect_to(&back);
    let staff_id = app.user_id("help@example.com").await;
    // (Setting up their own two-factor sign-in is the staff member's own event.)
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE actor_id = $1 AND action <> 'user.two_factor_on' ORDER BY id",
    )
    .bind(staff_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec!["invitation.resent", "invitation.cancelled", "member.permissions_changed", "member.removed"]
    );
}

#[tokio::test]
async fn staff_sign_in_as_a_client_with_a_banner_and_return_leaving_the_clients_sessions_alone() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let staff = app.staff("help@example.com").await;
    let ann_id = app.user_id("ann@example.com").await;
    staff.post_form(&format!("/admin/users/{ann_id}/sign-in-as"), &[]).await.assert_redirect_to("/");
    let home = staff.get("/").await;
    assert!(
        home.text().contains("Support view: help is using the client area as Ann (ann@example.com)"),
        "{}",
        home.text()
    );
    assert_eq!(home.texts(".active-account"), vec!["Ann's account"]);
    assert!(staff.get("/users").await.text().contains("Support view"), "the banner is on every page");
    assert_eq!(staff.get("/admin").await.status, 403, "no staff powers while acting as the client");
    let res = invite(&staff, "someone@example.com", &[]).await;
    assert_eq!(res.status, 403, "the support view is read-only");
    assert!(res.text().contains("read-only"));
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0);
    staff.post_form("/admin/return", &[]).await.assert_redirect_to(&format!("/admin/users/{ann_id}"));
    assert_eq!(staff.get("/admin").await.status, 200);
    assert_eq!(ann.get("/").await.status, 200, "the client's own session is untouched");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events WHERE action LIKE 'staff.sign_in_as.%' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(actions, vec!["staff.sign_in_as.start", "staff.sign_in_as.end"]);
    // A client cannot use the return button to become staff.
    assert_eq!(ann.post_form("/admin/return", &[]).await.status, 403);
}

#[tokio::test]
async fn staff_search_finds_clients_by_email_name_and_account_name() {
    let app = spawn_app().await;
    app.register("Ann Archer", "ann@example.com").await;
    app.register("Zed", "zed@zeta.example.com").await;
    let staff = app.staff("help@example.com").await;
    for (q, expected) in
        [("ARCHER", "Ann Archer's account"), ("zeta.example", "Zed's account"), ("zed's acc", "Zed's account")]
    {
        let page = staff.get(&format!("/admin?q={}", q.replace(' ', "+"))).await;
        assert_eq!(page.texts("#accounts td[data-label=Account]"), vec![expected], "{q}");
    }
    assert_eq!(staff.get("/admin?q=%25").await.texts("#accounts td"), vec!["No account matches."]);
}

#[tokio::test]
async fn failed_mail_is_visible_to_staff() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    sqlx::query("INSERT INTO mail_outbox (to_email, subject, text_body, html_body, status, attempts, last_error) VALUES ('x@example.com', 'Lost?', 't', 'h', 'failed', 8, 'connection refused')")
        .execute(&app.db).await.unwrap();
    let staff = app.staff("help@example.com").await;
    let page = staff.get("/admin/mail").await;
    assert!(page.texts("#failed td").contains(&"connection refused".to_string()));
}

#[tokio::test]
async fn every_staff_post_needs_the_csrf_token() {
    let app = spawn_app().await;
    app.register("Ann", "ann@example.com").await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let ann = app.user_id("ann@example.com").await;
    let z = uuid::Uuid::nil();
    for path in [
        format!("/admin/accounts/{account}/transfer"),
        format!("/admin/accounts/{account}/invitations/{z}/resend"),
        format!("/admin/accounts/{account}/invitations/{z}/cancel"),
        format!("/admin/accounts/{account}/members/{ann}/permissions"),
        format!("/admin/accounts/{account}/members/{ann}/remove"),
        format!("/admin/users/{ann}/end-sessions"),
        format!("/admin/users/{ann}/disable"),
        format!("/admin/users/{ann}/enable"),
        format!("/admin/users/{ann}/sign-in-as"),
        format!("/admin/users/{ann}/two-factor/reset"),
        format!("/admin/tickets/{z}/reply"),
        "/admin/return".to_string(),
    ] {
        assert_eq!(staff.post_raw(&path, "mode=all", &[]).await.status, 403, "{path}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE actor_id = (SELECT id FROM users WHERE is_staff) AND action <> 'user.two_factor_on'").await,
        0
    );
}

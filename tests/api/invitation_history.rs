//! How invitations end, as the owner and the invited person see it:
//! Decline, Replaced, accepted dates, old links after Resend, and a
//! forgotten password on the way to accepting.

use crate::helpers::{link_in, spawn_app, PASSWORD};

#[tokio::test]
async fn declining_tells_the_owner_and_closes_the_link() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &["tickets"]).await;
    let stranger = app.browser();
    let page = stranger.get(&link).await;
    assert!(page.texts("button").contains(&"Decline".to_string()));
    let res = stranger.post_form(&format!("{link}/decline"), &[]).await;
    assert_eq!(res.status, 200);
    assert!(res.text().contains("You declined the invitation to Ann's account"));
    let told = app.mail.wait_for("ann@example.com", "bob@example.com declined your invitation to Ann's account").await;
    assert!(told.text.contains("They have no access to it"));
    let listing = owner.get("/users").await;
    assert_eq!(listing.texts("#invitations .status"), ["Declined"]);
    assert!(listing.texts("#invitations td").iter().any(|t| t.starts_with("Declined ")), "with when");
    // The link now says it was declined, and nothing can be done with it.
    let dead = stranger.get(&link).await;
    assert_eq!(dead.status, 410);
    assert!(dead.text().contains("This invitation was declined"));
    assert_eq!(stranger.post_form(&format!("{link}/decline"), &[]).await.status, 410);
    let res = stranger.post_form(&format!("{link}/register"), &[("name", "Bob"), ("password", PASSWORD)]).await;
    assert_eq!(res.status, 410);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'bob@example.com'").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'invitation.declined'").await, 1);
    // The owner may invite the address again (once the resend cooldown
    // since the first mail has passed).
    sqlx::query("UPDATE mail_outbox SET created_at = created_at - interval '1 hour'").execute(&app.db).await.unwrap();
    crate::helpers::invite(&owner, "bob@example.com", &["tickets"]).await.assert_redirect_to("/users");
    assert!(owner.get("/users/audit").await.texts("td").contains(&"Invitation declined".to_string()));
}

#[tokio::test]
async fn a_replaced_invitation_says_so_and_an_accepted_one_shows_when() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let old = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &["tickets"]).await;
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 minute'").execute(&app.db).await.unwrap();
    sqlx::query("UPDATE mail_outbox SET created_at = now() - interval '7 days'").execute(&app.db).await.unwrap();
    crate::helpers::invite(&owner, "bob@example.com", &["quotes"]).await.assert_redirect_to("/users");
    let listing = owner.get("/users").await;
    assert_eq!(listing.texts("#invitations .status"), ["Pending", "Replaced"], "not \"Cancelled\"");
    let dead = app.browser().get(&old).await;
    assert_eq!(dead.status, 410);
    assert!(dead.text().contains("A newer invitation was sent on"), "{}", dead.text());
    // Accepted: when, not a future expiry.
    let mails = loop {
        let m: Vec<_> = app.mail.all().into_iter().filter(|m| m.to == "bob@example.com").collect();
        if m.len() == 2 {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let new = link_in(&mails[1], &app, "/invitations/");
    let bob = app.browser();
    bob.post_form(&format!("{new}/register"), &[("name", "Bob"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    let listing = owner.get("/users").await;
    let cells = listing.texts("#invitations tr:first-child td");
    assert!(cells.iter().any(|c| c.starts_with("Accepted ")), "{cells:?}");
    assert!(cells.contains(&"–".to_string()), "no expiry for an accepted invitation: {cells:?}");
}

#[tokio::test]
async fn forgot_password_from_an_invitation_returns_to_it() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.register("Bob", "bob@example.com").await;
    let link = app.invite_and_get_link(&owner, "Ann's account", "bob@example.com", &["tickets"]).await;
    let bob = app.browser();
    let page = bob.get(&link).await;
    let forgot = page
        .html()
        .select(&scraper::Selector::parse("a").unwrap())
        .find(|a| a.text().collect::<String>() == "Forgot password?")
        .and_then(|a| a.value().attr("href").map(str::to_string))
        .unwrap();
    assert_eq!(forgot, format!("/password/forgot?next={link}"));
    assert_eq!(bob.get(&forgot).await.attr("input[name=next]", "value").as_deref(), Some(link.as_str()));
    bob.post_form_from(&forgot, "/password/forgot", &[("email", "bob@example.com"), ("next", &link)]).await;
    let mail = app.mail.wait_for("bob@example.com", "Reset your password").await;
    assert!(!mail.text.contains(&link), "the invitation's token is not in the reset mail");
    let reset = link_in(&mail, &app, "/password/reset/");
    let res = bob
        .post_form_from(&reset, &reset, &[("password", "a brand new password"), ("confirm", "a brand new password")])
        .await;
    res.assert_redirect_to(&link);
    let back = bob.get(&link).await;
    assert_eq!(back.texts("button"), ["Sign out", "Accept", "Decline"], "signed in as the invited address");
}

#[tokio::test]
async fn staff_change_permissions_with_a_reason_and_remove_after_confirm() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let bob = app.user_id("bob@example.com").await;
    let page = staff.get(&format!("/admin/accounts/{account}")).await;
    assert!(page.texts("#members a").contains(&"Manage Permissions".to_string()));
    let form_path = format!("/admin/accounts/{account}/members/{bob}/permissions");
    let form = staff.get(&form_path).await;
    assert_eq!(form.status, 200);
    assert_eq!(form.attr("input[name=permissions][checked]", "value").as_deref(), Some("tickets"));
    assert!(form.text().contains("[Please consider carefully before granting this permission]"));
    let no_reason = staff.post_form(&form_path, &[("mode", "choose"), ("permissions", "quotes")]).await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.text().contains("Give a reason"));
    assert_eq!(no_reason.attr("input[name=permissions][checked]", "value").as_deref(), Some("quotes"), "kept");
    let granted: Vec<String> =
        sqlx::query_scalar("SELECT permissions FROM memberships WHERE user_id = $1 AND account_id = $2")
            .bind(bob)
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(granted, ["tickets"], "nothing changed");
    staff
        .post_form(&form_path, &[("mode", "choose"), ("permissions", "quotes"), ("reason", "Owner called support")])
        .await
        .assert_redirect_to(&format!("/admin/accounts/{account}"));
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'member.permissions_changed' AND actor_id = (SELECT id FROM users WHERE is_staff)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(details["reason"], "Owner called support");
    assert_eq!(details["after"], "View & Accept Quotes");
    // Remove Access: a Confirm page first.
    let confirm = staff.get(&format!("/admin/accounts/{account}/members/{bob}/remove")).await;
    assert_eq!(confirm.texts("button[type=submit]").last().map(String::as_str), Some("Confirm"));
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE NOT is_owner").await, 1, "not removed by looking");
}

//! Access that ends on a date: set on Manage Permissions, an invitation or
//! through the API; it stops at the member's first request after it, at
//! Switch Account and at accept; the member and the owner are mailed.

use serde_json::json;
use time::Duration;

use crate::helpers::{api::Api, spawn_app, TestApp};

const DAY: i64 = 24 * 3600;

/// The day `days` after the app's clock's today, as a date field takes it.
fn day_after(app: &TestApp, days: i64) -> String {
    (app.clock.now().date() + Duration::days(days)).to_string()
}

#[tokio::test]
async fn access_until_a_date_stops_at_the_first_request_after_it_and_the_owner_can_extend_it() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let account = app.own_account_id("ann@example.com").await.to_string();
    let until = day_after(&app, 1);
    owner
        .post_form(
            &format!("/users/{bob_id}/permissions"),
            &[("mode", "choose"), ("permissions", "tickets"), ("access_until", &until)],
        )
        .await
        .assert_redirect_to("/users");
    let listed = owner.get("/users").await.texts("#members tbody tr").join(" ");
    assert!(listed.contains("Until "), "{listed}");
    assert_eq!(owner.get(&format!("/users/{bob_id}/permissions")).await.attr("#access-until", "value"), Some(until));
    assert_eq!(bob.get("/tickets").await.status, 200, "still open before the date");

    app.clock.advance(2 * DAY + 1);
    let next = bob.get("/").await;
    assert!(next.text().contains("Your access to Ann's account has ended"), "{}", next.text());
    assert_eq!(bob.get("/tickets").await.texts("h1").join(""), "Support Tickets");
    assert!(!bob.get("/").await.text().contains("Ann's account has"), "the message shows once");
    let switch = bob.post_form("/accounts/switch", &[("account_id", &account)]).await;
    assert_eq!(switch.status, 403);
    assert!(switch.text().contains("Your access to Ann's account has ended"));
    let listed = owner.get("/users").await.texts("#members tbody tr").join(" ");
    assert!(listed.contains("Access ended"), "{listed}");

    // The owner extends it: the next switch opens the account again.
    let later = day_after(&app, 30);
    owner
        .post_form(
            &format!("/users/{bob_id}/permissions"),
            &[("mode", "choose"), ("permissions", "tickets"), ("access_until", &later)],
        )
        .await
        .assert_redirect_to("/users");
    bob.post_form("/accounts/switch", &[("account_id", &account)]).await.assert_redirect_to("/");
    assert!(bob.get("/").await.text().contains("You are now working in Ann's account"));
    let log = owner.get("/users/audit").await.texts("table tbody tr");
    let change = log.iter().find(|r| r.contains("access until before")).expect("the date change is audited");
    assert!(change.contains("access until after"), "{change}");

    // Bad dates: a clear message, nothing changed.
    let today = day_after(&app, 0);
    for (raw, words) in [("next week", "as a date"), (today.as_str(), "after today")] {
        let res =
            owner.post_form(&format!("/users/{bob_id}/permissions"), &[("mode", "all"), ("access_until", raw)]).await;
        assert_eq!(res.status, 422, "{raw}");
        assert!(res.texts("p.error").join(" ").contains(words), "{raw}");
    }
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE all_permissions AND NOT is_owner").await, 0);
}

#[tokio::test]
async fn an_invitation_carries_its_end_date_and_cannot_be_accepted_after_it() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let until = day_after(&app, 2);
    let res = owner
        .post_form("/users/invite", &[("email", "bob@example.com"), ("mode", "all"), ("access_until", &until)])
        .await;
    res.assert_redirect_to("/users");
    let mail = app.mail.wait_for("bob@example.com", "Ann's account has invited you").await;
    let link = crate::helpers::link_in(&mail, &app, "/invitations/");
    let page = app.browser().get(&link).await;
    assert!(page.texts("#access-until").join("").contains("The access ends on"), "{}", page.text());

    let bob = app.register("Bob", "bob@example.com").await;
    app.clock.advance(3 * DAY);
    let late = bob.post_form(&format!("{link}/accept"), &[]).await;
    assert_eq!(late.status, 410);
    assert!(late.text().contains("has already ended"), "{}", late.text());
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE NOT is_owner").await, 0);
    app.clock.advance(-3 * DAY);
    bob.post_form(&format!("{link}/accept"), &[]).await.assert_redirect_to("/");
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE access_until IS NOT NULL").await, 1);
}

#[tokio::test]
async fn the_member_and_the_owner_are_mailed_three_days_before_and_when_it_ends() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &[]).await;
    let bob_id = app.user_id("bob@example.com").await;
    owner
        .post_form(&format!("/users/{bob_id}/permissions"), &[("mode", "all"), ("access_until", &day_after(&app, 5))])
        .await
        .assert_redirect_to("/users");
    let run = || panel::users::endings::mail_due(&app.db, app.clock.now());
    assert_eq!(run().await.unwrap(), 0, "nothing yet, six days ahead");
    app.clock.advance(3 * DAY + 60);
    assert_eq!(run().await.unwrap(), 1);
    assert_eq!(run().await.unwrap(), 0, "once");
    let soon = app.mail.wait_for("bob@example.com", "Access to Ann's account ends on").await;
    assert!(soon.text.contains("Ask its owner if you need it longer"));
    let owners = app.mail.wait_for("ann@example.com", "Access to Ann's account ends on").await;
    assert!(owners.text.contains("Bob's access to Ann's account ends on"));
    app.clock.advance(3 * DAY);
    assert_eq!(run().await.unwrap(), 1);
    assert_eq!(run().await.unwrap(), 0, "once");
    app.mail.wait_for("bob@example.com", "Access to Ann's account has ended").await;
    app.mail.wait_for("ann@example.com", "Access to Ann's account has ended").await;
    let about_ends = app.mail.all().into_iter().filter(|m| m.subject.starts_with("Access to Ann's account")).count();
    assert_eq!(about_ends, 4, "two mails each time, counted at the SMTP server");
    assert!(owner.get("/users/audit").await.text().contains("Access ended on its end date"));
}

#[tokio::test]
async fn the_api_sets_end_dates_and_a_members_token_ends_with_the_access() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let api = Api::new(&app, Some(&app.make_token(&owner, "script", &[], true).await));
    let bob_api = Api::new(&app, Some(&app.make_token(&bob, "bob", &["tickets"], false).await));
    let path = format!("/api/v1/members/{bob_id}/permissions");
    let past = api.put(&path, json!({ "permissions": { "all": true }, "access_until": "2001-01-01T00:00:00Z" })).await;
    assert_eq!(past.status, 422);
    assert!(past.detail().contains("in the future"));
    let until = app.clock.now() + Duration::days(1);
    let until = until.format(&time::format_description::well_known::Rfc3339).unwrap();
    let set = api
        .put(&path, json!({ "permissions": { "all": false, "permissions": ["tickets"] }, "access_until": until }))
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    assert!(set.json["access_until"].is_string());
    let invited = api
        .post(
            "/api/v1/invitations",
            json!({ "email": "c@example.com", "permissions": { "all": true }, "access_until": until }),
        )
        .await;
    assert_eq!(invited.status, 201);
    assert!(invited.json["access_until"].is_string());
    assert_eq!(bob_api.get("/api/v1/account").await.status, 200);
    app.clock.advance(2 * DAY);
    let ended = bob_api.get("/api/v1/account").await;
    assert_eq!(ended.status, 401, "the token ends with the access");
    assert!(ended.detail().contains("no longer has access"), "{}", ended.detail());
}

//! Webhooks: endpoints added on the page, events delivered signed, once and
//! in order to a loopback receiver, and addresses that are refused.

use serde_json::json;

use crate::helpers::{
    api::Api, invite, receiver::Receiver, spawn_app, spawn_app_with, Browser, Options, TestApp, STAFF_PASSWORD,
};

/// Loopback receivers need the setting for private addresses (and http).
async fn app_with_private_webhooks() -> TestApp {
    spawn_app_with(Options {
        settings: vec![("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "true"), ("INVITE_RESEND_MINUTES", "0")],
        ..Options::default()
    })
    .await
}

/// Adds an endpoint on the Webhooks page; returns its page path and secret.
async fn add_endpoint(owner: &Browser, url: &str, events: &[&str]) -> (String, String) {
    let mut fields = vec![("url", url)];
    fields.extend(events.iter().map(|e| ("events", *e)));
    let res = owner.post_form("/users/webhooks", &fields).await;
    assert_eq!(res.status, 303, "endpoint added: {}", res.text());
    let path = res.location().unwrap().to_string();
    let page = owner.get(&path).await;
    (path, page.texts("#endpoint-secret").pop().unwrap())
}

const ALL_EVENTS: [&str; 8] = [
    "invitation.sent",
    "invitation.accepted",
    "invitation.declined",
    "invitation.expired",
    "invitation.cancelled",
    "member.permissions_changed",
    "member.removed",
    "ownership.transferred",
];

#[tokio::test]
async fn each_event_arrives_once_signed_with_the_endpoints_secret() {
    let app = app_with_private_webhooks().await;
    let receiver = Receiver::start().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let (_, secret) = add_endpoint(&owner, &receiver.url("/hooks"), &ALL_EVENTS).await;
    assert!(secret.starts_with("whsec_"));

    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    drop(bob);
    let bob_id = app.user_id("bob@example.com").await;
    owner
        .post_form(&format!("/users/{bob_id}/permissions"), &[("mode", "choose"), ("permissions", "invoices")])
        .await
        .assert_redirect_to("/users");
    // Through the API too: the same event, from the same place.
    let api = Api::new(&app, Some(&app.make_token(&owner, "script", &[], true).await));
    assert_eq!(api.delete(&format!("/api/v1/members/{bob_id}")).await.status, 204);

    let got = receiver.wait_accepted(4).await;
    let types: Vec<String> = got.iter().map(|d| d.json()["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, ["invitation.sent", "invitation.accepted", "member.permissions_changed", "member.removed"]);
    for d in &got {
        assert!(d.signed_with(&secret), "signature checks out: {}", d.header("panel-signature"));
        assert!(!d.signed_with("whsec_someone_else"), "and only with the endpoint's secret");
        assert_eq!(d.header("content-type"), "application/json");
        assert_eq!(d.header("panel-event"), d.json()["type"].as_str().unwrap());
        assert_eq!(d.header("panel-event-id"), d.json()["id"].as_str().unwrap());
        assert_eq!(d.path, "/hooks");
    }
    let change = got[2].json();
    assert_eq!(change["data"]["email"], json!("bob@example.com"));
    assert_eq!(change["data"]["details"]["after"], json!("View & Pay Invoices"));
    assert_eq!(change["account_id"], json!(app.own_account_id("ann@example.com").await.to_string()));
    // Once each: nothing more arrives, and the log says delivered.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.all().len(), 4, "no event twice");
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").await, 4);
    // A tampered body fails the check.
    let mut forged = got[0].clone();
    forged.body = forged.body.replace("invitation.sent", "member.removed");
    assert!(!forged.signed_with(&secret));
}

#[tokio::test]
async fn a_receiver_that_fails_gets_every_event_once_in_order_when_it_recovers() {
    let app = app_with_private_webhooks().await;
    let receiver = Receiver::start().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let (path, _) = add_endpoint(&owner, &receiver.url("/hooks"), &["invitation.sent", "invitation.cancelled"]).await;
    receiver.answer_with(&[500, 503, 502]);
    for who in ["a@example.com", "b@example.com", "c@example.com"] {
        invite(&owner, who, &[]).await.assert_redirect_to("/users");
    }
    let got = receiver.wait_accepted(3).await;
    let emails: Vec<String> = got.iter().map(|d| d.json()["data"]["email"].as_str().unwrap().to_string()).collect();
    assert_eq!(emails, ["a@example.com", "b@example.com", "c@example.com"], "in the order they happened");
    let attempts = receiver.all();
    assert_eq!(attempts.len(), 6, "three failures, then each once");
    assert!(
        attempts[..3].iter().all(|d| d.json()["data"]["email"] == json!("a@example.com")),
        "the first waits for nobody"
    );
    let ids: std::collections::HashSet<String> = got.iter().map(|d| d.header("panel-event-id").to_string()).collect();
    assert_eq!(ids.len(), 3, "once each");
    // The owner's delivery log shows what happened.
    let log = owner.get(&path).await.texts("#deliveries tbody tr");
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r.contains("Delivered")), "{log:?}");
    assert!(log.last().unwrap().contains("4"), "the first took four attempts: {log:?}");
}

/// A receiver that sits on a delivery holds up nothing else: no
/// transaction is open, the endpoint's row is free (the owner may edit or
/// remove it), and the account's next change queues its delivery at once,
/// which goes out after the first.
#[tokio::test]
async fn a_slow_receiver_holds_up_neither_the_accounts_changes_nor_its_endpoint() {
    let app = app_with_private_webhooks().await;
    let receiver = Receiver::start().await;
    let owner = app.register("Ann", "ann@example.com").await;
    add_endpoint(&owner, &receiver.url("/hooks"), &["invitation.sent"]).await;
    receiver.hold();
    invite(&owner, "a@example.com", &[]).await.assert_redirect_to("/users");
    receiver.wait_arrived(1).await;

    // Long enough for a transaction left open across it to count.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(app.long_open_transactions().await, 0, "a transaction stayed open while the receiver was silent");
    assert!(
        app.can_lock_now("SELECT id FROM webhook_endpoints FOR UPDATE NOWAIT").await,
        "the endpoint's row stayed locked while the receiver was silent"
    );
    invite(&owner, "b@example.com", &[]).await.assert_redirect_to("/users");
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").await, 2);
    assert_eq!(receiver.all().len(), 1, "one event of an endpoint at a time");

    receiver.release();
    let got = receiver.wait_accepted(2).await;
    let emails: Vec<String> = got.iter().map(|d| d.json()["data"]["email"].as_str().unwrap().to_string()).collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"], "in the order they happened");
    for _ in 0..100 {
        if app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered' AND attempts = 1").await,
        2
    );
    assert_eq!(receiver.all().len(), 2, "each once");
}

/// One account's receiver that sits on a delivery holds up that endpoint
/// only: another endpoint's event goes out while the first try is still
/// waiting for its answer.
/// An outcome is recorded only while the claim is still the delivery's:
/// one that arrives after another claim took the delivery over (its lease
/// ran out while the receiver sat on the post) leaves that claim alone.
#[tokio::test]
async fn a_late_answer_does_not_undo_a_newer_claim() {
    let app = app_with_private_webhooks().await;
    let receiver = Receiver::start().await;
    let owner = app.register("Ann", "ann@example.com").await;
    add_endpoint(&owner, &receiver.url("/hooks"), &["invitation.sent"]).await;
    receiver.hold();
    invite(&owner, "a@example.com", &[]).await.assert_redirect_to("/users");
    receiver.wait_arrived(1).await;
    // Another claim, as a server copy would make once the lease ran out.
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();
    receiver.release();
    let untouched = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempts = 0
                     AND next_attempt_at > now() + interval '59 minutes'";
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(app.count(untouched).await, 1, "the late answer was recorded over the newer claim");
    }
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_other_endpoints() {
    let app = app_with_private_webhooks().await;
    let (slow, fast) = (Receiver::start().await, Receiver::start().await);
    let owner = app.register("Ann", "ann@example.com").await;
    add_endpoint(&owner, &slow.url("/hooks"), &["invitation.sent"]).await;
    add_endpoint(&owner, &fast.url("/hooks"), &["invitation.cancelled"]).await;
    slow.hold();
    invite(&owner, "a@example.com", &[]).await.assert_redirect_to("/users");
    slow.wait_arrived(1).await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM invitations").fetch_one(&app.db).await.unwrap();
    owner.post_form(&format!("/users/invitations/{id}/cancel"), &[]).await.assert_redirect_to("/users");
    fast.wait_accepted(1).await;
    let untried = "SELECT count(*) FROM webhook_deliveries WHERE event_type = 'invitation.sent' AND attempts = 0";
    assert_eq!(app.count(untried).await, 1, "the other endpoint's event waited for the slow receiver's answer");
    slow.release();
    slow.wait_accepted(1).await;
}

#[tokio::test]
async fn a_receiver_that_never_recovers_is_given_up_and_the_next_event_goes_on() {
    let app =
        spawn_app_with(Options { settings: vec![("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "true")], ..Options::default() })
            .await;
    let receiver = Receiver::start().await;
    let owner = app.register("Ann", "ann@example.com").await;
    add_endpoint(&owner, &receiver.url("/hooks"), &["invitation.sent"]).await;
    // A redirect is a failure, never followed.
    receiver.answer_with(&[302; 8]);
    invite(&owner, "a@example.com", &[]).await.assert_redirect_to("/users");
    invite(&owner, "b@example.com", &[]).await.assert_redirect_to("/users");
    // The backoff doubles to minutes; bring each retry forward instead of waiting.
    for _ in 0..200 {
        if app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'").await == 1 {
            break;
        }
        // Not the one a lane holds: its lease, two minutes, is its own.
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = now()
             WHERE status = 'pending' AND next_attempt_at < now() + interval '1 minute'",
        )
        .execute(&app.db)
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = receiver.wait_accepted(1).await;
    assert_eq!(got[0].json()["data"]["email"], json!("b@example.com"));
    assert!(receiver.all().iter().all(|d| d.path == "/hooks"), "the redirect's target was never asked");
    let failed: (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM webhook_deliveries ORDER BY id LIMIT 1")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((failed.0.as_str(), failed.1), ("failed", 8));
    assert!(failed.2.unwrap().contains("redirect"), "the log says why");
}

#[tokio::test]
async fn send_test_event_and_an_expired_invitation_reach_the_endpoint() {
    let app = app_with_private_webhooks().await;
    let receiver = Receiver::start().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let (path, secret) = add_endpoint(&owner, &receiver.url("/hooks"), &["invitation.expired"]).await;
    owner.post_form(&format!("{path}/test"), &[]).await.assert_redirect_to(&path);
    let ping = receiver.wait_accepted(1).await.remove(0);
    assert_eq!(ping.json()["type"], json!("ping"));
    assert!(ping.signed_with(&secret));

    invite(&owner, "late@example.com", &[]).await.assert_redirect_to("/users");
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 minute'").execute(&app.db).await.unwrap();
    // What the janitor runs: each expiry is recorded and announced once.
    assert_eq!(panel::invitations::expiry::note_expired(&app.db).await.unwrap(), 1);
    assert_eq!(panel::invitations::expiry::note_expired(&app.db).await.unwrap(), 0);
    let expired = receiver.wait_accepted(2).await.remove(1);
    assert_eq!(expired.json()["type"], json!("invitation.expired"));
    assert_eq!(expired.json()["data"]["email"], json!("late@example.com"));
    assert!(owner.get("/users/audit").await.text().contains("Invitation expired"));
    // The invitation.sent event was not subscribed: it never came.
    assert_eq!(receiver.all().len(), 2);

    // Test events are limited per endpoint: the eleventh in an hour is refused.
    for _ in 1..panel::webhooks::store::TESTS_PER_HOUR {
        owner.post_form(&format!("{path}/test"), &[]).await.assert_redirect_to(&path);
    }
    let refused = owner.post_form(&format!("{path}/test"), &[]).await;
    assert_eq!(refused.status, 429);
    assert!(refused.text().contains("test events in the last hour"), "{}", refused.text());
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries WHERE event_type = 'ping'").await, 10);
}

#[tokio::test]
async fn endpoints_on_private_addresses_or_without_https_are_refused() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    for (url, words) in [
        ("http://example.com/hook", "must use https"),
        ("https://127.0.0.1/hook", "private, loopback or link-local"),
        ("https://localhost:8443/hook", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://10.0.0.8/hook", "private, loopback or link-local"),
        ("https://[::1]/hook", "private, loopback or link-local"),
        ("https://[::ffff:0:7f00:1]/hook", "private, loopback or link-local"),
        ("https://93.184.216.34:22/hook", "port 443 only"),
        ("https://user:pass@example.com/hook", "user name and password"),
        ("hooks please", "not a web address"),
    ] {
        let res = owner.post_form("/users/webhooks", &[("url", url), ("events", "invitation.sent")]).await;
        assert_eq!(res.status, 422, "{url}");
        assert!(res.texts("p.error").join(" ").contains(words), "{url}: {}", res.texts("p.error").join(" "));
        assert_eq!(res.attr("#url", "value").as_deref(), Some(url), "the form keeps what was typed");
    }
    let none = owner.post_form("/users/webhooks", &[("url", "https://93.184.216.34/hook")]).await;
    assert!(none.texts("p.error").join(" ").contains("Tick at least one event"));
    let odd =
        owner.post_form("/users/webhooks", &[("url", "https://93.184.216.34/hook"), ("events", "user.deleted")]).await;
    assert!(odd.texts("p.error").join(" ").contains("is not a webhook event"));
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 0);
}

#[tokio::test]
async fn only_the_owner_reaches_webhooks_and_only_their_own_accounts() {
    let app = app_with_private_webhooks().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let (path, secret) = add_endpoint(&ann, "http://127.0.0.1:9/hooks", &["invitation.sent"]).await;
    let bob = app.member_of(&ann, "Ann's account", "Bob", "bob@example.com", &[]).await;
    assert_eq!(bob.get("/users/webhooks").await.status, 403, "a member with All Permissions");
    assert_eq!(bob.get(&path).await.status, 403);
    let zed = app.register("Zed", "zed@example.com").await;
    let seen = zed.get(&path).await;
    assert_eq!(seen.status, 404, "another account's endpoint is not there");
    assert!(!seen.body.contains(&secret));
    for action in ["test", "enable", "remove"] {
        assert_eq!(zed.post_form(&format!("{path}/{action}"), &[]).await.status, 404, "{action}");
    }
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 1);
    ann.post_form(&format!("{path}/remove"), &[]).await.assert_redirect_to("/users/webhooks");
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 0);
    assert!(ann.get("/users/audit").await.text().contains("Webhook endpoint removed"));
}

#[tokio::test]
async fn a_change_of_owner_is_announced_and_then_pauses_the_previous_owners_endpoints() {
    let app = app_with_private_webhooks().await;
    let receiver = Receiver::start().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let (path, ann_secret) = add_endpoint(&ann, &receiver.url("/hooks"), &ALL_EVENTS).await;
    let bob = app.register("Bob", "bob@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let ann_id = app.user_id("ann@example.com").await.to_string();
    let staff = app.staff("help@panel.example").await;
    let fields = [
        ("expected_owner", ann_id.as_str()),
        ("new_owner_email", "bob@example.com"),
        ("reason", "Ann sold the business to Bob"),
        ("password", STAFF_PASSWORD),
    ];
    let moved = staff.post_form(&format!("/admin/accounts/{account}/transfer"), &fields).await;
    assert_eq!(moved.status, 303, "{}", moved.text());
    let got = receiver.wait_accepted(1).await;
    assert_eq!(got[0].json()["type"], json!("ownership.transferred"));
    // Bob, the new owner, invites someone: Ann's endpoint does not hear of it.
    bob.post_form("/accounts/switch", &[("account_id", &account.to_string())]).await;
    invite(&bob, "carol@example.com", &[]).await.assert_redirect_to("/users");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.all().len(), 1, "paused after the transfer");
    let page = bob.get(&path).await;
    assert!(page.text().contains("Paused since"), "the new owner sees why");
    assert!(!page.text().contains(&ann_secret), "Ann's secret is hers");
    // Nor can Bob post to Ann's address while it is paused.
    assert_eq!(bob.post_form(&format!("{path}/test"), &[]).await.status, 409);
    bob.post_form(&format!("{path}/enable"), &[]).await.assert_redirect_to(&path);
    let bob_secret = bob.get(&path).await.texts("#endpoint-secret").remove(0);
    assert_ne!(bob_secret, ann_secret, "turned on again with a new secret");
    invite(&bob, "dan@example.com", &[]).await.assert_redirect_to("/users");
    let dan = receiver.wait_accepted(2).await.remove(1);
    assert_eq!(dan.json()["data"]["email"], json!("dan@example.com"));
    assert!(dan.signed_with(&bob_secret) && !dan.signed_with(&ann_secret));
}

#[tokio::test]
async fn the_delivery_log_says_only_what_kind_of_failure_happened() {
    let app = app_with_private_webhooks().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let owner = app.register("Ann", "ann@example.com").await;
    add_endpoint(&owner, &format!("http://127.0.0.1:{port}/hook"), &["invitation.sent"]).await;
    invite(&owner, "a@example.com", &[]).await.assert_redirect_to("/users");
    let mut error = None;
    for _ in 0..100 {
        error = sqlx::query_scalar("SELECT last_error FROM webhook_deliveries WHERE last_error IS NOT NULL")
            .fetch_optional(&app.db)
            .await
            .unwrap();
        if error.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let error: String = error.expect("the failed try is logged");
    assert_eq!(error, "could not connect to the endpoint", "no raw connection error for the account to read");
}

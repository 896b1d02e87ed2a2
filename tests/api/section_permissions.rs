//! The permission matrix over every section route (walked from
//! `sections::route_table()`), the navigation each permission shows, and
//! that a member with a permission can use its actions.

use crate::{
    helpers::{spawn_app, TestApp},
    sections::unpaid_invoice,
};

const KEYS: [&str; 13] = [
    "profile",
    "contacts",
    "products",
    "manageproducts",
    "productsso",
    "domains",
    "managedomains",
    "invoices",
    "quotes",
    "tickets",
    "affiliates",
    "emails",
    "orders",
];

/// The route with every `{kind}` replaced by an id of that kind in `account`.
async fn concrete(app: &TestApp, path: &str, account: uuid::Uuid) -> String {
    let mut out = path.to_string();
    for (param, table) in [
        ("{service}", "services"),
        ("{domain}", "domains"),
        ("{invoice}", "invoices"),
        ("{quote}", "quotes"),
        ("{ticket}", "tickets"),
        ("{contact}", "contacts"),
        ("{email}", "mail_outbox"),
    ] {
        if out.contains(param) {
            out = out.replace(param, &app.first_id(table, account).await);
        }
    }
    assert!(!out.contains('{'), "the matrix test does not know the id in {path}");
    out
}

async fn set_grant(app: &TestApp, member: &str, account: uuid::Uuid, keys: &[&str]) {
    sqlx::query("UPDATE memberships SET all_permissions = false, permissions = $3 WHERE account_id = $1 AND user_id = (SELECT id FROM users WHERE email = $2)")
        .bind(account)
        .bind(member)
        .bind(keys.iter().map(ToString::to_string).collect::<Vec<_>>())
        .execute(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_section_route_needs_its_permission_and_ids_stay_inside_the_account() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let member = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    // A stranger: owner of another account with all its sections.
    let zed = app.register("Zed", "zed@example.com").await;
    app.seed_sections("zed@example.com").await;
    let routes = panel::sections::route_table();
    assert!(routes.len() >= 25, "every section is listed: {}", routes.len());
    for key in KEYS {
        assert!(routes.iter().any(|r| r.permission.key() == key), "{key} opens at least one route");
    }

    for r in &routes {
        let path = concrete(&app, r.path, account).await;
        let others: Vec<&str> = KEYS.iter().copied().filter(|k| *k != r.permission.key()).collect();
        if r.methods.contains(&"GET") {
            assert_eq!(owner.get(&path).await.status, 200, "owner GET {path}");
            set_grant(&app, "bob@example.com", account, &[r.permission.key()]).await;
            assert_eq!(member.get(&path).await.status, 200, "member with {} GET {path}", r.permission);
            set_grant(&app, "bob@example.com", account, &others).await;
            let denied = member.get(&path).await;
            assert_eq!(denied.status, 403, "member with the other twelve GET {path}");
            assert!(denied.text().contains("does not include"), "a plain explanation: {}", denied.text());
            if r.path.contains('{') {
                assert_eq!(zed.get(&path).await.status, 404, "another account's owner GET {path}");
            }
        }
        if r.methods.contains(&"POST") {
            set_grant(&app, "bob@example.com", account, &others).await;
            assert_eq!(member.post_form(&path, &[]).await.status, 403, "member with the other twelve POST {path}");
            // With the permission, an empty form gets past the guard to the
            // form's own checks (which may refuse it, but not as forbidden).
            set_grant(&app, "bob@example.com", account, &[r.permission.key()]).await;
            assert_ne!(member.post_form(&path, &[]).await.status, 403, "member with {} POST {path}", r.permission);
            if r.path.contains('{') {
                assert_eq!(zed.post_form(&path, &[]).await.status, 404, "another account's owner POST {path}");
            }
        }
    }
    // The navigation shows exactly what the member may open.
    for (key, _label, href) in panel::layout::NAV {
        set_grant(&app, "bob@example.com", account, &[key.key()]).await;
        let links: Vec<String> = member
            .get("/")
            .await
            .html()
            .select(&scraper::Selector::parse("nav.sections a").unwrap())
            .map(|a| a.value().attr("href").unwrap().to_string())
            .collect();
        assert_eq!(links, vec![href.to_string()], "{key}");
    }
    // And with every permission but one, that section's link is absent.
    for (key, _label, href) in panel::layout::NAV {
        let others: Vec<&str> = KEYS.iter().copied().filter(|k| *k != key.key()).collect();
        set_grant(&app, "bob@example.com", account, &others).await;
        let links: Vec<String> = member
            .get("/")
            .await
            .html()
            .select(&scraper::Selector::parse("nav.sections a").unwrap())
            .map(|a| a.value().attr("href").unwrap().to_string())
            .collect();
        assert!(!links.contains(&href.to_string()) && links.len() == panel::layout::NAV.len() - 1, "{key}: {links:?}");
    }
    let owner_links = owner.get("/").await.texts("nav.sections a");
    assert_eq!(owner_links.len(), panel::layout::NAV.len(), "the owner sees every section");
}

#[tokio::test]
async fn a_member_with_a_permission_can_use_its_actions() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let member = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["invoices"]).await;
    let invoice = unpaid_invoice(&app, account).await;
    member
        .post_form(&format!("/invoices/{invoice}/pay"), &[("method", "gateway")])
        .await
        .assert_redirect_to(&format!("/invoices/{invoice}"));
    assert_eq!(
        app.count("SELECT count(*) FROM transactions WHERE reference LIKE 'TEST-%' AND reference <> 'TEST-SEED'").await,
        1
    );
}

//! Grants mean exactly what the owner ticked, and every permission, held
//! alone, leads to what it names and ends on a page the member may see.

use crate::helpers::{spawn_app, Browser, TestApp};

/// What a grant form may send: the mode and the ticked boxes.
const MODES: [&str; 4] = ["all", "choose", "", "everything"];
const TICKS: [&[&str]; 4] = [&[], &["invoices"], &["invoices", "quotes"], &["invoices", "root"]];

/// The grant a combination may store: None when it must be refused.
fn expected(mode: &str, ticks: &[&str]) -> Option<(bool, Vec<String>)> {
    match (mode, ticks) {
        ("all", []) => Some((true, Vec::new())),
        ("choose", t) if !t.is_empty() && !t.contains(&"root") => {
            Some((false, t.iter().map(ToString::to_string).collect()))
        }
        _ => None,
    }
}

fn form<'a>(mode: &'a str, ticks: &[&'a str], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = extra.to_vec();
    fields.push(("mode", mode));
    fields.extend(ticks.iter().map(|t| ("permissions", *t)));
    fields
}

async fn grant_of(app: &TestApp, sql: &str) -> (bool, Vec<String>) {
    sqlx::query_as(sql).fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn no_grant_form_stores_more_than_was_ticked_whatever_the_browser_sends() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let staff = app.staff("help@example.com").await;
    let account = app.own_account_id("ann@example.com").await;
    let bob = app.user_id("bob@example.com").await;
    let bob_grant = format!(
        "SELECT all_permissions, permissions FROM memberships WHERE user_id = '{bob}' AND account_id = '{account}'"
    );
    for (i, mode) in MODES.iter().enumerate() {
        for (j, ticks) in TICKS.iter().enumerate() {
            let what = format!("mode {mode:?} with {ticks:?}");
            // Invite New User.
            let email = format!("p{i}{j}@example.com");
            let res = owner.post_form("/users/invite", &form(mode, ticks, &[("email", &email)])).await;
            let stored: Option<(bool, Vec<String>)> =
                sqlx::query_as("SELECT all_permissions, permissions FROM invitations WHERE email = $1")
                    .bind(&email)
                    .fetch_optional(&app.db)
                    .await
                    .unwrap();
            match expected(mode, ticks) {
                Some(grant) => {
                    res.assert_redirect_to("/users");
                    assert_eq!(stored, Some(grant), "invite: {what}");
                }
                None => {
                    assert_eq!(res.status, 422, "invite: {what}");
                    assert_eq!(stored, None, "invite stored nothing: {what}");
                    assert_eq!(res.attr("input[name=email]", "value").as_deref(), Some(email.as_str()), "form kept");
                    let kept: Vec<String> = res.texts("input[name=permissions][checked] + span");
                    assert_eq!(kept.len(), ticks.iter().filter(|t| **t != "root").count(), "ticks kept: {what}");
                }
            }
            // Manage Permissions (owner) and the staff form: refused ones change nothing.
            let before = grant_of(&app, &bob_grant).await;
            let res = owner.post_form(&format!("/users/{bob}/permissions"), &form(mode, ticks, &[])).await;
            let after = grant_of(&app, &bob_grant).await;
            match expected(mode, ticks) {
                Some(grant) => assert_eq!((res.status, after), (303, grant), "manage: {what}"),
                None => assert_eq!((res.status, after), (422, before), "manage: {what}"),
            }
            let before = grant_of(&app, &bob_grant).await;
            let path = format!("/admin/accounts/{account}/members/{bob}/permissions");
            let res = staff.post_form(&path, &form(mode, ticks, &[("reason", "Asked by the owner")])).await;
            let after = grant_of(&app, &bob_grant).await;
            match expected(mode, ticks) {
                Some(grant) => assert_eq!((res.status, after), (303, grant), "staff: {what}"),
                None => assert_eq!((res.status, after), (422, before), "staff: {what}"),
            }
        }
    }
    // The message says what to do.
    let res = owner.post_form("/users/invite", &form("all", &["invoices"], &[("email", "x@example.com")])).await;
    assert!(res.text().contains("Select \"Choose Permissions\" to grant only the ticked ones"), "{}", res.text());
}

#[tokio::test]
async fn a_preset_ticks_its_boxes_and_keeps_the_typed_address_without_sending() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let res = owner
        .post_form(
            "/users/invite",
            &[("email", "acc@example.com"), ("mode", "all"), ("permissions", "orders"), ("preset", "Accountant")],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.attr("input[name=email]", "value").as_deref(), Some("acc@example.com"));
    let ticked: Vec<String> = res
        .html()
        .select(&scraper::Selector::parse("input[name=permissions][checked]").unwrap())
        .map(|e| e.value().attr("value").unwrap().to_string())
        .collect();
    assert_eq!(ticked, ["invoices", "quotes", "emails"]);
    assert_eq!(res.attr("input[name=mode][checked]", "value").as_deref(), Some("choose"));
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0, "nothing sent");
    assert_eq!(owner.post_form("/users/invite", &[("email", "a@example.com"), ("preset", "Boss")]).await.status, 400);
    // The form names "Choose Permissions" once, and warns about the profile.
    let form = owner.get("/users/invite").await;
    assert_eq!(form.text().matches("Choose Permissions").count(), 1);
    assert!(form.text().contains("Modify Master Account Profile"));
    assert!(form.text().contains("[Please consider carefully before granting this permission]"));
}

/// What one permission alone lets a member do: the pages to open, and an
/// action (path, form) that must land on a page the member may see.
struct Case {
    key: &'static str,
    opens: Vec<String>,
    action: Option<(String, Vec<(&'static str, &'static str)>)>,
}

async fn cases(app: &TestApp, account: uuid::Uuid) -> Vec<Case> {
    let id = |table: &'static str| app.first_id(table, account);
    let service = id("services").await;
    let domain = id("domains").await;
    let email = id("mail_outbox").await;
    let invoice: String =
        sqlx::query_scalar("SELECT id::text FROM invoices WHERE account_id = $1 AND status = 'Unpaid' LIMIT 1")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let quote: String =
        sqlx::query_scalar("SELECT id::text FROM quotes WHERE account_id = $1 AND valid_until >= current_date LIMIT 1")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let profile =
        vec![("address", "1 Main St"), ("city", "Springfield"), ("region", ""), ("postcode", "1234"), ("phone", "")];
    vec![
        Case {
            key: "profile",
            opens: vec!["/account/profile".into()],
            action: Some(("/account/profile".into(), profile)),
        },
        Case {
            key: "contacts",
            opens: vec!["/contacts".into(), "/contacts/new".into()],
            action: Some(("/contacts/new".into(), vec![("name", "Pat"), ("email", "pat@example.com")])),
        },
        Case { key: "products", opens: vec!["/services".into(), format!("/services/{service}")], action: None },
        Case {
            key: "manageproducts",
            opens: vec!["/services/passwords".into(), format!("/services/{service}/password")],
            action: Some((
                format!("/services/{service}/password"),
                vec![("password", "new panel pass 1"), ("confirm", "new panel pass 1")],
            )),
        },
        Case {
            key: "productsso",
            opens: vec!["/services/sign-on".into()],
            action: Some((format!("/services/{service}/sso"), vec![])),
        },
        Case { key: "domains", opens: vec!["/domains".into(), format!("/domains/{domain}")], action: None },
        Case {
            key: "managedomains",
            opens: vec!["/domains/settings".into(), format!("/domains/{domain}/manage")],
            action: Some((format!("/domains/{domain}/lock"), vec![("locked", "false")])),
        },
        Case {
            key: "invoices",
            opens: vec!["/invoices".into(), format!("/invoices/{invoice}")],
            action: Some((format!("/invoices/{invoice}/pay"), vec![("method", "gateway")])),
        },
        Case {
            key: "quotes",
            opens: vec!["/quotes".into(), format!("/quotes/{quote}")],
            action: Some((format!("/quotes/{quote}/accept"), vec![])),
        },
        Case {
            key: "tickets",
            opens: vec!["/tickets".into(), "/tickets/new".into()],
            action: Some((
                "/tickets/new".into(),
                vec![("department", "Support"), ("subject", "Help"), ("message", "Please help")],
            )),
        },
        Case {
            key: "affiliates",
            opens: vec!["/affiliates".into()],
            action: Some(("/affiliates/withdraw".into(), vec![("amount", "25")])),
        },
        Case { key: "emails", opens: vec!["/emails".into(), format!("/emails/{email}")], action: None },
        Case {
            key: "orders",
            opens: vec!["/orders".into()],
            action: Some((
                "/orders".into(),
                vec![
                    ("product_id", "00000000-0000-4000-8000-000000000001"),
                    ("domain", "alone.example.com"),
                    ("billing_cycle", "Monthly"),
                ],
            )),
        },
    ]
}

#[tokio::test]
async fn each_permission_alone_shows_a_way_to_use_it_and_its_action_ends_on_a_page_the_member_may_see() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    // One invitation first, so the account has a mail for View Emails.
    crate::helpers::invite(&owner, "first@example.com", &[]).await.assert_redirect_to("/users");
    let all_cases = cases(&app, account).await;
    assert_eq!(all_cases.len(), 13, "one case per permission");
    for (i, case) in all_cases.iter().enumerate() {
        let member = app.member_of(&owner, "Ann's account", "M", &format!("m{i}@example.com"), &[case.key]).await;
        let home = member.get("/").await;
        let nav = home.texts("nav.sections a");
        assert_eq!(nav.len(), 1, "{}: exactly one section: {nav:?}", case.key);
        let links: Vec<String> = home
            .html()
            .select(&scraper::Selector::parse("ul.home-sections a").unwrap())
            .map(|a| a.value().attr("href").unwrap().to_string())
            .collect();
        assert_eq!(links, [case.opens[0].clone()], "{}: the home page leads to it", case.key);
        for path in &case.opens {
            assert_eq!(member.get(path).await.status, 200, "{} opens {path}", case.key);
        }
        if let Some((path, fields)) = &case.action {
            let res = member.post_form(path, fields).await;
            assert_eq!(res.status, 303, "{} POST {path}: {}", case.key, res.text());
            let landing = res.location().unwrap().trim_start_matches(&app.address).to_string();
            let page = member.get(&landing).await;
            assert_eq!(
                page.status, 200,
                "{}: after {path} the member lands on {landing}, which they may see",
                case.key
            );
        }
    }
}

#[tokio::test]
async fn an_order_placed_without_the_invoice_permission_names_the_invoice_without_a_pay_link() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let orders_only = app.member_of(&owner, "Ann's account", "O", "o@example.com", &["orders"]).await;
    let both = app.member_of(&owner, "Ann's account", "P", "p@example.com", &["orders", "invoices"]).await;
    let order = [
        ("product_id", "00000000-0000-4000-8000-000000000001"),
        ("domain", "ordered.example.com"),
        ("billing_cycle", "Monthly"),
    ];
    orders_only.post_form("/orders", &order).await.assert_redirect_to("/orders");
    let number: i64 = sqlx::query_scalar(
        "SELECT i.number FROM invoices i JOIN order_invoices o ON o.invoice_id = i.id JOIN services s ON s.id = o.service_id
         WHERE s.domain = 'ordered.example.com' AND i.account_id = $1",
    )
    .bind(account)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let page = orders_only.get("/orders").await;
    assert!(page.text().contains(&format!("Invoice #{number} starts the service once it is paid")), "flash");
    assert!(page.texts("#awaiting li").iter().any(|t| t.starts_with(&format!("Invoice #{number}"))));
    assert!(page.texts("#awaiting a").is_empty(), "no pay link without View & Pay Invoices");
    let page = both.get("/orders").await;
    assert!(page.texts("#awaiting a").contains(&format!("pay invoice #{number}")));
}

#[tokio::test]
async fn error_pages_keep_the_signed_in_frame_and_lead_back() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.seed_sections("ann@example.com").await;
    let member = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    assert_eq!(member.get("/tickets").await.status, 200);
    for (path, status) in [("/invoices", 403), ("/no-such-page", 404), ("/invitations/AAAA", 404)] {
        let page = member.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert_eq!(page.texts(".menu summary"), ["Hello, Bob"], "{path}: the menu");
        assert_eq!(page.texts(".active-account"), ["Ann's account"], "{path}: the account");
        assert_eq!(page.texts("nav.sections a"), ["Support Tickets"], "{path}: the sections");
        assert!(page.texts("button").contains(&"Sign out".to_string()), "{path}: Sign out");
        assert_eq!(page.attr("#back", "href").as_deref(), Some("/tickets"), "{path}: back to the last page");
    }
    // A form refused on a POST keeps the frame too.
    let z = uuid::Uuid::nil();
    let res = member.post_form(&format!("/tickets/{z}/reply"), &[("message", "hi")]).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.texts(".menu summary"), ["Hello, Bob"]);
    // Signed out: no menu, no back link.
    let stranger = Browser::new(&app.address);
    let page = stranger.get("/no-such-page").await;
    assert_eq!(page.status, 404);
    assert!(page.texts(".menu summary").is_empty() && page.attr("#back", "href").is_none());
}

//! Access limited to chosen services and domains: every section route with
//! an object answers 404 for what is outside the scope, exactly as for
//! another account's object; the forms, invitations and the API set it.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{api::Api, spawn_app, TestApp};

/// The account's services, domains and tickets, in id order.
async fn ids(app: &TestApp, table: &str, account: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE account_id = $1 ORDER BY id"))
        .bind(account)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

async fn set_scope(app: &TestApp, email: &str, account: Uuid, scope: Option<Vec<Uuid>>) {
    sqlx::query(
        "UPDATE memberships SET scope = $3 WHERE account_id = $1 AND user_id = (SELECT id FROM users WHERE email = $2)",
    )
    .bind(account)
    .bind(email)
    .bind(scope)
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_scoped_member_reaches_the_objects_in_scope_and_gets_404_for_every_other() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &[]).await;
    let services = ids(&app, "services", account).await;
    let domains = ids(&app, "domains", account).await;
    let (service_in, service_out) = (services[0], services[1]);
    let (domain_in, domain_out) = (domains[0], domains[1]);
    // One ticket about the service in scope, one about the other.
    let ticket_in = ids(&app, "tickets", account).await[0];
    sqlx::query("UPDATE tickets SET service_id = $1 WHERE id = $2")
        .bind(service_in)
        .bind(ticket_in)
        .execute(&app.db)
        .await
        .unwrap();
    let ticket_out = Uuid::new_v4();
    sqlx::query("INSERT INTO tickets (id, account_id, department, subject, status, service_id) VALUES ($1, $2, 'Support', 'Other site', 'Open', $3)")
        .bind(ticket_out).bind(account).bind(service_out).execute(&app.db).await.unwrap();
    set_scope(&app, "bob@example.com", account, Some(vec![service_in, domain_in])).await;

    let mut checked = 0;
    for r in panel::sections::route_table() {
        let objects = [
            ("{service}", service_in, service_out),
            ("{domain}", domain_in, domain_out),
            ("{ticket}", ticket_in, ticket_out),
        ];
        let Some((param, inside, outside)) = objects.iter().find(|(p, ..)| r.path.contains(p)) else { continue };
        let path_in = r.path.replace(param, &inside.to_string());
        let path_out = r.path.replace(param, &outside.to_string());
        if r.methods.contains(&"GET") {
            assert_eq!(bob.get(&path_in).await.status, 200, "in scope: GET {path_in}");
            assert_eq!(owner.get(&path_out).await.status, 200, "the owner reaches GET {path_out}");
            let refused = bob.get(&path_out).await;
            assert_eq!(refused.status, 404, "outside the scope: GET {path_out}");
            assert!(refused.text().contains("There is no such"), "the same words as another account's object");
        }
        if r.methods.contains(&"POST") {
            let before = app.count("SELECT count(*) FROM audit_events").await;
            assert_eq!(bob.post_form(&path_out, &[]).await.status, 404, "outside the scope: POST {path_out}");
            assert_eq!(app.count("SELECT count(*) FROM audit_events").await, before, "nothing changed: {path_out}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "every object route is walked: {checked}");

    // Lists show only what is in scope; account-wide sections stay whole.
    let listed = bob.get("/services").await.body;
    assert!(listed.contains(&service_in.to_string()) && !listed.contains(&service_out.to_string()));
    let listed = bob.get("/domains").await.body;
    assert!(listed.contains(&domain_in.to_string()) && !listed.contains(&domain_out.to_string()));
    let listed = bob.get("/tickets").await.body;
    assert!(listed.contains(&ticket_in.to_string()) && !listed.contains(&ticket_out.to_string()));
    assert_eq!(bob.get("/invoices").await.status, 200);
    // Unscoped, the same member reaches everything again.
    set_scope(&app, "bob@example.com", account, None).await;
    assert_eq!(bob.get(&format!("/services/{service_out}")).await.status, 200);
}

#[tokio::test]
async fn the_owner_limits_a_member_to_one_service_on_manage_permissions() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let zed_account = {
        app.register("Zed", "zed@example.com").await;
        app.seed_sections("zed@example.com").await
    };
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["products"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let service = ids(&app, "services", account).await[0].to_string();
    let path = format!("/users/{bob_id}/permissions");
    let form = owner.get(&path).await;
    assert_eq!(form.attr("input[name=scope][checked]", "value").as_deref(), Some("all"));
    assert_eq!(form.texts("#scope label.choice").len(), 2 + 5, "both choices, three services and two domains");
    // Find narrows the list and keeps what was ticked.
    let found = owner
        .post_form(
            &path,
            &[
                ("mode", "choose"),
                ("permissions", "products"),
                ("scope", "only"),
                ("scope_ids", &service),
                ("scope_search", "brand-"),
                ("find", "yes"),
            ],
        )
        .await;
    assert_eq!(found.status, 200);
    let shown = found.texts("#scope label.choice").join(" | ");
    assert!(shown.contains("brand-"), "{shown}");
    assert_eq!(found.texts("#scope label.choice").len(), 2 + 2, "what matches, and what is ticked: {shown}");
    assert_eq!(found.attr("input[name=scope_ids][checked]", "value"), Some(service.clone()), "the ticked one stays");

    // Bad choices: a clear message, nothing changed.
    let zed_service = ids(&app, "services", zed_account).await[0].to_string();
    for (fields, words) in [
        (vec![("scope", "only")], "tick at least one service or domain"),
        (vec![("scope", "only"), ("scope_ids", zed_service.as_str())], "Only services and domains of this account"),
        (vec![("scope", "only"), ("scope_ids", "nonsense")], "Only services and domains of this account"),
    ] {
        let mut all = vec![("mode", "choose"), ("permissions", "products")];
        all.extend(fields);
        let res = owner.post_form(&path, &all).await;
        assert_eq!(res.status, 422);
        assert!(res.texts("p.error").join(" ").contains(words), "{}", res.texts("p.error").join(" "));
    }
    assert_eq!(app.count("SELECT count(*) FROM memberships WHERE scope IS NOT NULL").await, 0);

    owner
        .post_form(
            &path,
            &[("mode", "choose"), ("permissions", "products"), ("scope", "only"), ("scope_ids", &service)],
        )
        .await
        .assert_redirect_to("/users");
    let listed = owner.get("/users").await.texts("#members tbody tr").join(" ");
    assert!(listed.contains("Only 1 chosen service and domain"), "{listed}");
    let log = owner.get("/users/audit").await.texts("table tbody tr");
    let change = log.iter().find(|r| r.contains("scope before")).expect("the scope change is audited");
    assert!(change.contains("All services and domains") && change.contains("scope after: Only "), "{change}");
}

#[tokio::test]
async fn an_invitation_and_the_api_carry_the_scope() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let domain = ids(&app, "domains", account).await[1];
    let res = owner
        .post_form(
            "/users/invite",
            &[
                ("email", "dev@example.com"),
                ("mode", "choose"),
                ("permissions", "domains"),
                ("scope", "only"),
                ("scope_ids", &domain.to_string()),
            ],
        )
        .await;
    res.assert_redirect_to("/users");
    let mail = app.mail.wait_for("dev@example.com", "Ann's account has invited you").await;
    let link = crate::helpers::link_in(&mail, &app, "/invitations/");
    let dev = app.browser();
    dev.post_form(&format!("{link}/register"), &[("name", "Dev"), ("password", crate::helpers::PASSWORD)])
        .await
        .assert_redirect_to("/");
    let listed = dev.get("/domains").await.body;
    let domains = ids(&app, "domains", account).await;
    assert!(listed.contains(&domain.to_string()) && !listed.contains(&domains[0].to_string()));

    let api = Api::new(&app, Some(&app.make_token(&owner, "script", &[], true).await));
    let dev_id = app.user_id("dev@example.com").await;
    let members = api.get(&format!("/api/v1/members/{dev_id}")).await;
    assert_eq!(members.json["scope"], json!([domain.to_string()]));
    let service = ids(&app, "services", account).await[2];
    let path = format!("/api/v1/members/{dev_id}/permissions");
    let set = api.put(&path, json!({ "permissions": { "all": true }, "scope": [service] })).await;
    assert_eq!(set.status, 200, "{}", set.json);
    assert_eq!(dev.get(&format!("/services/{service}")).await.status, 200);
    assert_eq!(dev.get(&format!("/domains/{domain}")).await.status, 404, "the new scope replaces the old");
    let foreign = api.put(&path, json!({ "permissions": { "all": true }, "scope": [Uuid::new_v4()] })).await;
    assert_eq!(foreign.status, 422);
    let empty = api.put(&path, json!({ "permissions": { "all": true }, "scope": [] })).await;
    assert_eq!(empty.status, 422);
    let whole = api.put(&path, json!({ "permissions": { "all": true }, "scope": null })).await;
    assert_eq!(whole.json["scope"], json!(null));
    assert_eq!(dev.get(&format!("/domains/{domain}")).await.status, 200);
}

#[tokio::test]
async fn a_scoped_member_opens_tickets_only_about_what_they_reach() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let services = ids(&app, "services", account).await;
    set_scope(&app, "bob@example.com", account, Some(vec![services[0]])).await;
    let form = bob.get("/tickets/new").await;
    let offered: Vec<String> = form
        .html()
        .select(&scraper::Selector::parse("#about option").unwrap())
        .map(|o| o.value().attr("value").unwrap().to_string())
        .collect();
    assert_eq!(
        offered,
        vec![format!("service:{}", services[0])],
        "only what is in scope, and no 'nothing in particular'"
    );
    let base = [("department", "Support"), ("subject", "Slow site"), ("message", "It is slow.")];
    for about in ["", &format!("service:{}", services[1])] {
        let mut fields = base.to_vec();
        fields.push(("about", about));
        let res = bob.post_form("/tickets/new", &fields).await;
        assert_eq!(res.status, 422, "{about}");
        assert!(res.texts("p.error").join(" ").contains("Choose the service or domain"), "{about}");
    }
    let about = format!("service:{}", services[0]);
    let mut fields = base.to_vec();
    fields.push(("about", &about));
    let opened = bob.post_form("/tickets/new", &fields).await;
    assert_eq!(opened.status, 303);
    assert_eq!(app.count(&format!("SELECT count(*) FROM tickets WHERE service_id = '{}'", services[0])).await, 1);
}

#[tokio::test]
async fn support_sets_a_members_scope_and_end_date_with_a_reason() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["domains"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let domains = ids(&app, "domains", account).await;
    let staff = app.staff("help@panel.example").await;
    let path = format!("/admin/accounts/{account}/members/{bob_id}/permissions");
    let form = staff.get(&path).await;
    assert_eq!(form.status, 200);
    assert_eq!(form.attr("input[name=scope][checked]", "value").as_deref(), Some("all"));
    let until = (app.clock.now().date() + time::Duration::days(10)).to_string();
    let domain = domains[0].to_string();
    let base = [
        ("mode", "choose"),
        ("permissions", "domains"),
        ("scope", "only"),
        ("scope_ids", domain.as_str()),
        ("access_until", until.as_str()),
    ];
    let no_reason = staff.post_form(&path, &base).await;
    assert_eq!(no_reason.status, 422, "a reason is needed");
    let mut fields = base.to_vec();
    fields.push(("reason", "The owner asked by phone to limit Bob to one domain"));
    staff.post_form(&path, &fields).await.assert_redirect_to(&format!("/admin/accounts/{account}"));
    assert_eq!(bob.get(&format!("/domains/{}", domains[1])).await.status, 404);
    assert_eq!(bob.get(&format!("/domains/{}", domains[0])).await.status, 200);
    let log = owner.get("/users/audit").await.texts("table tbody tr").join("\n");
    assert!(
        log.contains("scope after: Only") && log.contains("access until after") && log.contains("by phone"),
        "{log}"
    );
}

#[tokio::test]
async fn a_scoped_member_sees_in_emails_only_the_notices_about_what_they_reach() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let services = ids(&app, "services", account).await;
    for (n, service) in services.iter().take(2).enumerate() {
        let about = format!("service:{service}");
        let subject = format!("Secret project {n}");
        let fields = [("department", "Support"), ("subject", subject.as_str()), ("message", "Hi."), ("about", &about)];
        assert_eq!(owner.post_form("/tickets/new", &fields).await.status, 303);
    }
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["emails"]).await;
    set_scope(&app, "bob@example.com", account, Some(vec![services[0]])).await;
    let listed = bob.get("/emails").await.text();
    assert!(listed.contains("Secret project 0"), "in scope: {listed}");
    assert!(!listed.contains("Secret project 1"), "out of scope: {listed}");
    let hidden: i64 = sqlx::query_scalar("SELECT id FROM mail_outbox WHERE subject LIKE '%Secret project 1%' LIMIT 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(bob.get(&format!("/emails/{hidden}")).await.status, 404, "as for another account's mail");
    set_scope(&app, "bob@example.com", account, None).await;
    assert!(bob.get("/emails").await.text().contains("Secret project 1"), "unscoped: everything");
}

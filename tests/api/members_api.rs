//! The members API: tokens made on the page, every endpoint as a script
//! uses it, every refusal, and the OpenAPI document that describes them.

use serde_json::json;

use crate::helpers::{
    api::{document, schema_errors, template_for, Api},
    spawn_app, spawn_app_with, Options,
};

#[tokio::test]
async fn a_token_is_shown_once_stored_hashed_listed_and_audited() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let secret = app.make_token(&owner, "Onboarding script", &[], true).await;
    assert!(secret.starts_with("pnl_") && secret.len() == 47, "{secret}");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM api_tokens WHERE token_hash = sha256('{secret}'::bytea)")).await,
        1
    );
    let stored_plain = app
        .count(&format!("SELECT count(*) FROM api_tokens WHERE encode(token_hash, 'escape') LIKE '%{}%'", &secret[4..]))
        .await;
    assert_eq!(stored_plain, 0, "only the hash is stored");
    let again = owner.get("/api-tokens").await;
    assert!(!again.body.contains(&secret), "shown once only");
    let row = again.texts("#tokens tbody tr").join(" ");
    assert!(
        row.contains("Onboarding script") && row.contains("All Permissions, Manage Users") && row.contains("Never"),
        "{row}"
    );
    // Used once: the list says when and from where.
    assert_eq!(Api::new(&app, Some(&secret)).get("/api/v1/account").await.status, 200);
    let used = owner.get("/users/tokens").await.texts("#tokens tbody tr").join(" ");
    assert!(used.contains("ann@example.com") && used.contains("from 127.0.0.1"), "{used}");
    let log = owner.get("/users/audit").await.text();
    assert!(log.contains("API token created"), "audited");
}

#[tokio::test]
async fn a_token_cannot_be_given_more_than_its_maker_holds() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets", "invoices"]).await;
    let form = bob.get("/api-tokens").await;
    assert!(form.attr("input[name=manage_users]", "value").is_none(), "a member is not offered Manage Users");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("name", "x"), ("mode", "all")], "cannot have more permissions than you have"),
        (vec![("name", "x"), ("mode", "choose"), ("permissions", "contacts")], "cannot have more permissions"),
        (
            vec![("name", "x"), ("mode", "choose"), ("permissions", "tickets"), ("manage_users", "yes")],
            "Only the owner",
        ),
        (vec![("name", ""), ("mode", "choose"), ("permissions", "tickets")], "Give the token a name"),
        (vec![("name", "x"), ("mode", "choose")], "tick at least one permission"),
        (
            vec![("name", "x"), ("mode", "choose"), ("permissions", "tickets"), ("expires_on", "2001-01-01")],
            "after today",
        ),
        (vec![("name", "x"), ("mode", "choose"), ("permissions", "tickets"), ("expires_on", "soon")], "as a date"),
    ];
    for (fields, message) in cases {
        let page = bob.post_form("/api-tokens", &fields).await;
        assert_eq!(page.status, 422, "{fields:?}");
        assert!(page.texts("p.error").join(" ").contains(message), "{fields:?}: {}", page.texts("p.error").join(" "));
    }
    assert_eq!(app.count("SELECT count(*) FROM api_tokens").await, 0, "nothing was made");
    let secret = app.make_token(&bob, "Billing export", &["invoices"], false).await;
    let me = Api::new(&app, Some(&secret)).get("/api/v1/account").await;
    assert_eq!(me.json["token"]["permissions"], json!({ "all": false, "permissions": ["invoices"] }));
    assert_eq!(me.json["token"]["manage_users"], json!(false));
    assert_eq!(me.json["caller"]["email"], json!("bob@example.com"));
}

#[tokio::test]
async fn a_script_with_a_token_does_what_user_management_does() {
    let app = spawn_app_with(Options { settings: vec![("INVITE_RESEND_MINUTES", "0")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let api = Api::new(&app, Some(&app.make_token(&owner, "script", &[], true).await));

    let permissions = api.get("/api/v1/permissions").await;
    assert_eq!(permissions.status, 200);
    assert_eq!(permissions.json.as_array().unwrap().len(), 13);
    assert_eq!(permissions.json[12]["label"], json!("Place New Orders/Upgrades/Cancellations"));

    let members = api.get("/api/v1/members").await;
    assert_eq!(members.status, 200);
    assert_eq!(members.json["items"][0]["email"], json!("bob@example.com"));
    assert_eq!(members.json["next_cursor"], json!(null));
    let bob = api.get(&format!("/api/v1/members/{bob_id}")).await;
    assert_eq!(bob.json["permissions"], json!({ "all": false, "permissions": ["tickets"] }));

    let changed = api
        .put(
            &format!("/api/v1/members/{bob_id}/permissions"),
            json!({ "permissions": { "all": false, "permissions": ["invoices", "quotes"] } }),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.json);
    assert_eq!(changed.json["permissions"]["permissions"], json!(["invoices", "quotes"]));
    let on_page = owner.get("/users").await.texts("#members tbody tr").join(" ");
    assert!(on_page.contains("View & Pay Invoices, View & Accept Quotes"), "{on_page}");

    let sent =
        api.post("/api/v1/invitations", json!({ "email": "Carol@Example.com", "permissions": { "all": true } })).await;
    assert_eq!(sent.status, 201, "{}", sent.json);
    assert_eq!(sent.json["status"], json!("pending"));
    assert_eq!(sent.json["email"], json!("carol@example.com"));
    app.mail.wait_for("carol@example.com", "Ann's account has invited you to their account").await;
    let id = sent.json["id"].as_str().unwrap().to_string();
    let listed = api.get("/api/v1/invitations").await;
    assert_eq!(listed.json["items"][0]["id"], json!(id));
    assert_eq!(listed.json["items"][0]["permissions"], json!({ "all": true, "permissions": [] }));
    let twice =
        api.post("/api/v1/invitations", json!({ "email": "carol@example.com", "permissions": { "all": true } })).await;
    assert_eq!(twice.status, 409);
    assert!(twice.detail().contains("already pending"), "{}", twice.detail());
    let resent = api.post(&format!("/api/v1/invitations/{id}/resend"), json!({})).await;
    assert_eq!(resent.status, 200, "{}", resent.json);
    let cancelled = api.post(&format!("/api/v1/invitations/{id}/cancel"), json!({})).await;
    assert_eq!(cancelled.json["status"], json!("cancelled"));
    let again = api.post(&format!("/api/v1/invitations/{id}/cancel"), json!({})).await;
    assert_eq!(again.status, 409, "a closed invitation cannot be cancelled again");

    let removed = api.delete(&format!("/api/v1/members/{bob_id}")).await;
    assert_eq!(removed.status, 204);
    assert_eq!(api.get(&format!("/api/v1/members/{bob_id}")).await.status, 404);
    assert_eq!(api.delete(&format!("/api/v1/members/{bob_id}")).await.status, 404);

    // One rule, two doors: the audit log reads as if the owner had used the pages.
    let audit = api.get("/api/v1/audit").await;
    let actions: Vec<&str> =
        audit.json["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        &actions[..5],
        [
            "member.removed",
            "invitation.cancelled",
            "invitation.resent",
            "invitation.sent",
            "member.permissions_changed"
        ]
    );
    let removal = &audit.json["items"][0];
    assert_eq!(removal["actor"], json!("Ann (ann@example.com)"));
    assert_eq!(removal["target_email"], json!("bob@example.com"));
    assert_eq!(removal["ip"], json!("127.0.0.1"));
    let page_log = owner.get("/users/audit").await.text();
    assert!(page_log.contains("Access removed") && page_log.contains("Permissions changed"));
}

#[tokio::test]
async fn lists_are_cursor_paged() {
    let app = spawn_app_with(Options { settings: vec![("INVITATIONS_PER_HOUR", "100")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let api = Api::new(&app, Some(&app.make_token(&owner, "script", &[], true).await));
    for n in 0..51 {
        let sent = api
            .post(
                "/api/v1/invitations",
                json!({ "email": format!("p{n}@example.com"), "permissions": { "all": true } }),
            )
            .await;
        assert_eq!(sent.status, 201);
    }
    let first = api.get("/api/v1/invitations").await;
    assert_eq!(first.json["items"].as_array().unwrap().len(), 50);
    assert_eq!(first.json["items"][0]["email"], json!("p50@example.com"), "newest first");
    let cursor = first.json["next_cursor"].as_str().expect("a next page").to_string();
    let second = api.get(&format!("/api/v1/invitations?cursor={cursor}")).await;
    assert_eq!(second.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.json["items"][0]["email"], json!("p0@example.com"));
    assert_eq!(second.json["next_cursor"], json!(null));
    let audit = api.get("/api/v1/audit").await;
    let next = audit.json["next_cursor"].as_str().expect("more events").to_string();
    let older = api.get(&format!("/api/v1/audit?cursor={next}")).await;
    assert!(!older.json["items"].as_array().unwrap().is_empty());
    assert!(older.json["items"][0]["id"].as_i64() < audit.json["items"][49]["id"].as_i64());
    for bad in ["/api/v1/invitations?cursor=nonsense", "/api/v1/audit?cursor=x", "/api/v1/members?cursor=1_zz"] {
        let answer = api.get(bad).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(answer.detail().contains("cursor is not valid"), "{bad}");
    }
}

#[tokio::test]
async fn calls_without_a_usable_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let secret = app.make_token(&owner, "script", &[], true).await;
    let invite = json!({ "email": "eve@example.com", "permissions": { "all": true } });

    // A signed-in browser's cookie opens nothing: the API takes tokens only.
    let cookie = format!("panel_session={}", owner.cookie("panel_session").unwrap());
    let with_cookie = Api::new(&app, None).with_cookie(&cookie).post("/api/v1/invitations", invite.clone()).await;
    assert_eq!(with_cookie.status, 401);
    assert!(with_cookie.detail().contains("Session cookies are not accepted"), "{}", with_cookie.detail());
    assert_eq!(with_cookie.content_type(), "application/problem+json");
    assert!(with_cookie.headers.get("www-authenticate").is_some());

    let forged = Api::new(&app, Some("pnl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).get("/api/v1/account").await;
    assert_eq!((forged.status, forged.detail()), (401, "This API token is not valid."));
    let garbage = Api::new(&app, Some("not a token at all")).get("/api/v1/account").await;
    assert_eq!(garbage.status, 401);

    // Expired (its end date passed) and revoked tokens.
    let expiring = app.make_token(&owner, "short", &[], true).await;
    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'")
        .execute(&app.db)
        .await
        .unwrap();
    let expired = Api::new(&app, Some(&expiring)).post("/api/v1/invitations", invite.clone()).await;
    assert_eq!((expired.status, expired.detail()), (401, "This API token has expired."));
    let list = owner.get("/api-tokens").await;
    let token_id: String =
        sqlx::query_scalar("SELECT id::text FROM api_tokens WHERE name = 'script'").fetch_one(&app.db).await.unwrap();
    owner
        .post_form_from("/api-tokens", &format!("/api-tokens/{token_id}/revoke"), &[])
        .await
        .assert_redirect_to("/api-tokens");
    assert!(list.status == 200);
    let revoked = Api::new(&app, Some(&secret)).post("/api/v1/invitations", invite.clone()).await;
    assert_eq!((revoked.status, revoked.detail()), (401, "This API token was revoked."));
    let again = owner.post_form_from("/api-tokens", &format!("/api-tokens/{token_id}/revoke"), &[]).await;
    assert_eq!(again.status, 404, "revoked once only");

    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0, "nothing was sent");
    let unknown = Api::new(&app, None).raw(reqwest::Method::GET, "/api/v1/nothing-here", None, "").await;
    assert_eq!((unknown.status, unknown.content_type()), (404, "application/problem+json"));
}

#[tokio::test]
async fn a_token_reaches_only_its_own_account_and_only_what_it_was_given() {
    let app = spawn_app().await;
    let ann = app.register("Ann", "ann@example.com").await;
    let zed = app.register("Zed", "zed@example.com").await;
    let yan = app.member_of(&zed, "Zed's account", "Yan", "yan@example.com", &["tickets"]).await;
    let yan_id = app.user_id("yan@example.com").await;
    let zed_api = Api::new(&app, Some(&app.make_token(&zed, "zed", &[], true).await));
    let zed_invitation =
        zed_api.post("/api/v1/invitations", json!({ "email": "x@example.com", "permissions": { "all": true } })).await;
    let zed_inv = zed_invitation.json["id"].as_str().unwrap().to_string();

    let ann_api = Api::new(&app, Some(&app.make_token(&ann, "ann", &[], true).await));
    // Another account's ids are 404, exactly as ids that do not exist.
    for (answer, what) in [
        (ann_api.get(&format!("/api/v1/members/{yan_id}")).await, "get member"),
        (
            ann_api
                .put(&format!("/api/v1/members/{yan_id}/permissions"), json!({ "permissions": { "all": true } }))
                .await,
            "change",
        ),
        (ann_api.delete(&format!("/api/v1/members/{yan_id}")).await, "remove"),
        (ann_api.post(&format!("/api/v1/invitations/{zed_inv}/resend"), json!({})).await, "resend"),
        (ann_api.post(&format!("/api/v1/invitations/{zed_inv}/cancel"), json!({})).await, "cancel"),
        (ann_api.get("/api/v1/members/not-a-uuid").await, "bad id"),
    ] {
        assert_eq!(answer.status, 404, "{what}: {}", answer.json);
    }
    let yan_kept =
        "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = m.account_id
                    WHERE u.email = 'yan@example.com' AND a.name = 'Zed''s account' AND m.permissions = '{tickets}'";
    assert_eq!(app.count(yan_kept).await, 1, "Yan's access is as it was");
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE cancelled_at IS NOT NULL").await, 0);

    // The owner's token without Manage Users, and a member's token: no user management.
    let plain = Api::new(&app, Some(&app.make_token(&ann, "plain", &[], false).await));
    let refused = plain.get("/api/v1/members").await;
    assert_eq!(refused.status, 403);
    assert!(refused.detail().contains("not given Manage Users"), "{}", refused.detail());
    assert_eq!(plain.get("/api/v1/account").await.status, 200);
    let yan_api = Api::new(&app, Some(&app.make_token(&yan, "yan", &["tickets"], false).await));
    let member =
        yan_api.post("/api/v1/invitations", json!({ "email": "z@example.com", "permissions": { "all": true } })).await;
    assert_eq!(member.status, 403);
    assert!(member.detail().contains("Only the owner of Zed's account"), "{}", member.detail());

    // Bad bodies: a clear problem each, nothing sent.
    let before = app.count("SELECT count(*) FROM invitations").await;
    for (body, status, words) in [
        (json!({ "email": "nope", "permissions": { "all": true } }), 422, "does not look like an email"),
        (
            json!({ "email": "a@example.com", "permissions": { "all": false, "permissions": [] } }),
            422,
            "at least one permission",
        ),
        (
            json!({ "email": "a@example.com", "permissions": { "all": false, "permissions": ["root"] } }),
            422,
            "is not a permission",
        ),
        (
            json!({ "email": "a@example.com", "permissions": { "all": true, "permissions": ["tickets"] } }),
            422,
            "send one or the other",
        ),
        (json!({ "email": "a@example.com" }), 422, "permissions"),
    ] {
        let answer = ann_api.post("/api/v1/invitations", body.clone()).await;
        assert_eq!(answer.status, status, "{body}");
        assert!(answer.detail().contains(words), "{body}: {}", answer.detail());
    }
    let not_json = ann_api
        .raw(reqwest::Method::POST, "/api/v1/invitations", Some("email=a".into()), "application/x-www-form-urlencoded")
        .await;
    assert_eq!((not_json.status, not_json.content_type()), (415, "application/problem+json"));
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, before);
}

#[tokio::test]
async fn a_token_shrinks_with_its_makers_permissions_and_dies_with_their_access() {
    let app = spawn_app_with(Options { settings: vec![("INVITE_RESEND_MINUTES", "0")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &[]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let bob_api = Api::new(&app, Some(&app.make_token(&bob, "bob", &[], false).await));
    assert_eq!(
        bob_api.get("/api/v1/account").await.json["token"]["permissions"],
        json!({ "all": true, "permissions": [] })
    );

    owner
        .post_form(&format!("/users/{bob_id}/permissions"), &[("mode", "choose"), ("permissions", "tickets")])
        .await
        .assert_redirect_to("/users");
    let narrowed = bob_api.get("/api/v1/account").await;
    assert_eq!(narrowed.json["token"]["permissions"], json!({ "all": false, "permissions": ["tickets"] }));

    owner.post_form(&format!("/users/{bob_id}/remove"), &[]).await.assert_redirect_to("/users");
    let gone = bob_api.get("/api/v1/account").await;
    assert_eq!(gone.status, 401, "Remove Access ends the token on the next call");

    // Invited back, the old token stays dead.
    crate::helpers::invite(&owner, "bob@example.com", &[]).await.assert_redirect_to("/users");
    let subject = "Ann's account has invited you to their account";
    let second = loop {
        let mails: Vec<_> =
            app.mail.all().into_iter().filter(|m| m.to == "bob@example.com" && m.subject == subject).collect();
        if mails.len() == 2 {
            break mails[1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let link = crate::helpers::link_in(&second, &app, "/invitations/");
    bob.post_form(&format!("{link}/accept"), &[]).await.assert_redirect_to("/");
    assert_eq!(bob_api.get("/api/v1/account").await.status, 401);

    // A disabled login's tokens stop too.
    let fresh = Api::new(&app, Some(&app.make_token(&bob, "again", &[], false).await));
    assert_eq!(fresh.get("/api/v1/account").await.status, 200);
    let staff = app.staff("help@panel.example").await;
    staff.post_form(&format!("/admin/users/{bob_id}/disable"), &[]).await;
    let disabled = fresh.get("/api/v1/account").await;
    assert_eq!((disabled.status, disabled.detail()), (401, "The login this API token belongs to is disabled."));
}

#[tokio::test]
async fn a_token_over_its_rate_limit_is_told_when_to_come_back() {
    let app = spawn_app_with(Options { settings: vec![("API_CALLS_PER_MINUTE", "3")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let api = Api::new(&app, Some(&app.make_token(&owner, "script", &[], true).await));
    for _ in 0..3 {
        assert_eq!(api.get("/api/v1/account").await.status, 200);
    }
    let limited = api.get("/api/v1/members").await;
    assert_eq!(limited.status, 429);
    let wait: u64 = limited.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(limited.json["retry_after"], json!(wait));
    // The limit is the login's (across its tokens); another login has its own.
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &[]).await;
    let other = Api::new(&app, Some(&app.make_token(&bob, "other", &[], false).await));
    assert_eq!(other.get("/api/v1/account").await.status, 200);
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route_and_nothing_else() {
    let app = spawn_app().await;
    let served = Api::new(&app, None).get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    let doc = document();
    assert_eq!(served.json, doc, "the served document is the generated one");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1");
    // Every documented operation is routed: called without a token it is
    // refused for want of one, never 404 or 405.
    let mut operations = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|m| ["get", "put", "post", "delete", "patch"].contains(&m.as_str()))
        {
            operations += 1;
            let path = template
                .replace("{user_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{id}", &uuid::Uuid::new_v4().to_string());
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let answer = Api::new(&app, None).call(method.to_uppercase().parse().unwrap(), &path, body).await;
            let expected = if template == "/api/v1/openapi.json" { 200 } else { 401 };
            assert_eq!(answer.status, expected, "{method} {template}");
        }
    }
    assert_eq!(operations, 12, "the twelve operations of the members API");
    // The test's own checker can fail: a body that breaks the schema is caught.
    let template = template_for(&doc, "/api/v1/members").unwrap();
    let pointer = format!("#/paths/{}/get/responses/200/content/application~1json/schema", template.replace('/', "~1"));
    assert_eq!(template, "/api/v1/members");
    assert!(schema_errors(&doc, &pointer, &json!({ "items": [], "next_cursor": null })).is_empty());
    assert!(!schema_errors(&doc, &pointer, &json!({ "items": 5 })).is_empty());
    assert!(!schema_errors(&doc, &pointer, &json!({ "items": [{ "user_id": "x" }], "next_cursor": null })).is_empty());
}

#[tokio::test]
async fn the_owner_sees_and_revokes_any_token_with_access_and_nobody_else_can() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["tickets"]).await;
    let bob_api = Api::new(&app, Some(&app.make_token(&bob, "Bob's script", &["tickets"], false).await));
    let listed = owner.get("/users/tokens").await.texts("#tokens tbody tr").join(" ");
    assert!(listed.contains("Bob's script") && listed.contains("bob@example.com"), "{listed}");
    assert_eq!(bob.get("/users/tokens").await.status, 403, "members do not see the account's tokens");
    let id: String = sqlx::query_scalar("SELECT id::text FROM api_tokens").fetch_one(&app.db).await.unwrap();
    let zed = app.register("Zed", "zed@example.com").await;
    assert_eq!(zed.post_form(&format!("/users/tokens/{id}/revoke"), &[]).await.status, 404, "another owner");
    assert_eq!(zed.post_form(&format!("/api-tokens/{id}/revoke"), &[]).await.status, 404, "not Zed's own");
    assert_eq!(bob_api.get("/api/v1/account").await.status, 200);
    owner.post_form(&format!("/users/tokens/{id}/revoke"), &[]).await.assert_redirect_to("/users/tokens");
    assert_eq!(bob_api.get("/api/v1/account").await.status, 401);
    assert!(
        !owner.get("/users/tokens").await.texts("#tokens tbody tr").join(" ").contains("Bob's script"),
        "only usable tokens are listed"
    );
    assert!(bob.get("/api-tokens").await.texts("#tokens tbody tr").join(" ").contains("Revoked"));
}

#[tokio::test]
async fn leaving_scope_out_of_a_permissions_change_keeps_the_members_scope() {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    let service = app.first_id("services", account).await;
    let _bob = app.member_of(&owner, "Ann's account", "Bob", "bob@example.com", &["products"]).await;
    let token = app.make_token(&owner, "script", &[], true).await;
    let api = Api::new(&app, Some(&token));
    let bob = app.user_id("bob@example.com").await;
    let path = format!("/api/v1/members/{bob}/permissions");
    let scoped =
        api.put(&path, json!({ "permissions": {"all": false, "permissions": ["products"]}, "scope": [service] })).await;
    assert_eq!(scoped.status, 200, "{}", scoped.json);
    let kept = api.put(&path, json!({ "permissions": {"all": false, "permissions": ["products", "tickets"]} })).await;
    assert_eq!(kept.status, 200, "{}", kept.json);
    assert_eq!(kept.json["scope"], json!([service]), "left out: unchanged");
    let all =
        api.put(&path, json!({ "permissions": {"all": false, "permissions": ["products"]}, "scope": null })).await;
    assert_eq!(all.json["scope"], serde_json::Value::Null, "null: all services and domains");
}

#[tokio::test]
async fn a_login_holds_at_most_the_configured_number_of_live_tokens() {
    let app = spawn_app_with(Options { settings: vec![("API_TOKENS_PER_LOGIN", "2")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    app.make_token(&owner, "one", &[], false).await;
    app.make_token(&owner, "two", &[], false).await;
    let res = owner.post_form("/api-tokens", &[("name", "three"), ("mode", "all")]).await;
    assert_eq!(res.status, 409, "{}", res.text());
    assert!(res.text().contains("Revoke one you no longer use"), "{}", res.text());
    assert_eq!(app.count("SELECT count(*) FROM api_tokens").await, 2);
}

#[tokio::test]
async fn the_api_rate_limit_counts_a_logins_calls_across_its_tokens() {
    let app = spawn_app_with(Options { settings: vec![("API_CALLS_PER_MINUTE", "4")], ..Options::default() }).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let one = Api::new(&app, Some(&app.make_token(&owner, "one", &[], false).await));
    let two = Api::new(&app, Some(&app.make_token(&owner, "two", &[], false).await));
    for api in [&one, &two, &one, &two] {
        assert_eq!(api.get("/api/v1/account").await.status, 200);
    }
    let over = two.get("/api/v1/account").await;
    assert_eq!(over.status, 429, "a second token is no second allowance");
    assert!(over.headers.get("retry-after").is_some());
}

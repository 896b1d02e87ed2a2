//! Each client-area section's actions, with the bad inputs a stranger tries.

use crate::helpers::{spawn_app, Browser, TestApp};

pub async fn unpaid_invoice(app: &TestApp, account: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT id::text FROM invoices WHERE account_id = $1 AND status = 'Unpaid' LIMIT 1")
        .bind(account)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn owner_with_sections() -> (TestApp, Browser, uuid::Uuid) {
    let app = spawn_app().await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    (app, owner, account)
}

#[tokio::test]
async fn an_invoice_is_paid_exactly_once_and_credit_must_cover_it() {
    let (app, owner, account) = owner_with_sections().await;
    let invoice = unpaid_invoice(&app, account).await;
    sqlx::query("UPDATE accounts SET credit_cents = 100 WHERE id = $1").bind(account).execute(&app.db).await.unwrap();
    let res = owner.post_form(&format!("/invoices/{invoice}/pay"), &[("method", "credit")]).await;
    assert_eq!(res.status, 409);
    assert!(res.text().contains("The account credit is less than"));
    assert_eq!(owner.post_form(&format!("/invoices/{invoice}/pay"), &[("method", "bitcoin")]).await.status, 400);
    // Two payments at once: one wins, one is told it is paid.
    let pay = format!("/invoices/{invoice}/pay");
    let (a, b) =
        tokio::join!(owner.post_form(&pay, &[("method", "gateway")]), owner.post_form(&pay, &[("method", "gateway")]));
    let mut statuses = vec![a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, vec![303, 409]);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE invoice_id = $1::uuid")
        .bind(&invoice)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let again = owner.post_form(&format!("/invoices/{invoice}/pay"), &[("method", "gateway")]).await;
    assert_eq!(again.status, 409);
    assert!(again.text().contains("is Paid: there is nothing to pay"));
    // The contact who gets invoice mail was told, as an outbox row.
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE to_email = 'accounts@example.com' AND subject LIKE 'Payment received%'").await, 1);
    app.mail.wait_for("accounts@example.com", "Payment received").await;
}

#[tokio::test]
async fn quotes_accept_once_and_never_when_expired() {
    let (app, owner, account) = owner_with_sections().await;
    let open: String =
        sqlx::query_scalar("SELECT id::text FROM quotes WHERE account_id = $1 AND valid_until >= current_date")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let expired: String =
        sqlx::query_scalar("SELECT id::text FROM quotes WHERE account_id = $1 AND valid_until < current_date")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let res = owner.post_form(&format!("/quotes/{expired}/accept"), &[]).await;
    assert_eq!(res.status, 409);
    assert!(res.text().contains("expired"));
    let res = owner.post_form(&format!("/quotes/{open}/accept"), &[]).await;
    assert_eq!(res.status, 303);
    let invoice_total: i64 = sqlx::query_scalar(
        "SELECT i.total_cents FROM quotes q JOIN invoices i ON i.id = q.invoice_id WHERE q.id = $1::uuid",
    )
    .bind(&open)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(invoice_total, 45000);
    assert_eq!(owner.post_form(&format!("/quotes/{open}/accept"), &[]).await.status, 409);
}

#[tokio::test]
async fn nameservers_lock_epp_and_whois_are_checked() {
    let (app, owner, account) = owner_with_sections().await;
    let d = app.first_id("domains", account).await;
    let path = format!("/domains/{d}/nameservers");
    for (ns, message) in [
        (vec!["ns1.example.com"], "between 2 and 5"),
        (vec!["ns1.example.com", "not a host"], "is not a valid host name"),
        (vec!["ns1.example.com", "-bad-.example.com"], "is not a valid host name"),
        (
            vec!["a.example.com", "b.example.com", "c.example.com", "d.example.com", "e.example.com", "f.example.com"],
            "between 2 and 5",
        ),
        (vec!["ns1.example.com", "NS1.example.com"], "only once"),
        (vec!["ns1.example.com", "<script>x</script>.com"], "is not a valid host name"),
    ] {
        let fields: Vec<(&str, &str)> = ns.iter().map(|n| ("nameservers", *n)).collect();
        let res = owner.post_form(&path, &fields).await;
        assert_eq!(res.status, 422, "{ns:?}");
        assert!(res.text().contains(message), "{ns:?}: {}", res.text());
    }
    owner
        .post_form(
            &path,
            &[("nameservers", "ns1.host.example"), ("nameservers", "ns2.host.example"), ("nameservers", "")],
        )
        .await
        .assert_redirect_to(&format!("/domains/{d}/manage"));
    let ns: Vec<String> = sqlx::query_scalar("SELECT nameservers FROM domains WHERE id = $1::uuid")
        .bind(&d)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(ns, vec!["ns1.host.example", "ns2.host.example"]);

    let res = owner.post_form(&format!("/domains/{d}/epp"), &[]).await;
    assert_eq!(res.status, 422, "no transfer code while locked");
    owner.post_form(&format!("/domains/{d}/lock"), &[("locked", "false")]).await;
    owner.post_form(&format!("/domains/{d}/epp"), &[]).await;
    let code: Option<String> = sqlx::query_scalar("SELECT epp_code FROM domains WHERE id = $1::uuid")
        .bind(&d)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(owner.get(&format!("/domains/{d}/manage")).await.text().contains(&code.unwrap()));
    assert_eq!(
        owner.post_form(&format!("/domains/{d}/whois"), &[("name", "Web"), ("email", "not-an-email")]).await.status,
        422
    );
}

#[tokio::test]
async fn withdrawals_respect_the_minimum_and_the_balance() {
    let (app, owner, account) = owner_with_sections().await;
    for (amount, message) in [
        ("10", "The smallest withdrawal is $25.00"),
        ("100", "at most your balance"),
        ("abc", "Enter an amount"),
        ("-30", "Enter an amount"),
    ] {
        let res = owner.post_form("/affiliates/withdraw", &[("amount", amount)]).await;
        assert_eq!(res.status, 422, "{amount}");
        assert!(res.text().contains(message), "{amount}: {}", res.text());
    }
    owner.post_form("/affiliates/withdraw", &[("amount", "35.50")]).await.assert_redirect_to("/affiliates");
    let balance: i64 = sqlx::query_scalar("SELECT affiliate_balance_cents FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(balance, 6000 - 3550);
    assert!(owner.get("/affiliates").await.text().contains("$24.50"));
}

#[tokio::test]
async fn tickets_open_reply_close_and_staff_answers_in_the_thread() {
    let (app, owner, _account) = owner_with_sections().await;
    let res = owner.post_form("/tickets/new", &[("department", "Support"), ("subject", ""), ("message", "Help")]).await;
    assert_eq!(res.status, 422);
    let res =
        owner.post_form("/tickets/new", &[("department", "Nowhere"), ("subject", "S"), ("message", "Help")]).await;
    assert_eq!(res.status, 422);
    let long = "x".repeat(10_001);
    assert_eq!(
        owner
            .post_form("/tickets/new", &[("department", "Support"), ("subject", "S"), ("message", &long)])
            .await
            .status,
        422
    );
    let res = owner
        .post_form(
            "/tickets/new",
            &[("department", "Billing"), ("subject", "Refund <b>please</b>"), ("message", "<script>alert(1)</script>")],
        )
        .await;
    let path = res.location().unwrap().to_string();
    let page = owner.get(&path).await;
    assert!(page.text().contains("<script>alert(1)</script>") && !page.body.contains("<script>alert"), "shown escaped");
    owner.post_form(&format!("{path}/reply"), &[("message", "Any news?")]).await.assert_redirect_to(&path);

    let staff = app.staff("help@example.com").await;
    let id = path.trim_start_matches("/tickets/");
    staff
        .post_form(&format!("/admin/tickets/{id}/reply"), &[("message", "Refund sent.")])
        .await
        .assert_redirect_to(&format!("/admin/tickets/{id}"));
    let thread = owner.get(&path).await;
    assert!(thread.text().contains("Support (help) ") && thread.text().contains("Refund sent."), "{}", thread.text());
    assert!(thread.text().contains("Answered"));

    owner.post_form(&format!("{path}/close"), &[]).await.assert_redirect_to(&path);
    let res = owner.post_form(&format!("{path}/reply"), &[("message", "One more thing")]).await;
    assert_eq!(res.status, 409);
    assert!(res.text().contains("is closed"));
}

#[tokio::test]
async fn orders_create_a_pending_service_that_starts_when_its_invoice_is_paid() {
    let (app, owner, account) = owner_with_sections().await;
    let product = "00000000-0000-4000-8000-000000000001";
    for (fields, what) in [
        (vec![("product_id", product), ("domain", "not a domain"), ("billing_cycle", "Monthly")], "bad domain"),
        (
            vec![
                ("product_id", "00000000-0000-0000-0000-000000000000"),
                ("domain", "new.example.com"),
                ("billing_cycle", "Monthly"),
            ],
            "unknown product",
        ),
        (vec![("product_id", product), ("domain", "new.example.com"), ("billing_cycle", "Weekly")], "bad cycle"),
    ] {
        assert_eq!(owner.post_form("/orders", &fields).await.status, 422, "{what}");
    }
    let res = owner
        .post_form("/orders", &[("product_id", product), ("domain", "new.example.com"), ("billing_cycle", "Annually")])
        .await;
    let pending_service: String = sqlx::query_scalar("SELECT id::text FROM services WHERE domain = 'new.example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        owner
            .post_form(
                &format!("/orders/upgrade/{pending_service}"),
                &[("product_id", "00000000-0000-4000-8000-000000000003")]
            )
            .await
            .status,
        409,
        "no upgrade before the first payment"
    );
    // The member lands on the orders page, which lists the invoice to pay.
    res.assert_redirect_to("/orders");
    let invoice_id: String = sqlx::query_scalar(
        "SELECT o.invoice_id::text FROM order_invoices o JOIN services s ON s.id = o.service_id
         WHERE s.domain = 'new.example.com'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let invoice = format!("/invoices/{invoice_id}");
    assert!(owner.get("/orders").await.texts("#awaiting a").iter().any(|t| t.starts_with("pay invoice #")));
    let (status, amount): (String, i64) =
        sqlx::query_as("SELECT status, amount_cents FROM services WHERE domain = 'new.example.com'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), amount), ("Pending", 4990));
    owner.post_form(&format!("{invoice}/pay"), &[("method", "gateway")]).await;
    let status: String = sqlx::query_scalar("SELECT status FROM services WHERE domain = 'new.example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "Active");

    // Upgrades stay within the product group; cancellation is recorded.
    let service: String = sqlx::query_scalar("SELECT id::text FROM services WHERE domain = 'new.example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let vps = "00000000-0000-4000-8000-000000000004";
    assert_eq!(owner.post_form(&format!("/orders/upgrade/{service}"), &[("product_id", vps)]).await.status, 422);
    owner
        .post_form(&format!("/orders/upgrade/{service}"), &[("product_id", "00000000-0000-4000-8000-000000000002")])
        .await;
    let upgrade_invoice: String =
        sqlx::query_scalar("SELECT id::text FROM invoices WHERE total_cents = 5000").fetch_one(&app.db).await.unwrap();
    let product = || {
        sqlx::query_scalar::<_, String>(
            "SELECT p.name FROM services s JOIN products p ON p.id = s.product_id WHERE s.domain = 'new.example.com'",
        )
        .fetch_one(&app.db)
    };
    assert_eq!(product().await.unwrap(), "Starter", "the dearer product waits for its payment");
    owner.post_form(&format!("/invoices/{upgrade_invoice}/pay"), &[("method", "gateway")]).await;
    assert_eq!(product().await.unwrap(), "Business");
    owner.post_form(&format!("/orders/cancel/{service}"), &[("when", "immediate")]).await.assert_redirect_to("/orders");
    let status: String = sqlx::query_scalar("SELECT status FROM services WHERE id = $1::uuid")
        .bind(&service)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "Cancelled");
    assert_eq!(owner.post_form(&format!("/orders/cancel/{service}"), &[("when", "end")]).await.status, 409);
    let _ = account;
}

#[tokio::test]
async fn single_sign_on_links_work_once_and_panel_passwords_are_checked() {
    let (app, owner, account) = owner_with_sections().await;
    let s: String = sqlx::query_scalar(
        "SELECT id::text FROM services WHERE account_id = $1 AND parent_id IS NULL AND status = 'Active' LIMIT 1",
    )
    .bind(account)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let res = owner.post_form(&format!("/services/{s}/sso"), &[]).await;
    let link = res.location().unwrap().trim_start_matches(&app.address).to_string();
    assert!(link.starts_with("/control-panel/sso/"));
    let b = app.browser();
    assert!(b.get(&link).await.text().contains("Signed in to the control panel"));
    assert_eq!(b.get(&link).await.status, 410, "single use");
    sqlx::query("UPDATE control_panel_sso SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = owner.post_form(&format!("/services/{s}/sso"), &[]).await;
    sqlx::query("UPDATE control_panel_sso SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(b.get(res.location().unwrap().trim_start_matches(&app.address)).await.status, 410, "short-lived");

    let path = format!("/services/{s}/password");
    for (p, c) in
        [("short1", "short1"), ("onlyletterslong", "onlyletterslong"), ("good password 1", "other password 1")]
    {
        assert_eq!(owner.post_form(&path, &[("password", p), ("confirm", c)]).await.status, 422, "{p}");
    }
    owner
        .post_form(&path, &[("password", "good password 1"), ("confirm", "good password 1")])
        .await
        .assert_redirect_to(&format!("/services/{s}"));
    assert_eq!(app.count("SELECT count(*) FROM control_panel_logins WHERE password_hash IS NOT NULL").await, 1);
}

#[tokio::test]
async fn contacts_and_profile_are_validated_and_support_only_fields_stay_put() {
    let (app, owner, account) = owner_with_sections().await;
    for (fields, message) in [
        (vec![("name", "X"), ("email", "bad")], "does not look like an email"),
        (vec![("name", ""), ("email", "x@example.com")], "Enter a name"),
        (vec![("name", "X"), ("email", "x@example.com"), ("notify", "everything")], "is not a kind of notification"),
    ] {
        let res = owner.post_form("/contacts/new", &fields).await;
        assert_eq!(res.status, 422);
        assert!(res.text().contains(message), "{message}");
    }
    owner
        .post_form(
            "/contacts/new",
            &[("name", "Tech"), ("email", "Tech@Example.com"), ("notify", "support"), ("notify", "domains")],
        )
        .await
        .assert_redirect_to("/contacts");
    assert!(owner.get("/contacts").await.text().contains("tech@example.com"));
    let res = owner
        .post_form(
            "/account/profile",
            &[
                ("address", "2 New Road"),
                ("city", "York"),
                ("region", ""),
                ("postcode", "YO1"),
                ("phone", "1"),
                ("tax_id", "HACKED"),
                ("name", "Renamed"),
            ],
        )
        .await;
    res.assert_redirect_to("/account/profile");
    let (address, tax, name): (String, String, String) =
        sqlx::query_as("SELECT address, tax_id, name FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((address.as_str(), tax.as_str(), name.as_str()), ("2 New Road", "GB123456789", "Ann's account"));
    let long = "y".repeat(201);
    assert_eq!(
        owner
            .post_form(
                "/account/profile",
                &[("address", &long), ("city", ""), ("region", ""), ("postcode", ""), ("phone", "")]
            )
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn view_emails_shows_only_this_accounts_mail() {
    let (app, owner, _account) = owner_with_sections().await;
    crate::helpers::invite(&owner, "someone@example.com", &[]).await;
    let zed = app.register("Zed", "zed@example.com").await;
    crate::helpers::invite(&zed, "other@example.com", &[]).await;
    let list = owner.get("/emails").await;
    let to = list.texts("#emails td[data-label=To]");
    assert!(to.contains(&"someone@example.com".to_string()));
    assert!(!to.contains(&"other@example.com".to_string()));
    // An invitation not yet sent never shows its link here.
    sqlx::query("UPDATE mail_outbox SET status = 'pending', secret = 'SECRET-TOKEN', text_body = 'open https://x/invitations/SECRET-TOKEN' WHERE to_email = 'someone@example.com'")
        .execute(&app.db).await.unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM mail_outbox WHERE to_email = 'someone@example.com'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let mail = owner.get(&format!("/emails/{id}")).await;
    assert!(!mail.text().contains("SECRET-TOKEN") && mail.text().contains("[link hidden until sent]"));
}

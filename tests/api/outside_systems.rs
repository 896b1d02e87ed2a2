//! The outside systems (payment gateway, control panel, registrar) chosen by
//! configuration: with `none` nothing pretends to work, stand-ins outside
//! the quick start are announced, and a gateway charge happens once however
//! often a payment is retried.

use crate::{
    helpers::{spawn_app_with, Browser, Options, TestApp},
    sections::unpaid_invoice,
};

const PAYMENT_NOT_CONNECTED: &str = "Online payment is not available; please contact support.";
const CONTROL_PANEL_NOT_CONNECTED: &str = "The control panel of this service is not connected here";
const REGISTRAR_NOT_CONNECTED: &str = "no registrar is connected; please contact support.";

async fn owner_with_sections(opts: Options) -> (TestApp, Browser, uuid::Uuid) {
    let app = spawn_app_with(opts).await;
    let owner = app.register("Ann", "ann@example.com").await;
    let account = app.seed_sections("ann@example.com").await;
    (app, owner, account)
}

fn none_connected() -> Options {
    Options { stand_ins: false, ..Options::default() }
}

#[tokio::test]
async fn without_a_payment_gateway_the_invoice_says_so_and_a_forged_payment_changes_nothing() {
    let (app, owner, account) = owner_with_sections(none_connected()).await;
    let invoice = unpaid_invoice(&app, account).await;
    let page = owner.get(&format!("/invoices/{invoice}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(PAYMENT_NOT_CONNECTED), "{}", page.text());
    assert_eq!(page.attr("input[name=method][value=gateway]", "value"), None, "no gateway choice is offered");
    let forged = owner.post_form(&format!("/invoices/{invoice}/pay"), &[("method", "gateway")]).await;
    assert_eq!(forged.status, 409);
    assert!(forged.text().contains(PAYMENT_NOT_CONNECTED), "{}", forged.text());
    assert_eq!(app.count(&format!("SELECT count(*) FROM transactions WHERE invoice_id = '{invoice}'")).await, 0);
    for table in ["payment_attempts", "test_gateway_charges"] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table}")).await, 0, "nothing written to {table}");
    }
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM invoices WHERE id = '{invoice}' AND status = 'Unpaid'")).await,
        1
    );
    // Account credit is the panel's own: it still pays.
    sqlx::query("UPDATE accounts SET credit_cents = 1000000 WHERE id = $1")
        .bind(account)
        .execute(&app.db)
        .await
        .unwrap();
    let paid = owner.post_form(&format!("/invoices/{invoice}/pay"), &[("method", "credit")]).await;
    paid.assert_redirect_to(&format!("/invoices/{invoice}"));
}

#[tokio::test]
async fn without_a_control_panel_sign_on_and_passwords_are_absent_and_forged_posts_are_refused() {
    let (app, owner, account) = owner_with_sections(none_connected()).await;
    let service = app.first_id("services", account).await;
    let page = owner.get(&format!("/services/{service}")).await;
    assert!(page.text().contains(CONTROL_PANEL_NOT_CONNECTED), "{}", page.text());
    assert!(!page.text().contains("Log in to control panel") && !page.text().contains("Change control panel password"));
    let form = owner.get(&format!("/services/{service}/password")).await;
    assert!(form.text().contains(CONTROL_PANEL_NOT_CONNECTED));
    assert_eq!(form.attr("input[name=password]", "name"), None, "no password form");
    let sso = owner.post_form(&format!("/services/{service}/sso"), &[]).await;
    assert_eq!(sso.status, 409);
    assert!(sso.text().contains(CONTROL_PANEL_NOT_CONNECTED));
    let password = owner
        .post_form(
            &format!("/services/{service}/password"),
            &[("password", "new panel pass 1"), ("confirm", "new panel pass 1")],
        )
        .await;
    assert_eq!(password.status, 409);
    assert_eq!(app.count("SELECT count(*) FROM control_panel_sso").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM control_panel_logins WHERE changed_at IS NOT NULL").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action LIKE 'service.%'").await, 0);
    // The stand-in's own sign-on page is not served either.
    assert_eq!(owner.get(&format!("/control-panel/sso/{}", "A".repeat(43))).await.status, 404);
}

#[tokio::test]
async fn without_a_registrar_domain_settings_are_absent_and_forged_posts_are_refused() {
    let (app, owner, account) = owner_with_sections(none_connected()).await;
    let domain = app.first_id("domains", account).await;
    let page = owner.get(&format!("/domains/{domain}/manage")).await;
    assert!(page.text().contains(REGISTRAR_NOT_CONNECTED), "{}", page.text());
    assert!(page.html().select(&scraper::Selector::parse("main form").unwrap()).next().is_none(), "no forms");
    let before: (Vec<String>, bool, Option<String>, String) =
        sqlx::query_as("SELECT nameservers, registrar_lock, epp_code, whois_name FROM domains WHERE id = $1::uuid")
            .bind(&domain)
            .fetch_one(&app.db)
            .await
            .unwrap();
    for (path, fields) in [
        ("nameservers", vec![("nameservers", "ns1.other.net"), ("nameservers", "ns2.other.net")]),
        ("lock", vec![("locked", if before.1 { "false" } else { "true" })]),
        ("epp", vec![]),
        ("whois", vec![("name", "Mallory"), ("email", "mallory@example.com")]),
    ] {
        let res = owner.post_form(&format!("/domains/{domain}/{path}"), &fields).await;
        assert_eq!(res.status, 409, "{path}");
        assert!(res.text().contains(REGISTRAR_NOT_CONNECTED), "{path}: {}", res.text());
    }
    let after: (Vec<String>, bool, Option<String>, String) =
        sqlx::query_as("SELECT nameservers, registrar_lock, epp_code, whois_name FROM domains WHERE id = $1::uuid")
            .bind(&domain)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(before, after, "nothing changed");
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE subject LIKE '%was changed'").await, 0);
}

#[tokio::test]
async fn stand_ins_chosen_outside_the_quick_start_are_announced_to_clients_and_staff() {
    let (app, owner, _) = owner_with_sections(Options::default()).await;
    let notice = owner.get("/").await.texts("#stand-in-notice");
    assert_eq!(
        notice,
        ["Test payment gateway: no money moves. Built-in control panel: no real hosting account changes. \
          Built-in registrar: no real domain changes."]
    );
    let staff = app.staff("help@example.com").await;
    assert_eq!(staff.get("/admin").await.texts("#stand-in-notice").len(), 1);
    // With nothing connected there is nothing to warn about.
    let (_, plain, _) = owner_with_sections(none_connected()).await;
    assert!(plain.get("/").await.texts("#stand-in-notice").is_empty());
}

#[tokio::test]
async fn a_payment_retried_after_a_crash_charges_once_and_completes_once() {
    let (app, owner, account) = owner_with_sections(Options::default()).await;
    // Crashed after the attempt was written, before the gateway was called.
    let first = unpaid_invoice(&app, account).await;
    let key = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO payment_attempts (id, invoice_id, account_id, gateway, amount_cents)
         SELECT $1, id, account_id, 'Test gateway', total_cents FROM invoices WHERE id = $2::uuid",
    )
    .bind(key)
    .bind(&first)
    .execute(&app.db)
    .await
    .unwrap();
    owner
        .post_form(&format!("/invoices/{first}/pay"), &[("method", "gateway")])
        .await
        .assert_redirect_to(&format!("/invoices/{first}"));
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM test_gateway_charges WHERE idempotency_key = '{key}'")).await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 1, "the retry reused the pending key");

    // Crashed after the gateway charged, before the payment was completed.
    let second = new_unpaid_invoice(&app, account, 4200).await;
    let key = uuid::Uuid::new_v4();
    sqlx::query(
        "WITH a AS (INSERT INTO payment_attempts (id, invoice_id, account_id, gateway, amount_cents)
                    SELECT $1, id, account_id, 'Test gateway', total_cents FROM invoices WHERE id = $2::uuid)
         INSERT INTO test_gateway_charges (idempotency_key, reference, amount_cents)
         SELECT $1, 'TEST-CHARGED-BEFORE-CRASH', total_cents FROM invoices WHERE id = $2::uuid",
    )
    .bind(key)
    .bind(&second)
    .execute(&app.db)
    .await
    .unwrap();
    owner
        .post_form(&format!("/invoices/{second}/pay"), &[("method", "gateway")])
        .await
        .assert_redirect_to(&format!("/invoices/{second}"));
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 2, "no second charge for the retry");
    let reference: String = sqlx::query_scalar("SELECT reference FROM transactions WHERE invoice_id = $1::uuid")
        .bind(&second)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(reference, "TEST-CHARGED-BEFORE-CRASH", "the payment records the charge that happened");
    // Both invoices are paid with exactly one transaction each; no attempt
    // is left pending.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM invoices i WHERE i.id IN ('{first}', '{second}') AND i.status = 'Paid'
               AND (SELECT count(*) FROM transactions t WHERE t.invoice_id = i.id) = 1"
        ))
        .await,
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM payment_attempts WHERE status = 'pending'").await, 0);
}

#[tokio::test]
async fn account_credit_waits_while_a_gateway_payment_is_being_completed() {
    let (app, owner, account) = owner_with_sections(Options::default()).await;
    let invoice = unpaid_invoice(&app, account).await;
    sqlx::query("UPDATE accounts SET credit_cents = 1000000 WHERE id = $1")
        .bind(account)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO payment_attempts (id, invoice_id, account_id, gateway, amount_cents)
         SELECT gen_random_uuid(), id, account_id, 'Test gateway', total_cents FROM invoices WHERE id = $1::uuid",
    )
    .bind(&invoice)
    .execute(&app.db)
    .await
    .unwrap();
    let res = owner.post_form(&format!("/invoices/{invoice}/pay"), &[("method", "credit")]).await;
    assert_eq!(res.status, 409, "credit could charge a second time");
    assert!(res.text().contains("is still being completed"));
    assert_eq!(app.count(&format!("SELECT count(*) FROM transactions WHERE invoice_id = '{invoice}'")).await, 0);
    // The gateway try completes it, once.
    owner
        .post_form(&format!("/invoices/{invoice}/pay"), &[("method", "gateway")])
        .await
        .assert_redirect_to(&format!("/invoices/{invoice}"));
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 1);
}

#[tokio::test]
async fn two_gateway_payments_at_once_charge_once() {
    let (app, owner, account) = owner_with_sections(Options::default()).await;
    let invoice = unpaid_invoice(&app, account).await;
    let pay = format!("/invoices/{invoice}/pay");
    let (a, b, c) = tokio::join!(
        owner.post_form(&pay, &[("method", "gateway")]),
        owner.post_form(&pay, &[("method", "gateway")]),
        owner.post_form(&pay, &[("method", "gateway")])
    );
    let mut statuses = vec![a.status, b.status, c.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409, 409]);
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 1);
    assert_eq!(app.count(&format!("SELECT count(*) FROM transactions WHERE invoice_id = '{invoice}'")).await, 1);
}

/// Another unpaid invoice of `total_cents` in the account.
async fn new_unpaid_invoice(app: &TestApp, account: uuid::Uuid, total_cents: i64) -> String {
    sqlx::query_scalar(
        "INSERT INTO invoices (id, account_id, status, due_on, total_cents)
         VALUES (gen_random_uuid(), $1, 'Unpaid', current_date + 14, $2) RETURNING id::text",
    )
    .bind(account)
    .bind(total_cents)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

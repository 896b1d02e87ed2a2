//! Logins made from the command line: staff, and a small demo.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    auth::store::{self as login_store, NewUser, Registered},
    domain::{
        email::Email,
        password,
        permissions::{Grant, PRESETS},
    },
    hashing::Hasher,
};

pub async fn create_staff(db: &PgPool, email: &str, pass: &str) -> anyhow::Result<()> {
    let email = Email::parse(email)?;
    password::check_strength(pass).map_err(anyhow::Error::msg)?;
    let hash = Hasher::new(1).hash(pass).await?;
    let name = email.as_str().split('@').next().unwrap_or("Staff").to_string();
    let done = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, is_staff, email_verified_at)
         VALUES ($1, $2, $3, $4, true, now()) ON CONFLICT (email) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(email.as_str())
    .bind(name)
    .bind(hash)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        anyhow::bail!("a login with the email {email} already exists");
    }
    Ok(())
}

pub const DEMO_PASSWORD: &str = "demo-password";

/// An owner with an account and two members (the help articles' accountant
/// and web developer). Running it again changes nothing.
pub async fn demo(db: &PgPool) -> anyhow::Result<String> {
    let hash = Hasher::new(1).hash(DEMO_PASSWORD).await?;
    // The accountant and the web developer hold the invite form's presets.
    let [(_, accountant), (_, developer)] = PRESETS;
    let people = [
        ("Olivia Owner", "owner@demo.example.com", "Demo Hosting Ltd", None),
        ("Alex Accountant", "accountant@demo.example.com", "Alex's Books", Some(accountant)),
        ("Wendy Developer", "developer@demo.example.com", "Wendy's Web Studio", Some(developer)),
    ];
    let mut tx = crate::db::begin(db).await?;
    let mut owner_account = None;
    for (name, email, account, grant) in &people {
        let email = Email::parse(email)?;
        let new = NewUser { name, email: &email, password_hash: &hash, account_name: account, verified: true };
        let Registered::Created { user_id, account_id } = login_store::create_user(&mut tx, new).await? else {
            return Ok(format!(
                "The demo exists already. Sign in as owner@demo.example.com with the password {DEMO_PASSWORD}."
            ));
        };
        match (grant, owner_account) {
            (None, _) => owner_account = Some(account_id),
            (Some(preset), Some(owner_account)) => {
                sqlx::query("INSERT INTO memberships (account_id, user_id, permissions) VALUES ($1, $2, $3)")
                    .bind(owner_account)
                    .bind(user_id)
                    .bind(Grant::Chosen(preset.iter().copied().collect()).keys())
                    .execute(&mut *tx)
                    .await?;
            }
            (Some(_), None) => unreachable!("the owner comes first"),
        }
    }
    if let Some(account) = owner_account {
        sections(&mut tx, account).await?;
    }
    tx.commit().await?;
    Ok(format!(
        "Demo ready. Every demo login has the password {DEMO_PASSWORD}:\n  \
         owner@demo.example.com       owner of Demo Hosting Ltd\n  \
         accountant@demo.example.com  member with View & Pay Invoices, View & Accept Quotes, View Emails\n  \
         developer@demo.example.com   member with the web developer's permissions"
    ))
}

/// Fills every client-area section of `account_id` with a little realistic
/// data: services, domains, invoices, quotes, a ticket, referrals, a
/// contact, credit. Used by `seed-demo` and by the tests.
pub async fn sections(conn: &mut sqlx::PgConnection, account_id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE accounts SET address = '1 Harbour Street', city = 'Leeds', region = 'West Yorkshire', postcode = 'LS1 4AB',
                country = 'United Kingdom', phone = '+44 113 496 0000', tax_id = 'GB123456789', credit_cents = 10000,
                affiliate_balance_cents = 6000, referral_code = coalesce(referral_code, substr(md5(id::text), 1, 10))
         WHERE id = $1",
    )
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    let web = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO services (id, account_id, product_id, parent_id, domain, status, billing_cycle, amount_cents, next_due_date) VALUES
           ($2, $1, '00000000-0000-4000-8000-000000000002', NULL, 'shop-' || substr(md5($1::text), 1, 6) || '.example.com', 'Active', 'Monthly', 999, current_date + 20),
           (gen_random_uuid(), $1, '00000000-0000-4000-8000-000000000006', $2, 'shop-' || substr(md5($1::text), 1, 6) || '.example.com', 'Active', 'Monthly', 300, current_date + 20),
           (gen_random_uuid(), $1, '00000000-0000-4000-8000-000000000004', NULL, 'vps-' || substr(md5($1::text), 1, 6) || '.example.com', 'Active', 'Annually', 15000, current_date + 200)",
    )
    .bind(account_id)
    .bind(web)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO domains (id, account_id, name, registered_on, expires_on, status, nameservers, whois_name, whois_email) VALUES
           (gen_random_uuid(), $1, 'shop-' || substr(md5($1::text), 1, 6) || '.example.com', current_date - 400, current_date + 330, 'Active', '{ns1.example.net,ns2.example.net}', 'Web Master', 'web@example.com'),
           (gen_random_uuid(), $1, 'brand-' || substr(md5($1::text), 1, 6) || '.example.org', current_date - 30, current_date + 335, 'Active', '{ns1.example.net,ns2.example.net}', 'Web Master', 'web@example.com')",
    )
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    use crate::sections::invoices::{self, Line};
    let (paid, _) = invoices::create(
        conn,
        account_id,
        &[Line { description: "Business hosting, last month".into(), amount_cents: 999 }],
        7,
    )
    .await?;
    sqlx::query("UPDATE invoices SET status = 'Paid', paid_at = now(), issued_on = current_date - 30, due_on = current_date - 23 WHERE id = $1").bind(paid).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO transactions (id, account_id, invoice_id, gateway, reference, amount_cents) VALUES (gen_random_uuid(), $1, $2, 'Test gateway', 'TEST-SEED', 999)")
        .bind(account_id).bind(paid).execute(&mut *conn).await?;
    invoices::create(
        conn,
        account_id,
        &[
            Line { description: "Business hosting".into(), amount_cents: 999 },
            Line { description: "Daily Backups".into(), amount_cents: 300 },
        ],
        14,
    )
    .await?;
    for (subject, valid_days, amount) in
        [("Migration of 12 websites", 30, 45000), ("Dedicated server setup", -5, 12000)]
    {
        let q = Uuid::new_v4();
        sqlx::query("INSERT INTO quotes (id, account_id, subject, status, valid_until, total_cents) VALUES ($1, $2, $3, 'Open', current_date + $4, $5)")
            .bind(q).bind(account_id).bind(subject).bind(valid_days).bind(amount).execute(&mut *conn).await?;
        sqlx::query("INSERT INTO quote_lines (quote_id, description, amount_cents) VALUES ($1, $2, $3)")
            .bind(q)
            .bind(subject)
            .bind(amount)
            .execute(&mut *conn)
            .await?;
    }
    let t = Uuid::new_v4();
    sqlx::query("INSERT INTO tickets (id, account_id, department, subject, status) VALUES ($1, $2, 'Support', 'Email delivery is slow', 'Answered')")
        .bind(t).bind(account_id).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO ticket_messages (ticket_id, author_id, from_staff, body) VALUES
           ($1, (SELECT user_id FROM memberships WHERE account_id = $2 AND is_owner), false, 'Mail to our customers takes an hour to arrive.'),
           ($1, NULL, true, 'We found a stuck queue on the mail server and cleared it. Delivery is back to normal.')",
    )
    .bind(t).bind(account_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO referrals (account_id, referred_name, signed_up_on, commission_cents, status) VALUES
           ($1, 'Acme Bakery', current_date - 60, 2500, 'Cleared'), ($1, 'Blue Fox Design', current_date - 10, 3500, 'Pending')",
    )
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO contacts (id, account_id, name, email, notify_invoices, confirmed_at) VALUES (gen_random_uuid(), $1, 'Accounts Desk', 'accounts@example.com', true, now())")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

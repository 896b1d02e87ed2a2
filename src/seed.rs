//! Logins made from the command line: staff, and a small demo.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    auth::{password::{self, Hasher}, registration::{self, NewUser, Registered}},
    domain::email::Email,
};

pub async fn create_staff(db: &PgPool, email: &str, pass: &str) -> anyhow::Result<()> {
    let email = Email::parse(email)?;
    password::check_strength(pass).map_err(anyhow::Error::msg)?;
    let hash = Hasher::new(1).hash(pass).await?;
    let name = email.as_str().split('@').next().unwrap_or("Staff").to_string();
    let done = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, is_staff) VALUES ($1, $2, $3, $4, true) ON CONFLICT (email) DO NOTHING",
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
    let people = [
        ("Olivia Owner", "owner@demo.example.com", "Demo Hosting Ltd", None),
        ("Alex Accountant", "accountant@demo.example.com", "Alex's Books", Some(vec!["invoices", "quotes", "emails"])),
        ("Wendy Developer", "developer@demo.example.com", "Wendy's Web Studio",
         Some(vec!["products", "manageproducts", "productsso", "domains", "managedomains", "tickets"])),
    ];
    let mut tx = db.begin().await?;
    let mut owner_account = None;
    for (name, email, account, grant) in &people {
        let email = Email::parse(email)?;
        let new = NewUser { name, email: &email, password_hash: &hash, account_name: account };
        let Registered::Created { user_id, account_id } = registration::create(&mut tx, new).await? else {
            return Ok(format!("The demo exists already. Sign in as owner@demo.example.com with the password {DEMO_PASSWORD}."));
        };
        match (grant, owner_account) {
            (None, _) => owner_account = Some(account_id),
            (Some(keys), Some(owner_account)) => {
                sqlx::query("INSERT INTO memberships (account_id, user_id, permissions) VALUES ($1, $2, $3)")
                    .bind(owner_account)
                    .bind(user_id)
                    .bind(keys.iter().map(|k| k.to_string()).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await?;
            }
            (Some(_), None) => unreachable!("the owner comes first"),
        }
    }
    tx.commit().await?;
    Ok(format!(
        "Demo ready. Every demo login has the password {DEMO_PASSWORD}:\n  \
         owner@demo.example.com       owner of Demo Hosting Ltd\n  \
         accountant@demo.example.com  member with View & Pay Invoices, View & Accept Quotes, View Emails\n  \
         developer@demo.example.com   member with the web developer's permissions"
    ))
}

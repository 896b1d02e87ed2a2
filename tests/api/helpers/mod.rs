//! The test harness: the real app on port 0, its own database, a loopback
//! SMTP server, and browsers that keep cookies.

pub mod api;
pub mod browser;
pub mod postgres;
pub mod receiver;
pub mod smtp;

use std::{collections::HashMap, time::Duration};

use panel::{app::App, config::Config};
use sqlx::PgPool;

pub use browser::Browser;
pub use smtp::{MailSink, ReceivedMail};

pub struct TestApp {
    pub address: String,
    pub db: PgPool,
    pub db_url: String,
    pub mail: MailSink,
    /// The clock two-factor codes are checked against: it stands still
    /// until a test moves it.
    pub clock: panel::clock::Clock,
    /// Where `/metrics` is served, when the test set METRICS_ADDR.
    pub metrics_address: Option<String>,
}

pub struct Options {
    /// false: no SMTP_URL (the local mailbox mode).
    pub smtp: bool,
    /// Start the SMTP server later (the "mail server is down" drills).
    pub smtp_down: bool,
    /// Another database (a drill's own cluster) instead of a fresh one.
    pub db_url: Option<String>,
    /// Take client addresses from X-Forwarded-For (rate-limit drills).
    pub trust_forwarded: bool,
    /// Choose the built-in stand-ins (test gateway, local control panel and
    /// registrar) explicitly; false leaves them unset, which outside the
    /// quick start means none is connected.
    pub stand_ins: bool,
    /// More settings, as the environment would give them.
    pub settings: Vec<(&'static str, &'static str)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            smtp: true,
            smtp_down: false,
            db_url: None,
            trust_forwarded: false,
            stand_ins: true,
            settings: Vec::new(),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let db_url = match opts.db_url {
        Some(url) => url,
        None => postgres::fresh_database().await,
    };
    let mail = if opts.smtp_down { MailSink::reserve().await } else { MailSink::start().await };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db_url.clone());
    vars.insert("BASE_URL".into(), format!("http://127.0.0.1:{port}"));
    vars.insert("LISTEN_ADDR".into(), format!("127.0.0.1:{port}"));
    vars.insert("DB_MAX_CONNECTIONS".into(), "5".into());
    if opts.smtp {
        vars.insert("SMTP_URL".into(), format!("smtp://127.0.0.1:{}", mail.port()));
    }
    if opts.trust_forwarded {
        vars.insert("TRUST_X_FORWARDED_FOR".into(), "true".into());
    }
    if opts.stand_ins {
        vars.insert("PAYMENT_GATEWAY".into(), "test".into());
        vars.insert("CONTROL_PANEL".into(), "local".into());
        vars.insert("REGISTRAR".into(), "local".into());
    }
    for (k, v) in &opts.settings {
        vars.insert((*k).into(), (*v).into());
    }
    let mut config = Config::from_vars(&vars).expect("test config is valid");
    config.mail_retry_base = Duration::from_millis(300);
    config.mail_poll_interval = Duration::from_millis(100);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // The start of a 30-second step, so "one step later" is exact in tests.
    let clock = panel::clock::Clock::manual(now - now % 30);
    config.clock = clock.clone();
    let db = panel::db::connect(&db_url, 5).await.expect("test database reachable");
    let mut app = App::with_listener(config, db.clone(), listener);
    let mut metrics_address = None;
    if vars.contains_key("METRICS_ADDR") {
        let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        metrics_address = Some(format!("http://{}", metrics.local_addr().unwrap()));
        app = app.with_metrics(metrics);
    }
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp { address: format!("http://127.0.0.1:{port}"), db, db_url, mail, clock, metrics_address }
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Registers a login (and its own account, "<name>'s account") as a
    /// person would: the form, then the link mailed to the address. Returns
    /// a browser signed in as it, its address confirmed.
    pub async fn register(&self, name: &str, email: &str) -> Browser {
        let b = self.browser();
        self.fill_registration(&b, name, email, &format!("{name}'s account")).await;
        self.confirm_address(&b, email).await;
        b
    }

    /// Registers without confirming the address (the mail server is down,
    /// or the test is about an unconfirmed login) and signs in with the
    /// password.
    pub async fn register_unconfirmed(&self, name: &str, email: &str) -> Browser {
        let b = self.browser();
        self.fill_registration(&b, name, email, &format!("{name}'s account")).await;
        b.post_form("/login", &[("email", email), ("password", PASSWORD)]).await.assert_redirect_to("/");
        b
    }

    /// The registration form, answered "check your mail".
    pub async fn fill_registration(&self, b: &Browser, name: &str, email: &str, account: &str) -> browser::Page {
        let res = b
            .post_form(
                "/register",
                &[("name", name), ("email", email), ("password", PASSWORD), ("account_name", account)],
            )
            .await;
        assert_eq!(res.status, 200, "registration of {email} failed: {}", res.body);
        assert!(res.text().contains("Check your mail"), "{}", res.body);
        res
    }

    /// Opens the confirmation link mailed to `email` in `b` and confirms:
    /// `b` is then signed in as that login. The mail, for its contents.
    pub async fn confirm_address(&self, b: &Browser, email: &str) -> ReceivedMail {
        let mail = self.mail.wait_for(&email.trim().to_lowercase(), "Confirm your email address").await;
        let link = link_in(&mail, self, "/confirm/");
        b.post_form_from(&link, &link, &[]).await.assert_redirect_to("/");
        mail
    }

    pub async fn user_id(&self, email: &str) -> uuid::Uuid {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&self.db).await.unwrap()
    }

    pub async fn own_account_id(&self, email: &str) -> uuid::Uuid {
        sqlx::query_scalar(
            "SELECT m.account_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1 AND m.is_owner",
        )
        .bind(email)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.db).await.unwrap()
    }

    /// Sessions of the app's database idle in a transaction begun over a
    /// quarter of a second ago: each holds its locks and holds back vacuum
    /// until it ends. (A short transaction is idle in the moment between its
    /// statements; the workers' are, while the app runs.)
    pub async fn long_open_transactions(&self) -> i64 {
        self.count(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'
               AND xact_start < now() - interval '250 ms'",
        )
        .await
    }

    /// Whether `sql`, a `SELECT .. FOR UPDATE NOWAIT`, gets its rows' locks
    /// at once (false: someone holds one).
    pub async fn can_lock_now(&self, sql: &str) -> bool {
        let mut tx = panel::db::begin(&self.db).await.unwrap();
        let outcome = sqlx::query(sql).fetch_all(&mut *tx).await;
        tx.rollback().await.unwrap();
        match outcome {
            Ok(_) => true,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => false,
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// The path of the first link in a mail's text that starts with
/// `path_prefix` on this app.
pub fn link_in(mail: &ReceivedMail, app: &TestApp, path_prefix: &str) -> String {
    let start = format!("{}{}", app.address, path_prefix);
    mail.text
        .split_whitespace()
        .find(|w| w.starts_with(&start))
        .unwrap_or_else(|| panic!("no link {start} in mail: {}", mail.text))
        .trim_start_matches(&app.address)
        .to_string()
}

/// The owner's browser invites `email`: `perms` empty means All Permissions.
pub async fn invite(owner: &Browser, email: &str, perms: &[&str]) -> browser::Page {
    let mut fields = vec![("email", email), ("mode", if perms.is_empty() { "all" } else { "choose" })];
    fields.extend(perms.iter().map(|p| ("permissions", *p)));
    owner.post_form("/users/invite", &fields).await
}

impl TestApp {
    /// Invites `email` from `owner` and returns the link path from the mail.
    pub async fn invite_and_get_link(
        &self,
        owner: &Browser,
        account_name: &str,
        email: &str,
        perms: &[&str],
    ) -> String {
        let res = invite(owner, email, perms).await;
        res.assert_redirect_to("/users");
        let subject = format!("{account_name} has invited you to their account");
        let mail = self.mail.wait_for(email, &subject).await;
        link_in(&mail, self, "/invitations/")
    }

    /// A member of `owner`'s account, signed in and working in it.
    pub async fn member_of(
        &self,
        owner: &Browser,
        account_name: &str,
        name: &str,
        email: &str,
        perms: &[&str],
    ) -> Browser {
        let link = self.invite_and_get_link(owner, account_name, email, perms).await;
        let b = self.browser();
        b.post_form(&format!("{link}/register"), &[("name", name), ("password", PASSWORD)])
            .await
            .assert_redirect_to("/");
        b
    }
}

pub const STAFF_PASSWORD: &str = "staff password 123";

impl TestApp {
    /// A support staff login (made as `create-staff` makes it), signed in,
    /// with the two-factor sign-in staff must use set up.
    pub async fn staff(&self, email: &str) -> Browser {
        self.staff_with_key(email).await.0
    }

    /// `staff`, with the authenticator the login was set up with.
    pub async fn staff_with_key(&self, email: &str) -> (Browser, Authenticator) {
        panel::seed::create_staff(&self.db, email, STAFF_PASSWORD).await.unwrap();
        let b = self.browser();
        b.post_form("/login", &[("email", email), ("password", STAFF_PASSWORD)]).await.assert_redirect_to("/");
        let key = self.turn_on_two_factor(&b).await;
        (b, key)
    }
}

impl TestApp {
    /// Fills every section of `email`'s own account with demo data.
    pub async fn seed_sections(&self, email: &str) -> uuid::Uuid {
        let account = self.own_account_id(email).await;
        let mut conn = self.db.acquire().await.unwrap();
        panel::seed::sections(&mut conn, account).await.unwrap();
        account
    }

    /// The first row of `table` in `account` (for ids in URLs).
    pub async fn first_id(&self, table: &str, account: uuid::Uuid) -> String {
        sqlx::query_scalar(&format!("SELECT id::text FROM {table} WHERE account_id = $1 ORDER BY id LIMIT 1"))
            .bind(account)
            .fetch_one(&self.db)
            .await
            .unwrap_or_else(|_| panic!("no {table} row in the account"))
    }
}

/// A login's authenticator app, as the tests hold it: the key read from the
/// setup page, and the recovery codes shown once.
pub struct Authenticator {
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// Sets up two-factor sign-in for the login signed in at `b`, as a
    /// person would: the key from the page into the app, a code back.
    pub async fn turn_on_two_factor(&self, b: &Browser) -> Authenticator {
        b.post_form("/security/totp/start", &[]).await.assert_redirect_to("/security/totp");
        let page = b.get("/security/totp").await;
        let key = page.texts("#totp-key").concat().replace(' ', "");
        let secret =
            totp_rs::Secret::try_from_base32(&key).expect("the page shows the key in base32").as_bytes().to_vec();
        let done = b.post_form("/security/totp/confirm", &[("code", &self.code_now(&secret))]).await;
        assert_eq!(done.status, 200, "{}", done.body);
        let recovery_codes = done.texts("#recovery-codes code");
        assert_eq!(recovery_codes.len(), 10);
        // The app's next code comes with the next step (a code counts once).
        self.clock.advance(30);
        Authenticator { secret, recovery_codes }
    }

    /// The code the authenticator app shows now.
    pub fn code_now(&self, secret: &[u8]) -> String {
        panel::security::totp::code_at(secret, self.clock.unix_now())
    }
}

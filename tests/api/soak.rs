//! The soak drill: two copies of the real binary on a private Postgres
//! cluster (the tests' shared cluster is never restarted), a loopback mail
//! server, and owners inviting, accepting, changing and removing members,
//! opening tickets and adding contacts, while the drill kills a copy with
//! SIGKILL, restarts Postgres and stops the mail server, at random from a
//! printed seed. One step at a time, so a seed replays the same drill.
//!
//! In the test command it runs 40 s with seed 1; `scripts/soak` runs it for
//! 10 minutes (or `SOAK_SECONDS`) with a random seed (or `SOAK_SEED`).
//!
//! At the end: every invitation answered with success has its mail
//! delivered, none more than twice (how many twice is printed), no answer
//! was a 500, each account has exactly one owner, and nothing is left in
//! the outbox.

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use panel::db::embedded::EmbeddedPostgres;

use crate::helpers::{postgres, Browser, MailSink, PASSWORD};

/// xorshift64*: a seeded sequence with nothing to install.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One copy of the binary, on a port it keeps across restarts.
struct Copy {
    port: u16,
    child: Option<Child>,
    /// Steps until a killed copy is started again.
    down_for: usize,
}

impl Copy {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self, db_url: &str, smtp_port: u16) {
        let child = Command::new(env!("CARGO_BIN_EXE_panel"))
            .env("DATABASE_URL", db_url)
            .env("LISTEN_ADDR", format!("127.0.0.1:{}", self.port))
            .env("BASE_URL", self.base())
            .env("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("DB_MAX_CONNECTIONS", "4")
            .env("INVITATIONS_PER_HOUR", "100000")
            .env("ACCOUNT_MAILS_PER_HOUR", "100000")
            .env("REGISTRATIONS_PER_MINUTE", "100000")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the panel binary starts");
        self.child = Some(child);
    }

    /// SIGTERM, as a service manager stops it: current sends finish or are
    /// cut off within the stop grace.
    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill only sends a signal to a pid; no memory is involved.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM)
            };
            let _ = child.wait();
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What an owner has done that the end of the drill checks.
struct Owner {
    browser: Browser,
    /// Invited addresses answered with success, not yet accepted.
    invited: Vec<String>,
    /// Accepted members (user ids as text).
    members: Vec<String>,
}

#[derive(Default)]
struct Tally {
    answers: HashMap<u16, usize>,
    /// The first page of each status other than a redirect, for the report.
    examples: HashMap<u16, String>,
    unreachable: usize,
    chaos: Vec<String>,
}

impl Tally {
    fn saw(
        &mut self,
        answer: Result<crate::helpers::browser::Page, reqwest::Error>,
    ) -> Option<crate::helpers::browser::Page> {
        match answer {
            Ok(page) => {
                *self.answers.entry(page.status).or_default() += 1;
                if page.status != 303 {
                    self.examples.entry(page.status).or_insert_with(|| page.texts("main").concat());
                }
                Some(page)
            }
            Err(_) => {
                self.unreachable += 1;
                None
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_healthy(base: &str) {
    for _ in 0..400 {
        if reqwest::get(format!("{base}/healthz")).await.map(|r| r.status() == 200).unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{base} did not start");
}

/// The path of the first link to `prefix` in the newest mail to `to` whose
/// subject holds `subject`.
fn link_to(sink: &MailSink, to: &str, subject: &str, prefix: &str) -> Option<String> {
    let mail = sink.all().into_iter().rev().find(|m| m.to == to && m.subject.contains(subject))?;
    let word = mail.text.split_whitespace().find(|w| w.contains(prefix))?;
    Some(word[word.find(prefix)?..].to_string())
}

async fn count(db: &sqlx::PgPool, sql: &str) -> i64 {
    for _ in 0..100 {
        if let Ok(n) = sqlx::query_scalar(sql).fetch_one(db).await {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the drill's database did not answer: {sql}");
}

fn restart_postgres(pg: EmbeddedPostgres, root: &std::path::Path) -> EmbeddedPostgres {
    pg.stop();
    drop(pg);
    EmbeddedPostgres::start(root).expect("the drill's Postgres starts again")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_two_copies_through_kills_database_restarts_and_mail_outages() {
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let seed: u64 = std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    eprintln!("soak: seed {seed}, {seconds} s (replay with SOAK_SEED={seed} SOAK_SECONDS={seconds} scripts/soak)");
    let mut dice = Dice(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);

    let (pg, root, db_url) = postgres::private_cluster().await;
    let mut pg = Some(pg);
    let db = panel::db::connect(&db_url, 2).await.unwrap();
    let sink = MailSink::start().await;
    let mut copies =
        [Copy { port: free_port(), child: None, down_for: 0 }, Copy { port: free_port(), child: None, down_for: 0 }];
    for c in &mut copies {
        c.start(&db_url, sink.port());
        wait_healthy(&c.base()).await;
    }

    // Three owners, registered and confirmed through the copies.
    let mut owners = Vec::new();
    for n in 0..3 {
        let email = format!("owner{n}@example.com");
        let account = format!("Owner {n} Ltd");
        let b = Browser::new(&copies[n % 2].base());
        let fields =
            [("name", "Owner"), ("email", email.as_str()), ("password", PASSWORD), ("account_name", account.as_str())];
        assert_eq!(b.post_form("/register", &fields).await.status, 200);
        let confirm = loop {
            if let Some(l) = link_to(&sink, &email, "Confirm your email address", "/confirm/") {
                break l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        b.post_form_from(&confirm, &confirm, &[]).await.assert_redirect_to("/");
        owners.push(Owner { browser: b, invited: Vec::new(), members: Vec::new() });
    }

    let mut tally = Tally::default();
    let mut answered_invites: Vec<String> = Vec::new();
    let mut mail_down_for = 0usize;
    let mut serial = 0usize;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut steps = 0usize;
    while Instant::now() < deadline {
        steps += 1;
        // Copies killed earlier come back; so does the mail server.
        for c in &mut copies {
            if c.child.is_none() {
                if c.down_for == 0 {
                    c.start(&db_url, sink.port());
                    wait_healthy(&c.base()).await;
                } else {
                    c.down_for -= 1;
                }
            }
        }
        if mail_down_for > 0 {
            mail_down_for -= 1;
            if mail_down_for == 0 {
                sink.come_up().await;
            }
        }
        // Chaos, now and then: about one step in a hundred (every few
        // seconds at this pace).
        if dice.chance(1) {
            match dice.below(3) {
                0 => {
                    let which = dice.below(2);
                    if copies[1 - which].child.is_some() {
                        copies[which].kill();
                        copies[which].down_for = 1 + dice.below(4);
                        tally.chaos.push(format!("step {steps}: SIGKILL copy {which}"));
                    }
                }
                1 => {
                    let current = pg.take().unwrap();
                    let dir = root.clone();
                    pg = Some(tokio::task::spawn_blocking(move || restart_postgres(current, &dir)).await.unwrap());
                    tally.chaos.push(format!("step {steps}: Postgres restarted"));
                }
                _ => {
                    if mail_down_for == 0 {
                        sink.stop();
                        mail_down_for = 2 + dice.below(6);
                        tally.chaos.push(format!("step {steps}: mail server stopped"));
                    }
                }
            }
        }
        let live: Vec<String> = copies.iter().filter(|c| c.child.is_some()).map(Copy::base).collect();
        let base = live[dice.below(live.len())].clone();
        let o = dice.below(owners.len());
        let owner = &mut owners[o];
        let b = owner.browser.on(&base);
        serial += 1;
        match dice.below(6) {
            0 => {
                let email = format!("p{serial}@example.net");
                let fields = [("email", email.as_str()), ("mode", "all")];
                if let Some(page) = tally.saw(b.try_post_form("/users/invite", "/users/invite", &fields).await) {
                    if page.status == 303 && page.location() == Some("/users") {
                        answered_invites.push(email.clone());
                        owner.invited.push(email);
                    }
                }
            }
            1 => {
                // An invited person whose mail came accepts, creating a login.
                let Some(i) = (0..owner.invited.len())
                    .find(|&i| link_to(&sink, &owner.invited[i], "has invited you", "/invitations/").is_some())
                else {
                    continue;
                };
                let email = owner.invited[i].clone();
                let link = link_to(&sink, &email, "has invited you", "/invitations/").unwrap();
                let person = Browser::new(&base);
                let fields = [("name", "Person"), ("password", PASSWORD)];
                let answer = person.try_post_form(&link, &format!("{link}/register"), &fields).await;
                if let Some(page) = tally.saw(answer) {
                    if page.status == 303 {
                        owner.invited.remove(i);
                        let id: Option<String> = sqlx::query_scalar("SELECT id::text FROM users WHERE email = $1")
                            .bind(&email)
                            .fetch_optional(&db)
                            .await
                            .ok()
                            .flatten();
                        owner.members.extend(id);
                    }
                }
            }
            2 => {
                if owner.members.is_empty() {
                    continue;
                }
                let id = owner.members[dice.below(owner.members.len())].clone();
                let path = format!("/users/{id}/permissions");
                let fields: Vec<(&str, &str)> = if dice.chance(50) {
                    vec![("mode", "all")]
                } else {
                    vec![("mode", "choose"), ("permissions", "invoices"), ("permissions", "tickets")]
                };
                tally.saw(b.try_post_form(&path, &path, &fields).await);
            }
            3 => {
                if owner.members.is_empty() {
                    continue;
                }
                let id = owner.members.remove(dice.below(owner.members.len()));
                let path = format!("/users/{id}/remove");
                tally.saw(b.try_post_form(&path, &path, &[]).await);
            }
            4 => {
                let subject = format!("Question {serial}");
                let fields = [("department", "Support"), ("subject", subject.as_str()), ("message", "Hello.")];
                tally.saw(b.try_post_form("/tickets/new", "/tickets/new", &fields).await);
            }
            _ => {
                let email = format!("c{serial}@example.net");
                let fields = [("name", "Desk"), ("email", email.as_str()), ("notify", "support")];
                tally.saw(b.try_post_form("/contacts/new", "/contacts/new", &fields).await);
            }
        }
    }

    // The end: the mail server back; both copies stopped as a service
    // manager stops them, so no claim is held by a live sender; then every
    // claim left by a killed copy and every retry is brought forward (as
    // their leases and backoff would, later), and the copies drain the
    // outbox.
    if mail_down_for > 0 {
        sink.come_up().await;
    }
    for c in &mut copies {
        c.terminate();
    }
    let _ = sqlx::query("UPDATE mail_outbox SET next_attempt_at = now() WHERE status = 'pending'").execute(&db).await;
    for c in &mut copies {
        c.start(&db_url, sink.port());
        wait_healthy(&c.base()).await;
    }
    let settle = Instant::now() + Duration::from_secs(90);
    loop {
        let left = count(&db, "SELECT count(*) FROM mail_outbox WHERE status <> 'sent'").await;
        if left == 0 || Instant::now() > settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let delivered = sink.all();
    let invitation_mails =
        |email: &str| delivered.iter().filter(|m| m.to == email && m.subject.contains("has invited you")).count();
    let missing: Vec<&String> = answered_invites.iter().filter(|e| invitation_mails(e) == 0).collect();
    let thrice: Vec<&String> = answered_invites.iter().filter(|e| invitation_mails(e) > 2).collect();
    let mut copies_of: HashMap<(String, String, String), usize> = HashMap::new();
    for m in &delivered {
        *copies_of.entry((m.to.clone(), m.subject.clone(), m.text.clone())).or_default() += 1;
    }
    let twice = copies_of.values().filter(|n| **n == 2).count();
    let more = copies_of.values().filter(|n| **n > 2).count();
    let owners_wrong = count(
        &db,
        "SELECT count(*) FROM accounts a WHERE (SELECT count(*) FROM memberships m WHERE m.account_id = a.id AND m.is_owner) <> 1",
    )
    .await;
    let stuck = count(&db, "SELECT count(*) FROM mail_outbox WHERE status <> 'sent'").await;
    let mut answers: Vec<_> = tally.answers.iter().collect();
    answers.sort();
    eprintln!(
        "soak: seed {seed}, {steps} steps, answers {answers:?}, {} unreachable (copy killed), {} invitations answered, \
         {} mails delivered, {twice} delivered twice, {more} more than twice; chaos: {:?}; other answers: {:?}",
        tally.unreachable,
        answered_invites.len(),
        delivered.len(),
        tally.chaos,
        tally.examples
    );

    for email in &thrice {
        let rows: Vec<(i64, String, i32)> =
            sqlx::query_as("SELECT id, status, attempts FROM mail_outbox WHERE to_email = $1 ORDER BY id")
                .bind(email)
                .fetch_all(&db)
                .await
                .unwrap_or_default();
        eprintln!(
            "soak: {email} was mailed {} times; its outbox rows (id, status, attempts): {rows:?}",
            invitation_mails(email)
        );
    }
    for c in &mut copies {
        c.kill();
    }
    db.close().await;
    if let Some(pg) = pg {
        tokio::task::spawn_blocking(move || pg.stop_immediately()).await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);

    assert!(!tally.chaos.is_empty(), "the drill made some chaos (seed {seed})");
    assert_eq!(tally.answers.get(&500).copied().unwrap_or(0), 0, "no 500 answers (seed {seed})");
    assert!(missing.is_empty(), "invitations answered with success but never mailed: {missing:?} (seed {seed})");
    assert!(thrice.is_empty() && more == 0, "mail sent more than twice: {thrice:?} (seed {seed})");
    assert_eq!(owners_wrong, 0, "every account has exactly one owner (seed {seed})");
    assert_eq!(stuck, 0, "nothing left in the outbox (seed {seed})");
}

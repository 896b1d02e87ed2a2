//! Configuration from the environment (DESIGN.md section 6). Every value is
//! checked at start-up so a typo stops the server with one clear line.

use std::{
    collections::HashMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use lettre::message::Mailbox;

use crate::clock::Clock;

mod outside;
use outside::choice;
pub use outside::{ControlPanelKind, OutsideSystems, PaymentGatewayKind, RegistrarKind};

#[derive(Clone)]
pub struct Config {
    /// `None`: start the embedded local Postgres cluster under `data_dir`.
    pub database_url: Option<String>,
    /// `None`: keep mail in the outbox for the local mailbox page.
    pub smtp_url: Option<String>,
    pub mail_from: Mailbox,
    /// Public URL without a trailing slash, used in mailed links.
    pub base_url: String,
    pub listen_addr: SocketAddr,
    /// Where `/metrics` is served (Prometheus text format); `None`: not at
    /// all. Never the public listener.
    pub metrics_addr: Option<SocketAddr>,
    pub db_max_connections: u32,
    /// How many argon2id hashes may run at once (each takes 19 MiB).
    pub hash_concurrency: usize,
    pub data_dir: PathBuf,
    /// First retry delay of the mail worker; doubles on each failure.
    pub mail_retry_base: Duration,
    pub mail_max_attempts: i32,
    /// How often the mail worker looks for due mail when nobody woke it.
    pub mail_poll_interval: Duration,
    /// Behind a reverse proxy: take the client's address from the last
    /// X-Forwarded-For entry instead of the connection's.
    pub trust_x_forwarded_for: bool,
    /// Invitations (and resends) one account may send per hour.
    pub invitations_per_hour: i64,
    /// Notices (to the owner and contacts) one account's activity may cause
    /// per hour; past it they are skipped, never the action.
    pub account_mails_per_hour: i64,
    /// Minutes before an address may get another invitation from an account.
    pub invite_cooldown_minutes: i64,
    /// The CSS and images: beside the templates in the source tree, or
    /// PANEL_STATIC_DIR for an installed binary.
    pub static_dir: PathBuf,
    /// The payment gateway, control panel and registrar the panel talks to.
    pub outside: OutsideSystems,
    /// The built-in test gateway answers this much later (fault drills).
    pub test_gateway_delay: Duration,
    /// The time two-factor codes are checked against (tests set their own).
    pub clock: Clock,
    /// Staff logins must use two-factor sign-in before the staff area opens.
    pub staff_two_factor: bool,
    /// Calls one login may make per minute through the API, across its tokens.
    pub api_calls_per_minute: i32,
    /// Live API tokens one login may hold (across its accounts).
    pub api_tokens_per_login: i64,
    /// New logins (not yet confirmed) per minute from all addresses together.
    pub registrations_per_minute: i64,
    /// Open connections served at once; past it, new ones get a quick 503.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, and may
    /// sit idle between requests, before it is closed.
    pub header_read_timeout: Duration,
    /// A request's statements may run this long, and wait for a lock this
    /// long, before the request gets "busy, try again" (see `db::begin`).
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    /// Webhook endpoints may be on private, loopback or link-local
    /// addresses (and then plain http): for tests and closed networks only.
    pub webhooks_allow_private: bool,
    /// Ports webhook endpoints may use (`WEBHOOK_PORTS`, comma-separated).
    pub webhook_ports: Vec<u16>,
    /// Logs as one JSON object per line (`LOG_FORMAT=json`) rather than
    /// lines for people to read.
    pub log_json: bool,
    /// Worked out once from BASE_URL and LISTEN_ADDR (see `allowed_hosts`).
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Config {
    /// The Host header values the panel answers to: BASE_URL's, and the
    /// listen address (for local use and health checks by address).
    pub fn allowed_hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The origins a form may come from (`scheme://host[:port]`).
    pub fn allowed_origins(&self) -> &[String] {
        &self.origins
    }
}

/// The Host values the panel answers to: BASE_URL's and the listen
/// address; with a BASE_URL on this machine, also `localhost` and
/// `127.0.0.1` on its port, as people type either (a DNS-rebinding page
/// still sends its own name, which is not among them).
fn allowed_hosts(base_url: &str, listen: SocketAddr) -> Vec<String> {
    let base = authority(base_url).to_ascii_lowercase();
    let mut hosts = vec![base.clone(), listen.to_string()];
    let (host, port) = match base.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, format!(":{p}")),
        _ => (base.as_str(), String::new()),
    };
    if matches!(host, "127.0.0.1" | "localhost") {
        hosts.extend([format!("localhost{port}"), format!("127.0.0.1{port}")]);
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    hosts
}

/// The origins forms may come from: BASE_URL's scheme for its own host,
/// plain http for the local ones.
fn origins(base_url: &str, hosts: &[String]) -> Vec<String> {
    let scheme = base_url.split("://").next().unwrap_or("http");
    let base = authority(base_url).to_ascii_lowercase();
    hosts.iter().map(|h| if *h == base { format!("{scheme}://{h}") } else { format!("http://{h}") }).collect()
}

/// `host[:port]` of a URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Logged at start-up and in panics: never the passwords inside the
/// database or SMTP URLs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url.as_deref().map(redact_password))
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_password))
            .field("mail_from", &self.mail_from.to_string())
            .field("base_url", &self.base_url)
            .field("listen_addr", &self.listen_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("db_max_connections", &self.db_max_connections)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("data_dir", &self.data_dir)
            .field("mail_retry_base", &self.mail_retry_base)
            .field("mail_max_attempts", &self.mail_max_attempts)
            .field("mail_poll_interval", &self.mail_poll_interval)
            .field("trust_x_forwarded_for", &self.trust_x_forwarded_for)
            .field("invitations_per_hour", &self.invitations_per_hour)
            .field("account_mails_per_hour", &self.account_mails_per_hour)
            .field("invite_cooldown_minutes", &self.invite_cooldown_minutes)
            .field("static_dir", &self.static_dir)
            .field("outside", &self.outside)
            .field("test_gateway_delay", &self.test_gateway_delay)
            .field("clock", &self.clock)
            .field("staff_two_factor", &self.staff_two_factor)
            .field("api_calls_per_minute", &self.api_calls_per_minute)
            .field("api_tokens_per_login", &self.api_tokens_per_login)
            .field("registrations_per_minute", &self.registrations_per_minute)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("webhooks_allow_private", &self.webhooks_allow_private)
            .field("webhook_ports", &self.webhook_ports)
            .finish()
    }
}

/// `scheme://user:secret@host/...` becomes `scheme://user:***@host/...`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let database_url = get("DATABASE_URL");
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(bad("DATABASE_URL", "must start with postgres:// or postgresql://"));
            }
        }
        let smtp_url = get("SMTP_URL");
        if let Some(url) = &smtp_url {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                .map_err(|e| bad("SMTP_URL", &format!("is not a valid smtp:// or smtps:// URL ({e})")))?;
        }
        let mail_from = get("MAIL_FROM")
            .unwrap_or_else(|| "Billing Panel <billing@localhost>".into())
            .parse::<Mailbox>()
            .map_err(|_| bad("MAIL_FROM", "must be an address such as Billing <billing@example.com>"))?;
        let base_url = get("BASE_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://"))
            || base_url.contains(char::is_whitespace)
        {
            return Err(bad("BASE_URL", "must be an http:// or https:// URL"));
        }
        let base_url = base_url.trim_end_matches('/').to_string();
        let listen_addr = get("LISTEN_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse::<SocketAddr>()
            .map_err(|_| bad("LISTEN_ADDR", "must be an address and port such as 127.0.0.1:8080"))?;
        let metrics_addr = match get("METRICS_ADDR") {
            None => None,
            Some(v) => Some(v.parse::<SocketAddr>().ok().filter(|a| *a != listen_addr).ok_or_else(|| {
                bad("METRICS_ADDR", "must be an address and port such as 127.0.0.1:9100, other than LISTEN_ADDR")
            })?),
        };
        let hosts = allowed_hosts(&base_url, listen_addr);
        let db_max_connections = number(&get, "DB_MAX_CONNECTIONS", 10, 1, 1000)?;
        let cores = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(2);
        // One core is left for serving pages while a sign-in flood hashes.
        let hash_concurrency =
            number(&get, "HASH_CONCURRENCY", (cores as u32).saturating_sub(1).max(1), 1, 64)? as usize;
        let flag = |name: &str, default: bool| match get(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(bad(name, "must be true or false")),
        };
        let trust_x_forwarded_for = flag("TRUST_X_FORWARDED_FOR", false)?;
        let staff_two_factor = flag("STAFF_REQUIRE_TWO_FACTOR", true)?;
        let webhooks_allow_private = flag("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", false)?;
        let api_calls_per_minute = number(&get, "API_CALLS_PER_MINUTE", 120, 1, 1_000_000)? as i32;
        let webhook_ports = match get("WEBHOOK_PORTS") {
            None => vec![443],
            Some(list) => list
                .split(',')
                .map(|p| p.trim().parse::<u16>().ok().filter(|p| *p > 0))
                .collect::<Option<Vec<u16>>>()
                .filter(|ports| !ports.is_empty())
                .ok_or_else(|| bad("WEBHOOK_PORTS", "must be port numbers separated by commas, such as 443,8443"))?,
        };
        let api_tokens_per_login = i64::from(number(&get, "API_TOKENS_PER_LOGIN", 10, 1, 1000)?);
        let registrations_per_minute = i64::from(number(&get, "REGISTRATIONS_PER_MINUTE", 20, 1, 100_000)?);
        // 0: the default, worked out from the process's file limit at start.
        let max_connections = number(&get, "MAX_CONNECTIONS", 0, 0, 1_000_000)? as usize;
        let header_read_timeout = Duration::from_secs(u64::from(number(&get, "HEADER_READ_TIMEOUT_SECS", 10, 1, 600)?));
        let statement_timeout =
            Duration::from_millis(u64::from(number(&get, "DB_STATEMENT_TIMEOUT_MS", 10_000, 100, 600_000)?));
        let lock_timeout = Duration::from_millis(u64::from(number(&get, "DB_LOCK_TIMEOUT_MS", 3_000, 10, 600_000)?));
        let invitations_per_hour = i64::from(number(&get, "INVITATIONS_PER_HOUR", 20, 1, 1_000_000)?);
        let account_mails_per_hour = i64::from(number(&get, "ACCOUNT_MAILS_PER_HOUR", 60, 1, 1_000_000)?);
        let invite_cooldown_minutes = i64::from(number(&get, "INVITE_RESEND_MINUTES", 10, 0, 1440)?);
        let data_dir = PathBuf::from(get("PANEL_DATA_DIR").unwrap_or_else(|| ".data".into()));
        let static_dir =
            get("PANEL_STATIC_DIR").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("static"), PathBuf::from);
        if !static_dir.join("app.css").is_file() {
            return Err(bad(
                "PANEL_STATIC_DIR",
                &format!("must be a folder holding app.css ({})", static_dir.display()),
            ));
        }
        // The stand-ins are the default only for the quick start (embedded
        // Postgres and the local mailbox); anything else starts with none.
        let quick_start = database_url.is_none() && smtp_url.is_none();
        let payment_gateway = choice(&get, "PAYMENT_GATEWAY", "test", PaymentGatewayKind::Test, quick_start)?;
        let control_panel = choice(&get, "CONTROL_PANEL", "local", ControlPanelKind::Local, quick_start)?;
        let registrar = choice(&get, "REGISTRAR", "local", RegistrarKind::Local, quick_start)?;
        let outside = OutsideSystems::new(payment_gateway, control_panel, registrar, quick_start);
        let test_gateway_delay = Duration::from_millis(number(&get, "TEST_GATEWAY_DELAY_MS", 0, 0, 60_000)?.into());
        let log_json = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(_) => return Err(bad("LOG_FORMAT", "must be text or json")),
        };
        if let Some(level) = get("RUST_LOG") {
            tracing_subscriber::EnvFilter::try_new(&level)
                .map_err(|_| bad("RUST_LOG", "is not a valid tracing filter (try info or debug)"))?;
        }
        Ok(Config {
            database_url,
            smtp_url,
            mail_from,
            listen_addr,
            metrics_addr,
            db_max_connections,
            hash_concurrency,
            data_dir,
            mail_retry_base: Duration::from_secs(5),
            mail_max_attempts: 8,
            mail_poll_interval: Duration::from_secs(2),
            trust_x_forwarded_for,
            invitations_per_hour,
            account_mails_per_hour,
            invite_cooldown_minutes,
            static_dir,
            outside,
            test_gateway_delay,
            clock: Clock::default(),
            staff_two_factor,
            api_calls_per_minute,
            api_tokens_per_login,
            registrations_per_minute,
            max_connections,
            header_read_timeout,
            statement_timeout,
            lock_timeout,
            webhooks_allow_private,
            webhook_ports,
            log_json,
            hosts: hosts.clone(),
            origins: origins(&base_url, &hosts),
            base_url,
        })
    }

    /// Whether mailed links point at this machine: the local mailbox is
    /// served only then, so a deployment without SMTP never exposes it.
    pub fn base_url_is_local(&self) -> bool {
        let host = self.base_url.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
        matches!(host, "127.0.0.1" | "localhost")
    }

    /// Cookies get `Secure` when the panel is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

fn bad(var: &str, why: &str) -> ConfigError {
    ConfigError(format!("configuration error: {var} {why}"))
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| bad(var, &format!("must be a whole number from {min} to {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn debug_never_prints_passwords() {
        let c = Config::from_vars(&vars(&[
            ("SMTP_URL", "smtps://mailer:s3cret-smtp@mail.example.com:465"),
            ("DATABASE_URL", "postgres://panel:s3cret-db@db.example.com/panel"),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("smtps://mailer:***@mail.example.com:465"), "{shown}");
    }

    #[test]
    fn stand_ins_are_the_default_only_in_the_quick_start() {
        let quick = Config::from_vars(&vars(&[])).unwrap().outside;
        assert_eq!(quick.payment_gateway, Some(PaymentGatewayKind::Test));
        assert_eq!((quick.control_panel, quick.registrar), (Some(ControlPanelKind::Local), Some(RegistrarKind::Local)));
        assert_eq!(quick.notice(), None, "the quick start needs no banner");
        for production_like in [
            vars(&[("DATABASE_URL", "postgres://db.example.com/panel")]),
            vars(&[("SMTP_URL", "smtp://127.0.0.1:2525")]),
        ] {
            let o = Config::from_vars(&production_like).unwrap().outside;
            assert_eq!((o.payment_gateway, o.control_panel, o.registrar), (None, None, None));
            assert_eq!(o.notice(), None);
            assert!(o.startup_lines().iter().all(|l| l.contains("none, not connected")), "{:?}", o.startup_lines());
        }
    }

    #[test]
    fn stand_ins_set_outside_the_quick_start_are_announced() {
        let o = Config::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://db.example.com/panel"),
            ("PAYMENT_GATEWAY", "test"),
            ("REGISTRAR", "none"),
        ]))
        .unwrap()
        .outside;
        assert_eq!((o.payment_gateway, o.control_panel, o.registrar), (Some(PaymentGatewayKind::Test), None, None));
        assert_eq!(o.notice().map(|n| &**n), Some("Test payment gateway: no money moves."));
        assert!(o.startup_lines()[0].contains("test gateway, no money moves"));
        let quick_none = Config::from_vars(&vars(&[("PAYMENT_GATEWAY", "none")])).unwrap().outside;
        assert_eq!(quick_none.payment_gateway, None);
    }

    #[test]
    fn unknown_outside_systems_are_refused() {
        for (var, value) in [("PAYMENT_GATEWAY", "stripe"), ("CONTROL_PANEL", "cpanel"), ("REGISTRAR", "Local")] {
            let e = Config::from_vars(&vars(&[(var, value)])).unwrap_err();
            assert!(e.to_string().contains(var) && e.to_string().contains("or none"), "{e}");
        }
    }

    #[test]
    fn allowed_hosts_and_origins_come_from_base_url_and_the_listen_address() {
        let c =
            Config::from_vars(&vars(&[("BASE_URL", "https://Panel.Example.com/"), ("LISTEN_ADDR", "127.0.0.1:9000")]))
                .unwrap();
        assert_eq!(c.allowed_hosts(), ["panel.example.com".to_string(), "127.0.0.1:9000".to_string()]);
        assert_eq!(c.allowed_origins(), ["https://panel.example.com".to_string(), "http://127.0.0.1:9000".to_string()]);
        // The quick start answers to localhost too, on the same port only.
        let local = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(local.allowed_hosts(), ["127.0.0.1:8080".to_string(), "localhost:8080".to_string()]);
        assert!(!local.allowed_hosts().contains(&"localhost:9999".to_string()));
    }

    #[test]
    fn a_static_dir_without_the_stylesheet_is_refused() {
        let e = Config::from_vars(&vars(&[("PANEL_STATIC_DIR", "/nonexistent")])).unwrap_err();
        assert!(e.to_string().contains("PANEL_STATIC_DIR"), "{e}");
        assert!(Config::from_vars(&vars(&[])).is_ok());
    }
}

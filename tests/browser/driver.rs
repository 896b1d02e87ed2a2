//! ChromeDriver (Debian's chromium-driver), one per test run, and a browser
//! session per person in a scenario. Failures keep a screenshot and the
//! page's HTML; every scenario leaves a screenshot of its final page.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::Duration,
};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};

static DRIVER: OnceLock<Mutex<Child>> = OnceLock::new();
static DRIVER_PORT: OnceLock<u16> = OnceLock::new();
/// Chromium is heavy on two cores: one scenario at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

extern "C" fn stop_driver() {
    if let Some(child) = DRIVER.get() {
        if let Ok(mut c) = child.lock() {
            let _ = c.kill();
        }
    }
}

fn driver_port() -> u16 {
    *DRIVER_PORT.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian package chromium-driver; scripts/test installs it)");
        DRIVER.set(Mutex::new(child)).ok();
        // SAFETY: stop_driver is a plain extern "C" fn that lives for the whole
        // process; registering it hands over no memory.
        #[allow(unsafe_code)]
        unsafe {
            libc::atexit(stop_driver)
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return port;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not start");
    })
}

pub fn evidence_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-evidence")
}

pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots")
}

/// One person's browser.
pub struct Person {
    pub client: Client,
    base: String,
    _profile: PathBuf,
}

pub type Res<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

impl Person {
    pub async fn open(base: &str) -> Person {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let profile = std::env::temp_dir().join(format!("panel-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1200,900", format!("--user-data-dir={}", profile.display())]
            }),
        );
        let client = ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver_port()))
            .await
            .expect("a Chromium session starts");
        Person { client, base: base.to_string(), _profile: profile }
    }

    /// Gives this browser a platform passkey authenticator (Chromium's
    /// virtual authenticator, through WebDriver's WebAuthn extension), which
    /// answers with user verification as a fingerprint would.
    pub async fn add_virtual_authenticator(&self) -> Res {
        self.client.issue_cmd(AddVirtualAuthenticator).await?;
        Ok(())
    }

    /// Opens `path` and waits until the page and its stylesheet have
    /// loaded: Debian's Chromium 148 now and then answers the navigation
    /// before that, and a page measured then is unstyled.
    pub async fn goto(&self, path: &str) -> Res {
        self.client.goto(&format!("{}{}", self.base, path)).await?;
        for _ in 0..100 {
            if self.client.execute("return document.readyState", vec![]).await?.as_str() == Some("complete") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{path} did not finish loading").into())
    }

    pub async fn find(&self, css: &str) -> Res<Element> {
        Ok(self.client.find(Locator::Css(css)).await?)
    }

    /// Clicks the button, menu or link whose visible text is `text`
    /// (buttons first: "Sign in" is both the form's button and a header link).
    pub async fn click_text(&self, text: &str) -> Res {
        for tag in ["button", "summary", "a"] {
            let xpath = format!(r#"//{tag}[normalize-space(.)="{text}"]"#);
            if let Ok(e) = self.client.find(Locator::XPath(&xpath)).await {
                if tag == "summary" {
                    e.click().await?;
                } else {
                    self.navigating(e.click()).await?;
                }
                return Ok(());
            }
        }
        Err(format!("nothing to click called {text:?} on {}", self.path().await?).into())
    }

    /// Runs an action that loads a new page, and waits until it has.
    pub async fn navigating<F, T>(&self, action: F) -> Res<T>
    where
        F: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        self.client.execute("window.__stale = true;", vec![]).await?;
        let out = action.await?;
        for _ in 0..200 {
            let fresh = self
                .client
                .execute("return window.__stale !== true && document.readyState === 'complete';", vec![])
                .await;
            if matches!(fresh, Ok(serde_json::Value::Bool(true))) {
                return Ok(out);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err("the next page did not load".into())
    }

    pub async fn fill(&self, css: &str, value: &str) -> Res {
        let e = self.find(css).await?;
        e.clear().await?;
        e.send_keys(value).await?;
        Ok(())
    }

    pub async fn text(&self, css: &str) -> Res<String> {
        Ok(self.find(css).await?.text().await?)
    }

    pub async fn texts(&self, css: &str) -> Res<Vec<String>> {
        let mut out = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await? {
            out.push(e.text().await?);
        }
        Ok(out)
    }

    pub async fn body(&self) -> Res<String> {
        self.text("body").await
    }

    pub async fn path(&self) -> Res<String> {
        let url = self.client.current_url().await?;
        Ok(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        })
    }

    pub async fn save(&self, dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
        let _ = std::fs::create_dir_all(dir);
        let mut saved = Vec::new();
        if let Ok(png) = self.client.screenshot().await {
            let p = dir.join(format!("{name}.png"));
            if std::fs::write(&p, png).is_ok() {
                saved.push(p);
            }
        }
        if let Ok(html) = self.client.source().await {
            let p = dir.join(format!("{name}.html"));
            if std::fs::write(&p, html).is_ok() {
                saved.push(p);
            }
        }
        saved
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        let _ = std::fs::remove_dir_all(&self._profile);
    }
}

/// Runs a scenario's steps. On failure: saves each person's screenshot and
/// HTML under target/browser-evidence/<scenario>/ and names them in the
/// panic. On success: a screenshot of the last person's final page under
/// target/browser-screenshots/.
pub async fn finish(scenario: &str, people: Vec<(&str, Person)>, outcome: Res) {
    let mut saved = Vec::new();
    match &outcome {
        Ok(()) => {
            if let Some((_, last)) = people.last() {
                let _ = std::fs::create_dir_all(screenshots_dir());
                if let Ok(png) = last.client.screenshot().await {
                    let _ = std::fs::write(screenshots_dir().join(format!("{scenario}.png")), png);
                }
            }
        }
        Err(_) => {
            for (who, p) in &people {
                saved.extend(p.save(&evidence_dir().join(scenario), who).await);
            }
        }
    }
    for (_, p) in people {
        p.close().await;
    }
    if let Err(e) = outcome {
        panic!("scenario {scenario} failed: {e}\nevidence: {saved:?}");
    }
}

/// Fails with a message (a `?`-able assertion for scenario steps).
pub fn check(cond: bool, what: impl Into<String>) -> Res {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

/// WebDriver's "Add Virtual Authenticator" (Web Authentication, section 11.3).
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/webauthn/authenticator", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

//! A browser stand-in: keeps cookies, does not follow redirects (tests
//! assert them), and fills in the page's CSRF token like a real form does.

use std::sync::Arc;

use reqwest::{cookie::CookieStore, header::HeaderMap, Url};

pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub body: String,
    pub headers: HeaderMap,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn html(&self) -> scraper::Html {
        scraper::Html::parse_document(&self.body)
    }

    /// The text of every element matching `selector`.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let sel = scraper::Selector::parse(selector).unwrap();
        self.html()
            .select(&sel)
            .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// The page's visible text (entities decoded, white space folded).
    pub fn text(&self) -> String {
        self.texts("body").join(" ")
    }

    pub fn attr(&self, selector: &str, attr: &str) -> Option<String> {
        let sel = scraper::Selector::parse(selector).unwrap();
        self.html().select(&sel).next().and_then(|e| e.value().attr(attr)).map(str::to_string)
    }

    pub fn assert_redirect_to(&self, path: &str) {
        assert!(
            (300..400).contains(&self.status) && self.location() == Some(path),
            "expected a redirect to {path}, got {} to {:?}",
            self.status,
            self.location()
        );
    }
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { base: base.to_string(), client, jar }
    }

    /// A browser whose requests come from another loopback address (the
    /// machine answers on all of 127.0.0.0/8).
    pub fn from_address(base: &str, ip: std::net::IpAddr) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip)
            .build()
            .unwrap();
        Browser { base: base.to_string(), client, jar }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap_or_default();
        Page { status, body, headers }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// A GET with extra headers (a conditional request, say).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::page(req.send().await.unwrap()).await
    }

    /// The CSRF token a form on this site would carry for this browser now.
    pub async fn csrf(&self) -> String {
        let profile = self.get("/profile").await;
        let page = if profile.status == 200 { profile } else { self.get("/login").await };
        page.attr("input[name=csrf_token]", "value").expect("page has a CSRF token")
    }

    /// Posts a form the way the page would: with the CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        self.post_with_token(&token, path, fields).await
    }

    /// Posts a form with the token of the page at `form_page`, as a browser
    /// that filled in that page's form would.
    pub async fn post_form_from(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(form_page).await;
        let token = page.attr("input[name=csrf_token]", "value").expect("page has a form");
        self.post_with_token(&token, path, fields).await
    }

    async fn post_with_token(&self, token: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token)];
        all.extend_from_slice(fields);
        self.post_raw(path, &serde_html_form::to_string(&all).unwrap(), &[]).await
    }

    /// Posts exactly `body` (form-encoded) with extra headers: for tampering.
    pub async fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::page(req.send().await.unwrap()).await
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: Url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// Gives this browser a cookie (name=value) another one holds.
    pub fn add_cookie(&self, cookie: &str) {
        self.jar.add_cookie_str(&format!("{cookie}; Path=/"), &self.base.parse().unwrap());
    }

    /// The same browser (its cookies) talking to another server copy:
    /// cookies do not depend on the port, as in a real browser.
    pub fn on(&self, base: &str) -> Browser {
        Browser { base: base.to_string(), client: self.client.clone(), jar: self.jar.clone() }
    }

    /// A GET that may fail to connect (a server copy killed by a drill).
    pub async fn try_get(&self, path: &str) -> Result<Page, reqwest::Error> {
        Ok(Self::page(self.client.get(self.url(path)).send().await?).await)
    }

    /// `post_form` for a server that may be gone: the CSRF token of the
    /// page at `form_page`, then the form.
    pub async fn try_post_form(
        &self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Page, reqwest::Error> {
        let page = self.try_get(form_page).await?;
        let Some(token) = page.attr("input[name=csrf_token]", "value") else { return Ok(page) };
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        all.extend_from_slice(fields);
        let req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_html_form::to_string(&all).unwrap());
        Ok(Self::page(req.send().await?).await)
    }

    /// A browser that presents `cookie` (name=value), as a replayed cookie.
    pub fn with_cookie(base: &str, cookie: &str) -> Browser {
        let b = Browser::new(base);
        b.jar.add_cookie_str(&format!("{cookie}; Path=/"), &base.parse().unwrap());
        b
    }
}

//! A script's view of the members API: bearer-token calls whose every
//! answer is checked against the OpenAPI document the panel serves.

use reqwest::{header::HeaderMap, Method};
use serde_json::Value;

use super::{browser::Browser, TestApp};

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Answer {
    pub fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or("")
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

pub struct Api {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
    /// A raw Cookie header to send too (to show cookies open nothing).
    cookie: Option<String>,
}

impl Api {
    pub fn new(app: &TestApp, token: Option<&str>) -> Api {
        Api {
            base: app.address.clone(),
            client: reqwest::Client::new(),
            token: token.map(str::to_string),
            cookie: None,
        }
    }

    pub fn with_cookie(mut self, cookie: &str) -> Api {
        self.cookie = Some(cookie.to_string());
        self
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Sends a call and checks the answer against the document: the
    /// operation must be in it, and the body must match the schema of the
    /// documented response for the status received.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let answer = self.raw(method.clone(), path, body.map(|b| b.to_string()), "application/json").await;
        conforms(method.as_str(), path, &answer);
        answer
    }

    /// Sends exactly `body` with `content_type`, unchecked: for malformed input.
    pub async fn raw(&self, method: Method, path: &str, body: Option<String>, content_type: &str) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        if let Some(body) = body {
            req = req.header("content-type", content_type).body(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Answer { status, headers, json }
    }
}

/// The document, as the panel builds it.
pub fn document() -> Value {
    serde_json::to_value(panel::api::openapi()).unwrap()
}

/// The document's path template that `path` (query left off) matches.
pub fn template_for(doc: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .keys()
        .find(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
        })
        .cloned()
}

/// Panics unless `answer` is what the document says `method path` answers.
pub fn conforms(method: &str, path: &str, answer: &Answer) {
    let doc = document();
    let template = template_for(&doc, path).unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
    let operation = &doc["paths"][&template][method.to_lowercase()];
    assert!(operation.is_object(), "{method} {template} is not in the OpenAPI document");
    let status = answer.status.to_string();
    let response = &operation["responses"][&status];
    assert!(response.is_object(), "{method} {template} answered {status}, which the document does not list");
    let content = &response["content"];
    if answer.status == 204 || !content.is_object() {
        assert!(answer.json.is_null(), "{method} {template} {status} has a body the document does not describe");
        return;
    }
    let media = answer.content_type().split(';').next().unwrap().trim().to_string();
    assert!(content[&media].is_object(), "{method} {template} {status} answered {media}, not documented");
    let pointer = format!(
        "#/paths/{}/{}/responses/{status}/content/{}/schema",
        escape(&template),
        method.to_lowercase(),
        escape(&media)
    );
    let errors = schema_errors(&doc, &pointer, &answer.json);
    assert!(errors.is_empty(), "{method} {path} {status} does not match its schema: {errors:?}\n{}", answer.json);
}

/// A JSON pointer segment, as it goes in a URI fragment.
fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1").replace('{', "%7B").replace('}', "%7D")
}

/// Validates `instance` against the schema at `pointer` in the document
/// (JSON Schema 2020-12, which OpenAPI 3.1 schemas are).
pub fn schema_errors(doc: &Value, pointer: &str, instance: &Value) -> Vec<String> {
    let mut root = doc.clone();
    root["$ref"] = Value::String(pointer.to_string());
    root["$schema"] = Value::String("https://json-schema.org/draft/2020-12/schema".into());
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    validator.iter_errors(instance).map(|e| e.to_string()).collect()
}

impl TestApp {
    /// Makes an API token on the API tokens page, as the person in `b`
    /// would, and returns the secret the page shows once.
    pub async fn make_token(&self, b: &Browser, name: &str, perms: &[&str], manage_users: bool) -> String {
        let mut fields = vec![("name", name), ("mode", if perms.is_empty() { "all" } else { "choose" })];
        fields.extend(perms.iter().map(|p| ("permissions", *p)));
        if manage_users {
            fields.push(("manage_users", "yes"));
        }
        let page = b.post_form("/api-tokens", &fields).await;
        assert_eq!(page.status, 201, "token made: {}", page.text());
        page.texts("#token-secret").pop().expect("the new token is shown")
    }
}

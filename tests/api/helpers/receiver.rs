//! A webhook receiver on a loopback port: it records every delivery and
//! answers with the statuses it is told to (then 200).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
    Router,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    /// What the receiver answered.
    pub answered: u16,
}

impl Delivery {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Checks the signature as a receiver should: recompute the HMAC over
    /// "<t>.<body>" with the secret and compare; the time must be recent.
    pub fn signed_with(&self, secret: &str) -> bool {
        let header = self.header("panel-signature");
        let mut t = None;
        let mut v1 = None;
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", value)) => t = value.parse::<i64>().ok(),
                Some(("v1", value)) => v1 = Some(value.to_string()),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else { return false };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if (now - t).abs() > 300 {
            return false;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{}", self.body).as_bytes());
        let Ok(expected) = (0..v1.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
        else {
            return false;
        };
        mac.verify_slice(&expected).is_ok()
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Delivery>>>,
    /// Statuses to answer with, in turn, before answering 200.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// While set, a delivery is recorded and then waits for `release`
    /// before it is answered (a slow receiver).
    gate: Arc<Mutex<Option<Arc<tokio::sync::Semaphore>>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver { port: listener.local_addr().unwrap().port(), ..Receiver::default() };
        let r = receiver.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let r = r.clone();
                async move {
                    let answer = r.script.lock().unwrap().pop_front().unwrap_or(200);
                    let body = String::from_utf8_lossy(&body).into_owned();
                    let path = uri.path().to_string();
                    r.received.lock().unwrap().push(Delivery { path, headers, body, answered: answer });
                    let gate = r.gate.lock().unwrap().clone();
                    if let Some(gate) = gate {
                        let _ = gate.acquire().await;
                    }
                    let status = StatusCode::from_u16(answer).unwrap();
                    if status.is_redirection() {
                        return (status, [("location", "/elsewhere")]).into_response();
                    }
                    status.into_response()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next answers, before it answers 200 again.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    /// From now on, each delivery waits for `release` before its answer.
    pub fn hold(&self) {
        *self.gate.lock().unwrap() = Some(Arc::new(tokio::sync::Semaphore::new(0)));
    }

    /// Answers every held delivery, and holds no more.
    pub fn release(&self) {
        if let Some(gate) = self.gate.lock().unwrap().take() {
            gate.close();
        }
    }

    pub fn all(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    /// The deliveries it accepted (answered 2xx).
    pub fn accepted(&self) -> Vec<Delivery> {
        self.all().into_iter().filter(|d| (200..300).contains(&d.answered)).collect()
    }

    /// Waits until `n` deliveries have been accepted.
    pub async fn wait_accepted(&self, n: usize) -> Vec<Delivery> {
        self.wait_for(n, Receiver::accepted).await
    }

    /// Waits until `n` deliveries have arrived, answered yet or not.
    pub async fn wait_arrived(&self, n: usize) -> Vec<Delivery> {
        self.wait_for(n, Receiver::all).await
    }

    async fn wait_for(&self, n: usize, list: fn(&Receiver) -> Vec<Delivery>) -> Vec<Delivery> {
        for _ in 0..300 {
            let got = list(self);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{n} deliveries expected; received {:#?}", self.all());
    }
}

//! Helpers shared by the emulator's HTTP tests.
#![allow(dead_code)]

use miro_emulator::{Emulator, RunningEmulator};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// A test client bound to one emulator.
pub struct Api {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

impl Api {
    pub async fn start() -> Api {
        Self::with(Emulator::builder()).await
    }

    pub async fn with(builder: miro_emulator::EmulatorBuilder) -> Api {
        let emu = builder.start().await.expect("emulator starts");
        let token = emu.access_token();
        Api {
            emu,
            http: http_client(),
            token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request is answered")
    }

    /// Sends and returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let resp = self.send(method, path, body).await;
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body");
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("JSON body ({e}): {:?}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn board(&self, name: &str) -> String {
        let (s, b) = self.post("/v2/boards", json!({ "name": name })).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["id"].as_str().expect("board id").to_string()
    }

    pub async fn sticky(&self, board: &str, content: &str) -> String {
        let (s, b) = self
            .post(
                &format!("/v2/boards/{}/sticky_notes", enc(board)),
                json!({"data": {"content": content}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["id"].as_str().expect("item id").to_string()
    }
}

/// Percent-encodes a path segment the way careful clients do.
pub fn enc(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Asserts Miro's error body shape and returns its code.
pub fn assert_error(body: &Value, status: u16) -> String {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body["code"].as_str().expect("code").to_string()
}

/// reqwest's client builder for these tests. A workspace-wide test build turns on miro-api's
/// `rustls-tls`, which leaves reqwest's rustls without a crypto provider of its own (miro-api
/// hands it one per client); these tests talk plain HTTP, so ring is installed as the process's
/// provider for the client to build.
pub fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// [`http_builder`]'s client with reqwest's defaults.
pub fn http_client() -> reqwest::Client {
    http_builder().build().expect("the test client builds")
}

//! A local HTTP server whose answers a test computes per request, recording every request as
//! received and when it arrived. [`crate::canned`] builds the fixed-answer server on it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A request as the server saw it, with its arrival time.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// The raw path, percent-encoding intact.
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
}

/// An answer: status, content type, extra headers and body.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` of the body.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// A JSON answer without extra headers.
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer::new(status, "application/json", body.to_string())
    }

    /// An answer with any body and content type.
    pub fn new(status: u16, content_type: &'static str, body: String) -> Answer {
        Answer {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Script = dyn Fn(usize, &Recorded) -> Answer + Send + Sync;

struct Inner {
    script: Box<Script>,
    log: Vec<Recorded>,
}

/// A running scripted server on 127.0.0.1.
#[derive(Clone)]
pub struct ScriptedServer {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl ScriptedServer {
    /// Starts a server that answers the `n`th request (from 0) with `script(n, request)`.
    pub async fn start(
        script: impl Fn(usize, &Recorded) -> Answer + Send + Sync + 'static,
    ) -> ScriptedServer {
        let inner = Arc::new(Mutex::new(Inner {
            script: Box::new(script),
            log: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedServer { addr, inner }
    }

    /// The base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().log.clone()
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Recorded {
        method,
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers,
        body,
        at: Instant::now(),
    };
    let mut inner = inner.lock().unwrap();
    let n = inner.log.len();
    let answer = (inner.script)(n, &request);
    inner.log.push(request);
    let status = StatusCode::from_u16(answer.status).expect("valid status");
    let mut response =
        (status, [("content-type", answer.content_type)], answer.body).into_response();
    for (name, value) in answer.headers {
        let name: axum::http::HeaderName = name.parse().expect("header name");
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    response
}

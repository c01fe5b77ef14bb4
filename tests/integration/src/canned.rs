//! A local HTTP server answering canned responses and recording every request as received.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A request as the server saw it.
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
}

#[derive(Clone)]
struct Canned {
    method: Method,
    path: String,
    status: StatusCode,
    content_type: &'static str,
    body: String,
    headers: Vec<(&'static str, String)>,
}

#[derive(Default)]
struct Inner {
    canned: Vec<Canned>,
    log: Vec<Recorded>,
}

/// A running canned server on 127.0.0.1.
#[derive(Clone)]
pub struct CannedServer {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl CannedServer {
    /// Starts a server on an ephemeral port. Unmatched requests get a 404 with Miro's body.
    pub async fn start() -> CannedServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
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
        CannedServer { addr, inner }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `method path` (raw path, percent-encoded as sent) with a JSON body.
    pub fn json(&self, method: Method, path: &str, status: u16, body: serde_json::Value) -> &Self {
        self.respond(
            method,
            path,
            status,
            "application/json",
            body.to_string(),
            vec![],
        )
    }

    /// Answers `method path` with any body, content type and extra headers.
    pub fn respond(
        &self,
        method: Method,
        path: &str,
        status: u16,
        content_type: &'static str,
        body: String,
        headers: Vec<(&'static str, String)>,
    ) -> &Self {
        self.inner.lock().unwrap().canned.push(Canned {
            method,
            path: path.to_string(),
            status: StatusCode::from_u16(status).expect("valid status"),
            content_type,
            body,
            headers,
        });
        self
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
    let path = uri.path().to_string();
    let mut inner = inner.lock().unwrap();
    inner.log.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        headers,
        body,
    });
    match inner
        .canned
        .iter()
        .rev()
        .find(|c| c.method == method && c.path == path)
    {
        Some(c) => {
            let mut response =
                (c.status, [("content-type", c.content_type)], c.body.clone()).into_response();
            for (name, value) in &c.headers {
                response
                    .headers_mut()
                    .insert(*name, value.parse().expect("header value"));
            }
            response
        }
        None => (
            StatusCode::NOT_FOUND,
            [("content-type", "application/json")],
            r#"{"status":404,"code":"notFound","message":"no canned response","type":"error"}"#,
        )
            .into_response(),
    }
}

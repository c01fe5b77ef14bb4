//! A local HTTP server answering canned responses by method and path: the
//! [scripted server](crate::scripted) with a table of answers as its script.

use std::sync::{Arc, Mutex};

use axum::http::Method;

pub use crate::scripted::Recorded;
use crate::scripted::{Answer, ScriptedServer};

/// A running canned server on 127.0.0.1.
#[derive(Clone)]
pub struct CannedServer {
    server: ScriptedServer,
    canned: Arc<Mutex<Vec<(Method, String, Answer)>>>,
}

impl CannedServer {
    /// Starts a server on an ephemeral port. Unmatched requests get a 404 with Miro's body; of
    /// several answers for one request, the last one set wins.
    pub async fn start() -> CannedServer {
        let canned: Arc<Mutex<Vec<(Method, String, Answer)>>> = Arc::default();
        let table = canned.clone();
        let server = ScriptedServer::start(move |_, request| {
            table
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|(method, path, _)| *method == request.method && *path == request.path)
                .map(|(_, _, answer)| answer.clone())
                .unwrap_or_else(|| {
                    Answer::json(
                        404,
                        serde_json::json!({"status": 404, "code": "notFound", "message": "no canned response", "type": "error"}),
                    )
                })
        })
        .await;
        CannedServer { server, canned }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Answers `method path` (raw path, percent-encoded as sent) with a JSON body.
    pub fn json(&self, method: Method, path: &str, status: u16, body: serde_json::Value) -> &Self {
        self.answer(method, path, Answer::json(status, body))
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
        let mut answer = Answer::new(status, content_type, body);
        for (name, value) in headers {
            answer = answer.header(name, value);
        }
        self.answer(method, path, answer)
    }

    fn answer(&self, method: Method, path: &str, answer: Answer) -> &Self {
        self.canned
            .lock()
            .unwrap()
            .push((method, path.to_string(), answer));
        self
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }
}

//! The token endpoint's answers through `Miro` over HTTP, from a local server of the test's
//! own that answers what each test scripts: answers that hold tokens are used whatever else
//! they look like, `expires_in` has one meaning, short lifetimes are not refreshed on every
//! use, server text never carries what we sent; and a seeded fuzz of all of that.
//!
//! In its own binary: a global log subscriber captures every event (to look for secrets in
//! the log lines) and a panic hook counts panics, in any thread.
//!
//! The fuzz runs `MIRO_TOKEN_FUZZ_CASES` cases (default 2500, a few seconds) from
//! `MIRO_TOKEN_FUZZ_SEED` (default 29), and prints its figures (`--nocapture`).

mod common;

use common::capture::Captured;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use miro_api_extended::oauth::MAX_EXPIRES_IN;
use miro_api_extended::storage::{FileStore, MemoryStore, TokenState, TokenStore};
use miro_api_extended::{Miro, OAuthError};

const CLIENT_ID: &str = "3458764500000000001";
const SECRET: &str = "client+secret/VERY=private~42";

// ---------------------------------------------------------------------------------------
// Logs and panics.

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// The captured log (installed on first use, with the panic counter).
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info)
        }));
        captured
    })
}

/// Where the log is now.
fn log_mark() -> usize {
    logs().0.lock().unwrap().len()
}

/// The log since `mark`.
fn log_since(mark: usize) -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()[mark..]).into_owned()
}

/// The secrets of `secrets` found in `text`.
fn leaked<'a>(text: &str, secrets: &'a [String]) -> Vec<&'a str> {
    secrets
        .iter()
        .filter(|s| !s.is_empty() && text.contains(s.as_str()))
        .map(String::as_str)
        .collect()
}

// ---------------------------------------------------------------------------------------
// The scripted OAuth server.

/// Replaced in a scripted body by the request's body, JSON-escaped (to put in a string).
const ECHO: &str = "{{ECHO}}";
/// Replaced by the request's body and headers as they came (for HTML bodies).
const ECHO_RAW: &str = "{{ECHO_RAW}}";

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.into(),
        }
    }
    fn html(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/html",
            body: body.as_bytes().to_vec(),
        }
    }
}

#[derive(Default)]
struct Fake {
    /// Scripted replies per endpoint (`token`, `revoke`, `info`).
    replies: Mutex<HashMap<&'static str, VecDeque<Reply>>>,
    token_calls: AtomicUsize,
}

impl Fake {
    fn push(&self, endpoint: &'static str, reply: Reply) {
        self.replies
            .lock()
            .unwrap()
            .entry(endpoint)
            .or_default()
            .push_back(reply);
    }
    fn clear(&self) {
        self.replies.lock().unwrap().clear();
    }
    fn calls(&self) -> usize {
        self.token_calls.load(Ordering::SeqCst)
    }
    fn answer(&self, endpoint: &'static str, request: String, default: Reply) -> Response {
        let reply = self
            .replies
            .lock()
            .unwrap()
            .get_mut(endpoint)
            .and_then(VecDeque::pop_front)
            .unwrap_or(default);
        let escaped = serde_json::to_string(&request).unwrap();
        let body = replace(&reply.body, ECHO, &escaped[1..escaped.len() - 1]);
        let body = replace(&body, ECHO_RAW, &request);
        (
            StatusCode::from_u16(reply.status).unwrap(),
            [(header::CONTENT_TYPE, reply.content_type)],
            body,
        )
            .into_response()
    }
}

fn replace(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = from.as_bytes();
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(from) {
            out.extend_from_slice(to.as_bytes());
            i += from.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

fn request_text(headers: &axum::http::HeaderMap, body: &Bytes) -> String {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    format!("{auth} {}", String::from_utf8_lossy(body))
}

async fn token(
    State(fake): State<Arc<Fake>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    fake.token_calls.fetch_add(1, Ordering::SeqCst);
    let default = Reply::json(
        500,
        r#"{"error":"server_error","error_description":"no scripted answer"}"#,
    );
    fake.answer("token", request_text(&headers, &body), default)
}

async fn revoke(
    State(fake): State<Arc<Fake>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    fake.answer(
        "revoke",
        request_text(&headers, &body),
        Reply::json(204, ""),
    )
}

async fn info(
    State(fake): State<Arc<Fake>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let default = Reply::json(401, r#"{"error":"invalid_token"}"#);
    fake.answer("info", request_text(&headers, &body), default)
}

/// Starts the server; returns it and its base URL.
async fn serve() -> (Arc<Fake>, String) {
    logs();
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v1/oauth/token", post(token))
        .route("/v2/oauth/revoke", post(revoke))
        .route("/v1/oauth-token", get(info))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

fn client(url: &str, store: impl TokenStore + 'static) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url("http://localhost:9876/callback")
        .api_base_url(url)
        .auth_base_url(url)
        .store(store)
        .build()
        .unwrap()
}

/// Stores an expired access token and `refresh` for `user`, so the next use refreshes.
async fn seed(miro: &Miro, user: &str, refresh: &str) {
    let state = TokenState::new(format!("old-access-for-{user}-0123456789"))
        .with_refresh_token(refresh)
        .with_expires_at(SystemTime::now() - Duration::from_secs(1));
    miro.store().set(user, &state).await.unwrap();
}

async fn stored(miro: &Miro, user: &str) -> Option<TokenState> {
    miro.store().get(user).await.unwrap().map(|r| r.state)
}

/// A JSON object from raw entries (keys may repeat).
fn object(entries: &[(&str, &str)]) -> String {
    let fields: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
        .collect();
    format!("{{{}}}", fields.join(","))
}

// ---------------------------------------------------------------------------------------
// Finding 4: an answer that holds tokens is used.

#[tokio::test]
async fn refresh_answers_with_odd_fields_are_used() {
    let (fake, url) = serve().await;
    let miro = client(&url, MemoryStore::new());
    let cases: Vec<(&str, String)> = vec![
        (
            "scope as a list",
            object(&[
                ("access_token", r#""A""#),
                ("refresh_token", r#""R""#),
                ("expires_in", "3599"),
                ("scope", r#"["boards:read","boards:write"]"#),
                ("user_id", r#""u""#),
            ]),
        ),
        (
            "scope as a number, ids as numbers",
            object(&[
                ("access_token", r#""A""#),
                ("refresh_token", r#""R""#),
                ("scope", "7"),
                ("user_id", "3458764517517819000"),
                ("team_id", "34587645175178190001234"),
            ]),
        ),
        (
            "the refresh token as a number",
            object(&[("access_token", r#""A""#), ("refresh_token", "R")]),
        ),
        (
            "no user_id",
            object(&[
                ("access_token", r#""A""#),
                ("refresh_token", r#""R""#),
                ("expires_in", "3599"),
            ]),
        ),
        (
            "duplicate keys",
            object(&[
                ("access_token", r#""first""#),
                ("refresh_token", r#""first-r""#),
                ("access_token", r#""A""#),
                ("refresh_token", r#""R""#),
                ("scope", "null"),
            ]),
        ),
        (
            "a byte-order mark",
            format!(
                "\u{feff}{}",
                object(&[("access_token", r#""A""#), ("refresh_token", r#""R""#)])
            ),
        ),
        (
            "every oddity at once",
            format!(
                "\u{feff} {}\n",
                object(&[
                    ("refresh_token", r#""x""#),
                    ("access_token", r#""A""#),
                    ("refresh_token", "R"),
                    ("scope", r#"{"a":1}"#),
                    ("team_id", "true"),
                    ("user_id", "[1]"),
                    ("expires_in", "1e400"),
                    ("token_type", "5"),
                ])
            ),
        ),
    ];
    for (n, (what, template)) in cases.into_iter().enumerate() {
        let user = format!("user-{n}");
        let (access, refresh) = (format!("access-{n}-0123456789"), format!("9876543210{n}"));
        seed(&miro, &user, &format!("old-refresh-{n}-abcdefgh")).await;
        // Tokens go where "A" and "R" stand (R may stand as a number).
        let body = template
            .replace("\"A\"", &format!("\"{access}\""))
            .replace("\"R\"", &format!("\"{refresh}\""))
            .replace(":R", &format!(":{refresh}"));
        fake.push("token", Reply::json(200, body));
        let got = miro.access_token(&user).await;
        let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got.expose(), access, "{what}");
        let state = stored(&miro, &user).await.expect("stored");
        assert_eq!(state.access_token.expose(), access, "{what}");
        assert_eq!(
            state.refresh_token.as_ref().map(|r| r.expose()),
            Some(refresh.as_str()),
            "{what}: the rotated refresh token is kept"
        );
    }
}

#[tokio::test]
async fn a_code_exchange_without_user_id_asks_whose_tokens_they_are() {
    let (fake, url) = serve().await;
    let miro = client(&url, MemoryStore::new());
    fake.push(
        "token",
        Reply::json(
            200,
            r#"{"access_token":"access-xyz-0123456789","refresh_token":"refresh-xyz-0123456789","expires_in":3599}"#,
        ),
    );
    fake.push(
        "info",
        Reply::json(200, r#"{"user":{"id":3458764517517819000}}"#),
    );
    let auth = miro
        .exchange_code_for_access_token("code-0123456789")
        .await
        .unwrap();
    assert_eq!(auth.user_id, "3458764517517819000");
    let state = stored(&miro, &auth.user_id).await.unwrap();
    assert_eq!(state.access_token.expose(), "access-xyz-0123456789");

    // When token info cannot tell either, the error says so (the tokens have no key).
    fake.push(
        "token",
        Reply::json(
            200,
            r#"{"access_token":"access-abc-0123456789","refresh_token":"refresh-abc-0123456789"}"#,
        ),
    );
    let err = miro
        .exchange_code_for_access_token("code-9876543210")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Endpoint {
                endpoint: "token info",
                status: 401,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_refresh_answer_without_tokens_is_in_doubt_and_says_why() {
    let (fake, url) = serve().await;
    let miro = client(&url, MemoryStore::new());
    for (n, reply) in [
        Reply::json(200, r#"{"token_type":"bearer"}"#),
        Reply::html(200, "<html>proxy page</html>"),
        Reply::json(200, r#"{"access_token":"#),
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("doubt-{n}");
        seed(&miro, &user, "old-refresh-0123456789").await;
        // Sent twice (a lost answer is sent again once), answered alike.
        fake.push("token", reply.clone());
        fake.push("token", reply);
        let err = miro.access_token(&user).await.unwrap_err();
        assert!(
            matches!(err, OAuthError::RefreshInDoubt { .. }),
            "{n}: {err}"
        );
        let text = err.to_string();
        assert!(!text.contains("got no answer"), "{text}");
        assert!(text.contains("no usable answer"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Finding 5: `expires_in` has one meaning.

#[tokio::test]
async fn expires_in_has_one_meaning() {
    let (fake, url) = serve().await;
    let miro = client(&url, MemoryStore::new());
    let max = MAX_EXPIRES_IN.as_secs();
    for (n, (value, want)) in [
        ("-1", Some(0)),
        ("0", Some(0)),
        ("3599.5", Some(3599)),
        ("\"3600\"", Some(3600)),
        ("1e30", Some(max)),
        ("1e400", Some(max)),
        ("18446744073709551615", Some(max)),
        ("\"abc\"", Some(0)),
        ("{\"seconds\":60}", Some(0)),
        ("null", None),
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("expiry-{n}");
        seed(&miro, &user, "old-refresh-0123456789").await;
        let body = format!(
            r#"{{"access_token":"access-{n}-0123456789","refresh_token":"refresh-{n}-0123456789","expires_in":{value}}}"#
        );
        fake.push("token", Reply::json(200, body));
        let before = SystemTime::now();
        miro.access_token(&user)
            .await
            .unwrap_or_else(|e| panic!("{value}: {e}"));
        let after = SystemTime::now();
        let state = stored(&miro, &user).await.unwrap();
        match want {
            None => assert_eq!(state.expires_at, None, "{value}"),
            Some(secs) => {
                let at = state
                    .expires_at
                    .unwrap_or_else(|| panic!("{value}: never expires"));
                let secs = Duration::from_secs(secs);
                assert!(
                    at >= before + secs && at <= after + secs,
                    "{value}: {at:?} not {secs:?} after {before:?}"
                );
            }
        }
    }
    // Expired now: the next use refreshes again rather than using it for ever.
    let user = "expiry-again";
    seed(&miro, user, "old-refresh-0123456789").await;
    for n in 0..2 {
        fake.push(
            "token",
            Reply::json(
                200,
                format!(r#"{{"access_token":"a-{n}-0123456789","refresh_token":"r-{n}-0123456789","expires_in":"abc"}}"#),
            ),
        );
    }
    let calls = fake.calls();
    assert_eq!(
        miro.access_token(user).await.unwrap().expose(),
        "a-0-0123456789"
    );
    assert_eq!(
        miro.access_token(user).await.unwrap().expose(),
        "a-1-0123456789"
    );
    assert_eq!(fake.calls(), calls + 2);
}

// ---------------------------------------------------------------------------------------
// Finding 6: a short lifetime is not refreshed on every use.

#[tokio::test]
async fn a_short_lifetime_is_not_refreshed_on_every_use() {
    let (fake, url) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<(&str, Miro)> = vec![
        ("memory", client(&url, MemoryStore::new())),
        (
            "file",
            client(
                &url,
                FileStore::open(dir.path().join("t.json")).await.unwrap(),
            ),
        ),
    ];
    for (name, miro) in &stores {
        let user = format!("short-{name}");
        seed(miro, &user, "old-refresh-0123456789").await;
        for n in 0..5 {
            fake.push(
                "token",
                Reply::json(
                    200,
                    format!(r#"{{"access_token":"a-{n}-0123456789","refresh_token":"r-{n}-0123456789","expires_in":60}}"#),
                ),
            );
        }
        let calls = fake.calls();
        for _ in 0..5 {
            assert_eq!(
                miro.access_token(&user).await.unwrap().expose(),
                "a-0-0123456789",
                "{name}"
            );
        }
        assert_eq!(fake.calls(), calls + 1, "{name}: one refresh for five uses");
        fake.clear();
    }

    // It is still refreshed before it expires: after half of its lifetime.
    let (_, miro) = &stores[0];
    let user = "short-lived";
    seed(miro, user, "old-refresh-0123456789").await;
    for n in 0..2 {
        fake.push(
            "token",
            Reply::json(
                200,
                format!(r#"{{"access_token":"b-{n}-0123456789","refresh_token":"s-{n}-0123456789","expires_in":4}}"#),
            ),
        );
    }
    let calls = fake.calls();
    let started = Instant::now();
    assert_eq!(
        miro.access_token(user).await.unwrap().expose(),
        "b-0-0123456789"
    );
    assert_eq!(
        miro.access_token(user).await.unwrap().expose(),
        "b-0-0123456789"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the test machine is too slow"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        miro.access_token(user).await.unwrap().expose(),
        "b-1-0123456789"
    );
    assert_eq!(fake.calls(), calls + 2);
}

// ---------------------------------------------------------------------------------------
// Finding 7: server text never carries what we sent.

#[tokio::test]
async fn server_text_never_carries_what_we_sent() {
    let (fake, url) = serve().await;
    let miro = client(&url, MemoryStore::new());
    let mark = log_mark();
    let refresh = "old+refresh/token=0123456789";
    let code = "auth+code/0123456789";
    let access = "access-token-for-info-0123456789";
    let secrets: Vec<String> = [SECRET, refresh, code, access, "new-access-0123456789"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let echo_replies = || {
        vec![
            Reply::json(
                400,
                format!(r#"{{"error":"invalid_grant","error_description":"got {ECHO}"}}"#),
            ),
            Reply::json(
                400,
                format!(r#"{{"error":"invalid_request {ECHO}","error_description":"{ECHO}"}}"#),
            ),
            Reply::json(
                401,
                format!(r#"{{"error":"invalid_client","error_description":"{ECHO}"}}"#),
            ),
            Reply::json(
                500,
                format!(r#"{{"status":500,"code":"{ECHO}","message":"the body was {ECHO}"}}"#),
            ),
            Reply::html(502, &format!("<html>{ECHO_RAW}</html>")),
        ]
    };
    let mut texts = Vec::new();
    for (n, reply) in echo_replies().into_iter().enumerate() {
        let user = format!("echo-{n}");
        seed(&miro, &user, refresh).await;
        fake.push("token", reply);
        let err = miro.access_token(&user).await.unwrap_err();
        texts.push(format!("{err} {err:?}"));
    }
    for reply in echo_replies() {
        fake.push("token", reply);
        let err = miro.exchange_code_for_access_token(code).await.unwrap_err();
        texts.push(format!("{err} {err:?}"));
    }
    // Revocation (JSON body) and token info (bearer header) echo too.
    let user = "echo-revoke";
    miro.store()
        .set(user, &TokenState::new(access).with_refresh_token(refresh))
        .await
        .unwrap();
    fake.push(
        "revoke",
        Reply::json(400, format!(r#"{{"message":"{ECHO}"}}"#)),
    );
    let err = miro.revoke(user).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    let user = "echo-info";
    miro.store()
        .set(user, &TokenState::new(access).with_refresh_token(refresh))
        .await
        .unwrap();
    fake.push(
        "info",
        Reply::json(500, format!(r#"{{"message":"{ECHO}"}}"#)),
    );
    let err = miro.is_authorized(user).await.unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Endpoint {
                endpoint: "token info",
                status: 500,
                ..
            }
        ),
        "{err}"
    );
    texts.push(format!("{err} {err:?}"));
    // A code exchange without user_id whose token info echoes.
    fake.push(
        "token",
        Reply::json(200, r#"{"access_token":"new-access-0123456789"}"#),
    );
    fake.push(
        "info",
        Reply::json(403, format!(r#"{{"message":"{ECHO}"}}"#)),
    );
    let err = miro.exchange_code_for_access_token(code).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));

    for text in &texts {
        assert_eq!(leaked(text, &secrets), Vec::<&str>::new(), "in {text}");
    }
    // What was not secret is still there, so the text was not simply dropped.
    let all = texts.join("\n");
    assert!(all.contains("grant_type=refresh_token"), "{all}");
    assert!(all.contains("[redacted]"), "{all}");
    assert!(all.contains(CLIENT_ID), "{all}");
    let log = log_since(mark);
    assert_eq!(leaked(&log, &secrets), Vec::<&str>::new(), "in the log");
}

// ---------------------------------------------------------------------------------------
// The fuzz.

/// A token as the answer gives it.
#[derive(Clone)]
enum Tok {
    Str(String),
    Num(String),
    /// Anything that is no token: `""`, `"  "`, null, an object, a list, a boolean.
    Not(&'static str),
}

impl Tok {
    fn json(&self) -> String {
        match self {
            Tok::Str(s) => serde_json::to_string(s).unwrap(),
            Tok::Num(n) => n.clone(),
            Tok::Not(j) => j.to_string(),
        }
    }
    /// The token this is, by the documented rules.
    fn value(&self) -> Option<String> {
        match self {
            Tok::Str(s) => Some(s.clone()),
            Tok::Num(n) => Some(n.clone()),
            Tok::Not(_) => None,
        }
    }
}

/// What `expires_in` should come to: `None` does not expire, else seconds.
type Lifetime = Option<u64>;

/// One entry of a generated answer: key, JSON text, and what it means.
#[derive(Clone)]
struct Entry {
    key: &'static str,
    json: Vec<u8>,
    token: Option<Tok>,
    lifetime: Lifetime,
    id: Option<Option<String>>,
}

struct Gen {
    rng: fastrand::Rng,
    case: usize,
}

const NOT_TOKENS: [&str; 7] = [
    r#""""#, r#""   ""#, "null", "{}", r#"["x"]"#, "true", "false",
];

impl Gen {
    fn secret(&mut self, prefix: &str) -> String {
        const CHARS: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.~";
        let n = self.rng.usize(20..48);
        let tail: String = (0..n)
            .map(|_| CHARS[self.rng.usize(..CHARS.len())] as char)
            .collect();
        format!("{prefix}{}{tail}", self.case)
    }

    fn digits(&mut self) -> String {
        let mut s = self.rng.u8(1..=9).to_string();
        for _ in 0..self.rng.usize(18..30) {
            s.push(char::from(b'0' + self.rng.u8(0..=9)));
        }
        s
    }

    fn tok(&mut self, prefix: &str) -> Tok {
        match self.rng.u8(0..100) {
            0..=79 => Tok::Str(self.secret(prefix)),
            80..=91 => Tok::Num(self.digits()),
            _ => Tok::Not(NOT_TOKENS[self.rng.usize(..NOT_TOKENS.len())]),
        }
    }

    fn token_entry(&mut self, key: &'static str, prefix: &str) -> Entry {
        let tok = self.tok(prefix);
        Entry {
            key,
            json: tok.json().into_bytes(),
            token: Some(tok),
            lifetime: None,
            id: None,
        }
    }

    fn expires_entry(&mut self) -> Entry {
        let max = MAX_EXPIRES_IN.as_secs();
        let pool: [(&str, Lifetime); 24] = [
            ("3599", Some(3599)),
            ("3600", Some(3600)),
            ("60", Some(60)),
            ("1", Some(1)),
            ("0", Some(0)),
            ("-1", Some(0)),
            ("-3600", Some(0)),
            ("3599.5", Some(3599)),
            ("0.9", Some(0)),
            ("1e30", Some(max)),
            ("1e400", Some(max)),
            ("-1e400", Some(0)),
            ("18446744073709551615", Some(max)),
            ("315360001", Some(max)),
            ("\"3600\"", Some(3600)),
            ("\" 120 \"", Some(120)),
            ("\"-5\"", Some(0)),
            ("\"abc\"", Some(0)),
            ("\"\"", Some(0)),
            ("true", Some(0)),
            ("{}", Some(0)),
            ("[3600]", Some(0)),
            ("null", None),
            ("\"1e999\"", Some(max)),
        ];
        let (json, lifetime) = pool[self.rng.usize(..pool.len())];
        Entry {
            key: "expires_in",
            json: json.as_bytes().to_vec(),
            token: None,
            lifetime,
            id: None,
        }
    }

    fn user_entry(&mut self) -> Entry {
        let big = format!("34587645{:011}", self.case);
        let (json, id) = match self.rng.u8(0..8) {
            0..=2 => (
                format!("\"user-{}\"", self.case),
                Some(format!("user-{}", self.case)),
            ),
            3 | 4 => (big.clone(), Some(big)),
            5 => ("null".to_string(), None),
            6 => ("\"\"".to_string(), None),
            _ => (["{}", "[1]", "true"][self.rng.usize(..3)].to_string(), None),
        };
        Entry {
            key: "user_id",
            json: json.into_bytes(),
            token: None,
            lifetime: None,
            id: Some(id),
        }
    }

    fn other_entry(&mut self, key: &'static str) -> Entry {
        let pools: &[&str] = match key {
            "team_id" => &[
                "\"3458764517517818867\"",
                "3458764517517818867",
                "34587645175178188671234567",
                "1e400",
                "null",
                "true",
                "{\"id\":1}",
            ],
            "scope" => &[
                "\"boards:read boards:write\"",
                "[\"boards:read\",\"team:read\"]",
                "[1,\"x\",{},null]",
                "7",
                "{}",
                "null",
                "\"\"",
            ],
            "token_type" => &["\"bearer\"", "1", "null"],
            "error_description" => &["\"{{ECHO}}\"", "\"ok\"", "[\"{{ECHO}}\"]"],
            "message" => &["\"{{ECHO}}\"", "1e400"],
            _ => &[
                "{\"nested\":[1,2,{\"deep\":\"{{ECHO}}\"}]}",
                "\"\u{1F600}\"",
            ],
        };
        Entry {
            key,
            json: pools[self.rng.usize(..pools.len())].as_bytes().to_vec(),
            token: None,
            lifetime: None,
            id: None,
        }
    }

    fn entry(&mut self, key: &'static str) -> Entry {
        match key {
            "access_token" => self.token_entry(key, "acc"),
            "refresh_token" => self.token_entry(key, "ref"),
            "expires_in" => self.expires_entry(),
            "user_id" => self.user_entry(),
            _ => self.other_entry(key),
        }
    }

    /// A 200 answer's entries, in order.
    fn answer(&mut self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for key in [
            "access_token",
            "refresh_token",
            "expires_in",
            "user_id",
            "team_id",
            "scope",
            "token_type",
            "error_description",
            "message",
            "unknown_field",
        ] {
            // Each key is left out now and then (the tokens more rarely).
            let keep = match key {
                "access_token" | "refresh_token" => 95,
                "expires_in" | "user_id" => 85,
                _ => 60,
            };
            if self.rng.u8(0..100) < keep {
                entries.push(self.entry(key));
            }
        }
        if self.rng.bool() {
            self.rng.shuffle(&mut entries);
        }
        // Duplicated keys, with values of any kind, anywhere.
        for _ in 0..self.rng.usize(0..3) {
            let key = [
                "access_token",
                "refresh_token",
                "expires_in",
                "user_id",
                "scope",
            ][self.rng.usize(..5)];
            let at = self.rng.usize(..=entries.len());
            let e = self.entry(key);
            entries.insert(at, e);
        }
        if self.rng.u8(0..100) < 5 {
            let at = self.rng.usize(..=entries.len());
            entries.insert(
                at,
                Entry {
                    key: "junk",
                    json: b"\"bad \xff\xfe utf-8\"".to_vec(),
                    token: None,
                    lifetime: None,
                    id: None,
                },
            );
        }
        entries
    }

    fn body(&mut self, entries: &[Entry]) -> Vec<u8> {
        let mut body = Vec::new();
        match self.rng.u8(0..100) {
            0..=14 => body.extend_from_slice("\u{feff}".as_bytes()),
            15..=19 => body.extend_from_slice(b" \r\n\t"),
            20..=22 => body.extend_from_slice("\u{feff}\n".as_bytes()),
            _ => {}
        }
        body.push(b'{');
        for (n, e) in entries.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(serde_json::to_string(e.key).unwrap().as_bytes());
            body.push(b':');
            body.extend_from_slice(&e.json);
        }
        body.push(b'}');
        match self.rng.u8(0..100) {
            0..=2 => body.extend_from_slice(b"\n<html>trailing</html>"),
            3..=4 => body.extend_from_slice(b"{\"access_token\":\"second\"}"),
            5..=7 => body.extend_from_slice(b"\n"),
            _ => {}
        }
        body
    }

    fn error_reply(&mut self) -> (Reply, Option<&'static str>) {
        match self.rng.u8(0..5) {
            0 => (
                Reply::json(
                    400,
                    format!(r#"{{"error":"invalid_grant","error_description":"{ECHO}"}}"#),
                ),
                Some("invalid_grant"),
            ),
            1 => (
                Reply::json(
                    400,
                    format!(
                        r#"{{"error":"invalid_request {ECHO}","error_description":"x {ECHO}"}}"#
                    ),
                ),
                None,
            ),
            2 => (
                Reply::json(
                    401,
                    format!(r#"{{"error":"invalid_client","error_description":"{ECHO}"}}"#),
                ),
                None,
            ),
            3 => (
                Reply::json(
                    503,
                    format!(r#"{{"status":503,"code":"unavailable","message":"{ECHO}"}}"#),
                ),
                None,
            ),
            _ => (Reply::html(502, &format!("<html>{ECHO_RAW}</html>")), None),
        }
    }
}

/// The last entry of `key`.
fn last<'a>(entries: &'a [Entry], key: &str) -> Option<&'a Entry> {
    entries.iter().rev().find(|e| e.key == key)
}

#[derive(Debug, Default)]
struct Figures {
    answers: usize,
    with_access_token: usize,
    usable: usize,
    used: usize,
    discarded: usize,
    wrong_expiry: usize,
    wrong_outcome: usize,
    error_answers: usize,
    leaks: usize,
    panics: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_answer_fuzz() {
    let cases: usize = std::env::var("MIRO_TOKEN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2500);
    let fuzz_seed: u64 = std::env::var("MIRO_TOKEN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(29);
    let (fake, url) = serve().await;
    let miro = client(&url, MemoryStore::new());
    let panics_before = PANICS.load(Ordering::SeqCst);
    let fuzz_mark = log_mark();
    let mut gen = Gen {
        rng: fastrand::Rng::with_seed(fuzz_seed),
        case: 0,
    };
    let mut f = Figures::default();
    let mut failures: Vec<String> = Vec::new();
    let started = Instant::now();
    for case in 0..cases {
        gen.case = case;
        fake.clear();
        let mark = log_mark();
        let refresh_case = gen.rng.u8(0..100) < 75;
        let user = format!("fuzz-{case}");
        let old_refresh = gen.secret("old");
        let code = gen.secret("code");
        let mut secrets = vec![SECRET.to_string(), old_refresh.clone(), code.clone()];
        let error = gen.rng.u8(0..100) < 12;
        let mut answer_body = None;
        let (entries, expected_error) = if error {
            let (reply, rejection) = gen.error_reply();
            fake.push("token", reply);
            f.error_answers += 1;
            (Vec::new(), Some(rejection))
        } else {
            let entries = gen.answer();
            let body = gen.body(&entries);
            fake.push("token", Reply::json(200, body.clone()));
            answer_body = Some(body);
            (entries, None)
        };
        f.answers += 1;
        for e in &entries {
            if let Some(t) = e.token.as_ref().and_then(Tok::value) {
                secrets.push(t);
            }
        }
        let access = last(&entries, "access_token").and_then(|e| e.token.as_ref()?.value());
        let refresh = last(&entries, "refresh_token").and_then(|e| e.token.as_ref()?.value());
        let lifetime = last(&entries, "expires_in").and_then(|e| e.lifetime);
        let named = last(&entries, "user_id").and_then(|e| e.id.clone().flatten());
        if access.is_some() {
            f.with_access_token += 1;
            if refresh.is_some() {
                f.usable += 1;
            }
        }
        // A refresh answer without an access token is no answer: the client sends the
        // refresh token once more, and gets the same.
        if let (true, None, Some(body)) = (refresh_case, &access, answer_body) {
            fake.push("token", Reply::json(200, body));
        }
        let info_user = format!("info-{case}");
        if !refresh_case && access.is_some() && named.is_none() {
            fake.push(
                "info",
                Reply::json(200, format!(r#"{{"user":{{"id":"{info_user}"}}}}"#)),
            );
        }

        let before = SystemTime::now();
        let (outcome, key) = if refresh_case {
            seed(&miro, &user, &old_refresh).await;
            let result = miro
                .access_token(&user)
                .await
                .map(|t| t.expose().to_string());
            (result.map(|t| (t, None)), user.clone())
        } else {
            // The whole redirect URL (the code holds `+`, `/` and `=`).
            let redirect = reqwest::Url::parse_with_params(
                "http://localhost:9876/callback",
                [("code", code.as_str())],
            )
            .unwrap();
            let result = miro.exchange_code_for_access_token(redirect.as_str()).await;
            let key = result
                .as_ref()
                .map(|a| a.user_id.clone())
                .unwrap_or_default();
            (result.map(|a| (String::new(), Some(a))), key)
        };
        let after = SystemTime::now();
        let state = if key.is_empty() {
            None
        } else {
            stored(&miro, &key).await
        };

        // What the outcome should be.
        let mut problem = None;
        match (&outcome, &expected_error) {
            (Err(e), Some(rejection)) => {
                let fits = match (refresh_case, e) {
                    (true, OAuthError::RefreshRejected { .. }) => rejection.is_some(),
                    (
                        _,
                        OAuthError::Endpoint {
                            endpoint: "token", ..
                        },
                    ) => rejection.is_none() || !refresh_case,
                    _ => false,
                };
                if !fits {
                    f.wrong_outcome += 1;
                    problem = Some(format!("error answer gave {e:?}"));
                }
            }
            (Ok(_), Some(_)) => {
                f.wrong_outcome += 1;
                problem = Some("an error answer gave tokens".into());
            }
            (result, None) => match (&access, result) {
                (Some(want), Ok((got, auth))) => {
                    let want_user = named.clone().unwrap_or(info_user.clone());
                    let mut ok = state.as_ref().is_some_and(|s| {
                        s.access_token.expose() == want
                            && s.refresh_token.as_ref().map(|r| r.expose().to_string()) == refresh
                    });
                    if refresh_case {
                        ok &= got == want;
                    } else {
                        ok &= auth.as_ref().is_some_and(|a| a.user_id == want_user);
                    }
                    if ok {
                        f.used += 1;
                    } else {
                        f.discarded += 1;
                        problem = Some("a usable answer was not used as given".into());
                    }
                    let expires_at = state.as_ref().and_then(|s| s.expires_at);
                    let right = match (lifetime, expires_at) {
                        (None, None) => true,
                        (Some(secs), Some(at)) => {
                            let secs = Duration::from_secs(secs);
                            at >= before + secs && at <= after + secs
                        }
                        _ => false,
                    };
                    if !right {
                        f.wrong_expiry += 1;
                        problem = Some(format!("expires_in {lifetime:?} gave {expires_at:?}"));
                    }
                }
                (Some(_), Err(e)) => {
                    f.discarded += 1;
                    problem = Some(format!("a usable answer was discarded: {e}"));
                }
                (None, Ok(_)) => {
                    f.wrong_outcome += 1;
                    problem = Some("an answer without access token gave tokens".into());
                }
                (None, Err(e)) => {
                    let fits = match e {
                        OAuthError::RefreshInDoubt { .. } => {
                            refresh_case && e.to_string().contains("no usable answer")
                        }
                        OAuthError::InvalidResponse {
                            endpoint: "token", ..
                        } => !refresh_case,
                        _ => false,
                    };
                    if !fits {
                        f.wrong_outcome += 1;
                        problem = Some(format!("an answer without tokens gave {e:?}"));
                    }
                }
            },
        }

        // No secret in what a user sees or logs.
        let mut shown = match &outcome {
            Err(e) => format!("{e} {e:?}"),
            Ok((_, auth)) => format!("{auth:?}"),
        };
        shown.push_str(&format!(" {state:?} {miro:?}"));
        shown.push_str(&log_since(mark));
        let leaks = leaked(&shown, &secrets);
        if !leaks.is_empty() {
            f.leaks += 1;
            problem = Some(format!("leaked {leaks:?}"));
        }
        if let Some(problem) = problem {
            let body = fake
                .replies
                .lock()
                .unwrap()
                .get("token")
                .map(|q| q.len())
                .unwrap_or_default();
            failures.push(format!(
                "case {case} (seed {fuzz_seed}, {}): {problem}; entries {:?}; {body} unused replies",
                if refresh_case { "refresh" } else { "code exchange" },
                entries
                    .iter()
                    .map(|e| format!("{}={}", e.key, String::from_utf8_lossy(&e.json)))
                    .collect::<Vec<_>>()
            ));
        }
    }
    f.panics = PANICS.load(Ordering::SeqCst) - panics_before;
    let elapsed = started.elapsed();
    println!("token answer fuzz, seed {fuzz_seed}, {cases} cases in {elapsed:?}: {f:?}");
    assert!(
        failures.is_empty(),
        "{} failing cases, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!((f.discarded, f.leaks, f.panics), (0, 0, 0), "{f:?}");
    assert!(
        f.usable > cases / 2 && f.error_answers > 0,
        "the mix: {f:?}"
    );
    // The log capture works: the warnings about odd answers are there.
    let log = log_since(fuzz_mark);
    for warning in ["the last one is used", "unexpected kind", "not a number"] {
        assert!(log.contains(warning), "no {warning:?} in the log");
    }
}

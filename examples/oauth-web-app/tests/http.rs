//! The web app over plain HTTP (what a browser test cannot see): the headers of every answer,
//! the status of a form without its CSRF field, sessions expiring and capped, several sign-ins
//! in progress per session, a stray callback, and `localhost` sent to the redirect URL's host.

use miro_api_extended::Miro;
use miro_emulator::{Emulator, RunningEmulator, DEFAULT_USER_ID};
use oauth_web_app::{router, Settings, WebApp, COOKIE};
use reqwest::header::{
    HeaderMap, CONTENT_TYPE, COOKIE as COOKIE_HEADER, HOST, LOCATION, SET_COOKIE,
};
use reqwest::StatusCode;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

const SECOND_USER: &str = "3458764500000000002";

struct App {
    emu: RunningEmulator,
    app: Arc<WebApp>,
    url: String,
    http: reqwest::Client,
}

async fn start(settings: Settings) -> App {
    let emu = Emulator::builder()
        .oauth_client("web-app", "web-app-secret")
        .oauth_user(SECOND_USER, "Second User")
        .start()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let miro = Miro::builder()
        .client_id("web-app")
        .client_secret("web-app-secret")
        .redirect_url(format!("{url}callback"))
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .build()
        .unwrap();
    let app = WebApp::with_settings(miro, settings);
    tokio::spawn(axum::serve(listener, router(Arc::clone(&app))).into_future());
    let http = miro_api::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    App {
        emu,
        app,
        url,
        http,
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|c| c.starts_with(COOKIE)))
        .map(str::to_owned)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[LOCATION].to_str().unwrap().to_owned()
}

impl App {
    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(c) = cookie {
            req = req.header(COOKIE_HEADER, c);
        }
        req.send().await.unwrap()
    }

    /// `/connect`: the session cookie (the one given, or a new one) and Miro's authorize URL.
    async fn connect(&self, cookie: Option<&str>) -> (String, String) {
        let r = self.get("connect", cookie).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(r.headers())
            .or(cookie.map(str::to_owned))
            .unwrap();
        (cookie, location(&r))
    }

    /// Approves at the emulator as `user`: the callback path Miro redirects to.
    async fn approve(&self, authorize_url: &str, user: &str) -> String {
        let r = self
            .http
            .get(format!("{authorize_url}&user={user}"))
            .send()
            .await
            .unwrap();
        let callback = location(&r);
        callback
            .strip_prefix(&self.url)
            .expect("back to the app")
            .to_owned()
    }

    /// The callback: the new session cookie, or the error page's status and text.
    async fn callback(&self, path: &str, cookie: &str) -> Result<String, (StatusCode, String)> {
        let r = self.get(path, Some(cookie)).await;
        if r.status() == StatusCode::SEE_OTHER && location(&r) == "/boards" {
            return Ok(session_cookie(r.headers()).unwrap());
        }
        Err((r.status(), r.text().await.unwrap()))
    }

    async fn sign_in(&self, user: &str) -> String {
        let (cookie, authorize) = self.connect(None).await;
        let back = self.approve(&authorize, user).await;
        self.callback(&back, &cookie).await.unwrap()
    }
}

#[tokio::test]
async fn every_answer_carries_no_store_and_the_security_headers() {
    let a = start(Settings::default()).await;
    let signed_in = a.sign_in(DEFAULT_USER_ID).await;
    let pages = [
        a.get("", None).await,
        a.get("boards", Some(&signed_in)).await,
        a.get("callback?state=x&code=y", None).await, // an error page
    ];
    for page in pages {
        let h = page.headers();
        let status = page.status();
        assert_eq!(h["cache-control"], "no-store", "{status}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("style-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    let css = a.get("style.css", None).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.text().await.unwrap().contains(".board"));
    // The signed-in page shows the user's name, not their id.
    let boards = a
        .get("boards", Some(&signed_in))
        .await
        .text()
        .await
        .unwrap();
    assert!(boards.contains("Signed in as Emulator User"), "{boards}");
    assert!(boards.contains("id=\"empty\""), "the empty state: {boards}");
}

#[tokio::test]
async fn a_form_without_its_csrf_field_gets_a_clear_page_not_a_422() {
    let a = start(Settings::default()).await;
    let cookie = a.sign_in(SECOND_USER).await;
    for (body, content_type, status) in [
        (
            "name=Plans&note=x",
            "application/x-www-form-urlencoded",
            403,
        ),
        (
            "name=Plans&csrf=wrong",
            "application/x-www-form-urlencoded",
            403,
        ),
        ("{\"name\": \"Plans\"}", "application/json", 400),
    ] {
        let r = a
            .http
            .post(format!("{}boards", a.url))
            .header(COOKIE_HEADER, &cookie)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains("<p id=\"error\">"), "an HTML page: {text}");
        assert!(text.contains("reload the page"), "{text}");
    }
    assert_eq!(a.emu.board_count(), 0, "nothing was created");
}

#[tokio::test]
async fn two_tabs_sign_in_and_a_stray_callback_cancels_nothing() {
    let a = start(Settings::default()).await;
    // Two tabs of one browser start a sign-in each (one cookie).
    let (cookie, first) = a.connect(None).await;
    let (same, second) = a.connect(Some(&cookie)).await;
    assert_eq!(same, cookie);
    // A stray redirect (another site, an old link) is refused...
    let (status, text) = a
        .callback("callback?code=forged&state=forged", &cookie)
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("state does not match"), "{text}");
    // ...and both sign-ins still finish, the second tab first.
    let back = a.approve(&second, SECOND_USER).await;
    let signed_in = a.callback(&back, &cookie).await.unwrap();
    let back = a.approve(&first, DEFAULT_USER_ID).await;
    let again = a.callback(&back, &signed_in).await.unwrap();
    let page = a.get("boards", Some(&again)).await.text().await.unwrap();
    assert!(page.contains("Signed in as Emulator User"), "{page}");
    // A state is used once.
    assert!(a.callback(&back, &again).await.is_err());
}

#[tokio::test]
async fn localhost_is_sent_to_the_redirect_urls_host() {
    let a = start(Settings::default()).await;
    let port = a.url.trim_end_matches('/').rsplit(':').next().unwrap();
    for path in ["", "connect", "boards?x=1"] {
        let r = a
            .http
            .get(format!("{}{path}", a.url))
            .header(HOST, format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(location(&r), format!("{}{path}", a.url));
        assert!(
            session_cookie(r.headers()).is_none(),
            "no session on localhost"
        );
    }
}

#[tokio::test]
async fn sessions_expire_when_idle_and_are_capped() {
    let a = start(Settings {
        idle_timeout: Duration::from_millis(400),
        max_sessions: 50,
        ..Settings::default()
    })
    .await;
    // Idle too long: the sign-in in progress and the signed-in session are gone.
    let (cookie, authorize) = a.connect(None).await;
    let signed_in = a.sign_in(DEFAULT_USER_ID).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let back = a.approve(&authorize, DEFAULT_USER_ID).await;
    let (_, text) = a.callback(&back, &cookie).await.unwrap_err();
    assert!(text.contains("no sign-in in progress"), "{text}");
    let r = a.get("boards", Some(&signed_in)).await;
    assert_eq!(location(&r), "/", "signed out after the idle time");
    assert_eq!(a.app.session_count(), 0);

    // A flood of cookieless /connect keeps at most 50 sessions, and a signed-in user (active
    // within the idle time) stays signed in.
    let a = start(Settings {
        max_sessions: 50,
        ..Settings::default()
    })
    .await;
    let signed_in = a.sign_in(SECOND_USER).await;
    for _ in 0..2_000 {
        a.connect(None).await;
    }
    assert_eq!(a.app.session_count(), 50);
    let r = a.get("boards", Some(&signed_in)).await;
    assert_eq!(r.status(), StatusCode::OK, "the signed-in session survived");
}

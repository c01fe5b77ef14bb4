//! The web app in a real browser: headless Chromium driven through WebDriver (chromedriver),
//! two users in two browser sessions at once, each signing in through the emulator's authorize
//! page, listing and creating boards while their access tokens expire (2 s) and are refreshed,
//! then signing out, after which the emulator refuses their old tokens.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`cargo xtask test` installs them). Without them the
//! test fails and says so. Set `CHROMEDRIVER` / `CHROMIUM` to use other binaries.

#![cfg(unix)]

use fantoccini::{Client, ClientBuilder, Locator};
use miro_api_extended::storage::SqliteStore;
use miro_api_extended::Miro;
use miro_emulator::{Emulator, RunningEmulator, DEFAULT_USER_ID};
use oauth_web_app::{router, WebApp};
use std::future::IntoFuture;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECOND_USER: &str = "3458764500000000002";
const TOKEN_LIFETIME: Duration = Duration::from_secs(2);

/// chromedriver in its own process group, which is killed when the test ends (also when it
/// fails before closing its browser sessions), so no Chromium outlives the test.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary(env: &str, candidates: &[&str]) -> Option<String> {
    if let Ok(path) = std::env::var(env) {
        return Some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in candidates {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p.display().to_string());
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> (Driver, String, String) {
    let missing = "the browser test needs Chromium and chromedriver: `apt-get install chromium \
                   chromium-driver` (Debian; `cargo xtask test` does it as root), or set CHROMIUM and CHROMEDRIVER";
    let chromedriver = binary("CHROMEDRIVER", &["chromedriver"]).expect(missing);
    let chromium = binary(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .expect(missing);
    let port = free_port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}. {missing}"));
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/status")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start on {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, url, chromium)
}

async fn browser(driver: &str, chromium: &str) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                // Nothing but 127.0.0.1 resolves: the test stays on this machine.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a Chromium session through chromedriver")
}

async fn text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.wait().at_most(left).for_element(Locator::Css(css)).await {
            Ok(e) => match e.text().await {
                Ok(text) => return text,
                // The page changed between finding the element and reading it: find it again.
                Err(_) if !left.is_zero() => continue,
                Err(e) => panic!("{css} could not be read: {e}"),
            },
            Err(e) => {
                let source = c.source().await.unwrap_or_default();
                panic!("no {css} on {:?}: {e}\n{source}", c.current_url().await)
            }
        }
    }
}

/// The text of `css` once it reads `expected`, or what it reads after 20 s: after a click, the
/// old page may still show an element with the same id until the new one has loaded.
async fn text_once(c: &Client, css: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let read = text(c, css).await;
        if read == expected || Instant::now() > deadline {
            return read;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn board_names(c: &Client) -> Vec<String> {
    let mut names = Vec::new();
    for li in c.find_all(Locator::Css("li.board")).await.unwrap() {
        names.push(li.text().await.unwrap());
    }
    names.sort();
    names
}

async fn create(c: &Client, name: &str, note: &str) {
    c.find(Locator::Css("#board-name"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    c.find(Locator::Css("#note"))
        .await
        .unwrap()
        .send_keys(note)
        .await
        .unwrap();
    c.find(Locator::Css("#create-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = text(c, "#notice").await;
    assert_eq!(notice, format!("Created board {name} with a sticky note"));
}

/// One user's visit, in their own browser session.
async fn visit(
    driver: &str,
    chromium: &str,
    app_url: &str,
    emu: &RunningEmulator,
    app: &WebApp,
    user: &str,
    who: &str,
) {
    let c = browser(driver, chromium).await;
    // A forged redirect (a state this browser's sign-in did not start) is refused.
    c.goto(&format!("{app_url}connect")).await.unwrap();
    c.goto(&format!("{app_url}callback?code=forged&state=forged"))
        .await
        .unwrap();
    let error = text(&c, "#error").await;
    assert!(error.contains("state does not match"), "{error}");

    c.goto(app_url).await.unwrap();
    c.find(Locator::Css("#connect"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The emulator's sign-in page: pick the user.
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("#sign-in-{user}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let signed_in = format!("Signed in as {user}");
    assert_eq!(text_once(&c, "#user", &signed_in).await, signed_in);
    assert_eq!(board_names(&c).await, Vec::<String>::new());

    let first = format!("{who}'s plans");
    create(&c, &first, &format!("Hello from {who}")).await;
    assert_eq!(board_names(&c).await, std::slice::from_ref(&first));

    // The access token expires while the user looks at the page: the next clicks refresh it.
    let before = app.miro().store().get(user).await.unwrap().unwrap();
    tokio::time::sleep(TOKEN_LIFETIME + Duration::from_millis(300)).await;
    c.refresh().await.unwrap();
    let signed_in = format!("Signed in as {user}");
    assert_eq!(text_once(&c, "#user", &signed_in).await, signed_in);
    let second = format!("{who}'s notes");
    create(&c, &second, "After a refresh").await;
    let mut mine = vec![first, second];
    mine.sort();
    assert_eq!(board_names(&c).await, mine, "only this user's boards");
    let tokens = app.miro().store().get(user).await.unwrap().unwrap();
    assert_ne!(
        tokens.access_token.expose(),
        before.access_token.expose(),
        "the token was refreshed"
    );
    for id in c
        .find_all(Locator::Css("li.board"))
        .await
        .unwrap()
        .into_iter()
        .map(|li| async move { li.attr("data-id").await.unwrap().unwrap() })
    {
        let id = id.await;
        assert_eq!(
            emu.item_count(&id),
            Some(1),
            "board {id} has its sticky note"
        );
    }

    // Sign out: the tokens are revoked at Miro and gone from the store.
    c.find(Locator::Css("#signout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let signed_out = "You are signed out; the app's tokens were revoked.";
    assert_eq!(text_once(&c, "#notice", signed_out).await, signed_out);
    assert!(c.find(Locator::Css("#connect")).await.is_ok());
    assert!(app.miro().store().get(user).await.unwrap().is_none());
    let http = reqwest::Client::new();
    let answer = http
        .get(format!("{}/v2/boards", emu.base_url()))
        .bearer_auth(tokens.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "the revoked access token is refused");
    let refresh = tokens.refresh_token.as_ref().unwrap().expose().to_owned();
    let answer = http
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "web-app"),
            ("client_secret", "web-app-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400, "the revoked refresh token is refused");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_sign_in_create_boards_and_sign_out_in_chromium() {
    let (_driver, driver_url, chromium) = start_driver().await;
    let emu = Emulator::builder()
        .oauth_client("web-app", "web-app-secret")
        .oauth_user(SECOND_USER, "Second User")
        .access_token_lifetime(Some(TOKEN_LIFETIME))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}/", listener.local_addr().unwrap());
    let miro = Miro::builder()
        .client_id("web-app")
        .client_secret("web-app-secret")
        .redirect_url(format!("{app_url}callback"))
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .refresh_margin(Duration::from_millis(500))
        .store(
            SqliteStore::open(dir.path().join("tokens.sqlite"))
                .await
                .unwrap(),
        )
        .build()
        .unwrap();
    let app = WebApp::new(miro, false);
    let server = tokio::spawn(axum::serve(listener, router(Arc::clone(&app))).into_future());

    let run = async {
        tokio::join!(
            visit(
                &driver_url,
                &chromium,
                &app_url,
                &emu,
                &app,
                DEFAULT_USER_ID,
                "Ada"
            ),
            visit(
                &driver_url,
                &chromium,
                &app_url,
                &emu,
                &app,
                SECOND_USER,
                "Bob"
            ),
        )
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser visits finish within two minutes");
    assert!(
        emu.refresh_calls() >= 2,
        "each user's token was refreshed ({} refreshes)",
        emu.refresh_calls()
    );
    server.abort();
}

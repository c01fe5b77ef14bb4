//! The web app in a real browser: headless Chromium driven through WebDriver (chromedriver),
//! two users in two browser sessions at once, each signing in through the emulator's authorize
//! page, listing and creating boards while their access tokens expire (2 s) and are refreshed,
//! then signing out, after which the emulator refuses their old tokens.
//!
//! On the way: the first user opens the app as `localhost` (not the `127.0.0.1` of the redirect
//! URL); a stray callback arrives while a sign-in is in progress, and a second tab signs in
//! before the first tab finishes its own sign-in; the page is styled by the app's stylesheet
//! (screenshots of the empty and the filled boards page are saved in `CARGO_TARGET_TMPDIR`);
//! boards link to Miro; a form posted without its CSRF field gets a clear page; Back after
//! sign-out does not show the signed-in page.
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
    let http = miro_api::http_client_builder().build().unwrap();
    loop {
        if let Ok(r) = http.get(format!("{url}/status")).send().await {
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
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
                "--window-size=1200,900",
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
    for a in c.find_all(Locator::Css("li.board a")).await.unwrap() {
        names.push(a.text().await.unwrap());
    }
    names.sort();
    names
}

/// Saves a screenshot of the page as `CARGO_TARGET_TMPDIR/oauth-web-app-NAME.png` and checks
/// that it is a PNG of the window's size, not a blank page.
async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(width >= 800 && height >= 600, "{width}x{height}");
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oauth-web-app-{name}.png"));
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
}

/// A computed style property of the first element matching `css`.
async fn style(c: &Client, css: &str, property: &str) -> String {
    let script = "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1]);";
    c.execute(script, vec![css.into(), property.into()])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Clicks the element `css`.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Types `keys` into the field `css`.
async fn type_into(c: &Client, css: &str, keys: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .send_keys(keys)
        .await
        .unwrap();
}

/// Clicks "Sign in as USER" on the emulator's authorize page.
async fn pick_user(c: &Client, user: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("#sign-in-{user}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn create(c: &Client, name: &str, note: &str) {
    type_into(c, "#board-name", name).await;
    type_into(c, "#note", note).await;
    click(c, "#create-button").await;
    let notice = text(c, "#notice").await;
    assert_eq!(notice, format!("Created board {name} with a sticky note"));
}

/// One user's visit, in their own browser session. `open_as` is the address the user types
/// (the first user types `localhost`).
#[allow(clippy::too_many_arguments)]
async fn visit(
    driver: &str,
    chromium: &str,
    app_url: &str,
    open_as: &str,
    emu: &RunningEmulator,
    app: &WebApp,
    (user, name): (&str, &str),
    who: &str,
) {
    let c = browser(driver, chromium).await;
    // Opened under another name of this machine: the app moves the browser to its own host.
    c.goto(open_as).await.unwrap();
    assert_eq!(text(&c, "#connect").await, "Connect to Miro");
    assert_eq!(c.current_url().await.unwrap().as_str(), app_url);
    // The app's stylesheet is served and allowed by its CSP.
    assert_eq!(
        style(&c, "#connect", "background-color").await,
        "rgb(61, 90, 254)"
    );

    // Tab 1 starts a sign-in and stays on Miro's page.
    click(&c, "#connect").await;
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("#sign-in-{user}")))
        .await
        .unwrap();
    let first_sign_in = c.current_url().await.unwrap();
    // A stray redirect (a state this browser did not start) is refused...
    c.goto(&format!("{app_url}callback?code=forged&state=forged"))
        .await
        .unwrap();
    let error = text(&c, "#error").await;
    assert!(error.contains("state does not match"), "{error}");
    // ...and cancels nothing: a second tab signs in, then the first tab finishes its own.
    let tab1 = c.window().await.unwrap();
    let tab2 = c.new_window(true).await.unwrap().handle;
    c.switch_to_window(tab2).await.unwrap();
    c.goto(&format!("{app_url}connect")).await.unwrap();
    pick_user(&c, user).await;
    let signed_in = format!("Signed in as {name}");
    assert_eq!(text_once(&c, "#user", &signed_in).await, signed_in);
    c.close_window().await.unwrap();
    c.switch_to_window(tab1).await.unwrap();
    c.goto(first_sign_in.as_str()).await.unwrap();
    pick_user(&c, user).await;
    assert_eq!(text_once(&c, "#user", &signed_in).await, signed_in);

    // No boards yet: the empty state.
    assert!(text(&c, "#empty").await.contains("No boards yet"));
    assert_eq!(board_names(&c).await, Vec::<String>::new());
    screenshot(&c, &format!("{who}-empty")).await;

    let first = format!("{who}'s plans");
    create(&c, &first, &format!("Hello from {who}")).await;
    assert_eq!(board_names(&c).await, std::slice::from_ref(&first));

    // The access token expires while the user looks at the page: the next clicks refresh it.
    let before = app.miro().store().get(user).await.unwrap().unwrap();
    tokio::time::sleep(TOKEN_LIFETIME + Duration::from_millis(300)).await;
    c.refresh().await.unwrap();
    assert_eq!(text_once(&c, "#user", &signed_in).await, signed_in);
    let second = format!("{who}'s notes");
    create(&c, &second, "After a refresh").await;
    let mut mine = vec![first, second];
    mine.sort();
    assert_eq!(board_names(&c).await, mine, "only this user's boards");
    screenshot(&c, &format!("{who}-boards")).await;
    let tokens = app.miro().store().get(user).await.unwrap().unwrap();
    assert_ne!(
        tokens.access_token.expose(),
        before.access_token.expose(),
        "the token was refreshed"
    );
    for li in c.find_all(Locator::Css("li.board")).await.unwrap() {
        let id = li.attr("data-id").await.unwrap().unwrap();
        assert_eq!(
            emu.item_count(&id),
            Some(1),
            "board {id} has its sticky note"
        );
        let link = li.find(Locator::Css("a")).await.unwrap();
        let href = link.attr("href").await.unwrap().unwrap();
        assert_eq!(
            href,
            format!("{}/app/board/{id}/", emu.base_url()),
            "a link to it on Miro"
        );
        assert_eq!(
            link.attr("target").await.unwrap().as_deref(),
            Some("_blank")
        );
    }

    // A form that lost its CSRF field: a clear page, nothing created.
    c.execute(
        "document.querySelector('#create input[name=csrf]').remove();",
        vec![],
    )
    .await
    .unwrap();
    type_into(&c, "#board-name", "No token").await;
    click(&c, "#create-button").await;
    let error = text(&c, "#error").await;
    assert!(error.contains("reload the page"), "{error}");
    c.goto(&format!("{app_url}boards")).await.unwrap();
    assert_eq!(board_names(&c).await, mine, "nothing was created");

    // Sign out: the tokens are revoked at Miro and gone from the store.
    click(&c, "#signout").await;
    let signed_out = "You are signed out; the app's tokens were revoked.";
    assert_eq!(text_once(&c, "#notice", signed_out).await, signed_out);
    assert!(c.find(Locator::Css("#connect")).await.is_ok());
    // Back does not bring the signed-in page (and its form tokens) back.
    c.back().await.unwrap();
    assert_eq!(text(&c, "#connect").await, "Connect to Miro");
    assert!(
        c.find(Locator::Css("#user")).await.is_err(),
        "Back showed the signed-in page: {}",
        c.source().await.unwrap_or_default()
    );
    assert!(app.miro().store().get(user).await.unwrap().is_none());
    let http = miro_api::http_client_builder().build().unwrap();
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

    let localhost = app_url.replace("127.0.0.1", "localhost");
    let run = async {
        tokio::join!(
            visit(
                &driver_url,
                &chromium,
                &app_url,
                &localhost,
                &emu,
                &app,
                (DEFAULT_USER_ID, "Emulator User"),
                "Ada"
            ),
            visit(
                &driver_url,
                &chromium,
                &app_url,
                &app_url,
                &emu,
                &app,
                (SECOND_USER, "Second User"),
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

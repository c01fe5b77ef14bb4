//! Where the token comes from (`--token`, `MIRO_ACCESS_TOKEN`, or the stored login), and
//! `miro login`, `logout` and `whoami`.
//!
//! `login` runs the OAuth authorization-code flow with a loopback redirect
//! (`http://127.0.0.1:PORT/callback`) and stores the tokens through `miro-api-extended`'s
//! [`FileStore`] (one JSON file, mode 0600) in the config directory, beside `login.json`
//! (mode 0600: the app's client id and secret, which refreshes and revocation need, and the
//! signed-in user's id). Tokens are never printed, logged or put in a URL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use miro_api::MiroApi;
use miro_api_extended::storage::FileStore;
use miro_api_extended::Miro;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fail::{code, Failure};

/// The token file, in the config directory.
const TOKENS_FILE: &str = "tokens.json";
/// The login record, in the config directory.
const LOGIN_FILE: &str = "login.json";
/// How long `login` waits for the browser to come back.
const LOGIN_WAIT: Duration = Duration::from_secs(300);

/// Miro's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.miro.com";

/// What `login` leaves for later commands.
#[derive(Serialize, Deserialize)]
struct Login {
    user_id: String,
    client_id: String,
    client_secret: String,
    api_base_url: String,
    #[serde(default)]
    team_id: Option<String>,
}

/// The config directory: `--config-dir`, `MIRO_CONFIG_DIR`, `$XDG_CONFIG_HOME/miro`,
/// `~/.config/miro` (`%APPDATA%\miro` on Windows).
pub fn config_dir(flag: Option<&String>) -> Result<PathBuf, Failure> {
    if let Some(d) = flag {
        return Ok(PathBuf::from(d));
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("MIRO_CONFIG_DIR") {
        return Ok(d);
    }
    if let Some(d) = env("XDG_CONFIG_HOME") {
        return Ok(d.join("miro"));
    }
    if let Some(d) = env("APPDATA") {
        return Ok(d.join("miro"));
    }
    if let Some(home) = env("HOME") {
        return Ok(home.join(".config").join("miro"));
    }
    Err(Failure::other(
        "no config directory: set MIRO_CONFIG_DIR or --config-dir",
    ))
}

fn read_login(dir: &Path) -> Result<Option<Login>, Failure> {
    let path = dir.join(LOGIN_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Failure::other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::other(format!("{}: {e}", path.display()))),
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options
            .open(&tmp)
            .map_err(|e| Failure::other(format!("{}: {e}", tmp.display())))?;
        std::io::Write::write_all(&mut f, bytes)
            .map_err(|e| Failure::other(format!("{}: {e}", tmp.display())))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Failure::other(format!("{}: {e}", path.display())))
}

async fn oauth_client(
    dir: &Path,
    client_id: &str,
    client_secret: &str,
    api_base: &str,
    auth_base: Option<&str>,
    redirect: &str,
) -> Result<Miro, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let store = FileStore::open(dir.join(TOKENS_FILE))
        .await
        .map_err(|e| Failure::other(format!("the token store: {e}")))?;
    let mut b = Miro::builder()
        .client_id(client_id)
        .client_secret(client_secret)
        .redirect_url(redirect)
        .api_base_url(api_base)
        .store(store);
    if let Some(a) = auth_base {
        b = b.auth_base_url(a);
    }
    b.build()
        .map_err(|e| Failure::new(code::USAGE, format!("OAuth settings: {e}")))
}

/// The client of a command: a token given (`--token`, `MIRO_ACCESS_TOKEN`), else the stored
/// login's user, whose tokens refresh by themselves.
pub async fn client(token: Option<String>, base_url: &str, dir: &Path) -> Result<MiroApi, Failure> {
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        return Ok(MiroApi::builder()
            .base_url(base_url)
            .access_token(token)
            .build());
    }
    match read_login(dir)? {
        Some(login) => {
            let miro = oauth_client(
                dir,
                &login.client_id,
                &login.client_secret,
                base_url,
                None,
                "http://127.0.0.1/callback",
            )
            .await?;
            Ok(miro.as_user(&login.user_id))
        }
        None => Err(Failure::new(
            code::AUTH,
            "no access token: set MIRO_ACCESS_TOKEN, pass --token, or run `miro login`",
        )),
    }
}

/// Options of `miro login`.
pub struct LoginOptions {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// Loopback port (0: any).
    pub port: u16,
    /// Where users sign in, when not Miro's default.
    pub auth_base_url: Option<String>,
    /// Print the URL instead of opening a browser.
    pub no_browser: bool,
}

fn open_browser(url: &str) -> bool {
    let program: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd", "/C", "start", ""]
    } else {
        &["xdg-open"]
    };
    std::process::Command::new(program[0])
        .args(&program[1..])
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Reads one HTTP request head from the loopback listener; its target (`/callback?...`).
async fn request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    let _method = parts.next()?;
    parts.next().map(str::to_string)
}

async fn answer(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let page = format!(
        "<!doctype html><html><head><title>miro</title></head><body><p>{text}</p></body></html>"
    );
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// `miro login`.
pub async fn login(opts: LoginOptions, base_url: &str, dir: &Path) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| Failure::other(format!("cannot listen on 127.0.0.1:{}: {e}", opts.port)))?;
    let port = listener.local_addr()?.port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    // Offline: the emulator signs users in at its own address.
    let auth_base = opts.auth_base_url.clone().or_else(|| {
        std::env::var("MIRO_AUTH_BASE_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| (base_url != DEFAULT_BASE_URL).then(|| base_url.to_string()))
    });
    let miro = oauth_client(
        dir,
        &opts.client_id,
        &opts.client_secret,
        base_url,
        auth_base.as_deref(),
        &redirect,
    )
    .await?;
    let (url, state) = miro
        .auth_url_with_new_state()
        .map_err(|e| Failure::other(e.to_string()))?;
    if opts.no_browser || !open_browser(&url) {
        eprintln!("Open this URL to sign in to Miro:\n{url}");
    } else {
        eprintln!("Signing in through your browser; if it did not open, go to:\n{url}");
    }
    let redirect_target = tokio::time::timeout(LOGIN_WAIT, async {
        loop {
            let (mut stream, _) = listener.accept().await?;
            match request_target(&mut stream).await {
                Some(target) if target.starts_with("/callback") => {
                    let denied = target.contains("error=");
                    answer(
                        &mut stream,
                        "200 OK",
                        if denied {
                            "Sign-in was refused. You can close this tab."
                        } else {
                            "Signed in to Miro. You can close this tab and go back to the terminal."
                        },
                    )
                    .await;
                    return Ok::<String, std::io::Error>(target);
                }
                _ => answer(&mut stream, "404 Not Found", "Not found").await,
            }
        }
    })
    .await
    .map_err(|_| Failure::new(code::AUTH, "sign-in timed out: no redirect came back"))??;
    let auth = miro
        .exchange_code_checked(&redirect_target, &state)
        .await
        .map_err(|e| Failure::new(code::AUTH, format!("sign-in failed: {e}")))?;
    let login = Login {
        user_id: auth.user_id.clone(),
        client_id: opts.client_id,
        client_secret: opts.client_secret,
        api_base_url: base_url.to_string(),
        team_id: auth.team_id.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&login).map_err(|e| Failure::other(e.to_string()))?;
    write_private(&dir.join(LOGIN_FILE), &bytes)?;
    eprintln!(
        "Signed in as user {}{}{}; tokens stored in {}",
        auth.user_id,
        auth.team_id
            .as_deref()
            .map(|t| format!(", team {t}"))
            .unwrap_or_default(),
        auth.scope
            .as_deref()
            .map(|s| format!(" (scopes: {s})"))
            .unwrap_or_default(),
        dir.display()
    );
    Ok(())
}

/// `miro logout`: revokes the stored tokens at Miro and forgets the login.
pub async fn logout(base_url: &str, dir: &Path) -> Result<(), Failure> {
    let Some(login) = read_login(dir)? else {
        eprintln!("Not signed in.");
        return Ok(());
    };
    let base = if base_url == DEFAULT_BASE_URL {
        login.api_base_url.as_str()
    } else {
        base_url
    };
    let miro = oauth_client(
        dir,
        &login.client_id,
        &login.client_secret,
        base,
        None,
        "http://127.0.0.1/callback",
    )
    .await?;
    let revoked = miro
        .revoke(&login.user_id)
        .await
        .map_err(|e| Failure::new(code::AUTH, format!("revocation failed: {e}")))?;
    std::fs::remove_file(dir.join(LOGIN_FILE))?;
    eprintln!(
        "{} user {}.",
        if revoked {
            "Signed out"
        } else {
            "No tokens were stored for"
        },
        login.user_id
    );
    Ok(())
}

/// The base URL a stored login was made against, when no other is given.
pub fn stored_base_url(dir: &Path) -> Option<String> {
    read_login(dir).ok().flatten().map(|l| l.api_base_url)
}

//! `oauth-web-app`: sign in with Miro, list your boards, create one with a sticky note, sign
//! out.
//!
//! ```sh
//! cargo run -p oauth-web-app            # offline: the emulator plays Miro (two users to pick from)
//! MIRO_CLIENT_ID=... MIRO_CLIENT_SECRET=... MIRO_REDIRECT_URL=http://localhost:3000/callback \
//!     cargo run -p oauth-web-app -- --listen 127.0.0.1:3000
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use miro_api_extended::storage::SqliteStore;
use miro_api_extended::Miro;
use oauth_web_app::{router, Settings, WebApp};
use std::path::PathBuf;
use std::time::Duration;

/// A small web app signing users in to Miro.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:3000")]
    listen: String,
    /// The SQLite file keeping the users' tokens.
    #[arg(long, env = "TOKEN_DB", default_value = "miro-tokens.sqlite")]
    db: PathBuf,
    /// Mark the session cookie `Secure` (when served over HTTPS).
    #[arg(long)]
    secure_cookies: bool,
    /// Minutes without a request after which a session ends.
    #[arg(long, env = "SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: u64,
    /// The most sessions kept at once.
    #[arg(long, env = "MAX_SESSIONS", default_value_t = 10_000)]
    max_sessions: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let store = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("opening the token store {}", args.db.display()))?;
    let mut _emulator = None;
    let miro = if std::env::var_os("MIRO_CLIENT_ID").is_some() {
        Miro::builder().store(store).build()?
    } else {
        let emulator = miro_emulator::Emulator::builder()
            .oauth_client("web-app", "web-app-secret")
            .oauth_user("3458764500000000002", "Second User")
            .start()
            .await
            .context("starting the emulator")?;
        println!(
            "no MIRO_CLIENT_ID: the in-process emulator at {} plays Miro",
            emulator.base_url()
        );
        let miro = Miro::builder()
            .client_id("web-app")
            .client_secret("web-app-secret")
            .redirect_url(format!("http://{addr}/callback"))
            .api_base_url(emulator.base_url())
            .auth_base_url(emulator.base_url())
            .store(store)
            .build()?;
        _emulator = Some(emulator);
        miro
    };
    println!("open http://{addr}/ (Ctrl-C or SIGTERM to stop)");
    let settings = Settings {
        secure_cookies: args.secure_cookies,
        idle_timeout: Duration::from_secs(args.session_idle_minutes.max(1) * 60),
        max_sessions: args.max_sessions.max(1),
    };
    axum::serve(
        listener,
        router(WebApp::with_settings(miro.clone(), settings)),
    )
    .with_graceful_shutdown(stop_signal())
    .await?;
    // A deploy: the server has finished its requests; finish the token work in flight and
    // write rotated tokens the store has not taken yet, then exit.
    if let Err(e) = miro.shutdown(Duration::from_secs(10)).await {
        eprintln!("shutting down: {e}");
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (what a deploy sends) on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

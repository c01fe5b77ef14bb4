//! The `miro` command line (the binary is a thin wrapper over [`main_entry`]):
//! a command line for the Miro REST API v2.
//!
//! Every operation of Miro's OpenAPI spec is a command `miro AREA ACTION` (`miro boards list`,
//! `miro sticky-notes create --board-id ID --body note.json`), from a table that `miro-api-gen`
//! generates from the same pinned spec as `miro-api` (`src/generated/`). Requests go through
//! `miro-api`'s raw requests (its token handling, pacing and retries); a JSON body is checked
//! against the operation's typed request before anything is sent, and sent as given.
//! Run `miro --help`, or see the README for a session against the offline emulator.

#![warn(missing_docs)]

mod app;
mod auth;
pub mod body;
#[rustfmt::skip]
pub mod generated;
pub mod fail;
mod output;
mod run;
pub mod table;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::ArgMatches;

use crate::fail::Failure;
use crate::generated::commands::COMMANDS;
use crate::output::Format;

/// Runs `miro` with the process's arguments; the exit code.
pub fn main_entry() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Only the area being run gets its commands built: start-up stays quick.
    let area_hint = args
        .iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .map(|a| a.to_string_lossy().into_owned());
    let known_area = area_hint
        .as_deref()
        .filter(|a| COMMANDS.iter().any(|c| c.area == *a));
    // No area named (`miro --help`, `miro login`): no operation commands at all.
    let matches = match app::build(Some(known_area.unwrap_or(""))).try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(fail::code::USAGE),
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Failure::other(format!("cannot start: {e}")).report(),
    };
    match runtime.block_on(dispatch(matches)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(),
    }
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

async fn dispatch(m: ArgMatches) -> Result<(), Failure> {
    let Some((name, sub)) = m.subcommand() else {
        return Err(Failure::usage("a command is needed; see `miro --help`"));
    };
    // Global flags are read from the innermost command that has them.
    let leaf = match sub.subcommand() {
        Some((_, leaf)) => leaf,
        None => sub,
    };
    let global = |id: &str| leaf.get_one::<String>(id).cloned();
    let dir = auth::config_dir(global("config-dir").as_ref())?;
    let base_url = global("base-url")
        .or_else(|| env_nonempty(miro_api::ENV_BASE_URL))
        .or_else(|| auth::stored_base_url(&dir))
        .unwrap_or_else(|| auth::DEFAULT_BASE_URL.to_string())
        .trim_end_matches('/')
        .to_string();
    let format = match global("output").as_deref() {
        Some("table") => Format::Table,
        _ => Format::Json {
            pretty: std::io::stdout().is_terminal(),
        },
    };
    let ctx = run::Context {
        format,
        quiet: leaf.get_flag("quiet"),
        base_url: base_url.clone(),
    };
    let token = global("token").or_else(|| env_nonempty(miro_api::ENV_ACCESS_TOKEN));
    let client = || {
        let token = token.clone();
        let base = base_url.clone();
        let dir = dir.clone();
        async move { auth::client(token, &base, &dir).await }
    };
    match name {
        "completions" => {
            let shell = sub
                .get_one::<String>("shell")
                .map(String::as_str)
                .unwrap_or("bash");
            let shell = match shell {
                "zsh" => clap_complete::Shell::Zsh,
                "fish" => clap_complete::Shell::Fish,
                "elvish" => clap_complete::Shell::Elvish,
                "powershell" => clap_complete::Shell::PowerShell,
                _ => clap_complete::Shell::Bash,
            };
            let mut cmd = app::build(None);
            clap_complete::generate(shell, &mut cmd, "miro", &mut std::io::stdout());
            Ok(())
        }
        "login" => {
            let opts = auth::LoginOptions {
                client_id: sub
                    .get_one::<String>("client-id")
                    .cloned()
                    .or_else(|| env_nonempty("MIRO_CLIENT_ID"))
                    .ok_or_else(|| Failure::usage("login needs --client-id or MIRO_CLIENT_ID"))?,
                client_secret: sub
                    .get_one::<String>("client-secret")
                    .cloned()
                    .or_else(|| env_nonempty("MIRO_CLIENT_SECRET"))
                    .ok_or_else(|| {
                        Failure::usage("login needs --client-secret or MIRO_CLIENT_SECRET")
                    })?,
                port: sub.get_one::<u16>("port").copied().unwrap_or(0),
                auth_base_url: sub.get_one::<String>("auth-base-url").cloned(),
                no_browser: sub.get_flag("no-browser"),
            };
            auth::login(opts, &base_url, &dir).await
        }
        "logout" => auth::logout(&base_url, &dir).await,
        "whoami" => {
            let api = client().await?;
            let info = COMMANDS
                .iter()
                .find(|c| c.id == "token-info")
                .ok_or_else(|| Failure::other("the spec has no token-info operation"))?;
            let body = api
                .request(miro_api::Method::GET, info.path, [""; 0])
                .send::<serde::de::IgnoredAny>()
                .await?;
            output::write_answer(body.raw_body(), ctx.format)?;
            Ok(())
        }
        "api" => {
            let api = client().await;
            run::api(move || api, &ctx, sub).await
        }
        area => {
            let Some((action, leaf)) = sub.subcommand() else {
                return Err(Failure::usage(format!("`miro {area}` needs a command")));
            };
            let c = COMMANDS
                .iter()
                .find(|c| c.area == area && c.action == action)
                .ok_or_else(|| Failure::usage(format!("unknown command `miro {area} {action}`")))?;
            // The client is made only when something is sent (`--dry-run` needs no token).
            let api = if leaf.get_flag("dry-run") {
                Err(Failure::usage("dry run"))
            } else {
                client().await
            };
            run::operation(move || api, &ctx, c, leaf).await
        }
    }
}

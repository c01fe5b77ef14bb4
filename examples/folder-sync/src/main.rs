//! `folder-sync`: upload a folder's images to a Miro board, then (with `--watch`) keep it in
//! sync.
//!
//! ```sh
//! cargo run -p folder-sync -- --folder examples/folder-sync/sample          # offline
//! MIRO_ACCESS_TOKEN=... MIRO_BOARD_ID=uXjV... cargo run -p folder-sync -- --folder ~/Pictures --watch
//! ```
//!
//! Settings come from flags, the environment or a `.env` file in the working directory.

use anyhow::{bail, Context, Result};
use clap::Parser;
use folder_sync::{Config, FolderSync, Summary};
use miro_api::MiroApi;
use std::path::PathBuf;
use std::time::Duration;

/// Upload every image of a folder to a Miro board, and keep watching it.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The folder whose images are uploaded.
    #[arg(long, env = "WATCH_FOLDER")]
    folder: Option<PathBuf>,
    /// The board the images go to (required with a token; offline, a new emulator board).
    #[arg(long, env = "MIRO_BOARD_ID")]
    board_id: Option<String>,
    /// The access token; without it, the run is offline against an in-process emulator.
    #[arg(long, env = "MIRO_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
    /// The state file remembering what was uploaded (default: `.miro-sync-state.json` in the
    /// folder; offline, a temporary file).
    #[arg(long, env = "SYNC_STATE_FILE")]
    state: Option<PathBuf>,
    /// After the upload, watch the folder for new or changed images (until Ctrl-C).
    #[arg(long)]
    watch: bool,
    /// Milliseconds a file's size must stay the same before it is uploaded.
    #[arg(long, env = "SYNC_SETTLE_MS", default_value_t = 1000)]
    settle_ms: u64,
    /// Retries of a failed upload.
    #[arg(long, env = "SYNC_RETRIES", default_value_t = 3)]
    retries: u32,
}

#[tokio::main]
async fn main() -> Result<()> {
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => bail!("reading .env: {e}"),
    }
    let args = Args::parse();
    let Some(folder) = args.folder.clone() else {
        bail!("missing setting: WATCH_FOLDER (--folder), the folder whose images are uploaded");
    };
    if !folder.is_dir() {
        bail!(
            "WATCH_FOLDER (--folder): {} is not a folder",
            folder.display()
        );
    }
    let mut _emulator = None;
    let mut _temp = None;
    let (api, board, state) = match &args.access_token {
        Some(token) => {
            let Some(board) = args.board_id.clone() else {
                bail!("missing setting: MIRO_BOARD_ID (--board-id), the board to upload to");
            };
            let state = args
                .state
                .clone()
                .unwrap_or_else(|| folder.join(".miro-sync-state.json"));
            (MiroApi::new(token.clone()), board, state)
        }
        None => {
            let emulator = miro_emulator::Emulator::start()
                .await
                .context("starting the emulator")?;
            println!(
                "no MIRO_ACCESS_TOKEN: uploading to the in-process emulator at {}",
                emulator.base_url()
            );
            let api = MiroApi::builder()
                .base_url(emulator.base_url())
                .access_token(emulator.access_token())
                .build();
            let board = match args.board_id.clone() {
                Some(b) => b,
                None => api
                    .create_board(&Default::default())
                    .await
                    .context("creating a board")?
                    .id
                    .clone(),
            };
            let state = match args.state.clone() {
                Some(s) => s,
                None => {
                    let dir = tempfile_dir()?;
                    let path = dir.join("state.json");
                    _temp = Some(dir);
                    path
                }
            };
            _emulator = Some(emulator);
            (api, board, state)
        }
    };
    let mut config = Config::new(folder.clone(), board.clone(), state);
    config.settle = Duration::from_millis(args.settle_ms);
    config.retries = args.retries;
    let mut sync = FolderSync::open(api.clone(), config)?;
    let summary = sync.sync_once(true).await?;
    print_summary(&summary);
    if args.watch {
        println!("watching {} (Ctrl-C to stop)", folder.display());
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        sync.watch(stop, print_summary).await?;
    }
    if let Some(emulator) = &_emulator {
        println!(
            "board {board} now has {} items",
            emulator.item_count(&board).unwrap_or(0)
        );
    }
    if let Some(dir) = _temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let not_uploaded = summary.failed.len() + summary.rejected.len();
    if not_uploaded > 0 && !args.watch {
        bail!("{not_uploaded} files could not be uploaded");
    }
    Ok(())
}

/// A fresh folder under the system's temporary directory.
fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("folder-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn print_summary(s: &Summary) {
    for name in &s.uploaded {
        println!("uploaded {name}");
    }
    for name in &s.updated {
        println!("replaced {name} (its content changed)");
    }
    for name in &s.deferred {
        println!("skipped {name}: still being written");
    }
    for name in &s.empty {
        println!("skipped {name}: the file is empty");
    }
    for name in &s.gone {
        println!("skipped {name}: deleted before it could be read");
    }
    for name in &s.bad_names {
        println!("skipped {name}: the name is not valid UTF-8; rename the file");
    }
    for (name, error) in &s.failed {
        println!("failed {name}: {error} (tried again later)");
    }
    for (name, why) in &s.rejected {
        println!("refused {name}: {why}");
    }
    if !s.unchanged.is_empty() {
        println!("{} files already on the board", s.unchanged.len());
    }
}

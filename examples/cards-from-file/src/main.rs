//! `cards-from-file`: create or update cards with tags on a Miro board from a CSV or JSON file.
//!
//! ```sh
//! cargo run -p cards-from-file                                   # offline: the emulator, the sample file, twice
//! MIRO_ACCESS_TOKEN=... cargo run -p cards-from-file -- cards.csv --board-id uXjV...
//! ```

use anyhow::{bail, Context, Result};
use cards_from_file::{input, sync, Options, Report};
use clap::Parser;
use miro_api::MiroApi;
use std::path::PathBuf;

/// Create or update Miro cards with tags from a CSV or JSON file, matched by a stable key.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The file of cards: `.csv` (header `key,title,description,due_date,assignee,tags`, tags
    /// separated by `;`) or `.json` (an array of objects with those fields, tags an array).
    /// Defaults to the bundled sample.
    file: Option<PathBuf>,
    /// The board to sync into (required with a token; offline, a new board of the emulator).
    #[arg(long, env = "MIRO_BOARD_ID")]
    board_id: Option<String>,
    /// The organisation used to look up assignee emails (Enterprise API).
    #[arg(long, env = "MIRO_ORG_ID")]
    org_id: Option<String>,
    /// The access token; without it, the run is offline against an in-process emulator.
    #[arg(long, env = "MIRO_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards.csv"));
    let options = Options {
        org_id: args.org_id.clone(),
    };
    match args.access_token {
        Some(token) => {
            let Some(board) = args.board_id else {
                bail!("missing setting: --board-id or MIRO_BOARD_ID (the board to sync into)");
            };
            let api = MiroApi::new(token);
            run(&api, &board, &file, &options).await?;
        }
        None => {
            let emulator = miro_emulator::Emulator::start()
                .await
                .context("starting the emulator")?;
            println!(
                "no MIRO_ACCESS_TOKEN: running against the in-process emulator at {}",
                emulator.base_url()
            );
            let api = MiroApi::builder()
                .base_url(emulator.base_url())
                .access_token(emulator.access_token())
                .build();
            let board = match args.board_id {
                Some(b) => b,
                None => api
                    .create_board(&Default::default())
                    .await
                    .context("creating a board")?
                    .id
                    .clone(),
            };
            println!("first run:");
            run(&api, &board, &file, &options).await?;
            let writes_before = writes(&emulator);
            println!("second run (nothing changed in the file):");
            run(&api, &board, &file, &options).await?;
            println!(
                "the second run made {} write calls",
                writes(&emulator) - writes_before
            );
        }
    }
    Ok(())
}

fn writes(emulator: &miro_emulator::RunningEmulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

async fn run(api: &MiroApi, board: &str, file: &std::path::Path, options: &Options) -> Result<()> {
    let rows = input::read_file(file)?;
    let report = sync(api, board, rows.rows, rows.errors, options)
        .await
        .with_context(|| format!("syncing {} into board {board}", file.display()))?;
    print_report(&report);
    Ok(())
}

fn print_report(report: &Report) {
    for (line, key, id) in &report.created {
        println!("  line {line}: created {key} (card {id})");
    }
    for (line, key, id) in &report.updated {
        println!("  line {line}: updated {key} (card {id})");
    }
    if !report.tags_created.is_empty() {
        println!("  tags created: {}", report.tags_created.join(", "));
    }
    for error in &report.failed {
        println!("  {error}");
    }
    println!(
        "  {} created, {} updated, {} unchanged, {} failed",
        report.created.len(),
        report.updated.len(),
        report.unchanged,
        report.failed.len()
    );
}

//! `cards-from-file`: create or update cards with tags on a Miro board from a CSV or JSON file.
//!
//! ```sh
//! cargo run -p cards-from-file                                   # offline: the emulator, the sample file, twice
//! MIRO_ACCESS_TOKEN=... cargo run -p cards-from-file -- cards.csv --board-id uXjV... --tag-color urgent=red
//! ```
//!
//! The exit code is 0 when every row is on the board, 2 when some rows failed (each reported
//! with its line), 1 when the run could not be done at all.

use anyhow::{bail, Context, Result};
use cards_from_file::{input, sync, Options, Report};
use clap::Parser;
use miro_api::MiroApi;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// A tag's colour, `TITLE=COLOUR` (red, light_green, cyan, yellow, magenta, green, blue,
    /// gray, violet, dark_green, dark_blue, black); repeat for several tags.
    #[arg(long = "tag-color", value_name = "TITLE=COLOUR")]
    tag_colors: Vec<String>,
}

fn tag_colors(args: &[String]) -> Result<BTreeMap<String, miro_api::types::TagFillColor>> {
    let mut colors = BTreeMap::new();
    for arg in args {
        let Some((title, color)) = arg.rsplit_once('=') else {
            bail!("--tag-color {arg:?}: expected TITLE=COLOUR");
        };
        let color =
            input::parse_tag_color(color).map_err(|e| anyhow::anyhow!("--tag-color: {e}"))?;
        colors.insert(title.trim().to_owned(), color);
    }
    Ok(colors)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run_all().await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failed) => {
            eprintln!("{failed} rows failed (see above)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The runs; the number of rows that failed in the last one.
async fn run_all() -> Result<usize> {
    let args = Args::parse();
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards.csv"));
    let options = Options {
        org_id: args.org_id.clone(),
        tag_colors: tag_colors(&args.tag_colors)?,
    };
    match args.access_token {
        Some(token) => {
            let Some(board) = args.board_id else {
                bail!("missing setting: --board-id or MIRO_BOARD_ID (the board to sync into)");
            };
            let api = MiroApi::new(token);
            run(&api, &board, &file, &options).await
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
            let failed = run(&api, &board, &file, &options).await?;
            println!(
                "the second run made {} write calls",
                writes(&emulator) - writes_before
            );
            Ok(failed)
        }
    }
}

fn writes(emulator: &miro_emulator::RunningEmulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

/// One run; the number of rows that failed.
async fn run(
    api: &MiroApi,
    board: &str,
    file: &std::path::Path,
    options: &Options,
) -> Result<usize> {
    let rows = input::read_file(file)?;
    let report = sync(api, board, rows.rows, rows.errors, options)
        .await
        .with_context(|| format!("syncing {} into board {board}", file.display()))?;
    print_report(&report);
    Ok(report.failed.len())
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
    if !report.tags_recoloured.is_empty() {
        println!("  tags recoloured: {}", report.tags_recoloured.join(", "));
    }
    for (key, ids) in &report.removed {
        println!(
            "  {key}: no longer in the file; its card is still on the board ({})",
            ids.join(", ")
        );
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

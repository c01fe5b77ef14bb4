//! The live smoke run: creates a sticky note, a card, a tag, a connector, a frame and a comment
//! thread on one board, reads, updates and links them, and deletes what it created.
//!
//! Against Miro when both variables are set (never in CI: nothing there sets them):
//!
//! ```sh
//! MIRO_TEST_TOKEN=... MIRO_TEST_BOARD_ID=uXjV... cargo run -p miro-tests --example live_smoke
//! ```
//!
//! `MIRO_TEST_BASE_URL` points it elsewhere (default `https://api.miro.com`). Without the token
//! and board it runs against the in-process emulator on a new board. It prints one line per
//! step and exits with status 1 when a required step failed.

use miro_api::MiroApi;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let live = std::env::var("MIRO_TEST_TOKEN")
        .ok()
        .zip(std::env::var("MIRO_TEST_BOARD_ID").ok());
    // Keep the emulator alive for the whole run; `None` when talking to Miro.
    let (api, board, _emulator) = match live {
        Some((token, board)) => {
            let base = std::env::var("MIRO_TEST_BASE_URL")
                .unwrap_or_else(|_| miro_api::DEFAULT_BASE_URL.to_string());
            println!("live smoke run against {base}, board {board}");
            let api = MiroApi::builder()
                .base_url(base)
                .access_token(token)
                .build();
            (api, board, None)
        }
        None => {
            let emulator = miro_emulator::Emulator::start().await?;
            println!("smoke run against the emulator at {}", emulator.base_url());
            let api = MiroApi::builder()
                .base_url(emulator.base_url())
                .access_token(emulator.access_token())
                .build();
            let board = api.create_board(&Default::default()).await?.into_inner().id;
            (api, board, Some(emulator))
        }
    };
    let report = miro_tests::live_smoke::run(&api, &board).await;
    println!("{report}");
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}

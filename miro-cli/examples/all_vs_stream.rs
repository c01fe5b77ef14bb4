//! Measures `miro ... --all` against the library's own page stream over the same items.
//!
//! Starts an emulator with one board of N sticky notes (default 10,000), then times, in turn:
//! the library (`api.get_items(board).limit(50).stream()`, each item written as a JSON line
//! to a sink), and the built `miro items list --board B --all --limit 50` with its output
//! sent to a sink. Prints both times and their ratio.
//!
//! `cargo build --release -p miro-cli --bin miro --example all_vs_stream`, then
//! `target/release/examples/all_vs_stream [N] [RUNS]` (it runs `target/release/miro`).

use std::io::Write;
use std::time::{Duration, Instant};

use miro_api_extended::prelude::*;
use serde_json::{json, Value};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let exe = std::env::current_exe()?;
    let miro = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("miro"))
        .ok_or("no target folder")?;
    let emu = miro_emulator::Emulator::builder()
        .rate_limit(u64::MAX / 4, Duration::from_secs(60))
        .log_requests(false)
        .start()
        .await?;
    let api = miro_api::MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build();
    let board: Value = api
        .call_operation::<Value>(
            miro_api::operations::find("create-board").ok_or("no create-board")?,
            &[],
            &[],
            Some(&json!({"name": "bench"})),
        )
        .await?
        .into_inner();
    let board = board["id"].as_str().ok_or("no board id")?.to_string();
    let bulk = miro_api::operations::find("create-items").ok_or("no create-items")?;
    for start in (0..n).step_by(20) {
        let items: Vec<Value> = (start..(start + 20).min(n))
            .map(|i| json!({"type": "sticky_note", "data": {"content": format!("note {i}")}}))
            .collect();
        api.call_operation::<Value>(bulk, &[&board], &[], Some(&Value::Array(items)))
            .await?;
    }

    let mut library = Vec::new();
    let mut cli = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut sink = std::io::BufWriter::new(std::io::sink());
        let mut stream = std::pin::pin!(api.get_items(&board).limit(50).stream());
        let mut count = 0;
        while let Some(item) = stream.try_next().await? {
            serde_json::to_writer(&mut sink, &item)?;
            sink.write_all(b"\n")?;
            count += 1;
        }
        library.push(started.elapsed());
        assert_eq!(count, n);

        let started = Instant::now();
        let (base, token, board, miro) = (
            emu.base_url(),
            emu.access_token(),
            board.clone(),
            miro.clone(),
        );
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(miro)
                .args(["items", "list", "--board", &board, "--all", "--limit", "50"])
                .env("MIRO_API_BASE_URL", base)
                .env("MIRO_ACCESS_TOKEN", token)
                .output()
        })
        .await??;
        cli.push(started.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), n);
    }
    let (l, c) = (median(library), median(cli));
    println!("{n} items, median of {runs} runs:");
    println!("  library stream (typed, written as JSON lines): {l:?}");
    println!("  miro --all (a process, NDJSON to a pipe):      {c:?}");
    println!(
        "  ratio miro / library: {:.2}",
        c.as_secs_f64() / l.as_secs_f64()
    );
    Ok(())
}

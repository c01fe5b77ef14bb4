//! Rate-limit pacing under a mixed workload, against the emulator's credit rules.
//!
//! 16 workers call a mix of operations (reads of level 1 and 2, writes of level 2 and 3) as
//! fast as they can, for `PACING_BENCH_SECS` seconds (default 40) per client, against a budget
//! of 100,000 credits per window of `PACING_BENCH_WINDOW_SECS` seconds (default 5; Miro's is 60).
//! Three clients run the same workload, each against a fresh emulator:
//! - `paced`: the default `MiroApi` (pacing and retries on);
//! - `unpaced`: pacing off, retries on (429s are waited out after the fact);
//! - `bare`: pacing and retries off, like the official clients.
//!
//! For each it prints the calls that succeeded and failed, the 429 responses the emulator sent,
//! the calls that ended in a 429 error, and the credits used per window as a share of the
//! budget (from the emulator's own `X-RateLimit-Remaining`; the first and last windows of a run
//! are partial and left out). "calls ok" compares the clients' throughput: the time a client
//! loses between windows (e.g. waiting for a reset given in whole seconds) shows there.
//!
//! `cargo bench -p miro-tests --bench pacing`

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use miro_api::{types, Error, MiroApi, RateLimit, RetryPolicy, TimeoutCause};
use miro_emulator::Emulator;

const BUDGET: u64 = 100_000;
const WORKERS: usize = 16;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Paced,
    Unpaced,
    Bare,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    ended_in_429: AtomicU64,
    /// Per window (keyed by its reset time): the lowest `Remaining` seen, and the limit.
    windows: Mutex<BTreeMap<u64, (u64, u64)>>,
}

impl Tally {
    fn observe(&self, rate: Option<RateLimit>) {
        let Some(RateLimit {
            limit,
            remaining,
            reset: Some(reset),
        }) = rate
        else {
            return;
        };
        let mut windows = self.windows.lock().unwrap();
        let entry = windows.entry(reset).or_insert((remaining, limit));
        entry.0 = entry.0.min(remaining);
    }

    fn record<T>(&self, result: Result<miro_api::Response<T>, Error>) {
        match result {
            Ok(response) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.observe(response.rate_limit());
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let limited = e.status().map(|s| s.as_u16()) == Some(429)
                    || matches!(
                        e,
                        Error::Timeout {
                            cause: TimeoutCause::RateLimitWait,
                            ..
                        }
                    );
                if limited {
                    self.ended_in_429.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(headers) = e.headers() {
                    // A 429 reports the window too, with everything spent that fits.
                    self.observe(RateLimit::from_headers(headers));
                }
            }
        }
    }
}

fn secs_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(mode: Mode, run_for: Duration, window: Duration) {
    // The bare client hammers a spent budget with hundreds of thousands of requests: its 429s
    // are counted from its failed calls (it sends each call once) instead of the request log.
    let emu = Emulator::builder()
        .rate_limit(BUDGET, window)
        .log_requests(!matches!(mode, Mode::Bare))
        .request_log_capacity(1_000_000)
        .start()
        .await
        .expect("emulator");
    let builder = MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .timeout(window * 3);
    let api = match mode {
        Mode::Paced => builder.build(),
        Mode::Unpaced => builder.pacing(false).build(),
        Mode::Bare => builder
            .pacing(false)
            .retry_policy(RetryPolicy::none())
            .build(),
    };
    // Set-up outside the measured windows: a board with a few items.
    let board = api.create_board(&Default::default()).await.expect("board");
    let board = board.id.clone();
    let note: types::StickyNoteCreateRequest = serde_json::from_value(serde_json::json!({
        "data": {"content": "pacing", "shape": "square"},
        "position": {"x": 0, "y": 0}
    }))
    .expect("note");
    let first = api
        .create_sticky_note_item(&board, &note)
        .await
        .expect("note");
    let item = first.id.clone();
    tokio::time::sleep(window).await; // start the run on a fresh window
    emu.clear_requests();

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (api, tally, stop) = (api.clone(), tally.clone(), stop.clone());
            let (board, item, note) = (board.clone(), item.clone(), note.clone());
            tokio::spawn(async move {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    i = i.wrapping_mul(7).wrapping_add(13) % 100;
                    match i {
                        // 40%: level 1 (50 credits)
                        0..=39 => tally.record(api.get_specific_board(&board).await),
                        // 25%: level 2 reads (100)
                        40..=64 => tally.record(api.get_items(&board).limit(50).await),
                        65..=79 => tally.record(api.get_specific_item(&board, &item).await),
                        // 15%: level 2 writes (100)
                        80..=94 => tally.record(api.create_sticky_note_item(&board, &note).await),
                        // 5%: level 3 (500)
                        _ => tally.record(api.create_board(&Default::default()).await),
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(run_for).await;
    // Calls still waiting for the budget at the end are dropped, not waited for.
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for w in &workers {
        w.abort();
    }
    for w in workers {
        let _ = w.await;
    }

    let (sent, got_429) = match mode {
        Mode::Bare => {
            let failed = tally.failed.load(Ordering::Relaxed);
            let ok = tally.ok.load(Ordering::Relaxed);
            (ok + failed, tally.ended_in_429.load(Ordering::Relaxed))
        }
        _ => {
            let log = emu.requests();
            let got_429 = log.iter().filter(|r| r.status == Some(429)).count();
            (log.len() as u64, got_429 as u64)
        }
    };
    let windows = tally.windows.lock().unwrap().clone();
    let fills: Vec<f64> = windows
        .values()
        .map(|(min_remaining, limit)| (limit - min_remaining) as f64 / *limit as f64)
        .collect();
    let full = if fills.len() > 2 {
        &fills[1..fills.len() - 1]
    } else {
        &fills[..]
    };
    let mean = full.iter().sum::<f64>() / full.len().max(1) as f64;
    let min = full.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "{:<8} {:>6.1}s {:>8} {:>7} {:>8} {:>6} {:>11} {:>8} {:>9.1}% {:>8.1}%",
        format!("{mode:?}").to_lowercase(),
        elapsed.as_secs_f64(),
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        sent,
        got_429,
        tally.ended_in_429.load(Ordering::Relaxed),
        full.len(),
        mean * 100.0,
        if min.is_finite() { min * 100.0 } else { 0.0 },
    );
    emu.shutdown().await;
}

fn main() {
    let run_for = Duration::from_secs(secs_from_env("PACING_BENCH_SECS", 40));
    let window = Duration::from_secs(secs_from_env("PACING_BENCH_WINDOW_SECS", 5));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("budget {BUDGET} credits per {window:?}, {WORKERS} workers, {run_for:?} per client\n");
    println!(
        "{:<8} {:>7} {:>8} {:>7} {:>8} {:>6} {:>11} {:>8} {:>10} {:>9}",
        "client",
        "time",
        "calls ok",
        "failed",
        "requests",
        "429s",
        "ended in 429",
        "windows",
        "mean use",
        "min use"
    );
    for mode in [Mode::Paced, Mode::Unpaced, Mode::Bare] {
        rt.block_on(run(mode, run_for, window));
    }
}

//! Decoding item pages, with criterion: nanoseconds per item of `get-items`'s page type
//! (`GenericItemCursorPaged`, `data` a list of `GenericItem`) for a page of 50 items of each item
//! type the emulator creates, a page of all nine types mixed, and the items of the live corpus's
//! `get-items` pages (when the corpus is there: `MIRO_LIVE_CORPUS`).
//!
//! Each page is fetched once from the in-process emulator; only the decoding is timed, with
//! `serde_json::from_slice` (what a raw reqwest user writes). `mixed_text` is the mixed page
//! checked as UTF-8 once, then read as a `str`; `mixed_client` is it decoded exactly as the
//! client decodes a response (`miro_api::decode::from_slice` with the page list reserved at the
//! page size asked for). The table printed at the end gives each page's mean ns per item over
//! every criterion sample.
//!
//! `cargo bench -p miro-tests --bench decode`
//!
//! With `DECODE_BENCH_ITERS=N` (and optionally `DECODE_BENCH_PAGE=name`), each page (or the one
//! named) is decoded N times without criterion and the bench exits: a fixed amount of work, for
//! counting instructions with `valgrind --tool=callgrind`, which a loaded machine does not change.
//! `DECODE_BENCH_DUMP=DIR` writes each page's bytes to `DIR/<name>.json` and exits.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{black_box, Criterion, Throughput};
use miro_api::{types, MiroApi};
use miro_emulator::Emulator;
use miro_tests::item_kinds;
use serde_json::Value;

/// Per page name: total time and items decoded.
static TOTALS: Mutex<BTreeMap<String, (Duration, u64)>> = Mutex::new(BTreeMap::new());

/// One page to decode: its name, its bytes and how many items it holds.
struct Page {
    name: String,
    bytes: Vec<u8>,
    items: usize,
    /// How it is decoded.
    way: Way,
}

fn decode(page: &Page) -> types::GenericItemCursorPaged {
    match page.way {
        Way::Slice => serde_json::from_slice(&page.bytes).unwrap(),
        Way::Text => serde_json::from_str(std::str::from_utf8(&page.bytes).unwrap()).unwrap(),
        Way::Client => miro_api::decode::with_page_size(Some(page.items as u32), || {
            miro_api::decode::from_slice(&page.bytes, false).unwrap().0
        }),
    }
}

/// How a page's bytes are decoded.
#[derive(Clone, Copy)]
enum Way {
    /// `serde_json::from_slice`, what a raw reqwest user writes.
    Slice,
    /// Checked as UTF-8 once, then `serde_json::from_str`.
    Text,
    /// As the client decodes a response: `miro_api::decode::from_slice` (UTF-8 checked once,
    /// tolerant), the page list reserved at the page size the request asked for.
    Client,
}

/// The first page of 50 items of `board`, as the emulator sends it.
async fn first_page(base: &str, token: &str, board: &str) -> Vec<u8> {
    let response = miro_api::http_client_builder()
        .build()
        .unwrap()
        .get(format!("{base}/v2/boards/{board}/items?limit=50"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.bytes().await.unwrap().to_vec()
}

/// The items of the live corpus's `get-items` pages, as one page.
fn live_page() -> Option<Page> {
    let dir = std::path::PathBuf::from(std::env::var_os("MIRO_LIVE_CORPUS")?);
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).ok()?).ok()?;
    let mut items = Vec::new();
    for entry in index["bodies"].as_array()? {
        if entry["operation"] != "get-items" || entry["status"] != 200 {
            continue;
        }
        let file = dir.join("bodies").join(entry["file"].as_str()?);
        let body: Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
        items.extend(body["data"].as_array().cloned().unwrap_or_default());
    }
    let n = items.len();
    (n > 0).then(|| Page {
        name: "live_corpus".into(),
        bytes: serde_json::to_vec(&serde_json::json!({"data": items, "type": "cursor-list"}))
            .unwrap(),
        items: n,
        way: Way::Slice,
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (emu, mut pages) = runtime.block_on(async {
        let emu = Emulator::builder()
            .rate_limit(u64::MAX / 4, Duration::from_secs(60))
            .log_requests(false)
            .start()
            .await
            .unwrap();
        let (base, token) = (emu.base_url(), emu.access_token());
        let api = MiroApi::builder()
            .base_url(&base)
            .access_token(token.clone())
            .build();
        let kinds: Vec<&'static str> = item_kinds::kinds().into_iter().map(|(k, _)| k).collect();
        let mut pages = Vec::new();
        let board = item_kinds::new_board(&api, "mixed").await;
        item_kinds::add_items(&api, &board, 50, |i| kinds[i % kinds.len()]).await;
        pages.push(Page {
            name: "mixed".into(),
            bytes: first_page(&base, &token, &board).await,
            items: 50,
            way: Way::Slice,
        });
        for &kind in &kinds {
            let board = item_kinds::new_board(&api, kind).await;
            item_kinds::add_items(&api, &board, 50, |_| kind).await;
            pages.push(Page {
                name: kind.into(),
                bytes: first_page(&base, &token, &board).await,
                items: 50,
                way: Way::Slice,
            });
        }
        (emu, pages)
    });
    for (at, name, way) in [
        (1, "mixed_text", Way::Text),
        (2, "mixed_client", Way::Client),
    ] {
        let page = Page {
            name: name.into(),
            bytes: pages[0].bytes.clone(),
            items: pages[0].items,
            way,
        };
        pages.insert(at, page);
    }
    pages.extend(live_page());
    for page in &pages {
        assert_eq!(decode(page).data.len(), page.items, "{}", page.name);
    }

    // `DECODE_BENCH_DUMP=DIR`: each page's bytes to `DIR/<name>.json`, for decoding the very same
    // bytes with another version of the types (an older commit's, for an instruction count).
    if let Ok(dir) = std::env::var("DECODE_BENCH_DUMP") {
        for page in &pages {
            let path = std::path::Path::new(&dir).join(format!("{}.json", page.name));
            std::fs::write(&path, &page.bytes).expect("the page is written");
        }
        runtime.block_on(emu.shutdown());
        return;
    }
    if let Some(iters) = std::env::var("DECODE_BENCH_ITERS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        let only = std::env::var("DECODE_BENCH_PAGE").ok();
        for page in pages
            .iter()
            .filter(|p| only.as_deref().is_none_or(|name| name == p.name))
        {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(decode(black_box(page)));
            }
            let per_item = start.elapsed().as_nanos() as f64 / (iters * page.items as u64) as f64;
            println!("{:<14} {iters} decodes, {per_item:.0} ns/item", page.name);
        }
        runtime.block_on(emu.shutdown());
        return;
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    {
        let mut group = c.benchmark_group("decode_page");
        for page in &pages {
            group.throughput(Throughput::Elements(page.items as u64));
            group.bench_function(page.name.as_str(), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(decode(black_box(page)));
                    }
                    let elapsed = start.elapsed();
                    let mut totals = TOTALS.lock().unwrap();
                    let t = totals.entry(page.name.clone()).or_default();
                    t.0 += elapsed;
                    t.1 += iters * page.items as u64;
                    elapsed
                })
            });
        }
        group.finish();
    }
    c.final_summary();

    println!("page           items  bytes/item  ns/item (mean over every sample)");
    let totals = TOTALS.lock().unwrap();
    for page in &pages {
        if let Some((time, items)) = totals.get(&page.name) {
            println!(
                "{:<14} {:>5}  {:>10}  {:>7.0}",
                page.name,
                page.items,
                page.bytes.len() / page.items,
                time.as_nanos() as f64 / (*items).max(1) as f64
            );
        }
    }
    runtime.block_on(emu.shutdown());
}

//! Streams every item of boards of 10,000 and 100,000 items from the in-process emulator with
//! `get_all_items`, and prints items per second and the peak heap growth during each walk
//! (a counting global allocator; the emulator runs in the same process, so its per-request
//! memory is included). Memory must stay flat as the item count grows.
//!
//! `cargo bench -p miro-api-extended --bench stream [-- 10000 100000]`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::seed;
use futures::TryStreamExt;
use miro_api::MiroApi;
use miro_api_extended::PaginationExt;

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let now = IN_USE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Walk {
    items: usize,
    elapsed: Duration,
    peak_growth: usize,
}

/// Streams every item of the board, keeping none; measures time and peak heap growth.
async fn walk(api: &MiroApi, board: &str, prefetch: bool) -> Walk {
    let baseline = IN_USE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let started = Instant::now();
    let mut stream = api.get_all_items(board).prefetch(prefetch);
    let mut items = 0usize;
    let mut id_bytes = 0usize;
    while let Some(item) = stream.try_next().await.expect("a page") {
        items += 1;
        id_bytes += item.id.len();
    }
    let elapsed = started.elapsed();
    assert!(id_bytes >= items, "every item has an id");
    Walk {
        items,
        elapsed,
        peak_growth: PEAK.load(Ordering::Relaxed).saturating_sub(baseline),
    }
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![10_000, 100_000]
    } else {
        counts
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let emu = miro_emulator::Emulator::builder()
            .rate_limit(u64::MAX / 4, Duration::from_secs(60))
            .log_requests(false)
            .start()
            .await
            .expect("the emulator starts");
        let api = MiroApi::builder()
            .base_url(emu.base_url())
            .access_token(emu.access_token())
            .build();
        let mut boards = Vec::new();
        for &n in &counts {
            let started = Instant::now();
            boards.push((n, seed(&api, n).await));
            eprintln!("seeded {n} items in {:.1?}", started.elapsed());
        }
        // One walk to warm the connection pool and the allocator.
        walk(&api, &boards[0].1, true).await;

        println!("items     prefetch  time      items/s   peak heap growth");
        let mut peaks = Vec::new();
        for (n, board) in &boards {
            for prefetch in [true, false] {
                let w = walk(&api, board, prefetch).await;
                assert_eq!(w.items, *n, "every item once");
                println!(
                    "{:<9} {:<9} {:<9} {:<9.0} {:.1} KiB",
                    w.items,
                    if prefetch { "on" } else { "off" },
                    format!("{:.2?}", w.elapsed),
                    w.items as f64 / w.elapsed.as_secs_f64(),
                    w.peak_growth as f64 / 1024.0
                );
                if prefetch {
                    peaks.push(w.peak_growth);
                }
            }
        }
        if let (Some(first), Some(last)) = (peaks.first(), peaks.last()) {
            println!(
                "peak growth, largest / smallest walk: {:.2}x for {:.0}x the items",
                *last as f64 / (*first).max(1) as f64,
                *counts.last().unwrap_or(&1) as f64 / (*counts.first().unwrap_or(&1)).max(1) as f64
            );
        }
    });
}

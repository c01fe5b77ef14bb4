//! Walks one emulator board of sticky notes (10,000 by default), pages of 50, seven ways, and
//! prints each way's items per second and their ratios:
//!
//! - `bytes`: raw reqwest, the body only read (the cursor found by a byte search): the floor the
//!   HTTP client and the emulator set;
//! - `value`: raw reqwest, each page parsed as a `serde_json::Value`;
//! - `minimal`: raw reqwest, each page decoded into a two-field struct per item (`id`, `type`);
//! - `typed`: raw reqwest, each page decoded into the generated page type
//!   (`GenericItemCursorPaged`), as the client decodes it;
//! - `pages`: `miro-api`'s `get_items`, page by page (the client with its default settings);
//! - `stream`: `miro-api-extended`'s `get_all_items` stream (default settings: next page
//!   prefetched);
//! - `stream_local`: the same stream with `prefetch(false)` (each page fetched when the items
//!   before it are used up, polled by the stream itself).
//!
//! The six alternate within each round (the first one rotates from round to round), so a change
//! of load on the machine hits all alike; the figures are medians over the rounds. The machine
//! is shared with other builds: compare the ratios, not the absolute figures.
//!
//! `cargo bench -p miro-api-extended --bench walk [-- ROUNDS [ITEMS]]` (default 31 rounds of
//! 10,000 items)

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use miro_api::{types, MiroApi};
use miro_api_extended::PaginationExt;
use serde::Deserialize;

const PAGE: u32 = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    Bytes,
    Value,
    Minimal,
    Typed,
    Pages,
    Stream,
    StreamLocal,
}

const WAYS: [Way; 7] = [
    Way::Bytes,
    Way::Value,
    Way::Minimal,
    Way::Typed,
    Way::Pages,
    Way::Stream,
    Way::StreamLocal,
];

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Bytes => "raw reqwest, bytes only",
            Way::Value => "raw reqwest + serde_json::Value",
            Way::Minimal => "raw reqwest + minimal struct (id, type)",
            Way::Typed => "raw reqwest + generated page type",
            Way::Pages => "miro-api get_items, page by page",
            Way::Stream => "miro-api-extended get_all_items stream",
            Way::StreamLocal => "the stream, prefetch(false)",
        }
    }
}

/// An item reduced to what a walk needs.
#[derive(Deserialize)]
struct MinimalItem {
    id: String,
    #[serde(rename = "type")]
    type_: String,
}

#[derive(Deserialize)]
struct MinimalPage {
    data: Vec<MinimalItem>,
    cursor: Option<String>,
}

/// A raw walk's client: the URL of the board's items and the bearer token.
struct Raw {
    http: reqwest::Client,
    url: String,
    auth: String,
}

impl Raw {
    async fn page(&self, cursor: Option<&str>) -> bytes::Bytes {
        let mut req = self
            .http
            .get(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::ACCEPT, "application/json")
            .query(&[("limit", PAGE)]);
        if let Some(c) = cursor {
            req = req.query(&[("cursor", c)]);
        }
        let response = req.send().await.expect("a page");
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.expect("a body")
    }
}

/// The cursor of a page found by a byte search, the JSON otherwise unread.
fn cursor_in(body: &[u8]) -> Option<String> {
    let key = b"\"cursor\":\"";
    // From the end: the cursor follows the items.
    let start = body.windows(key.len()).rposition(|w| w == key)? + key.len();
    let len = body[start..].iter().position(|&b| b == b'"')?;
    (len > 0).then(|| String::from_utf8_lossy(&body[start..start + len]).into_owned())
}

/// Walks the whole board one way; returns how many items it saw (for `bytes`: pages times the
/// page size, the last page counted full).
async fn walk(way: Way, api: &MiroApi, raw: &Raw, board: &str) -> usize {
    let mut items = 0usize;
    let mut cursor: Option<String> = None;
    match way {
        Way::Stream | Way::StreamLocal => {
            let mut stream = api
                .get_all_items(board)
                .page_size(PAGE)
                .prefetch(way == Way::Stream);
            while let Some(item) = stream.try_next().await.expect("a page") {
                items += black_box(item.id.len()).min(1);
            }
            return items;
        }
        Way::Pages => loop {
            let mut req = api.get_items(board).limit(PAGE);
            if let Some(c) = &cursor {
                req = req.cursor(c);
            }
            let page = req.await.expect("a page").into_inner();
            items += page.data.iter().map(|i| i.id.len().min(1)).sum::<usize>();
            black_box(&page);
            cursor = page.cursor.filter(|c| !c.is_empty());
            if cursor.is_none() {
                return items;
            }
        },
        _ => {}
    }
    loop {
        let body = raw.page(cursor.as_deref()).await;
        cursor = match way {
            Way::Bytes => {
                items += PAGE as usize;
                black_box(&body);
                cursor_in(&body)
            }
            Way::Value => {
                let page: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                items += page["data"].as_array().map_or(0, Vec::len);
                page["cursor"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
            }
            Way::Minimal => {
                let page: MinimalPage = serde_json::from_slice(&body).expect("a page");
                items += page.data.iter().filter(|i| !i.type_.is_empty()).count();
                black_box(&page.data[0].id);
                page.cursor.filter(|c| !c.is_empty())
            }
            Way::Typed => {
                let page: types::GenericItemCursorPaged =
                    serde_json::from_slice(&body).expect("a page");
                items += page.data.iter().map(|i| i.id.len().min(1)).sum::<usize>();
                black_box(&page);
                page.cursor.filter(|c| !c.is_empty())
            }
            Way::Pages | Way::Stream | Way::StreamLocal => unreachable!(),
        };
        if cursor.is_none() {
            return items;
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(31).max(1);
    let n = args.get(1).copied().unwrap_or(10_000);
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
        let board = common::seed(&api, n).await;
        let raw = Raw {
            http: miro_api::http_client_builder().build().unwrap(),
            url: format!("{}/v2/boards/{board}/items", emu.base_url()),
            auth: format!("Bearer {}", emu.access_token()),
        };
        // Every way once, to warm the connection pools and the allocator; each sees every item.
        let full_pages = (n as u32).div_ceil(PAGE) as usize * PAGE as usize;
        for way in WAYS {
            let seen = walk(way, &api, &raw, &board).await;
            let expected = if way == Way::Bytes { full_pages } else { n };
            assert_eq!(seen, expected, "{way:?} sees every item");
        }
        // `WALK_ONLY=<way>` (`pages`, `streamlocal`, ...): that way alone, `rounds` times, for an
        // instruction count of one way under `valgrind --tool=callgrind`.
        if let Ok(only) = std::env::var("WALK_ONLY") {
            let way = WAYS
                .into_iter()
                .find(|w| format!("{w:?}").to_lowercase() == only)
                .expect("WALK_ONLY names a way");
            for _ in 0..rounds {
                walk(way, &api, &raw, &board).await;
            }
            println!("{rounds} walks of {n} items, {way:?}");
            emu.shutdown().await;
            return;
        }
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); WAYS.len()];
        for round in 0..rounds {
            for k in 0..WAYS.len() {
                let i = (round + k) % WAYS.len();
                let started = Instant::now();
                walk(WAYS[i], &api, &raw, &board).await;
                rates[i].push(n as f64 / started.elapsed().as_secs_f64());
            }
        }
        let medians: Vec<f64> = rates.into_iter().map(median).collect();
        let at = |way: Way| medians[WAYS.iter().position(|w| *w == way).unwrap()];
        println!(
            "walk of {n} sticky notes, pages of {PAGE}, {rounds} rounds, the seven ways alternated (medians)"
        );
        println!("{:<42} {:>10} {:>8}", "way", "items/s", "us/page");
        for (way, rate) in WAYS.iter().zip(&medians) {
            println!(
                "{:<42} {:>10.0} {:>8.1}",
                way.name(),
                rate,
                PAGE as f64 / rate * 1e6
            );
        }
        let ratio = |a: Way, b: Way, target: &str| {
            println!(
                "ratio {:<8} / {:<8} {:>6.3}{target}",
                format!("{a:?}").to_lowercase(),
                format!("{b:?}").to_lowercase(),
                at(a) / at(b)
            )
        };
        ratio(Way::Stream, Way::Value, " (target >= 1.5)");
        ratio(Way::Stream, Way::Minimal, " (target >= 0.5)");
        ratio(Way::StreamLocal, Way::Value, "");
        ratio(Way::Typed, Way::Value, "");
        ratio(Way::Typed, Way::Minimal, "");
        // Per call: the client's time per page over raw reqwest decoding the same type.
        println!(
            "per page, miro-api / raw reqwest + same type: {:.3} (target <= 1.03)",
            at(Way::Typed) / at(Way::Pages)
        );
        emu.shutdown().await;
    });
}

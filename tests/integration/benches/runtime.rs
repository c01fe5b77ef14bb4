//! Runtime figures of `miro-api`, with criterion:
//!
//! - `call/get_specific_board/{client,raw}`: one `GET /v2/boards/{id}` against the in-process
//!   emulator through `MiroApi` (default settings: pacing, retries, time limits, tracing span)
//!   and through a hand-written reqwest call of the same request (same URL, bearer token and
//!   user agent; the body decoded into the same generated type). After criterion, the two
//!   alternate call by call (order rotated) and the median of the rounds' ratios is printed
//!   (target <= 1.03). `PER_CALL_VARIANTS` and `PER_CALL_ONLY` (see `main`) break it down.
//! - `decode/items_page_50`: decoding a 50-item page of mixed item types (`get-items`'s
//!   `GenericItemCursorPaged`), as throughput in items and bytes. The `decode` bench has the
//!   figure per item type.
//! - `tolerant/*`: the same page through the client's decoding (`miro_api::decode::from_slice`):
//!   clean, with one mismatched optional field in every item (`createdAt` not a date), with two
//!   (and `geometry.width` not a number), with one malformed item (an `id` as a number) in
//!   every fifth place, and with 1 and 8 mismatched fields in one item. The ratios to the
//!   clean page are printed at the end (target for a mismatch in every item: about 2).
//!
//! Streaming 100,000 items (items/s and peak memory) is `miro-api-extended`'s `stream` bench.
//!
//! `cargo bench -p miro-tests --bench runtime`

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{black_box, Criterion, Throughput};
use miro_api::{types, MiroApi};
use miro_emulator::Emulator;
use miro_tests::item_kinds;
use serde_json::Value;

/// Total time and iterations of each side of the overhead comparison.
static CLIENT: Mutex<(Duration, u64)> = Mutex::new((Duration::ZERO, 0));
static RAW: Mutex<(Duration, u64)> = Mutex::new((Duration::ZERO, 0));

/// One way of making the measured call, as a boxed future.
type Call<'a> = Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>> + 'a>;

/// The raw reqwest call: `GET /v2/boards/{id}` with the token, decoded into the client's type.
struct RawCall {
    http: reqwest::Client,
    url: String,
    auth: String,
}

impl RawCall {
    async fn call(&self) {
        let response = self
            .http
            .get(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let bytes = response.bytes().await.unwrap();
        let board: types::BoardWithLinksAndLastOpened = serde_json::from_slice(&bytes).unwrap();
        black_box(board);
    }
}

async fn client_call(api: &MiroApi, board: &str) {
    black_box(api.get_specific_board(board).await.unwrap().into_inner());
}

/// Runs `calls` call by call in turn, `rounds` rounds of `per_round` calls of each, the order
/// rotated at every turn (so no way always follows the same other one); gives per way the
/// median over the rounds of its mean time a call, and the median over the rounds of its ratio
/// to the first way's mean in the same round.
async fn alternated(
    calls: &[(&str, Call<'_>)],
    rounds: usize,
    per_round: usize,
) -> Vec<(f64, f64)> {
    let n = calls.len();
    let mut means: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); n];
    for round in 0..rounds {
        let mut sums = vec![Duration::ZERO; n];
        for turn in 0..per_round {
            for k in 0..n {
                let i = (round * per_round + turn + k) % n;
                let start = Instant::now();
                (calls[i].1)().await;
                sums[i] += start.elapsed();
            }
        }
        for i in 0..n {
            means[i].push(sums[i].as_secs_f64() / per_round as f64);
            ratios[i].push(sums[i].as_secs_f64() / sums[0].as_secs_f64());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    means
        .into_iter()
        .zip(ratios)
        .map(|(m, r)| (median(m), median(r)))
        .collect()
}

fn record(side: &Mutex<(Duration, u64)>, elapsed: Duration, iters: u64) {
    let mut s = side.lock().unwrap();
    s.0 += elapsed;
    s.1 += iters;
}

fn mean(side: &Mutex<(Duration, u64)>) -> f64 {
    let s = side.lock().unwrap();
    s.0.as_secs_f64() / s.1.max(1) as f64
}

/// The page as received, then with mismatches: (name, body, warnings expected).
fn tolerant_cases(page: &[u8]) -> Vec<(&'static str, Vec<u8>, usize)> {
    let clean: Value = serde_json::from_slice(page).unwrap();
    let with = |f: &dyn Fn(usize, &mut Value)| {
        let mut v = clean.clone();
        for (i, item) in v["data"].as_array_mut().unwrap().iter_mut().enumerate() {
            f(i, item);
        }
        serde_json::to_vec(&v).unwrap()
    };
    let fields_in_first = |n: usize| {
        with(&|i, item| {
            if i == 0 {
                for k in 0..n {
                    // Unknown keys are ignored; these are the item's optional fields and their
                    // children, set to strings where numbers or objects belong.
                    let (object, key) = MISMATCHES[k % MISMATCHES.len()];
                    let target = if object.is_empty() {
                        &mut *item
                    } else {
                        &mut item[object]
                    };
                    target[key] = Value::from(format!("bad {k}"));
                }
            }
        })
    };
    let mut cases = vec![
        ("clean", page.to_vec(), 0),
        (
            "one_mismatch_in_every_item",
            with(&|_, item| item["createdAt"] = Value::from("yesterday")),
            50,
        ),
        (
            "two_mismatches_in_every_item",
            with(&|_, item| {
                item["createdAt"] = Value::from("yesterday");
                item["geometry"]["width"] = Value::from("wide");
            }),
            100,
        ),
        (
            "one_item_in_five_malformed",
            with(&|i, item| {
                if i % 5 == 0 {
                    item["id"] = Value::from(i);
                }
            }),
            10,
        ),
    ];
    for (name, n) in [
        ("1_mismatch_in_one_item", 1),
        ("8_mismatches_in_one_item", 8),
    ] {
        cases.push((name, fields_in_first(n), n));
    }
    cases
}

/// Optional fields of an item (with the object holding them, "" for the item itself) that a
/// string does not fit.
const MISMATCHES: &[(&str, &str)] = &[
    ("", "createdAt"),
    ("", "modifiedAt"),
    ("geometry", "width"),
    ("geometry", "height"),
    ("geometry", "rotation"),
    ("position", "x"),
    ("position", "y"),
    ("", "parent"),
];

/// The mean decoding time of each case, the cases taking turns: `rounds` rounds of `iters`
/// decodes each.
fn alternating_means(
    cases: &[(&'static str, Vec<u8>, usize)],
    rounds: usize,
    iters: usize,
) -> Vec<f64> {
    let mut sums = vec![Duration::ZERO; cases.len()];
    for _ in 0..rounds {
        for (i, (name, body, warnings)) in cases.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..iters {
                let (p, w) =
                    miro_api::decode::from_slice::<types::GenericItemCursorPaged>(body, false)
                        .unwrap();
                assert_eq!(w.len(), *warnings, "{name}");
                black_box(p);
            }
            sums[i] += start.elapsed();
        }
    }
    sums.iter()
        .map(|s| s.as_secs_f64() / (rounds * iters) as f64)
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emu = runtime.block_on(async {
        Emulator::builder()
            .rate_limit(u64::MAX / 4, Duration::from_secs(60))
            .log_requests(false)
            .start()
            .await
            .unwrap()
    });
    let (base, token) = (emu.base_url(), emu.access_token());
    let api = MiroApi::builder()
        .base_url(&base)
        .access_token(token.clone())
        .build();
    let http = miro_api::http_client_builder()
        .user_agent("miro-api-bench")
        .build()
        .unwrap();
    // A board with one item of each of nine types, repeated to 50 items.
    let board = runtime.block_on(async {
        let kinds: Vec<&'static str> = item_kinds::kinds().into_iter().map(|(k, _)| k).collect();
        let board = item_kinds::new_board(&api, "bench").await;
        item_kinds::add_items(&api, &board, 50, |i| kinds[i % kinds.len()]).await;
        board
    });
    let page: bytes::Bytes = runtime.block_on(async {
        let response = http
            .get(format!("{base}/v2/boards/{board}/items?limit=50"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap()
    });
    let decoded: types::GenericItemCursorPaged = serde_json::from_slice(&page).unwrap();
    assert_eq!(decoded.data.len(), 50, "a 50-item page");
    // The raw side of every per-call comparison.
    let raw = RawCall {
        http: http.clone(),
        url: format!("{base}/v2/boards/{board}"),
        auth: format!("Bearer {token}"),
    };

    // `PER_CALL_VARIANTS=1`: raw reqwest alone (twice: the second is the noise floor), with a
    // tokio time limit and with reqwest's own timeout, beside the client as built by default,
    // without pacing, on the raw side's `reqwest::Client`, and on that one without time limits,
    // all alternated call by call (see `alternated`).
    if std::env::var("PER_CALL_VARIANTS").is_ok() {
        let unpaced = MiroApi::builder()
            .base_url(&base)
            .access_token(token.clone())
            .pacing(false)
            .build();
        let same_http = MiroApi::builder()
            .base_url(&base)
            .access_token(token.clone())
            .http_client(http.clone())
            .build();
        // reqwest's own per-request time limit (what a raw reqwest program that sets one pays).
        let limited = RawCall {
            http: miro_api::http_client_builder()
                .user_agent("miro-api-bench")
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            url: raw.url.clone(),
            auth: raw.auth.clone(),
        };
        let unlimited = same_http
            .with_timeout(Duration::MAX)
            .with_attempt_timeout(Duration::MAX);
        let board = board.as_str();
        let (api, unpaced, same_http, raw, limited, unlimited) =
            (&api, &unpaced, &same_http, &raw, &limited, &unlimited);
        let calls: Vec<(&str, Call<'_>)> = vec![
            ("raw reqwest", Box::new(move || Box::pin(raw.call()))),
            // The same call again: how far apart two identical ways come out (the noise floor
            // of this comparison on this machine).
            (
                "raw reqwest again (the same call)",
                Box::new(move || Box::pin(raw.call())),
            ),
            (
                "raw reqwest + an attempt time limit",
                Box::new(move || {
                    Box::pin(async move {
                        tokio::time::timeout(Duration::from_secs(30), raw.call())
                            .await
                            .unwrap()
                    })
                }),
            ),
            (
                "raw reqwest, reqwest's own timeout",
                Box::new(move || Box::pin(limited.call())),
            ),
            (
                "client",
                Box::new(move || Box::pin(client_call(api, board))),
            ),
            (
                "client, pacing off",
                Box::new(move || Box::pin(client_call(unpaced, board))),
            ),
            (
                "client, the raw side's reqwest client",
                Box::new(move || Box::pin(client_call(same_http, board))),
            ),
            (
                "the same, no time limits (no timer)",
                Box::new(move || Box::pin(client_call(unlimited, board))),
            ),
        ];
        let result = runtime.block_on(alternated(&calls, 30, 200));
        for ((name, _), (median, ratio)) in calls.iter().zip(&result) {
            println!(
                "{name:<40} {:8.1} us, median of the rounds' ratios to raw reqwest {ratio:.3}",
                median * 1e6
            );
        }
        runtime.block_on(emu.shutdown());
        return;
    }
    // `PER_CALL_ONLY=client|client_unlimited|raw|raw_timeout` (and `PER_CALL_N`, default 2000): only that many
    // calls of one side (after 200 of warm-up), for an instruction count of each under
    // `valgrind --tool=callgrind` (which does not depend on the machine's load) or syscall
    // counts under `perf stat`: the difference of two runs over N is the cost per call.
    if let Ok(side) = std::env::var("PER_CALL_ONLY") {
        let n: usize = std::env::var("PER_CALL_N").map_or(2000, |n| n.parse().unwrap());
        let unlimited = api
            .with_timeout(Duration::MAX)
            .with_attempt_timeout(Duration::MAX);
        runtime.block_on(async {
            for i in 0..200 + n {
                if side == "client" {
                    client_call(&api, &board).await;
                } else if side == "client_unlimited" {
                    client_call(&unlimited, &board).await;
                } else if side == "raw_timeout" {
                    tokio::time::timeout(Duration::from_secs(30), raw.call())
                        .await
                        .unwrap();
                } else {
                    raw.call().await;
                }
                if i == 199 {
                    println!("warmed up");
                }
            }
        });
        println!("{n} calls of {side}");
        runtime.block_on(emu.shutdown());
        return;
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();

    {
        let mut group = c.benchmark_group("call/get_specific_board");
        group.bench_function("client", |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let api = api.clone();
                let board = board.clone();
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let r = api.get_specific_board(&board).await.unwrap();
                        black_box(r.into_inner());
                    }
                    let elapsed = start.elapsed();
                    record(&CLIENT, elapsed, iters);
                    elapsed
                }
            })
        });
        group.bench_function("raw", |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let raw = &raw;
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        raw.call().await;
                    }
                    let elapsed = start.elapsed();
                    record(&RAW, elapsed, iters);
                    elapsed
                }
            })
        });
        group.finish();
    }

    {
        let mut group = c.benchmark_group("decode");
        group.throughput(Throughput::Elements(50));
        group.bench_function("items_page_50", |b| {
            b.iter(|| {
                let p: types::GenericItemCursorPaged =
                    serde_json::from_slice(black_box(&page)).unwrap();
                black_box(p)
            })
        });
        group.throughput(Throughput::Bytes(page.len() as u64));
        group.bench_function("items_page_50_bytes", |b| {
            b.iter(|| {
                let p: types::GenericItemCursorPaged =
                    serde_json::from_slice(black_box(&page)).unwrap();
                black_box(p)
            })
        });
        group.finish();
    }

    let tolerant = tolerant_cases(&page);
    {
        let mut group = c.benchmark_group("tolerant");
        for (name, body, _) in &tolerant {
            group.bench_function(*name, |b| {
                b.iter(|| {
                    let p = miro_api::decode::from_slice::<types::GenericItemCursorPaged>(
                        black_box(body),
                        false,
                    )
                    .unwrap();
                    black_box(p)
                })
            });
        }
        group.finish();
    }

    c.final_summary();
    // Ratios of the mean times, measured here alternately so that load hits all alike.
    let means = alternating_means(&tolerant, 30, 50);
    for ((name, _, warnings), mean) in tolerant.iter().zip(&means) {
        println!(
            "tolerant/{name}: {:.1} us, {warnings} warnings, {:.2}x the clean page",
            mean * 1e6,
            mean / means[0]
        );
    }
    let (client_mean, raw_mean) = (mean(&CLIENT), mean(&RAW));
    if raw_mean > 0.0 && client_mean > 0.0 {
        println!(
            "per-call overhead (criterion runs, one after the other): client {:.1} us, raw reqwest {:.1} us, ratio {:.3}",
            client_mean * 1e6,
            raw_mean * 1e6,
            client_mean / raw_mean
        );
    }
    // The ratio that counts: the two calls alternate (see `alternated`), so a change of load on
    // the machine hits both alike.
    let (api_ref, raw_ref, board_ref) = (&api, &raw, board.as_str());
    let calls: Vec<(&str, Call<'_>)> = vec![
        ("raw", Box::new(move || Box::pin(raw_ref.call()))),
        (
            "client",
            Box::new(move || Box::pin(client_call(api_ref, board_ref))),
        ),
    ];
    let result = runtime.block_on(alternated(&calls, 50, 200));
    println!(
        "per-call overhead (alternating calls, 50 rounds of 200): client {:.1} us, raw reqwest {:.1} us, ratio {:.3} (median of the rounds' ratios; target <= 1.03)",
        result[1].0 * 1e6,
        result[0].0 * 1e6,
        result[1].1
    );
    println!("items page: {} bytes, 50 items", page.len());
    runtime.block_on(emu.shutdown());
}

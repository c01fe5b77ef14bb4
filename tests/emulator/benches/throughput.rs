//! Throughput of the emulator: N concurrent keep-alive clients drive a bounded
//! number of requests at two routes and print requests/second.
//!
//! `cargo bench -p miro-emulator --bench throughput -- [--concurrency N] [--requests N] [--log]`
//!
//! Not a timed test: it prints figures and only fails if requests fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use miro_emulator::Emulator;
use serde_json::{json, Value};

struct Opts {
    concurrency: usize,
    requests: usize,
    log: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        concurrency: 32,
        requests: 60_000,
        log: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--concurrency" => {
                o.concurrency = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(o.concurrency)
            }
            "--requests" => {
                o.requests = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(o.requests)
            }
            "--log" => o.log = true,
            _ => {} // cargo passes --bench
        }
    }
    o
}

/// Sends `total` GETs to `url` from `concurrency` clients; returns requests/s.
async fn drive(url: String, token: &str, concurrency: usize, total: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(30);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = http_builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("client");
        let url = url.clone();
        let auth = format!("Bearer {token}");
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                let resp = client
                    .get(&url)
                    .header("authorization", &auth)
                    .send()
                    .await
                    .expect("request");
                assert!(resp.status().is_success(), "status {}", resp.status());
                let _ = resp.bytes().await.expect("body");
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.expect("client task");
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let emu = Emulator::builder()
            .rate_limit(u64::MAX / 4, Duration::from_secs(3600))
            .log_requests(o.log)
            .start()
            .await
            .expect("emulator");
        let base = emu.base_url();
        let token = emu.access_token();
        let http = http_builder().build().unwrap();
        let board: Value = http
            .post(format!("{base}/v2/boards"))
            .bearer_auth(&token)
            .json(&json!({"name": "bench"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let board_id = board["id"].as_str().unwrap().to_string();
        for _ in 0..3 {
            let items: Vec<Value> = (0..20)
                .map(|i| json!({"type": "sticky_note", "data": {"content": format!("note {i}")}, "position": {"x": i, "y": i}}))
                .collect();
            let resp = http
                .post(format!("{base}/v2/boards/{board_id}/items/bulk"))
                .bearer_auth(&token)
                .json(&items)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
        }
        println!(
            "miro-emulator throughput: {} concurrent keep-alive clients, {} requests per route, request log {}",
            o.concurrency,
            o.requests,
            if o.log { "on" } else { "off" }
        );
        // Warm up.
        drive(format!("{base}/v2/boards/{board_id}"), &token, o.concurrency, 2_000).await;
        let simple = drive(format!("{base}/v2/boards/{board_id}"), &token, o.concurrency, o.requests).await;
        println!("GET /v2/boards/{{board_id}}:                {simple:>10.0} requests/s");
        emu.clear_requests();
        let page = drive(
            format!("{base}/v2/boards/{board_id}/items?limit=50"),
            &token,
            o.concurrency,
            o.requests / 4,
        )
        .await;
        println!("GET /v2/boards/{{board_id}}/items?limit=50: {page:>10.0} requests/s");
        emu.shutdown().await;
    });
}

/// reqwest's client builder (see `common::http_builder`: ring is installed as the process's
/// rustls provider, which a workspace-wide build leaves reqwest without).
fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

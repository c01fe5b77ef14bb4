//! The emulator's memory stays bounded under abuse: huge unauthenticated bodies, huge content
//! fields and a flood of malformed requests. It runs as its own process so that its resident
//! set size can be read from `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::stream::{self, StreamExt};

/// The bound this test asserts on the emulator's peak resident set size.
const RSS_BOUND_MB: u64 = 96;

struct Server {
    child: Child,
    /// Kept open: the emulator writes to it, and a closed pipe would end it.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
    base_url: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_miro-emulator"))
        .args(["--port", "0", "--rate-limit", "100000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").expect("utf-8");
    let base_url = next().rsplit(' ').next().unwrap().to_string();
    let token = next().rsplit(' ').next().unwrap().to_string();
    Server {
        child,
        _stdout: lines,
        base_url,
        token,
    }
}

/// A `/proc/<pid>/status` field in MB.
fn status_mb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_under_huge_and_malformed_requests() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    let server = start();
    let pid = server.child.id();
    let http = http_builder().build().unwrap();
    let before = status_mb(pid, "VmRSS:");

    // Ten unauthenticated 50 MB bodies.
    let big = bytes::Bytes::from(vec![b'x'; 50 * 1024 * 1024]);
    for _ in 0..10 {
        let sent = http
            .post(format!("{}/v2/boards", server.base_url))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await;
        if let Ok(r) = sent {
            assert!(matches!(r.status().as_u16(), 401 | 413), "{}", r.status());
        }
    }
    // Ten authenticated sticky notes of 50 MB of content.
    let board: serde_json::Value = http
        .post(format!("{}/v2/boards", server.base_url))
        .bearer_auth(&server.token)
        .json(&serde_json::json!({"name": "memory"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let board = board["id"].as_str().unwrap().to_string();
    let note = serde_json::to_vec(&serde_json::json!({
        "data": {"content": "x".repeat(50 * 1024 * 1024)}
    }))
    .unwrap();
    let note = bytes::Bytes::from(note);
    for _ in 0..10 {
        let sent = http
            .post(format!(
                "{}/v2/boards/{board}/sticky_notes",
                server.base_url
            ))
            .bearer_auth(&server.token)
            .header("content-type", "application/json")
            .body(note.clone())
            .send()
            .await;
        if let Ok(r) = sent {
            assert_eq!(r.status(), 413);
        }
    }
    drop(note);
    drop(big);
    // A chunked body without a length is cut off at the limit, not read to its end.
    let produced = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = produced.clone();
    let chunks = stream::iter(0..50).map(move |_| {
        counter.fetch_add(1 << 20, std::sync::atomic::Ordering::Relaxed);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1 << 20]))
    });
    let sent = http
        .post(format!(
            "{}/v2/boards/{board}/sticky_notes",
            server.base_url
        ))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    if let Ok(r) = sent {
        assert_eq!(r.status(), 413);
    }
    let produced = produced.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        produced < 30 << 20,
        "{produced} bytes were read of a 50 MB body"
    );
    // A content field over the limit is refused even when the body is small enough.
    let long = serde_json::json!({"data": {"content": "x".repeat(200_000)}});
    let r = http
        .post(format!(
            "{}/v2/boards/{board}/sticky_notes",
            server.base_url
        ))
        .bearer_auth(&server.token)
        .json(&long)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // 30,000 malformed requests of 32 KB, authenticated or not.
    let junk = bytes::Bytes::from(vec![b'{'; 32 * 1024]);
    let results: Vec<bool> = stream::iter(0..30_000)
        .map(|i| {
            let http = http.clone();
            let junk = junk.clone();
            let url = format!("{}/v2/boards", server.base_url);
            let token = server.token.clone();
            async move {
                let mut request = http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(junk);
                if i % 2 == 0 {
                    request = request.bearer_auth(token);
                }
                request.send().await.is_ok()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(results.iter().filter(|ok| **ok).count() > 29_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = status_mb(pid, "VmRSS:");
    let peak = status_mb(pid, "VmHWM:");
    eprintln!("emulator RSS: {before} MB at start, {after} MB after, {peak} MB at peak");
    assert!(
        peak < RSS_BOUND_MB,
        "peak RSS {peak} MB (start {before} MB, end {after} MB) over {RSS_BOUND_MB} MB"
    );
}

/// Creates a board, opens `threads` comment threads of `chars` characters on it, deletes it.
async fn a_round_of_comments(
    server: &Server,
    http: &reqwest::Client,
    threads: usize,
    chars: usize,
) {
    let board: serde_json::Value = http
        .post(format!("{}/v2/boards", server.base_url))
        .bearer_auth(&server.token)
        .json(&serde_json::json!({"name": "comments"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let board = board["id"].as_str().unwrap().to_string();
    let body = bytes::Bytes::from(
        serde_json::to_vec(&serde_json::json!({"content": "c".repeat(chars)})).unwrap(),
    );
    let created = stream::iter(0..threads)
        .map(|_| {
            let request = http
                .post(format!(
                    "{}/v2-experimental/boards/{board}/comments",
                    server.base_url
                ))
                .bearer_auth(&server.token)
                .header("content-type", "application/json")
                .body(body.clone());
            async move { request.send().await.map(|r| r.status().as_u16()) }
        })
        .buffer_unordered(8)
        .filter(|status| std::future::ready(matches!(status, Ok(201))))
        .count()
        .await;
    assert_eq!(created, threads);
    let deleted = http
        .delete(format!("{}/v2/boards/{board}", server.base_url))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_threads_go_with_their_board() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    let server = start();
    let pid = server.child.id();
    let http = http_builder().build().unwrap();
    // Rounds of 20 MB of comments on a board that is then deleted: the memory of one round is
    // used again by the next.
    a_round_of_comments(&server, &http, 2_000, 10_000).await;
    let first = status_mb(pid, "VmRSS:");
    for _ in 0..3 {
        a_round_of_comments(&server, &http, 2_000, 10_000).await;
    }
    let last = status_mb(pid, "VmRSS:");
    eprintln!("emulator RSS: {first} MB after one round of comments, {last} MB after four");
    assert!(
        last < first + 30,
        "{} MB more after three more rounds of 20 MB of comments on deleted boards",
        last - first
    );
}

/// reqwest's client builder (see `common::http_builder`: ring is installed as the process's
/// rustls provider, which a workspace-wide build leaves reqwest without).
fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

//! Calls per second through `Miro::as_user`: 4 replica processes sharing a PostgreSQL token
//! store against one process with a `MemoryStore`, as a ratio, against the in-process
//! emulator. Each call reads the user's tokens from the store.
//!
//! `cargo bench -p miro-api-extended --bench replicas` (needs PostgreSQL's server binaries,
//! like the tests; `MIRO_BENCH_SECONDS` sets the measuring time, default 5).

// The tests' server helper; the bench uses only part of it.
#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use miro_api_extended::storage::{MemoryStore, PostgresStore, TokenStore};
use miro_api_extended::Miro;
use miro_emulator::{Emulator, RunningEmulator};

const CLIENT_ID: &str = "3458764599999999999";
const SECRET: &str = "bench-client-secret";
const REDIRECT: &str = "http://localhost:9876/oauth/callback";
const CONCURRENCY: usize = 25;
const REPLICAS: usize = 4;

const ROLE: &str = "MIRO_BENCH_ROLE";

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn client(base: &str, store: Arc<dyn TokenStore>) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(base)
        .auth_base_url(base)
        .store_arc(store)
        .build()
        .expect("a complete configuration")
}

/// `CONCURRENCY` workers calling as the user from `start_ms` to `end_ms`; calls completed.
async fn run(miro: &Miro, user: &str, board: &str, start_ms: u128, end_ms: u128) -> usize {
    let wait = start_ms.saturating_sub(now_ms());
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    let workers = (0..CONCURRENCY).map(|_| async {
        let mut done = 0;
        while now_ms() < end_ms {
            let api = miro.as_user(user);
            api.get_specific_board(board).await.expect("a call");
            done += 1;
        }
        done
    });
    futures::future::join_all(workers).await.into_iter().sum()
}

async fn sign_in(miro: &Miro) -> String {
    let (url, state) = miro.auth_url_with_new_state().expect("a URL");
    let browser = miro_api::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let resp = browser.get(url).send().await.expect("authorize");
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    miro.exchange_code_checked(&location, &state)
        .await
        .expect("exchange")
        .user_id
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .rate_limit(1_000_000_000, Duration::from_secs(60))
        .oauth_client(CLIENT_ID, SECRET)
        .access_token_lifetime(Some(Duration::from_secs(3600)))
        .start()
        .await
        .expect("the emulator starts")
}

/// A replica process: `ROLE=replica` with the emulator, the database, the user, the board and
/// the window in the environment; prints the calls it completed.
async fn replica() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set"));
    let store = PostgresStore::connect(&var("MIRO_BENCH_PG"))
        .await
        .expect("the database");
    let miro = client(&var("MIRO_BENCH_BASE"), Arc::new(store));
    let calls = run(
        &miro,
        &var("MIRO_BENCH_USER"),
        &var("MIRO_BENCH_BOARD"),
        var("MIRO_BENCH_START").parse().expect("ms"),
        var("MIRO_BENCH_END").parse().expect("ms"),
    )
    .await;
    println!("BENCH_CALLS {calls}");
}

#[tokio::main]
async fn main() {
    if std::env::var(ROLE).is_ok() {
        return replica().await;
    }
    let seconds: u64 = std::env::var("MIRO_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let window = u128::from(seconds) * 1000;

    // One process, MemoryStore.
    let emu = emulator().await;
    let miro = client(&emu.base_url(), Arc::new(MemoryStore::new()));
    let user = sign_in(&miro).await;
    let board = miro
        .as_user(&user)
        .create_board(&Default::default())
        .await
        .expect("a board")
        .id
        .clone();
    let start = now_ms() + 200;
    let single = run(&miro, &user, &board, start, start + window).await;
    let single_rate = single as f64 / seconds as f64;
    println!("1 process, MemoryStore:          {single:>7} calls in {seconds} s = {single_rate:>8.0} calls/s");
    emu.shutdown().await;

    // Four processes, one PostgreSQL.
    let server = postgres::Server::start().await;
    let emu = emulator().await;
    let store = PostgresStore::connect(&server.conninfo())
        .await
        .expect("the database");
    let miro = client(&emu.base_url(), Arc::new(store));
    let user = sign_in(&miro).await;
    let board = miro
        .as_user(&user)
        .create_board(&Default::default())
        .await
        .expect("a board")
        .id
        .clone();
    let start = now_ms() + 1500;
    let exe = std::env::current_exe().expect("the bench binary");
    let children: Vec<_> = (0..REPLICAS)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .env(ROLE, "replica")
                .env("MIRO_BENCH_PG", server.conninfo())
                .env("MIRO_BENCH_BASE", emu.base_url())
                .env("MIRO_BENCH_USER", &user)
                .env("MIRO_BENCH_BOARD", &board)
                .env("MIRO_BENCH_START", start.to_string())
                .env("MIRO_BENCH_END", (start + window).to_string())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("a replica starts")
        })
        .collect();
    let mut replicas = 0;
    for child in children {
        let out = child.wait_with_output().await.expect("the replica ends");
        let text = String::from_utf8_lossy(&out.stdout);
        let calls: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("BENCH_CALLS "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no count from a replica ({}): {text}", out.status));
        replicas += calls;
    }
    let replicas_rate = replicas as f64 / seconds as f64;
    println!("{REPLICAS} processes, one PostgreSQL:   {replicas:>7} calls in {seconds} s = {replicas_rate:>8.0} calls/s");
    println!(
        "ratio (4 replicas on PostgreSQL / 1 process on MemoryStore): {:.2}",
        replicas_rate / single_rate.max(1.0)
    );
    println!(
        "({CONCURRENCY} concurrent calls per process; the emulator runs in this process and \
         shares the machine's cores with the replicas)"
    );
}

//! Replicas as real OS processes: the test binary runs itself again, filtered to the
//! `replica_child` test, with the role in environment variables.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use miro_api_extended::storage::{FileStore, SqliteStore, TokenStore};
use miro_api_extended::Miro;

use super::oauth::{CLIENT_ID, REDIRECT, SECRET};

/// Set in a child: what it does (`calls` or `hold`).
pub const ROLE: &str = "MIRO_TEST_REPLICA_ROLE";
const BASE: &str = "MIRO_TEST_REPLICA_BASE";
const STORE: &str = "MIRO_TEST_REPLICA_STORE";
const USER: &str = "MIRO_TEST_REPLICA_USER";
const BOARD: &str = "MIRO_TEST_REPLICA_BOARD";
const UNTIL: &str = "MIRO_TEST_REPLICA_UNTIL_MS";
const MARGIN: &str = "MIRO_TEST_REPLICA_MARGIN_MS";
const LEASE: &str = "MIRO_TEST_REPLICA_LEASE_MS";
const CONCURRENCY: &str = "MIRO_TEST_REPLICA_CONCURRENCY";

/// What a child is told.
#[derive(Clone, Debug)]
pub struct Job {
    pub base_url: String,
    /// `sqlite:PATH`, `file:PATH` or `postgres:CONNINFO`.
    pub store: String,
    pub user: String,
    pub board: String,
    /// Wall-clock end of the run, UNIX milliseconds.
    pub until_ms: u128,
    pub margin: Duration,
    pub lease: Duration,
    pub concurrency: usize,
}

/// What a `calls` child reports.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub ok: usize,
    pub failed: usize,
    pub rounds: usize,
    pub first_error: String,
}

pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Opens the store a job names.
pub async fn open_store(spec: &str) -> Arc<dyn TokenStore> {
    let (kind, rest) = spec.split_once(':').expect("kind:location");
    match kind {
        "sqlite" => Arc::new(SqliteStore::open(rest).await.expect("sqlite store")),
        "file" => Arc::new(FileStore::open(rest).await.expect("file store")),
        #[cfg(feature = "postgres")]
        "postgres" => Arc::new(
            miro_api_extended::storage::PostgresStore::connect(rest)
                .await
                .expect("postgres store"),
        ),
        other => panic!("unknown store kind {other}"),
    }
}

pub fn client(
    base_url: &str,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    lease: Duration,
) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(base_url)
        .auth_base_url(base_url)
        .store_arc(store)
        .refresh_margin(margin)
        .refresh_lease(lease)
        .build()
        .expect("a complete configuration")
}

/// Rounds of `concurrency` concurrent calls until the wall-clock end.
pub async fn call_until(miro: &Miro, job: &Job) -> Report {
    let mut report = Report::default();
    while now_ms() < job.until_ms {
        let calls = (0..job.concurrency).map(|_| {
            // A client per call, as a web handler would do.
            let api = miro.as_user(&job.user);
            let board = job.board.clone();
            async move { api.get_specific_board(&board).await.map(drop) }
        });
        for result in futures::future::join_all(calls).await {
            match result {
                Ok(()) => report.ok += 1,
                Err(e) => {
                    if report.failed == 0 {
                        report.first_error = e.to_string();
                    }
                    report.failed += 1;
                }
            }
        }
        report.rounds += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report
}

/// A command running this test binary again, filtered to the test `name` alone, its output
/// piped and the process killed when the handle is dropped; the caller adds the role.
pub fn child_command(name: &str) -> tokio::process::Command {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = tokio::process::Command::new(exe);
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts the test binary as a child with `role` and `job`.
pub fn spawn(role: &str, job: &Job) -> tokio::process::Child {
    child_command("replica_child")
        .env(ROLE, role)
        .env(BASE, &job.base_url)
        .env(STORE, &job.store)
        .env(USER, &job.user)
        .env(BOARD, &job.board)
        .env(UNTIL, job.until_ms.to_string())
        .env(MARGIN, job.margin.as_millis().to_string())
        .env(LEASE, job.lease.as_millis().to_string())
        .env(CONCURRENCY, job.concurrency.to_string())
        .spawn()
        .expect("the child starts")
}

/// Waits for a `calls` child and reads its report.
pub async fn report_of(child: tokio::process::Child) -> Report {
    let out = child.wait_with_output().await.expect("the child ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("REPLICA_RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "no report from the child ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let fields: HashMap<&str, &str> = line.split('\t').filter_map(|f| f.split_once('=')).collect();
    Report {
        ok: fields["ok"].parse().unwrap(),
        failed: fields["failed"].parse().unwrap(),
        rounds: fields["rounds"].parse().unwrap(),
        first_error: fields.get("first_error").unwrap_or(&"").to_string(),
    }
}

/// The child's side: reads the job, acts, prints the report. `None` when not a child.
pub async fn run_child() -> Option<()> {
    let role = std::env::var(ROLE).ok()?;
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set"));
    let job = Job {
        base_url: var(BASE),
        store: var(STORE),
        user: var(USER),
        board: var(BOARD),
        until_ms: var(UNTIL).parse().unwrap(),
        margin: Duration::from_millis(var(MARGIN).parse().unwrap()),
        lease: Duration::from_millis(var(LEASE).parse().unwrap()),
        concurrency: var(CONCURRENCY).parse().unwrap(),
    };
    let store = open_store(&job.store).await;
    let miro = client(&job.base_url, store, job.margin, job.lease);
    match role.as_str() {
        "calls" => {
            let r = call_until(&miro, &job).await;
            println!(
                "REPLICA_RESULT ok={}\tfailed={}\trounds={}\tfirst_error={}",
                r.ok,
                r.failed,
                r.rounds,
                r.first_error.replace(['\t', '\n'], " ")
            );
        }
        "hold" => {
            // Takes the lease and starts a refresh the emulator holds up; the parent kills us.
            println!("REPLICA_HOLDING");
            let _ = miro.access_token(&job.user).await;
            println!("REPLICA_UNEXPECTED_END");
        }
        other => panic!("unknown role {other}"),
    }
    Some(())
}

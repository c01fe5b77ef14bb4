//! Chaos with real processes (issue 24, "Safe and live"): three replica processes, each a
//! `Miro` over one real PostgreSQL (`PostgresStore`), call the API for 50 users while
//! access tokens live 3 s, so that refreshes happen all the time. Every request of theirs
//! goes through a small proxy of this test that, drawn from a seeded generator, closes the
//! connection of an OAuth request (`POST /v1/oauth/token`, `/v2/oauth/revoke`) before
//! forwarding it (the emulator never sees it) or after the emulator answered (a lost answer);
//! API calls pass untouched. Meanwhile a rolling deploy kills one replica after another with
//! SIGKILL at random moments and starts a new process with the same settings in its place,
//! and users disconnect the app now and then (a revoke, retried until it completes, on any
//! replica) and authorize it again.
//!
//! Then the faults heal: the proxy stops dropping and the replicas run on for a bounded
//! time. At the end every user whose grant is alive at the emulator and whose latest refresh
//! token is stored (or held unsaved by a live replica) must be able to call from every
//! replica without authorizing again, and every revoke must have completed (invariant I6).
//! Users whose successor token was truly lost (the emulator rotated, the answer reached
//! nobody) are counted, not failed.
//!
//! `MIRO_CHAOS_SEED` repeats a run's draws (the seed is printed; the processes' timing still
//! varies), `MIRO_CHAOS_SECONDS` lengthens the faulty phase (default 20 s). Run with
//! `cargo test -p miro-api-extended --test chaos -- --nocapture` to see the report.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::oauth::{CLIENT_ID, REDIRECT, SECRET};
use common::postgres::Server;
use common::proxy::{Losses, Proxy};
use common::replica;
use miro_api_extended::{Miro, OAuthError};
use miro_emulator::{Emulator, RunningEmulator};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

const USERS: usize = 50;
const REPLICAS: usize = 3;
/// Access tokens live this long at the emulator (whole seconds: `expires_in`).
const LIFETIME: Duration = Duration::from_secs(3);
/// Refreshed this long before expiry: every user's token is refreshed about every 2 s.
const MARGIN: Duration = Duration::from_secs(1);
/// How long a replica waits for another one's refresh of the same user.
const LEASE: Duration = Duration::from_secs(2);
/// After how long a marker left at the same record version by a killed (or answerless)
/// refresher or revoker may be taken over (issue 24's bound; see `replica_client`).
const TAKEOVER: Duration = Duration::from_secs(3);
/// The token request limit of the replicas (the takeover bound is at least three of them).
const TOKEN_REQUEST_LIMIT: Duration = Duration::from_secs(1);
/// The faulty phase by default (`MIRO_CHAOS_SECONDS` overrides it).
const DEFAULT_CHAOS: Duration = Duration::from_secs(20);
/// OAuth requests lost: 5 % before forwarding, 2 % after the emulator answered; each waits
/// up to 120 ms on the way there and again on the way back.
const LOSSES: Losses = Losses {
    before: 0.05,
    after: 0.02,
    max_delay: Duration::from_millis(120),
};
/// A replica is killed every 0.8 to 2.5 s (drawn), the next one in turn.
const KILL_EVERY_MS: (u64, u64) = (800, 2500);
/// A user disconnects the app every 1.5 to 3.5 s (drawn) of the faulty phase.
const REVOKE_EVERY_MS: (u64, u64) = (1500, 3500);
/// Concurrent callers per replica, and the pause of each between calls.
const WORKERS: usize = 4;
const PAUSE: Duration = Duration::from_millis(50);
/// After the heal phase, how long unfinished revokes and re-authorizations may still take.
const FLOW_GRACE: Duration = Duration::from_secs(5);

/// The heal phase: a stale marker is taken over after [`TAKEOVER`], a waiting refresh gives
/// up after [`LEASE`], and every access token stored before the heal has expired after
/// [`LIFETIME`] (so the final calls need a refresh that works).
fn heal() -> Duration {
    TAKEOVER + LEASE + LIFETIME
}

// What the parent tells a replica in its environment. On stdin it then sends `revoke ID
// USER`, `reauth ID USER` and `check`; the replica prints `CHAOS_READY`, `CHAOS_STATS ...`
// every 500 ms, `CHAOS_REPLY ID ok|err KIND MESSAGE`, and for the check one `CHAOS_CHECK
// USER ok|err KIND MESSAGE` per user, `CHAOS_UNSAVED USER` per user it holds unsaved tokens
// of, and `CHAOS_CHECK_DONE`. SIGTERM stops it.
const CHILD_API: &str = "MIRO_CHAOS_CHILD_API";
const CHILD_AUTH: &str = "MIRO_CHAOS_CHILD_AUTH";
const CHILD_STORE: &str = "MIRO_CHAOS_CHILD_STORE";
const CHILD_USERS: &str = "MIRO_CHAOS_CHILD_USERS";
const CHILD_SEED: &str = "MIRO_CHAOS_CHILD_SEED";

/// The replica's settings, the same for every process (and the one place to configure
/// what issue 24 adds).
fn replica_client(
    api: &str,
    auth: &str,
    store: Arc<dyn miro_api_extended::storage::TokenStore>,
) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        // The API and the OAuth endpoints through the lossy proxy; the browser's sign-in
        // page straight at the emulator.
        .api_base_url(api)
        .auth_base_url(auth)
        .store_arc(store)
        .refresh_margin(MARGIN)
        .refresh_lease(LEASE)
        .timeout(Duration::from_secs(5))
        // A stale marker is taken over after TAKEOVER (at least three token request limits).
        .refresh_takeover(TAKEOVER)
        .token_request_timeout(TOKEN_REQUEST_LIMIT)
        .build()
        .expect("a complete configuration")
}

/// The variant of an error's `Debug` form (never its fields, which may hold anything).
fn variant(debug: &str) -> String {
    debug
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("?")
        .to_string()
}

/// A short name for what went wrong with a call: the `OAuthError` variant for token
/// problems, else `Api.<variant>`.
fn kind_of(e: &miro_api::Error) -> String {
    match e {
        miro_api::Error::Token(source) => match source.downcast_ref::<OAuthError>() {
            Some(o) => variant(&format!("{o:?}")),
            None => "Token".to_string(),
        },
        other => format!("Api.{}", variant(&format!("{other:?}"))),
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r', '\t'], " ")
}

// ---------------------------------------------------------------------------------------
// The replica process.

/// The replica's side (a no-op in a normal run): reads its settings, calls random users
/// until told to check, answers `revoke`/`reauth` commands on stdin, and on `check` calls
/// every user once and reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_replica() {
    let Ok(api) = std::env::var(CHILD_API) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set"));
    let auth = var(CHILD_AUTH);
    let users: Vec<String> = var(CHILD_USERS).split(',').map(String::from).collect();
    let users = Arc::new(users);
    let seed: u64 = var(CHILD_SEED).parse().unwrap();
    let store = replica::open_store(&var(CHILD_STORE)).await;
    let miro = replica_client(&api, &auth, store);

    // A deploy's SIGTERM (the parent sends it after the check).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    {
        let miro = miro.clone();
        tokio::spawn(async move {
            term.recv().await;
            if let Err(e) = miro.shutdown(Duration::from_secs(5)).await {
                eprintln!("shutdown: {e}");
            }
            println!("CHAOS_STOPPED");
            std::process::exit(0);
        });
    }

    let stats = Arc::new(Stats::default());
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            tokio::spawn(worker(
                miro.clone(),
                users.clone(),
                seed.wrapping_add(i as u64),
                stats.clone(),
            ))
        })
        .collect();
    {
        let stats = stats.clone();
        tokio::spawn(async move {
            loop {
                println!("CHAOS_STATS {}", stats.line());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    println!("CHAOS_READY");

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["revoke", id, user] => {
                let (miro, id, user) = (miro.clone(), id.to_string(), user.to_string());
                tokio::spawn(async move {
                    match miro.revoke(&user).await {
                        Ok(_) => println!("CHAOS_REPLY {id} ok"),
                        Err(e) => println!(
                            "CHAOS_REPLY {id} err {} {}",
                            variant(&format!("{e:?}")),
                            one_line(&e.to_string())
                        ),
                    }
                });
            }
            ["reauth", id, user] => {
                let (miro, id, user) = (miro.clone(), id.to_string(), user.to_string());
                tokio::spawn(async move {
                    match reauthorize(&miro, &user).await {
                        Ok(()) => println!("CHAOS_REPLY {id} ok"),
                        Err((kind, message)) => {
                            println!("CHAOS_REPLY {id} err {kind} {}", one_line(&message))
                        }
                    }
                });
            }
            ["check"] => {
                // The calls in flight stop; refreshes they started run on in their own tasks.
                for w in &workers {
                    w.abort();
                }
                let calls = users.iter().map(|user| {
                    let api = miro.as_user(user);
                    async move {
                        let call = tokio::time::timeout(
                            Duration::from_secs(15),
                            api.get_boards().limit(1).into_future(),
                        )
                        .await;
                        let outcome = match call {
                            Ok(Ok(_)) => "ok".to_string(),
                            Ok(Err(e)) => {
                                format!("err {} {}", kind_of(&e), one_line(&e.to_string()))
                            }
                            Err(_) => "err TimedOut the call took over 15 s".to_string(),
                        };
                        println!("CHAOS_CHECK {user} {outcome}");
                    }
                });
                futures::future::join_all(calls).await;
                for user in miro.unsaved_users().await {
                    println!("CHAOS_UNSAVED {user}");
                }
                println!("CHAOS_CHECK_DONE");
            }
            _ => panic!("unknown command {line:?}"),
        }
    }
}

/// Calls and their outcomes in one replica.
#[derive(Default)]
struct Stats {
    ok: AtomicUsize,
    failed: AtomicUsize,
    kinds: Mutex<BTreeMap<String, usize>>,
}

impl Stats {
    fn line(&self) -> String {
        let kinds: Vec<String> = self
            .kinds
            .lock()
            .unwrap()
            .iter()
            .map(|(k, n)| format!("{k}:{n}"))
            .collect();
        format!(
            "ok={} failed={} kinds={}",
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            kinds.join(",")
        )
    }
}

/// Calls random users until aborted.
async fn worker(miro: Miro, users: Arc<Vec<String>>, seed: u64, stats: Arc<Stats>) {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let user = &users[rng.random_range(0..users.len())];
        let api = miro.as_user(user);
        match tokio::time::timeout(
            Duration::from_secs(15),
            api.get_boards().limit(1).into_future(),
        )
        .await
        {
            Ok(Ok(_)) => {
                stats.ok.fetch_add(1, Ordering::Relaxed);
            }
            outcome => {
                let kind = match outcome {
                    Ok(Err(e)) => kind_of(&e),
                    _ => "TimedOut".to_string(),
                };
                stats.failed.fetch_add(1, Ordering::Relaxed);
                *stats.kinds.lock().unwrap().entry(kind).or_default() += 1;
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Authorizes the app again as `user`: the browser's trip to the emulator's sign-in page,
/// then the code exchange (through the proxy, so it may be lost too).
async fn reauthorize(miro: &Miro, user: &str) -> Result<(), (String, String)> {
    let oauth = |e: OAuthError| (variant(&format!("{e:?}")), e.to_string());
    let (url, state) = miro.auth_url_with_new_state().map_err(oauth)?;
    let browser = miro_api::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let page = browser
        .get(format!("{url}&user={user}"))
        .send()
        .await
        .map_err(|e| ("Browser".to_string(), e.to_string()))?;
    let location = page
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .filter(|_| page.status() == 302)
        .ok_or_else(|| {
            (
                "Browser".to_string(),
                format!("sign-in answered {}", page.status()),
            )
        })?
        .to_string();
    let auth = miro
        .exchange_code_checked(&location, &state)
        .await
        .map_err(oauth)?;
    if auth.user_id != user {
        return Err((
            "WrongUser".to_string(),
            format!("signed in as {}", auth.user_id),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The parent: PostgreSQL, the emulator, the proxy, the deploy and the accounting.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replicas_and_lost_answers_strand_no_user() {
    let began = Instant::now();
    let seed = env_u64("MIRO_CHAOS_SEED").unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
    });
    let chaos = env_u64("MIRO_CHAOS_SECONDS").map_or(DEFAULT_CHAOS, Duration::from_secs);
    println!(
        "chaos: seed {seed} (MIRO_CHAOS_SEED={seed} repeats the draws), faulty phase {chaos:?}, heal {:?}",
        heal()
    );

    // PostgreSQL, the emulator with 50 users signed in, the proxy, three replicas.
    let server = Server::start().await;
    let store_spec = format!("postgres:{}", server.conninfo());
    let store = replica::open_store(&store_spec).await;
    let users: Vec<String> = (1..=USERS).map(|i| format!("34587646100{i:08}")).collect();
    let emu = {
        let mut b = Emulator::builder()
            .rate_limit(10_000_000, Duration::from_secs(60))
            .oauth_client(CLIENT_ID, SECRET)
            .access_token_lifetime(Some(LIFETIME))
            .log_requests(false)
            .seed(seed);
        for (i, user) in users.iter().enumerate() {
            b = b.oauth_user(user.clone(), format!("Chaos User {i}"));
        }
        b.start().await.expect("the emulator starts")
    };
    sign_in_all(&emu, &store, &users).await;
    let proxy = Proxy::start(emu.addr(), LOSSES, seed.rotate_left(17)).await;
    let mut run = Run::new(&proxy, &emu, store_spec, users, seed);
    run.until(Duration::from_secs(60), "the replicas start", |r| {
        r.fleet.slots.iter().all(|s| s.ready)
    })
    .await;
    println!(
        "chaos: {REPLICAS} replicas ready after {:?}",
        began.elapsed()
    );

    let phases = run.faulty_then_heal(&proxy, chaos).await;
    run.check().await;
    run.stop().await;

    // What became of each user, and the report.
    let mut outcomes: BTreeMap<Outcome, Vec<String>> = BTreeMap::new();
    let mut check_errors: BTreeMap<String, usize> = BTreeMap::new();
    for user in &run.users {
        let answers = run.checks.get(user).cloned().unwrap_or_default();
        assert_eq!(
            answers.len(),
            REPLICAS,
            "every replica reports on user {user}: {answers:?}"
        );
        let failures: Vec<&str> = answers
            .iter()
            .filter(|a| *a != "ok")
            .map(|a| a.split_whitespace().nth(1).unwrap_or("?"))
            .collect();
        for kind in &failures {
            *check_errors.entry(kind.to_string()).or_default() += 1;
        }
        let record = store.get(user).await.expect("the store answers");
        let marker = record
            .as_ref()
            .and_then(|r| r.marker.as_deref())
            .map_or("unmarked", |m| m.split(' ').next().unwrap_or(""));
        let stored_live = record
            .as_ref()
            .and_then(|r| r.state.refresh_token.as_ref())
            .is_some_and(|t| emu.refresh_token_is_live(t.expose()));
        let outcome = if let Some(flow) = run.flows.iter().find(|f| &f.user == user) {
            Outcome::Stuck(if flow.revoked {
                "re-authorization never completed".to_string()
            } else {
                format!("revoke never completed ({marker})")
            })
        } else if failures.is_empty() {
            Outcome::Working
        } else if stored_live || run.unsaved.contains(user) {
            Outcome::Stuck(format!("{marker}, calls fail with {}", failures[0]))
        } else if emu.live_refresh_tokens(user) > 0 {
            Outcome::SuccessorLost
        } else {
            Outcome::GrantGone
        };
        outcomes.entry(outcome).or_default().push(user.clone());
    }
    let counts = proxy.counts();
    let load = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    let calls = run.calls();
    let stuck: Vec<(&Outcome, &Vec<String>)> = outcomes
        .iter()
        .filter(|(o, _)| matches!(o, Outcome::Stuck(_)))
        .collect();
    let stuck_total: usize = stuck.iter().map(|(_, u)| u.len()).sum();
    let count = |o: Outcome| outcomes.get(&o).map_or(0, Vec::len);
    println!("chaos report (seed {seed})");
    println!(
        "  time: faulty {chaos:?}, heal {:?} (+ up to {FLOW_GRACE:?} for disconnects): took {phases:?}; the whole test {:?}",
        heal(),
        began.elapsed()
    );
    println!(
        "  emulator: {} refreshes, {} token endpoint calls",
        emu.refresh_calls(),
        emu.token_endpoint_calls()
    );
    println!(
        "  proxy: {} requests relayed over {} connections; {} OAuth requests: dropped {} before forwarding and {} after the answer; {} not forwarded as their sender was killed; refreshes answered {} granted, {} refused",
        load(&counts.relayed),
        load(&counts.connections),
        load(&counts.oauth),
        load(&counts.dropped_before),
        load(&counts.dropped_after),
        load(&counts.abandoned),
        load(&counts.refresh_granted),
        load(&counts.refresh_refused)
    );
    println!(
        "  deploy: {} replicas killed with SIGKILL, {} processes started",
        run.kills, run.fleet.starts
    );
    println!(
        "  calls during the run: {} ok, {} failed {:?}",
        calls.ok, calls.failed, calls.kinds
    );
    println!(
        "  disconnects: {} started, {} completed (revoked and authorized again), {} pending; failed attempts {:?}",
        run.revokes_started,
        run.revokes_done,
        run.flows.len(),
        run.flow_errors
    );
    println!("  final calls (users x replicas) failing: {check_errors:?}");
    println!(
        "  users: {} working, {stuck_total} stuck with a live grant, {} whose successor was lost, {} with no grant left",
        count(Outcome::Working),
        count(Outcome::SuccessorLost),
        count(Outcome::GrantGone)
    );
    for (o, users) in &stuck {
        println!("    stuck: {} x {o:?}", users.len());
    }

    // The run did what it claims: processes killed, connections dropped, tokens refreshed.
    assert!(run.kills >= 3, "only {} kills (seed {seed})", run.kills);
    assert!(
        load(&counts.dropped_before) + load(&counts.dropped_after) >= 5,
        "too few dropped connections (seed {seed})"
    );
    assert!(
        emu.refresh_calls() >= 100,
        "too few refreshes (seed {seed})"
    );
    assert!(calls.ok > 0, "no call worked (seed {seed})");
    // I6: nobody with a live grant is stranded, and every revoke completes.
    assert_eq!(
        stuck_total, 0,
        "users stuck with a live grant (seed {seed}): {stuck:?}"
    );
}

/// Signs every user in (straight at the emulator, before any fault).
async fn sign_in_all(
    emu: &RunningEmulator,
    store: &Arc<dyn miro_api_extended::storage::TokenStore>,
    users: &[String],
) {
    let miro = replica::client(&emu.base_url(), store.clone(), MARGIN, LEASE);
    for user in users {
        let (url, state) = miro.auth_url_with_new_state().unwrap();
        let redirect = emu
            .authorize(&url, user)
            .expect("the emulator signs the user in");
        let auth = miro
            .exchange_code_checked(&redirect.url, &state)
            .await
            .expect("the code exchange");
        assert_eq!(&auth.user_id, user);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}"))
    })
}

fn draw_ms(rng: &mut StdRng, (lo, hi): (u64, u64)) -> Duration {
    Duration::from_millis(rng.random_range(lo..=hi))
}

/// What became of a user at the end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Calls from every replica work.
    Working,
    /// The grant is alive at the emulator and its latest refresh token is stored (or held
    /// unsaved by a replica), yet a replica cannot call; or a revoke never completed.
    Stuck(String),
    /// The grant is alive at the emulator but nobody holds its latest refresh token: the
    /// answer carrying it was lost (dropped, or its receiver killed).
    SuccessorLost,
    /// No grant alive at the emulator and no revoke pending.
    GrantGone,
}

/// One replica process.
struct Replica {
    gen: usize,
    child: Child,
    stdin: ChildStdin,
    ready: bool,
    stderr: Arc<Mutex<String>>,
}

/// A line of a replica's output (from `CHAOS_` on), or the end of it.
enum Event {
    Line {
        slot: usize,
        gen: usize,
        line: String,
    },
    Closed {
        slot: usize,
        gen: usize,
    },
}

/// The replicas: one process per slot, replaced by the next generation when killed.
struct Fleet {
    api: String,
    auth: String,
    store: String,
    users: String,
    seed: u64,
    events: mpsc::UnboundedSender<Event>,
    slots: Vec<Replica>,
    /// (slot, generation) of processes killed or stopped on purpose.
    ended: HashSet<(usize, usize)>,
    starts: usize,
}

impl Fleet {
    fn spawn(&mut self, slot: usize, gen: usize) -> Replica {
        self.starts += 1;
        let mut child = replica::child_command("chaos_replica")
            .env(CHILD_API, &self.api)
            .env(CHILD_AUTH, &self.auth)
            .env(CHILD_STORE, &self.store)
            .env(CHILD_USERS, &self.users)
            .env(
                CHILD_SEED,
                (self.seed ^ ((slot as u64) << 32) ^ gen as u64).to_string(),
            )
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("a replica process starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // The harness starts its own line ("test chaos_replica ... ") before ours.
                if let Some(at) = line.find("CHAOS_") {
                    let line = line[at..].to_string();
                    let _ = events.send(Event::Line { slot, gen, line });
                }
            }
            let _ = events.send(Event::Closed { slot, gen });
        });
        let tail = Arc::new(Mutex::new(String::new()));
        {
            let tail = tail.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut t = tail.lock().unwrap();
                    t.push_str(&line);
                    t.push('\n');
                    if t.len() > 16_000 {
                        let cut = (t.len() - 8_000..t.len())
                            .find(|&i| t.is_char_boundary(i))
                            .unwrap_or(0);
                        t.drain(..cut);
                    }
                }
            });
        }
        Replica {
            gen,
            child,
            stdin,
            ready: false,
            stderr: tail,
        }
    }

    /// SIGKILLs the replica in `slot` and starts a new process in its place.
    async fn kill_and_replace(&mut self, slot: usize) {
        let old = &mut self.slots[slot];
        self.ended.insert((slot, old.gen));
        old.child.start_kill().expect("SIGKILL is sent");
        let _ = old.child.wait().await;
        let gen = old.gen + 1;
        self.slots[slot] = self.spawn(slot, gen);
    }

    /// Writes a command line to the replica in `slot`; `false` when it is gone.
    async fn send(&mut self, slot: usize, line: &str) -> bool {
        let stdin = &mut self.slots[slot].stdin;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .is_ok()
            && stdin.flush().await.is_ok()
    }

    fn stderr_of(&self, slot: usize) -> String {
        self.slots[slot].stderr.lock().unwrap().clone()
    }
}

/// A user's disconnect-and-reconnect, retried on any replica until it completes (as a user
/// clicks again after an error page).
struct Flow {
    user: String,
    revoked: bool,
    /// The command in flight: its id, the replica (slot, generation) running it, since when.
    outstanding: Option<(u64, usize, usize, Instant)>,
    retry_at: Instant,
}

/// Calls counted by a replica process (its last stats line).
#[derive(Default, Clone)]
struct CallStats {
    ok: usize,
    failed: usize,
    kinds: BTreeMap<String, usize>,
}

fn parse_stats(text: &str) -> CallStats {
    let mut s = CallStats::default();
    for field in text.split_whitespace() {
        match field.split_once('=') {
            Some(("ok", n)) => s.ok = n.parse().unwrap_or(0),
            Some(("failed", n)) => s.failed = n.parse().unwrap_or(0),
            Some(("kinds", list)) => {
                for pair in list.split(',').filter(|p| !p.is_empty()) {
                    if let Some((k, n)) = pair.rsplit_once(':') {
                        s.kinds.insert(k.to_string(), n.parse().unwrap_or(0));
                    }
                }
            }
            _ => {}
        }
    }
    s
}

/// The parent's side of a run.
struct Run {
    fleet: Fleet,
    events: mpsc::UnboundedReceiver<Event>,
    rng: StdRng,
    users: Vec<String>,
    /// The last stats of each process, by (slot, generation).
    stats: HashMap<(usize, usize), CallStats>,
    /// Disconnects not completed yet.
    flows: Vec<Flow>,
    flow_errors: BTreeMap<String, usize>,
    revokes_started: usize,
    revokes_done: usize,
    command_id: u64,
    kills: usize,
    /// The final check: each user's answers (one per replica), users some replica holds
    /// unsaved tokens of, replicas done.
    checks: HashMap<String, Vec<String>>,
    unsaved: HashSet<String>,
    checked: usize,
}

impl Run {
    /// Starts the replicas.
    fn new(
        proxy: &Proxy,
        emu: &RunningEmulator,
        store: String,
        users: Vec<String>,
        seed: u64,
    ) -> Run {
        let (tx, events) = mpsc::unbounded_channel();
        let mut fleet = Fleet {
            api: proxy.base_url(),
            auth: emu.base_url(),
            store,
            users: users.join(","),
            seed,
            events: tx,
            slots: Vec::new(),
            ended: HashSet::new(),
            starts: 0,
        };
        for slot in 0..REPLICAS {
            let replica = fleet.spawn(slot, 0);
            fleet.slots.push(replica);
        }
        Run {
            fleet,
            events,
            rng: StdRng::seed_from_u64(seed),
            users,
            stats: HashMap::new(),
            flows: Vec::new(),
            flow_errors: BTreeMap::new(),
            revokes_started: 0,
            revokes_done: 0,
            command_id: 0,
            kills: 0,
            checks: HashMap::new(),
            unsaved: HashSet::new(),
            checked: 0,
        }
    }

    /// Handles events until `done`, failing after `limit` with `what` did not happen.
    async fn until(&mut self, limit: Duration, what: &str, done: impl Fn(&Run) -> bool) {
        let by = tokio::time::Instant::now() + limit;
        while !done(self) {
            match tokio::time::timeout_at(by, self.events.recv()).await {
                Ok(Some(event)) => self.on_event(event),
                Ok(None) => unreachable!("the run holds a sender"),
                Err(_) => panic!(
                    "not within {limit:?}: {what}; replica stderr:\n{}",
                    (0..REPLICAS)
                        .map(|s| self.fleet.stderr_of(s))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// The faulty phase (drops, kills, disconnects), then the heal (no drops, no kills, no
    /// new disconnects) until its end and every disconnect completed (or the grace is over).
    async fn faulty_then_heal(&mut self, proxy: &Proxy, chaos: Duration) -> Duration {
        proxy.set_dropping(true);
        let start = Instant::now();
        let chaos_end = start + chaos;
        let heal_end = chaos_end + heal();
        let mut next_kill = start + draw_ms(&mut self.rng, KILL_EVERY_MS);
        let mut next_revoke = start + draw_ms(&mut self.rng, REVOKE_EVERY_MS);
        let mut kill_slot = self.rng.random_range(0..REPLICAS);
        let mut next_tick = start;
        loop {
            let now = Instant::now();
            if now < next_tick {
                if let Ok(event) =
                    tokio::time::timeout_at(next_tick.into(), self.events.recv()).await
                {
                    self.on_event(event.expect("the run holds a sender"));
                }
                continue;
            }
            next_tick = now + Duration::from_millis(50);
            if now >= chaos_end {
                proxy.set_dropping(false);
                if now >= heal_end && (self.flows.is_empty() || now >= heal_end + FLOW_GRACE) {
                    return start.elapsed();
                }
            } else {
                if now >= next_kill {
                    self.kill(kill_slot, now).await;
                    kill_slot = (kill_slot + 1) % REPLICAS;
                    next_kill = now + draw_ms(&mut self.rng, KILL_EVERY_MS);
                }
                if now >= next_revoke {
                    self.start_flow(now);
                    next_revoke = now + draw_ms(&mut self.rng, REVOKE_EVERY_MS);
                }
            }
            self.drive_flows(now).await;
        }
    }

    /// Kills the replica in `slot` and starts its successor; the commands it had taken are
    /// lost, and their users try again.
    async fn kill(&mut self, slot: usize, now: Instant) {
        let gen = self.fleet.slots[slot].gen;
        self.fleet.kill_and_replace(slot).await;
        self.kills += 1;
        for f in self.flows.iter_mut() {
            if matches!(f.outstanding, Some((_, s, g, _)) if s == slot && g == gen) {
                f.outstanding = None;
                f.retry_at = now + Duration::from_millis(300);
                *self
                    .flow_errors
                    .entry("KilledWhileRunning".into())
                    .or_default() += 1;
            }
        }
    }

    /// A random user not disconnecting yet starts to.
    fn start_flow(&mut self, now: Instant) {
        let busy: HashSet<&String> = self.flows.iter().map(|f| &f.user).collect();
        let free: Vec<&String> = self.users.iter().filter(|u| !busy.contains(u)).collect();
        if free.is_empty() {
            return;
        }
        let user = free[self.rng.random_range(0..free.len())].clone();
        self.flows.push(Flow {
            user,
            revoked: false,
            outstanding: None,
            retry_at: now,
        });
        self.revokes_started += 1;
    }

    /// Sends the next step of each disconnect that waits for one to a random replica.
    async fn drive_flows(&mut self, now: Instant) {
        for f in self.flows.iter_mut() {
            if matches!(f.outstanding, Some((.., at)) if now - at > Duration::from_secs(20)) {
                *self.flow_errors.entry("NoReply".into()).or_default() += 1;
                f.outstanding = None;
            }
            if f.outstanding.is_some() || now < f.retry_at {
                continue;
            }
            let slot = self.rng.random_range(0..REPLICAS);
            if !self.fleet.slots[slot].ready {
                continue;
            }
            self.command_id += 1;
            let verb = if f.revoked { "reauth" } else { "revoke" };
            let line = format!("{verb} {} {}", self.command_id, f.user);
            f.outstanding = Some((self.command_id, slot, self.fleet.slots[slot].gen, now));
            if !self.fleet.send(slot, &line).await {
                f.outstanding = None;
            }
        }
    }

    /// Every replica calls every user once and reports.
    async fn check(&mut self) {
        self.until(Duration::from_secs(30), "the replacements start", |r| {
            r.fleet.slots.iter().all(|s| s.ready)
        })
        .await;
        for slot in 0..REPLICAS {
            assert!(
                self.fleet.send(slot, "check").await,
                "replica {slot} takes the check"
            );
        }
        self.until(Duration::from_secs(60), "the check ends", |r| {
            r.checked == REPLICAS
        })
        .await;
    }

    /// Stops the replicas as a deploy does (SIGTERM) and waits for a clean exit.
    async fn stop(&mut self) {
        for slot in 0..REPLICAS {
            let r = &mut self.fleet.slots[slot];
            self.fleet.ended.insert((slot, r.gen));
            let pid = r.child.id().expect("a running replica") as libc::pid_t;
            // SAFETY: kill(2) with a signal to our own child.
            assert_eq!(
                unsafe { libc::kill(pid, libc::SIGTERM) },
                0,
                "SIGTERM is sent"
            );
        }
        for slot in 0..REPLICAS {
            let status =
                tokio::time::timeout(Duration::from_secs(20), self.fleet.slots[slot].child.wait())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("replica {slot} did not stop on SIGTERM within 20 s")
                    })
                    .expect("the replica's status");
            assert!(
                status.success(),
                "replica {slot} stopped with {status}:\n{}",
                self.fleet.stderr_of(slot)
            );
        }
    }

    /// The calls of every process, summed.
    fn calls(&self) -> CallStats {
        let mut all = CallStats::default();
        for s in self.stats.values() {
            all.ok += s.ok;
            all.failed += s.failed;
            for (k, n) in &s.kinds {
                *all.kinds.entry(k.clone()).or_default() += n;
            }
        }
        all
    }

    fn on_event(&mut self, event: Event) {
        let (slot, gen, line) = match event {
            Event::Closed { slot, gen } => {
                assert!(
                    self.fleet.ended.contains(&(slot, gen)),
                    "replica {slot} (process {gen}) ended by itself:\n{}",
                    self.fleet.stderr_of(slot)
                );
                return;
            }
            Event::Line { slot, gen, line } => (slot, gen, line),
        };
        if let Some(rest) = line.strip_prefix("CHAOS_STATS ") {
            // A killed process's last words count too.
            self.stats.insert((slot, gen), parse_stats(rest));
            return;
        }
        if self.fleet.slots[slot].gen != gen {
            return;
        }
        if line == "CHAOS_READY" {
            self.fleet.slots[slot].ready = true;
        } else if let Some(rest) = line.strip_prefix("CHAOS_CHECK ") {
            let (user, outcome) = rest.split_once(' ').unwrap_or((rest, ""));
            self.checks
                .entry(user.to_string())
                .or_default()
                .push(outcome.to_string());
        } else if let Some(user) = line.strip_prefix("CHAOS_UNSAVED ") {
            self.unsaved.insert(user.to_string());
        } else if line == "CHAOS_CHECK_DONE" {
            self.checked += 1;
        } else if let Some(rest) = line.strip_prefix("CHAOS_REPLY ") {
            self.on_reply(rest);
        }
    }

    /// `ID ok` or `ID err KIND MESSAGE` for a revoke or re-authorization.
    fn on_reply(&mut self, reply: &str) {
        let mut words = reply.split_whitespace();
        let id: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .expect("a command id");
        let ok = words.next() == Some("ok");
        let kind = words.next().unwrap_or("?").to_string();
        let Some(i) = self
            .flows
            .iter()
            .position(|f| matches!(f.outstanding, Some((c, ..)) if c == id))
        else {
            return;
        };
        let f = &mut self.flows[i];
        f.outstanding = None;
        if !ok {
            let what = if f.revoked { "reauth" } else { "revoke" };
            *self
                .flow_errors
                .entry(format!("{what}:{kind}"))
                .or_default() += 1;
            f.retry_at = Instant::now() + Duration::from_millis(500);
        } else if !f.revoked {
            f.revoked = true;
            f.retry_at = Instant::now();
        } else {
            self.flows.remove(i);
            self.revokes_done += 1;
        }
    }
}

//! The transport of `MiroApi` against the emulator: retries, rate-limit pacing and 429s, time
//! limits and the concurrency cap (tracing is in `tracing.rs`, a process of its own).

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use miro_api::{Error, FilePart, MiroApi, RetryPolicy, TimeoutCause};
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};

const GET_BOARD: &str = "GET /v2/boards/{board_id}";
const CREATE_BOARD: &str = "POST /v2/boards";

/// Backoff short enough for tests.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::new().backoff(Duration::from_millis(1), Duration::from_millis(20))
}

fn client(emu: &RunningEmulator) -> miro_api::MiroApiBuilder {
    MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .retry_policy(quick_retries())
}

async fn new_board(api: &MiroApi) -> String {
    api.create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone()
}

fn count(emu: &RunningEmulator, method: &str, status: Option<u16>) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == method && (status.is_none() || r.status == status))
        .count()
}

#[tokio::test]
async fn a_thousand_gets_survive_one_response_in_five_failing() {
    let emu = Emulator::builder().seed(7).start().await.unwrap();
    let api = client(&emu)
        .retry_policy(quick_retries().max_attempts(10))
        .build();
    let board = new_board(&api).await;
    emu.clear_requests();
    for kind in [FaultKind::ServerError(503), FaultKind::DropConnection] {
        emu.inject_fault(Fault::new(kind).on(GET_BOARD).probability(0.1))
            .unwrap();
    }
    let results: Vec<_> = stream::iter(0..1000)
        .map(|_| api.get_specific_board(&board).send())
        .buffer_unordered(16)
        .collect()
        .await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        failed[0]
    );
    assert!(results.iter().all(|r| r.as_ref().unwrap().id == board));
    // The emulator saw 1,000 successes and the failed attempts before them: about 250.
    let log = emu.requests();
    let ok = log.iter().filter(|r| r.status == Some(200)).count();
    let server_errors = log.iter().filter(|r| r.status == Some(503)).count();
    let dropped = log.iter().filter(|r| r.status.is_none()).count();
    assert_eq!(ok, 1000);
    assert!(
        (100..=400).contains(&server_errors) && (100..=400).contains(&dropped),
        "{server_errors} 503s and {dropped} dropped connections"
    );
}

#[tokio::test]
async fn a_post_that_got_a_5xx_is_sent_once_unless_retries_are_enabled_for_it() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(502))
            .on(CREATE_BOARD)
            .times(1),
    )
    .unwrap();
    let err = api.create_board(&Default::default()).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(err.attempts(), Some(1));
    assert_eq!(count(&emu, "POST", None), 1);
    assert_eq!(emu.board_count(), 0);

    // A dropped connection after sending is not repeated either: the POST may have acted.
    emu.inject_fault(
        Fault::new(FaultKind::DropConnection)
            .on(CREATE_BOARD)
            .times(1),
    )
    .unwrap();
    let err = api.create_board(&Default::default()).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(count(&emu, "POST", None), 2);

    // The caller opts in for a call that is safe to repeat.
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(503))
            .on(CREATE_BOARD)
            .times(2),
    )
    .unwrap();
    let board = api
        .with_retry_policy(quick_retries().retry_non_idempotent(true))
        .create_board(&Default::default())
        .await
        .unwrap();
    assert!(!board.id.is_empty());
    assert_eq!(count(&emu, "POST", None), 5);
    assert_eq!(count(&emu, "POST", Some(503)), 2);
    assert_eq!(emu.board_count(), 1);
}

#[tokio::test]
async fn a_retried_upload_sends_the_same_bytes() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu)
        .retry_policy(quick_retries().retry_non_idempotent(true))
        .build();
    let board = new_board(&api).await;
    let route = "POST /v2/boards/{board_id}/images";
    emu.inject_fault(Fault::new(FaultKind::ServerError(500)).on(route).times(1))
        .unwrap();
    let png: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let image = api
        .create_image_item_using_local_file(&board, FilePart::from_bytes(png.clone(), "pic.png"))
        .await
        .unwrap();
    let uploads: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/images"))
        .collect();
    assert_eq!(uploads.len(), 2);
    assert_eq!(image.attempts(), 2, "the success counts its attempts");
    assert_eq!(uploads[0].status, Some(500));
    assert_eq!(uploads[0].body, uploads[1].body);
    let stored = emu.uploaded_file(&board, &image.id).unwrap();
    assert_eq!(stored.bytes.as_ref(), png.as_slice());
}

#[tokio::test]
async fn a_429_is_waited_out_as_long_as_its_reset_says() {
    // Two reads fit in a window of 2 s; pacing is off, so the third runs into a 429.
    let emu = Emulator::builder()
        .rate_limit(100, Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let api = client(&emu).pacing(false).build();
    emu.set_rate_limit(100_000, Duration::from_secs(60));
    let board = new_board(&api).await;
    emu.set_rate_limit(100, Duration::from_secs(2));
    let window_start = Instant::now();
    api.get_specific_board(&board).await.unwrap();
    api.get_specific_board(&board).await.unwrap();
    let third = api.get_specific_board(&board).await.unwrap();
    let waited = window_start.elapsed();
    assert_eq!(third.id, board);
    // One 429, then the retry after the reset: sent earlier, it would have met another 429.
    assert_eq!(count(&emu, "GET", Some(429)), 1);
    assert_eq!(count(&emu, "GET", Some(200)), 3);
    // The reset is whole seconds, rounded up: no earlier than the window's end, and not much later.
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_millis(3500),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn pacing_waits_for_the_budget_instead_of_running_into_a_429() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    let board = new_board(&api).await;
    emu.set_rate_limit(250, Duration::from_secs(1));
    emu.clear_requests();
    // Two clones share one budget: 10 reads of 50 credits need two windows.
    let other = api.clone();
    let started = Instant::now();
    let calls = (0..10).map(|i| {
        let api = if i % 2 == 0 {
            api.clone()
        } else {
            other.clone()
        };
        let board = board.clone();
        async move { api.get_specific_board(&board).await.map(|_| ()) }
    });
    let results: Vec<_> = stream::iter(calls).buffer_unordered(1).collect().await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(count(&emu, "GET", Some(429)), 0);
    assert_eq!(count(&emu, "GET", Some(200)), 10);
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn a_budget_reset_beyond_the_time_limit_ends_the_call_at_once() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    let board = new_board(&api).await;
    emu.set_rate_limit(50, Duration::from_secs(30));
    api.get_specific_board(&board).await.unwrap();
    let started = Instant::now();
    let err = api
        .with_timeout(Duration::from_secs(5))
        .get_specific_board(&board)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match &err {
        Error::Timeout {
            cause, attempts, ..
        } => {
            assert_eq!(*cause, TimeoutCause::RateLimitWait);
            assert_eq!(*attempts, 0, "paced: nothing was sent");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("rate-limit"), "{err}");
    // Without pacing the 429 comes back, with the reset too far away to wait for.
    let unpaced = client(&emu)
        .pacing(false)
        .timeout(Duration::from_secs(5))
        .build();
    let err = unpaced.get_specific_board(&board).await.unwrap_err();
    match err {
        Error::Timeout {
            cause: TimeoutCause::RateLimitWait,
            attempts: 1,
            last_error: Some(last),
            ..
        } => assert_eq!(last.status().map(|s| s.as_u16()), Some(429)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_call_time_limit_fires_within_ten_percent_of_its_value() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    let board = new_board(&api).await;
    emu.inject_fault(Fault::new(FaultKind::Delay(Duration::from_secs(5))).on(GET_BOARD))
        .unwrap();
    let limit = Duration::from_secs(1);
    let started = Instant::now();
    let err = api
        .with_timeout(limit)
        .get_specific_board(&board)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= limit && elapsed <= limit + limit / 10,
        "fired after {elapsed:?}"
    );
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Call,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );

    // An attempt limit: each attempt is cut at its limit and retried (a GET), up to the policy.
    let started = Instant::now();
    let err = api
        .with_attempt_timeout(Duration::from_millis(300))
        .with_retry_policy(quick_retries().max_attempts(2))
        .get_specific_board(&board)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Attempt,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(600) && elapsed < Duration::from_millis(700));
}

#[tokio::test]
async fn the_concurrency_cap_holds_requests_back() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).max_concurrent_requests(2).build();
    let board = new_board(&api).await;
    emu.inject_fault(Fault::new(FaultKind::Delay(Duration::from_millis(200))).on(GET_BOARD))
        .unwrap();
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..6)
        .map(|_| api.get_specific_board(&board).send())
        .buffer_unordered(6)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));
    // Six calls of 200 ms, two at a time: at least three rounds.
    assert!(started.elapsed() >= Duration::from_millis(600));
}

/// With no limits (`Duration::MAX` for the call and for the attempt) a call registers no timer.
/// On a paused clock, which jumps to the next timer whenever nothing else can run, a server that
/// takes the request and never answers keeps such a call waiting past any deadline (110 years
/// here); a timer of its own, however far off (the 100 years a `Duration::MAX` call limit
/// stands for), would end it first.
#[tokio::test(start_paused = true)]
async fn a_call_without_limits_registers_no_timer() {
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Reads each request's first bytes, says so, and holds the connection without answering.
    let (got_request, mut requests) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut connection, _)) = listener.accept().await {
            let mut buf = [0u8; 64];
            let n = connection.read(&mut buf).await.unwrap_or(0);
            let _ = got_request.send(n);
            held.push(connection);
        }
    });
    // reqwest's own client, without a connect time limit (a timer too).
    let api = MiroApi::builder()
        .base_url(format!("http://{addr}"))
        .access_token("token")
        .http_client(miro_api::http_client_builder().build().unwrap())
        .retry_policy(RetryPolicy::none())
        .build();
    let call = |api: MiroApi| tokio::spawn(async move { api.get_specific_board("b").await });

    let unlimited = call(
        api.with_timeout(Duration::MAX)
            .with_attempt_timeout(Duration::MAX),
    );
    assert!(requests.recv().await.unwrap() > 0, "the request arrived");
    // Past the 100 years a `Duration::MAX` call limit stands for, in steps of 10 years (tokio
    // ends a sleep it cannot reach at 30 years).
    let start = tokio::time::Instant::now();
    for _ in 0..11 {
        tokio::time::sleep(Duration::from_secs(10 * 365 * 86_400)).await;
    }
    assert!(start.elapsed() >= Duration::from_secs(110 * 365 * 86_400));
    assert!(!unlimited.is_finished(), "the call is still waiting");
    unlimited.abort();

    // The same call with an attempt limit, however long, is cut by it.
    let limited = call(
        api.with_timeout(Duration::MAX)
            .with_attempt_timeout(Duration::from_secs(50 * 365 * 86_400)),
    );
    assert!(requests.recv().await.unwrap() > 0, "the request arrived");
    let err = limited.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Attempt,
                ..
            }
        ),
        "{err:?}"
    );
    server.abort();
}

//! Edge cases of the transport against the emulator or a scripted local server: path arguments
//! that cannot be one segment, absurd server waits, backoff and pacing after resets and 429s,
//! time limits of queued calls, and request headers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt};
use miro_api::types::ItemCreate;
use miro_api::{AccessToken, BoxError, Error, FilePart, MiroApi, RetryPolicy, TimeoutCause};
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};
use miro_tests::scripted::{Answer, ScriptedServer};
use serde_json::json;

fn quick_retries() -> RetryPolicy {
    RetryPolicy::new().backoff(Duration::from_millis(1), Duration::from_millis(20))
}

fn client(emu: &RunningEmulator) -> miro_api::MiroApiBuilder {
    MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .retry_policy(quick_retries())
}

fn scripted_client(server: &ScriptedServer) -> miro_api::MiroApiBuilder {
    MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .retry_policy(quick_retries())
}

fn board_json() -> serde_json::Value {
    json!({"id": "b1", "name": "B", "description": "", "type": "board"})
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn is_invalid_request(e: &Error) -> bool {
    matches!(e, Error::InvalidRequest { .. })
}

#[tokio::test]
async fn dot_segment_ids_are_refused_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone();
    emu.clear_requests();
    for id in ["..", ".", ""] {
        let err = api.delete_item(&board, id).await.unwrap_err();
        assert!(is_invalid_request(&err), "{id:?}: {err:?}");
        let err = api.get_specific_item(&board, id).await.unwrap_err();
        assert!(is_invalid_request(&err), "{id:?}: {err:?}");
        let err = api.get_specific_board(id).await.unwrap_err();
        assert!(is_invalid_request(&err), "{id:?}: {err:?}");
    }
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
    // The board is still there, and ids that merely contain dots are fine.
    assert_eq!(api.get_specific_board(&board).await.unwrap().id, board);
    let err = api.get_specific_item(&board, "...").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err:?}");
}

#[tokio::test]
async fn an_absurd_reset_on_a_200_neither_panics_nor_holds_calls() {
    for reset in [u64::MAX, u64::MAX / 3, 99_999_999_999_999] {
        let server = ScriptedServer::start(move |_, _| {
            Answer::json(200, board_json())
                .header("x-ratelimit-limit", 100)
                .header("x-ratelimit-remaining", 0)
                .header("x-ratelimit-reset", reset)
        })
        .await;
        let api = scripted_client(&server).build();
        let started = Instant::now();
        for _ in 0..3 {
            api.with_timeout(Duration::from_secs(2))
                .get_specific_board("b1")
                .await
                .unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn an_absurd_wait_on_a_429_ends_the_call_with_a_typed_error() {
    let headers: [(&str, String); 4] = [
        ("retry-after", u64::MAX.to_string()),
        ("retry-after", "100000000000".to_string()),
        ("x-ratelimit-reset", u64::MAX.to_string()),
        ("x-ratelimit-reset", (unix_now() + 86_400).to_string()),
    ];
    for (name, value) in headers {
        let server = ScriptedServer::start(move |_, _| {
            Answer::json(429, json!({"status": 429, "code": "tooManyRequests"}))
                .header(name, value.clone())
        })
        .await;
        // A call limit far beyond the cap: the cap, not the limit, ends it.
        let api = scripted_client(&server)
            .timeout(Duration::from_secs(10 * 86_400))
            .build();
        let started = Instant::now();
        let err = api.get_specific_board("b1").await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        match &err {
            Error::Timeout {
                cause: TimeoutCause::ServerWaitTooLong,
                attempts: 1,
                last_error: Some(last),
                ..
            } => assert_eq!(last.status().map(|s| s.as_u16()), Some(429)),
            other => panic!("{name}: {other:?}"),
        }
        // The next call is not held for ever by the absurd reset either.
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_reset_already_past_falls_back_to_the_clients_backoff() {
    for reset in [unix_now() - 100, 0] {
        let server = ScriptedServer::start(move |_, _| {
            Answer::json(429, json!({"status": 429})).header("x-ratelimit-reset", reset)
        })
        .await;
        let api = scripted_client(&server)
            .retry_policy(
                RetryPolicy::new().backoff(Duration::from_millis(100), Duration::from_secs(1)),
            )
            .build();
        let err = api.get_specific_board("b1").await.unwrap_err();
        assert_eq!(err.attempts(), Some(5), "{err:?}");
        let log = server.requests();
        let spread = log[4].at - log[0].at;
        // Equal jitter: at least half of 100 + 200 + 400 + 800 ms.
        assert!(
            spread >= Duration::from_millis(750),
            "5 attempts in {spread:?}"
        );
    }
}

#[tokio::test]
async fn a_relative_reset_is_waited_for() {
    let server = ScriptedServer::start(|n, _| match n {
        0 => Answer::json(429, json!({"status": 429})).header("x-ratelimit-reset", 1),
        _ => Answer::json(200, board_json()),
    })
    .await;
    let api = scripted_client(&server).build();
    api.get_specific_board("b1").await.unwrap();
    let log = server.requests();
    let waited = log[1].at - log[0].at;
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

/// Learns a window of 100 credits a second (two reads), waits `pause`, then sends `n` reads at
/// once: the calls that failed, and the 429s the emulator answered.
async fn reads_after_a_window(
    api: &MiroApi,
    emu: &RunningEmulator,
    pause: Duration,
    n: usize,
) -> (Vec<Error>, usize) {
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone();
    emu.set_rate_limit(100, Duration::from_secs(1));
    api.get_specific_board(&board).await.unwrap();
    tokio::time::sleep(pause).await;
    emu.clear_requests();
    let results: Vec<_> = stream::iter(0..n)
        .map(|_| api.get_specific_board(&board).send())
        .buffer_unordered(n)
        .collect()
        .await;
    let failed = results.into_iter().filter_map(Result::err).collect();
    let limited = emu
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    (failed, limited)
}

#[tokio::test]
async fn after_a_window_resets_admissions_stay_within_the_last_limit() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    // Let the window end, then ask for many at once.
    let (failed, limited) = reads_after_a_window(&api, &emu, Duration::from_millis(1100), 12).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(limited, 0, "admitted beyond the known limit");
}

#[tokio::test]
async fn after_a_window_resets_a_short_call_limit_waits_for_the_real_reset() {
    let emu = Emulator::start().await.unwrap();
    // Well under the minute a window is assumed to last when its length is not known yet.
    let api = client(&emu).timeout(Duration::from_secs(15)).build();
    let started = Instant::now();
    // Past the window's end even as the client sees it (the reset header is rounded up to
    // a whole second), so the next window is an assumed one.
    let pause = Duration::from_millis(2100);
    let (failed, limited) = reads_after_a_window(&api, &emu, pause, 6).await;
    // Without waking on the learnt window, four of them end at once with `RateLimitWait`.
    assert!(failed.is_empty(), "{failed:?}");
    // Two reads a second: about three windows, not the assumed minute.
    let took = started.elapsed() - pause;
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(limited, 0, "admitted beyond the known limit");
}

/// Seeded schedules of the same: any pause after the window (inside it, just past its end, past
/// the rounded reset) and any burst, each with its own emulator and a 10 s call limit. In
/// every one, every call succeeds and none is sent into a 429.
#[tokio::test]
async fn over_seeded_schedules_a_burst_after_a_window_never_fails_or_overspends() {
    let schedules = (1u64..=8).map(|seed| {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let pause = Duration::from_millis(200 + next(2600));
        let burst = 3 + next(4) as usize;
        async move {
            let emu = Emulator::start().await.unwrap();
            let api = client(&emu).timeout(Duration::from_secs(10)).build();
            let (failed, limited) = reads_after_a_window(&api, &emu, pause, burst).await;
            (seed, pause, burst, failed, limited)
        }
    });
    for (seed, pause, burst, failed, limited) in futures::future::join_all(schedules).await {
        let schedule = format!("seed {seed}: {burst} reads {pause:?} after the window");
        assert!(failed.is_empty(), "{schedule}: {failed:?}");
        assert_eq!(limited, 0, "{schedule}: sent into a 429");
    }
}

#[tokio::test]
async fn a_429_without_rate_limit_headers_holds_every_request() {
    let server = ScriptedServer::start(|n, _| match n {
        0 => Answer::json(429, json!({"status": 429})).header("retry-after", 1),
        _ => Answer::json(200, board_json()),
    })
    .await;
    let api = scripted_client(&server).build();
    let first = {
        let api = api.clone();
        tokio::spawn(async move { api.get_specific_board("b1").await })
    };
    // The 429 is in; another call of the same client comes.
    while server.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    api.get_specific_board("b2").await.unwrap();
    first.await.unwrap().unwrap();
    let log = server.requests();
    assert_eq!(log.len(), 3);
    let other = log.iter().find(|r| r.path.ends_with("/b2")).unwrap();
    let held = other.at - log[0].at;
    assert!(
        held >= Duration::from_millis(950),
        "sent {held:?} after the 429"
    );
}

#[tokio::test]
async fn waiting_for_a_slot_counts_against_the_time_limit() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).max_concurrent_requests(1).build();
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone();
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_secs(3)))
            .on("GET /v2/boards/{board_id}")
            .times(1),
    )
    .unwrap();
    let slow = {
        let api = api.clone();
        let board = board.clone();
        tokio::spawn(async move { api.get_specific_board(&board).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = api
        .with_timeout(Duration::from_millis(500))
        .get_specific_board(&board)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(800), "waited {elapsed:?}");
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Queue,
                attempts: 0,
                ..
            }
        ),
        "{err:?}"
    );
    slow.await.unwrap().unwrap();
}

#[tokio::test]
async fn waiting_for_a_token_counts_against_the_time_limit() {
    let emu = Emulator::start().await.unwrap();
    let token = emu.access_token();
    let api = MiroApi::builder()
        .base_url(emu.base_url())
        .token_provider(move || {
            let token = token.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok::<_, BoxError>(AccessToken::new(token))
            }
        })
        .timeout(Duration::from_millis(500))
        .build();
    let started = Instant::now();
    let err = api.get_specific_board("b1").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(800));
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Queue,
                attempts: 0,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn multipart_bulk_create_is_priced_per_item() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone();
    // One bulk of 20 items costs 2,000 credits: two don't fit in a window of 2,100.
    emu.set_rate_limit(2_100, Duration::from_secs(2));
    api.get_specific_board(&board).await.unwrap();
    emu.clear_requests();
    let items: Vec<ItemCreate> = (0..20)
        .map(|i| {
            serde_json::from_value(
                json!({"type": "sticky_note", "data": {"content": format!("n{i}")}}),
            )
            .unwrap()
        })
        .collect();
    let calls = (0..2).map(|_| {
        let api = api.clone();
        let board = board.clone();
        let items = items.clone();
        async move {
            api.create_items_in_bulk_using_file_from_device(&board, &items, Vec::<FilePart>::new())
                .await
                .map(|r| r.data.len())
        }
    });
    let results: Vec<_> = stream::iter(calls).buffer_unordered(2).collect().await;
    for r in &results {
        assert_eq!(r.as_ref().ok(), Some(&20), "{r:?}");
    }
    let limited = emu
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(limited, 0, "the second bulk was sent into a spent window");
}

#[tokio::test]
async fn a_call_out_of_time_starts_no_attempt() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    emu.clear_requests();
    let err = api
        .with_timeout(Duration::ZERO)
        .create_board(&Default::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Call,
                attempts: 0,
                ..
            }
        ),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(emu.board_count(), 0);
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn retry_after_dates_in_every_format_of_rfc_9110_are_waited_for() {
    let calls = Arc::new(AtomicUsize::new(0));
    for format in 0..3 {
        let server = ScriptedServer::start(move |n, _| {
            if n > 0 {
                return Answer::json(200, board_json());
            }
            let at = SystemTime::now() + Duration::from_secs(2);
            let imf = httpdate_text(at);
            Answer::json(429, json!({"status": 429})).header("retry-after", to_format(&imf, format))
        })
        .await;
        let api = scripted_client(&server).build();
        api.get_specific_board("b1").await.unwrap();
        calls.fetch_add(1, Ordering::Relaxed);
        let log = server.requests();
        let waited = log[1].at - log[0].at;
        // Whole seconds: between one and two seconds later.
        assert!(
            waited >= Duration::from_millis(900),
            "format {format}: {waited:?}"
        );
    }
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of a time.
fn httpdate_text(at: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(mo - 1) as usize],
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The IMF-fixdate `imf` in format 0 (itself), 1 (RFC 850) or 2 (asctime).
fn to_format(imf: &str, format: usize) -> String {
    let p: Vec<&str> = imf.split_whitespace().collect();
    let (day, d, mon, y, time) = (p[0].trim_end_matches(','), p[1], p[2], p[3], p[4]);
    let long = match day {
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    };
    match format {
        0 => imf.to_string(),
        1 => format!("{long}, {d}-{mon}-{} {time} GMT", &y[2..]),
        _ => format!("{day} {mon} {:>2} {time} {y}", d.trim_start_matches('0')),
    }
}

#[tokio::test]
async fn body_less_posts_send_a_zero_content_length() {
    let server = ScriptedServer::start(|_, _| Answer::json(204, json!(null))).await;
    let api = scripted_client(&server).build();
    let _ = api.attach_tag_to_item("b1", "i1", "t1").await;
    let _ = api.revoke_token("secret").await;
    let log = server.requests();
    assert_eq!(log.len(), 2);
    for r in log {
        assert_eq!(
            r.headers.get("content-length").map(|v| v.to_str().unwrap()),
            Some("0"),
            "{} {}",
            r.method,
            r.path
        );
    }
}

/// Any string as an item id reaches the emulator as that one path segment, or is refused
/// before sending when no segment can carry it (`""`, `.`, `..`).
#[test]
fn any_id_reaches_the_emulator_as_one_segment() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let api = client(&emu).pacing(false).build();
    let board = rt
        .block_on(api.create_board(&Default::default()).send())
        .unwrap()
        .id
        .clone();
    let ids = prop_oneof![
        any::<String>(),
        "[./?#%= \\\\]{0,4}",
        "[a.%2eE]{1,6}",
        Just(".".to_string()),
        Just("..".to_string()),
        Just("%2e%2E".to_string()),
    ];
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(id in ids)| {
        emu.clear_requests();
        let result = rt.block_on(api.get_specific_item(&board, &id).send());
        let log = emu.requests();
        if matches!(id.as_str(), "" | "." | "..") {
            prop_assert!(matches!(result, Err(Error::InvalidRequest { .. })), "{id:?}: {result:?}");
            prop_assert!(log.is_empty());
        } else {
            prop_assert_eq!(log.len(), 1);
            let request = &log[0];
            prop_assert_eq!(request.route.as_deref(), Some("/v2/boards/{board_id}/items/{item_id}"));
            let segment = request.path.rsplit('/').next().unwrap();
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
            prop_assert_eq!(decoded.as_ref(), id.as_str());
            prop_assert_eq!(result.unwrap_err().status().map(|s| s.as_u16()), Some(404));
        }
    });
}

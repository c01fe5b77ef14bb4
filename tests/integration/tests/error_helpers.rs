//! The helpers callers branch on (`Error::is_rate_limited`, `is_not_found`, `status`,
//! `retry_after`), in each shape a 429 or a 404 reaches the caller, against the emulator.

use std::time::Duration;

use miro_api::{Error, MiroApi, RetryPolicy, StatusCode, TimeoutCause};
use miro_emulator::{Emulator, RunningEmulator};

/// An emulator whose budget is smaller than any call: every API call is a 429 whose
/// `Retry-After` is the rest of the `window`.
async fn always_429(window: Duration) -> RunningEmulator {
    Emulator::builder()
        .rate_limit(1, window)
        .start()
        .await
        .unwrap()
}

fn client(emu: &RunningEmulator) -> miro_api::MiroApiBuilder {
    MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .retry_policy(
            RetryPolicy::new().backoff(Duration::from_millis(1), Duration::from_millis(20)),
        )
}

fn assert_wait_between(e: &Error, low: Duration, high: Duration) {
    let wait = e
        .retry_after()
        .unwrap_or_else(|| panic!("no retry_after in {e:?}"));
    assert!(
        low <= wait && wait <= high,
        "retry_after {wait:?} not in {low:?}..={high:?}"
    );
}

#[tokio::test]
async fn a_429_with_retries_off_is_api_429_and_rate_limited() {
    let emu = always_429(Duration::from_secs(30)).await;
    let api = client(&emu)
        .retry_policy(RetryPolicy::none())
        .pacing(false)
        .build();
    let e = api.get_specific_board("uXjVOAAAAAA=").await.unwrap_err();
    assert!(
        matches!(&e, Error::Api(a) if a.status == StatusCode::TOO_MANY_REQUESTS),
        "{e:?}"
    );
    assert!(e.is_rate_limited());
    assert!(!e.is_not_found());
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_wait_between(&e, Duration::from_secs(25), Duration::from_secs(30));
}

#[tokio::test]
async fn a_429_whose_wait_passes_the_call_limit_is_a_timeout_seen_through() {
    let emu = always_429(Duration::from_secs(30)).await;
    let api = client(&emu)
        .pacing(false)
        .timeout(Duration::from_secs(2))
        .build();
    let e = api.get_specific_board("uXjVOAAAAAA=").await.unwrap_err();
    let Error::Timeout {
        cause, last_error, ..
    } = &e
    else {
        panic!("expected a timeout, got {e:?}");
    };
    assert_eq!(*cause, TimeoutCause::RateLimitWait);
    assert!(last_error.is_some());
    assert!(e.is_rate_limited());
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_wait_between(&e, Duration::from_secs(25), Duration::from_secs(30));
}

#[tokio::test]
async fn a_429_asking_for_more_than_the_longest_wait_is_rate_limited_too() {
    let emu = always_429(Duration::from_secs(3600)).await;
    let api = client(&emu).pacing(false).build();
    let e = api.get_specific_board("uXjVOAAAAAA=").await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Timeout {
                cause: TimeoutCause::ServerWaitTooLong,
                last_error: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_rate_limited());
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_wait_between(&e, miro_api::MAX_SERVER_WAIT, Duration::from_secs(3600));
}

#[tokio::test]
async fn pacing_that_stops_before_sending_is_rate_limited_without_a_status() {
    // A budget of one `GET` board (50 credits) per 30 s.
    let emu = Emulator::builder()
        .rate_limit(50, Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let api = client(&emu).build();
    // The first call spends the budget, and its headers tell pacing so.
    let first = api.get_specific_board("uXjVOAAAAAA=").await.unwrap_err();
    assert!(first.is_not_found(), "{first:?}");
    let sent = emu.requests().len();
    let e = api
        .with_timeout(Duration::from_secs(1))
        .get_specific_board("uXjVOAAAAAA=")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Timeout {
                cause: TimeoutCause::RateLimitWait,
                last_error: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(emu.requests().len(), sent, "pacing sent nothing");
    assert!(e.is_rate_limited());
    assert!(!e.is_not_found());
    assert_eq!(e.status(), None);
    assert_eq!(e.retry_after(), None);
}

#[tokio::test]
async fn a_missing_board_is_not_found_and_not_rate_limited() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu).build();
    let e = api.get_specific_board("uXjVOAAAAAA=").await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(!e.is_rate_limited());
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(e.retry_after(), None);
    assert_eq!(e.api_error().and_then(|a| a.code()), Some("notFound"));
    // A board that exists is found, and its dates and ids use the re-exported types.
    let board = api.create_board(&Default::default()).await.unwrap();
    let created: Option<miro_api::DateTime<miro_api::Utc>> = board.created_at;
    assert!(created.is_some());
    let _: Option<miro_api::HeaderMap> = e.headers().cloned();
}
